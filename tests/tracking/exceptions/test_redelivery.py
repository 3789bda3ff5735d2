"""A redelivered message (acks late, requeued when its worker is lost) or a retried task tells nobody twice:
the "resolved itself" announcement and the customer's email are claimed, like the opened announcement."""

import zoneinfo
from typing import cast
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from tests.tracking.exceptions.conftest import detect, ingest
from tests.tracking.test_ingest_support import ETD, dcsa_event
from tracking.exceptions import tasks
from tracking.exceptions.models import ShipmentException
from workflows.models import Notification


def test_a_resolved_announcement_delivered_twice_tells_the_owner_once(
    booked_fcl, ops_team, ops_user, django_capture_on_commit_callbacks
):
    _, master = booked_fcl
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"))
        outcome = detect(master)
    assert outcome.resolved
    told = Notification.objects.filter(recipient=ops_user, title__startswith="Resolved itself")
    assert told.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        tasks.announce_exceptions.apply(args=[[], list(outcome.resolved)])  # the same message again
    assert told.count() == 1
    assert ShipmentException.objects.get(pk=outcome.resolved[0]).resolved_announced_at is not None


def test_the_customers_email_delivered_twice_is_sent_once(customer_notice):
    tasks.email_exception_to_customer.apply(args=[customer_notice.pk])
    tasks.email_exception_to_customer.apply(args=[customer_notice.pk])  # redelivered
    assert len(mail.outbox) == 1
    assert customer_notice.entries.filter(verb="notified").count() == 1


def test_a_customer_email_that_fails_is_sent_by_the_retry(customer_notice):
    with (
        mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("mail server down")),
        pytest.raises(OSError, match="mail server down"),
    ):
        tasks.email_exception_to_customer.apply(args=[customer_notice.pk], throw=True, retries=10)  # the last retry
    customer_notice.refresh_from_db()
    assert customer_notice.customer_notified_at is None  # the claim was given back
    tasks.email_exception_to_customer.apply(args=[customer_notice.pk])
    assert len(mail.outbox) == 1


def test_the_customers_email_links_to_the_order_and_names_the_time_zone(customer_notice, settings):
    """The notice links to the order's timeline (the portal's layout for a customer) when OMS_SITE_URL is set, and
    its times are on the customer's own clock (`Organisation.time_zone`), as the portal shows them, named by its
    IANA name. It was on the server's zone (Europe/Berlin here), named "CET": the customer read our clock, and an
    abbreviation is ambiguous (CST is Chicago's and Shanghai's)."""
    settings.OMS_SITE_URL = "https://oms.example.com"
    settings.TIME_ZONE = "Europe/Berlin"
    customer_notice.customer.time_zone = "America/Chicago"
    customer_notice.customer.save(update_fields=["time_zone"])
    tasks.email_exception_to_customer.apply(args=[customer_notice.pk])
    (message,) = cast(list[EmailMultiAlternatives], mail.outbox)
    html = cast(str, message.alternatives[0][0])
    link = f"https://oms.example.com/tracking/orders/{customer_notice.order.reference}/"
    assert f"Follow it here: {link}" in message.body
    assert f'href="{link}"' in html
    opened = timezone.localtime(customer_notice.opened_at, zoneinfo.ZoneInfo("America/Chicago"))
    said = f"reported on {opened:%a} {opened.day} {opened:%b %Y, %H:%M} America/Chicago."
    assert said in message.body
    assert said in html
    berlin = timezone.localtime(customer_notice.opened_at, zoneinfo.ZoneInfo("Europe/Berlin"))
    assert f"{berlin:%H:%M}" not in message.body
    assert "UTC" not in message.body


def test_without_a_site_address_the_customers_email_has_no_link(customer_notice, settings):
    settings.OMS_SITE_URL = ""
    tasks.email_exception_to_customer.apply(args=[customer_notice.pk])
    (message,) = cast(list[EmailMultiAlternatives], mail.outbox)
    assert "http" not in message.body
    assert "Follow" not in cast(str, message.alternatives[0][0])
