"""Review G (defects 4, 6): the exceptions' after-commit work survives a broker that is away and a worker that
dies during a customer's email.

- Resolving an exception while Redis is away: the resolution is committed and the person sees no error; the
  next scan announces the resolution, so the order its rule held is released.
- A customer's email whose worker died during the send: the claim is a lease, taken over by the redelivered
  message and, once it has run out, by the scan's sweep."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from orders.models import Order, OrderStatus
from tests.tracking.exceptions import test_holds_released as holds
from tests.tracking.exceptions.conftest import detect
from tracking.exceptions import tasks
from tracking.exceptions.models import ShipmentException
from tracking.exceptions.services import customer_emails, detection
from workflows import tasks as workflow_tasks

hold_rule, run, resolve = holds.hold_rule, holds.run, holds.resolve  # its fixtures and helper


def _broker_down(*args, **kwargs):
    raise BrokerOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_resolving_an_exception_while_the_broker_is_down_still_releases_the_order_later(
    booked_fcl,
    ops_team,
    ops_user,
    hold_rule,
    run,
    monkeypatch,
):
    order, master = booked_fcl
    before = order.status
    with run():
        detect(master)  # the departure is overdue: the exception opens and its rule holds the order
    exception = ShipmentException.objects.get()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD

    with monkeypatch.context() as m:
        m.setattr(tasks.announce_exceptions, "apply_async", _broker_down)
        with run():
            resolve(exception, ops_user)  # no error for the person: the resolution is committed
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert exception.resolved_announced_at is None
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD

    # The broker is back; every periodic sweep runs, as beat would over the next minutes.
    with run():
        detection.exceptions_scan()
        workflow_tasks.process_pending_transitions.apply(kwargs={"older_than_seconds": 0})
        workflow_tasks.handle_tracking_records.apply()

    assert Order.objects.get(pk=order.pk).status == before, "the order stays on hold for an exception now resolved"


def _die_during_the_send(customer_notice):
    """A worker claims the email and is killed before the mail server takes it: the claim is left behind."""
    with (
        mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=SystemExit("killed")),
        mock.patch.object(customer_emails, "exception_customer_email_unclaim_for"),  # a SIGKILL runs no `except`
        pytest.raises(SystemExit),
    ):
        tasks.email_exception_to_customer.apply(args=[customer_notice.pk], throw=True)
    (claim,) = customer_notice.entries.filter(verb="notified")
    assert claim.text == f"Customer {customer_notice.customer.code} being emailed (ops@acme.test)."
    return claim


def test_the_redelivered_message_sends_the_customers_email_its_dead_worker_claimed(customer_notice):
    _die_during_the_send(customer_notice)
    tasks.email_exception_to_customer.apply(args=[customer_notice.pk])  # another message: the lease is live
    assert mail.outbox == []
    task = tasks.email_exception_to_customer
    task.push_request(id="the-same-message", delivery_info={"redelivered": True, "routing_key": "tracking"})
    try:
        task._orig_run(customer_notice.pk)  # the message handed back to another process
    finally:
        task.pop_request()
    assert len(mail.outbox) == 1
    (entry,) = customer_notice.entries.filter(verb="notified")
    assert entry.text == f"Customer {customer_notice.customer.code} emailed (ops@acme.test)."
    customer_notice.refresh_from_db()
    assert customer_notice.customer_notified_at is not None
    tasks.email_exception_to_customer.apply(args=[customer_notice.pk])
    assert len(mail.outbox) == 1  # told once


def test_the_scans_sweep_sends_a_customers_email_whose_lease_ran_out(
    customer_notice, django_capture_on_commit_callbacks
):
    claim = _die_during_the_send(customer_notice)
    ShipmentException.objects.filter(pk=customer_notice.pk).update(
        announced_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    from oms.celery import app

    app.conf.task_always_eager = True
    try:
        assert customer_emails.exception_customer_emails_resend() == []  # the lease is live: a worker may still send
        claim.at = timezone.now() - customer_emails.EMAIL_LEASE - datetime.timedelta(minutes=1)
        claim.save(update_fields=["at"])
        assert customer_emails.exception_customer_emails_resend() == [customer_notice.pk]
    finally:
        app.conf.task_always_eager = False
    assert len(mail.outbox) == 1
    assert customer_emails.exception_customer_emails_resend() == []  # told: nothing left


def test_the_sweep_sends_an_email_whose_message_was_lost_and_gives_up_after_a_few_rounds(customer_notice, caplog):
    ShipmentException.objects.filter(pk=customer_notice.pk).update(
        announced_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    with mock.patch.object(tasks.email_exception_to_customer, "delay") as queued:
        assert customer_emails.exception_customer_emails_resend() == [customer_notice.pk]
        assert customer_emails.exception_customer_emails_resend() == []  # its task retries for an hour: not again yet
    queued.assert_called_once_with(customer_notice.pk)
