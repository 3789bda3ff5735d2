"""The sentences detection stores (an exception's detail, what resolved it) and what the workflow writes about the
hold reports on an order give their times on the clock of the shipment's (the order's) branch, named by its
abbreviation, not on the server's: the pages that show them run on other clocks ("Times in Europe/Berlin" in the
inbox), so each text names its own. The zone comes with the facts query: no query per shipment."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from partners.models import Organisation, OrganisationKind
from tests.tracking.test_ingest_support import oms_event
from tracking.exceptions import facts, rules
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.exceptions.services import detection
from tracking.ingest.models import TrackingEvent
from tracking.models import Leg, LegRole, Shipment
from workflows.services import holds

from .conftest import H, detect, ingest, open_exceptions

UTC = datetime.UTC
K = ExceptionKind


def _branch_zone(shipment, name: str) -> None:
    Organisation.objects.filter(pk=shipment.branch_id).update(time_zone=name)


def _plan_departure(master, at: datetime.datetime) -> None:
    Leg.objects.filter(shipment=master, role=LegRole.MAIN).update(planned_departure_at=at)


def test_a_shanghai_shipments_overdue_departure_reads_in_china_time(booked_fcl):
    _, master = booked_fcl
    _branch_zone(master, "Asia/Shanghai")
    _plan_departure(master, datetime.datetime(2026, 12, 3, 18, 0, tzinfo=UTC))  # Friday 02:00 in Shanghai

    detect(master, now=datetime.datetime(2026, 12, 7, 18, 0, tzinfo=UTC))

    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert exception.detail == "Leg 1 departure was planned for 4 Dec 2026, 02:00 CST: 4 d overdue."
    assert exception.entries.get(verb="opened").text == exception.detail


@pytest.mark.parametrize(
    ("planned", "words"),
    [
        (datetime.datetime(2026, 1, 10, 1, 0, tzinfo=UTC), "10 Jan 2026, 02:00 CET"),
        (datetime.datetime(2026, 7, 10, 1, 0, tzinfo=UTC), "10 Jul 2026, 03:00 CEST"),
    ],
)
def test_a_hamburg_shipments_overdue_departure_reads_in_german_winter_or_summer_time(booked_fcl, planned, words):
    _, master = booked_fcl
    _branch_zone(master, "Europe/Berlin")
    _plan_departure(master, planned)

    detect(master, now=planned + 30 * H)

    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert exception.detail == f"Leg 1 departure was planned for {words}: 30 h overdue."
    assert "UTC" not in exception.detail


def test_what_resolved_it_reads_on_the_branchs_clock_too(booked_fcl):
    _, master = booked_fcl
    _branch_zone(master, "Europe/Berlin")
    planned = datetime.datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    _plan_departure(master, planned)
    detect(master, now=planned + 30 * H)
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)

    Leg.objects.filter(shipment=master, role=LegRole.MAIN).update(actual_departure_at=planned + 31 * H)
    detect(master, now=planned + 32 * H)

    exception.refresh_from_db()
    assert exception.is_auto_resolved
    assert exception.resolution_note == "Departure recorded 11 Jan 2026, 09:00 CET."


def test_an_open_exceptions_detail_is_not_rewritten_when_its_branch_changes_clock(booked_fcl):
    """Decision (docs/exceptions.md): a stored sentence names the zone it was written on, so it stays true; it is
    rewritten when what is detected changes (a new plan), never for the wording alone, and adds no history row."""
    _, master = booked_fcl
    planned = datetime.datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    _plan_departure(master, planned)
    detect(master, now=planned + 30 * H)
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert "10 Jan 2026, 01:00 UTC" in exception.detail

    _branch_zone(master, "Asia/Shanghai")
    outcome = detect(master, now=planned + 31 * H)

    exception.refresh_from_db()
    assert outcome.updated == []
    assert "10 Jan 2026, 01:00 UTC" in exception.detail
    assert exception.entries.count() == 1

    _plan_departure(master, planned + H)  # a real change rewrites it, on the branch's clock of now
    detect(master, now=planned + 32 * H)
    exception.refresh_from_db()
    assert "10 Jan 2026, 10:00 CST" in exception.detail
    assert list(exception.entries.values_list("verb", flat=True)) == ["opened", "updated"]


def test_the_zone_comes_with_the_facts_query(booked_fcl, django_assert_num_queries):
    _, master = booked_fcl
    _branch_zone(master, "Asia/Shanghai")
    with django_assert_num_queries(2):
        found = facts.shipment_facts([master.pk])
    assert found[master.pk].zone == ZoneInfo("Asia/Shanghai")


def test_a_zone_without_an_abbreviation_names_its_offset():
    at = datetime.datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    assert rules.when_text(at, ZoneInfo("Asia/Dubai")) == "4 Dec 2026, 06:00 UTC+04"
    assert rules.when_text(at, ZoneInfo("America/Sao_Paulo")) == "3 Dec 2026, 23:00 UTC-03"
    assert rules.when_text(at, UTC) == "4 Dec 2026, 02:00 UTC"
    assert rules.when_text(None, UTC) == "—"


def test_a_hold_report_the_workflow_skips_says_why_on_the_orders_clock(booked_fcl):
    """workflows.services.holds: a hold whose release happened later (recorded first) runs no rule; the run's
    reason quotes both times on the clock of the order's branch."""
    order, _ = booked_fcl
    Organisation.objects.filter(pk=order.branch_id).update(time_zone="Asia/Shanghai")
    hold_at = datetime.datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    ingest(
        _oms("CUSTOMS_HOLD", hold_at, "hold-1"),
        _oms("IMPORT_CLEARED", hold_at + 3 * H, "release-1"),
    )
    hold = TrackingEvent.objects.get(milestone_id="CUSTOMS_HOLD")

    why = holds.hold_report_not_current(order_id=order.pk, event_id=hold.pk)

    assert why == (
        "Not run: the hold reported for 4 Dec 2026, 10:00 CST was already released (Import cleared on "
        "4 Dec 2026, 13:00 CST) when its report arrived."
    )


def _oms(milestone: str, at: datetime.datetime, event_id: str) -> dict:
    return oms_event(milestone, at, place="DEHAM", event_id=event_id)


def test_exceptions_of_two_branches_in_one_batch_each_read_on_their_own_clock(booked_fcl, booked_road):
    (_, sea), (_, road) = booked_fcl, booked_road
    hamburg = Organisation.objects.get(pk=sea.branch_id)
    shanghai = Organisation.objects.create(
        code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH], parent=hamburg.parent,
        time_zone="Asia/Shanghai",
    )  # fmt: skip
    Shipment.objects.filter(pk=sea.pk).update(branch=shanghai)
    _branch_zone(road, "Europe/Berlin")
    planned = datetime.datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    _plan_departure(sea, planned)
    _plan_departure(road, planned)

    detection.exceptions_detect(shipment_ids=[sea.pk, road.pk], now=planned + 30 * H)

    details = dict(ShipmentException.objects.filter(kind=K.MILESTONE_OVERDUE).values_list("shipment_id", "detail"))
    assert "10 Jan 2026, 09:00 CST" in details[sea.pk]
    assert "10 Jan 2026, 02:00 CET" in details[road.pk]
