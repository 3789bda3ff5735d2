"""Carrier polling: which shipments are polled, when, within which rate, and what a failure does.

- `subscriptions_sync`: every active shipment (booked, in transit, arrived) whose carrier has a polling
  endpoint gets one subscription, with the reference that carrier tracks it by (DCSA: B/L, else the
  booking number, else a container; Karrio: the parcel number; the demo carrier: our reference).
  A subscription ends when its shipment is no longer active (delivered, cancelled, or back in planning when its
  booking was cancelled) or no longer carried by the endpoint's carrier (booked with another since): a feed polled
  under an old booking would put another carrier's plan on the shipment. The booking services sync their master at
  once (booking.py); the beat syncs everything every five minutes. When the reference changes (booking number to
  B/L, the endpoint's kind switched), the cursor and the adapter's state go with it: they belong to another query.
- `subscriptions_claim_due`: the subscriptions whose time has come, claimed with SKIP LOCKED and a lease
  (their next time is pushed LEASE ahead), so two beats or workers never poll the same one twice at once
  and a poll lost with its worker comes round again when the lease ends.
- `subscription_poll`: one poll. Each request first takes a token from the endpoint's bucket (a row,
  locked: the limit holds across all workers). Events are stored page by page through the one ingest
  path (dedupe makes a repeated page harmless, so a worker killed mid-poll loses and duplicates nothing);
  the cursor moves only when the poll completes.
- Cadence: every 15 minutes when the shipment's next milestone is within 6 hours (or overdue), hourly
  within two days, every 6 hours otherwise.
- Failures: Retry-After is honoured (the whole endpoint waits); other errors back off exponentially with
  jitter up to 6 hours. After STALE_AFTER failures in a row, or no success for STALE_AGE, the subscription
  is flagged "tracking stale" (shown on the timeline) and keeps trying at the capped backoff: no crash loop,
  no hammering.
"""

from __future__ import annotations

import datetime
import logging
import random
import time
from collections.abc import Collection
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from orders.models import Channel
from tracking.ingest import adapters
from tracking.ingest.adapters import PollError, RateLimited
from tracking.ingest.models import (
    AdapterKind,
    CarrierEndpoint,
    EtaHistory,
    SourceKind,
    SubjectType,
    TrackingSubscription,
)
from tracking.ingest.services import IngestResult, Source, events_ingest
from tracking.models import CONFIRMED_BOOKING_STATUSES, Booking, Leg, Shipment, ShipmentStatus

logger = logging.getLogger(__name__)

POLLED_STATUSES = (ShipmentStatus.BOOKED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.ARRIVED)
POLLED_KINDS = (AdapterKind.DCSA, AdapterKind.KARRIO, AdapterKind.SIMULATED)
LEASE = datetime.timedelta(minutes=10)
CLAIM_LIMIT = 200
BACKOFF_BASE = datetime.timedelta(minutes=2)
BACKOFF_MAX = datetime.timedelta(hours=6)
STALE_AFTER = 5
STALE_AGE = datetime.timedelta(hours=12)
INLINE_TOKEN_WAIT = 2.0  # seconds a poll may sleep for a token; longer, and it comes back later
BUCKET_SECONDS = 10  # the bucket holds ten seconds' worth of requests: short bursts, steady average


# --- rate limit -------------------------------------------------------------------------------------


def endpoint_take_token(*, endpoint_id: int, now: datetime.datetime | None = None) -> float:
    """Take one request from the endpoint's budget: 0 when it may go now, else the seconds to wait."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = CarrierEndpoint.objects.select_for_update().get(pk=endpoint_id)
        if endpoint.blocked_until and endpoint.blocked_until > now:
            return (endpoint.blocked_until - now).total_seconds()
        rate = endpoint.rate_limit_per_minute / 60.0
        capacity = max(1.0, rate * BUCKET_SECONDS)
        if endpoint.bucket_tokens is None or endpoint.bucket_updated_at is None:
            tokens = capacity
        else:
            elapsed = max((now - endpoint.bucket_updated_at).total_seconds(), 0.0)
            tokens = min(capacity, endpoint.bucket_tokens + elapsed * rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
        endpoint.bucket_tokens, endpoint.bucket_updated_at = (tokens - 1 if not wait else tokens), now
        endpoint.save(update_fields=["bucket_tokens", "bucket_updated_at"])
    return wait


def token_taker(endpoint_id: int) -> adapters.TakeToken:
    def take() -> None:
        while True:
            wait = endpoint_take_token(endpoint_id=endpoint_id)
            if wait <= 0:
                return
            if wait > INLINE_TOKEN_WAIT:
                raise RateLimited(
                    f"Our request budget for this carrier is spent for {wait:.0f} s.",
                    retry_after=wait,
                    from_carrier=False,
                )
            time.sleep(wait)

    return take


# --- which shipments ----------------------------------------------------------------------------------


def _reference(shipment: Shipment, kind: str, bookings: dict[int, str]) -> tuple[str, str] | None:
    if kind == AdapterKind.SIMULATED:
        return SubjectType.SHIPMENT, shipment.reference
    if kind == AdapterKind.KARRIO:
        return (SubjectType.PARCEL, shipment.bill_number) if shipment.bill_number else None
    if shipment.bill_number:
        return SubjectType.BILL, shipment.bill_number
    if shipment.pk in bookings:
        return SubjectType.BOOKING, bookings[shipment.pk]
    box = next((c.container_number for c in shipment.containers.all() if c.container_number), "")
    return (SubjectType.CONTAINER, box) if box else None


@transaction.atomic
def subscriptions_sync(*, shipment_ids: Collection[int] | None = None) -> dict[str, int]:
    """Create, update and end subscriptions so that exactly the active shipments are polled, each at its carrier's
    endpoint now: all of them, or only these shipments (a booking confirmed, cancelled or rejected)."""
    endpoints = {
        e.carrier_id: e
        for e in CarrierEndpoint.objects.filter(is_active=True, carrier__is_active=True, kind__in=POLLED_KINDS)
    }
    shipments = (
        Shipment.objects.masters()
        .filter(status__in=POLLED_STATUSES, carrier_id__in=list(endpoints))
        .prefetch_related("containers")
    )
    subscriptions = TrackingSubscription.objects.all()
    if shipment_ids is not None:
        shipments = shipments.filter(pk__in=list(shipment_ids))
        subscriptions = subscriptions.filter(shipment_id__in=list(shipment_ids))
    bookings = dict(
        Booking.objects.filter(shipment__in=shipments, status__in=CONFIRMED_BOOKING_STATUSES)
        .exclude(carrier_reference="")
        .values_list("shipment_id", "carrier_reference")
    )
    existing = {(s.shipment_id, s.endpoint_id): s for s in TrackingSubscription.objects.filter(shipment__in=shipments)}
    counts = {"created": 0, "updated": 0, "ended": 0}
    for shipment in shipments:
        if shipment.carrier_id is None:
            continue
        endpoint = endpoints[shipment.carrier_id]
        reference = _reference(shipment, endpoint.kind, bookings)
        if reference is None:
            continue
        subscription = existing.get((shipment.pk, endpoint.pk))
        if subscription is None:
            TrackingSubscription.objects.create(
                shipment=shipment, endpoint=endpoint, reference_type=reference[0], reference=reference[1]
            )
            counts["created"] += 1
        elif (subscription.reference_type, subscription.reference) != reference:
            # Another query: the old cursor would skip the new reference's events created before it, and the
            # adapter's state (a tracker, the demo's plan) was about the old one. Events seen again are duplicates.
            TrackingSubscription.objects.filter(pk=subscription.pk).update(
                reference_type=reference[0], reference=reference[1], is_active=True, next_poll_at=timezone.now(),
                cursor_created_at=None, state={},
            )  # fmt: skip
            counts["updated"] += 1
        elif not subscription.is_active:
            TrackingSubscription.objects.filter(pk=subscription.pk).update(is_active=True, next_poll_at=timezone.now())
            counts["updated"] += 1
    counts["ended"] = (
        subscriptions.filter(is_active=True)
        .filter(
            ~Q(shipment__status__in=POLLED_STATUSES)  # delivered, cancelled, or back in planning
            | ~Q(endpoint__carrier_id=F("shipment__carrier_id"))  # booked with another carrier, or with none now
            | Q(endpoint__is_active=False)
            | Q(endpoint__carrier__is_active=False)  # a deactivated partner is not polled
        )
        .update(is_active=False)
    )
    return counts


def subscriptions_claim_due(*, kinds: tuple[str, ...] = POLLED_KINDS, limit: int = CLAIM_LIMIT) -> list[int]:
    """Claim the due subscriptions of these adapter kinds: their next time moves LEASE ahead; returns ids.
    Not those of an endpoint or a carrier switched off in the console: `subscriptions_sync` ends them within five
    minutes, and until then they are not polled either."""
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE tracking_trackingsubscription AS s SET next_poll_at = %(lease)s
            WHERE s.id IN (
                SELECT s2.id FROM tracking_trackingsubscription s2
                JOIN tracking_carrierendpoint e ON e.id = s2.endpoint_id
                JOIN partners_organisation c ON c.id = e.carrier_id
                WHERE s2.is_active AND s2.next_poll_at <= %(now)s AND e.kind = ANY(%(kinds)s)
                  AND e.is_active AND c.is_active
                ORDER BY s2.next_poll_at LIMIT %(limit)s
                FOR UPDATE OF s2 SKIP LOCKED)
            RETURNING s.id
            """,
            {"now": now, "lease": now + LEASE, "kinds": list(kinds), "limit": limit},
        )
        return sorted(row[0] for row in cursor.fetchall())


# --- cadence and failures -------------------------------------------------------------------------------


def next_milestone_at(shipment_id: int) -> datetime.datetime | None:
    """The earliest departure or arrival still to happen: planned on the legs, or the latest ETA."""
    upcoming: list[datetime.datetime] = []
    arriving = False
    for leg in Leg.objects.filter(shipment_id=shipment_id):
        if leg.actual_departure_at is None and leg.planned_departure_at:
            upcoming.append(leg.planned_departure_at)
        elif leg.actual_arrival_at is None and leg.planned_arrival_at:
            upcoming.append(leg.planned_arrival_at)
        arriving = arriving or leg.actual_arrival_at is None
    eta = (
        EtaHistory.objects.filter(shipment_id=shipment_id, milestone="ARRIVED").order_by("-reported_at", "-id").first()
    )
    if eta is not None and arriving:
        upcoming.append(eta.estimated_at)
    return min(upcoming) if upcoming else None


def cadence(shipment_id: int, *, now: datetime.datetime) -> datetime.timedelta:
    """How long until the next poll: the closer the next milestone, the more often."""
    next_at = next_milestone_at(shipment_id)
    if next_at is None:
        return datetime.timedelta(hours=6)
    until = next_at - now
    if until <= datetime.timedelta(hours=6):
        # due or overdue: often, but a milestone days overdue is a question for people, not for polling
        return datetime.timedelta(minutes=15) if until > -datetime.timedelta(days=3) else datetime.timedelta(hours=1)
    if until <= datetime.timedelta(hours=48):
        return datetime.timedelta(hours=1)
    return datetime.timedelta(hours=6)


def backoff(failures: int) -> datetime.timedelta:
    """Exponential from BACKOFF_BASE, capped at BACKOFF_MAX, with jitter (half to full), so a carrier
    coming back is not met by every subscription at the same second."""
    ceiling = min(BACKOFF_MAX.total_seconds(), BACKOFF_BASE.total_seconds() * 2 ** max(failures - 1, 0))
    return datetime.timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not security


@dataclass
class PollOutcome:
    ok: bool
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    error: str = ""


def _source_for(subscription: TrackingSubscription) -> Source:
    endpoint = subscription.endpoint
    kinds: dict[str, str] = {AdapterKind.DCSA: SourceKind.DCSA, AdapterKind.KARRIO: SourceKind.KARRIO}
    kind = kinds.get(endpoint.kind, SourceKind.SIMULATED)
    return Source(kind=kind, name=endpoint.carrier.code, partner_id=endpoint.carrier_id, channel=Channel.SYSTEM)


def _record_failure(subscription: TrackingSubscription, exc: PollError, now: datetime.datetime) -> None:
    failures = subscription.consecutive_failures + (0 if isinstance(exc, RateLimited) and not exc.from_carrier else 1)
    if isinstance(exc, RateLimited):
        wait = datetime.timedelta(seconds=exc.retry_after)
        next_at = now + wait + datetime.timedelta(seconds=random.uniform(0, 5))  # noqa: S311 - jitter
        if exc.from_carrier:
            CarrierEndpoint.objects.filter(pk=subscription.endpoint_id).update(blocked_until=now + wait)
    else:
        next_at = now + backoff(failures)
    stale = failures >= STALE_AFTER or (
        subscription.last_success_at is not None and now - subscription.last_success_at > STALE_AGE and failures > 0
    )
    TrackingSubscription.objects.filter(pk=subscription.pk).update(
        last_polled_at=now,
        consecutive_failures=failures,
        last_error=str(exc)[:300],
        next_poll_at=next_at,
        is_stale=stale or subscription.is_stale,
        stale_since=subscription.stale_since or (now if stale else None),
    )
    logger.warning("tracking: poll of %s failed (%d in a row): %s", subscription, failures, exc)


def subscription_poll(*, subscription_id: int) -> PollOutcome:
    """Poll one subscription now (see the module docstring). Safe to run twice: events are stored once."""
    subscription = (
        TrackingSubscription.objects.select_related("endpoint__carrier", "shipment").filter(pk=subscription_id).first()
    )
    if subscription is None or not subscription.is_active:
        return PollOutcome(ok=False, error="no such active subscription")
    if not (subscription.endpoint.is_active and subscription.endpoint.carrier.is_active):
        # Switched off in the console since the claim (or the sync): no request; ended now, as the sync would.
        TrackingSubscription.objects.filter(pk=subscription.pk).update(is_active=False)
        return PollOutcome(ok=False, error="the carrier or its endpoint is switched off")
    adapter = adapters.tracking_adapter(subscription.endpoint)
    now = timezone.now()
    if subscription.cursor_created_at and subscription.cursor_created_at > now:
        # Only an event stored before reported times were capped at receipt can have put the cursor here; asking
        # for events created after it would hide every real one. Ask again from the start (duplicates are
        # stored once); the cursor then moves to the newest event seen, never past now (services._checked).
        logger.warning(
            "tracking: %s had its cursor in the future (%s); polled from the start",
            subscription,
            subscription.cursor_created_at,
        )
        subscription.cursor_created_at = None
    source, outcome, newest = _source_for(subscription), PollOutcome(ok=True), subscription.cursor_created_at
    try:
        for page in adapter.poll(subscription, take_token=token_taker(subscription.endpoint_id)):
            result: IngestResult = events_ingest(
                events=page.events, source=source, shipment_hint=subscription.shipment_id, rejected=page.rejected
            )
            outcome.stored, outcome.duplicates = outcome.stored + result.stored, outcome.duplicates + result.duplicates
            outcome.rejected += len(result.rejected)
            for index, message in result.rejected:
                logger.warning("tracking: %s sent an unreadable event (#%s): %s", subscription.endpoint, index, message)
            if result.newest_reported_at and (newest is None or result.newest_reported_at > newest):
                newest = result.newest_reported_at
    except PollError as exc:
        _record_failure(subscription, exc, timezone.now())
        return PollOutcome(ok=False, stored=outcome.stored, duplicates=outcome.duplicates, error=str(exc))
    done = timezone.now()
    later = adapter.next_poll_in(subscription) or cadence(subscription.shipment_id, now=done)
    TrackingSubscription.objects.filter(pk=subscription.pk).update(
        last_polled_at=now,
        last_success_at=done,
        consecutive_failures=0,
        last_error="",
        is_stale=False,
        stale_since=None,
        cursor_created_at=newest,
        next_poll_at=done + later,
        state=subscription.state,
    )
    return outcome
