"""What a booking does to the orders on its master: a confirmation takes them to `planned` through the order
lifecycle (booking_covers_orders first, in the same transaction), as it does orders whose cargo joins the master
later (master_orders_plan); a cancelled confirmation takes them back to `confirmed` (orders_unplan). Orders the
lifecycle does not let through are reported back with why, never forced. The booking itself is booking.py's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import Channel, Order, OrderStatus
from partners.scoping import Scope, scope_for_user
from tracking import events, guards
from tracking.models import CONFIRMED_BOOKING_STATUSES, Booking, Shipment
from tracking.services.consolidation import live_houses


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


def orders_unplan(
    *, orders: list[Order], scope: Scope, by: Any, reason: str, payload: dict[str, Any], channel: str = Channel.SCREEN
) -> tuple[list[Order], list[tuple[Order, str]]]:
    """Take planned orders back to confirmed through the lifecycle (`unplan`); (moved, [(not moved, why)]).
    An order not planned is left as it is and not reported; one the lifecycle refuses is reported, not forced."""
    moved: list[Order] = []
    refused: list[tuple[Order, str]] = []
    for order in orders:
        if order.status == OrderStatus.ON_HOLD and order.status_before_hold == guards.PLANNED:
            refused.append((order, "it is on hold; take it back to confirmed once it is released"))
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
