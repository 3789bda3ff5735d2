"""Signed tracking webhooks: POST /api/v1/tracking/webhooks/<source>/.

The sender signs each delivery with its source's secret:

    X-OMS-Timestamp: 1767225600                      (Unix seconds when it was sent)
    X-OMS-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

Several signatures may be sent, separated by commas or spaces (during a secret rotation we accept the
current and the previous secret). A delivery is refused with 401, and nothing of it is kept, when either
header is missing, the timestamp is more than OMS_WEBHOOK_TOLERANCE_SECONDS (5 minutes) away from our
clock, or no signature verifies over the exact bytes received (re-serialised JSON does not verify). The
comparison is constant-time (hmac.compare_digest). Replays inside the tolerance are harmless: every event
is stored once (dedupe), so a replay only reports duplicates.

The body is a JSON array of events, or {"events": [...]}; each event is a DCSA T&T 2.2 event or one of ours
(tracking/ingest/formats.py). At most MAX_EVENTS events and MAX_BYTES bytes per delivery (413 beyond);
unreadable JSON with a valid signature is 400 and kept for investigation (RejectedDelivery). A readable delivery
with refused events is answered 200 with each refusal, and kept too (RejectedDelivery with status 200: its counts,
the first KEPT_REFUSALS refusals with the sender's event ids, the body's first 64 KB), so operations see on the
tracking monitor what only the sender was told; a delivery with nothing refused writes nothing. NaN and Infinity
are not JSON (Python reads them, PostgreSQL's jsonb does not): 400 as well, and so is JSON nested deeper than
Python's json follows (RecursionError).

`read_events` parses the body once and keeps each event's own JSON text beside the parsed object; that text
is the raw payload we store (the sender's JSON as sent, numbers exactly as written), so nothing is
serialised again. "Last delivery" on the source is written at most once a minute.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from orders.models import Channel
from tracking.ingest.formats import IncomingEvent, any_event, read_all
from tracking.ingest.models import KEPT_REFUSALS, RejectedDelivery, SourceKind, WebhookSource
from tracking.ingest.services import MAX_BATCH, IngestResult, Source, events_ingest

TIMESTAMP_HEADER = "X-OMS-Timestamp"
SIGNATURE_HEADER = "X-OMS-Signature"
MAX_EVENTS = MAX_BATCH
MAX_BYTES = getattr(settings, "OMS_TRACKING_WEBHOOK_MAX_BYTES", 4 * 1024 * 1024)
KEPT_BODY_BYTES = 64 * 1024
KEPT_EVENT_ID_CHARS = 100  # of a refused event's id, in the kept record (an id is the sender's, of any length)
# "Last delivery" (console) is kept to the minute: a sender that delivers many times a second would otherwise
# rewrite, and commit, its source's row with every delivery.
LAST_DELIVERY_RESOLUTION = datetime.timedelta(minutes=1)
_SIGNATURE = re.compile(r"v1=([0-9a-fA-F]{64})")


def tolerance_seconds() -> int:
    return int(getattr(settings, "OMS_WEBHOOK_TOLERANCE_SECONDS", 300))


def sign(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-OMS-Signature value for a body: what senders compute (and our tests and benchmark)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signature_problem(
    *, source: WebhookSource | None, timestamp: str, signature: str, body: bytes, now: float | None = None
) -> str | None:
    """Why the delivery is not authentic, or None. Never says which secret or signature came closest."""
    if not timestamp or not signature:
        return f"Sign the delivery: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} (see the API documentation)."
    stripped = timestamp.strip()
    if not (stripped.isascii() and stripped.isdigit()) or len(stripped) > 12:  # a longer one overflows a float
        return f"{TIMESTAMP_HEADER} must be the Unix time in seconds."
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance_seconds():
        return f"{TIMESTAMP_HEADER} is more than {tolerance_seconds() // 60} minutes from our clock: check yours."
    offered = [match.lower() for match in _SIGNATURE.findall(signature)]
    secrets = [s for s in (source.secret, source.previous_secret) if s] if source is not None else []
    expected = [sign(secret=secret, timestamp=timestamp.strip(), body=body)[3:] for secret in secrets]
    # Compare every pair, whatever matches first, so the time taken says nothing about the secrets.
    matches = [hmac.compare_digest(a, b) for a in offered for b in expected]
    if not any(matches):
        return "The signature does not verify for this source."
    return None


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    body: dict[str, Any]


def _error(status: int, code: str, message: str) -> WebhookOutcome:
    return WebhookOutcome(status, {"error": {"code": code, "message": message, "fields": {}}})


def too_large(size: int | None) -> WebhookOutcome:
    """413 for a body of `size` bytes, or of more than MAX_BYTES when it was sent without a length."""
    said = f"{size:,} bytes" if size is not None else f"more than {MAX_BYTES:,} bytes"
    return _error(
        413, "payload_too_large", f"The body is {said}; a delivery holds at most {MAX_BYTES:,}. Send smaller batches."
    )


def _reject(source: WebhookSource, status: int, code: str, message: str, body: bytes) -> WebhookOutcome:
    """A signed delivery we cannot read: answer, and keep it so someone can find out why."""
    RejectedDelivery.objects.create(
        webhook_source=source,
        status_code=status,
        reason=message[:300],
        body=_kept_body(body),
    )
    return _error(status, code, message)


def _storable(text: str) -> str:
    """`text` as PostgreSQL's text and jsonb take it: a lone UTF-16 surrogate (JSON's "\\ud800") and a NUL, which
    both refuse, written as escapes. They are what a refused event was refused for, often quoted in the reason."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")


def _kept_body(body: bytes) -> str:
    """The body's first KEPT_BODY_BYTES as text, in the encoding the JSON was read in (JSON may come as UTF-16 or
    UTF-32, whose bytes read as UTF-8 are full of NULs, which PostgreSQL's text refuses)."""
    head = body[:KEPT_BODY_BYTES]
    return _storable(head.decode(json.detect_encoding(head), "replace"))


def _sender_event_id(item: Any) -> str:
    """The sender's own id of an event as sent (DCSA's eventID, our id), to find it in the sender's logs; ""
    without one, or for an item that is no JSON object."""
    if not isinstance(item, dict):
        return ""
    value = item.get("eventID") or item.get("id")
    return "" if value is None or isinstance(value, dict | list) else _storable(str(value)[:KEPT_EVENT_ID_CHARS])


def _keep_refusals(
    source: WebhookSource, items: list[tuple[Any, str]], result: IngestResult, body: bytes
) -> RejectedDelivery:
    """A delivery we read but whose events were partly or wholly refused: kept (one insert), so that operations see
    on the monitor what only the sender was told. The sender was answered 200, and so is the record's status."""
    refusals = [
        {
            "index": index,
            "event_id": _sender_event_id(items[index][0]) if index < len(items) else "",
            "message": _storable(why),
        }
        for index, why in result.rejected[:KEPT_REFUSALS]
    ]
    count = len(result.rejected)
    return RejectedDelivery.objects.create(
        webhook_source=source,
        status_code=200,
        reason=_storable(
            f"{count} of {result.received} event{'s' if result.received != 1 else ''} refused: {result.rejected[0][1]}"
        )[:300],
        events_received=result.received,
        events_stored=result.stored,
        duplicates=result.duplicates,
        refused_count=count,
        refusals=refusals,
        body=_kept_body(body),
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")  # Python's json reads NaN and Infinity; jsonb does not


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_SPACE = re.compile(r"[ \t\n\r]*")
_SPACES = frozenset(" \t\n\r")


def _skip(text: str, position: int) -> int:
    if text[position : position + 1] not in _SPACES:  # compact JSON: no call to the regex
        return position
    return _SPACE.match(text, position).end()  # type: ignore[union-attr]  # matches the empty string too


def _value(text: str, position: int) -> tuple[Any, int]:
    """The JSON value at `position` and where it ends (JSONDecoder.raw_decode without its extra call)."""
    try:
        return _DECODER.scan_once(text, position)  # type: ignore[attr-defined,no-any-return]  # set in __init__
    except StopIteration as exc:
        raise json.JSONDecodeError("Expecting value", text, exc.value) from None


def _array(text: str, position: int) -> tuple[list[tuple[Any, str]], int]:
    """The JSON array at `position`, each element with its own text; and where the array ends."""
    items: list[tuple[Any, str]] = []
    position = _skip(text, position + 1)
    if text.startswith("]", position):
        return items, position + 1
    while True:
        item, end = _value(text, position)
        items.append((item, text[position:end]))
        position = _skip(text, end)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
        elif text.startswith("]", position):
            return items, position + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)


def _object_events(text: str, position: int) -> tuple[list[tuple[Any, str]] | None, int]:
    """The "events" array of the JSON object at `position` (None without one; the last wins, as in json.loads)."""
    events: list[tuple[Any, str]] | None = None
    position = _skip(text, position + 1)
    if text.startswith("}", position):
        return None, position + 1
    while True:
        if not text.startswith('"', position):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, position)
        key, position = _value(text, position)
        position = _skip(text, position)
        if not text.startswith(":", position):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, position)
        position = _skip(text, position + 1)
        if key == "events" and text.startswith("[", position):
            events, position = _array(text, position)
        else:
            _, position = _value(text, position)
            events = None if key == "events" else events
        position = _skip(text, position)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
        elif text.startswith("}", position):
            return events, position + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)


def read_events(body: bytes) -> list[tuple[Any, str]] | None:
    """The events of a delivery, each with its exact JSON text: the raw payload we store is what the sender
    sent, never re-serialised (that cost as much as parsing). The body is a JSON array of events or an object
    with an "events" array; None for other JSON. Raises ValueError (JSONDecodeError, UnicodeDecodeError) for a
    body json.loads refuses, and for NaN or Infinity, which PostgreSQL's jsonb refuses; RecursionError, as
    json.loads does, for one nested too deeply."""
    text = body.decode(json.detect_encoding(body), "surrogatepass")  # as json.loads reads bytes
    position = _skip(text, 0)
    events: list[tuple[Any, str]] | None = None
    if text.startswith("[", position):
        events, position = _array(text, position)
    elif text.startswith("{", position):
        events, position = _object_events(text, position)
    else:
        _, position = _value(text, position)
    end = _skip(text, position)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return events


def source_for(source: WebhookSource) -> Source:
    """Events from a carrier's source reach only its shipments and use its own mapping rules."""
    carrier_ids = frozenset({source.carrier_id}) if source.carrier_id else None
    return Source(
        kind=SourceKind.WEBHOOK,
        name=source.name,
        partner_id=source.carrier_id,
        carrier_ids=carrier_ids,
        channel=Channel.WEBHOOK,
    )


def webhook_receive(
    *, source_name: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> WebhookOutcome:
    """Verify, read and ingest one delivery (see the module docstring); the answer the sender gets."""
    if len(body) > MAX_BYTES:
        return too_large(len(body))
    source = (
        WebhookSource.objects.filter(name=source_name, is_active=True)
        .filter(Q(carrier__isnull=True) | Q(carrier__is_active=True))  # a deactivated partner is switched off
        .select_related("carrier")
        .first()
    )
    problem = signature_problem(
        source=source,
        timestamp=headers.get(TIMESTAMP_HEADER, ""),
        signature=headers.get(SIGNATURE_HEADER, ""),
        body=body,
        now=now,
    )
    if problem or source is None:
        return _error(401, "authentication_failed", problem or "The signature does not verify for this source.")
    try:
        items = read_events(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _reject(source, 400, "parse_error", f"The body is not JSON: {exc}.", body)
    except RecursionError:  # nested deeper than Python's json follows: a few thousand levels
        return _reject(source, 400, "parse_error", "The body is not JSON we can read: it is nested too deeply.", body)
    if items is None:
        return _reject(source, 400, "parse_error", 'Send a JSON array of events, or {"events": [...]}.', body)
    if len(items) > MAX_EVENTS:
        return _error(
            413,
            "too_many_events",
            f"A delivery holds at most {MAX_EVENTS:,} events; this one has {len(items):,}. Split it.",
        )
    result = ingest_items(items, source=source)
    if result.rejected:
        _keep_refusals(source, items, result, body)
    received_at = timezone.now()
    if source.last_delivery_at is None or received_at - source.last_delivery_at >= LAST_DELIVERY_RESOLUTION:
        WebhookSource.objects.filter(pk=source.pk).update(last_delivery_at=received_at)
    return WebhookOutcome(200, result.as_dict())


def ingest_items(items: list[tuple[Any, str]], *, source: WebhookSource) -> IngestResult:
    """Read each item (DCSA or ours, with its JSON text) and ingest the readable ones; the rest come back as
    rejected (formats.read_all: one unreadable event never fails the delivery)."""

    def read(pair: tuple[Any, str]) -> IncomingEvent:
        event = any_event(pair[0], default_scheme=source.scheme)
        event.payload_text = pair[1]
        return event

    events, rejected = read_all(items, read, sender=f"webhook source {source.name}")
    return events_ingest(events=events, source=source_for(source), rejected=rejected)
