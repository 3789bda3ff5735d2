"""What planning reacts to (connect() is called from TrackingConfig.ready()):

- orders.events.order_status_changed, when an order is cancelled → its houses leave the masters still being
  planned and are cancelled (consolidation.order_houses_cancel), so a cancelled order's cargo is never weighed,
  booked or carried. Cargo on a master the carrier knows about never gets here: the cancel guard
  (tracking.guards.order_cancel_problem) refuses the cancellation until operations have taken it off.
"""

from __future__ import annotations

from typing import Any

from orders import events as order_events
from tracking.services import consolidation


def _order_status_changed(sender: Any, *, order_id: int, transition: str, **kwargs: Any) -> None:
    if transition == "cancel":
        consolidation.order_houses_cancel(order_id=order_id)


def connect() -> None:
    """Connect the receivers (idempotent: dispatch_uid)."""
    order_events.order_status_changed.connect(
        _order_status_changed, weak=False, dispatch_uid="tracking.planning.order_status_changed"
    )
