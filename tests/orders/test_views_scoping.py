"""Scoping of the staff order screens: customers, partners and strangers get 403 on every one of them;
anonymous visitors are sent to log in; every staff role sees the orders of every customer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import Order


@pytest.fixture
def two_customers_orders(order_factory, customer_b):
    return order_factory(customer_reference="ACM-1"), order_factory(customer_code="GLOBEX", customer_reference="GLO-1")


def staff_screens(order: Order) -> list[tuple[str, str]]:
    ref = order.reference
    return [
        ("get", reverse("orders:list")),
        ("get", reverse("orders:export", args=["csv"])),
        ("get", reverse("orders:export", args=["xlsx"])),
        ("get", reverse("orders:new")),
        ("post", reverse("orders:new")),
        ("get", reverse("orders:line_row") + "?key=1"),
        ("get", reverse("orders:locations") + "?q=ham"),
        ("get", reverse("orders:detail", args=[ref])),
        ("get", reverse("orders:edit", args=[ref])),
        ("post", reverse("orders:edit", args=[ref])),
        ("get", reverse("orders:duplicate", args=[ref])),
        ("post", reverse("orders:transition", args=[ref, "submit"])),
        ("post", reverse("orders:transition", args=[ref, "cancel"])),
    ]


@pytest.mark.parametrize("persona", ["customer_a_user", "customer_b_user", "carrier_user", "outsider"])
def test_non_staff_get_403_on_every_staff_order_screen(request, login, two_customers_orders, persona):
    client = login(request.getfixturevalue(persona))
    own_order = two_customers_orders[0]  # ACME's, so customer_a_user is asking about its very own order
    for method, url in staff_screens(own_order):
        response = getattr(client, method)(url, {"reason": "x", "seen_status": "draft"} if method == "post" else {})
        assert response.status_code == 403, (persona, method, url)
    own_order.refresh_from_db()
    assert own_order.status == "draft"
    assert Order.objects.count() == 2


def test_anonymous_visitors_are_sent_to_log_in(client, two_customers_orders):
    for method, url in staff_screens(two_customers_orders[0]):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize("persona", ["ops_user", "sales_user", "finance_user", "admin_user"])
def test_every_staff_role_sees_every_customers_orders(request, login, two_customers_orders, persona):
    client = login(request.getfixturevalue(persona))
    page = client.get(reverse("orders:list")).content.decode()
    for order in two_customers_orders:
        assert order.reference in page
        assert client.get(reverse("orders:detail", args=[order.reference])).status_code == 200
