"""Today's open windows (migration 0020) and the board's legs by their best time (0021) are read through indexes:
without them, `window_end_at > start of today` reads every appointment, and the board's legs, placed by their
actual time once recorded, else the plan, every leg (figures in the migrations' docstrings). The test data is
small, so sequential scans are priced out to see which index the planner can use for the exact queries the
selectors send."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tracking import selectors
from tracking.models import Appointment, Shipment
from tracking.views_schedule import BOARD_CELL_ENTRIES


def _plans(run) -> list[str]:
    """The plan of each query `run` sends, with sequential scans priced out."""
    with CaptureQueriesContext(connection) as sent:
        run()
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in sent.captured_queries:
            cursor.execute(f"EXPLAIN {query['sql']}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


@pytest.fixture
def a_year_of_windows(branch, locations):
    """A window a day for the last year on one shipment, analysed: on empty tables the planner's guesses, not the
    indexes, decide which index it takes."""
    shipment = Shipment.objects.create(
        reference="M-YEAR", kind="master", mode="ocean_fcl", status="booked", branch=branch, origin_id="CNSHA",
        destination_id="DEHAM",
    )  # fmt: skip
    now = timezone.now()
    Appointment.objects.bulk_create(
        Appointment(
            shipment=shipment,
            kind="pickup",
            location_id="CNSHA",
            window_start_at=now - datetime.timedelta(days=n),
            window_end_at=now - datetime.timedelta(days=n, hours=-4),
        )
        for n in range(365)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tracking_appointment")


def test_todays_open_windows_are_read_by_their_end(ops_scope, a_year_of_windows):
    plans = _plans(lambda: selectors.execution_for(scope=ops_scope, day=timezone.localdate()))

    (plan,) = [plan for plan in plans if "on tracking_appointment" in plan and "window_end_at >" in plan]
    assert "appointment_window_open" in plan


@pytest.mark.parametrize("per_cell", [BOARD_CELL_ENTRIES, None])
def test_the_boards_legs_are_read_by_their_best_time(ops_scope, per_cell):
    """The fortnight (each day's first legs, a LIMIT per day, and the totals) and the one-day view (every leg) read
    legs by the index on COALESCE(actual, planned) (migration 0021); nothing numbers the fortnight's rows."""
    start = timezone.localdate() - datetime.timedelta(days=3)
    plans = _plans(lambda: selectors.schedule_board(scope=ops_scope, start=start, per_cell=per_cell))

    for kind in ("departure", "arrival"):
        best = f"COALESCE(actual_{kind}_at, planned_{kind}_at) >="
        leg_plans = [plan for plan in plans if best in plan]
        assert leg_plans
        for plan in leg_plans:
            assert f"leg_best_{kind}" in plan
    assert not [plan for plan in plans if "WindowAgg" in plan]
