"""Celery tasks of the workflow: thin, idempotent, safe to run twice or to be killed half-way.

Periodic (CELERY_BEAT_SCHEDULE): catch up transitions, drain tracking records, open scheduled tasks, escalate
overdue ones.
Queued: draining the queue of order transitions (asked for by the processes that made them), the email copy
of a notification, and draining the queue of what carrier tracking reported (milestones, ETD/ETA: queued in
each ingest batch's transaction by workflows.receivers, drained when the batch commits and every minute).
"""

from __future__ import annotations

import datetime
import smtplib
from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.core.mail import send_mail
from django.db import OperationalError
from django.utils import timezone

from oms.links import site_link
from workflows import services
from workflows.models import Notification
from workflows.services import milestones, triggers

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
        linger=linger_seconds, budget=triggers.DRAIN_BUDGET, retry_if_busy=retry and linger_seconds > 0
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
    taken, out_of_time = milestones.tracking_records_drain(budget=triggers.DRAIN_BUDGET)
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


@shared_task(name="workflows.tasks.send_notification_email", ignore_result=True,
             autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=True, retry_jitter=True,
             max_retries=5)  # fmt: skip
def send_notification_email(notification_id: int) -> None:
    """Email a notification's copy at most once: the send is claimed by setting `emailed_at` first, and the
    claim is undone if the mail server refuses, so the retry can send it. Nobody deactivated meanwhile is
    emailed (their copy stays unsent)."""
    claimed = Notification.objects.filter(
        pk=notification_id, email_wanted=True, emailed_at__isnull=True, recipient__is_active=True
    ).update(emailed_at=timezone.now())
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
    except BaseException:
        # Refused, timed out (EMAIL_TIMEOUT) or stopped by the task's time limit: undo the claim, so the retry
        # (or a later run) can send it; a claim left behind would lose the mail for good.
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        raise
