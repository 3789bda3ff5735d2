"""Customers see the delays and holds on their own orders on the portal, in customer-safe words; never another
customer's, and never our notes, owners, severities or carrier codes. Tested with two customer organisations."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import oms_datetime
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.exceptions.services import handling

from .conftest import detect


@pytest.fixture
def overdue(booked_fcl, ops_user):
    """(order, master, exception): ACME's booked FCL is six days late to depart; ops acknowledged it."""
    order, master = booked_fcl
    detect(master)
    exception = ShipmentException.objects.get()
    handling.exception_acknowledge(exception=exception, by=ops_user)
    return order, master, exception


def _portal(login, user) -> str:
    response = login(user).get(reverse("portal:home"))
    assert response.status_code == 200
    return response.content.decode()


def test_a_customer_sees_the_delay_on_their_order_in_customer_safe_words(
    login, customer_a_user, ops_user, overdue, django_assert_max_num_queries
):
    order, _, exception = overdue
    client = login(customer_a_user)

    with django_assert_max_num_queries(9):  # 8 measured; the shipment-level lookup adds one when needed
        body = client.get(reverse("portal:home")).content.decode()

    assert "Delays and holds" in body
    assert order.reference in body
    assert order.customer_reference in body
    assert exception.get_kind_display() in body
    assert exception.milestone == "DEPARTED"
    assert "· departure not reported yet" in body  # which milestone, in words that do not say it happened
    assert "Our operations team is on it" in body
    for internal in (exception.detail, ops_user.get_full_name(), ops_user.email, exception.get_absolute_url(), "MAEU"):
        assert internal not in body, internal


def test_another_customer_and_a_carrier_see_none_of_it(login, customer_b_user, carrier_user, overdue):
    order, _, _ = overdue
    for user in (customer_b_user, carrier_user):
        body = _portal(login, user)
        assert "Delays and holds" not in body
        assert order.reference not in body


def test_a_shared_shipment_shows_its_own_delay_but_not_another_customers_hold(
    login, customer_a_user, customer_b, make_order, overdue
):
    order, master, _ = overdue
    globex_order = make_order(customer_code="GLOBEX", customer_reference="GX-9")
    now = timezone.now()
    common = {"shipment": master, "mode": master.mode, "opened_at": now}
    ShipmentException.objects.create(kind=ExceptionKind.ETA_DELAY, detail="Vessel late", observed_at=now,
                                     expected_at=now - datetime.timedelta(days=2), **common)  # fmt: skip
    ShipmentException.objects.create(
        kind=ExceptionKind.CARRIER_HOLD, customer=customer_b, detail="B's papers", **common
    )
    ShipmentException.objects.create(kind=ExceptionKind.DAMAGE, order=globex_order, detail="B's crate", **common)

    body = _portal(login, customer_a_user)

    assert ExceptionKind.ETA_DELAY.label in body  # the shipment's own delay: shown with A's order on it
    assert "Latest estimate" in body
    assert body.count(order.reference) >= 3  # the orders table, the overdue milestone and the delay
    assert ExceptionKind.CARRIER_HOLD.label not in body
    assert ExceptionKind.DAMAGE.label not in body
    assert globex_order.reference not in body
    assert "GX-9" not in body


def test_resolved_ones_stay_for_a_week(login, customer_a_user, overdue):
    _, master, exception = overdue
    now = timezone.now()
    ShipmentException.objects.filter(pk=exception.pk).update(status="resolved", resolved_at=now)
    ShipmentException.objects.create(
        kind=ExceptionKind.CUSTOMS_HOLD, shipment=master, mode=master.mode, detail="Old hold", status="resolved",
        opened_at=now - datetime.timedelta(days=12), resolved_at=now - datetime.timedelta(days=8),
    )  # fmt: skip

    body = _portal(login, customer_a_user)

    local = timezone.localtime(now, datetime.UTC)  # the customer's clock (UTC here), named once in the card's header
    assert f"Resolved {oms_datetime(local)}</td>" in body
    assert "resolved in the last 7 days · times in UTC" in body
    assert ExceptionKind.CUSTOMS_HOLD.label not in body


@pytest.mark.parametrize(
    ("kind", "milestone", "words"),
    [
        (ExceptionKind.ETA_DELAY, "ARRIVED", "expected arrival"),  # not "· Arrived": the goods have not arrived
        (ExceptionKind.MILESTONE_OVERDUE, "ARRIVED", "arrival not reported yet"),
        (ExceptionKind.CUSTOMS_HOLD, "CUSTOMS_HOLD", ""),  # not "Customs hold · Customs hold"
        (ExceptionKind.DAMAGE, "DAMAGED", ""),
    ],
)
def test_the_milestone_is_named_without_repeating_the_kind_or_reading_as_done(
    login, customer_a_user, booked_fcl, kind, milestone, words
):
    order, master = booked_fcl
    now = timezone.now()
    ShipmentException.objects.create(kind=kind, milestone=milestone, shipment=master, order=order, mode=master.mode,
                                     opened_at=now, observed_at=now, detail="x")  # fmt: skip

    response = login(customer_a_user).get(reverse("portal:home"))

    [notice] = response.context["notices"]
    assert notice.milestone == words
    body = response.content.decode()
    notices = body.split("portal-notices", 1)[1].split("</table>", 1)[0]
    assert (f"· {words}" in notices) if words else ('text-secondary">·' not in notices)
