"""Query guards: the portal's home, order list, shipment list and tracking links page, and the public tracking page,
cost as many queries with many orders, legs, events, delays and links as with a few. Each is read with a few rows of
varied content, then with several times more, and must run the same number of queries, under a fixed ceiling for the
larger case (STYLE.md, Tests)."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from portal.links import tracking_link_create
from tests.tracking.conftest import add_on_carriage, lcl_line, make_order, ops_scope
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures (fresh_mapping …)
from tests.tracking.test_ingest_support import NOW, iso
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.ingest import services as ingest_services
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import SourceKind
from tracking.ingest.services import Source
from tracking.services import planning

__all__ = ["make_order", "ops_scope"]

pytestmark = pytest.mark.usefixtures("fresh_rate_window")

FEED = Source(kind=SourceKind.WEBHOOK, name="feed")
MILESTONES = ["RECEIVED_AT_ORIGIN", "LOADED", "DEPARTED", "ARRIVED", "DISCHARGED"]
KINDS = [ExceptionKind.ETA_DELAY, ExceptionKind.CUSTOMS_HOLD, ExceptionKind.NO_MOVEMENT]
serial = itertools.count(1)
addresses = itertools.count(1)
# Each page's ceiling for the larger case: what it ran when these guards were written (it runs the same for the
# few). A page that needs more must say why; more rows never may.
CEILINGS = {
    "customer's home": 8, "customer's orders": 4, "customer's links": 4, "staff's links": 4, "partner's home": 8,
    "partner's shipments": 5, "public page": 12,
}  # fmt: skip


@pytest.fixture
def portal_world(make_order, ops_user, customer_a_user, customer_b, carrier, fresh_mapping):
    """(ACME's order, its public token, `grow(n)`): each step of `grow` adds a link to ACME's order made by staff or
    by ACME, and an order of ACME or GLOBEX; two in three of those are planned on a master of their own with an
    on-carriage by Nordtruck, an event on that master and one on the master of ACME's order, and a delay; the third
    waits for its confirmation."""
    order = make_order(mode="ocean_lcl", lines=[lcl_line(400, 2, description="Lamps")])
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    add_on_carriage(master, carrier.pk)
    _, token = tracking_link_create(order=order, by=ops_user)

    def event(shipment, k: int) -> dict:
        at = NOW - datetime.timedelta(hours=100 - k)
        return {"event_id": f"e{k}-{shipment.pk}", "milestone": MILESTONES[k % len(MILESTONES)],
                "shipment": shipment.reference, "occurred_at": iso(at)}  # fmt: skip

    def grow(n: int) -> None:
        for _ in range(n):
            k = next(serial)
            other = make_order(confirm=k % 3 != 0, customer_code=("ACME", "GLOBEX")[k % 2],
                               lines=[lcl_line(200 + k, 1, description=f"Parts {k}")])  # fmt: skip
            tracking_link_create(order=order, by=(ops_user, customer_a_user)[k % 2], note=f"For the consignee {k}")
            if k % 3 == 0:  # a submitted order waits for its confirmation: in the lists, on no shipment yet
                continue
            shipment = planning.shipment_plan_direct(order=other, by=ops_user)
            add_on_carriage(shipment, carrier.pk, destination=("PLWAW", "DEBER")[k % 2])
            ingest_services.events_ingest(
                events=[read_oms(event(shipment, k)), read_oms(event(master, k))], source=FEED
            )
            ShipmentException.objects.create(
                kind=KINDS[k % 3], shipment=shipment, order=other, customer=other.customer, mode=shipment.mode,
                detail=f"Delay #{k}", opened_at=timezone.now() - datetime.timedelta(hours=k),
            )  # fmt: skip

    return order, token, grow


def _public(client: Client, url: str) -> object:
    """The public page from an address of its own: each read is the first of its address this minute, so the page's
    rate limit takes the same path (add, not increment) however the minutes fall."""
    return client.get(url, REMOTE_ADDR=f"10.0.{next(addresses)}.1")


def test_the_portal_and_the_public_page_cost_the_same_queries_for_few_and_many_orders(
    portal_world, ops_user, customer_a_user, carrier_user, django_assert_max_num_queries
):
    order, token, grow = portal_world
    customer, partner, staff, anyone = Client(), Client(), Client(), Client()
    customer.force_login(customer_a_user)
    partner.force_login(carrier_user)
    staff.force_login(ops_user)
    links = f"/portal/orders/{order.reference}/links/"
    pages: dict[str, tuple[Callable[[str], Any], str]] = {
        "customer's home": (customer.get, "/portal/"),
        "customer's orders": (customer.get, "/portal/orders/"),
        "customer's links": (customer.get, links),
        "staff's links": (staff.get, links),
        "partner's home": (partner.get, "/portal/"),
        "partner's shipments": (partner.get, "/portal/shipments/"),
        "public page": (lambda url: _public(anyone, url), f"/t/{token}/"),
    }
    grow(2)
    for read, url in pages.values():
        read(url)  # warm the sessions and the caches
    few, many, bodies = {}, {}, {}
    for name, (read, url) in pages.items():
        with django_assert_max_num_queries(CEILINGS[name]) as queries:
            assert read(url).status_code == 200, name
        few[name] = len(queries)
    grow(6)

    for name, (read, url) in pages.items():
        with django_assert_max_num_queries(CEILINGS[name]) as queries:
            response = read(url)
        many[name], bodies[name] = len(queries), response.content.decode()

    assert many == few
    assert bodies["customer's links"].count("For the consignee") == 8
    assert bodies["partner's shipments"].count("DEBER") >= 2  # the legs of the masters added
