"""Telling others about exceptions, once each, from the worker after detection's commit: an exception opened
(tracking.events.exception_opened), the orders on its shipment changed while it was open (exception_orders_added,
exception_orders_removed), it resolved (exception_resolved). Each is claimed in the transaction that sends the
event, so the claim and what the receivers write commit together and a second message tells nobody twice.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.dispatch import Signal
from django.utils import timezone
from kombu.exceptions import KombuError

from orders.models import Order
from tracking import events
from tracking.exceptions.models import (
    UNRESOLVED_STATUSES,
    ExceptionEntry,
    ExceptionRule,
    ExceptionStatus,
    ShipmentException,
)
from tracking.models import ConsolidatedHouse, Shipment

logger = logging.getLogger(__name__)
Entry = ExceptionEntry.Verb


def announce_on_commit(opened: list[int], resolved: list[int], changed: list[int] | None = None) -> None:
    """After the commit, one task announces what opened or resolved and whose orders changed (announce_exceptions)."""
    from tracking.exceptions import tasks  # tasks import services

    args = [opened, resolved, changed] if changed else [opened, resolved]
    transaction.on_commit(
        lambda: queue_after_commit(
            lambda: tasks.announce_exceptions.apply_async(args=args, queue=tasks.QUEUE), what="announcement"
        )
    )


def queue_after_commit(send: Callable[[], Any], *, what: str) -> None:
    """Queue a task after the commit. A broker that is away must not fail what was committed (a person's resolve
    answered with an error page): logged, and the scan's sweeps (detection._announce_missed) announce it later."""
    try:
        send()
    except KombuError:
        logger.warning("exceptions: could not queue the %s; the next scan does it", what, exc_info=True)


def orders_of(exception: ShipmentException) -> list[int]:
    """Every order the exception concerns: its own, or those of every live house on its shipment."""
    if exception.order_id:
        return [exception.order_id]
    houses = ConsolidatedHouse.objects.filter(master_id=exception.shipment_id, removed_at__isnull=True)
    ids = Shipment.objects.filter(pk__in=houses.values("house_id")).exclude(order__isnull=True)
    own = [exception.shipment.order_id] if exception.shipment.order_id else []
    return sorted(set(own) | set(ids.values_list("order_id", flat=True)))


def concerning(order_id: int) -> Q:
    """The exceptions that concern the order now, as orders_of says it: those naming it, and those naming no order on
    a shipment that is the order's or carries a live house of it (a filter on ShipmentException)."""
    on_it = ConsolidatedHouse.objects.filter(
        master_id=OuterRef("shipment_id"), removed_at__isnull=True, house__order_id=order_id
    )
    return Q(order_id=order_id) | (Q(order__isnull=True) & (Q(shipment__order_id=order_id) | Q(Exists(on_it))))


def exception_announce(*, exception_id: int) -> bool:
    """Tell higher apps an exception opened (workflows: rules, owner, alerts), once: the claim and what the
    receivers write commit together, so a failure leaves it to be announced again. Then the customer's email.
    Only an unresolved exception is claimed: one that resolved before its (late) announcement ran is stamped
    announced and nobody is told (no task, no notification, no email for what is already over)."""
    with transaction.atomic():
        unannounced = ShipmentException.objects.filter(pk=exception_id, announced_at__isnull=True)
        now = timezone.now()
        claimed = unannounced.filter(status__in=UNRESOLVED_STATUSES).update(announced_at=now)
        if not claimed:
            unannounced.filter(status=ExceptionStatus.RESOLVED).update(announced_at=now)
            return False
        exception = ShipmentException.objects.select_related("shipment").get(pk=exception_id)
        order_ids = orders_of(exception)
        events.exception_opened.send(
            sender=ShipmentException, exception_id=exception.pk, kind=exception.kind,
            shipment_id=exception.shipment_id, order_ids=order_ids,
        )  # fmt: skip
        if may_email_customers(exception):
            from tracking.exceptions import tasks

            tasks.email_exception_to_customer.delay_on_commit(exception.pk)
    return True


def may_email_customers(exception: ShipmentException) -> bool:
    """Whether a customer may be emailed: the exception's customer when its rule says so; for one that names no
    customer (a consolidation), also when a customer's own rule for the kind says so (the task decides whom)."""
    if exception.customer_id:
        return exception.notify_customer
    return exception.notify_customer or (
        ExceptionRule.objects.filter(
            kind=exception.kind, customer__isnull=False, notify_customer=True, is_active=True
        ).exists()
    )


def exception_orders_changed_announce(*, exception_id: int) -> bool:
    """Tell who is concerned that the orders on an open exception's shipment changed since it was announced: orders
    that joined (a house added to the consolidation whose cut-off was missed, whose vessel is late) and orders that
    left (their house taken off it before departure). The history says which orders it concerns now and which no
    longer; the joined orders' customers are emailed where a rule says so (each customer once: the ones told before
    are not told again); higher apps hear of those orders only: events.exception_orders_added (workflows runs the
    "exception opened" rules for them, the owner kept) and events.exception_orders_removed (workflows cancels their
    tasks of the exception). What was told is what the shipment carried when `announced_at` was stamped (orders_of,
    then), and what it concerns is what it carries now: an order that joined and left between two announcements is
    told nothing, and one with another house still on stays.
    Claimed by moving `announced_at` to now under the row's lock, so a second message does nothing; the events are
    sent inside that transaction, as exception_opened is, so the claim and what the receivers write commit together
    and a failure leaves the change to the next detection. Detection asks for it (_joined_since_announced,
    _left_since_announced) in the batch that sees the house come or go, and it has brought the exception's order and
    customer up to date by then. Returns whether anything was announced."""
    with transaction.atomic():
        exception = (
            ShipmentException.objects.select_for_update(of=("self",))
            .select_related("shipment")
            .filter(pk=exception_id, status__in=UNRESOLVED_STATUSES, announced_at__isnull=False, house__isnull=True)
            .first()
        )
        if exception is None:
            return False
        now = timezone.now()
        told = _orders_carried_at(exception.shipment, exception.announced_at or now)  # set: the filter above
        concerned = _orders_carried_at(exception.shipment, now)
        exception.announced_at = now
        exception.save(update_fields=["announced_at"])
        joined = _orders(concerned - told)
        left = _orders(told - concerned)
        if joined:
            _tell_orders_changed(exception, joined, "Now also concerns {}: added to the shipment.",
                                 events.exception_orders_added)  # fmt: skip
            if may_email_customers(exception):
                from tracking.exceptions import tasks

                tasks.email_exception_to_customer.delay_on_commit(exception.pk)
        if left:
            _tell_orders_changed(exception, left, "No longer concerns {}: taken off the shipment.",
                                 events.exception_orders_removed)  # fmt: skip
    return bool(joined or left)


def _tell_orders_changed(exception: ShipmentException, orders: list[Order], text: str, signal: Signal) -> None:
    """The exception's history says which orders it now concerns or no longer does, and `signal` tells workflows."""
    ExceptionEntry.objects.create(exception=exception, verb=Entry.UPDATED, text=text.format(_names(orders)))
    signal.send(
        sender=ShipmentException, exception_id=exception.pk, kind=exception.kind,
        shipment_id=exception.shipment_id, order_ids=[order.pk for order in orders],
    )  # fmt: skip


def _orders_carried_at(shipment: Shipment, at: datetime.datetime) -> set[int]:
    """The orders a shipment carried at that moment (orders_of, then): its own and those of the houses on it."""
    on = ConsolidatedHouse.objects.filter(master=shipment, added_at__lte=at).filter(
        Q(removed_at__isnull=True) | Q(removed_at__gt=at)
    )
    houses = Shipment.objects.filter(pk__in=on.values("house_id"), order__isnull=False)
    own = {shipment.order_id} if shipment.order_id else set()
    return own | set(houses.values_list("order_id", flat=True))


def _orders(ids: set[int]) -> list[Order]:
    return list(Order.objects.filter(pk__in=ids).select_related("customer").order_by("reference")) if ids else []


def _names(orders: list[Order]) -> str:
    return ", ".join(f"{order.reference} ({order.customer.code})" for order in orders)


def exception_resolved_announce(*, exception_id: int) -> None:
    """Tell higher apps a resolved exception resolved, once: the claim and what the receivers write commit
    together, so a redelivered or retried message tells nobody twice, and a failure leaves it to be told."""
    with transaction.atomic():
        claimed = ShipmentException.objects.filter(
            pk=exception_id, status=ExceptionStatus.RESOLVED, resolved_announced_at__isnull=True
        ).update(resolved_announced_at=timezone.now())
        if not claimed:
            return
        exception = ShipmentException.objects.values("kind", "owner_id", "is_auto_resolved").get(pk=exception_id)
        events.exception_resolved.send(
            sender=ShipmentException, exception_id=exception_id, kind=exception["kind"],
            owner_id=exception["owner_id"], automatic=exception["is_auto_resolved"],
        )  # fmt: skip
