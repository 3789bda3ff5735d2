"""A delivered order that staff put on hold (a claim, a billing query) is still delivered for the customer: in the
portal's order list and on its public tracking link."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from orders import services as order_services
from orders.models import Channel, Order, OrderStatus
from portal.links import tracking_link_create
from tests.tracking.conftest import make_order, ocean_carriers, ops_scope
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import BILL, ETD, oms_event
from tracking.ingest import services as ingest_services
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import SourceKind
from tracking.ingest.services import Source

__all__ = ["make_order", "ocean_carriers", "ops_scope"]


@pytest.fixture
def delivered_then_held(booked_fcl, ops_user, ops_scope):
    order, _master = booked_fcl
    arrived = ETD + datetime.timedelta(days=3)
    events = [
        oms_event("DEPARTED", ETD, subject=("bill", BILL), place="CNSHA"),
        oms_event("ARRIVED", arrived, subject=("bill", BILL), place="DEHAM"),
        oms_event("DELIVERED", arrived + datetime.timedelta(hours=5), subject=("bill", BILL), place="DEHAM"),
    ]
    ingest_services.events_ingest(events=[read_oms(e) for e in events], source=Source(kind=SourceKind.WEBHOOK,
                                                                                        name="feed"))  # fmt: skip
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    order = order_services.order_transition(order=order, name="hold", scope=ops_scope, channel=Channel.SCREEN,
                                            by=ops_user, reason="Damage claim under review")  # fmt: skip
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.ON_HOLD
    assert order.status_before_hold == OrderStatus.DELIVERED
    return order


def test_a_held_delivered_order_is_listed_under_delivered_not_in_progress(delivered_then_held, login, customer_a_user):
    order = delivered_then_held
    client = login(customer_a_user)
    delivered = client.get(reverse("portal:orders"), {"state": "delivered"}).content.decode()
    in_progress = client.get(reverse("portal:orders"), {"state": "open"}).content.decode()
    assert order.reference in delivered, "the delivered (then held) order is missing from the Delivered filter"
    assert order.reference not in in_progress, "a delivered order is listed as In progress"


def test_a_held_delivered_order_shows_delivered_on_its_public_tracking_link(
    delivered_then_held, customer_a_user, client
):
    _link, token = tracking_link_create(order=delivered_then_held, by=customer_a_user)
    response = client.get(reverse("public_tracking", args=[token]))
    assert response.status_code == 200
    assert response.context["state"] == "Delivered", f"public page says {response.context['state']!r}"
    assert "Expected arrival" not in response.content.decode()


def test_an_order_held_before_it_left_stays_in_progress(make_order, ops_user, ops_scope, login, customer_a_user):
    order = order_services.order_transition(order=make_order(), name="hold", scope=ops_scope, channel=Channel.SCREEN,
                                            by=ops_user, reason="Waiting for the letter of credit")  # fmt: skip
    client = login(customer_a_user)
    in_progress = client.get(reverse("portal:orders"), {"state": "open"}).content.decode()
    delivered = client.get(reverse("portal:orders"), {"state": "delivered"}).content.decode()
    assert order.reference in in_progress
    assert order.reference not in delivered
