"""What a booking does to the orders on its master: a confirmation takes them to `planned` through the order
lifecycle (booking_covers_orders first, in the same transaction), as it does orders whose cargo joins the master
later (master_orders_plan); a cancelled confirmation takes them back to `confirmed` (orders_unplan). Orders the
lifecycle does not let through are reported back with why, never forced. An order held while planned cannot be
unplanned (its hold remembers `planned`): released after its cargo was booked no more, it is taken back to confirmed
then (released_order_unplan). The booking itself is booking.py's."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import ORDER_NOTE, Channel, Order, OrderEvent, OrderStatus, OrderTransition
from partners.scoping import Scope, scope_for_user
from tracking import events, guards
from tracking.models import CONFIRMED_BOOKING_STATUSES, Booking, ConsolidatedHouse, Shipment
from tracking.services.consolidation import live_houses

logger = logging.getLogger(__name__)


@dataclass
class ConfirmOutcome:
    booking: Booking
    planned: list[Order] = field(default_factory=list)
    not_planned: list[tuple[Order, str]] = field(default_factory=list)


@dataclass
class CancelOutcome:
    booking: Booking
    unplanned: list[Order] = field(default_factory=list)  # taken back from planned to confirmed
    not_unplanned: list[tuple[Order, str]] = field(default_factory=list)  # planned still: why


def _by(by: Any) -> Any:
    return by if getattr(by, "pk", None) else None


def _orders_on(shipment: Shipment) -> list[Order]:
    """The orders of the master's live houses, fresh from the database, by id."""
    order_ids = {house.order_id for house in live_houses(shipment) if house.order_id is not None}
    return list(Order.objects.filter(pk__in=order_ids).order_by("pk"))


def _covers(booking: Booking, shipment: Shipment, orders: list[Order]) -> list[Order]:
    """Tell the higher apps, in this transaction, that the booking covers these orders (booking_covers_orders:
    the workflow completes what BOOKING_CONFIRMED completes); the orders as they are afterwards."""
    if not orders:
        return orders
    events.booking_covers_orders.send(
        sender=Booking, booking_id=booking.pk, shipment_id=shipment.pk, order_ids=[order.pk for order in orders]
    )
    return list(Order.objects.filter(pk__in=[order.pk for order in orders]).order_by("pk"))


def _plan_orders(
    shipment: Shipment,
    *,
    scope: Scope,
    by: Any,
    channel: str,
    outcome: ConfirmOutcome,
    orders: list[Order] | None = None,
) -> None:
    """Take each order of the master (or the given ones) to `planned` through the lifecycle; report those that
    cannot go yet."""
    name = guards.plan_transition_name()
    if orders is None:
        houses = live_houses(shipment)
        orders = sorted({h.order.pk: h.order for h in houses if h.order is not None}.values(), key=lambda o: o.pk)
    for order in orders:
        if name is None:
            outcome.not_planned.append((order, "the order lifecycle has no planning step yet"))
            continue
        if order.status == guards.PLANNED:
            continue
        try:
            with transaction.atomic():
                planned = order_services.order_transition(
                    order=order,
                    name=name,
                    scope=scope,
                    by=_by(by),
                    channel=channel,
                    reason=f"Carrier booking {outcome.booking.carrier_reference} confirmed",
                    payload={"booking_id": outcome.booking.pk, "shipment": shipment.reference},
                )
            outcome.planned.append(planned)
        except TransitionNotAllowed as exc:
            outcome.not_planned.append((order, str(exc)))


def master_orders_plan(
    *, master: Shipment, orders: list[Order], by: Any = None, channel: str = Channel.SCREEN
) -> ConfirmOutcome | None:
    """Orders whose cargo joined a master after its booking was confirmed: to `planned`, as booking_confirm takes
    the others, on behalf of `by` (nobody: the lifecycle refuses, and the order waits for "Mark planned").
    None when the master has no confirmed booking."""
    booking = master.bookings.filter(status__in=CONFIRMED_BOOKING_STATUSES).first()
    if booking is None:
        return None
    outcome = ConfirmOutcome(booking)
    orders = _covers(booking, master, orders)
    _plan_orders(master, scope=scope_for_user(_by(by)), by=by, channel=channel, outcome=outcome, orders=orders)
    return outcome


HELD_UNBOOKED = "Booked no more while on hold"  # the title of held_note's line in the order's history
HELD_CARGO_UNBOOKED = "its cargo is booked no more"


def orders_unplan(
    *,
    orders: list[Order],
    scope: Scope,
    by: Any,
    reason: str,
    payload: dict[str, Any],
    channel: str = Channel.SCREEN,
    held_note: str = "",
) -> tuple[list[Order], list[tuple[Order, str]]]:
    """Take planned orders back to confirmed through the lifecycle (`unplan`); (moved, [(not moved, why)]).
    An order not planned is left as it is and not reported; one the lifecycle refuses is reported, not forced.

    An order held while planned is reported too: its hold remembers `planned`, and it goes back to confirmed when
    released (released_order_unplan). With `held_note` (what happened, "H-… taken off M-… while the order was on
    hold: …"), its history says so now, by `by`, once (orders.services.order_note_record): else the order's history
    said nothing of its cargo until the release, however long the hold lasted."""
    moved: list[Order] = []
    refused: list[tuple[Order, str]] = []
    for order in orders:
        if order.status == OrderStatus.ON_HOLD and order.status_before_hold == guards.PLANNED:
            refused.append((order, "it is on hold; it goes back to confirmed when it is released"))
            if held_note:
                order_services.order_note_record(
                    order=order, title=HELD_UNBOOKED, text=held_note, channel=channel, by=_by(by), payload=payload
                )
            continue
        if order.status != guards.PLANNED:
            continue
        try:
            with transaction.atomic():
                unplanned = order_services.order_transition(
                    order=order, name="unplan", scope=scope, by=_by(by), channel=channel, reason=reason[:300],
                    payload=payload,
                )  # fmt: skip
            moved.append(unplanned)
        except TransitionNotAllowed as exc:
            refused.append((order, str(exc)))
    return moved, refused


def released_order_unplan(*, order: Order, scope: Scope, by: Any = None, channel: str = Channel.SYSTEM) -> Order:
    """Take an order just released back to `planned` to confirmed when its cargo is booked no more (the planning
    guard's reason: guards.order_booking_problem). Its house was taken off a booked master, or the booking was
    cancelled, while it was on hold: orders_unplan could not move it then, and the release returns to the status it
    was held in (Order.status_before_hold, which only hold, release and cancel write). Through orders_unplan, with
    why ("H-… taken off M-… while the order was on hold: its cargo is booked no more"). The order as it is afterwards:
    unchanged when it is not planned, is booked, or the lifecycle refuses (logged: operations take it back by hand)."""
    if order.status != guards.PLANNED:
        return order
    problem = guards.order_booking_problem(order)
    if problem is None:
        return order
    reason, payload = _unbooked_while_held(order, problem)
    moved, refused = orders_unplan(orders=[order], scope=scope, by=by, reason=reason, payload=payload, channel=channel)
    for held, why in refused:
        logger.info("Order %s released to planned with its cargo booked no more stays planned: %s", held.reference, why)
    return moved[0] if moved else order


def _unbooked_while_held(order: Order, problem: str) -> tuple[str, dict[str, Any]]:
    """Why an order released to planned is booked no more, for its history: the last of its houses taken off a master
    since it was last put on hold, else the planning guard's reason. The taking off wrote its own line then
    (orders_unplan's held_note: "… it goes back to confirmed when released"), so the release's unplan points back to
    it instead of telling it again as news of the release; a house taken off before that line was written (an older
    hold) is told as it was."""
    held_at = (
        OrderTransition.objects.filter(order=order, target=OrderStatus.ON_HOLD)
        .order_by("-at", "-pk")
        .values_list("at", flat=True)
        .first()
    )
    taken_off = (
        ConsolidatedHouse.objects.filter(house__order=order, removed_at__isnull=False)
        .filter(removed_at__gte=held_at)
        .select_related("house", "master")
        .order_by("-removed_at", "-pk")
        .first()
        if held_at is not None
        else None
    )
    if taken_off is None:
        return f"Released with its cargo booked no more: {problem}", {}
    house, master = taken_off.house.reference, taken_off.master.reference
    payload = {"shipment": master, "house": house}
    noted = OrderEvent.objects.filter(
        pgh_obj_id=order.pk,
        pgh_label=ORDER_NOTE,
        pgh_context__metadata__note_payload__house=house,
        pgh_context__metadata__note_payload__shipment=master,
    )
    if noted.exists():
        return f"Released with its cargo booked no more, as noted when {house} was taken off {master}", payload
    return f"{house} taken off {master} while the order was on hold: {HELD_CARGO_UNBOOKED}", payload
