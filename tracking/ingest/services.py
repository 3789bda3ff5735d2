"""The one write path for tracking events: every source (webhook, poll, file, screen, demo) ends here.

`events_ingest` takes a batch of IncomingEvents and, in one transaction and a constant number of statements
(a dozen for a webhook delivery, whatever its size): checks them (checks.py), links their references (subjects.py),
maps their codes (mapping.py), places them on their legs (placing.py), stores them with a binary COPY into a
staging table and one INSERT … ON CONFLICT DO NOTHING (storage.py; the two unique keys are the dedupe: the sender's
event id + time, and subject + code + classifier + time + place, and for an estimate when it was made: identity.py),
raises mapping alerts for unknown codes, and lets the newly stored ones change estimates, legs, shipments and orders
(following.py). A duplicate is counted, never stored twice and never applied twice. One event entered by hand comes
here too (recording.py).

Per event the work is Python only, and kept small: what depends on (shipment, place, scheme, code) — location
role, mapping rule, leg — is worked out once per batch; a row is one tuple handed to COPY; the raw payload is
the sender's own JSON text when the source has it (webhook). The statements that grow with what happens, not
with the batch: a leg's first actual times, a delivered shipment, and each order that moves (through the
lifecycle, one step and one order at a time, as the lifecycle wants).

After commit: `milestone_recorded` and `estimate_changed` (tracking/ingest/events.py: one callback per batch,
with batch signals beside the per-order ones) and the lifecycle's own `order_status_changed`.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from orders.models import Channel
from tracking.ingest import following, mapping, storage, subjects
from tracking.ingest.checks import FUTURE_TOLERANCE, _payload_problem, _reported_at, event_problem
from tracking.ingest.formats import IncomingEvent
from tracking.ingest.identity import content_key, event_id_key, stored_event_id
from tracking.ingest.models import Classifier, LocationRole, MappingStatus
from tracking.ingest.placing import (
    Facts,
    _departures,
    _leg_for,
    _not_carried,
    _on_its_leg,
    departed_when_made,
    location_role,
)
from tracking.ingest.subjects import Link, Resolution

logger = logging.getLogger(__name__)

MAX_BATCH = 1000


class TrackingError(Exception):
    """Something asked of tracking cannot be done; the message says why."""


@dataclass(frozen=True)
class Source:
    """Who sent a batch: kind and name (the dedupe namespace of event ids), whose rules and shipments apply,
    and how order transitions it causes are recorded."""

    kind: str
    name: str = ""
    partner_id: int | None = None  # the sender's own mapping rules (X12 partners redefine codes)
    carrier_ids: frozenset[int] | None = None  # reach only shipments these organisations carry; None: all
    channel: str = Channel.SYSTEM
    by: Any = None
    # A person typing the time on a screen: an actual time its leg's recorded times rule out is refused
    # (contradictions.ContradictionRefused, nothing stored) instead of kept and not applied.
    refuse_contradictions: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"[:60] if self.name else self.kind


@dataclass
class IngestResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unmapped: int = 0
    unlinked: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in the batch, why)
    stored_ids: list[int] = field(default_factory=list)
    newest_reported_at: datetime.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "unmapped": self.unmapped,
            "unlinked": self.unlinked,
            "rejected": [{"index": index, "message": message} for index, message in self.rejected],
        }


@dataclass
class Row:
    event: IncomingEvent
    link: Link
    subject: tuple[str, str]
    location_code: str
    role: str
    mapping_status: str
    milestone: str | None
    classifier: str
    leg_id: int | None
    content_key: str  # the UUID's canonical text, as PostgreSQL prints it


def _checked(events: Sequence[IncomingEvent], result: IngestResult, now: datetime.datetime) -> list[IncomingEvent]:
    """The events that can be stored; the others go to `result.rejected` with why. Before the references are
    looked up: a NUL or a lone surrogate in a reference fails even a query parameter.

    No event is reported later than we receive it (`now`, see `_reported_at`): reported_at orders estimates (a
    newer one replaces the ETA) and moves a poll's cursor, so a report time in the future would freeze the ETA and
    hide the carrier's next events from the poll. An actual event is a fact whatever its report time: kept,
    reported `now`. An estimate or plan is only as good as when it was made: reported beyond FUTURE_TOLERANCE (a
    clock that far ahead is a wrong time, not skew), it is rejected; within it, kept and reported `now`. The event
    keeps the time the sender gave, which is part of an estimate's identity (`content_key`): our receipt time
    would make each redelivery of it new. The raw payload keeps what the sender wrote."""
    kept: list[IncomingEvent] = []
    for index, event in enumerate(events):
        problem = event_problem(event, now)
        reported_at = event.reported_at
        ahead = reported_at is not None and reported_at > now + FUTURE_TOLERANCE
        if ahead and not problem and event.classifier != Classifier.ACTUAL:
            problem = (
                f"The estimate says it was made on {reported_at:%Y-%m-%d %H:%M} UTC, in the future; send the time "
                "it was made (reported_at, or eventCreatedDateTime)."
            )
        if problem:
            result.rejected.append((index if event.position is None else event.position, problem))
            continue
        kept.append(event)
    return kept


def _build_rows(
    events: Sequence[IncomingEvent],
    source: Source,
    resolution: Resolution,
    table: mapping.MappingTable,
    result: IngestResult,
) -> list[Row]:
    """Each event (checked by `_checked`) with its link, place, mapping, leg and content key; duplicates within
    the batch counted and dropped. A duplicate here is what the database's unique keys would refuse, (event id,
    time) or (content, time), so one delivery stores what the same events in two deliveries would: an id re-sent
    with a corrected time is a new row either way. What depends only on (shipment, place, scheme, code), its
    location role, mapping and leg, is worked out once per batch: a batch is mostly the same few shipments
    reporting the same few codes; an event without a place also on whether the goods had left when it was made."""
    rows: list[Row] = []
    seen: set[Any] = set()
    known: dict[tuple[int | None, str, str, str, bool | None], Facts] = {}

    def facts_of(shipment_id: int | None, location: str, event: IncomingEvent, departed: bool | None) -> Facts:
        facts = known.get((shipment_id, location, event.scheme, event.raw_code, departed))
        if facts is None:
            carrier = resolution.carrying(shipment_id) if shipment_id else None
            role = location_role(location, carrier, departed=departed)
            found = table.lookup(scheme=event.scheme, code=event.raw_code, partner_id=source.partner_id, role=role)
            leg_id = _leg_for(found.milestone, location, carrier)
            refused = _not_carried(found.milestone, leg_id, carrier, source.carrier_ids)
            facts = (role, _on_its_leg(found, leg_id, carrier, table), leg_id, refused)
            known[(shipment_id, location, event.scheme, event.raw_code, departed)] = facts
        return facts

    located = []
    for event in events:
        location = resolution.iata_to_locode.get(event.location_code, event.location_code)
        located.append((event, *resolution.link_for(event), location if len(location) == 5 else ""))
    departures = _departures(located, resolution, facts_of)
    for index, (event, link, subject, location) in enumerate(located):
        carrying = resolution.carrying(link.shipment_id) if link.shipment_id and not location else None
        departed = departed_when_made(location, carrying, event.reported_at, departures) if carrying else None
        role, found, leg, refused = facts_of(link.shipment_id, location, event, departed)
        if refused:
            result.rejected.append((index if event.position is None else event.position, refused))
            continue
        classifier = found.classifier or event.classifier
        key = content_key(scheme=event.scheme, subject=subject, code=event.raw_code, classifier=classifier,
                          event_at=event.event_at, location=location or event.location_code,
                          reported_at=event.reported_at)  # fmt: skip
        identity = (event.source_event_id, event.event_at) if event.source_event_id else key
        if identity in seen or key in seen:
            result.duplicates += 1
            continue
        seen.add(identity)
        seen.add(key)
        rows.append(Row(event, link, subject, location, role, found.status, found.milestone, classifier, leg, key))
    return rows


def _values(row: Row, now: datetime.datetime, source_key: str) -> tuple[Any, ...] | str:
    """The row's values in storage.ROW_COLUMNS order; or why its raw payload cannot be stored (its other text
    was checked by `event_problem`)."""
    event = row.event
    payload = event.payload_text or storage.dumps(event.payload)
    problem = _payload_problem(payload, event.payload)
    if problem:
        return problem
    event_id = event.source_event_id
    return (
        stored_event_id(event_id),
        event.scheme,
        event.raw_code,
        payload,
        _reported_at(event, now),
        row.mapping_status,
        row.milestone,
        row.classifier,
        event.classifier,
        event.event_at,
        event.offset_minutes,
        row.location_code,
        event.location_text,
        row.role,
        row.subject[0],
        row.subject[1],
        event.reason,
        row.link.shipment_id,
        row.leg_id,
        row.link.order_id,
        row.content_key,
        event_id_key(source_key, event_id) if event_id else None,
    )


def _insert(
    rows: list[Row], source: Source, now: datetime.datetime, result: IngestResult
) -> tuple[list[Row], dict[str, int]]:
    """Store the batch (storage.py: COPY into a staging table, one INSERT … ON CONFLICT DO NOTHING); returns the
    rows sent and content key → id of the rows that were new."""
    kept: list[Row] = []
    values: list[tuple[Any, ...]] = []
    for position, row in enumerate(rows):
        row_values = _values(row, now, source.key)
        if isinstance(row_values, str):
            where = position if row.event.position is None else row.event.position
            result.rejected.append((where, row_values))
            continue
        kept.append(row)
        values.append(row_values)
    if not kept:
        return kept, {}
    by = getattr(source.by, "pk", None)
    return kept, storage.insert_batch(
        values, source=source.key, kind=source.kind, now=now, by=by, partner=source.partner_id
    )


def _raise_alerts(rows: list[Row], inserted: dict[str, int], source: Source, now: datetime.datetime) -> None:
    """One alert per unknown (scheme, code, partner), counting its events; reopened if it comes back."""
    counts: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        if row.mapping_status == MappingStatus.UNMAPPED and row.content_key in inserted:
            counts.setdefault((row.event.scheme, row.event.raw_code), []).append(inserted[row.content_key])
    if not counts:
        return
    values = [(scheme, code, source.partner_id, len(ids), ids[0]) for (scheme, code), ids in counts.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tracking_mappingalert (scheme, code, partner_id, event_count, example_event_id,
                                               first_seen_at, last_seen_at, resolved_at, resolved_by_id)
            SELECT t.scheme, t.code, t.partner_id, t.n, t.example, %(now)s, %(now)s, NULL, NULL
            FROM unnest(%(scheme)s::text[], %(code)s::text[], %(partner)s::bigint[], %(n)s::int[],
                        %(example)s::bigint[]) AS t(scheme, code, partner_id, n, example)
            ON CONFLICT (scheme, code, partner_id) DO UPDATE
               SET event_count = tracking_mappingalert.event_count + EXCLUDED.event_count,
                   last_seen_at = EXCLUDED.last_seen_at, resolved_at = NULL, resolved_by_id = NULL
            """,
            {
                "now": now,
                "scheme": [v[0] for v in values],
                "code": [v[1] for v in values],
                "partner": [v[2] for v in values],
                "n": [v[3] for v in values],
                "example": [v[4] for v in values],
            },
        )
    for (scheme, code), ids in counts.items():
        logger.warning("tracking: no mapping for %s %s (%d events, e.g. #%d)", scheme, code, len(ids), ids[0])


def events_ingest(
    *,
    events: Sequence[IncomingEvent],
    source: Source,
    shipment_hint: int | None = None,
    rejected: Sequence[tuple[int, str]] = (),
) -> IngestResult:
    """Store a batch (at most MAX_BATCH) once each and apply what the new ones change. `rejected` are events
    the caller could not even read, reported back with the rest. After commit: see the module docstring."""
    if len(events) > MAX_BATCH:
        raise TrackingError(f"A batch holds at most {MAX_BATCH:,} events; this one has {len(events):,}.")
    now = timezone.now()
    result = IngestResult(received=len(events) + len(rejected), rejected=list(rejected))
    table = mapping.table()
    with transaction.atomic():
        checked = _checked(events, result, now)
        resolution = subjects.resolve(checked, carrier_ids=source.carrier_ids, shipment_hint=shipment_hint)
        rows = _build_rows(checked, source, resolution, table, result)
        rows, inserted = _insert(rows, source, now, result)
        _raise_alerts(rows, inserted, source, now)
        stored = [
            following.StoredEvent(
                inserted[r.content_key],
                r.milestone,
                r.classifier,
                r.event.event_at,
                _reported_at(r.event, now),
                r.link,
                r.leg_id,
                source.key,
                role=r.role if r.location_code else LocationRole.ANY,
            )
            for r in rows
            if r.content_key in inserted
        ]
        actor = following.Actor(
            channel=source.channel,
            source=source.key,
            by=source.by,
            refuse_contradictions=source.refuse_contradictions,
        )
        following.follow(stored, resolution, table, actor)
    result.rejected.sort()
    result.stored = len(stored)
    result.duplicates += len(rows) - len(stored)
    result.unmapped = sum(1 for r in rows if r.content_key in inserted and r.mapping_status == MappingStatus.UNMAPPED)
    result.unlinked = sum(1 for r in rows if r.content_key in inserted and r.link == subjects.NO_LINK)
    result.stored_ids = [event.id for event in stored]
    reported = [_reported_at(r.event, now) for r in rows if r.event.reported_at]
    result.newest_reported_at = max(reported) if reported else None
    return result
