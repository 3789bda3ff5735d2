"""The demo's clock (seed_demo): move what the seed's services stamped with the seed's own time back to when it would
have happened, so that a demo order's page reads as a sequence (taken, confirmed, planned, booked, then picked up,
departed, …) and not as a booking confirmed "a minute ago" on goods that left days ago.

The seed runs the real services, which stamp `now`; the carrier's steps it replays carry their own past times
(tracking events' `event_at`). For each demo order with an actual physical event (a tracking event of rank 25 and
up, "Empty container picked up" onwards, reported as actual and dated before the seed), the seed's clock is mapped
onto the real one by knots (seed time → real time), interpolated linearly between them, so nothing changes order:

- the seed's start → FIRST_LEAD before the order's first physical event (the order taken);
- the start of the planning demo → BOOKED_LEAD before it (the carrier booked);
- just before the seed heard of the order's first physical event → SETTLED_LEAD before it (the work before pickup);
- each moment the seed heard of physical events → the latest of them heard by then (a transition the carrier's
  departure made is stamped just after the departure);
- the end of the seed → the latest physical event, or an hour ago if later (the work done since).

Which rows, by table (only their timestamps inside the seed's window, only of those orders):

- orders_order (created_at, submitted_at, updated_at, cancelled_at), orders_ordertransition (at),
  orders_orderevent (pgh_created_at and its copies created_at, submitted_at, cancelled_at), orders_cargolineevent and
  orders_equipmentevent (pgh_created_at), and pghistory_context (created_at, updated_at) of the orders' history;
  the history rows written in the act of a transition (their context names it) take the transition's time, so the
  order page still folds the two into one entry (it pairs them within a minute);
- tracking_shipment (created_at, updated_at), tracking_consolidatedhouse (added_at), tracking_legevent
  (pgh_created_at), tracking_booking (requested_at, send_started_at, sent_at, answered_at, cancelled_at),
  tracking_etahistory (recorded_at, reported_at) of the shipments carrying them (a shipment follows its first order);
- tracking_trackingevent: a service's event (BOOKING_CONFIRMED at the seed's time) all three times; a carrier's
  replayed actual event its received and reported times, a couple of minutes after it happened, as the simulated
  carrier's ticks would have sent it;
- workflows_task (created_at, available_at, assigned_at, completed_at, escalated_at; the due time of a completed
  task due relative to its creation moves with it), workflows_taskevent (at), workflows_notification (created_at),
  workflows_rulerun (at), workflows_orderkeydate (recorded_at), workflows_orderworkflow (bound_at, migrated_at);
  a task of the work before the goods move (made by a date, or on a state before departure) completed after they
  moved (the seed recorded the truck of the planning demo departed before it did that work) is completed, and its
  events moved, to just before the first physical event.

Orders with no physical event yet (drafts, submitted, booked for a later departure, the ones the team is late with)
keep the seed's time: taken today reads true for them.

Safe only for the demo: it rewrites history rows, which are append-only everywhere else (the triggers of
orders/0011 and tracking/0014 refuse it; they are switched off for this one transaction and back on before it
commits), and pghistory's own triggers on orders_order are ignored so the rewrite leaves no history of itself. It
runs once, at the end of a seeding, in its own transaction; a second `seed_demo` on a seeded database changes no
order that existed before it (their timestamps lie before the window)."""

from __future__ import annotations

import datetime
from contextlib import nullcontext
from typing import Any

import pgtrigger
from django.db import connection, transaction
from django.utils import timezone

FIRST_LEAD = datetime.timedelta(days=5)
BOOKED_LEAD = datetime.timedelta(days=2)
SETTLED_LEAD = datetime.timedelta(minutes=30)
REPORTED_AFTER = datetime.timedelta(minutes=2)
PHYSICAL_RANK = 25  # EMPTY_PICKED_UP: the first milestone where something moved (tracking.ingest.standards)
APPEND_ONLY = ("orders_orderevent", "orders_cargolineevent", "orders_equipmentevent", "tracking_legevent")

_KNOTS = """
CREATE TEMP TABLE demo_order_shipment ON COMMIT DROP AS
    SELECT order_id, id AS shipment_id FROM tracking_shipment WHERE order_id IS NOT NULL
    UNION
    SELECT h.order_id, ch.master_id FROM tracking_consolidatedhouse ch
    JOIN tracking_shipment h ON h.id = ch.house_id WHERE h.order_id IS NOT NULL;
CREATE TEMP TABLE demo_physical ON COMMIT DROP AS
    SELECT DISTINCT os.order_id, e.id, e.event_at, e.received_at
    FROM tracking_trackingevent e
    JOIN tracking_milestone m ON m.code = e.milestone_id
    JOIN demo_order_shipment os ON os.shipment_id = e.shipment_id OR os.order_id = e.order_id
    WHERE e.classifier = 'ACT' AND m.rank >= %(rank)s AND e.event_at < %(started)s
      AND e.received_at BETWEEN %(started)s AND %(finished)s;
CREATE TEMP TABLE demo_knot ON COMMIT DROP AS
    WITH heard AS (
        SELECT order_id, received_at, max(max(event_at)) OVER (PARTITION BY order_id ORDER BY received_at) AS real_at
        FROM demo_physical GROUP BY order_id, received_at
    ), first AS (
        SELECT order_id, min(event_at) AS first_at, max(event_at) AS last_at, min(received_at) AS heard_at
        FROM demo_physical GROUP BY order_id
    )
    SELECT order_id, %(started)s::timestamptz AS seed_at, first_at - %(first_lead)s AS real_at FROM first
    UNION ALL
    SELECT order_id, %(planning)s, first_at - %(booked_lead)s FROM first WHERE heard_at > %(planning)s
    UNION ALL
    SELECT order_id, heard_at - interval '1 microsecond', first_at - %(settled_lead)s FROM first
    UNION ALL
    SELECT order_id, received_at, real_at FROM heard
    UNION ALL
    SELECT order_id, %(finished)s, greatest(last_at, %(finished)s::timestamptz - interval '1 hour') FROM first;
CREATE INDEX ON demo_knot (order_id, seed_at);
CREATE TEMP TABLE demo_shipment_order ON COMMIT DROP AS
    SELECT shipment_id, min(order_id) AS order_id FROM demo_order_shipment
    WHERE order_id IN (SELECT order_id FROM demo_knot) GROUP BY shipment_id;
"""

# The order page folds a transition into the history written in the same act (its context names the transition)
# when the two are less than a minute apart (orders.history_entries): the seed's milliseconds between them would
# become hours once stretched, so each such act's history rows take their transition's time instead. Matched here,
# on the seed's times, before anything moves.
_SNAPS = """
CREATE TEMP TABLE demo_snap ON COMMIT DROP AS
    SELECT DISTINCT ON (g.order_id, g.context_id) g.order_id, g.context_id, t.id AS transition_id
    FROM (
        SELECT pgh_obj_id AS order_id, pgh_context_id AS context_id, min(pgh_created_at) AS at
        FROM orders_orderevent
        WHERE pgh_obj_id IN (SELECT order_id FROM demo_knot) AND pgh_context_id IS NOT NULL
          AND pgh_created_at BETWEEN %(started)s AND %(finished)s
        GROUP BY pgh_obj_id, pgh_context_id
    ) g
    JOIN pghistory_context c ON c.id = g.context_id
    JOIN orders_ordertransition t ON t.order_id = g.order_id AND t.name = c.metadata ->> 'transition'
        AND abs(extract(epoch FROM t.at - g.at)) < 60
    ORDER BY g.order_id, g.context_id, abs(extract(epoch FROM t.at - g.at))
"""
_SNAPPED = """
UPDATE {table} e SET pgh_created_at = t.at
FROM demo_snap s JOIN orders_ordertransition t ON t.id = s.transition_id
WHERE e.{order} = s.order_id AND e.pgh_context_id = s.context_id
"""
_HISTORY_ORDER = (
    ("orders_orderevent", "pgh_obj_id"),
    ("orders_cargolineevent", "order_id"),
    ("orders_equipmentevent", "order_id"),
)

# The real time of seed time `t` for order `o`: interpolated between the knots either side; `t` itself outside the
# seed's window or for an order without knots.
_REAL_TIME = """
CREATE FUNCTION pg_temp.demo_real(o bigint, t timestamptz) RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT coalesce((
        SELECT CASE WHEN n.seed_at = p.seed_at THEN p.real_at
            ELSE p.real_at + (n.real_at - p.real_at)
                * (extract(epoch FROM t - p.seed_at) / extract(epoch FROM n.seed_at - p.seed_at)) END
        FROM (SELECT seed_at, real_at FROM demo_knot WHERE order_id = o AND seed_at <= t
              ORDER BY seed_at DESC LIMIT 1) p
        JOIN LATERAL (SELECT seed_at, real_at FROM demo_knot WHERE order_id = o AND seed_at >= t
                      ORDER BY seed_at LIMIT 1) n ON true
    ), t)
$$;
"""


def _moved(columns: tuple[str, ...], order: str) -> str:
    return ", ".join(f"{column} = pg_temp.demo_real({order}, t.{column})" for column in columns)


# table, the columns moved, the expression of the row's order, the FROM clause and condition that find it
_ORDER_ID = "o.order_id"
_UPDATES: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("orders_order", ("created_at", "submitted_at", "updated_at", "cancelled_at"), "t.id", ""),
    ("orders_ordertransition", ("at",), "t.order_id", ""),
    ("orders_orderevent", ("pgh_created_at", "created_at", "submitted_at", "cancelled_at"), "t.pgh_obj_id", ""),
    ("orders_cargolineevent", ("pgh_created_at",), "t.order_id", ""),
    ("orders_equipmentevent", ("pgh_created_at",), "t.order_id", ""),
    ("workflows_task", ("created_at", "available_at", "assigned_at", "completed_at", "escalated_at"), "t.order_id", ""),
    ("workflows_rulerun", ("at",), "t.order_id", ""),
    ("workflows_orderkeydate", ("recorded_at",), "t.order_id", ""),
    ("workflows_orderworkflow", ("bound_at", "migrated_at"), "t.order_id", ""),
    ("workflows_taskevent", ("at",), _ORDER_ID, "FROM workflows_task o WHERE o.id = t.task_id"),
    ("workflows_notification", ("created_at",), _ORDER_ID, "FROM workflows_task o WHERE o.id = t.task_id"),
    (
        "tracking_shipment",
        ("created_at", "updated_at"),
        _ORDER_ID,
        "FROM demo_shipment_order o WHERE o.shipment_id = t.id",
    ),
    (
        "tracking_consolidatedhouse",
        ("added_at",),
        _ORDER_ID,
        "FROM demo_shipment_order o WHERE o.shipment_id = t.master_id",
    ),
    (
        "tracking_legevent",
        ("pgh_created_at",),
        _ORDER_ID,
        "FROM demo_shipment_order o WHERE o.shipment_id = t.shipment_id",
    ),
    (
        "tracking_booking",
        ("requested_at", "send_started_at", "sent_at", "answered_at", "cancelled_at"),
        _ORDER_ID,
        "FROM demo_shipment_order o WHERE o.shipment_id = t.shipment_id",
    ),
    (
        "tracking_etahistory",
        ("recorded_at", "reported_at"),
        _ORDER_ID,
        "FROM demo_shipment_order o WHERE o.shipment_id = t.shipment_id",
    ),
)

# A completed task whose due time counted from its creation keeps its time to complete (its due time moves by as
# much as its creation); a task due relative to a date (the pickup) keeps its due time.
_TASK_DUE = """
UPDATE workflows_task t SET due_at = t.due_at - (t.created_at - pg_temp.demo_real(t.order_id, t.created_at))
FROM workflows_taskdefinition d
WHERE d.id = t.definition_id AND d.due_anchor = '' AND t.completed_at IS NOT NULL
  AND t.order_id IN (SELECT order_id FROM demo_knot)
"""
# Tracking events: a service's (stamped at the seed's time) move whole; a carrier's replayed actual event was
# received a couple of minutes after it happened, as the simulated carrier's ticks would have sent it.
_TRACKING_EVENTS = """
UPDATE tracking_trackingevent t SET
    event_at = CASE WHEN t.event_at >= %(started)s THEN pg_temp.demo_real(o.order_id, t.event_at) ELSE t.event_at END,
    received_at = CASE WHEN t.classifier = 'ACT' AND t.event_at < %(started)s
        THEN least(pg_temp.demo_real(o.order_id, t.received_at), t.event_at + %(reported_after)s)
        ELSE pg_temp.demo_real(o.order_id, t.received_at) END,
    reported_at = CASE WHEN t.reported_at < %(started)s THEN t.reported_at
        WHEN t.classifier = 'ACT' AND t.event_at < %(started)s
        THEN least(pg_temp.demo_real(o.order_id, t.reported_at), t.event_at + %(reported_after)s)
        ELSE pg_temp.demo_real(o.order_id, t.reported_at) END
FROM (
    SELECT DISTINCT ON (e.id) e.id, os.order_id FROM tracking_trackingevent e
    JOIN demo_order_shipment os ON os.shipment_id = e.shipment_id OR os.order_id = e.order_id
    WHERE os.order_id IN (SELECT order_id FROM demo_knot) AND e.received_at BETWEEN %(started)s AND %(finished)s
    ORDER BY e.id, os.order_id
) o
WHERE o.id = t.id
"""
# The work a team does before the goods move (a task made by a date or on a state before departure) was done before
# they moved, even where the seed did it after it recorded the move (the truck ops recorded departed in the planning
# demo, before the seed's pre-departure work): its completion and its events are moved to just before the pickup.
_WORK_BEFORE_PICKUP = """
WITH early AS (
    SELECT t.id, f.first_at - %(settled_lead)s / 2 AS done_at
    FROM workflows_task t
    JOIN workflows_taskdefinition d ON d.id = t.definition_id
    JOIN (SELECT order_id, min(event_at) AS first_at FROM demo_physical GROUP BY order_id) f ON f.order_id = t.order_id
    WHERE t.completed_at > f.first_at
      AND (d.trigger_kind = 'date' OR d.trigger_state IN ('submitted', 'confirmed', 'planned'))
), events AS (
    UPDATE workflows_taskevent e SET at = early.done_at FROM early WHERE e.task_id = early.id AND e.at > early.done_at
)
UPDATE workflows_task t SET completed_at = early.done_at FROM early WHERE t.id = early.id
"""
_CONTEXTS = """
UPDATE pghistory_context c SET created_at = pg_temp.demo_real(o.order_id, c.created_at),
    updated_at = pg_temp.demo_real(o.order_id, c.updated_at)
FROM (SELECT pgh_context_id, min(pgh_obj_id) AS order_id FROM orders_orderevent
      WHERE pgh_obj_id IN (SELECT order_id FROM demo_knot) AND pgh_context_id IS NOT NULL GROUP BY pgh_context_id) o
WHERE o.pgh_context_id = c.id
"""


def demo_history_age(*, started: datetime.datetime, planning_started: datetime.datetime) -> int:
    """Move the service-made timestamps of the demo orders that physically moved back to when they would have
    happened (module docstring), in one transaction. `started`: when the seed began; `planning_started`: when its
    planning demo began (the carriers booked from then). Returns how many orders were moved."""
    params: dict[str, Any] = {
        "started": started,
        "planning": planning_started,
        "finished": timezone.now(),
        "rank": PHYSICAL_RANK,
        "first_lead": FIRST_LEAD,
        "booked_lead": BOOKED_LEAD,
        "settled_lead": SETTLED_LEAD,
        "reported_after": REPORTED_AFTER,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in _KNOTS.split(";\n"):
            if statement.strip():
                cursor.execute(statement, params if "%(" in statement else None)
        cursor.execute("SELECT count(DISTINCT order_id) FROM demo_knot")
        (orders,) = cursor.fetchone()
        cursor.execute(_REAL_TIME)
        cursor.execute(_SNAPS, params)
        for table in APPEND_ONLY:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        # The contexts and due times first: both read the creation times the updates below move.
        cursor.execute(_CONTEXTS)
        cursor.execute(_TASK_DUE)
        cursor.execute(_TRACKING_EVENTS, params)
        for table, columns, order, source in _UPDATES:
            # the tables, columns and clauses are this module's constants, never input
            where = source or f"WHERE {order} IN (SELECT order_id FROM demo_knot)"  # noqa: S608
            # pghistory's trigger on orders_order would record the rewrite as a change of the order: ignored
            ignored = pgtrigger.ignore("orders.Order:update_update") if table == "orders_order" else nullcontext()
            with ignored:
                cursor.execute(f"UPDATE {table} t SET {_moved(columns, order)} {where}")  # noqa: S608
        cursor.execute(_WORK_BEFORE_PICKUP, params)
        for table, order in _HISTORY_ORDER:
            cursor.execute(_SNAPPED.format(table=table, order=order))
        for table in APPEND_ONLY:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
        # dropped here, not only at commit: a caller's outer transaction (a test's) may seed twice before it commits
        cursor.execute("DROP FUNCTION pg_temp.demo_real(bigint, timestamptz)")
        cursor.execute("DROP TABLE demo_snap, demo_shipment_order, demo_knot, demo_physical, demo_order_shipment")
    return orders
