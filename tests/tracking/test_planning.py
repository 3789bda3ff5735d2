import datetime
import smtplib
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tests.tracking.conftest import lcl_line
from tracking import adapters
from tracking.adapters import Submission
from tracking.equipment import CONTAINER_TYPES
from tracking.errors import AdapterError, PlanningError
from tracking.models import Booking, Leg, validate_imo_number
from tracking.services import appointment_changes, consolidation, container_changes, leg_changes, planning
from tracking.services import booking as booking_services

D = Decimal


def test_container_figures_are_the_industry_ones():
    forty = CONTAINER_TYPES["42G1"]
    assert (forty.max_gross_kg, forty.max_payload_kg, forty.capacity_m3, forty.teu) == (30480, 26700, D("67.7"), 2)
    assert CONTAINER_TYPES["22G1"].max_payload_kg == 28250
    assert CONTAINER_TYPES["45G1"].capacity_m3 == D("76.3")


def test_containers_refuse_a_bad_number_and_a_vgm_over_the_maximum_gross(make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    with pytest.raises(PlanningError, match="the last digit should be 3"):
        container_changes.container_add(shipment=master, data={"iso_type": "22G1", "container_number": "CSQU3054384"})
    with pytest.raises(PlanningError, match="above this box's maximum gross mass of 30,480 kg"):
        container_changes.container_add(shipment=master, data={"iso_type": "22G1", "vgm_kg": D(31000)})
    box = container_changes.container_add(shipment=master, data={"iso_type": "22G1", "container_number": "CSQU3054383"})
    assert box.max_payload_kg == 28250


def test_plate_figures_override_the_type_defaults(make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    box = container_changes.container_add(
        shipment=master, data={"iso_type": "45G1", "tare_kg": 3820, "max_gross_kg": 32500}
    )
    assert box.max_payload_kg == 28680


def test_removing_a_container_the_cargo_needs_is_refused(make_order, ops_user):
    orders = [make_order(lines=[lcl_line(20000, 10)]) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", containers=2, by=ops_user)
    _first, second = master.containers.all()
    with pytest.raises(PlanningError) as excinfo:
        container_changes.container_remove(container=second)
    assert str(excinfo.value) == (
        "A 20' general purpose container takes at most 28,250 kg of cargo; these houses weigh 40,000 kg."
    )
    container_changes.container_add(shipment=master, data={"iso_type": "45G1"})
    container_changes.container_remove(container=second)  # the 40' high cube joins: 26,580 + 28,250 kg of room
    assert sorted(box.iso_type for box in master.containers.all()) == ["22G1", "45G1"]


def test_imo_numbers_are_checked_with_their_check_digit():
    validate_imo_number("9456769")
    with pytest.raises(ValidationError, match="not a valid IMO ship number"):
        validate_imo_number("9456768")


def test_legs_take_their_sequence_and_refuse_arrival_before_departure(make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    now = timezone.now()
    leg = leg_changes.leg_add(
        shipment=master,
        data={"role": "on_carriage", "mode": "road_ftl", "origin_id": "DEHAM", "destination_id": "DEBER"},
    )
    assert leg.sequence == 2
    with pytest.raises(PlanningError, match="planned arrival is before the planned departure"):
        leg_changes.leg_update(
            leg=leg, data={"planned_departure_at": now, "planned_arrival_at": now - datetime.timedelta(hours=1)}
        )
    assert Leg.objects.get(pk=leg.pk).planned_departure_at is None


def test_appointments_keep_their_window_and_record_the_outcome(make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    start = timezone.now()
    with pytest.raises(PlanningError, match="end after it starts"):
        appointment_changes.appointment_schedule(
            shipment=master,
            data={"kind": "pickup", "location_id": "CNSHA", "window_start_at": start, "window_end_at": start},
        )
    slot = appointment_changes.appointment_schedule(
        shipment=master,
        data={
            "kind": "pickup",
            "location_id": "CNSHA",
            "window_start_at": start,
            "window_end_at": start + datetime.timedelta(hours=3),
            "reference": "PU-1",
        },
    )
    assert slot.status == "confirmed"
    done = appointment_changes.appointment_record(appointment=slot, status="done")
    assert done.status == "done"
    assert done.actual_at is not None
    with pytest.raises(PlanningError, match="already done"):
        appointment_changes.appointment_record(appointment=slot, status="missed")


class FakeCarrierApi:
    """A carrier API that answers at once with its booking number (the edge, faked)."""

    channel = "api"

    def __init__(self):
        self.requests = []

    def book(self, booking, document):
        self.requests.append((booking.pk, document.subject))
        return Submission(channel=self.channel, reference="API-778812")


def test_a_carrier_with_an_api_adapter_gets_the_request_through_it(make_order, ops_user, ocean_carriers, monkeypatch):
    api = FakeCarrierApi()
    monkeypatch.setitem(adapters.ADAPTERS, "HLCU", api)
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[1], by=ops_user)
    sent = booking_services.booking_send(booking=booking, by=ops_user)
    assert api.requests == [(booking.pk, f"Booking request {master.reference} · CNSHA → DEHAM")]
    assert (sent.status, sent.sent_via, sent.carrier_reference) == ("sent", "api", "API-778812")


def test_a_mail_failure_leaves_the_booking_to_send(make_order, ops_user, ocean_carriers, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("connection closed")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    with pytest.raises(AdapterError, match="could not be sent: connection closed"):
        booking_services.booking_send(booking=booking, by=ops_user)
    assert Booking.objects.get(pk=booking.pk).status == "requested"


@pytest.mark.parametrize("action", ["booking_confirm", "booking_reject", "booking_roll"])
def test_booking_answer_forms_open(login, ops_user, ops_scope, make_order, ocean_carriers, action):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    if action == "booking_roll":  # a booking is rolled once confirmed (test_booking_answer_links.py)
        departure = timezone.now() + datetime.timedelta(days=10)
        booking_services.booking_confirm(
            booking=booking,
            carrier_reference="MAEU1",
            departure_at=departure,
            arrival_at=departure + datetime.timedelta(days=30),
            scope=ops_scope,
            by=ops_user,
        )
    response = login(ops_user).get(reverse(f"tracking:{action}", args=[booking.pk]))
    assert response.status_code == 200
    assert booking.carrier.name in response.content.decode()


def test_house_page_offers_the_split(login, ops_user, make_order):
    house = planning.house_create(order=make_order(), by=ops_user)
    body = login(ops_user).get(house.get_absolute_url()).content.decode()
    assert "Split off into a new house" in body
    assert "On no master yet" in body
