"""Today on a busy day (docs/planning.md, "Today on a busy day"): each section lists what is still to record first,
soonest first, then what was recorded, at most `TODAY_SECTION_ROWS` rows, with its counts in the header; "Show all"
(`show=<section>`, the branch kept) lists the section whole. Nothing becomes unreachable, the actions keep the view
they were taken from, and the page sends as many queries for 30 rows a section as for 1.

Before: every row of the day was listed with its actions (some 350 at a busy branch, 200-400 ms), the ones to act
on mixed with those done."""

from __future__ import annotations

import datetime
import itertools
import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from partners.scoping import scope_for_user
from tracking import selectors
from tracking.models import Appointment, Leg, Shipment
from tracking.views_schedule import TODAY_SECTION_ROWS

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
BUSY = TODAY_SECTION_ROWS + 7
RECORDED = 4
NUMBERS = itertools.count()


def _today_at(hour: int, minute: int = 0) -> datetime.datetime:
    today = timezone.localdate(timezone=BERLIN)
    return datetime.datetime.combine(today, datetime.time(hour, minute), tzinfo=BERLIN)


def _master(branch, carrier, departs: datetime.datetime, *, departed: bool = False) -> Shipment:
    """A master whose leg departs at `departs` and arrives 20 days later (on another day), with a pickup window
    opening an hour before the departure; `departed`: its departure and pickup are recorded."""
    shipment = Shipment.objects.create(
        reference=f"M-TODAY-{next(NUMBERS):03d}", kind="master", mode="ocean_fcl", status="booked", branch=branch,
        origin_id="CNSHA", destination_id="DEHAM",
    )  # fmt: skip
    Leg.objects.create(
        shipment=shipment, sequence=1, mode="ocean_fcl", carrier=carrier, origin_id="CNSHA", destination_id="DEHAM",
        planned_departure_at=departs, planned_arrival_at=departs + datetime.timedelta(days=20),
        actual_departure_at=departs if departed else None,
    )  # fmt: skip
    Appointment.objects.create(
        shipment=shipment, kind="pickup", location_id="CNSHA", window_start_at=departs - datetime.timedelta(hours=1),
        window_end_at=departs, status="done" if departed else "confirmed",
    )  # fmt: skip
    return shipment


@pytest.fixture
def busy_today(branch, carrier, locations):
    """BUSY departures today in Hamburg, from 05:00 a quarter of an hour apart, made latest first (so the database's
    order is not theirs); the RECORDED earliest have departed and their pickups are done."""
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    masters = [
        _master(branch, carrier, _today_at(5 + n // 4, 15 * (n % 4)), departed=n < RECORDED)
        for n in reversed(range(BUSY))
    ]
    return sorted(masters, key=lambda master: master.legs.get().planned_departure_at)


def _today(client, branch, **params):
    return client.get(reverse("tracking:today"), {"branch": branch.pk, **params})


def test_a_busy_section_lists_what_is_to_record_first_soonest_first_and_counts_the_rest(
    login, ops_user, branch, busy_today
):
    response = _today(login(ops_user), branch)

    departures = response.context["sections"]["departures"]
    to_record = busy_today[RECORDED:]
    assert [leg.shipment for leg in departures.rows] == to_record[:TODAY_SECTION_ROWS]
    assert (departures.to_record, departures.recorded, departures.hidden) == (
        BUSY - RECORDED,
        RECORDED,
        BUSY - TODAY_SECTION_ROWS,
    )
    pickups = response.context["sections"]["pickups"]
    assert [appointment.shipment for appointment in pickups.rows] == to_record[:TODAY_SECTION_ROWS]
    body = response.content.decode()
    assert f"{BUSY - RECORDED} to record · {RECORDED} recorded" in body
    hidden_to_record = BUSY - RECORDED - TODAY_SECTION_ROWS
    link = f'href="?branch={branch.pk}&amp;show=departures#departures">Show all {BUSY}</a>'
    assert link in body
    assert f"· {BUSY - TODAY_SECTION_ROWS} more: {hidden_to_record} to record, {RECORDED} recorded" in body
    assert body.count('<tr id="leg-') == TODAY_SECTION_ROWS  # departures; the arrivals are in 20 days


def test_show_all_lists_the_section_whole_to_record_first_and_folds_again(login, ops_user, branch, busy_today):
    client = login(ops_user)
    response = _today(client, branch, show="departures")

    departures = response.context["sections"]["departures"]
    assert [leg.shipment for leg in departures.rows] == busy_today[RECORDED:] + busy_today[:RECORDED]
    assert departures.hidden == 0
    assert len(response.context["sections"]["pickups"].rows) == TODAY_SECTION_ROWS  # the others stay folded
    body = response.content.decode()
    assert f'href="?branch={branch.pk}#departures">Show the first {TODAY_SECTION_ROWS}</a>' in body
    assert '<input type="hidden" name="show" value="departures">' in body  # the branch filter keeps it
    assert '<span class="oms-badge state-done">Done</span>' not in body  # a departed leg offers "Arrived"
    assert body.count("Arrived</button>") == RECORDED
    # an odd section name folds nothing open
    assert len(_today(client, branch, show="everything").context["sections"]["departures"].rows) == TODAY_SECTION_ROWS


def test_a_quiet_day_lists_everything_as_before(login, ops_user, branch, carrier, locations):
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    early, late = _master(branch, carrier, _today_at(6), departed=True), _master(branch, carrier, _today_at(9))

    response = _today(login(ops_user), branch)

    departures = response.context["sections"]["departures"]
    assert [leg.shipment for leg in departures.rows] == [late, early]  # to record first, then recorded
    assert departures.hidden == 0
    body = response.content.decode()
    assert "Show all" not in body
    assert "Show the first" not in body


@pytest.mark.parametrize("per_section", [TODAY_SECTION_ROWS, 3, 1])
def test_every_row_is_reachable_and_each_section_is_the_first_of_the_whole(ops_user, branch, busy_today, per_section):
    scope = scope_for_user(ops_user)
    day = timezone.localdate(timezone=BERLIN)
    whole = selectors.execution_for(scope=scope, day=day, branch_id=branch.pk, zone=BERLIN)
    folded = selectors.execution_for(scope=scope, day=day, branch_id=branch.pk, zone=BERLIN, per_section=per_section)

    for name in selectors.TODAY_SECTIONS:
        everything = whole.sections[name]
        assert [row.pk for row in folded.sections[name].rows] == [row.pk for row in everything.rows][:per_section]
        assert (folded.sections[name].to_record, folded.sections[name].recorded) == (
            everything.to_record,
            everything.recorded,
        )
        assert everything.total == len(everything.rows)
        shown = selectors.execution_for(
            scope=scope, day=day, branch_id=branch.pk, zone=BERLIN, per_section=per_section, in_full=name
        )
        assert [row.pk for row in shown.sections[name].rows] == [row.pk for row in everything.rows]


def test_a_window_done_keeps_the_view_it_was_recorded_from(login, ops_user, branch, busy_today):
    client = login(ops_user)
    page = _today(client, branch, show="pickups").content.decode()
    pickup = busy_today[-1].appointments.get()
    form = re.search(rf'action="/planning/appointments/{pickup.pk}/record/">(.*?)</form>', page, re.S)
    assert form, "the last pickup is listed with its actions when the section is shown whole"
    (back,) = re.findall(r'name="next" value="([^"]+)"', form.group(1))

    response = client.post(
        reverse("tracking:appointment_record", args=[pickup.pk]), {"status": "done", "next": back.replace("&amp;", "&")}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/planning/today/?branch={branch.pk}&show=pickups"
    pickup.refresh_from_db()
    assert pickup.status == "done"


def test_the_page_sends_as_many_queries_for_a_busy_day_as_for_a_quiet_one(
    login, ops_user, branch, carrier, locations, django_assert_max_num_queries
):
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    client = login(ops_user)
    _master(branch, carrier, _today_at(7))
    _today(client, branch)
    with django_assert_max_num_queries(12) as quiet:
        _today(client, branch)
    for n in range(3 * TODAY_SECTION_ROWS):
        _master(branch, carrier, _today_at(8 + n // 4, 15 * (n % 4)), departed=n % 3 == 0)
    with django_assert_max_num_queries(len(quiet.captured_queries)):
        _today(client, branch)
    with django_assert_max_num_queries(len(quiet.captured_queries)):
        _today(client, branch, show="departures")


def test_a_section_with_everything_recorded_says_so_without_a_zero(login, ops_user, branch, carrier, locations):
    """ "0 to record · 2 recorded" read as a count of nothing first; a section all done says "all 2 recorded"."""
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    for hour in (6, 7):
        _master(branch, carrier, _today_at(hour), departed=True)

    body = _today(login(ops_user), branch).content.decode()

    assert "all 2 recorded" in body
    assert "0 to record" not in body
