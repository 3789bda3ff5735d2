"""A customer's email about an exception gives its times on the customer's own clock (`Organisation.time_zone`), as
the portal does, and names it: a hold on a consolidation reaches ACME in Chicago and Globex in Shanghai each at its
own hour. It was on the server's zone, named by an abbreviation ("CST" is Chicago's and Shanghai's)."""

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

    said = {}
    for address, zone in (("ops@acme.test", "America/Chicago"), ("ops@globex.test", "Asia/Shanghai")):
        message = cast(EmailMultiAlternatives, next(m for m in mail.outbox if m.to == [address]))
        opened = hold.opened_at.astimezone(zoneinfo.ZoneInfo(zone))
        said[zone] = f"reported on {opened:%a} {opened.day} {opened:%b %Y, %H:%M} {zone}."
        assert said[zone] in message.body, f"{address}: not on the customer's clock"
        assert said[zone] in cast(str, message.alternatives[0][0])
        berlin = hold.opened_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
        assert f"{berlin:%H:%M}" not in message.body
    assert said["America/Chicago"] != said["Asia/Shanghai"]
