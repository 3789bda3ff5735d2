"""What planning reacts to (connect() is called from TrackingConfig.ready()):

- orders.events.order_status_changed, when an order is cancelled → its houses leave the masters still being
  planned and are cancelled (consolidation.order_houses_cancel), so a cancelled order's cargo is never weighed,
  booked or carried. Cargo on a master the carrier knows about never gets here: the cancel guard
  (tracking.guards.order_cancel_problem) refuses the cancellation until operations have taken it off.
- the same event, when an order is released back to planned → if its cargo was booked no more while it was held
  (its house taken off the booked master, the booking cancelled), it goes back to confirmed at once
  (booking_orders.released_order_unplan), by the system, saying why: as it would have gone unheld. The automation's
  releases do that in their own transaction (workflows.services.holds._release) and find it done here; this is for a
  person's release (the order page's "Release hold", the API). Run after the release commits, as every receiver of
  the event: a process that dies between the two leaves the order planned with nothing booked, and the planning
  guard then lets anyone take it back ("Back to confirmed"): nothing is booked for it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from orders import events as order_events
from orders.models import Channel, Order
from tracking import guards
from tracking.ingest.following import SYSTEM_SCOPE
from tracking.services import booking_orders, consolidation


def _order_status_changed(sender: Any, *, order_id: int, transition: str, target: str = "", **kwargs: Any) -> None:
    if transition == "cancel":
        consolidation.order_houses_cancel(order_id=order_id)
    elif transition == "release" and target == guards.PLANNED:
        _released_unbooked(order_id=order_id)


def _released_unbooked(*, order_id: int) -> None:
    """An order released to planned whose cargo is booked no more goes back to confirmed (see the module)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is not None:
            booking_orders.released_order_unplan(order=order, scope=SYSTEM_SCOPE, channel=Channel.SYSTEM)


def connect() -> None:
    """Connect the receivers (idempotent: dispatch_uid)."""
    order_events.order_status_changed.connect(
        _order_status_changed, weak=False, dispatch_uid="tracking.planning.order_status_changed"
    )
