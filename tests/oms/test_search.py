"""The staff search box: a reference opens its order or shipment; anything else lists the orders, shipments and
organisations it matches, each found the way a person would look for it, and never more than the scope sees."""

from __future__ import annotations

from django.urls import reverse

from tests.tracking.conftest import make_order, ops_scope
from tests.tracking.test_scoping import second_carrier, two_masters

__all__ = ["make_order", "ops_scope", "second_carrier", "two_masters"]

URL = reverse("search")


def test_a_reference_written_as_we_write_it_opens_its_order_or_shipment(two_masters, login, ops_user):
    master, _ = two_masters
    order = master.consolidated_houses.select_related("house__order").first().house.order
    client = login(ops_user)
    for query, target in (
        (order.reference, order.get_absolute_url()),
        (f"  {order.reference.lower()} ", order.get_absolute_url()),
        (master.reference, master.get_absolute_url()),
    ):
        response = client.get(URL, {"q": query})
        assert (response.status_code, response["Location"]) == (302, target)


def test_other_queries_list_orders_shipments_and_organisations(
    two_masters, login, ops_user, django_assert_max_num_queries
):
    master, _ = two_masters
    house = master.consolidated_houses.select_related("house__order").first().house
    order = house.order
    master.bill_number = "MAEU123456789"
    master.save(update_fields=["bill_number"])
    client = login(ops_user)

    with django_assert_max_num_queries(12):
        by_customer_reference = client.get(URL, {"q": order.customer_reference})
    page = by_customer_reference.content.decode()
    assert order.get_absolute_url() in page
    assert f"{reverse('orders:list')}?q={order.customer_reference}" in page

    by_bill = client.get(URL, {"q": "maeu123456789"}).content.decode()
    assert master.get_absolute_url() in by_bill

    by_customer = client.get(URL, {"q": "ACME"}).content.decode()
    assert reverse("partners:organisation_detail", args=["ACME"]) in by_customer
    assert f"{reverse('orders:list')}?customer=ACME" in by_customer

    nothing = client.get(URL, {"q": "no-such-thing-anywhere"}).content.decode()
    assert "Nothing matches" in nothing


def test_the_search_box_is_for_staff(login, customer_a_user):
    assert login(customer_a_user).get(URL, {"q": "ACME"}).status_code == 403
