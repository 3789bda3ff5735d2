"""The delays and holds on the portal's overview (review D): each names its orders, and each order opens its
timeline; the customer retyped the reference into the order search to see where the goods were."""

from __future__ import annotations

import pytest
from django.urls import reverse

from partners.scoping import scope_for_user
from tests.tracking.conftest import make_order, ocean_carriers, ops_scope
from tests.tracking.exceptions.conftest import *  # noqa: F403 - fixtures (booked_fcl, default_rules …)
from tests.tracking.exceptions.conftest import H, detect, ingest
from tests.tracking.test_ingest_support import NOW, oms_event
from tracking.exceptions import selectors
from tracking.exceptions.models import ExceptionKind, ShipmentException

__all__ = ["make_order", "ocean_carriers", "ops_scope"]


@pytest.fixture
def overdue(booked_fcl):
    order, master = booked_fcl
    detect(master)
    return order, ShipmentException.objects.get()


def test_a_delay_on_the_overview_links_to_its_order_timeline(login, customer_a_user, overdue):
    order, _ = overdue
    body = login(customer_a_user).get(reverse("portal:home")).content.decode()
    notices = body.split('id="portal-notices"')[1].split("</table>")[0]
    timeline = reverse("tracking_ingest:order_timeline", args=[order.reference])
    assert f'href="{timeline}">{order.reference}</a>' in notices


def test_a_hold_is_listed_at_the_time_the_carrier_reported_it(customer_a_user, booked_fcl):
    """A hold reported for yesterday evening but received this morning (a delayed feed, a partner's file) read
    "Reported <when we opened it>", a day after the hold the order's timeline and the customer's email give."""
    _, master = booked_fcl
    held_at = NOW - 20 * H
    ingest(oms_event("CUSTOMS_HOLD", held_at, subject=("shipment", master.reference)))
    detect(master)
    hold = ShipmentException.objects.get(shipment=master, kind=ExceptionKind.CUSTOMS_HOLD)
    assert hold.opened_at > held_at

    notices = selectors.exceptions_for_customer(scope=scope_for_user(customer_a_user))

    assert [n.reported_at for n in notices if n.kind == hold.kind] == [held_at]
    assert all(n.reported_at == n.opened_at for n in notices if n.kind != hold.kind)  # worked out by us: when opened
