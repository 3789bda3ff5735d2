"""The fortnight's board reads each day's first entries with a LIMIT per day (a LATERAL subquery over the days,
tracking.selectors._first_ids_of_each_day) and the day's totals by a GROUP BY, no longer by numbering every row of
the fortnight. What it shows must not change: each day's cell is exactly the first `BOARD_CELL_ENTRIES` of what the
one-day view lists for that day, in its order, and each total is what the one-day view counts, whatever the
filters and the scope, across a change to summer time (a 23-hour day), with legs recorded on another day than
planned and entries at the same minute (then by id)."""

from __future__ import annotations

import datetime
import itertools
import zoneinfo

import pytest

from partners.models import OrganisationKind
from partners.scoping import Audience, Scope, scope_for_user
from tests.factories import OrganisationFactory
from tracking import selectors
from tracking.models import Appointment, Booking, Leg, Shipment
from tracking.views_schedule import BOARD_CELL_ENTRIES

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
START = datetime.date(2027, 3, 24)  # summer time starts on Sunday 28 March 2027 in Berlin: that day has 23 hours
DAYS = 7


def _at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(START + datetime.timedelta(days=day), datetime.time(hour, minute), tzinfo=BERLIN)


@pytest.fixture
def busy_week(branch, company, carrier, locations):
    """Over a week in Hamburg (and some in Shanghai): on some days more departures, arrivals, cut-offs and windows
    than a cell lists, several at the same minute, legs that departed a day before or after their plan, entries at
    midnight and at 23:59 around the change to summer time, cancelled masters and another carrier's and mode's
    legs."""
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    shanghai = OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH], parent=company)
    other_carrier = OrganisationFactory(code="OTHERLINE", name="Other Line", kinds=[OrganisationKind.CARRIER])
    numbers = itertools.count()
    # (day, hour, minute) of departures: day 1 and day 4 (Sunday, 23 hours) are busy; several at 09:00
    times = [(1, 9, 0)] * 5 + [(1, h, 15) for h in range(6, 20)] + [(4, 0, 0), (4, 23, 59)] + [(4, 3, 0)] * 12
    times += [(0, 23, 59), (2, 0, 0), (6, 12, 0)]
    for n, (day, hour, minute) in enumerate(times):
        number = next(numbers)
        status = "cancelled" if n % 9 == 4 else "booked"
        owner = shanghai if n % 7 == 3 else branch
        mode = "air" if n % 5 == 2 else "ocean_fcl"
        master = Shipment.objects.create(
            reference=f"M-WEEK-{number:03d}", kind="master", mode=mode, status=status, branch=owner,
            origin_id="CNSHA", destination_id="DEHAM",
        )  # fmt: skip
        departs = _at(day, hour, minute)
        actual_departure = None
        if n % 4 == 1:  # recorded a day later (or earlier) than planned: on the board by its actual time
            actual_departure = departs + datetime.timedelta(days=1 if n % 8 == 1 else -1, minutes=5)
        Leg.objects.create(
            shipment=master, sequence=1, mode=mode, carrier=other_carrier if n % 6 == 5 else carrier,
            origin_id="CNSHA", destination_id="DEHAM", planned_departure_at=departs,
            planned_arrival_at=departs + datetime.timedelta(days=n % 3, hours=4), actual_departure_at=actual_departure,
        )  # fmt: skip
        Booking.objects.create(
            shipment=master, carrier=carrier, status="confirmed",
            documentation_cutoff_at=departs - datetime.timedelta(days=1), cargo_cutoff_at=departs,
        )  # fmt: skip
        Appointment.objects.create(
            shipment=master, kind="pickup" if n % 2 else "delivery", location_id="DEHAM",
            window_start_at=departs - datetime.timedelta(hours=n % 5),
            window_end_at=departs + datetime.timedelta(hours=2),
            status="cancelled" if n % 10 == 7 else "confirmed",
        )  # fmt: skip
    return {"branch": branch, "carrier": carrier, "other_carrier": other_carrier, "shanghai": shanghai}


def _rows(day: selectors.Day) -> dict[str, list]:
    return {
        "departures": [leg.pk for leg in day.departures],
        "arrivals": [leg.pk for leg in day.arrivals],
        "cutoffs": [(label, at, booking.pk) for label, at, booking in day.cutoffs],
        "appointments": [appointment.pk for appointment in day.appointments],
    }


def _assert_cells_are_the_first_of_each_day(scope: Scope, per_cell: int, **filters) -> int:
    """Compare the summarised week with each day read in full; returns how many entries the week has."""
    week = selectors.schedule_board(scope=scope, start=START, days=DAYS, zone=BERLIN, per_cell=per_cell, **filters)
    entries = 0
    for day in week:
        (full,) = selectors.schedule_board(scope=scope, start=day.day, days=1, zone=BERLIN, **filters)
        everything = _rows(full)
        assert _rows(day) == {column: rows[:per_cell] for column, rows in everything.items()}, day.day
        assert day.totals == {column: len(rows) for column, rows in everything.items()}, day.day
        entries += sum(day.totals.values())
    return entries


@pytest.mark.parametrize("per_cell", [BOARD_CELL_ENTRIES, 3, 1])
def test_each_cell_is_the_first_entries_of_its_day_and_each_total_the_days_count(busy_week, ops_user, per_cell):
    scope = scope_for_user(ops_user)
    week = busy_week

    assert _assert_cells_are_the_first_of_each_day(scope, per_cell, branch_id=week["branch"].pk) > 60
    assert _assert_cells_are_the_first_of_each_day(scope, per_cell) > 60  # all branches
    assert _assert_cells_are_the_first_of_each_day(scope, per_cell, mode="air")
    assert _assert_cells_are_the_first_of_each_day(scope, per_cell, carrier_id=week["other_carrier"].pk)
    assert _assert_cells_are_the_first_of_each_day(
        scope, per_cell, branch_id=week["shanghai"].pk, mode="ocean_fcl", carrier_id=week["carrier"].pk
    )


def test_partners_and_customers_see_only_theirs_in_the_cells_too(busy_week):
    carrier = Scope(Audience.PARTNER, frozenset({busy_week["other_carrier"].pk}), time_zone="")
    stranger = Scope(Audience.CUSTOMER, frozenset({busy_week["shanghai"].pk}), time_zone="")

    assert _assert_cells_are_the_first_of_each_day(carrier, BOARD_CELL_ENTRIES) > 0
    week = selectors.schedule_board(scope=carrier, start=START, days=DAYS, zone=BERLIN, per_cell=BOARD_CELL_ENTRIES)
    legs = [leg for day in week for leg in day.departures + day.arrivals]
    assert legs
    assert {leg.carrier_id for leg in legs} == {busy_week["other_carrier"].pk}
    assert _assert_cells_are_the_first_of_each_day(stranger, BOARD_CELL_ENTRIES) == 0


def test_the_summer_time_day_keeps_its_midnight_and_its_last_minute(busy_week, ops_user):
    """Sunday 28 March 2027 has 23 hours in Berlin: its 00:00 and 23:59 departures are on it, not on its
    neighbours, in the summarised board as in the day on its own."""
    scope = scope_for_user(ops_user)
    sunday = selectors.schedule_board(scope=scope, start=START, days=DAYS, zone=BERLIN, per_cell=BOARD_CELL_ENTRIES)[4]
    (whole_sunday,) = selectors.schedule_board(scope=scope, start=sunday.day, days=1, zone=BERLIN)

    def times(legs: list[Leg]) -> list[str]:
        return [f"{(leg.actual_departure_at or leg.planned_departure_at).astimezone(BERLIN):%H:%M}" for leg in legs]

    assert sunday.day == datetime.date(2027, 3, 28)
    assert times(sunday.departures)[0] == "00:00"
    assert times(whole_sunday.departures)[-1] == "23:59"
    assert sunday.totals["departures"] == len(whole_sunday.departures) > BOARD_CELL_ENTRIES
