"""Tracking's say in the order lifecycle: no `planned` without a confirmed carrier booking.

Registered from TrackingConfig.ready() on the transition whose target is "planned", found at start-up
in the lifecycle's TRANSITIONS, so orders never import tracking.
"""

from __future__ import annotations

from orders.models import Order
from tracking.models import CONFIRMED_BOOKING_STATUSES, Booking, Shipment, ShipmentStatus

PLANNED = "planned"


def plan_transition_name() -> str | None:
    """The name of the lifecycle transition into `planned`, or None while the lifecycle has none."""
    from orders import lifecycle

    field = Order._meta.get_field("status")
    for transition in field.get_all_transitions(Order):  # type: ignore[attr-defined]
        if transition.target == PLANNED and transition.name in lifecycle.TRANSITIONS:
            return str(transition.name)
    return None


def order_booking_problem(order: Order) -> str | None:
    """Why the order may not be planned: cargo not on a shipment, or a shipment without a confirmed booking."""
    from tracking.services.planning import unallocated_pieces

    if unallocated_pieces(order):
        return f"Part of {order.reference}'s cargo is on no shipment yet: plan all of it first."
    houses = list(Shipment.objects.houses().filter(order=order).exclude(status=ShipmentStatus.CANCELLED))
    if not houses:
        return f"{order.reference} is on no shipment yet."
    confirmed_houses = set(
        Booking.objects.filter(
            status__in=CONFIRMED_BOOKING_STATUSES,
            shipment__consolidated_houses__house__in=houses,
            shipment__consolidated_houses__removed_at__isnull=True,
        ).values_list("shipment__consolidated_houses__house_id", flat=True)
    )
    waiting = [house.reference for house in houses if house.pk not in confirmed_houses]
    if waiting:
        return f"No confirmed carrier booking yet for {', '.join(waiting)}."
    return None
