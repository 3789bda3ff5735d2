"""Today's open windows and the board's actual times are read through indexes (migration 0020): without them,
`window_end_at > start of today` and the board's OR of actual and planned times read every appointment and every
leg (figures in the migration's docstring). The test data is small, so sequential scans are priced out to see
which index the planner can use for the exact queries the selectors send."""

from __future__ import annotations

import datetime

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tracking import selectors


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


def _plan_of(plans: list[str], table: str, column: str) -> str:
    (plan,) = [p for p in plans if f"on {table}" in p and column in p]
    return plan


def test_todays_open_windows_are_read_by_their_end(ops_scope):
    plans = _plans(lambda: selectors.execution_for(scope=ops_scope, day=timezone.localdate()))

    plan = _plan_of(plans, "tracking_appointment", "window_end_at >")
    assert "appointment_window_open" in plan


def test_the_boards_actual_times_are_read_by_index(ops_scope):
    start = timezone.localdate() - datetime.timedelta(days=3)
    plans = _plans(lambda: selectors.schedule_board(scope=ops_scope, start=start))

    assert "leg_actual_departure" in _plan_of(plans, "tracking_leg", "actual_departure_at >=")
    assert "leg_actual_arrival" in _plan_of(plans, "tracking_leg", "actual_arrival_at >=")
