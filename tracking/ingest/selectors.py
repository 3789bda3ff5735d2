"""The timeline of an order, for staff and customer-safe, and the other reads of tracking's screens.

Scoping (partners/scoping.py): staff see every order; a customer only its own; a partner only the orders
on shipments it carries (the house's or its master's carrier, or any of their legs). Anything else is a
404, the same as an order that does not exist.

The customer-safe timeline (customers, partners, the API for their keys, later the public tracking page)
shows milestones marked customer-visible with their planned, estimated and actual times and places, the
legs, and the ETA with its history. It never shows raw codes, payloads, sources, internal notes on what
an event changed, unmapped events, or polling errors.

An actual event not applied because it contradicts its leg's recorded times (`TrackingEvent.contradiction`) counts
for no reader: no milestone's actual time, no arrival, no "milestones ahead of the order". Staff see it flagged
(`Timeline.not_applied`, and struck among its milestone's events); customers, partners and the public link never.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Max, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from orders.models import STATUS_PATH, Location, Order, OrderStatus
from partners.scoping import Scope
from tracking.ingest import following, mapping
from tracking.ingest.models import (
    Classifier,
    EtaHistory,
    MappingAlert,
    MappingStatus,
    TrackingEvent,
    TrackingSubscription,
)
from tracking.models import Booking, BookingStatus, ConsolidatedHouse, Leg, Shipment

LATE_AFTER = datetime.timedelta(hours=2)  # an actual or estimate this far past the plan shows as late
PLANNED_FROM_LEGS = {"DEPARTED": "planned_departure_at", "ARRIVED": "planned_arrival_at"}


def orders_visible_to(*, scope: Scope) -> QuerySet[Order]:
    """The orders whose timeline this scope may see."""
    if scope.is_staff:
        return Order.objects.all()
    if scope.is_customer:
        return Order.objects.filter(customer_id__in=scope.organisation_ids)
    if scope.is_partner:
        orgs = sorted(scope.organisation_ids)
        carried = Q(carrier_id__in=orgs) | Q(legs__carrier_id__in=orgs)
        on_master = Q(consolidations__removed_at__isnull=True) & (
            Q(consolidations__master__carrier_id__in=orgs) | Q(consolidations__master__legs__carrier_id__in=orgs)
        )
        houses = Shipment.objects.houses().filter(carried | on_master).values("order_id")
        return Order.objects.filter(pk__in=houses)
    return Order.objects.none()


def order_get_for(*, scope: Scope, reference: str) -> Order:
    return get_object_or_404(
        orders_visible_to(scope=scope).select_related("customer", "branch", "origin", "destination"),
        reference=reference.upper(),
    )


@dataclass
class EventRow:
    event: TrackingEvent
    # In the sender's own offset when it gave one, else UTC. Shown as it is: the template turns `localtime` off,
    # or the date filter would convert it back to the viewer's zone under the "Local time at the place" title.
    at: datetime.datetime

    @property
    def source_label(self) -> str:
        return self.event.get_source_kind_display()


@dataclass
class MilestoneRow:
    code: str
    name: str
    rank: int
    is_exception: bool
    planned_at: datetime.datetime | None = None
    estimated_at: datetime.datetime | None = None
    actual_at: datetime.datetime | None = None
    location: str = ""
    location_name: str = ""
    source: str = ""
    events: list[EventRow] = field(default_factory=list)
    # Never reported, while a later milestone of the normal order happened (`_follow_actuals`): the goods are past
    # it (a road delivery without an arrival event, a voyage without a transhipment), so it is no longer expected,
    # whatever its plan or last estimate said.
    passed: bool = False

    @property
    def state(self) -> str:
        """done, expected (an estimate or plan exists) or pending. A passed milestone keeps its plan's state here
        (the API's contract); the screens read `passed` beside it."""
        if self.actual_at:
            return "done"
        return "expected" if self.estimated_at or self.planned_at else "pending"

    @property
    def is_late(self) -> bool:
        reference = self.actual_at or self.estimated_at
        return bool(self.planned_at and reference and reference - self.planned_at > LATE_AFTER)


@dataclass
class LegRow:
    leg: Leg

    @property
    def is_late(self) -> bool:
        leg = self.leg
        arrived = leg.actual_arrival_at
        return bool(arrived and leg.planned_arrival_at and arrived - leg.planned_arrival_at > LATE_AFTER)


@dataclass
class Timeline:
    order: Order
    customer_safe: bool
    milestones: list[MilestoneRow]
    legs: list[LegRow]
    shipments: list[Shipment]
    eta: EtaHistory | None
    eta_history: list[EtaHistory]
    planned_arrival_at: datetime.datetime | None
    unmapped: list[TrackingEvent] = field(default_factory=list)
    # staff: the actual events kept but not applied, each contradicting its leg's recorded times (oldest first)
    not_applied: list[EventRow] = field(default_factory=list)
    stale: list[TrackingSubscription] = field(default_factory=list)
    held_back: str = ""  # staff: why the order's status is behind its milestones (a guard, a hold, not planned)
    last_event_at: datetime.datetime | None = None
    # When the goods actually arrived (the ARRIVED milestone, the main leg's actual arrival, or the first milestone
    # that implies arrival, e.g. a delivery without an arrival event) and were delivered; None: not yet.
    arrived_at: datetime.datetime | None = None
    delivered_at: datetime.datetime | None = None
    # The furthest order status the actual milestones imply (STATUS_PATH value, "" when none): where the goods
    # are, which the order's own status lags while it is on hold or a workflow task blocks its transition.
    milestone_status: str = ""
    generated_at: datetime.datetime = field(default_factory=timezone.now)

    @property
    def current(self) -> MilestoneRow | None:
        done = [row for row in self.milestones if row.actual_at and not row.is_exception]
        return max(done, key=lambda row: row.rank) if done else None

    @property
    def updated_just_now(self) -> bool:
        """The last event came less than a minute ago: "just now", where `timesince` says "0 minutes"."""
        return self.last_event_at is not None and self.generated_at - self.last_event_at < datetime.timedelta(minutes=1)

    @property
    def current_eta(self) -> datetime.datetime | None:
        """The expected arrival while the goods are on their way; None once they arrived (`arrived_at` then), since
        an estimate the arrival overtook is no longer an expectation."""
        if self.arrived_at is not None or self.eta is None:
            return None
        return self.eta.estimated_at

    @property
    def eta_slip(self) -> datetime.timedelta | None:
        eta = self.current_eta
        if eta is None or self.planned_arrival_at is None:
            return None
        return eta - self.planned_arrival_at


def _local(at: datetime.datetime, offset_minutes: int | None) -> datetime.datetime:
    if offset_minutes is None:
        return at
    return at.astimezone(datetime.timezone(datetime.timedelta(minutes=offset_minutes)))


def _shipments_of(order: Order) -> list[Shipment]:
    """The order's houses and the masters carrying them, each master with its live houses (`live_house_ids`)."""
    houses = list(Shipment.objects.filter(order=order).select_related("carrier").order_by("created_at"))
    masters = (
        Shipment.objects.filter(
            pk__in=ConsolidatedHouse.objects.filter(house__in=houses, removed_at__isnull=True).values("master_id")
        )
        .select_related("carrier")
        .annotate(
            live_house_ids=ArrayAgg(
                "consolidated_houses__house_id", filter=Q(consolidated_houses__removed_at__isnull=True), default=[]
            )
        )
    )
    return [*masters.order_by("created_at"), *houses]


def _same_goods(shipments: list[Shipment]) -> dict[int, int]:
    """house → its master, for a house alone on its master (a direct FCL): an event naming either is about the same
    goods. A house of a consolidation is about itself (`_as_on_leg`)."""
    return {
        ids[0]: shipment.pk
        for shipment in shipments
        if len(ids := getattr(shipment, "live_house_ids", None) or []) == 1
    }


def _milestone_rows(
    order: Order,
    events: list[TrackingEvent],
    legs: list[Leg],
    eta: EtaHistory | None,
    *,
    etd: EtaHistory | None = None,
    customer_safe: bool,
    same_goods: dict[int, int],
) -> list[MilestoneRow]:
    """One row per milestone: the plan from the legs (and planned events), the latest estimate,
    the first actual; exception milestones only when they happened. The departure's and arrival's estimate is the
    current ETD/ETA (the ETA history: a roll's new sailing replaces what was reported for the missed one)."""
    table = mapping.table()
    rows = {
        code: MilestoneRow(code, info.name, info.rank, info.is_exception)
        for code, info in table.milestones.items()
        if not customer_safe or info.is_customer_visible
    }
    main = next((leg for leg in legs if leg.role == "main"), legs[0] if legs else None)
    for code, attribute in PLANNED_FROM_LEGS.items():
        if main is not None and code in rows:
            rows[code].planned_at = getattr(main, attribute)
    newest_estimate: dict[str, datetime.datetime] = {}
    legs_by_id = {leg.pk: leg for leg in legs}
    holders = {
        (event.leg_id, moment, event.shipment_id)
        for event in events
        if event.classifier == Classifier.ACTUAL and not event.contradiction
        and (moment := _moment_on_leg(event, legs_by_id))
        and event.event_at == _held(legs_by_id[event.leg_id or 0], moment)
    }  # fmt: skip
    for event in events:
        row = rows.get(event.milestone_id or "")
        if row is None or (event.contradiction and customer_safe):
            continue
        row.events.append(EventRow(event, _local(event.event_at, event.event_offset_minutes)))
        if event.contradiction:
            continue  # kept and shown to staff, struck: it counts for nothing
        if event.classifier == Classifier.ACTUAL:
            at = _as_on_leg(event, legs_by_id, same_goods, holders)
            if row.actual_at is None or at < row.actual_at:
                row.actual_at, row.location = at, event.location_code
                row.source = event.get_source_kind_display()
        elif event.classifier == Classifier.ESTIMATED:
            if row.code not in newest_estimate or event.reported_at >= newest_estimate[row.code]:
                newest_estimate[row.code], row.estimated_at = event.reported_at, event.event_at
        elif row.planned_at is None:
            row.planned_at = event.event_at
    for code, current in (("ARRIVED", eta), ("DEPARTED", etd)):
        if current is not None and code in rows:
            rows[code].estimated_at = current.estimated_at
    shown = [
        row
        for code, row in rows.items()
        if row.events or (not row.is_exception and table.milestones[code].applies_to(order.mode))
    ]
    places = {row.location for row in shown if row.location}
    names = dict(Location.objects.filter(code__in=places).values_list("code", "name")) if places else {}
    for row in shown:
        row.location_name = names.get(row.location, "")
    return sorted(shown, key=lambda row: (row.rank, row.code))


def _moment_on_leg(event: TrackingEvent, legs: dict[int, Leg]) -> str | None:
    leg = legs.get(event.leg_id) if event.leg_id else None
    return following.leg_moment(event.milestone_id, leg.mode, leg.role) if leg is not None else None


def _held(leg: Leg, moment: str) -> datetime.datetime | None:
    return leg.actual_departure_at if moment == "departure" else leg.actual_arrival_at


def _as_on_leg(
    event: TrackingEvent,
    legs: dict[int, Leg],
    same_goods: dict[int, int],
    holders: set[tuple[int | None, str, int | None]],
) -> datetime.datetime:
    """An actual event's time as the timeline shows it: for a leg's own departure or arrival, the time the leg holds
    (a correction from the person who recorded it moved it, operations may have corrected it, another source's
    different time did not replace it: docs/tracking-events.md, "Corrected actual times"), so the milestone and the
    Legs table never disagree; else the event's own time. The leg's time is shown for events about the leg's own
    shipment (or the only house on it: the same goods), and for a house of a consolidation only when the leg holds
    that house's report (`holders`: the first pickup, the last drop): each consignee of a groupage truck keeps its
    own pickup and delivery. The raw events keep what was sent."""
    moment = _moment_on_leg(event, legs)
    if moment is None:
        return event.event_at
    leg = legs[event.leg_id or 0]
    about = same_goods.get(event.shipment_id or 0, event.shipment_id)
    if about != leg.shipment_id and (event.leg_id, moment, event.shipment_id) not in holders:
        return event.event_at
    return _held(leg, moment) or event.event_at


def _standing(events: list[TrackingEvent]) -> list[TrackingEvent]:
    """The events without the booking confirmations a later cancellation of that booking withdrew: a master whose
    confirmed booking was cancelled is not "Booking confirmed" on its orders' timelines (a new confirmation is).
    One query, only when there is a confirmation to look at."""
    confirmations = [e for e in events if e.milestone_id == "BOOKING_CONFIRMED" and e.shipment_id]
    if not confirmations:
        return events
    cancelled = dict(
        Booking.objects.filter(
            shipment_id__in={e.shipment_id for e in confirmations}, status=BookingStatus.CANCELLED,
            cancelled_at__isnull=False, confirmed_departure_at__isnull=False,  # cancelled once confirmed
        )
        .values("shipment_id")
        .annotate(last=Max("cancelled_at"))
        .values_list("shipment_id", "last")
    )  # fmt: skip
    withdrawn = {e.pk for e in confirmations if e.shipment_id in cancelled and e.event_at <= cancelled[e.shipment_id]}
    return [e for e in events if e.pk not in withdrawn] if withdrawn else events


def _held_back(order: Order, events: list[TrackingEvent]) -> str:
    """What the last event that could not move the order said, while the order is still behind."""
    table = mapping.table()
    path: dict[str, int] = {str(status): index for index, status in enumerate(STATUS_PATH)}
    targets = [table.order_status(e.milestone_id) for e in events if e.classifier == Classifier.ACTUAL and e.is_applied]
    implied = max((path[target] for target in targets if target), default=-1)
    if order.status in path and implied <= path[order.status]:
        return ""
    notes = [e.effect for e in events if e.classifier == Classifier.ACTUAL and order.reference in e.effect]
    moved = ("now in transit.", "now arrived.", "now delivered.")
    return notes[-1] if notes and not notes[-1].endswith(moved) else ""


def _follow_actuals(timeline: Timeline, main: Leg | None) -> None:
    """Where the actual milestones put the goods: arrived and delivered times, and the furthest status implied."""
    table = mapping.table()
    path: dict[str, int] = {str(status): index for index, status in enumerate(STATUS_PATH)}
    arrived, delivered = path[OrderStatus.ARRIVED], path[OrderStatus.DELIVERED]
    furthest = -1
    arrivals = [main.actual_arrival_at] if main is not None and main.actual_arrival_at else []
    deliveries = []
    for row in timeline.milestones:
        if row.actual_at is None or row.is_exception:
            continue
        implied = path.get(table.order_status(row.code), -1)
        furthest = max(furthest, implied)
        if implied >= arrived:
            arrivals.append(row.actual_at)
        if implied >= delivered:
            deliveries.append(row.actual_at)
    timeline.milestone_status = str(STATUS_PATH[furthest]) if furthest >= 0 else ""
    current = timeline.current
    for row in timeline.milestones:
        row.passed = bool(current and row.actual_at is None and not row.is_exception and row.rank < current.rank)
    timeline.arrived_at = min(arrivals, default=None)
    timeline.delivered_at = min(deliveries, default=None)


def _updates(events: list[TrackingEvent], *, customer_safe: bool) -> list[TrackingEvent]:
    """The events whose arrival is "the last update" of this timeline: every one for staff; for customers, partners
    and the public link only those of a milestone they are shown (walk H4: an unmapped code, or a milestone kept
    internal, moved "Last carrier update" on a page where nothing changed, and dated activity they may not see)."""
    if not customer_safe:
        return events
    shown = {code for code, info in mapping.table().milestones.items() if info.is_customer_visible}
    return [e for e in events if e.mapping_status == MappingStatus.MAPPED and e.milestone_id in shown and e.is_applied]


def order_timeline(*, order: Order, customer_safe: bool) -> Timeline:
    """Every milestone in order with planned, estimated and actual times; the legs; the ETA and how it
    slipped; and, for staff, what could not be mapped and which feeds are stale."""
    shipments = _shipments_of(order)
    ids = [s.pk for s in shipments]
    legs = list(
        Leg.objects.filter(shipment_id__in=ids)
        .select_related("carrier", "origin", "destination")
        .order_by("shipment__kind", "sequence")
    )
    events = list(
        TrackingEvent.objects.filter(Q(order=order) | Q(shipment_id__in=ids))
        .select_related("milestone")
        .defer("raw_payload")
        .order_by("event_at", "id")
    )
    estimates = list(
        EtaHistory.objects.filter(
            Q(shipment_id__in=ids) | Q(order=order), milestone_id__in=("ARRIVED", "DEPARTED")
        ).order_by("reported_at", "id")
    )
    history = [h for h in estimates if h.milestone_id == "ARRIVED"]
    eta = history[-1] if history else None
    departures = [h for h in estimates if h.milestone_id == "DEPARTED"]
    main = next((leg for leg in legs if leg.role == "main"), legs[0] if legs else None)
    timeline = Timeline(
        order=order,
        customer_safe=customer_safe,
        milestones=_milestone_rows(
            order,
            _standing([e for e in events if e.mapping_status == MappingStatus.MAPPED]),
            legs,
            eta,
            etd=departures[-1] if departures else None,
            customer_safe=customer_safe,
            same_goods=_same_goods(shipments),
        ),
        legs=[LegRow(leg) for leg in legs],
        shipments=shipments,
        eta=eta,
        eta_history=history,
        planned_arrival_at=main.planned_arrival_at if main else None,
        last_event_at=max((e.received_at for e in _updates(events, customer_safe=customer_safe)), default=None),
    )
    _follow_actuals(timeline, main)
    if not customer_safe:
        timeline.held_back = _held_back(order, events)
        timeline.unmapped = [e for e in events if e.mapping_status == MappingStatus.UNMAPPED]
        timeline.not_applied = [
            EventRow(e, _local(e.event_at, e.event_offset_minutes)) for e in events if e.contradiction
        ]
        timeline.stale = list(
            TrackingSubscription.objects.filter(shipment_id__in=ids, is_active=True, is_stale=True).select_related(
                "endpoint__carrier"
            )
        )
    return timeline


def open_alerts() -> QuerySet[MappingAlert]:
    return MappingAlert.objects.filter(resolved_at__isnull=True).select_related("partner").order_by("-last_seen_at")


def feeds() -> QuerySet[TrackingSubscription]:
    """Every active polling subscription, stale and failing first (the tracking monitor)."""
    return (
        TrackingSubscription.objects.filter(is_active=True)
        .select_related("shipment", "endpoint__carrier")
        .order_by("-is_stale", "-consecutive_failures", "next_poll_at")
    )


def events_not_applied(*, limit: int = 20) -> list[TrackingEvent]:
    """The latest actual events kept but not applied, each contradicting its leg's recorded times, with the shipment
    whose leg to correct and the orders on it (`orders_concerned`: the event's own order, its house's, or the live
    houses' of its master), for the tracking monitor. Read by the partial index `tracking_event_not_applied`; two
    queries whatever the number."""
    live_houses = Prefetch(
        "shipment__consolidated_houses",
        queryset=ConsolidatedHouse.objects.filter(removed_at__isnull=True).select_related("house__order"),
        to_attr="live_houses",
    )
    events = list(
        TrackingEvent.objects.exclude(contradiction="")
        .select_related("milestone", "order", "shipment__order")
        .prefetch_related(live_houses)
        .defer("raw_payload")
        .order_by("-received_at", "-id")[:limit]
    )
    for event in events:
        shipment = event.shipment
        if event.order is not None:
            orders = [event.order]
        elif shipment is not None and shipment.order is not None:
            orders = [shipment.order]
        else:
            houses = getattr(shipment, "live_houses", []) if shipment is not None else []
            orders = sorted({link.house.order for link in houses if link.house.order}, key=lambda o: o.reference)
        event.orders_concerned = orders  # type: ignore[attr-defined]
    return events


def recent_events(*, limit: int = 30) -> list[TrackingEvent]:
    return list(
        TrackingEvent.objects.select_related("milestone", "order", "shipment")
        .defer("raw_payload")
        .order_by("-received_at", "-id")[:limit]
    )
