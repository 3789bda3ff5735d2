"""Five defects a walk of shipment planning and booking at 1280 px found (ops@oms.example, 2026-12-07):

1. "Consolidate selected" with nothing ticked asked to "choose the container" too, though one was chosen.
2. Today listed a pickup or delivery only on the day its window starts: a window opened yesterday evening and
   closing this morning, or a delivery window over several days, was missing while it was still open.
3. The schedule board placed a leg by its planned time only: a leg recorded as departed on 1 Dec stayed a 7 Dec
   departure.
4. Flight numbers were not checked ("LH 8210 XX" was kept as typed, cut to the box's ten characters), and a seal
   longer than a seal number is kept failed with a server error.
5. Today's "in the future" refusal wrote days as "01 Jan 10:00", without the year a slip of the year typed needs.
"""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import datetime_text
from partners.time_zones import branch_zone
from tracking.forms import BookingConfirmForm, BookingRollForm, LegActualForm, LegForm
from tracking.models import Leg, Shipment, ShipmentEquipment
from tracking.services import appointment_changes, planning

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def _said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- 1. consolidating: say only what is missing ----------------------------------------------------------------


def test_consolidating_with_a_container_chosen_and_nothing_ticked_asks_only_for_the_orders(login, ops_user):
    response = login(ops_user).post(reverse("tracking:consolidate"), {"container_type": "22G1", "containers": 1})

    assert response.status_code == 302
    assert _said(response) == ["Tick the orders to consolidate."]
    assert not Shipment.objects.exists()


def test_consolidating_ticked_orders_into_no_containers_says_how_many_to_give(login, ops_user, make_order):
    order = make_order()

    response = login(ops_user).post(
        reverse("tracking:consolidate"), {"order": [order.reference], "container_type": "22G1", "containers": 0}
    )

    assert _said(response) == ["Give how many containers: at least 1."]
    assert not Shipment.objects.exists()


def test_consolidating_nothing_into_too_many_containers_names_both(login, ops_user):
    response = login(ops_user).post(reverse("tracking:consolidate"), {"container_type": "22G1", "containers": 21})

    assert _said(response) == ["Tick the orders to consolidate. Give how many containers: at most 20 on one master."]


# --- 2. Today: the windows open today, also those opened before it ---------------------------------------------


def _at(zone, day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)), zone)


@pytest.fixture
def windows(make_order, ops_user):
    """Three deliveries on the branch's clock: overnight from yesterday 22:00 to today 06:00, from the day before
    yesterday 08:00 to tomorrow 17:00, and one closed yesterday (08:00-17:00)."""
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    zone = branch_zone(master.branch)
    today = timezone.localdate(timezone=zone)
    day = datetime.timedelta(days=1)
    spans = {
        "overnight": (_at(zone, today - day, 22), _at(zone, today, 6)),
        "over_days": (_at(zone, today - 2 * day, 8), _at(zone, today + day, 17)),
        "closed": (_at(zone, today - day, 8), _at(zone, today - day, 17)),
    }
    made = {
        name: appointment_changes.appointment_schedule(
            shipment=master,
            data={"kind": "delivery", "location_id": "DEHAM", "window_start_at": start, "window_end_at": end},
        )
        for name, (start, end) in spans.items()
    }
    return master, zone, made


def test_today_lists_the_windows_still_open_that_started_before_today(login, ops_user, windows):
    master, zone, made = windows

    response = login(ops_user).get(reverse("tracking:today"), {"branch": master.branch_id})

    assert response.context["execution"].deliveries == [made["over_days"], made["overnight"]]
    body = response.content.decode()
    with timezone.override(zone):  # a window opened before today says on which day: it did not start today
        opened = datetime_text(timezone.localtime(made["overnight"].window_start_at), "weekday")
        closes = datetime_text(timezone.localtime(made["overnight"].window_end_at), "weekday")
    assert f"{opened}–{closes}" in body
    assert f'<td class="text-nowrap">22:00–{closes}' not in body


def test_today_still_lists_a_window_that_opens_today(login, ops_user, make_order):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    zone = branch_zone(master.branch)
    today = timezone.localdate(timezone=zone)
    pickup = appointment_changes.appointment_schedule(
        shipment=master,
        data={
            "kind": "pickup",
            "location_id": "DEHAM",
            "window_start_at": _at(zone, today, 23),
            "window_end_at": _at(zone, today + datetime.timedelta(days=1), 3),
        },
    )

    response = login(ops_user).get(reverse("tracking:today"), {"branch": master.branch_id})

    assert response.context["execution"].pickups == [pickup]


# --- 3. the schedule board: a leg on the day it really moved --------------------------------------------------


@pytest.fixture
def departed_early(make_order, ops_user):
    """A leg planned to leave at 10:00 in four days that was recorded as departed two days ago at 07:30, and to
    arrive in nine days (not recorded)."""
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    zone = branch_zone(master.branch)
    today = timezone.localdate(timezone=zone)
    leg = master.legs.get()
    Leg.objects.filter(pk=leg.pk).update(
        planned_departure_at=_at(zone, today + datetime.timedelta(days=4), 10),
        actual_departure_at=_at(zone, today - datetime.timedelta(days=2), 7) + datetime.timedelta(minutes=30),
        planned_arrival_at=_at(zone, today + datetime.timedelta(days=9), 18),
    )
    return master, today


def test_the_board_places_a_departed_leg_on_the_day_it_departed_and_says_actual(login, ops_user, departed_early):
    master, today = departed_early
    start = today - datetime.timedelta(days=3)

    response = login(ops_user).get(reverse("tracking:schedule"), {"start": f"{start:%Y-%m-%d}", "branch": "all"})

    days = {day.day: day for day in response.context["days"]}
    assert [leg.shipment for leg in days[today - datetime.timedelta(days=2)].departures] == [master]
    assert days[today + datetime.timedelta(days=4)].departures == []
    assert [leg.shipment for leg in days[today + datetime.timedelta(days=9)].arrivals] == [master]
    body = response.content.decode()
    assert '07:30 CNSHA→DEHAM <span class="text-secondary small">actual</span>' in body
    assert '18:00 DEHAM <span class="text-secondary small">planned</span>' in body
    assert response.context["counts"]["departures"] == 1


def test_the_board_no_longer_lists_a_departed_leg_on_its_planned_day(login, ops_user, departed_early):
    _, today = departed_early

    response = login(ops_user).get(reverse("tracking:schedule"), {"start": f"{today:%Y-%m-%d}", "branch": "all"})

    assert response.context["counts"]["departures"] == 0  # it left before the board's first day
    assert response.context["counts"]["arrivals"] == 1


# --- 4. flight numbers and seals: refused with why, never cut -------------------------------------------------


def _leg_data(**fields) -> dict:
    return {"role": "main", "mode": "air", "origin": "DEFRA", "destination": "USCHI", **fields}


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("LH8210", "LH8210"),
        ("lh 8210", "LH8210"),
        ("LH-8210A", "LH8210A"),
        ("U2 123", "U2123"),
        ("DLH 8210", "DLH8210"),
    ],
)
def test_a_flight_number_is_kept_as_carriers_write_it(locations, typed, kept):
    form = LegForm(_leg_data(flight_number=typed))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["flight_number"] == kept


@pytest.mark.parametrize("typed", ["LH 8210 XX", "LH82101", "8210", "12 345", "LH", "LH 8210 XXXXXXXXXXXXXXX"])
def test_what_is_no_flight_number_is_refused_with_what_one_looks_like(locations, typed):
    form = LegForm(_leg_data(flight_number=typed))

    assert not form.is_valid()
    (error,) = form.errors["flight_number"]
    assert "flight number" in error
    assert "e.g. LH8210" in error


@pytest.mark.parametrize("form_class", [BookingConfirmForm, BookingRollForm])
def test_an_air_bookings_answer_checks_the_flight_number_too(db, form_class):
    form = form_class({"flight_number": "LH 8210 XX"}, mode="air")

    assert not form.is_valid()
    assert "is not a flight number" in form.errors["flight_number"][0]


def test_a_leg_added_with_a_flight_number_typed_loosely_is_stored_compact(login, ops_user, make_order):
    master = planning.shipment_plan_direct(order=make_order(mode="air", incoterm="FCA"), by=ops_user)
    client = login(ops_user)
    url = reverse("tracking:leg_add", args=[master.reference])

    refused = client.post(url, _leg_data(role="on_carriage", flight_number="LH 8210 XX"))
    added = client.post(url, _leg_data(role="on_carriage", flight_number="lh 8210"))

    assert refused.status_code == 400
    assert "LH 8210 XX is not a flight number" in refused.content.decode()
    assert added.status_code == 302
    assert list(master.legs.exclude(flight_number="").values_list("flight_number", flat=True)) == ["LH8210"]


def test_a_seal_longer_than_a_seal_number_is_refused_not_a_server_error(login, ops_user, make_order):
    master = planning.shipment_plan_direct(order=make_order(mode="ocean_fcl"), by=ops_user)
    box = ShipmentEquipment.objects.create(shipment=master, iso_type="22G1")

    response = login(ops_user).post(
        reverse("tracking:container_update", args=[master.reference, box.pk]),
        {"iso_type": "22G1", "seal_numbers": "ML-1234567, SEAL-1234567890123"},
    )

    assert response.status_code == 302
    assert _said(response) == [
        "SEAL-1234567890123: a seal number is at most 15 characters. Separate seals with commas."
    ]
    box.refresh_from_db()
    assert box.seal_numbers == []


# --- 5. the future-time refusal writes days as every screen does ------------------------------------------------


def test_a_time_in_another_year_is_refused_with_its_year(db, monkeypatch):
    now = datetime.datetime(2026, 12, 31, 21, 0, tzinfo=datetime.UTC)  # 22:00 on 31 Dec in Berlin
    monkeypatch.setattr(timezone, "now", lambda: now)

    form = LegActualForm({"kind": "departure", "at": "2027-01-01T10:00"}, zone=BERLIN)

    assert not form.is_valid()
    assert form.errors["at"] == [
        "1 Jan 2027, 10:00 is in the future: it is 31 Dec, 22:00 (Europe/Berlin). Give the time it really departed."
    ]


def test_a_time_later_today_is_refused_without_a_year(db, monkeypatch):
    now = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)

    form = LegActualForm({"kind": "arrival", "at": "2026-12-07T11:05"}, zone=BERLIN)

    assert not form.is_valid()
    assert form.errors["at"] == [
        "7 Dec, 11:05 is in the future: it is 7 Dec, 10:00 (Europe/Berlin). Give the time it really arrived."
    ]
