"""What exception detection reacts to (connect() is called from TrackingConfig.ready()):

- tracking.ingest.events.milestones_recorded, estimates_changed (one call per ingest batch, its records'
  order ids): new events on those orders' shipments
- tracking.events.booking_rolled, booking_cancelled, leg_actual_recorded, leg_plan_changed (shipment_id): planning
  changed the plan or the facts (a cancelled booking's roll or missed cut-off resolves at once, not at the next
  scan; so does an overdue milestone whose leg was re-planned or removed, and a corrected plan already late opens)
  → remember the order or shipment; one detection task per burst (tasks.detect_exceptions).

Ingest stores thousands of events a second. A receiver therefore costs no query and no broker message: it
adds the ids to this thread's pending set (it takes the batch signals, not the per-order ones: one call per
batch), which is handed to one task when the request or Celery task ends, or once it holds FLUSH_SIZE ids or
is FLUSH_SECONDS old.
Ids still pending when a process dies are caught by the periodic scan, and so are those a broker that is away
could not take (the request or task that gathered them has committed and still succeeds; a warning is logged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from celery.signals import task_postrun
from django.core.signals import request_finished
from django.db import transaction
from kombu.exceptions import KombuError

from tracking import events as planning_events
from tracking.ingest import events as ingest_events

logger = logging.getLogger(__name__)

FLUSH_SIZE = 500
FLUSH_SECONDS = 2.0


class _Pending(threading.local):
    def __init__(self) -> None:
        self.orders: set[int] = set()
        self.shipments: set[int] = set()
        self.since: float | None = None


_pending = _Pending()


def note(*, order_ids: Iterable[int] = (), shipment_ids: Iterable[int] = ()) -> None:
    """Remember what changed; queue detection when enough has gathered."""
    _pending.orders.update(order_ids)
    _pending.shipments.update(shipment_ids)
    if _pending.since is None:
        _pending.since = time.monotonic()
    if (
        len(_pending.orders) + len(_pending.shipments) >= FLUSH_SIZE
        or time.monotonic() - _pending.since >= FLUSH_SECONDS
    ):
        flush()


def pending() -> tuple[list[int], list[int]]:
    return sorted(_pending.orders), sorted(_pending.shipments)


def flush(**_: Any) -> None:
    """Queue one detection task for everything pending (after the current transaction, if any)."""
    if not _pending.orders and not _pending.shipments:
        return
    order_ids, shipment_ids = pending()
    _pending.orders, _pending.shipments, _pending.since = set(), set(), None
    transaction.on_commit(lambda: _queue_detection(order_ids, shipment_ids))


def _queue_detection(order_ids: list[int], shipment_ids: list[int]) -> None:
    """What gathered them is committed when this runs (a screen's action, an ingest batch): a broker that cannot
    take the task must not turn that into an error. Nothing is lost: the periodic scan (scan_exceptions) judges
    every active shipment every five minutes."""
    from tracking.exceptions import tasks

    try:
        tasks.detect_exceptions.apply_async(
            kwargs={"order_ids": order_ids, "shipment_ids": shipment_ids}, queue=tasks.QUEUE
        )
    except KombuError:  # kombu's OperationalError (the broker unreachable) is one
        logger.warning(
            "Could not queue exception detection for %d orders and %d shipments; the periodic scan will judge them",
            len(order_ids), len(shipment_ids), exc_info=True,
        )  # fmt: skip


def _flush_after_task(sender: Any = None, task: Any = None, **_: Any) -> None:
    """The end of a Celery task ends its burst; a task run inline (eager, as in tests and `apply`) does not end
    the burst of the request or task that ran it."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    flush()


def _on_milestones(sender: Any, *, records: Iterable[Any], **kwargs: Any) -> None:
    note(order_ids=[record.order_id for record in records])


def _on_estimates(sender: Any, *, changes: Iterable[Any], **kwargs: Any) -> None:
    note(order_ids=[change.order_id for change in changes])


def _on_shipment(sender: Any, *, shipment_id: int, **kwargs: Any) -> None:
    note(shipment_ids=(shipment_id,))


def connect() -> None:
    """Connect the receivers (idempotent: dispatch_uid)."""
    ingest_events.milestones_recorded.connect(_on_milestones, dispatch_uid="tracking.exceptions.milestones")
    ingest_events.estimates_changed.connect(_on_estimates, dispatch_uid="tracking.exceptions.estimates")
    planning_events.booking_rolled.connect(_on_shipment, dispatch_uid="tracking.exceptions.rolled")
    planning_events.booking_cancelled.connect(_on_shipment, dispatch_uid="tracking.exceptions.booking_cancelled")
    planning_events.leg_actual_recorded.connect(_on_shipment, dispatch_uid="tracking.exceptions.leg_actual")
    planning_events.leg_plan_changed.connect(_on_shipment, dispatch_uid="tracking.exceptions.leg_plan")
    request_finished.connect(flush, dispatch_uid="tracking.exceptions.flush_request")
    task_postrun.connect(_flush_after_task, dispatch_uid="tracking.exceptions.flush_task")
