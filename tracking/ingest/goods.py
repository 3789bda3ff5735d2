"""Where a customer's goods are: the state her order list, its filter and the public tracking link give an order.

The order's own status lags its goods in two cases: a hold (ours: a claim, a billing query; the customer still
reads the state before it) and a workflow task that blocks a transition while the vessel sails. The customer's
screens say where the goods are instead: the order's status, or the furthest status its actual milestones imply
when that is further (docs/tracking-events.md, "The public link's state says where the goods are"). A cancelled
order stays cancelled.

Two forms of one rule, kept side by side: `goods_status` reads it from an order's timeline (the public page has
it built already), `with_goods_step` computes it in the list's own query (one query per page, as many rows as
it has). tests/portal/test_goods_state.py holds them to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db.models import Case, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest

from orders.models import STATUS_PATH, Order, OrderStatus
from tracking.ingest.models import Classifier, MappingStatus, TrackingEvent

_PATH = [str(status) for status in STATUS_PATH]


def goods_status(order: Order, milestone_status: str) -> str:
    """Where the goods are: the order's status (the one before a hold), or `milestone_status` (the furthest status
    its actual milestones imply, `Timeline.milestone_status`) when that is further. Cancelled stays cancelled."""
    if order.status == OrderStatus.CANCELLED:
        return order.status
    status = (
        order.status_before_hold if order.status == OrderStatus.ON_HOLD and order.status_before_hold else order.status
    )
    if milestone_status in _PATH and (status not in _PATH or _PATH.index(milestone_status) > _PATH.index(status)):
        return milestone_status
    return status


def _step_of(status: str) -> Case:
    """The position of the status named by `status` (a field) on the order's path; -1 off it (held, cancelled)."""
    return Case(
        *(When(**{status: name}, then=Value(step)) for step, name in enumerate(_PATH)),
        default=Value(-1),
        output_field=IntegerField(),
    )


def _furthest_actual(**about: object) -> Coalesce:
    """The furthest step the actual milestones of `about` imply (-1: none), counted as the customer's timeline
    counts them: mapped, actual, applied (not contradicting its leg), not an exception, a milestone switched on and
    shown to customers."""
    events = (
        TrackingEvent.objects.filter(
            mapping_status=MappingStatus.MAPPED,
            classifier=Classifier.ACTUAL,
            contradiction="",
            milestone__is_active=True,
            milestone__is_customer_visible=True,
            milestone__is_exception=False,
            milestone__order_status__in=_PATH,
            **about,
        )
        .annotate(step=_step_of("milestone__order_status"))
        .order_by("-step")
        .values("step")[:1]
    )
    return Coalesce(Subquery(events, output_field=IntegerField()), Value(-1))


def with_goods_step(orders: QuerySet[Order]) -> QuerySet[Order]:
    """`orders` with `goods_step`: the position on the order's path of `goods_status`, computed in the same query.
    The order's events, its houses' and their live masters' are read apart, so each uses its own index (one OR
    across them would read every event of the table for each order)."""
    own = Case(
        When(status=OrderStatus.ON_HOLD, then=_step_of("status_before_hold")),
        default=_step_of("status"),
        output_field=IntegerField(),
    )
    furthest = Greatest(
        own,
        _furthest_actual(order_id=OuterRef("pk")),
        _furthest_actual(shipment__order_id=OuterRef("pk")),
        _furthest_actual(
            shipment__consolidated_houses__house__order_id=OuterRef("pk"),
            shipment__consolidated_houses__removed_at__isnull=True,
        ),
        output_field=IntegerField(),
    )
    # The events are read only for orders the goods may be ahead of: a delivered, completed, invoiced, closed or
    # cancelled order is where its goods are (no milestone implies a status past delivery). CASE evaluates the
    # branch it takes only, so a customer's years of closed orders cost no probe when her list is filtered by state.
    settled = Q(status__in=_PATH[_PATH.index(OrderStatus.DELIVERED) :]) | Q(status=OrderStatus.CANCELLED)
    return orders.annotate(goods_step=Case(When(settled, then=own), default=furthest, output_field=IntegerField()))


def annotated_goods_status(order: Order) -> str:
    """`goods_status` of an order read through `with_goods_step`."""
    step: int = order.goods_step  # type: ignore[attr-defined]
    if order.status == OrderStatus.CANCELLED or step < 0:
        return order.status
    return _PATH[step]


def in_goods_states(orders: QuerySet[Order], statuses: Sequence[str]) -> QuerySet[Order]:
    """The orders of `with_goods_step(orders)` whose `goods_status` is one of `statuses`."""
    steps = [_PATH.index(status) for status in statuses if status in _PATH]
    matching = Q(goods_step__in=steps) & ~Q(status=OrderStatus.CANCELLED)
    if OrderStatus.CANCELLED in statuses:
        matching |= Q(status=OrderStatus.CANCELLED)
    return orders.filter(matching)


def label_goods_states(orders: Iterable[Order]) -> None:
    """Give each order of `with_goods_step` what its badge says: `goods_status` and `goods_label` (where the goods
    are) and `is_held` (on hold: a second, smaller mark)."""
    for order in orders:
        order.goods_status = annotated_goods_status(order)  # type: ignore[attr-defined]
        order.goods_label = OrderStatus(order.goods_status).label  # type: ignore[attr-defined]
        order.is_held = order.status == OrderStatus.ON_HOLD  # type: ignore[attr-defined]
