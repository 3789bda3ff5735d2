"""Who in workflows reacts to what (connected in WorkflowsConfig.ready):

- orders.events.order_status_changed → transition_handle: create, complete and cancel tasks; run rules. At
  once for transitions people take on a screen; those made through the API, webhooks and files are left
  queued for the workflow worker, which handles them in batches (services.triggers.INLINE_CHANNELS).
- tracking.events.exception_opened → exception_record per order ("exception opened" rules: a task for a team
  with its SLA), then the exception's owner (the assignee of that task, else the customer's operations
  account owner, else the branch's operations lead), written back through tracking's service, and alerted.
- tracking.events.exception_resolved → tell the owner when it resolved itself.

The lower apps that will report more events call these services from the receivers added here then:
- tracking: milestone recorded → services.milestone_record(order_id=, code=, event_id=);
  exception opened → services.exception_record(order_id=, kind=, exception_id=);
  ETD / ETA / cut-off known or changed → services.key_date_record(order_id=, anchor=, at=)
- documents: document uploaded → services.document_record(order_id=, document_type=, document_id=)
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from orders import events as order_events
from tracking import events as tracking_events
from workflows.services import on_order_status_changed
from workflows.services.exceptions import exception_opened_handle, exception_resolved_handle


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
