"""After the rules change: re-map stored events, resolve mapping alerts, and bring orders up to date.

An admin who adds the missing rule for an alert (or changes one) runs "re-map stored events" on it: the stored
events of that scheme and code are mapped again with today's rules, each with its own sender's (the partner it
was stored with: its own rules first, then the generic ones, as at ingest), and the events that now mean a
different milestone are applied as if they had just arrived (estimates, legs, orders), with the same
no-backwards guarantees. Rules and alerts are per partner (X12 partners redefine codes), so a partner's rule or
alert concerns only the events that partner sent, a generic alert only those of senders without a partner, and
a generic rule every sender's (a partner without its own rule falls back to it).

`order_status_sync` takes one order to the furthest status its actual events imply: after a hold is released,
after it was planned, or when a workflow task stopped it before.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from orders.models import STATUS_PATH, Channel, Order, OrderStatus
from tracking.ingest import estimates, following, mapping, placing, subjects
from tracking.ingest import events as domain_events
from tracking.ingest.formats import IncomingEvent
from tracking.ingest.models import (
    Classifier,
    EtaHistory,
    LocationRole,
    MappingAlert,
    MappingStatus,
    TrackingEvent,
)
from tracking.ingest.placing import location_role
from tracking.ingest.subjects import Link, Resolution
from tracking.models import ConsolidatedHouse, Shipment

logger = logging.getLogger(__name__)
CHUNK = 1000
_PATH_INDEX: dict[str, int] = {str(status): index for index, status in enumerate(STATUS_PATH)}


def _resolution_for(events: list[TrackingEvent]) -> Resolution:
    ids = {event.shipment_id for event in events if event.shipment_id}
    status: dict[int, str] = {}
    infos, order_of_house = subjects._shipment_infos(ids, status) if ids else ({}, {})
    return Resolution(links={}, shipments=infos, order_of_house=order_of_house, iata_to_locode={}, order_status=status)


def _remap_chunk(events: list[TrackingEvent], table: mapping.MappingTable) -> list[Any]:
    """Map the events again, each with its sender's rules; an event without a place is judged, as at ingest, by
    whether the goods had left when it was made (placing.departed_when_made), not by the shipment's status now."""
    resolution = _resolution_for(events)
    incoming = [placing.incoming_of(event) for event in events]
    partner_of = {id(held): event.partner_id for held, event in zip(incoming, events, strict=True)}

    def facts_of(shipment_id: int | None, location: str, held: IncomingEvent, departed: bool | None) -> placing.Facts:
        carrier = resolution.carrying(shipment_id) if shipment_id else None
        role = location_role(location, carrier, departed=departed)
        found = table.lookup(scheme=held.scheme, code=held.raw_code, partner_id=partner_of[id(held)], role=role)
        return role, found, None, None

    located = [
        (held, Link(event.shipment_id, event.order_id), held.subject, event.location_code)
        for held, event in zip(incoming, events, strict=True)
    ]
    departures = placing._departures(located, resolution, facts_of)
    changed, applied, withdrawn = [], [], []
    for event, (held, link, _subject, location) in zip(events, located, strict=True):
        carrier = resolution.carrying(event.shipment_id) if event.shipment_id else None
        departed = placing.departed_when_made(location, carrier, event.reported_at, departures)
        role, found, _leg, _refused = facts_of(event.shipment_id, location, held, departed)
        classifier = found.classifier or event.sent_classifier
        if (found.status, found.milestone, classifier) == (event.mapping_status, event.milestone_id, event.classifier):
            continue
        if _was_an_estimate(event):
            withdrawn.append(event.pk)
        event.mapping_status, event.milestone_id, event.classifier = found.status, found.milestone, classifier
        event.location_role = role
        changed.append(event)
        if found.milestone:
            applied.append(
                following.StoredEvent(
                    event.pk,
                    found.milestone,
                    classifier,
                    event.event_at,
                    event.reported_at,
                    link,
                    event.leg_id,
                    event.source,
                    role=role if event.location_code else LocationRole.ANY,
                )
            )
    TrackingEvent.objects.bulk_update(changed, ["mapping_status", "milestone", "classifier", "location_role"])
    _withdraw_estimates(withdrawn, resolution)
    if applied:
        actor = following.Actor(channel=Channel.ADMIN, source="re-mapping")
        following.follow(applied, resolution, table, actor)
    return changed


def _was_an_estimate(event: TrackingEvent) -> bool:
    """Whether the event, as mapped until now, may have written ETD/ETA history."""
    return event.classifier != Classifier.ACTUAL and event.milestone_id in estimates.ESTIMATED_MILESTONES


def _withdraw_estimates(event_ids: list[int], resolution: Resolution) -> None:
    """The ETD/ETA history written by events that a corrected rule maps differently goes (a vessel's ETA at the
    port of loading taken for the shipment's ETA): the estimate before it is the current one again, and the orders
    hear of it (estimate_changed), as the ETA history's readers follow the current estimate. An event that is
    still an estimate under the new rule writes its history again when it is applied."""
    if not event_ids:
        return
    rows = EtaHistory.objects.filter(event_id__in=event_ids)
    gone = list(rows.values_list("shipment_id", "order_id", "milestone_id", "estimated_at"))
    if not gone:
        return
    rows.delete()
    keys: set[estimates.EstimateKey] = {
        (shipment_id, None if shipment_id else order_id, milestone) for shipment_id, order_id, milestone, _ in gone
    }
    current = estimates.current_estimates(keys)
    changes: list[domain_events.EstimateChanged] = []
    for shipment_id, order_id, milestone, was in gone:
        now = current.get((shipment_id, None if shipment_id else order_id, milestone))
        if now is None:
            continue  # no estimate left: the timeline shows the plan; there is no time to announce
        changes.extend(
            domain_events.EstimateChanged(concerned, milestone, now.estimated_at, was)
            for concerned in resolution.orders_of(Link(shipment_id, order_id))
        )
    if changes:
        domain_events.note_estimates(sender=TrackingEvent, changes=changes)


def events_of_rule(*, scheme: str, code: str, partner_id: int | None = None) -> QuerySet[TrackingEvent]:
    """The stored events a rule of (scheme, code) may map: a partner's rule, the events that partner sent; a
    generic rule (`partner_id` None), every sender's."""
    events = TrackingEvent.objects.filter(scheme=scheme, raw_code=code.upper())
    return events if partner_id is None else events.filter(partner_id=partner_id)


def _alert_events(alert: MappingAlert) -> QuerySet[TrackingEvent]:
    """The events an alert is about: its partner's; for a generic alert, those of senders without a partner."""
    return TrackingEvent.objects.filter(scheme=alert.scheme, raw_code=alert.code.upper(), partner_id=alert.partner_id)


def events_remap(*, scheme: str, code: str, partner_id: int | None = None) -> int:
    """Map the stored events of a rule of (scheme, code) (`events_of_rule`) again with the current rules, each with
    its own sender's; apply those that changed. Returns how many changed."""
    return _remap(events_of_rule(scheme=scheme, code=code, partner_id=partner_id))


def _remap(events: QuerySet[TrackingEvent]) -> int:
    """Re-map these events in primary-key order, one transaction per thousand, so a long re-map keeps its
    progress."""
    mapping.invalidate()
    table = mapping.table()
    total, last_id = 0, 0
    while True:
        with transaction.atomic():
            chunk = list(events.filter(pk__gt=last_id).order_by("pk")[:CHUNK])
            if not chunk:
                return total
            total += len(_remap_chunk(chunk, table))
            last_id = chunk[-1].pk


@transaction.atomic
def alert_resolve(*, alert: MappingAlert, by: Any) -> tuple[int, bool]:
    """Re-map the alert's events (its sender's only: `_alert_events`); the alert closes when none of them is
    unmapped any more. Returns (events changed, whether it is resolved)."""
    events = _alert_events(alert)
    changed = _remap(events)
    still = events.filter(mapping_status=MappingStatus.UNMAPPED).exists()
    if not still:
        MappingAlert.objects.filter(pk=alert.pk).update(resolved_at=timezone.now(), resolved_by=by)
    return changed, not still


def _order_shipments(order: Order) -> list[int]:
    houses = list(Shipment.objects.filter(order=order).values_list("pk", flat=True))
    masters = ConsolidatedHouse.objects.filter(house_id__in=houses, removed_at__isnull=True).values_list(
        "master_id", flat=True
    )
    return [*houses, *masters]


def order_status_sync(*, order_id: int) -> str:
    """Take the order to the furthest status its actual events imply, if the lifecycle lets it now.
    Returns what happened (empty when nothing was to do)."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.status not in _PATH_INDEX:
        return ""
    table = mapping.table()
    actuals = TrackingEvent.objects.filter(
        Q(order=order) | Q(shipment_id__in=_order_shipments(order)),
        classifier=Classifier.ACTUAL,
        mapping_status=MappingStatus.MAPPED,
        contradiction="",  # not applied: it contradicts its leg, and moves no order (following.py)
    ).values_list("milestone_id", "pk", "source")
    best: tuple[int, str, int, str] | None = None
    for milestone, pk, source in actuals:
        target = table.order_status(milestone)
        if target and (best is None or _PATH_INDEX[target] > best[0]):
            best = (_PATH_INDEX[target], milestone, pk, source)
    if best is None or best[0] <= _PATH_INDEX[order.status]:
        return ""
    _, milestone, pk, source = best
    actor = following.Actor(channel=Channel.SYSTEM, source=source)
    with transaction.atomic():
        note = following.advance_order(
            order,
            target=STATUS_PATH[best[0]],
            actor=actor,
            reason=f"{table.milestones[milestone].name} reported by {source} (caught up)",
            payload={"tracking_event_id": pk, "milestone": milestone},
        )
    logger.info("tracking: sync %s: %s", order.reference, note)
    return note


LAGGING_STATUSES = (OrderStatus.PLANNED, OrderStatus.IN_TRANSIT, OrderStatus.ARRIVED, OrderStatus.ON_HOLD)


def orders_catch_up(*, limit: int = 500, chunk: int = 10_000) -> int:
    """Every open order whose actual milestones are ahead of its status gets `order_status_sync` (a workflow
    task finished, a hold released, an order planned after its goods moved); returns how many moved. The beat
    runs it every few minutes: nothing stays behind for long.

    The houses of lagging orders are walked in primary-key order, `chunk` at a time (three queries a chunk), until
    all were looked at or `limit` orders moved: a first cut of an unordered `[:10000]` looked at the same ten
    thousand houses on every run, and an order beyond them was never caught up."""
    moved, after = 0, 0
    while moved < limit:
        houses = dict(
            Shipment.objects.filter(order__status__in=LAGGING_STATUSES, pk__gt=after)
            .order_by("pk")
            .values_list("pk", "order_id")[:chunk]
        )
        if not houses:
            break
        after = max(houses)
        moved += _catch_up_houses(houses, limit=limit - moved)
        if len(houses) < chunk:
            break
    return moved


def _catch_up_houses(houses: dict[int, int], *, limit: int) -> int:
    """Sync the orders of these houses (house id → order id) whose milestones are ahead of their status."""
    carriers = dict(
        ConsolidatedHouse.objects.filter(house_id__in=houses, removed_at__isnull=True).values_list(
            "master_id", "house_id"
        )
    )
    table = mapping.table()
    moving = [code for code, info in table.milestones.items() if info.order_status]
    reported = (
        TrackingEvent.objects.filter(Q(shipment_id__in=[*houses, *carriers]) | Q(order_id__in=set(houses.values())),
                                     classifier=Classifier.ACTUAL, milestone_id__in=moving, contradiction="")
        .values_list("shipment_id", "order_id", "milestone_id").distinct()
    )  # fmt: skip
    best: dict[int, int] = {}
    for shipment_id, order_id, milestone in reported:
        owner = order_id or houses.get(shipment_id) or houses.get(carriers.get(shipment_id, 0))
        if owner:
            best[owner] = max(best.get(owner, -1), _PATH_INDEX[table.order_status(milestone)])
    status = dict(Order.objects.filter(pk__in=best).values_list("pk", "status"))
    behind = [pk for pk, index in best.items() if _PATH_INDEX.get(status.get(pk, ""), len(_PATH_INDEX)) < index]
    moved = 0
    for order_id in sorted(behind)[:limit]:
        moved += "is now" in order_status_sync(order_id=order_id)
    return moved
