"""The one write path for tracking events: every source (webhook, poll, file, screen, demo) ends here.

`events_ingest` takes a batch of IncomingEvents and, in one transaction and a constant number of statements
(a dozen for a webhook delivery, whatever its size): checks them, links their references (subjects.py), maps
their codes (mapping.py), stores them with a binary COPY into a staging table and one INSERT … ON CONFLICT DO
NOTHING (storage.py; the two unique keys are the dedupe: the sender's event id + time, and subject + code +
classifier + time + place, and for an estimate when it was made: `content_key`), raises mapping alerts for
unknown codes, and lets the newly stored ones change estimates, legs, shipments and orders (following.py). A
duplicate is counted, never stored twice and never applied twice.

Per event the work is Python only, and kept small: what depends on (shipment, place, scheme, code) — location
role, mapping rule, leg — is worked out once per batch; a row is one tuple handed to COPY; the raw payload is
the sender's own JSON text when the source has it (webhook). The statements that grow with what happens, not
with the batch: a leg's first actual times, a delivered shipment, and each order that moves (through the
lifecycle, one step and one order at a time, as the lifecycle wants).

After commit: `milestone_recorded` and `estimate_changed` (tracking/ingest/events.py: one callback per batch,
with batch signals beside the per-order ones) and the lifecycle's own `order_status_changed`.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from orders.models import Channel, Order
from tracking.ingest import following, mapping, storage, subjects
from tracking.ingest.formats import FormatError, IncomingEvent, clean_location, clean_subject, parse_time
from tracking.ingest.models import (
    Classifier,
    LocationRole,
    MappingStatus,
    Scheme,
    SourceKind,
    SubjectType,
    TrackingEvent,
)
from tracking.ingest.subjects import Link, Resolution, ShipmentInfo, main_leg
from tracking.models import LegRole, Shipment, ShipmentKind, ShipmentStatus

logger = logging.getLogger(__name__)

# planning refuses actual times more than five minutes ahead; an ACTUAL event from the future is an error
FUTURE_TOLERANCE = datetime.timedelta(minutes=5)
OLDEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
MAX_BATCH = 1000
MAX_EVENT_ID = 100  # TrackingEvent.source_event_id


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


def content_key(
    *,
    scheme: str,
    subject: tuple[str, str],
    code: str,
    classifier: str,
    event_at: datetime.datetime,
    location: str,
    reported_at: datetime.datetime | None = None,
) -> str:
    """The identity of an event without an id: what, about what, when (UTC) and where; as a UUID in its
    canonical text form (the column is a uuid; a thousand of these are compared as strings, not objects).

    An estimate or plan is also *when it was made* (`reported_at`, as the sender gave it): an ETA that slips and
    comes back to an earlier value is a new estimate, and dropping it as a duplicate of the first would leave the
    ETA at the value the carrier withdrew. The same estimate delivered again keeps its report time (and its id),
    so it is still a duplicate. An estimate without a report time is identified by its content alone, as before:
    the time we receive it would make every redelivery new. An actual event is a fact: one, however often and
    whenever it is reported."""
    when = event_at if event_at.tzinfo is datetime.UTC else event_at.astimezone(datetime.UTC)
    text = f"{scheme}|{subject[0]}|{subject[1]}|{code}|{classifier}|{when.isoformat()}|{location}"
    if reported_at is not None and classifier != Classifier.ACTUAL:
        text += f"|{reported_at.astimezone(datetime.UTC).isoformat()}"
    return _uuid_text(text)


def _uuid_text(text: str) -> str:
    """A UUID from the first 16 bytes of the text's SHA-256, in PostgreSQL's text form."""
    h = hashlib.sha256(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def event_id_key(source_key: str, event_id: str) -> str:
    """The dedupe key of a sender's event id (with the event time, the unique key `tracking_event_source_id_once`):
    a hash of the whole id, however long, so two ids that share a beginning stay two events."""
    return _uuid_text(f"{source_key}|{event_id}")


def stored_event_id(event_id: str) -> str:
    """The sender's event id as the source_event_id column holds it (100 characters): itself when it fits, else
    "sha256:" and its SHA-256; the whole id stays in the raw payload. The column is for people (shown, searched):
    the dedupe compares `event_id_key`, a hash of the whole id. Rows stored while long ids were cut keep their
    first 100 characters, and a key of those."""
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()


def event_problem(event: IncomingEvent, now: datetime.datetime) -> str | None:
    """Why an event cannot be stored (a time out of range, an actual event in the future, text PostgreSQL
    cannot hold), or None."""
    if not OLDEST <= event.event_at <= now + FUTURE_TOLERANCE:  # else the usual case, whatever the classifier
        if event.event_at < OLDEST or event.event_at > now + datetime.timedelta(days=730):
            return f"The event time {event.event_at:%Y-%m-%d} is outside 2000 … two years ahead."
        if event.classifier == Classifier.ACTUAL:
            return (
                f"An actual event cannot lie in the future ({event.event_at:%Y-%m-%d %H:%M} UTC); "
                "send it as EST or PLN."
            )
    fields = "".join([event.source_event_id, event.raw_code, event.location_text, event.reason,
                      *(value for _, value in event.subjects)])  # fmt: skip
    return _text_problem(fields)


NUL_PROBLEM = "The event contains a NUL (\\u0000) character, which cannot be stored."
SURROGATE_PROBLEM = (
    "The event contains a lone UTF-16 surrogate (\\ud800 … \\udfff without its pair), which is not text and "
    "cannot be stored."
)
_SURROGATE = re.compile("[\ud800-\udfff]")
# The JSON escapes of a NUL or a surrogate: only then can the parsed payload hold one (a pair is one character).
_ESCAPED = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])")


def _text_problem(text: str) -> str | None:
    """PostgreSQL stores no NUL character in text or jsonb, and no lone surrogate (not UTF-8: psycopg cannot even
    send it): an event holding one is rejected, never the batch. ASCII, the usual case, is checked in C."""
    if "\x00" in text:
        return NUL_PROBLEM
    if not text.isascii() and _SURROGATE.search(text):
        return SURROGATE_PROBLEM
    return None


def _payload_problem(payload_text: str, payload: Any) -> str | None:
    """The raw payload's text (the sender's JSON, or ours) checked as `_text_problem` does, escapes included:
    `\\u0000` and a lone `\\udc00` are valid JSON that jsonb refuses. Only a text with such an escape has its
    parsed payload searched (an escaped backslash, `\\\\u0000`, is no NUL)."""
    problem = _text_problem(payload_text)
    if problem or "\\u" not in payload_text or not _ESCAPED.search(payload_text):
        return problem
    pending = [payload]
    while pending:  # iterative: however deep the sender nested its JSON
        value = pending.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                return problem
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None


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


def _reported_at(event: IncomingEvent, now: datetime.datetime) -> datetime.datetime:
    """When the event was reported, as it is stored and followed: the sender's time, never later than we receive
    it (`_checked`); `now` when the sender gave none."""
    reported_at = event.reported_at
    return now if reported_at is None or reported_at > now else reported_at


def location_role(code: str, info: ShipmentInfo | None, *, departed: bool | None = None) -> str:
    """Origin, destination or in between, relative to the shipment that carries the goods (its main leg's
    ports count as well). Without a place: origin until the shipment had departed, destination after; `departed`
    says whether it had when the event was made (ShipmentInfo.had_departed), else it is read from its status now."""
    if info is None:
        return LocationRole.ANY
    if not code:
        gone = info.has_departed if departed is None else departed
        return LocationRole.DESTINATION if gone else LocationRole.ORIGIN
    main = main_leg(info)
    if code in {info.origin_id, *([main.origin_id] if main else [])}:
        return LocationRole.ORIGIN
    if code in {info.destination_id, *([main.destination_id] if main else [])}:
        return LocationRole.DESTINATION
    return LocationRole.INTERMEDIATE


def _leg_for(milestone: str | None, code: str, info: ShipmentInfo | None) -> int | None:
    """The leg an event happened on: the one leaving (departures) or reaching (arrivals) its place, else the
    main leg for departures and arrivals; other milestones only when the place names one leg."""
    if info is None or not info.legs:
        return None
    leaving = [leg for leg in info.legs if leg.origin_id == code]
    reaching = [leg for leg in info.legs if leg.destination_id == code]
    main = main_leg(info)
    if milestone == "PICKED_UP":  # collected at the shipper: the first leg (by truck, it is its departure)
        return (leaving[0] if leaving else info.legs[0]).id
    if milestone == "DELIVERED":  # handed to the consignee: the last leg (by truck, it is its arrival)
        return (reaching[-1] if reaching else info.legs[-1]).id
    if milestone in ("DEPARTED", "LOADED", "RECEIVED_AT_ORIGIN"):
        chosen = leaving[0] if leaving else main
        return chosen.id if chosen else None
    if milestone in ("ARRIVED", "DISCHARGED"):
        chosen = reaching[-1] if reaching else main
        return chosen.id if chosen else None
    candidates = leaving or reaching
    return candidates[0].id if len(candidates) == 1 else None


# The milestones a carrier reports a leg's own departure or arrival with (following.ROAD_LEG_MILESTONES).
_MOMENT_OF = {"DEPARTED": "departure", "PICKED_UP": "departure", "ARRIVED": "arrival", "DELIVERED": "arrival"}


def _on_its_leg(
    found: mapping.Mapping, leg_id: int | None, info: ShipmentInfo | None, table: mapping.MappingTable
) -> mapping.Mapping:
    """A departure or arrival that lands on a leg before or after the main carriage is that leg's own milestone
    (following.leg_milestone): a pre-carriage truck reaching the port is the goods received at origin, not the
    shipment arriving at its destination; the same truck "delivered" at the terminal has delivered nothing to the
    consignee. The main carriage's, and anything on no leg, stay as mapped. A milestone switched off in the console
    makes the event none (kept, moving nothing) rather than the shipment's."""
    kind = _MOMENT_OF.get(found.milestone or "")
    if kind is None or leg_id is None or info is None:
        return found
    leg = next(leg for leg in info.legs if leg.id == leg_id)
    if leg.role == LegRole.MAIN:
        return found
    single_order = info.kind != ShipmentKind.MASTER or len(info.houses) <= 1
    milestone = following.leg_milestone(
        kind=kind, role=leg.role, is_last=leg.id == info.legs[-1].id, single_order=single_order
    )
    if milestone == found.milestone:
        return found
    if milestone not in table.milestones:
        return mapping.Mapping(MappingStatus.NOT_A_MILESTONE, None, found.classifier)
    return dataclasses.replace(found, milestone=milestone)


def _not_carried(
    milestone: str | None, leg_id: int | None, info: ShipmentInfo | None, carrier_ids: frozenset[int] | None
) -> str | None:
    """Why a partner (`carrier_ids`) may not record this event on the shipment that carries it, or None.

    A partner reaches a shipment when it carries any of its legs (subjects.py), but records only on its own: the
    leg the event lands on must be carried by one of its organisations (the leg's carrier; a leg without one is
    the shipment's carrier's). A milestone that lands on no leg (a customs hold, a place naming no one leg) is
    about the shipment as a whole: only the carrier of its main carriage reports it. An unmapped code on no leg
    changes nothing and is kept, as from anyone. Without `carrier_ids` (operations, our own feeds): anything."""
    if carrier_ids is None or info is None:
        return None
    if leg_id is not None:
        leg = next(leg for leg in info.legs if leg.id == leg_id)
        if (leg.carrier_id or info.carrier_id) in carrier_ids:
            return None
        return (
            f"{milestone or 'This event'} for {info.reference} is on a leg you do not carry "
            f"({leg.origin_id} → {leg.destination_id})."
        )
    main = main_leg(info)
    if milestone is None or ((main.carrier_id if main else None) or info.carrier_id) in carrier_ids:
        return None
    return f"{milestone} for {info.reference} is on no one leg; only the carrier of the main carriage reports it."


# An actual event of these is a leg leaving: the shipment is in transit from then on (ShipmentInfo.has_departed).
_DEPARTURES = frozenset(code for code, moment in following.ANY_LEG_MILESTONES.items() if moment == "departure")
Facts = tuple[str, mapping.Mapping, int | None, str | None]  # location role, mapping, leg, why it is refused


def _departures(located: list[Any], resolution: Resolution, facts_of: Any) -> dict[int, datetime.datetime]:
    """Carrying shipment id → the first actual departure this batch reports for it, when the batch has an event
    without a place (else nothing is looked up): ShipmentInfo.had_departed."""
    found: dict[int, datetime.datetime] = {}
    for event, link, _subject, location in located if not all(row[3] for row in located) else ():
        info = resolution.carrying(link.shipment_id) if link.shipment_id else None
        _role, mapped, _leg, refused = facts_of(link.shipment_id, location, event, None)
        actual = (mapped.classifier or event.classifier) == Classifier.ACTUAL
        if info is not None and actual and not refused and mapped.milestone in _DEPARTURES:
            found[info.id] = min(event.event_at, found.get(info.id, event.event_at))
    return found


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
        departed = carrying.had_departed(event.reported_at, departures.get(carrying.id)) if carrying else None
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
        actor = following.Actor(channel=source.channel, source=source.key, by=source.by)
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


# --- one event by hand ------------------------------------------------------------------------------


def event_record(
    *,
    milestone: str,
    occurred_at: datetime.datetime,
    subject: tuple[str, str],
    source: Source,
    classifier: str = Classifier.ACTUAL,
    location: str = "",
    note: str = "",
) -> TrackingEvent:
    """Record one milestone for a shipment or order (the order page, the planning screen, a file row).
    Raises TrackingError when it is not valid or was already recorded."""
    table = mapping.table()
    if milestone not in table.milestones:
        raise TrackingError(f"{milestone} is not a milestone we know.")
    if timezone.is_naive(occurred_at):
        raise TrackingError("Give the time with its time zone.")
    try:
        kind, value = clean_subject(*subject)
    except FormatError as exc:
        raise TrackingError(str(exc)) from exc
    location_code, location_text = clean_location(location)
    offset = occurred_at.utcoffset()
    event = IncomingEvent(
        scheme=Scheme.OMS,
        raw_code=milestone,
        classifier=classifier,
        event_at=occurred_at.astimezone(datetime.UTC),
        offset_minutes=int(offset.total_seconds() // 60) if offset is not None else None,
        subjects=[(kind, value)],
        payload={
            "milestone": milestone,
            "classifier": classifier,
            "occurred_at": occurred_at.isoformat(),
            "location": location,
            "subject": {"type": kind, "value": value},
            "note": note,
        },
        location_code=location_code,
        location_text=location_text,
        reason=note[:300],
    )
    result = events_ingest(events=[event], source=source)
    if result.rejected:
        raise TrackingError(result.rejected[0][1])
    if not result.stored_ids:
        raise TrackingError("This milestone was already recorded at that time and place.")
    stored = TrackingEvent.objects.get(pk=result.stored_ids[0])
    if stored.shipment_id is None and stored.order_id is None:
        logger.info("tracking: event #%s for %s %s matches no shipment or order", stored.pk, kind, value)
    return stored


def event_record_for_order(
    *,
    order: Order,
    milestone: str,
    occurred_at: datetime.datetime,
    by: Any,
    classifier: str = Classifier.ACTUAL,
    location: str = "",
    note: str = "",
    channel: str = Channel.SCREEN,
) -> TrackingEvent:
    """A milestone entered on the order page: about the order's house when it has one, else the order."""
    houses = Shipment.objects.houses().filter(order=order).exclude(status=ShipmentStatus.CANCELLED)
    house = houses.order_by("created_at").values_list("reference", flat=True).first()
    subject = (SubjectType.SHIPMENT, house) if house else (SubjectType.ORDER, order.reference)
    source = Source(kind=SourceKind.MANUAL, name=getattr(by, "email", "")[:50], channel=channel, by=by)
    return event_record(
        milestone=milestone,
        occurred_at=occurred_at,
        subject=subject,
        source=source,
        classifier=classifier,
        location=location,
        note=note,
    )


def event_record_for_leg(*, leg: Any, milestone: str, occurred_at: datetime.datetime, by: Any) -> TrackingEvent:
    """DEPARTED or ARRIVED entered on the planning execution screen: the event, and the leg's actual time."""
    if milestone not in following.LEG_MILESTONES:
        raise TrackingError("The planning screen records DEPARTED or ARRIVED.")
    place = leg.origin_id if milestone == "DEPARTED" else leg.destination_id
    source = Source(kind=SourceKind.PLANNING, name=getattr(by, "email", "")[:50], channel=Channel.SCREEN, by=by)
    return event_record(
        milestone=milestone,
        occurred_at=occurred_at,
        subject=(SubjectType.SHIPMENT, leg.shipment.reference),
        source=source,
        location=place,
    )


def parse_entered_time(value: str, *, time_zone: str) -> datetime.datetime:
    """A time typed on a screen or in a file ("2026-03-05T08:55", or with an offset), in `time_zone` when it
    has none; the result keeps its own offset so the event shows the local time it was entered in."""
    try:
        parse_time(value, what="The time", time_zone=time_zone)  # the checks and messages of every source
        parsed = datetime.datetime.fromisoformat(value.strip())
    except FormatError as exc:
        raise TrackingError(str(exc)) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zoneinfo.ZoneInfo(time_zone))
