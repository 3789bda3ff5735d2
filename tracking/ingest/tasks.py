"""Tracking's Celery tasks: thin, named for their effect, safe to run twice, on the `tracking` queue.

Schedules live in settings.CELERY_BEAT_SCHEDULE (with `"options": {"queue": "tracking"}`); tasks queued from
code name the queue too (QUEUE), because the task routes match `tracking.tasks.*` and these live one level
down. Long waits (Retry-After, backoff) are a subscription's `next_poll_at` read by the next beat, never a
countdown longer than the broker's visibility timeout.
Tasks ack late and are requeued if their worker dies (settings): a poll that is redelivered stores
nothing twice, because every event is stored at most once.
"""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from tracking.ingest import polling, relinking, remapping
from tracking.ingest.models import AdapterKind, RejectedDelivery

logger = logging.getLogger(__name__)
QUEUE = "tracking"
_TRANSIENT_DB = (OperationalError, InterfaceError)  # the database restarting: retry with backoff, then give up


@shared_task(name="tracking.ingest.tasks.sync_tracking_subscriptions", ignore_result=True)
def sync_tracking_subscriptions() -> None:
    """Poll exactly the active shipments of carriers with a tracking endpoint."""
    counts = polling.subscriptions_sync()
    if any(counts.values()):
        logger.info("tracking: subscriptions %s", counts)


@shared_task(name="tracking.ingest.tasks.poll_due_subscriptions", ignore_result=True)
def poll_due_subscriptions() -> None:
    """Queue a poll for every carrier subscription whose time has come (claimed with a lease first)."""
    for subscription_id in polling.subscriptions_claim_due(kinds=(AdapterKind.DCSA, AdapterKind.KARRIO)):
        poll_carrier_events.apply_async(args=[subscription_id], queue=QUEUE)


@shared_task(
    name="tracking.ingest.tasks.poll_carrier_events",
    ignore_result=True,
    acks_late=True,
    autoretry_for=_TRANSIENT_DB,
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def poll_carrier_events(subscription_id: int) -> None:
    """Fetch and store what the carrier has for one shipment. Carrier errors are recorded on the
    subscription (backoff, stale flag), not raised: a carrier that is down is no reason to retry the task."""
    polling.subscription_poll(subscription_id=subscription_id)


@shared_task(name="tracking.ingest.tasks.advance_simulated_carrier", ignore_result=True)
def advance_simulated_carrier() -> None:
    """Send the due steps of the demo carrier's shipments (no network: done here, one after the other)."""
    polling.subscriptions_sync()
    for subscription_id in polling.subscriptions_claim_due(kinds=(AdapterKind.SIMULATED,)):
        polling.subscription_poll(subscription_id=subscription_id)


@shared_task(
    name="tracking.ingest.tasks.sync_order_status",
    ignore_result=True,
    acks_late=True,
    autoretry_for=_TRANSIENT_DB,
    retry_backoff=True,
    max_retries=5,
)
def sync_order_status(order_id: int) -> None:
    """Bring an order up to the status its actual events imply (after it was planned or released)."""
    remapping.order_status_sync(order_id=order_id)


@shared_task(name="tracking.ingest.tasks.catch_up_orders", ignore_result=True)
def catch_up_orders() -> None:
    """Orders whose milestones are ahead of their status move on once the lifecycle lets them."""
    moved = remapping.orders_catch_up()
    if moved:
        logger.info("tracking: %d orders caught up with their milestones", moved)


@shared_task(name="tracking.ingest.tasks.remap_events", ignore_result=True, acks_late=True)
def remap_events(scheme: str, code: str, partner_id: int | None = None) -> None:
    """Re-map the stored events of one code (admin action on many events)."""
    remapping.events_remap(scheme=scheme, code=code, partner_id=partner_id)


@shared_task(
    name="tracking.ingest.tasks.relink_events",
    ignore_result=True,
    acks_late=True,
    autoretry_for=_TRANSIENT_DB,
    # A database restart or failover can take minutes: waits of 15 s doubling up to 5 min, eight retries (about
    # 20 min in all); past that, relink_held_events (beat) attaches what is still held.
    retry_backoff=15,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def relink_events(references: list[list[str]]) -> None:
    """Attach the events held for references just recorded (a container number, a booking, a bill number)."""
    relinking.events_relink(references=[(kind, value) for kind, value in references])


@shared_task(name="tracking.ingest.tasks.relink_held_events", ignore_result=True)
def relink_held_events() -> None:
    """Attach held events whose reference is known by now (the beat): what a relink_events that was lost, or whose
    retries ran out, left held. A slice of the held references at a time, round the index."""
    attached = relinking.events_relink_held()
    if attached:
        logger.info("tracking: %d held events attached by the sweep", attached)


@shared_task(name="tracking.ingest.tasks.delete_old_problem_deliveries", ignore_result=True)
def delete_old_problem_deliveries() -> int:
    """Delete the webhook deliveries with problems kept longer than OMS_TRACKING_PROBLEM_DELIVERY_DAYS (beat, daily;
    0 keeps them). Their events, stored or not, are not touched: a record is what the sender got wrong, for the days
    someone may still look into it. Safe to run twice."""
    days = settings.OMS_TRACKING_PROBLEM_DELIVERY_DAYS
    if days <= 0:
        return 0
    deleted, _ = RejectedDelivery.objects.filter(
        received_at__lt=timezone.now() - datetime.timedelta(days=days)
    ).delete()
    if deleted:
        logger.info("tracking: %d webhook deliveries with problems older than %d days deleted", deleted, days)
    return deleted
