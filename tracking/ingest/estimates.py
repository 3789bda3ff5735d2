"""Estimates: planned and estimated times of departures and arrivals become ETA/ETD history (tracking_etahistory)
when they change; older news never wins. Part of what newly stored events change (following.follow). A roll
replaces the sailing the estimates were about (estimates_supersede, called by tracking.services.booking)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from tracking.ingest import events as domain_events
from tracking.ingest import storage
from tracking.ingest.models import Classifier, EtaHistory, LocationRole, TrackingEvent

if TYPE_CHECKING:
    from tracking.ingest.following import StoredEvent
    from tracking.ingest.subjects import Resolution

ESTIMATED_MILESTONES = frozenset({"DEPARTED", "ARRIVED", "DELIVERED"})
# A shipment's ETD is its departure from its origin, its ETA its arrival at its destination. An estimate of the
# milestone placed at the other end (a vessel's next call at the port of loading, its departure from the port of
# discharge, mapped so by a partner's rule for anywhere) is kept on the timeline and never becomes the ETD/ETA.
# Only a named place counts (StoredEvent.role): without one, the role is a guess from the shipment's progress. An
# unknown port (intermediate) is left to the mapping: a diverted vessel's ETA at its new port is still the ETA.
ESTIMATE_NOT_AT = {"DEPARTED": LocationRole.DESTINATION, "ARRIVED": LocationRole.ORIGIN}

# The latest estimate per (shipment or order, milestone): one probe of the (target, milestone, reported_at)
# index each, however long the history has grown.
_LATEST = """
    SELECT k.target, k.milestone_id, e.estimated_at, e.reported_at, e.classifier
    FROM unnest(%s::bigint[], %s::text[]) AS k(target, milestone_id)
    CROSS JOIN LATERAL (
        SELECT h.estimated_at, h.reported_at, h.classifier FROM tracking_etahistory h
        WHERE h.{column} = k.target AND h.milestone_id = k.milestone_id {extra}
        ORDER BY h.reported_at DESC, h.id DESC LIMIT 1
    ) AS e
"""
_LATEST_FOR_SHIPMENTS = _LATEST.format(column="shipment_id", extra="")
_LATEST_FOR_ORDERS = _LATEST.format(column="order_id", extra="AND h.shipment_id IS NULL")
# New history rows go in with one binary COPY (storage.copy_rows), as the events do: no ids are needed back.
_ETA_COLUMNS = (
    ("shipment_id", "int8"),
    ("order_id", "int8"),
    ("milestone_id", "text"),
    ("classifier", "text"),
    ("estimated_at", "timestamptz"),
    ("previous_at", "timestamptz"),
    ("reported_at", "timestamptz"),
    ("event_id", "int8"),
    ("source", "text"),
    ("recorded_at", "timestamptz"),
)
_COPY_ETA = f"COPY tracking_etahistory ({', '.join(name for name, _ in _ETA_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
EstimateKey = tuple[int | None, int | None, str]  # (shipment, order when no shipment, milestone)


@dataclass(frozen=True)
class Estimate:
    estimated_at: datetime.datetime
    reported_at: datetime.datetime
    classifier: str  # EST: the carrier's estimate; PLN: a plan (a PLN event, a roll's new sailing)


def current_estimates(keys: set[EstimateKey]) -> dict[EstimateKey, Estimate]:
    current: dict[EstimateKey, Estimate] = {}
    with connection.cursor() as cursor:
        for sql, position in ((_LATEST_FOR_SHIPMENTS, 0), (_LATEST_FOR_ORDERS, 1)):
            wanted = sorted((key[position], key[2]) for key in keys if key[position] is not None)
            if not wanted:
                continue
            cursor.execute(sql, [[w[0] for w in wanted], [w[1] for w in wanted]])
            for target, milestone, estimated_at, reported_at, classifier in cursor.fetchall():
                key = (target, None, milestone) if position == 0 else (None, target, milestone)
                current[key] = Estimate(estimated_at, reported_at, classifier)
    return current


def _at_its_place(event: StoredEvent) -> bool:
    return event.role == LocationRole.ANY or ESTIMATE_NOT_AT.get(str(event.milestone)) != event.role


def _replaces(event: StoredEvent, known: Estimate | None) -> bool:
    """Whether the event becomes the current estimate. Older news never does. A plan (PLN) only stands in while
    there is no estimate (DCSA: PLN is the schedule, EST the carrier's current estimate): once the carrier has
    estimated the time, a plan published after it (a schedule re-sent) says nothing about when the goods are now
    expected, and only a newer estimate of another time replaces it. Over a plan (a PLN event's, a roll's new
    sailing), another time does, and so does the carrier's first estimate even of the same time: plans no longer
    replace it from then on."""
    if known is None:
        return True
    if event.reported_at < known.reported_at:
        return False
    if known.classifier == Classifier.ESTIMATED:
        return event.classifier == Classifier.ESTIMATED and event.event_at != known.estimated_at
    return event.classifier == Classifier.ESTIMATED or event.event_at != known.estimated_at


def follow_estimates(stored: list[StoredEvent], resolution: Resolution) -> None:
    """Planned and estimated times become ETA/ETD history when they change; older news never wins, nor a plan over
    the carrier's estimate (`_replaces`), nor an estimate placed at the shipment's other end (ESTIMATE_NOT_AT).
    Before commit estimates_changing, after it estimate_changed per order (events.note_estimates: one call for the
    batch)."""
    estimates = [e for e in stored if e.classifier != Classifier.ACTUAL and e.milestone in ESTIMATED_MILESTONES]
    estimates = [e for e in estimates if (e.link.shipment_id or e.link.order_id) and _at_its_place(e)]
    if not estimates:
        return

    def key(event: StoredEvent) -> EstimateKey:
        shipment = event.link.shipment_id
        return shipment, None if shipment else event.link.order_id, str(event.milestone)

    current = current_estimates({key(e) for e in estimates})
    now = timezone.now()
    added: list[tuple[Any, ...]] = []
    changes: list[domain_events.EstimateChanged] = []
    for event in sorted(estimates, key=lambda e: (e.reported_at, e.id)):
        known = current.get(key(event))
        if not _replaces(event, known):
            continue
        shipment_id, order_id, milestone = key(event)
        previous_at = known.estimated_at if known else None
        current[key(event)] = Estimate(event.event_at, event.reported_at, event.classifier)
        added.append((shipment_id, order_id, milestone, event.classifier, event.event_at, previous_at,
                      event.reported_at, event.id, event.source, now))  # fmt: skip
        if event.event_at == previous_at:
            continue  # the carrier now estimates the time the plan gave: the row, but no change to announce
        changes.extend(
            domain_events.EstimateChanged(concerned, milestone, event.event_at, previous_at)
            for concerned in resolution.orders_of(event.link)
        )
    if added:
        storage.copy_rows(_COPY_ETA, [kind for _, kind in _ETA_COLUMNS], added)
    if changes:
        domain_events.note_estimates(sender=TrackingEvent, changes=changes)


def estimates_supersede(
    *,
    shipment_id: int,
    house_ids: Iterable[int],
    order_ids: Iterable[int],
    times: Mapping[str, datetime.datetime],
    source: str,
) -> None:
    """A booking rolled to a later sailing: the estimates reported until now were about the sailing the goods
    missed, so the new sailing's confirmed times (`times`: DEPARTED → ETD, ARRIVED → ETA) become the current ones.
    For each milestone with a current estimate (over the master, its houses and their orders, as the timeline picks
    its ETA) that differs, one history row on the master, reported now: the newest, so the older estimates no
    longer win, while a carrier's later estimate does; the history shows the move. Without an estimate there is
    nothing to replace (the plan, which the roll moved, is what the screens show). Before commit estimates_changing,
    after it estimate_changed per order, as for an estimate from a feed (the workflow's ETD/ETA key dates)."""
    order_ids = sorted(set(order_ids))
    rows = (
        EtaHistory.objects.filter(
            Q(shipment_id__in=[shipment_id, *house_ids]) | Q(order_id__in=order_ids, shipment__isnull=True),
            milestone_id__in=list(times),
        )
        .order_by("milestone_id", "-reported_at", "-id")
        .distinct("milestone_id")
        .values_list("milestone_id", "estimated_at", "reported_at")
    )
    now = timezone.now()
    added: list[EtaHistory] = []
    changes: list[domain_events.EstimateChanged] = []
    for milestone, estimated_at, reported_at in rows:
        at = times[milestone]
        if estimated_at == at:
            continue
        added.append(
            EtaHistory(
                shipment_id=shipment_id,
                milestone_id=milestone,
                classifier=Classifier.PLANNED,
                estimated_at=at,
                previous_at=estimated_at,
                reported_at=max(now, reported_at),  # an estimate reported a moment ahead (tolerated) does not win
                source=source[:60],
                recorded_at=now,
            )
        )
        changes.extend(domain_events.EstimateChanged(order_id, milestone, at, estimated_at) for order_id in order_ids)
    if added:
        EtaHistory.objects.bulk_create(added)
    if changes:
        domain_events.note_estimates(sender=EtaHistory, changes=changes)
