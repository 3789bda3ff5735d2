"""Who in workflows reacts to what (connected in WorkflowsConfig.ready):

- orders.events.order_status_changed → transition_handle: create, complete and cancel tasks; run rules.

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
from workflows.services import on_order_status_changed


@receiver(order_events.order_status_changed, dispatch_uid="workflows.order_status_changed")
def _order_status_changed(sender: Any, *, order_id: int, transition_id: int | None = None, **kwargs: Any) -> None:
    on_order_status_changed(order_id=order_id, transition_id=transition_id)
