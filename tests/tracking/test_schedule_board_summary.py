"""The fortnight's board summarises a busy day: each day's column lists its first entries, soonest first, and
"+ k more" opens the day on its own (`days=1`, same filters), which lists them all. The header's counts stay
totals (tracking.views_schedule.BOARD_CELL_ENTRIES, selectors.schedule_board's `per_cell`)."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from partners.scoping import scope_for_user
from tracking import selectors
from tracking.models import Appointment, Booking, Leg, Shipment
from tracking.views_schedule import BOARD_CELL_ENTRIES

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
DAY = datetime.date(2027, 3, 10)
BUSY = BOARD_CELL_ENTRIES + 3


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


def _master(reference: str, branch, carrier, *, mode: str = "ocean_fcl", departs: datetime.datetime) -> Shipment:
    """A master with one leg departing at `departs` (arriving a day later), a cargo cut-off two hours after it and
    a pickup window an hour after it."""
    shipment = Shipment.objects.create(
        reference=reference, kind="master", mode=mode, status="booked", branch=branch, origin_id="CNSHA",
        destination_id="DEHAM",
    )  # fmt: skip
    Leg.objects.create(
        shipment=shipment, sequence=1, mode=mode, carrier=carrier, origin_id="CNSHA", destination_id="DEHAM",
        planned_departure_at=departs, planned_arrival_at=departs + datetime.timedelta(days=1),
    )  # fmt: skip
    Booking.objects.create(
        shipment=shipment, carrier=carrier, status="confirmed", cargo_cutoff_at=departs + datetime.timedelta(hours=2)
    )
    Appointment.objects.create(
        shipment=shipment, kind="pickup", location_id="CNSHA", window_start_at=departs + datetime.timedelta(hours=1),
        window_end_at=departs + datetime.timedelta(hours=3),
    )  # fmt: skip
    return shipment


@pytest.fixture
def busy_day(branch, carrier, locations):
    """On DAY in Shanghai (the branch's clock): BUSY sea masters departing from 08:00 a minute apart, listed in
    reverse so the database's order is not theirs; an air master departing at 20:00; a sea master departing at
    00:30 the next day in Shanghai (16:30 UTC on DAY)."""
    branch.time_zone = "Asia/Shanghai"
    branch.save(update_fields=["time_zone"])
    sea = [_master(f"M-SEA-{n:02d}", branch, carrier, departs=_at(DAY, 8, n)) for n in reversed(range(BUSY))]
    _master("M-AIR", branch, carrier, mode="air", departs=_at(DAY, 20))
    _master("M-NEXT-DAY", branch, carrier, departs=_at(DAY + datetime.timedelta(days=1), 0, 30))
    return sorted(shipment.reference for shipment in sea)


def _board(client, branch, **params):
    query = {"start": DAY.isoformat(), "branch": branch.pk, **params}
    return client.get(reverse("tracking:schedule"), query)


def _references(rows) -> list[str]:
    return [row.shipment.reference for row in rows]


def test_a_busy_day_lists_its_first_entries_soonest_first_and_links_to_the_rest(
    login, ops_user, branch, carrier, busy_day
):
    response = _board(login(ops_user), branch)

    day = response.context["days"][0]
    assert day.day == DAY
    assert _references(day.departures) == busy_day[:BOARD_CELL_ENTRIES]
    assert [booking.shipment.reference for _, _, booking in day.cutoffs] == busy_day[:BOARD_CELL_ENTRIES]
    assert _references(day.appointments) == busy_day[:BOARD_CELL_ENTRIES]
    assert day.more == {"departures": 4, "arrivals": 0, "cutoffs": 4, "appointments": 4}  # + the air master's
    body = response.content.decode()
    link = f"?start={DAY.isoformat()}&days=1&branch={branch.pk}&mode=&carrier="
    assert f'href="{link}">+ 4 more<span class="visually-hidden"> departures on' in body
    assert f'href="{link}">+ 4 more<span class="visually-hidden"> cut-offs on' in body
    # the next day has its one departure, by the branch's clock, and no link
    assert _references(response.context["days"][1].departures) == ["M-NEXT-DAY"]
    assert response.context["days"][1].more["departures"] == 0


def test_the_header_counts_every_entry_not_only_those_listed(login, ops_user, branch, busy_day):
    counts = _board(login(ops_user), branch).context["counts"]

    # BUSY + 1 air master on DAY, 1 on the next day; arrivals a day later; cut-offs of the sea masters only
    assert counts == {
        "departures": BUSY + 2,
        "arrivals": BUSY + 2,
        "cutoffs": BUSY + 2,
        "appointments": BUSY + 2,
    }


def test_the_one_day_view_lists_every_entry_of_the_day(login, ops_user, branch, busy_day):
    response = _board(login(ops_user), branch, days="1")

    (day,) = response.context["days"]
    assert day.day == DAY
    assert _references(day.departures) == [*busy_day, "M-AIR"]
    assert len(day.cutoffs) == len(day.appointments) == BUSY + 1
    assert day.more == {"departures": 0, "arrivals": 0, "cutoffs": 0, "appointments": 0}
    assert response.context["counts"]["departures"] == BUSY + 1
    body = response.content.decode()
    assert " more<span" not in body
    assert 'name="days" value="1"' in body  # the filters keep the one-day view
    next_day = (DAY + datetime.timedelta(days=1)).isoformat()
    assert f"?start={next_day}&branch={branch.pk}&mode=&carrier=&days=1" in body


def test_the_more_link_keeps_the_filters(login, ops_user, branch, carrier, busy_day):
    client = login(ops_user)
    response = _board(client, branch, mode="ocean_fcl", carrier=carrier.pk)

    link = f"?start={DAY.isoformat()}&days=1&branch={branch.pk}&mode=ocean_fcl&carrier={carrier.pk}"
    assert f'href="{link}">+ 3 more' in response.content.decode()
    one_day = client.get(reverse("tracking:schedule") + link)
    (day,) = one_day.context["days"]
    assert _references(day.departures) == busy_day  # no air master
    assert one_day.context["counts"]["departures"] == BUSY


def test_a_summarised_board_sends_one_query_more_than_a_full_one_whatever_the_entries(
    ops_user, branch, carrier, busy_day
):
    """The fortnight reads each day's first entries with a LIMIT and the day's totals by one GROUP BY (six
    queries); the one-day view reads every entry and counts them itself (five). More entries, no more queries."""
    scope = scope_for_user(ops_user)

    def sent(per_cell: int | None) -> int:
        with CaptureQueriesContext(connection) as queries:
            selectors.schedule_board(scope=scope, start=DAY, branch_id=branch.pk, zone=SHANGHAI, per_cell=per_cell)
        return len(queries.captured_queries)

    assert (sent(BOARD_CELL_ENTRIES), sent(None)) == (6, 5)
    for n in range(5):
        _master(f"M-MORE-{n}", branch, carrier, departs=_at(DAY + datetime.timedelta(days=n), 9))
    assert (sent(BOARD_CELL_ENTRIES), sent(None)) == (6, 5)
