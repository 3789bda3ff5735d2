"""Who in workflows reacts to what (connected in WorkflowsConfig.ready):

- orders.events.order_status_changed → transition_handle: create, complete and cancel tasks; run rules. At
  once for transitions people take on a screen; those made through the API, webhooks and files are left
  queued for the workflow worker, which handles them in batches (services.triggers.INLINE_CHANNELS).
- tracking.events.exception_opened → exception_record per order ("exception opened" rules: a task for a team
  with its SLA), then the exception's owner (the assignee of that task, else the customer's operations
  account owner, else the branch's operations lead), written back through tracking's service, and alerted.
- tracking.events.exception_resolved → tell the owner when it resolved itself.
- tracking.ingest.events.milestones_recorded (one call per ingest batch, after its commit) → one task per
  batch (tasks.record_milestones, chunks of CHUNK records), which calls services.milestone_record per order:
  tasks completed and created, "milestone recorded" rules.
- tracking.ingest.events.estimates_changed (likewise) → tasks.record_estimates: DEPARTED → key date "etd",
  ARRIVED → "eta" (services.key_date_record), other estimates ignored.

Ingest announces thousands of records a second from the webhook request or the polling task: these two
receivers make no query and send one broker message per batch (the batch signals, never the per-order
ones), and the work runs in a worker, one order per transaction (docs/tracking-events.md, "Wiring").

The lower apps that will report more events call these services from the receivers added here then:
- tracking: cut-offs known or changed → services.key_date_record(order_id=, anchor=, at=)
- documents: document uploaded → services.document_record(order_id=, document_type=, document_id=)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from kombu.exceptions import KombuError

from orders import events as order_events
from tracking import events as tracking_events
from tracking.ingest import events as ingest_events
from workflows import tasks
from workflows.services import on_order_status_changed
from workflows.services.exceptions import exception_opened_handle, exception_resolved_handle
from workflows.services.milestones import ESTIMATE_ANCHORS

# Records per task message: a batch of 1,000 events can concern hundreds of orders; several messages let
# several workers share them, and keep each task well inside Celery's time limit.
CHUNK = 200

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


@receiver(tracking_events.exception_resolved, dispatch_uid="workflows.exception_resolved")
def _exception_resolved(
    sender: Any, *, exception_id: int, owner_id: int | None, automatic: bool, **kwargs: Any
) -> None:
    exception_resolved_handle(exception_id=exception_id, owner_id=owner_id, automatic=automatic)


@receiver(ingest_events.milestones_recorded, dispatch_uid="workflows.milestones_recorded")
def _milestones_recorded(sender: Any, *, records: Sequence[ingest_events.MilestoneRecorded], **kwargs: Any) -> None:
    _queue(tasks.record_milestones, "records", [[r.order_id, r.code, r.event_id] for r in records])


@receiver(ingest_events.estimates_changed, dispatch_uid="workflows.estimates_changed")
def _estimates_changed(sender: Any, *, changes: Sequence[ingest_events.EstimateChanged], **kwargs: Any) -> None:
    rows = [[c.order_id, c.code, c.estimated_at.isoformat()] for c in changes if c.code in ESTIMATE_ANCHORS]
    _queue(tasks.record_estimates, "changes", rows)


def _queue(task: Any, name: str, rows: list[list[Any]]) -> None:
    """One message per CHUNK rows, after the commit (the signal comes after ingest's commit: at once)."""
    for start in range(0, len(rows), CHUNK):
        transaction.on_commit(partial(_send, task, {name: rows[start : start + CHUNK]}))


def _send(task: Any, kwargs: dict[str, Any]) -> None:
    """The batch is committed already: a broker that cannot take the message must not turn the sender's
    delivery into an error (it would come back only as duplicates), nor stop the receivers after this one.
    It is logged (docs/tracking-events.md, "Wiring", says what is lost)."""
    count = len(next(iter(kwargs.values())))
    try:
        # kwargsrepr: Celery would otherwise write a repr of every record into the message's headers (for
        # logs and monitors), which took as long as sending the message (bench.tracking_ingest profile).
        task.apply_async(kwargs=kwargs, argsrepr="()", kwargsrepr=f"{{{count} tracking records}}")
    except KombuError:
        logger.exception("Could not queue %s for %s tracking records", task.name, count)
