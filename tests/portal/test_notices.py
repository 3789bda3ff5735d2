"""The delays and holds on the portal's overview (review D): each names its orders, and each order opens its
timeline; the customer retyped the reference into the order search to see where the goods were."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.tracking.conftest import make_order, ocean_carriers, ops_scope
from tests.tracking.exceptions.conftest import *  # noqa: F403 - fixtures (booked_fcl, default_rules …)
from tests.tracking.exceptions.conftest import detect
from tracking.exceptions.models import ShipmentException

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
