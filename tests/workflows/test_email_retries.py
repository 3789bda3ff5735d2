"""Review G (defects 4, 5): a notification's email copy is neither lost when the worker dies during the send,
nor when the mail server refuses for longer than the task retries (greylisting, a restart): its send is a lease,
its retries last about an hour, and a beat sweep sends what is left unsent."""

from __future__ import annotations

import datetime
import smtplib
import time
import uuid
from unittest import mock

import pytest
import redis
from celery.exceptions import Retry
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from oms.celery import app
from tests.worker_process import kill_worker, start_worker_process, wait_for
from tracking.exceptions.tasks import email_exception_to_customer
from workflows import tasks
from workflows.models import Notification
from workflows.tasks import send_notification_email, send_unsent_notification_emails

A_MAIL_OUTAGE = datetime.timedelta(minutes=15)  # a restart, a greylisting window, a provider's hiccup
QUEUE = f"test-email-lease-{uuid.uuid4().hex[:8]}"


def longest_retry_window(task) -> datetime.timedelta:
    """The longest Celery waits in all before the last retry (the jitter only shortens these waits)."""
    factor = int(max(1.0, float(task.retry_backoff)))
    maximum = getattr(task, "retry_backoff_max", 600)
    waits = [
        get_exponential_backoff_interval(factor=factor, retries=n, maximum=maximum, full_jitter=False)
        for n in range(task.max_retries)
    ]
    return datetime.timedelta(seconds=sum(waits))


@pytest.fixture
def note(ops_user) -> Notification:
    return Notification.objects.create(
        recipient=ops_user, kind="escalated", title="Task overdue", body="Check it", email_wanted=True
    )


@pytest.mark.parametrize("task", [send_notification_email, email_exception_to_customer], ids=lambda t: t.name)
def test_an_email_task_outlasts_a_short_mail_server_outage(task):
    window = longest_retry_window(task)
    assert window >= A_MAIL_OUTAGE, f"{task.name} gives up {window.total_seconds():.0f} s after the first failure"
    # and its longest wait stays far below the broker's visibility timeout (2 h)
    assert task.retry_backoff_max < settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 7200)


def test_an_email_whose_retries_ran_out_is_sent_once_the_mail_server_is_back(note, ops_user):
    refused = smtplib.SMTPRecipientsRefused({ops_user.email: (451, b"4.7.1 Greylisted, try again in 5 minutes")})
    with mock.patch("workflows.tasks.send_mail", side_effect=refused), pytest.raises(Retry):
        send_notification_email.delay(note.pk)  # eager (propagating): the first failure raises; no retry runs
    note.refresh_from_db()
    assert note.emailed_at is None
    assert note.email_attempts == 1
    assert note.email_claimed_at is None
    mail.outbox.clear()
    # The mail server accepts mail again. Every periodic task of the workflow runs once, as beat would.
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        if entry["task"].startswith("workflows."):
            app.tasks[entry["task"]].apply()
    note.refresh_from_db()
    assert note.emailed_at is not None, "the notification's email is never sent"
    assert len(mail.outbox) == 1
    send_unsent_notification_emails.apply()
    assert len(mail.outbox) == 1  # sent once


def test_a_retry_keeps_the_lease_and_another_message_leaves_it_alone(note, ops_user):
    """On a worker, a refused send keeps the lease for its retry (the same task id): the sweep and any other
    message send nothing meanwhile, and the retry sends."""
    mail.outbox.clear()
    send_notification_email.push_request(id="first", retries=0, is_eager=False)
    try:
        with (
            mock.patch.object(tasks, "send_mail", side_effect=smtplib.SMTPServerDisconnected("gone")),
            pytest.raises(smtplib.SMTPServerDisconnected),
        ):
            send_notification_email._orig_run(note.pk)  # the run itself; autoretry would queue the retry
        note.refresh_from_db()
        assert note.email_claimed_by == "first"
        assert note.email_attempts == 1
        assert send_unsent_notification_emails.apply().get() == 0
        send_notification_email.apply(args=[note.pk], task_id="another-message")
        assert mail.outbox == []
        send_notification_email._orig_run(note.pk)  # the retry
    finally:
        send_notification_email.pop_request()
    note.refresh_from_db()
    assert note.emailed_at is not None
    assert len(mail.outbox) == 1


def test_the_sweep_takes_over_a_lease_left_by_a_dead_worker_and_leaves_a_live_one(note):
    now = timezone.now()
    Notification.objects.filter(pk=note.pk).update(email_claimed_at=now, email_claimed_by="a-live-task")
    mail.outbox.clear()
    assert send_unsent_notification_emails.apply().get() == 0
    send_notification_email.apply(args=[note.pk])  # another message
    assert mail.outbox == []
    Notification.objects.filter(pk=note.pk).update(email_claimed_at=now - tasks.EMAIL_LEASE - datetime.timedelta(1))
    assert send_unsent_notification_emails.apply().get() == 1
    note.refresh_from_db()
    assert note.emailed_at is not None
    assert note.email_claimed_at is None
    assert len(mail.outbox) == 1


def test_a_copy_that_failed_too_often_is_given_up(note, caplog):
    Notification.objects.filter(pk=note.pk).update(email_attempts=tasks.EMAIL_ATTEMPTS - 1)
    with (
        mock.patch.object(tasks, "send_mail", side_effect=ValueError("a bad address")),
        pytest.raises(ValueError, match="bad address"),
    ):
        send_notification_email.apply(args=[note.pk], throw=True)
    assert any(r.levelname == "ERROR" and "given up" in r.getMessage() for r in caplog.records)
    assert send_unsent_notification_emails.apply().get() == 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_notification_email_is_sent_after_the_worker_died_mid_send(ops_user, tmp_path):
    """The pool child dies after the lease is taken and before the SMTP send (site_link runs between the two): the
    redelivered message (the same task id) takes the lease over and sends the mail."""
    note = Notification.objects.create(
        recipient=ops_user, kind="escalated", title="Task overdue", body="Check it", email_wanted=True
    )
    deaths, mail_dir = tmp_path / "deaths", tmp_path / "mail"
    deaths.write_text("1")
    mail_dir.mkdir()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    connection.close()
    worker = start_worker_process(
        QUEUE, "tests.oms.worker_guard_settings",
        OMS_TEST_DIE_IN="workflows.tasks:site_link", OMS_TEST_DEATHS=str(deaths), OMS_TEST_MAIL_DIR=str(mail_dir),
    )  # fmt: skip
    try:
        send_notification_email.apply_async((note.pk,), queue=QUEUE)
        assert wait_for(lambda: deaths.read_text() == "0", timeout=30), "the child never died"
        assert wait_for(lambda: any(mail_dir.iterdir()), timeout=20), "no email was sent after the death"
        time.sleep(0.5)
        assert worker.poll() is None, "the worker itself died"
    finally:
        kill_worker(worker)
        app.conf.task_always_eager = eager
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)
    note.refresh_from_db()
    assert note.emailed_at is not None
    assert note.email_claimed_at is None
    assert len(list(mail_dir.iterdir())) == 1
