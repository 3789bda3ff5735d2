"""Raw events → IncomingEvent: the one shape every source is turned into before it is stored.

Two wire formats are read here, because both the webhook and the pollers receive them:
- DCSA Track & Trace 2.2 events (shared/data/dcsa/tnt_v2.2.0.yaml): TRANSPORT, EQUIPMENT and SHIPMENT;
- our own JSON event (documented in docs/tracking-events.md and the API schema):
      {"id": "evt-1", "milestone": "DEPARTED" | "code": "AF", "scheme": "x12_214", "classifier": "ACT",
       "occurred_at": "2026-03-05T08:55:00+08:00", "location": "CNSHA",
       "subject": {"type": "container", "value": "MSCU1234565"}, "reason": "…"}
Karrio's tracker shape is read by its adapter (adapters/karrio.py), which builds IncomingEvents too.

Everything a sender can get wrong raises FormatError with a message for that sender; nothing is guessed.
`read_all` reads the events of one delivery or page: an event that cannot be read is rejected on its own, also
for an error we did not foresee (logged with its traceback), never the whole delivery or poll.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError

from tracking.ingest.models import Classifier, Scheme, SubjectType

logger = logging.getLogger(__name__)

CLASSIFIERS = frozenset(Classifier.values)
SCHEMES = frozenset(Scheme.values)
SUBJECT_TYPES = frozenset(SubjectType.values)  # Django recomputes .values on every access: once here
_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
_IATA_AIRPORT = re.compile(r"^[A-Z]{3}$")
_OUR_SHIPMENT = re.compile(r"^[MH]-[A-Z0-9]{2,10}-\d{2}-\d{4,}$")
MAX_CODE = 60
MAX_SUBJECT = 40


class FormatError(ValueError):
    """The event cannot be read; the message tells the sender what to fix."""


@dataclass
class IncomingEvent:
    """One event as understood before it meets the database."""

    scheme: str
    raw_code: str
    classifier: str
    event_at: datetime.datetime
    offset_minutes: int | None
    subjects: list[tuple[str, str]]  # (SubjectType, value), most specific first; the first is stored
    payload: dict[str, Any]
    source_event_id: str = ""
    reported_at: datetime.datetime | None = None
    location_code: str = ""  # a UN/LOCODE, or a 3-letter IATA airport code until subjects.py resolves it
    location_text: str = ""
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    position: int | None = None  # where it was in the delivery or file, for error reports
    payload_text: str = ""  # the payload's JSON exactly as received, when the source has it (webhook): stored as is

    @property
    def subject(self) -> tuple[str, str]:
        return self.subjects[0]


@functools.lru_cache(maxsize=4096)
def _aware(value: str) -> tuple[datetime.datetime, int | None] | None:
    """A time with an offset, in UTC, and the offset in minutes; None without an offset. Cached: a batch
    repeats times (DCSA: eventCreatedDateTime is often eventDateTime; a poll sees its last page again)."""
    parsed = datetime.datetime.fromisoformat(value)
    offset = parsed.utcoffset()
    if offset is None:
        return None
    return parsed.astimezone(datetime.UTC), int(offset.total_seconds() // 60)


def parse_time(value: Any, *, what: str, time_zone: str = "") -> tuple[datetime.datetime, int | None]:
    """An ISO 8601 time with its offset (UTC when aware), or FormatError. Times without an offset are refused
    unless the source's time zone is known (Karrio's local times), so no event silently shifts hours."""
    if isinstance(value, str) and not time_zone:
        try:
            found = _aware(value.strip())
        except (ValueError, OverflowError):
            found = None  # the messages below say what is wrong
        if found is not None:
            return found
    if not isinstance(value, str) or not value.strip():
        raise FormatError(f"{what} is missing: give an ISO 8601 time with its offset, e.g. 2026-03-05T08:55:00+08:00.")
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise FormatError(f"{what} {value[:40]!r} is not an ISO 8601 time.") from exc
    local = parsed.tzinfo is None
    if local:
        if not time_zone:
            raise FormatError(f"{what} {value[:40]!r} has no UTC offset; add one (e.g. +08:00 or Z).")
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(time_zone))
    try:
        offset = parsed.utcoffset()
        in_utc = parsed.astimezone(datetime.UTC)
        if local:
            _check_on_the_clock(parsed, value.strip(), what=what, time_zone=time_zone)
    except OverflowError as exc:  # 0001-01-01T00:30+01:00 is before year 1 in UTC; 9999-12-31T23:30-01:00 after 9999
        raise FormatError(f"{what} {value[:40]!r} is outside the calendar (years 1 … 9999 in UTC).") from exc
    minutes = int(offset.total_seconds() // 60) if offset is not None else None
    return in_utc, minutes


def _check_on_the_clock(local: datetime.datetime, written: str, *, what: str, time_zone: str) -> None:
    """FormatError when a local time names no moment, or two: the hour the clocks skip when they go forward (zoneinfo
    would read it with the offset before the change, an hour off the wall clock) and the hour they repeat when they
    go back (read as its first pass). Only the sender knows which moment was meant: the time's offset says it, or the
    time given in UTC (a screen's field takes no offset, its time zone does)."""
    first, second = local.replace(fold=0), local.replace(fold=1)
    if first.utcoffset() == second.utcoffset():
        return
    shown = written[:40]
    before, after = _offset_text(first.utcoffset()), _offset_text(second.utcoffset())
    if first.astimezone(datetime.UTC).astimezone(local.tzinfo).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise FormatError(
            f"{what} {shown!r} does not exist in {time_zone}: the clocks jump from {before} to {after} past it. "
            f"Write the time with its UTC offset (e.g. {shown}{before}), or give it in UTC."
        )
    raise FormatError(
        f"{what} {shown!r} happens twice in {time_zone}: the clocks go back from {before} to {after} and repeat it. "
        f"Write the time with its UTC offset to say which, {shown}{before} (the first) or {shown}{after} (the "
        "second), or give it in UTC."
    )


def _offset_text(offset: datetime.timedelta | None) -> str:
    """+02:00, -03:30: the offset as ISO 8601 writes it."""
    minutes = int((offset or datetime.timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def clean_subject(kind: str, value: Any) -> tuple[str, str]:
    """A reference in the form we store it: upper case, no spaces; AWBs as their 11 digits."""
    if kind not in SUBJECT_TYPES:
        raise FormatError(f"Unknown subject type {kind!r}; use one of {', '.join(SubjectType.values)}.")
    text = str(value or "").strip().upper()
    if " " in text or "\t" in text or "\n" in text:
        text = "".join(text.split())
    if kind == SubjectType.AWB:
        text = "".join(char for char in text if char.isdigit())
    if not text:
        raise FormatError(f"The {SubjectType(kind).label.lower()} is empty.")
    if len(text) > MAX_SUBJECT:
        raise FormatError(
            f"The {SubjectType(kind).label.lower()} {text[:20]}… is longer than {MAX_SUBJECT} characters."
        )
    return kind, text


def clean_location(value: Any) -> tuple[str, str]:
    """(code, text): a UN/LOCODE ("DE HAM" → DEHAM) or IATA airport code, else free text."""
    if isinstance(value, str) and len(value) == 5 and _LOCODE.match(value):
        return value, ""  # already as we store it: the usual case
    text = str(value or "").strip()
    compact = text.replace(" ", "").upper()
    if _LOCODE.match(compact) or _IATA_AIRPORT.match(compact):
        return compact, ""
    return "", text[:200]


def _classifier(value: Any, *, what: str) -> str:
    if value is None or value == "":
        raise FormatError(f"{what} is missing: give ACT, EST or PLN.")
    if isinstance(value, str):  # only text: a list or an object is no classifier (and cannot be looked up)
        if value in CLASSIFIERS:
            return value
        code = value.strip().upper()
        if code in CLASSIFIERS:
            return code
    raise FormatError(f"{what} {_shown(value)} is not one of ACT, EST, PLN.")


def _shown(value: Any) -> str:
    """A value as the sender wrote it, short enough for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:40]}…"


def _code(*parts: Any) -> str:
    code = ":".join(str(part).strip().upper() for part in parts if part)
    if not code or len(code) > MAX_CODE:
        raise FormatError("The event has no code, or one longer than 60 characters.")
    return code


# --- DCSA Track & Trace 2.2 ---------------------------------------------------------------------

_DCSA_CODE_FIELDS = {
    "TRANSPORT": "transportEventTypeCode",
    "EQUIPMENT": "equipmentEventTypeCode",
    "SHIPMENT": "shipmentEventTypeCode",
}


def _document_type(value: Any) -> str:
    """ "BKG (Booking)" as the 2.2 YAML's enum spells it, or plain "BKG" (DOMAIN.md §1.1)."""
    return str(value or "").partition(" ")[0].strip().upper()


_EQUIPMENT_FIRST = (
    SubjectType.CONTAINER,
    SubjectType.BILL,
    SubjectType.BOOKING,
    SubjectType.SHIPMENT,
    SubjectType.ORDER,
)
_DOCUMENT_FIRST = (
    SubjectType.BILL,
    SubjectType.BOOKING,
    SubjectType.SHIPMENT,
    SubjectType.ORDER,
    SubjectType.CONTAINER,
)


def _dcsa_subjects(event: dict[str, Any], event_type: str) -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    if event.get("equipmentReference"):
        found[SubjectType.CONTAINER] = event["equipmentReference"]
    for reference in event.get("documentReferences") or []:
        if not isinstance(reference, dict):
            continue
        kind = {"BKG": SubjectType.BOOKING, "TRD": SubjectType.BILL}.get(
            _document_type(reference.get("documentReferenceType"))
        )
        if kind and reference.get("documentReferenceValue"):
            found.setdefault(kind, reference["documentReferenceValue"])
    if event_type == "SHIPMENT" and event.get("documentID"):
        kind = {"TRD": SubjectType.BILL, "BKG": SubjectType.BOOKING, "CBR": SubjectType.BOOKING}.get(
            _document_type(event.get("documentTypeCode"))
        )
        if kind:
            found.setdefault(kind, event["documentID"])
    for reference in event.get("references") or []:
        if isinstance(reference, dict) and reference.get("referenceType") == "FF" and reference.get("referenceValue"):
            value = str(reference["referenceValue"]).strip().upper()
            found.setdefault(SubjectType.SHIPMENT if _OUR_SHIPMENT.match(value) else SubjectType.ORDER, value)
    # The physical thing first for equipment events; the document first for vessel and document events.
    order = _EQUIPMENT_FIRST if event_type == "EQUIPMENT" else _DOCUMENT_FIRST
    subjects = [clean_subject(kind, found[kind]) for kind in order if kind in found]
    if not subjects:
        raise FormatError("The event names no equipmentReference, B/L, booking or FF reference to attach it to.")
    return subjects


def dcsa_event(event: Any) -> IncomingEvent:
    """A DCSA T&T 2.2 event (transportEvent, equipmentEvent or shipmentEvent) as an IncomingEvent."""
    if not isinstance(event, dict):
        raise FormatError("Each DCSA event must be a JSON object.")
    if not event.get("eventType"):
        raise FormatError("eventType is missing: give TRANSPORT, EQUIPMENT or SHIPMENT.")
    event_type = str(event["eventType"]).upper()
    if event_type not in _DCSA_CODE_FIELDS:
        raise FormatError(f"eventType {event.get('eventType')!r} is not TRANSPORT, EQUIPMENT or SHIPMENT.")
    code = event.get(_DCSA_CODE_FIELDS[event_type]) or event.get("eventTypeCode")  # the deprecated field of 2.0
    if not code:
        raise FormatError(f"A {event_type} event needs {_DCSA_CODE_FIELDS[event_type]}.")
    classifier = _classifier(event.get("eventClassifierCode"), what="eventClassifierCode")
    event_at, offset = parse_time(event.get("eventDateTime"), what="eventDateTime")
    reported_at, _ = parse_time(event.get("eventCreatedDateTime"), what="eventCreatedDateTime")
    call: dict[str, Any] = event["transportCall"] if isinstance(event.get("transportCall"), dict) else {}
    if event_type == "TRANSPORT" and not call:
        raise FormatError("A TRANSPORT event needs its transportCall.")
    if event_type == "EQUIPMENT":
        raw_code = _code(event_type, code, event.get("emptyIndicatorCode") or "LADEN")
    elif event_type == "SHIPMENT":
        raw_code = _code(event_type, _document_type(event.get("documentTypeCode")), code)
    else:
        raw_code = _code(event_type, code)
    place: dict[str, Any] = event["eventLocation"] if isinstance(event.get("eventLocation"), dict) else {}
    # DCSA 2.2: a transport call names its port in UNLocationCode, or only in its facility's `location` (a location
    # object: UNLocationCode, locationName, address); an equipment or shipment event may say it in eventLocation.
    facility: dict[str, Any] = call["location"] if isinstance(call.get("location"), dict) else {}
    written = call.get("UNLocationCode") or facility.get("UNLocationCode") or place.get("UNLocationCode") or ""
    location_code, location_text = clean_location(written)
    if not location_code:
        named = place.get("locationName") or facility.get("locationName") or call.get("otherFacility") or ""
        location_text = str(named)[:200]
    reason = event.get("changeRemark") or event.get("reason") or event.get("delayReasonCode") or ""
    return IncomingEvent(
        scheme=Scheme.DCSA,
        raw_code=raw_code,
        classifier=classifier,
        event_at=event_at,
        offset_minutes=offset,
        subjects=_dcsa_subjects(event, event_type),
        payload=event,
        source_event_id=str(event.get("eventID") or ""),
        reported_at=reported_at,
        location_code=location_code,
        location_text=location_text,
        reason=str(reason)[:300],
        extra={"facility_type": call.get("facilityTypeCode") or "", "mode": call.get("modeOfTransport") or ""},
    )


# --- Our JSON event -----------------------------------------------------------------------------

_SUBJECT_KEYS = {
    "shipment": SubjectType.SHIPMENT,
    "order": SubjectType.ORDER,
    "container": SubjectType.CONTAINER,
    "bill_of_lading": SubjectType.BILL,
    "booking": SubjectType.BOOKING,
    "awb": SubjectType.AWB,
    "tracking_number": SubjectType.PARCEL,
}


def _oms_subjects(event: dict[str, Any]) -> list[tuple[str, str]]:
    subject = event.get("subject")
    if isinstance(subject, dict):
        return [clean_subject(str(subject.get("type") or ""), subject.get("value"))]
    subjects = [clean_subject(kind, event[key]) for key, kind in _SUBJECT_KEYS.items() if event.get(key)]
    if not subjects:
        raise FormatError('Say what the event is about: "subject": {"type": "container", "value": "MSCU1234565"}.')
    return subjects


def oms_event(event: Any, *, default_scheme: str = Scheme.OMS) -> IncomingEvent:
    """An event in our JSON format: a milestone code of ours, or a code of a named scheme."""
    if not isinstance(event, dict):
        raise FormatError("Each event must be a JSON object.")
    scheme: str
    if event.get("milestone"):
        scheme, code = Scheme.OMS, str(event["milestone"])
    else:
        scheme, code = str(event.get("scheme") or default_scheme), str(event.get("code") or "")
        if scheme not in SCHEMES:
            raise FormatError(f"Unknown scheme {scheme!r}; use one of {', '.join(sorted(SCHEMES))}.")
        if not code:
            raise FormatError('Give "milestone" (one of ours, e.g. DEPARTED) or "code" with its "scheme".')
    event_at, offset = parse_time(event.get("occurred_at") or event.get("event_at"), what="occurred_at")
    reported_at = parse_time(event["reported_at"], what="reported_at")[0] if event.get("reported_at") else None
    location = event.get("location")
    if isinstance(location, dict):
        location = location.get("unlocode") or location.get("iata") or location.get("name") or ""
    location_code, location_text = clean_location(location)
    return IncomingEvent(
        scheme=scheme,
        raw_code=_code(code),
        classifier=_classifier(event.get("classifier") or "ACT", what="classifier"),
        event_at=event_at,
        offset_minutes=offset,
        subjects=_oms_subjects(event),
        payload=event,
        source_event_id=str(event.get("id") or ""),
        reported_at=reported_at,
        location_code=location_code,
        location_text=location_text,
        reason=str(event.get("reason") or event.get("description") or "")[:300],
    )


# Fields of a DCSA event that our format has none of: an object naming one of them, and no milestone or code of ours,
# is a DCSA event, however incomplete, and is told what DCSA misses rather than what our format would need.
_DCSA_ONLY = frozenset(
    {
        "eventType",
        "eventClassifierCode",
        "eventDateTime",
        "eventCreatedDateTime",
        "eventID",
        *_DCSA_CODE_FIELDS.values(),
        "eventTypeCode",
    }
)


def any_event(event: Any, *, default_scheme: str = Scheme.OMS) -> IncomingEvent:
    """DCSA when the object names a field only DCSA has and no milestone or code of ours, else our format: one webhook
    takes both."""
    if (
        isinstance(event, dict)
        and not event.get("milestone")
        and not event.get("code")
        and not _DCSA_ONLY.isdisjoint(event)
    ):
        return dcsa_event(event)
    return oms_event(event, default_scheme=default_scheme)


UNREADABLE = "The event could not be read: an error on our side, logged for us to fix. The other events are kept."


def read_all(
    items: Iterable[Any], read: Callable[[Any], IncomingEvent], *, sender: object
) -> tuple[list[IncomingEvent], list[tuple[int, str]]]:
    """Each item read with `read` (its position set), and the ones that cannot be read as (index, why).

    A FormatError is the sender's mistake, answered with its message. Any other error is data we did not
    foresee or a bug of ours: logged with its traceback, and only that event is rejected, so that one odd event
    never fails a whole delivery (500, sent again and again) or kills a poll. A database error is not the
    event's doing and leaves the transaction unusable: it propagates."""
    events: list[IncomingEvent] = []
    rejected: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        try:
            event = read(item)
        except FormatError as exc:
            rejected.append((index, str(exc)))
            continue
        except DatabaseError:
            raise
        except Exception:
            logger.exception("tracking: event #%d from %s could not be read", index, sender)
            rejected.append((index, UNREADABLE))
            continue
        event.position = index
        events.append(event)
    return events, rejected
