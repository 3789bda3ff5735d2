"""What a customer's order search finds (/portal/orders/?q=): what the staff search finds on her own orders (our
reference, her order number, containers and AWBs as written, parties, goods) and the bill of a shipment her
tracking page lists. Review F, defect 4."""

from __future__ import annotations

from django.urls import reverse

from tests.tracking.conftest import lcl_line, make_order, ops_scope
from tracking.models import Shipment
from tracking.services import planning

__all__ = ["make_order", "ops_scope"]


def _found(client, query: str) -> list[str]:
    response = client.get(reverse("portal:orders"), {"q": query})
    assert response.status_code == 200
    return [order.reference for order in response.context["page"]]


def test_a_customer_finds_her_order_by_the_container_number_she_sent_with_it(make_order, login, customer_a_user):
    """The container number is on her own order line; the portal's search compared only our reference and her order
    number, so it answered "No order matches"."""
    line = {**lcl_line(1800, 6), "container_number": "CSQU3054383", "container_type": "22G1"}
    order = make_order(mode="ocean_fcl", lines=[line])
    make_order()
    client = login(customer_a_user)

    assert _found(client, "CSQU3054383") == [order.reference]
    assert _found(client, "CSQU 305438 3") == [order.reference]  # as written on a document


def test_a_customer_finds_her_order_by_the_bill_of_lading_her_timeline_shows(
    make_order, login, customer_a_user, ops_user
):
    """Her order's tracking page lists its shipments with their bill (MBL HLCU…), the number her consignee and the
    carrier quote; a partner's list finds legs by it, her order list did not."""
    order = make_order()
    make_order()
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    Shipment.objects.filter(pk=master.pk).update(bill_number="HLCUSHA2611002")
    client = login(customer_a_user)

    page = client.get(reverse("tracking_ingest:order_timeline", args=[order.reference])).content.decode()
    assert "HLCUSHA2611002" in page  # shown to her on the order's tracking page

    assert _found(client, "HLCUSHA2611002") == [order.reference]
    assert _found(client, "hlcusha2611002") == [order.reference]


def test_her_search_finds_nothing_of_another_customer(make_order, login, customer_a_user, customer_b_user, ops_user):
    """The same numbers on another customer's order: not found (the search runs on her orders only)."""
    line = {**lcl_line(1800, 6), "container_number": "CSQU3054383", "container_type": "22G1"}
    theirs = make_order(customer_code="GLOBEX", mode="ocean_fcl", lines=[line])
    master = planning.shipment_plan_direct(order=theirs, by=ops_user)
    Shipment.objects.filter(pk=master.pk).update(bill_number="HLCUSHA2611002")
    client = login(customer_a_user)

    assert _found(client, "CSQU3054383") == []
    assert _found(client, "HLCUSHA2611002") == []
    assert _found(client, "GLOBEX") == []
