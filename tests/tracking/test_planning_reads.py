"""Today and the schedule board read the rows of their window and check each row's shipment (tracking.selectors,
`_shipment_matches`), then read the shipments once by primary key: no join to the shipments, no `IN` over every
shipment for staff (bench/planning_pages.py has the figures). The rows listed are the same: the branch's, of open
shipments for legs, of the mode chosen; customers and partners still see only theirs."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.models import OrganisationKind
from partners.scoping import Audience, Scope
from tests.factories import OrganisationFactory
from tracking import selectors
from tracking.models import Appointment, Booking, Leg, Shipment

NOON = datetime.time(12, 0)


@pytest.fixture
def two_branches(branch, company, carrier, locations):
    """In each of two branches: an open master and a cancelled one, each with a leg departing and arriving today, a
    pickup window open today and a booking with a cut-off today; one air master in Hamburg."""
    shanghai = OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH], parent=company)
    today = timezone.localdate()
    at = timezone.make_aware(datetime.datetime.combine(today, NOON))
    made: dict[str, Shipment] = {}
    for organisation in (branch, shanghai):
        for status, mode in (("booked", "sea_fcl"), ("cancelled", "sea_fcl"), ("booked", "air")):
            if mode == "air" and organisation == shanghai:
                continue
            shipment = Shipment.objects.create(
                reference=f"M-{organisation.code}-{status}-{mode}".upper(),
                kind="master",
                mode=mode,
                status=status,
                branch=organisation,
                origin_id="CNSHA",
                destination_id="DEHAM",
            )
            Leg.objects.create(
                shipment=shipment,
                sequence=1,
                mode=mode,
                carrier=carrier,
                origin_id="CNSHA",
                destination_id="DEHAM",
                planned_departure_at=at,
                planned_arrival_at=at + datetime.timedelta(hours=2),
            )
            Appointment.objects.create(
                shipment=shipment,
                kind="pickup",
                location_id="CNSHA",
                window_start_at=at - datetime.timedelta(hours=1),
                window_end_at=at + datetime.timedelta(hours=1),
            )
            Booking.objects.create(shipment=shipment, carrier=carrier, status="confirmed", cargo_cutoff_at=at)
            made[shipment.reference] = shipment
    return made


def _references(rows) -> list[str]:
    return sorted(row.shipment.reference for row in rows)


def _board(scope, **filters) -> dict[str, list[str]]:
    days = selectors.schedule_board(scope=scope, start=timezone.localdate(), days=1, **filters)
    (day,) = days
    return {
        "departures": _references(day.departures),
        "arrivals": _references(day.arrivals),
        "cutoffs": sorted(booking.shipment.reference for _, _, booking in day.cutoffs),
        "appointments": _references(day.appointments),
    }


def test_today_lists_the_branchs_rows_and_legs_of_open_shipments_only(two_branches, branch, ops_scope):
    execution = selectors.execution_for(scope=ops_scope, day=timezone.localdate(), branch_id=branch.pk)

    assert _references(execution.departures) == ["M-HAM-BOOKED-AIR", "M-HAM-BOOKED-SEA_FCL"]
    assert _references(execution.arrivals) == ["M-HAM-BOOKED-AIR", "M-HAM-BOOKED-SEA_FCL"]
    # a window is listed whatever its shipment's state, as before: cancelling a shipment does not cancel its slot
    assert _references(execution.pickups) == ["M-HAM-BOOKED-AIR", "M-HAM-BOOKED-SEA_FCL", "M-HAM-CANCELLED-SEA_FCL"]


def test_today_for_all_branches_lists_both(two_branches, ops_scope):
    execution = selectors.execution_for(scope=ops_scope, day=timezone.localdate())

    assert _references(execution.departures) == ["M-HAM-BOOKED-AIR", "M-HAM-BOOKED-SEA_FCL", "M-SHA-BOOKED-SEA_FCL"]
    assert len(execution.pickups) == 5


def test_the_board_keeps_its_filters(two_branches, branch, carrier, ops_scope):
    assert _board(ops_scope, branch_id=branch.pk) == {
        "departures": ["M-HAM-BOOKED-AIR", "M-HAM-BOOKED-SEA_FCL"],
        "arrivals": ["M-HAM-BOOKED-AIR", "M-HAM-BOOKED-SEA_FCL"],
        "cutoffs": ["M-HAM-BOOKED-AIR", "M-HAM-BOOKED-SEA_FCL", "M-HAM-CANCELLED-SEA_FCL"],
        "appointments": ["M-HAM-BOOKED-AIR", "M-HAM-BOOKED-SEA_FCL", "M-HAM-CANCELLED-SEA_FCL"],
    }
    # the mode: the leg's own for legs, the shipment's for cut-offs and windows
    assert _board(ops_scope, mode="air") == {
        "departures": ["M-HAM-BOOKED-AIR"],
        "arrivals": ["M-HAM-BOOKED-AIR"],
        "cutoffs": ["M-HAM-BOOKED-AIR"],
        "appointments": ["M-HAM-BOOKED-AIR"],
    }
    assert _board(ops_scope, carrier_id=carrier.pk)["cutoffs"] == _board(ops_scope)["cutoffs"]
    # a carrier filter leaves out legs and cut-offs of others; windows have no carrier and stay
    assert _board(ops_scope, branch_id=branch.pk, mode="air", carrier_id=carrier.pk + 1000) == {
        "departures": [],
        "arrivals": [],
        "cutoffs": [],
        "appointments": ["M-HAM-BOOKED-AIR"],
    }


def test_partners_customers_and_nobody_still_see_only_theirs(two_branches, carrier):
    partner = Scope(Audience.PARTNER, frozenset({carrier.pk}), time_zone="")
    assert _board(partner)["departures"] == ["M-HAM-BOOKED-AIR", "M-HAM-BOOKED-SEA_FCL", "M-SHA-BOOKED-SEA_FCL"]
    other = OrganisationFactory(code="OTHERCARR", kinds=[OrganisationKind.CARRIER])
    stranger = Scope(Audience.PARTNER, frozenset({other.pk}), time_zone="")
    customer = Scope(Audience.CUSTOMER, frozenset({other.pk}), time_zone="")
    empty: dict[str, list[str]] = {"departures": [], "arrivals": [], "cutoffs": [], "appointments": []}
    for scope in (stranger, customer, Scope(Audience.NOBODY)):
        assert _board(scope) == empty
        execution = selectors.execution_for(scope=scope, day=timezone.localdate())
        assert execution.departures == execution.arrivals == execution.pickups == []


def _sent(run) -> list[str]:
    with CaptureQueriesContext(connection) as sent:
        run()
    return [query["sql"] for query in sent.captured_queries]


def test_today_and_the_board_read_no_shipment_join_and_their_shipments_once(two_branches, branch, ops_scope):
    """Joined, PostgreSQL hashed every shipment of the branch for each read (15-46 ms a query at 20,000 masters);
    for staff, `shipment IN (SELECT id FROM every shipment)` added a second hash of the table."""
    today = timezone.localdate()
    for run in (
        lambda: selectors.execution_for(scope=ops_scope, day=today, branch_id=branch.pk),
        lambda: selectors.schedule_board(scope=ops_scope, start=today, branch_id=branch.pk),
    ):
        sent = _sent(run)
        assert len(sent) == 5
        assert not [sql for sql in sent if 'JOIN "tracking_shipment"' in sql]
        assert not [sql for sql in sent if 'IN (SELECT U0."id" AS "pk" FROM "tracking_shipment" U0)' in sql]
        assert len([sql for sql in sent if sql.startswith('SELECT "tracking_shipment"."id"')]) == 1


def test_the_rows_come_with_their_shipments(two_branches, branch, ops_scope, django_assert_num_queries):
    execution = selectors.execution_for(scope=ops_scope, day=timezone.localdate(), branch_id=branch.pk)
    board = selectors.schedule_board(scope=ops_scope, start=timezone.localdate(), branch_id=branch.pk)

    with django_assert_num_queries(0):
        for leg in execution.departures + execution.arrivals + board[0].departures:
            assert leg.shipment.reference
            assert (leg.carrier.code, leg.origin_id, leg.destination_id) == ("NORDTRUCK", "CNSHA", "DEHAM")
        for appointment in execution.pickups + board[0].appointments:
            assert appointment.shipment.reference
            assert appointment.location.code == "CNSHA"
        for _, _, booking in board[0].cutoffs:
            assert booking.shipment.reference
            assert booking.carrier.code == "NORDTRUCK"
