"""A rule that says "notify the customer" reaches the customers whose cargo a consolidation's hold stops: each
customer on it once, naming their own orders, with a retry or a redelivered message emailing nobody twice."""

from unittest import mock

import pytest
from django.core import mail

from tests.tracking.exceptions.conftest import H, detect, ingest
from tests.tracking.exceptions.test_consolidation import consolidated
from tests.tracking.test_ingest_support import NOW, oms_event
from tracking.exceptions import tasks
from tracking.exceptions.models import ExceptionKind, ExceptionRule, ShipmentException

__all__ = ["consolidated"]


@pytest.fixture
def customers_with_email(customer_a, customer_b):
    customer_a.email, customer_b.email = "ops@acme.test", "ops@globex.test"
    customer_a.save(), customer_b.save()
    return customer_a, customer_b


def _hold(master):
    ingest(oms_event("CUSTOMS_HOLD", NOW - 5 * H, subject=("shipment", master.reference)))
    detect(master)
    return ShipmentException.objects.get(shipment=master, kind=ExceptionKind.CUSTOMS_HOLD)


def _told():
    return sorted(address for message in mail.outbox for address in message.to if address.startswith("ops@"))


def test_a_hold_on_a_consolidation_emails_every_customer_on_it_when_the_rule_says_so(
    consolidated, customers_with_email, django_capture_on_commit_callbacks, settings
):
    settings.OMS_SITE_URL = "https://oms.example.com"
    master, acme_house, globex_house = consolidated
    ExceptionRule.objects.filter(kind=ExceptionKind.CUSTOMS_HOLD).update(notify_customer=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        hold = _hold(master)
    assert hold.notify_customer
    assert hold.customer_id is None
    assert _told() == ["ops@acme.test", "ops@globex.test"], f"customers emailed: {_told()}"
    to_acme = next(message for message in mail.outbox if message.to == ["ops@acme.test"])
    assert acme_house.order.reference in to_acme.body
    assert globex_house.order.reference not in to_acme.body
    assert f"/tracking/orders/{acme_house.order.reference}/" in to_acme.body  # its order's timeline

    tasks.email_exception_to_customer.apply(args=[hold.pk])  # redelivered
    assert len(_told()) == 2
    assert hold.entries.filter(verb="notified").count() == 2


def test_a_customers_own_rule_decides_for_that_customer(
    consolidated, customers_with_email, django_capture_on_commit_callbacks
):
    master, *_ = consolidated
    customer_a, _customer_b = customers_with_email
    ExceptionRule.objects.create(kind=ExceptionKind.CUSTOMS_HOLD, customer=customer_a, notify_customer=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _hold(master)
    assert _told() == ["ops@acme.test"]


def test_a_failed_send_is_retried_for_the_customers_not_yet_told(
    consolidated, customers_with_email, django_capture_on_commit_callbacks
):
    master, *_ = consolidated
    ExceptionRule.objects.filter(kind=ExceptionKind.CUSTOMS_HOLD).update(notify_customer=True)
    with mock.patch.object(tasks.email_exception_to_customer, "delay_on_commit"):
        hold = _hold(master)
    mail.outbox.clear()
    real_send, calls = mail.EmailMultiAlternatives.send, []

    def second_fails(message, *args, **kwargs):
        calls.append(message.to)
        if len(calls) == 2:
            raise OSError("mail server down")
        return real_send(message, *args, **kwargs)

    with (
        mock.patch("django.core.mail.EmailMultiAlternatives.send", second_fails),
        pytest.raises(OSError, match="mail server down"),
    ):
        tasks.email_exception_to_customer.apply(args=[hold.pk], throw=True, retries=10)  # the last retry
    assert _told() == ["ops@acme.test"]
    tasks.email_exception_to_customer.apply(args=[hold.pk])  # the retry
    assert _told() == ["ops@acme.test", "ops@globex.test"]
