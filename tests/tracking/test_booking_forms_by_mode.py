"""The carrier's answer is recorded with the fields of the booking's mode (docs/planning.md, "Legs, bookings and
the order's plan"): an ocean booking's vessel, IMO, voyage and VGM cut-off; an air booking's flight number; a road
booking neither. A field the mode lacks is not on the form, and a post cannot set it.

From review I (the walk): the confirmation form of an ocean booking asked for a flight number."""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone

from tests.tracking.conftest import PICKUP
from tracking.models import Leg, LegRole
from tracking.services import booking as booking_services
from tracking.services import planning

ETD = datetime.datetime.combine(PICKUP, datetime.time(10), tzinfo=datetime.UTC)
ETA = ETD + datetime.timedelta(days=1)


def _booking(make_order, ops_user, carrier, mode, **order):
    master = planning.shipment_plan_direct(order=make_order(mode=mode, **order), by=ops_user)
    return booking_services.booking_request(shipment=master, carrier=carrier, by=ops_user)


def _fields(page: str) -> set[str]:
    return {name for name in ("vessel_name", "vessel_imo", "voyage_number", "vgm_cutoff_at", "flight_number")
            if f'name="{name}"' in page}  # fmt: skip


def _local(at: datetime.datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")  # the test branch runs on the server's zone


def test_an_ocean_confirmation_asks_for_the_vessel_not_a_flight(login, make_order, ops_user, carrier):
    booking = _booking(make_order, ops_user, carrier, "ocean_lcl")
    page = login(ops_user).get(reverse("tracking:booking_confirm", args=[booking.pk])).content.decode()
    assert _fields(page) == {"vessel_name", "vessel_imo", "voyage_number", "vgm_cutoff_at"}


def test_an_air_confirmation_asks_for_the_flight_and_keeps_it(login, make_order, ops_user, carrier):
    booking = _booking(make_order, ops_user, carrier, "air", incoterm="FCA")
    client = login(ops_user)
    page = client.get(reverse("tracking:booking_confirm", args=[booking.pk])).content.decode()
    assert _fields(page) == {"flight_number"}
    assert 'name="documentation_cutoff_at"' in page
    assert 'name="cargo_cutoff_at"' in page

    response = client.post(
        reverse("tracking:booking_confirm", args=[booking.pk]),
        {"carrier_reference": "020-12345675", "departure_at": _local(ETD), "arrival_at": _local(ETA),
         "flight_number": "LH8400", "vessel_name": "NOT A SHIP"},
    )  # fmt: skip
    assert response.status_code == 302
    main = Leg.objects.get(shipment=booking.shipment, role=LegRole.MAIN)
    assert (main.flight_number, main.vessel_name) == ("LH8400", "")


def test_a_road_confirmation_has_no_vessel_nor_flight(login, make_order, ops_user, carrier):
    booking = _booking(make_order, ops_user, carrier, "road_ftl", incoterm="FCA")
    page = login(ops_user).get(reverse("tracking:booking_confirm", args=[booking.pk])).content.decode()
    assert _fields(page) == set()


def test_an_air_roll_moves_the_booking_to_another_flight(login, make_order, ops_user, ops_scope, carrier):
    booking = _booking(make_order, ops_user, carrier, "air", incoterm="FCA")
    booking_services.booking_confirm(
        booking=booking, carrier_reference="020-12345675", departure_at=ETD, arrival_at=ETA, scope=ops_scope,
        by=ops_user, flight_number="LH8400",
    )  # fmt: skip
    client = login(ops_user)
    page = client.get(reverse("tracking:booking_roll", args=[booking.pk])).content.decode()
    assert _fields(page) == {"flight_number"}

    later = ETD + datetime.timedelta(days=1)
    response = client.post(
        reverse("tracking:booking_roll", args=[booking.pk]),
        {"departure_at": _local(later), "arrival_at": _local(later + datetime.timedelta(days=1)),
         "reason": "offloaded", "flight_number": "LH8402"},
    )  # fmt: skip
    assert response.status_code == 302
    main = Leg.objects.get(shipment=booking.shipment, role=LegRole.MAIN)
    assert (main.flight_number, main.planned_departure_at) == ("LH8402", later)


def test_an_ocean_roll_asks_for_the_new_vessel_not_a_flight(login, make_order, ops_user, ops_scope, carrier):
    booking = _booking(make_order, ops_user, carrier, "ocean_lcl")
    booking_services.booking_confirm(
        booking=booking, carrier_reference="MAEU1", departure_at=ETD, arrival_at=ETA, scope=ops_scope, by=ops_user
    )
    page = login(ops_user).get(reverse("tracking:booking_roll", args=[booking.pk])).content.decode()
    assert _fields(page) == {"vessel_name", "vessel_imo", "voyage_number", "vgm_cutoff_at"}
