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
unreadable JSON with a valid signature is 400 and kept for investigation (RejectedDelivery).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from orders.models import Channel
from tracking.ingest.formats import FormatError, IncomingEvent, any_event
from tracking.ingest.models import RejectedDelivery, SourceKind, WebhookSource
from tracking.ingest.services import MAX_BATCH, IngestResult, Source, events_ingest

TIMESTAMP_HEADER = "X-OMS-Timestamp"
SIGNATURE_HEADER = "X-OMS-Signature"
MAX_EVENTS = MAX_BATCH
MAX_BYTES = getattr(settings, "OMS_TRACKING_WEBHOOK_MAX_BYTES", 4 * 1024 * 1024)
KEPT_BODY_BYTES = 64 * 1024
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
    if not timestamp.strip().isdigit():
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


def too_large(size: int) -> WebhookOutcome:
    return _error(
        413,
        "payload_too_large",
        f"The body is {size:,} bytes; a delivery holds at most {MAX_BYTES:,}. Send smaller batches.",
    )


def _reject(source: WebhookSource, status: int, code: str, message: str, body: bytes) -> WebhookOutcome:
    """A signed delivery we cannot read: answer, and keep it so someone can find out why."""
    RejectedDelivery.objects.create(
        webhook_source=source,
        status_code=status,
        reason=message[:300],
        body=body[:KEPT_BODY_BYTES].decode("utf-8", "replace"),
    )
    return _error(status, code, message)


def _items(document: Any) -> list[Any] | None:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("events"), list):
        return document["events"]
    return None


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
    source = WebhookSource.objects.filter(name=source_name, is_active=True).select_related("carrier").first()
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
        items = _items(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _reject(source, 400, "parse_error", f"The body is not JSON: {exc}.", body)
    if items is None:
        return _reject(source, 400, "parse_error", 'Send a JSON array of events, or {"events": [...]}.', body)
    if len(items) > MAX_EVENTS:
        return _error(
            413,
            "too_many_events",
            f"A delivery holds at most {MAX_EVENTS:,} events; this one has {len(items):,}. Split it.",
        )
    result = ingest_items(items, source=source)
    WebhookSource.objects.filter(pk=source.pk).update(last_delivery_at=timezone.now())
    return WebhookOutcome(200, result.as_dict())


def ingest_items(items: list[Any], *, source: WebhookSource) -> IngestResult:
    """Read each item (DCSA or ours) and ingest the readable ones; the rest come back as rejected."""
    events: list[IncomingEvent] = []
    rejected: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        try:
            event = any_event(item, default_scheme=source.scheme)
        except FormatError as exc:
            rejected.append((index, str(exc)))
            continue
        event.position = index
        events.append(event)
    return events_ingest(events=events, source=source_for(source), rejected=rejected)
