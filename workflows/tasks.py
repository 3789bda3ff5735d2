"""Celery tasks of the workflow: thin, idempotent, safe to run twice or to be killed half-way.

Periodic (CELERY_BEAT_SCHEDULE): catch up transitions, drain tracking records, open scheduled tasks, escalate
overdue ones, send the email copies left unsent.
Queued: draining the queue of order transitions (asked for by the processes that made them), the email copy
of a notification, and draining the queue of what carrier tracking reported (milestones, ETD/ETA: queued in
each ingest batch's transaction by workflows.receivers, drained when the batch commits and every minute).
"""

from __future__ import annotations

import datetime
import logging
import smtplib
from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.mail import send_mail
from django.db import OperationalError
from django.db.models import F, Q
from django.utils import timezone

from oms.links import site_link
from workflows import services
from workflows.models import Notification
from workflows.services import milestones, transition_queue

logger = logging.getLogger(__name__)
_TRANSIENT = (OperationalError,)


@shared_task(name="workflows.tasks.process_pending_transitions", ignore_result=True,
             autoretry_for=_TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=5)  # fmt: skip
def process_pending_transitions(older_than_seconds: int = 30) -> int:
    """Drain the queue of order transitions, then handle those whose on-commit handling was lost (a process
    died right after commit) or failed; younger ones are left to the process that made them."""
    return services.pending_transitions_process(older_than=datetime.timedelta(seconds=older_than_seconds))


@shared_task(name="workflows.tasks.handle_queued_transitions", ignore_result=True,
             autoretry_for=_TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=5)  # fmt: skip
def handle_queued_transitions(linger_seconds: float = 0.0, retry: bool = True) -> int:
    """Handle the queued order transitions (those made through the API, webhooks and files) in batches, until
    the queue has been empty for `linger_seconds`, handing over to a fresh task after a minute of a long
    burst. Safe to run twice or at once on several workers: one drains, the others return at once (asking
    once more a moment later, when `retry`), and a worker killed mid-batch leaves that batch queued."""
    return services.queued_transitions_drain(
        linger=linger_seconds, budget=transition_queue.DRAIN_BUDGET, retry_if_busy=retry and linger_seconds > 0
    )


def _retry_later(task: Any, **kwargs: Any) -> None:
    """Retry `task` with only these arguments (what failed), after an exponential backoff with jitter."""
    countdown = get_exponential_backoff_interval(factor=2, retries=task.request.retries, maximum=600, full_jitter=True)
    raise task.retry(kwargs=kwargs, countdown=countdown)


@shared_task(name="workflows.tasks.handle_tracking_records", ignore_result=True,
             autoretry_for=_TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=5)  # fmt: skip
def handle_tracking_records() -> int:
    """Act on the queued milestones and ETD/ETA of carrier tracking (QueuedTrackingRecord), a batch at a time,
    until none is available; asked for by each ingest batch's commit, and run by the beat every minute. Several
    may run at once; one killed mid-batch leaves that batch to a later drain. Hands over to a fresh task after a
    minute of a long backlog."""
    taken, out_of_time = milestones.tracking_records_drain(budget=transition_queue.DRAIN_BUDGET)
    if out_of_time:
        handle_tracking_records.delay()
    return taken


# record_milestones and record_estimates carried the records in their messages until the queue table above
# replaced them (sixth session); they stay for the messages a broker may still hold from before the upgrade.


@shared_task(name="workflows.tasks.record_milestones", bind=True, ignore_result=True,
             autoretry_for=_TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=5)  # fmt: skip
def record_milestones(self: Any, records: list[list[Any]]) -> None:
    """What the milestones of one tracking batch set off, per order: tasks completed and created, milestone
    rules run ([order id, code, tracking event id] each). Safe to run twice; the records that failed on the
    database are retried on their own."""
    failed = milestones.milestones_record(records=records)
    if failed:
        _retry_later(self, records=failed)


@shared_task(name="workflows.tasks.record_estimates", bind=True, ignore_result=True,
             autoretry_for=_TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=5)  # fmt: skip
def record_estimates(self: Any, changes: list[list[Any]]) -> None:
    """The ETD/ETA of the orders one tracking batch changed, recorded as key dates (tasks timed from them
    are scheduled or moved); [order id, code, estimated at] each. Safe to run twice, or late."""
    failed = milestones.estimates_record(changes=changes)
    if failed:
        _retry_later(self, changes=failed)


@shared_task(name="workflows.tasks.open_scheduled_tasks", ignore_result=True,
             autoretry_for=_TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=5)  # fmt: skip
def open_scheduled_tasks() -> int:
    """Open the date-triggered tasks whose time has come."""
    return services.scheduled_tasks_open()


@shared_task(name="workflows.tasks.escalate_overdue_tasks", ignore_result=True,
             autoretry_for=_TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=5)  # fmt: skip
def escalate_overdue_tasks() -> int:
    """Tell team leads about overdue tasks, once per task."""
    return services.overdue_tasks_escalate()


# The email tasks retry a mail server that refuses or is away for over an hour: waits of 30 s doubling up to
# 10 min (full jitter), ten retries (about 65 min in all). A greylisting server answers "try again in 5 minutes";
# a restart or a provider's hiccup takes minutes, not the 31 s that Celery's default backoff lasts. Past that,
# the sweep below starts again, until EMAIL_ATTEMPTS failures.
EMAIL_RETRY = {"retry_backoff": 30, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 10}
# A claim on a send is a lease: a worker that holds it for longer than the task's hard time limit is dead.
EMAIL_LEASE = datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
EMAIL_ATTEMPTS = 30  # failed sends after which the sweep stops (logged at ERROR): about three hours of retries
EMAIL_SWEEP_AGE = datetime.timedelta(minutes=2)  # a copy never tried after this long: its message was lost
EMAIL_SWEEP_WINDOW = datetime.timedelta(days=1)  # an email copy older than this is of no use any more


@shared_task(name="workflows.tasks.send_notification_email", bind=True, ignore_result=True,
             autoretry_for=(smtplib.SMTPException, OSError), **EMAIL_RETRY)  # fmt: skip
def send_notification_email(self: Any, notification_id: int) -> None:
    """Email a notification's copy, once as a rule: the send is leased by this task (`email_claimed_at`,
    `email_claimed_by`: its id) and `emailed_at` is set only once the mail server took it.

    - A refusal or a timeout keeps the lease for the retry (the same task id takes it again); the last retry,
      or anything not retried (the time limit), gives it back, for the sweep (send_unsent_notification_emails).
    - A worker killed during the send leaves the lease: the redelivered message (the same task id) sends it,
      and so does the sweep once the lease has run out (EMAIL_LEASE). The price is a rare duplicate mail, when
      the process died after the mail server took it and before `emailed_at` was written; a silent loss is worse.
    - Another message for the same copy (the sweep's) leaves a lease alone while it runs.
    Nobody deactivated meanwhile is emailed (their copy stays unsent)."""
    now = timezone.now()
    mine = self.request.id or ""
    lease_free = Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=now - EMAIL_LEASE)
    if mine:
        lease_free |= Q(email_claimed_by=mine)
    claimed = (
        Notification.objects.filter(
            pk=notification_id, email_wanted=True, emailed_at__isnull=True, recipient__is_active=True
        )
        .filter(lease_free)
        .update(email_claimed_at=now, email_claimed_by=mine)
    )
    if not claimed:
        return
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    link = site_link(notification.url)
    try:
        send_mail(
            subject=f"[OMS] {notification.title}",
            message="\n\n".join(part for part in (notification.body, link) if part),
            from_email=None,
            recipient_list=[notification.recipient.email],
        )
    except BaseException as exc:
        # Refused, timed out (EMAIL_TIMEOUT) or stopped by the task's time limit: counted; the lease is kept only
        # for a retry that follows, so the sweep can take a copy whose retries are over.
        # (Run eagerly, a retry is run at once or not at all: nothing to keep the lease for.)
        retried = (
            isinstance(exc, (smtplib.SMTPException, OSError))
            and self.request.retries < self.max_retries
            and not self.request.is_eager
        )
        changes: dict[str, Any] = {"email_attempts": F("email_attempts") + 1}
        if not retried:
            changes.update(email_claimed_at=None, email_claimed_by="")
        Notification.objects.filter(pk=notification_id).update(**changes)
        if not retried:
            attempts = Notification.objects.values_list("email_attempts", flat=True).get(pk=notification_id)
            if attempts >= EMAIL_ATTEMPTS:
                logger.error("The email copy of notification %s failed %d times: given up", notification_id, attempts)
            else:
                logger.warning("The email copy of notification %s was not sent; the sweep tries again", notification_id)
        raise
    Notification.objects.filter(pk=notification_id).update(
        emailed_at=timezone.now(), email_claimed_at=None, email_claimed_by=""
    )


@shared_task(name="workflows.tasks.send_unsent_notification_emails", ignore_result=True,
             autoretry_for=_TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=5)  # fmt: skip
def send_unsent_notification_emails(limit: int = 500) -> int:
    """Queue the email copies that are wanted and not sent (the beat, every few minutes): those whose retries ran
        out (a mail server away for longer), whose worker died during the send (a lease run out), or whose message was
        lost. One that failed EMAIL_ATTEMPTS times is given up (the task logged it at ERROR): it stays in-app, with its
    `email_attempts`, unsent. How many were queued."""
    now = timezone.now()
    unsent = (
        Notification.objects.filter(
            email_wanted=True, emailed_at__isnull=True, created_at__gte=now - EMAIL_SWEEP_WINDOW,
            recipient__is_active=True,
        )
        .filter(Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=now - EMAIL_LEASE))
        .filter(Q(email_attempts__gt=0) | Q(created_at__lt=now - EMAIL_SWEEP_AGE) | Q(email_claimed_at__isnull=False))
    )  # fmt: skip
    ids = list(
        unsent.filter(email_attempts__lt=EMAIL_ATTEMPTS).order_by("created_at").values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        send_notification_email.delay(pk)
    return len(ids)
