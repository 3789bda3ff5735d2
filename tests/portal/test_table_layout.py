"""The portal's tables keep references and dates on one line (review D): at 1024 px "HAM-26-000150",
"ACM-PO-40298" and "31 Dec 2026" broke at their hyphens and spaces, and every row of the overview, the order list
and the partner's legs doubled in height, while the delays table above kept its references whole."""

from __future__ import annotations

import re

from django.urls import reverse

from oms.templatetags.oms_dates import oms_date
from portal.links import tracking_link_create
from tests.tracking.conftest import make_order, ops_scope
from tests.tracking.test_scoping import second_carrier, two_masters

__all__ = ["make_order", "ops_scope", "second_carrier", "two_masters"]


def _cell_of(body: str, text: str) -> str:
    """The opening <td> tag of the first table cell that holds `text`."""
    cells = re.findall(r"(<td[^>]*>)((?:(?!</td>).)*)</td>", body, re.S)
    found = [tag for tag, inner in cells if text in inner]
    assert found, text
    return found[0]


def test_the_customer_order_tables_keep_references_and_dates_on_one_line(make_order, login, customer_a_user):
    order = make_order()
    client = login(customer_a_user)
    for page in ("portal:orders", "portal:home"):
        body = client.get(reverse(page)).content.decode()
        for text in (order.reference, order.customer_reference, oms_date(order.requested_pickup_on),
                     oms_date(order.requested_delivery_on)):  # fmt: skip
            assert "text-nowrap" in _cell_of(body, text), (page, text)


def test_the_partner_leg_table_keeps_shipment_and_order_references_on_one_line(two_masters, login, carrier_user):
    master_a, _ = two_masters
    body = login(carrier_user).get(reverse("portal:shipments")).content.decode()
    assert "text-nowrap" in _cell_of(body, master_a.reference)
    order = master_a.consolidated_houses.select_related("house__order").first().house.order
    assert "text-nowrap" in _cell_of(body, order.reference)


def test_the_partner_leg_table_puts_times_and_status_before_the_route(two_masters, login, carrier_user):
    """At 390 px only the first columns fit before the table scrolls: the dispatcher's departure, arrival and status
    come right after the shipment, the leg's role, route and conveyance after them (review A)."""
    body = login(carrier_user).get(reverse("portal:shipments")).content.decode()
    headers = re.findall(r"<th>([^<]+)</th>", body.split("<thead>", 1)[1].split("</thead>", 1)[0])
    assert headers == ["Shipment", "Departure", "Arrival", "Status", "Leg", "Route", "Conveyance", "Orders"]


def test_the_links_table_stacks_on_a_phone_and_the_heading_keeps_the_reference_whole(
    make_order, login, customer_a_user
):
    """Walk H4, 390 px: the links table's five columns left "Who it is for" a word a line beside squeezed times, and
    the headings broke the reference at its hyphen ("HAM-26-" / "000006"). The table stacks each link's facts under
    their names, as the overview's delays do; the reference in the headings stays on one line."""
    order = make_order()
    link, _ = tracking_link_create(order=order, by=customer_a_user, note="the consignee, Hanse Lampen GmbH & Co. KG")
    client = login(customer_a_user)
    body = client.get(reverse("portal:tracking_links", args=[order.reference])).content.decode()
    table = re.search(r"<table[^>]*>", body.split("Links made", 1)[1]).group(0)
    assert "oms-table-stack" in table
    for label in ("For", "Made", "Opened", "State"):
        assert f'data-label="{label}"' in body, label
    revoke = client.get(reverse("portal:tracking_link_revoke", args=[order.reference, link.pk])).content.decode()
    for page in (body, revoke):
        assert f'<span class="oms-code text-nowrap">{order.reference}</span></h1>' in page
