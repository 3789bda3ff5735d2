"""Tracking's say in the order lifecycle: no `planned` without a confirmed carrier booking, no `cancelled`
while the order's cargo is on a master the carrier already knows about, or has moved, and no step back to
`confirmed` (`unplan`) while its cargo is booked or has moved.

Registered from TrackingConfig.ready(): the first on the transition whose target is "planned", found at start-up
in the lifecycle's TRANSITIONS, the second on "cancel"; orders never import tracking.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from orders.models import Order, OrderStatus
from tracking.models import (
    CONFIRMED_BOOKING_STATUSES,
    Booking,
    BookingStatus,
    ConsolidatedHouse,
    Shipment,
    ShipmentStatus,
)

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


def order_unplan_problem(order: Order) -> str | None:
    """Why the order may not go back from planned to confirmed (`unplan`): its cargo has moved, or all of it is
    still booked (the booking's cancellation, or taking the house off the master, takes it back by itself)."""
    moved = (
        Shipment.objects.houses()
        .filter(order=order, status__in=(ShipmentStatus.IN_TRANSIT, ShipmentStatus.ARRIVED, ShipmentStatus.DELIVERED))
        .order_by("reference")
        .first()
    )
    if moved is not None:
        return f"{moved.reference} is {moved.get_status_display().lower()}: cargo that has moved stays planned."
    if order_booking_problem(order) is None:
        return (
            f"{order.reference}'s cargo is booked with its carrier: cancel the booking on the master's page (or take "
            "the house off the master), and the order goes back to confirmed."
        )
    return None


def order_cancel_problem(order: Order) -> str | None:
    """Why the order may not be cancelled: part of its cargo is on a master whose booking request went to the
    carrier, whose booking is confirmed, or that moves; or a house of it is past planning on no master (booked,
    moving, arrived or delivered: deconsolidated at destination, its master's link no longer binds it).

    Cancelling such cargo is operations' work, not a click: take the house off the master and amend or cancel the
    booking with the carrier (space, weight, fees), then cancel the order. Keeping it on silently would have us
    weigh, book and pay for cargo that no longer travels. Cargo that has moved is not cancelled at all. Cargo on a
    master still being planned, or on none and still being planned, is taken off and its houses cancelled by the
    cancellation itself (consolidation.order_houses_cancel).
    """
    if order.status == OrderStatus.DRAFT:
        return None  # a draft never went on a shipment (only submitted orders and later do), and none returns to draft
    sent = Booking.objects.filter(shipment=OuterRef("master"), status=BookingStatus.SENT)
    links = (
        ConsolidatedHouse.objects.filter(house__order=order, removed_at__isnull=True, deconsolidated_at__isnull=True)
        .exclude(house__status=ShipmentStatus.CANCELLED)
        .filter(~Q(master__status=ShipmentStatus.PLANNING) | Exists(sent))
        .select_related("house", "master", "master__carrier")
        .order_by("house__reference")
    )
    problems: dict[str, str] = {}  # house reference → why
    for link in links:
        house, master = link.house, link.master
        carrier = master.carrier.name if master.carrier else "the carrier"
        if master.status in (ShipmentStatus.PLANNING, ShipmentStatus.BOOKED):
            how = "booked" if master.status == ShipmentStatus.BOOKED else "with a booking request sent"
            problems[house.reference] = (
                f"{house.reference} is on {master.reference}, {how} with {carrier}: take it off {master.reference} "
                f"and amend or cancel the booking with {carrier} first."
            )
        else:
            problems[house.reference] = (
                f"{house.reference} is {master.get_status_display().lower()} on {master.reference}: cargo that "
                "has moved cannot be cancelled."
            )
    # A house carries its master's status while on it and keeps it once deconsolidated at destination.
    past_planning = (
        Shipment.objects.houses()
        .filter(order=order)
        .exclude(status__in=(ShipmentStatus.PLANNING, ShipmentStatus.CANCELLED))
        .exclude(reference__in=problems)
    )
    for house in past_planning:
        if house.status == ShipmentStatus.BOOKED:
            problems[house.reference] = (
                f"{house.reference} is booked: amend or cancel its booking with the carrier and take it back into "
                "planning first."
            )
        else:
            problems[house.reference] = (
                f"{house.reference} is {house.get_status_display().lower()}: cargo that has moved cannot be cancelled."
            )
    return " ".join(problems[reference] for reference in sorted(problems)) or None
