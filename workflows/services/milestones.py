"""What carrier tracking reports, a batch at a time: milestones and changed ETD/ETA.

Tracking ingest sends each stored batch's records inside its transaction (tracking.ingest.events:
milestones_recording, estimates_changing); the receivers (workflows.receivers) queue them with
tracking_records_queue, one INSERT into QueuedTrackingRecord, which commits or rolls back with the events, and
ask a worker, on the commit, to drain the queue (workflows.tasks.handle_tracking_records; the beat runs the same
drain every minute, for a request the broker did not take). The drain acts on the records one order at a time,
one transaction each. Everything here is safe to run twice, in any order:
- a milestone creates its tasks once per order and code (unique source key), completes what is still open,
  and runs its rules once per tracking event (the event id is in the rule run's key);
- an estimate records the order's *current* estimate as tracking holds it when the drain runs, not the value
  queued: a record of an older estimate acted on late cannot put an old ETD back.
A record whose order is gone is skipped; one that fails on the database waits a backoff and is tried again, up
to MAX_ATTEMPTS times; a drain killed mid-batch leaves its records to the next drain after LEASE.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Now
from kombu.exceptions import KombuError

from orders.models import Order
from tracking.ingest.models import EtaHistory
from tracking.models import ConsolidatedHouse, Shipment
from workflows.models import DateAnchor, QueuedTrackingRecord, TrackingRecordKind
from workflows.services.event_records import key_date_record, milestone_record

logger = logging.getLogger(__name__)

# The estimates tasks can be timed from (tracking.ingest.events: DEPARTED is the ETD, ARRIVED the ETA).
ESTIMATE_ANCHORS: dict[str, str] = {"DEPARTED": DateAnchor.ETD, "ARRIVED": DateAnchor.ETA}

# As the task messages carry them (JSON): [order id, milestone code, tracking event id] and
# [order id, milestone code, estimated at (ISO 8601)].
MilestoneRow = list[int | str]
EstimateRow = list[int | str]


def milestones_record(*, records: Sequence[Sequence[int | str]]) -> list[MilestoneRow]:
    """milestone_record for each (order, code, event id), each in its own transaction; the records that
    failed (to retry), in their order. Whatever one order's record raises, the others are acted on."""
    failed: list[MilestoneRow] = []
    for order_id, code, event_id in records:
        try:
            milestone_record(order_id=int(order_id), code=str(code), event_id=event_id)
        except Order.DoesNotExist:
            continue
        except Exception:  # one order's failure, a deadlock or a bug, must not hold up the others
            logger.exception("Workflow handling of milestone %s on order %s failed; retrying", code, order_id)
            failed.append([order_id, code, event_id])
    return failed


def estimates_record(*, changes: Sequence[Sequence[int | str]]) -> list[EstimateRow]:
    """key_date_record for each order and anchor (ETD, ETA) the changes concern, once, with the estimate
    tracking holds now (the change's own value when tracking holds none the order reaches); the changes
    that failed (to retry). Whatever one order's change raises, the others are recorded."""
    reported: dict[tuple[int, str], datetime.datetime] = {}
    for order_id, code, at in changes:
        if str(code) in ESTIMATE_ANCHORS:
            reported[(int(order_id), str(code))] = datetime.datetime.fromisoformat(str(at))
    failed: list[EstimateRow] = []
    try:
        current = current_estimates(reported)
    except DatabaseError:
        logger.exception("Reading the current estimates of %d orders failed; retrying", len(reported))
        return [[order_id, code, at.isoformat()] for (order_id, code), at in reported.items()]
    for (order_id, code), estimated_at in reported.items():
        try:
            key_date_record(
                order_id=order_id, anchor=ESTIMATE_ANCHORS[code], at=current.get((order_id, code), estimated_at)
            )
        except Order.DoesNotExist:
            continue
        except Exception:  # one order's failure, a deadlock or a bug, must not hold up the others
            logger.exception("Recording the %s of order %s failed; retrying", ESTIMATE_ANCHORS[code], order_id)
            failed.append([order_id, code, estimated_at.isoformat()])
    return failed


def current_estimates(wanted: Iterable[tuple[int, str]]) -> dict[tuple[int, str], datetime.datetime]:
    """(order, milestone) → the newest estimate (by when the source made it) of the ones tracking keeps for
    the order itself, its houses and the masters they are on, as the order's timeline picks its ETA.
    Three queries, whatever the number of orders."""
    wanted = set(wanted)
    order_ids = {order_id for order_id, _ in wanted}
    codes = {code for _, code in wanted}
    if not wanted:
        return {}
    orders_of: dict[int, set[int]] = defaultdict(set)  # shipment → the orders it carries
    house_orders = dict(Shipment.objects.filter(order_id__in=order_ids).values_list("pk", "order_id"))
    for house_id, order_id in house_orders.items():
        orders_of[house_id].add(order_id)
    live = ConsolidatedHouse.objects.filter(house_id__in=list(house_orders), removed_at__isnull=True)
    for master_id, house_id in live.values_list("master_id", "house_id"):
        orders_of[master_id].add(house_orders[house_id])
    rows = (
        EtaHistory.objects.filter(
            Q(order_id__in=order_ids) | Q(shipment_id__in=list(orders_of)), milestone_id__in=codes
        )
        .order_by("reported_at", "id")
        .values_list("order_id", "shipment_id", "milestone_id", "estimated_at")
    )
    newest: dict[tuple[int, str], datetime.datetime] = {}
    for order_id, shipment_id, code, estimated_at in rows:
        for concerned in [order_id] if order_id else orders_of.get(shipment_id, ()):
            if (concerned, code) in wanted:
                newest[(concerned, code)] = estimated_at
    return newest


# --- The queue of tracking records (QueuedTrackingRecord) ------------------------------------------------

# How long a drain holds the records it took; a drain killed mid-batch leaves them to another after this.
LEASE = datetime.timedelta(minutes=5)
DRAIN_BATCH = 200
MAX_ATTEMPTS = 5

_QUEUE = """
    INSERT INTO workflows_queuedtrackingrecord (kind, order_id, code, event_id, estimated_at)
    SELECT %s, r.order_id, r.code, r.event_id, r.estimated_at
    FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::timestamptz[]) AS r(order_id, code, event_id, estimated_at)
"""
# The oldest available records nobody else holds, leased to this drain in the statement that takes them.
_CLAIM = """
    UPDATE workflows_queuedtrackingrecord SET available_at = statement_timestamp() + %s, attempts = attempts + 1
    WHERE id IN (
        SELECT id FROM workflows_queuedtrackingrecord
        WHERE available_at <= statement_timestamp() AND given_up_at IS NULL
        ORDER BY available_at, id LIMIT %s FOR UPDATE SKIP LOCKED
    )
    RETURNING id, kind, order_id, code, event_id, estimated_at, attempts
"""

QueuedRow = tuple[int | None, str, int | None, datetime.datetime | None]  # order id, code, event id, estimate


def tracking_records_queue(*, kind: str, rows: Sequence[QueuedRow]) -> None:
    """Queue the records in the caller's transaction (one statement) and, on its commit, ask a worker to drain."""
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _QUEUE,
            [kind, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]],
        )
    transaction.on_commit(_wake_drain)


def _wake_drain() -> None:
    """The records are committed: a broker that cannot take the request (or, run eagerly, a drain that fails)
    must not fail the sender's delivery, and loses nothing (the beat's drain finds the records within a
    minute)."""
    from workflows.tasks import handle_tracking_records  # tasks import services: keep the graph acyclic

    try:
        handle_tracking_records.apply_async()
    except KombuError:
        logger.warning("Could not ask a worker to act on tracking records; the beat's drain will", exc_info=True)
    except Exception:  # run eagerly (tests, a development server without a worker): the drain's own failure
        logger.exception("Acting on tracking records failed; the beat's drain tries again")


def tracking_records_drain(*, batch: int = DRAIN_BATCH, budget: float | None = None) -> tuple[int, bool]:
    """Act on the queued records a batch at a time until none is available; (how many were taken, whether
    the `budget` in seconds ran out with records perhaps left). Several drains may run at once: each takes
    records nobody else holds."""
    deadline = None if budget is None else time.monotonic() + budget
    taken = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM, cast(list[Any], [LEASE, batch]))  # psycopg sends a timedelta as an interval
            claimed = cursor.fetchall()
        if not claimed:
            return taken, False
        _act_on(claimed)
        taken += len(claimed)
        if deadline is not None and time.monotonic() >= deadline:
            return taken, True


def _act_on(claimed: list[tuple[Any, ...]]) -> None:
    """Record the milestones and the estimates, then settle each record: done (deleted), failed (tried again
    after a backoff), or failed MAX_ATTEMPTS times (given up: logged, and kept for support to try again from
    the admin, tracking_records_retry). A record taken more often than that without being settled (its drains
    were killed, by it or otherwise) is given up without acting on it."""
    claimed = sorted(claimed)  # by id: the order they were queued in
    exhausted = [row for row in claimed if row[6] > MAX_ATTEMPTS]
    claimed = [row for row in claimed if row[6] <= MAX_ATTEMPTS]
    found = [row for row in claimed if row[1] == TrackingRecordKind.MILESTONE]
    estimated = [row for row in claimed if row[1] == TrackingRecordKind.ESTIMATE]
    failed_ids: set[int] = set()
    if found:
        failed = milestones_record(records=[[row[2], row[3], row[4]] for row in found])
        keys = {(int(order_id), str(code), event_id) for order_id, code, event_id in failed}
        failed_ids |= {row[0] for row in found if (row[2], row[3], row[4]) in keys}
    if estimated:
        failed = estimates_record(changes=[[row[2], row[3], row[5].isoformat()] for row in estimated])
        estimate_keys = {(int(order_id), str(code)) for order_id, code, _ in failed}
        failed_ids |= {row[0] for row in estimated if (row[2], row[3]) in estimate_keys}
    done = [row[0] for row in claimed if row[0] not in failed_ids]
    retry = [(row[0], row[6]) for row in claimed if row[0] in failed_ids and row[6] < MAX_ATTEMPTS]
    given_up = exhausted + [row for row in claimed if row[0] in failed_ids and row[6] >= MAX_ATTEMPTS]
    for row in given_up:
        logger.error("Gave up the workflow's %s %s of order %s after %d attempts", row[1], row[3], row[2], row[6])
    with connection.cursor() as cursor:
        if done:
            cursor.execute("DELETE FROM workflows_queuedtrackingrecord WHERE id = ANY(%s)", [done])
        if given_up:
            cursor.execute(
                "UPDATE workflows_queuedtrackingrecord SET given_up_at = statement_timestamp() WHERE id = ANY(%s)",
                [[row[0] for row in given_up]],
            )
        if retry:
            cursor.execute(
                """UPDATE workflows_queuedtrackingrecord AS q SET available_at = statement_timestamp() + r.wait
                   FROM unnest(%s::bigint[], %s::interval[]) AS r(id, wait) WHERE q.id = r.id""",
                [[pk for pk, _ in retry], [_backoff(attempts) for _, attempts in retry]],
            )


def tracking_records_retry(*, ids: Sequence[int]) -> int:
    """Make given-up records available to the next drain again, with their attempts counted afresh, and ask a
    worker to drain once this commits; how many were given up. Support does this from the admin once the cause
    (a rule's bug, a missing milestone) is fixed."""
    retried = QueuedTrackingRecord.objects.filter(pk__in=ids, given_up_at__isnull=False).update(
        given_up_at=None, attempts=0, available_at=Now()
    )
    if retried:
        transaction.on_commit(_wake_drain)
    return retried


def _backoff(attempts: int) -> datetime.timedelta:
    """10 s after the first failure, doubling, at most ten minutes."""
    return datetime.timedelta(seconds=min(600, 5 * 2**attempts))
