"""Who in workflows reacts to what (connected in WorkflowsConfig.ready):

- orders.events.order_status_changed → transition_handle: create, complete and cancel tasks; run rules. At
  once for transitions people take on a screen; those made through the API, webhooks and files are left
  queued for the workflow worker, which handles them in batches (services.transition_queue.INLINE_CHANNELS).
- tracking.events.exception_opened → exception_record per order ("exception opened" rules: a task for a team
  with its SLA), then the exception's owner (the assignee of that task, else the customer's operations
  account owner, else the branch's operations lead), written back through tracking's service, and alerted.
- tracking.events.exception_orders_added (inside the transaction that claims the change) →
  exception_orders_added_handle: the "exception opened" rules for the orders that joined the shipment of an open
  exception, once per order; the owner is kept and not alerted again; an order put back gets back the tasks its
  leaving cancelled.
- tracking.events.exception_orders_removed (inside the same claim) → exception_orders_removed_handle: the open tasks
  of the exception of the orders taken off its shipment are cancelled, the reason in their history.
- tracking.events.exception_resolved → tell the owner when it resolved itself.
- tracking.events.booking_covers_orders (inside the transaction of a carrier's confirmation, before the orders
  are planned) → services.bookings.booking_confirmed_record: BOOKING_CONFIRMED acted on at once, so the booking
  task that blocks `plan` is done when the confirmation plans the orders.
- tracking.events.booking_cancelled → services.bookings.booking_cancelled_handle: the tasks the confirmation
  completed are reopened and their people told.
- tracking.ingest.events.milestones_recording (one call per ingest batch, inside its transaction) → the
  records are queued (QueuedTrackingRecord, one INSERT) and, on the batch's commit, a worker is asked to drain
  them (tasks.handle_tracking_records → services.milestones.tracking_records_drain, which calls
  services.milestone_record per order: tasks completed and created, "milestone recorded" rules).
- tracking.ingest.events.estimates_changing (likewise): DEPARTED → key date "etd", ARRIVED → "eta"
  (services.key_date_record); other estimates are not queued.

Ingest records thousands of events a second from the webhook request or the polling task: these two
receivers cost one statement per batch whatever its size, and one broker message per commit; the work runs
in a worker, one order per transaction. The queue row commits with the events, so neither a process dying
right after the commit nor a broker that is down loses a milestone: the beat's drain finds it within a minute
(docs/tracking-events.md, "Wiring").

The lower apps that will report more events call these services from the receivers added here then:
- tracking: cut-offs known or changed → services.key_date_record(order_id=, anchor=, at=)
- documents: document uploaded → services.document_record(order_id=, document_type=, document_id=)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.dispatch import receiver

from orders import events as order_events
from tracking import events as tracking_events
from tracking.ingest import events as ingest_events
from workflows.models import TrackingRecordKind
from workflows.services import bookings, milestones, on_order_status_changed
from workflows.services.exceptions import (
    exception_opened_handle,
    exception_orders_added_handle,
    exception_orders_removed_handle,
    exception_resolved_handle,
)

logger = logging.getLogger(__name__)


@receiver(order_events.order_status_changed, dispatch_uid="workflows.order_status_changed")
def _order_status_changed(
    sender: Any, *, order_id: int, transition_id: int | None = None, channel: str = "", queued: bool = False,
    **kwargs: Any,
) -> None:  # fmt: skip
    on_order_status_changed(order_id=order_id, transition_id=transition_id, channel=channel, queued=queued)


@receiver(tracking_events.exception_opened, dispatch_uid="workflows.exception_opened")
def _exception_opened(sender: Any, *, exception_id: int, kind: str, order_ids: list[int], **kwargs: Any) -> None:
    exception_opened_handle(exception_id=exception_id, kind=kind, order_ids=order_ids)


@receiver(tracking_events.exception_orders_added, dispatch_uid="workflows.exception_orders_added")
def _exception_orders_added(sender: Any, *, exception_id: int, kind: str, order_ids: list[int], **kwargs: Any) -> None:
    exception_orders_added_handle(exception_id=exception_id, kind=kind, order_ids=order_ids)


@receiver(tracking_events.exception_orders_removed, dispatch_uid="workflows.exception_orders_removed")
def _exception_orders_removed(sender: Any, *, exception_id: int, order_ids: list[int], **kwargs: Any) -> None:
    exception_orders_removed_handle(exception_id=exception_id, order_ids=order_ids)


@receiver(tracking_events.booking_covers_orders, dispatch_uid="workflows.booking_covers_orders")
def _booking_covers_orders(sender: Any, *, shipment_id: int, order_ids: Sequence[int], **kwargs: Any) -> None:
    bookings.booking_confirmed_record(order_ids=order_ids, shipment_id=shipment_id)


@receiver(tracking_events.booking_cancelled, dispatch_uid="workflows.booking_cancelled")
def _booking_cancelled(
    sender: Any, *, booking_id: int, order_ids: Sequence[int], unplanned_ids: Sequence[int], reason: str,
    by_id: int | None = None, **kwargs: Any,
) -> None:  # fmt: skip
    try:  # after the commit: the cancellation stands whatever happens here
        bookings.booking_cancelled_handle(
            booking_id=booking_id, order_ids=order_ids, unplanned_ids=unplanned_ids, reason=reason, by_id=by_id
        )
    except Exception:
        logger.exception("Reopening the tasks of cancelled booking %s failed", booking_id)


@receiver(tracking_events.exception_resolved, dispatch_uid="workflows.exception_resolved")
def _exception_resolved(
    sender: Any, *, exception_id: int, owner_id: int | None, automatic: bool, **kwargs: Any
) -> None:
    exception_resolved_handle(exception_id=exception_id, owner_id=owner_id, automatic=automatic)


@receiver(ingest_events.milestones_recording, dispatch_uid="workflows.milestones_recording")
def _milestones_recording(sender: Any, *, records: Sequence[ingest_events.MilestoneRecorded], **kwargs: Any) -> None:
    rows = [(r.order_id, r.code, r.event_id, None) for r in records]
    milestones.tracking_records_queue(kind=TrackingRecordKind.MILESTONE, rows=rows)


@receiver(ingest_events.estimates_changing, dispatch_uid="workflows.estimates_changing")
def _estimates_changing(sender: Any, *, changes: Sequence[ingest_events.EstimateChanged], **kwargs: Any) -> None:
    rows = [(c.order_id, c.code, None, c.estimated_at) for c in changes if c.code in milestones.ESTIMATE_ANCHORS]
    milestones.tracking_records_queue(kind=TrackingRecordKind.ESTIMATE, rows=rows)
