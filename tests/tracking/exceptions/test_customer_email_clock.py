"""A customer's email about an exception gives its times on the customer's own clock (`Organisation.time_zone`), as
the portal does, and names it: a hold on a consolidation reaches ACME in Chicago and Globex in Shanghai each at its
own hour. It was on the server's zone, named by an abbreviation ("CST" is Chicago's and Shanghai's).

For what is reported (a hold, damage, a failed delivery, a return) the time is the one the report gives, as the
timeline the email links to shows it, and the email says which time it is (review B, defect 4: it gave when OMS
opened the exception, a day after the hold of a feed that arrived late)."""

from __future__ import annotations

import zoneinfo
from typing import cast

from django.core import mail
from django.core.mail import EmailMultiAlternatives

from tests.tracking.exceptions.conftest import H, detect, ingest
from tests.tracking.exceptions.test_consolidation import consolidated
from tests.tracking.test_ingest_support import NOW, oms_event
from tracking.exceptions.models import ExceptionKind, ExceptionRule, ShipmentException

__all__ = ["consolidated"]


def test_each_customer_is_told_of_a_hold_on_its_own_clock(
    consolidated, customer_a, customer_b, django_capture_on_commit_callbacks, settings
):
    settings.TIME_ZONE = "Europe/Berlin"  # the server's: neither customer's
    for customer, email, zone in ((customer_a, "ops@acme.test", "America/Chicago"),
                                  (customer_b, "ops@globex.test", "Asia/Shanghai")):  # fmt: skip
        customer.email, customer.time_zone = email, zone
        customer.save(update_fields=["email", "time_zone"])
    ExceptionRule.objects.filter(kind=ExceptionKind.CUSTOMS_HOLD).update(notify_customer=True)
    master, _, _ = consolidated
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ingest(oms_event("CUSTOMS_HOLD", NOW - 5 * H, subject=("shipment", master.reference)))
        detect(master)
    hold = ShipmentException.objects.get(shipment=master, kind=ExceptionKind.CUSTOMS_HOLD)

    assert hold.observed_at == NOW - 5 * H
    said = {}
    for address, zone in (("ops@acme.test", "America/Chicago"), ("ops@globex.test", "Asia/Shanghai")):
        message = cast(EmailMultiAlternatives, next(m for m in mail.outbox if m.to == [address]))
        reported = hold.observed_at.astimezone(zoneinfo.ZoneInfo(zone))
        when = f"{reported:%a} {reported.day} {reported:%b %Y, %H:%M} {zone}"
        said[zone] = f"reported on {when} (the time the report gives for it)."
        assert said[zone] in message.body, f"{address}: not on the customer's clock"
        assert said[zone] in cast(str, message.alternatives[0][0])
        berlin = hold.observed_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
        assert f"{berlin:%H:%M}" not in message.body
    assert said["America/Chicago"] != said["Asia/Shanghai"]


def test_the_customers_email_says_when_the_hold_was_reported_not_when_we_opened_it(
    booked_fcl, django_capture_on_commit_callbacks
):
    """Review B, defect 4: the carrier's hold came in a day late (a delayed feed, a partner's file the next morning);
    ACME read "customs hold reported on <when OMS opened it>", a day after the hold the linked timeline shows."""
    order, master = booked_fcl
    customer = order.customer
    customer.email, customer.time_zone = "ops@acme.test", "Europe/London"
    customer.save(update_fields=["email", "time_zone"])
    ExceptionRule.objects.filter(kind=ExceptionKind.CUSTOMS_HOLD).update(notify_customer=True)
    held_at = NOW - 20 * H
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ingest(oms_event("CUSTOMS_HOLD", held_at, subject=("shipment", master.reference)))
        detect(master)
    hold = ShipmentException.objects.get(shipment=master, kind=ExceptionKind.CUSTOMS_HOLD)
    assert (hold.observed_at, hold.reported_at) == (held_at, held_at)
    [message] = [cast(EmailMultiAlternatives, m) for m in mail.outbox if m.to == ["ops@acme.test"]]
    at = held_at.astimezone(zoneinfo.ZoneInfo("Europe/London"))
    said = (
        f"customs hold reported on {at:%a} {at.day} {at:%b %Y, %H:%M} Europe/London (the time the report gives for it)."
    )
    assert said in message.body, message.body
    assert said.replace("customs hold", "<strong>customs hold</strong>") in cast(str, message.alternatives[0][0])
    opened = hold.opened_at.astimezone(zoneinfo.ZoneInfo("Europe/London"))
    assert f"{opened:%a} {opened.day} {opened:%b %Y, %H:%M}" not in message.body
