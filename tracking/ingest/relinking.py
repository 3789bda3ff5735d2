"""Events held for a reference not known yet: attached once it is recorded.

A carrier often reports a box before operations type its number on the master (the gate-in of the empty it
released), or a B/L before it is issued to us. Ingest stores such an event unlinked (the monitor lists it as
unmatched). When the reference is recorded (a container number on a master, a carrier booking confirmed, a bill
number), `events_relink` finds the unlinked events stored under it (one query on the partial index
`tracking_event_unlinked`), links them with the rules of ingest (subjects.py; a partner's events reach only what
it carries, and on the legs it carries), maps them again for their place on the shipment, and follows them as
new events (following.follow: ETA history, legs, deliveries, order status forward only, domain events).

Once: only events with neither shipment nor order are candidates, taken with `FOR UPDATE SKIP LOCKED`, so two
relinks of the same reference never follow an event twice. The setters queue `relink_events` on the `tracking`
queue after their commit (`events_relink_on_commit`); the work goes in chunks, one transaction each.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from django.db import transaction
from django.db.models import Q
from kombu.exceptions import KombuError

from partners.models import Organisation, User
from partners.scoping import scope_for_user
from tracking.ingest import following, mapping, placing, subjects
from tracking.ingest import services as ingest
from tracking.ingest.formats import FormatError, IncomingEvent, clean_subject
from tracking.ingest.models import LocationRole, SourceKind, SubjectType, TrackingEvent, WebhookSource
from tracking.ingest.webhooks import source_for

logger = logging.getLogger(__name__)
CHUNK = 500
Reference = tuple[str, str]  # (SubjectType, value)
# A bill number is what a B/L, an air waybill or a parcel's tracking number is stored as on a shipment.
BILL_KINDS = (SubjectType.BILL, SubjectType.AWB, SubjectType.PARCEL)


def bill_references(number: str) -> list[Reference]:
    """The references a shipment's bill number answers to, as events store them (an AWB as its 11 digits)."""
    return [reference for kind in BILL_KINDS if (reference := _cleaned(kind, number))]


def _cleaned(kind: str, value: str) -> Reference | None:
    try:
        return clean_subject(kind, value)
    except FormatError:
        return None  # empty, or not a reference events could name: nothing is held for it


def events_relink_on_commit(*, references: Iterable[Reference]) -> None:
    """After the commit of the change that recorded these references, queue the relink of the events held for
    them (`tasks.relink_events`, tracking queue). A broker that cannot take it does the work in this process."""
    wanted = sorted({cleaned for kind, value in references if value and (cleaned := _cleaned(kind, value))})
    if wanted:
        transaction.on_commit(lambda: _queue(wanted))


def _queue(references: list[Reference]) -> None:
    from tracking.ingest import tasks

    try:
        tasks.relink_events.apply_async(args=[[list(reference) for reference in references]], queue=tasks.QUEUE)
    except KombuError:
        logger.warning("Could not queue the relink of %s; relinking here", references, exc_info=True)
        events_relink(references=references)


def events_relink(*, references: Iterable[Reference]) -> int:
    """Attach the stored unlinked events that name these references to the shipment (and order) they now
    resolve to, and follow them as new events. Returns how many were attached. A chunk per transaction."""
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in references:
        by_kind[kind].add(value)
    if not by_kind:
        return 0
    named = Q()
    for kind, values in by_kind.items():
        named |= Q(subject_type=kind, subject_value__in=sorted(values))
    table = mapping.table()
    attached, last_id = 0, 0
    while True:
        with transaction.atomic():
            chunk = list(
                TrackingEvent.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(named, shipment__isnull=True, order__isnull=True, pk__gt=last_id)
                .order_by("pk")[:CHUNK]
            )
            if not chunk:
                return attached
            last_id = chunk[-1].pk
            by_sender: dict[tuple[str, int | None], list[TrackingEvent]] = defaultdict(list)
            for event in chunk:
                by_sender[event.source, event.partner_id].append(event)
            for (key, partner_id), events in by_sender.items():
                attached += _relink(events, _source_of(key, partner_id, events), table)


def _source_of(key: str, partner_id: int | None, events: list[TrackingEvent]) -> ingest.Source:
    """The sender of stored events as ingest had it. Whose mapping rules apply is the partner the events stored
    (`TrackingEvent.partner`, which re-mapping and the mapping alerts read too: decision 0006), whatever the console
    says of the sender today; empty, the generic rules (a feed of no carrier, files, screens), except for a poll's
    events stored before the partner was and not filled (migration tracking/0018 found no organisation with the
    poll's code), which are given the carrier named in their source as before. What the sender may reach is what
    ingest let it: a carrier's feed the carrier's shipments (webhooks.source_for), a feed of no carrier what the
    console lets it reach today, a file its uploader's partner organisations, a poll everything. A sender that is gone,
    or a kind not known here, reaches nothing: an event is never attached beyond what its sender could reach."""
    kind, _, name = key.partition(":")
    nothing = ingest.Source(kind=kind, name=name, partner_id=partner_id, carrier_ids=frozenset())
    if kind == SourceKind.WEBHOOK:
        webhook = WebhookSource.objects.filter(name=name).first()
        if webhook is None:
            return nothing
        today = source_for(webhook)
        reach = frozenset({partner_id}) if partner_id is not None else today.carrier_ids
        return replace(today, partner_id=partner_id, carrier_ids=reach)
    if kind == SourceKind.FILE:
        if name == "ops":
            return ingest.Source(kind=kind, name=name, partner_id=partner_id)
        uploaders = User.objects.filter(pk__in={e.recorded_by_id for e in events if e.recorded_by_id})
        scopes = [scope_for_user(uploader) for uploader in uploaders]
        carrier_ids = frozenset().union(*(scope.organisation_ids for scope in scopes if scope.is_partner))
        if not carrier_ids:  # the uploader is gone or no longer a partner: the organisation named in the source
            carrier_ids = frozenset(Organisation.objects.filter(code=name).values_list("pk", flat=True))
        return ingest.Source(kind=kind, name=name, partner_id=partner_id, carrier_ids=carrier_ids)
    if kind in (SourceKind.DCSA, SourceKind.KARRIO, SourceKind.SIMULATED):
        if partner_id is None:
            partner_id = Organisation.objects.filter(code=name).values_list("pk", flat=True).first()
        return ingest.Source(kind=kind, name=name, partner_id=partner_id)
    if kind in (SourceKind.MANUAL, SourceKind.PLANNING):
        return ingest.Source(kind=kind, name=name, partner_id=partner_id)
    return nothing


def _attached_note(event: TrackingEvent, reference: str) -> str:
    what = f"{event.get_subject_type_display().lower()} {event.subject_value}"
    return f"Held until {what} was recorded, then attached to {reference or 'its order'}."


def _relink(events: list[TrackingEvent], source: ingest.Source, table: mapping.MappingTable) -> int:
    """Link one sender's held events as ingest would now (subjects.resolve with its reach), map them for their
    place on the shipment, store the links and follow them. An event without a place is judged, as at ingest, by
    whether the goods had left when it was made, counting a departure attached with it (placing.departed_when_made)."""
    incoming = [placing.incoming_of(event) for event in events]
    resolution = subjects.resolve(incoming, carrier_ids=source.carrier_ids)

    def facts_of(shipment_id: int | None, location: str, held: IncomingEvent, departed: bool | None) -> placing.Facts:
        carrier = resolution.carrying(shipment_id) if shipment_id else None
        role = placing.location_role(location, carrier, departed=departed)
        found = table.lookup(scheme=held.scheme, code=held.raw_code, partner_id=source.partner_id, role=role)
        leg_id = placing._leg_for(found.milestone, location, carrier)
        problem = placing._not_carried(found.milestone, leg_id, carrier, source.carrier_ids)
        return role, placing._on_its_leg(found, leg_id, carrier, table), leg_id, problem

    located = [(held, *resolution.link_for(held), held.location_code) for held in incoming]
    departures = placing._departures(located, resolution, facts_of)
    attached: list[TrackingEvent] = []
    refused: list[TrackingEvent] = []
    stored: list[following.StoredEvent] = []
    for event, (held, link, _subject, location) in zip(events, located, strict=True):
        if link == subjects.NO_LINK:
            continue
        carrier = resolution.carrying(link.shipment_id) if link.shipment_id else None
        departed = placing.departed_when_made(location, carrier, held.reported_at, departures)
        role, found, leg_id, problem = facts_of(link.shipment_id, location, held, departed)
        if problem:  # ingest would have refused it: it stays unmatched, with why
            event.effect = f"Not attached: {problem}"[:300]
            refused.append(event)
            continue
        event.shipment_id, event.order_id, event.leg_id = link.shipment_id, link.order_id, leg_id
        event.mapping_status, event.milestone_id = found.status, found.milestone
        event.classifier = found.classifier or event.sent_classifier
        event.location_role = role
        event.effect = ""
        attached.append(event)
        reference = resolution.shipments[link.shipment_id].reference if link.shipment_id else ""
        stored.append(
            following.StoredEvent(
                event.pk,
                found.milestone,
                event.classifier,
                event.event_at,
                event.reported_at,
                link,
                leg_id,
                source.key,
                notes=[_attached_note(event, reference)],
                role=role if event.location_code else LocationRole.ANY,
            )
        )
    TrackingEvent.objects.bulk_update(refused, ["effect"])
    TrackingEvent.objects.bulk_update(
        attached,
        ["shipment", "order", "leg", "mapping_status", "milestone", "classifier", "location_role", "effect"],
    )
    if stored:
        following.follow(stored, resolution, table, following.Actor(channel=source.channel, source=source.key))
        logger.info("tracking: %d held events of %s attached", len(stored), source.key)
    return len(stored)


# The sweep (events_relink_held): how many held references one run looks at, and where it stopped (the cache).
SWEEP_REFERENCES = 500
_SWEEP_CURSOR = "tracking:relink-sweep-cursor"


def events_relink_held(*, limit: int = SWEEP_REFERENCES) -> int:
    """Relink the next `limit` references that held events name (in the order of the partial index
    `tracking_event_unlinked`, after where the last run stopped, starting over at the end): a relink_events that
    was lost with the broker, or whose retries ran out while the database failed over, is made good here. Those
    still unknown stay held, at the cost of reading them once per round. Returns how many events were attached."""
    from django.core.cache import cache

    after = cache.get(_SWEEP_CURSOR, "")
    held = TrackingEvent.objects.filter(shipment__isnull=True, order__isnull=True)
    values = list(
        held.filter(subject_value__gt=after)
        .order_by("subject_value")
        .values_list("subject_value", flat=True)
        .distinct()[:limit]
    )
    cache.set(_SWEEP_CURSOR, values[-1] if len(values) == limit else "", timeout=None)
    if not values:
        return 0
    references = set(held.filter(subject_value__in=values).values_list("subject_type", "subject_value").distinct())
    return events_relink(references=sorted(references))
