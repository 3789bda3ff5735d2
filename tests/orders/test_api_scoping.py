"""Tenant isolation of the orders API (RELIABILITY B1 to B3): A's key never reaches B's orders.

Another customer's order answers exactly as a reference that does not exist (404, same body), so the API
is no oracle for which references exist.
"""

from __future__ import annotations

import datetime

import pytest

from orders import services as order_services
from orders.intake import validate_order
from orders.models import Channel, Order, OrderStatus, OrderTransition
from partners import services as partner_services
from partners.models import OrganisationKind, Role
from partners.scoping import scope_for_user
from tests.factories import OrganisationFactory
from tests.orders.test_api import LIST_URL, bearer, create, detail_url

NOT_FOUND = {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


@pytest.fixture
def keys(customer_a, customer_b, branch, carrier, locations):
    for customer in (customer_a, customer_b):
        customer.account_branch = branch
        customer.save(update_fields=["account_branch"])
    return {
        name: partner_services.api_key_create(organisation=organisation, name=f"{name} key")[1]
        for name, organisation in {"acme": customer_a, "globex": customer_b, "carrier": carrier}.items()
    }


@pytest.fixture
def globex_order(client, keys, order_data) -> str:
    data = order_data(customer_reference="GX-1")
    del data["customer_code"], data["branch_code"]
    return create(client, keys["globex"], data)["reference"]


def test_a_customer_lists_only_its_own_orders(client, keys, order_data, globex_order):
    data = order_data(customer_reference="AC-1")
    del data["customer_code"], data["branch_code"]
    create(client, keys["acme"], data)

    for key, expected in ((keys["acme"], ["AC-1"]), (keys["globex"], ["GX-1"])):
        results = client.get(LIST_URL, **bearer(key)).json()["results"]
        assert [order["customer_reference"] for order in results] == expected


@pytest.mark.parametrize(
    "params",
    [{"customer_code": "GLOBEX"}, {"customer_reference": "GX-1"}, {"status": "draft", "customer_code": "GLOBEX"}],
)
def test_filters_cannot_widen_a_customers_view(client, keys, globex_order, params):
    assert client.get(LIST_URL, params, **bearer(keys["acme"])).json()["results"] == []


def test_another_customers_order_is_404_like_a_missing_one(client, keys, globex_order):
    other = client.get(detail_url(globex_order), **bearer(keys["acme"]))
    missing = client.get(detail_url("HAM-26-999999"), **bearer(keys["acme"]))

    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.content == missing.content
    assert other.json() == NOT_FOUND


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "", {"requested_pickup_on": "2026-12-03"}),
        ("put", "", {"customer_reference": "X"}),
        ("post", "submit", {}),
        ("post", "cancel", {"reason": "Not mine, but let us try"}),
    ],
)
def test_a_customer_cannot_change_another_customers_order(client, keys, globex_order, method, path, body):
    response = getattr(client, method)(
        detail_url(globex_order, path), body, content_type="application/json", **bearer(keys["acme"])
    )

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    order = Order.objects.get(reference=globex_order)
    assert (order.status, str(order.requested_pickup_on)) == (OrderStatus.DRAFT, "2026-12-01")
    assert not OrderTransition.objects.filter(order=order).exists()


def test_a_customer_cannot_create_for_another_customer(client, keys, order_data):
    data = order_data(customer_code="GLOBEX")
    del data["branch_code"]

    response = client.post(LIST_URL, data, content_type="application/json", **bearer(keys["acme"]))

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"customer_code": ["You can only place orders for ACME."]}
    assert not Order.objects.exists()


def test_a_customer_cannot_choose_the_handling_branch(client, keys, order_data):
    OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH])
    data = order_data(branch_code="SHA")  # not ACME's account branch (HAM), which it may name
    del data["customer_code"]

    response = client.post(LIST_URL, data, content_type="application/json", **bearer(keys["acme"]))

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"branch_code": ["Only our staff choose the handling branch."]}


def test_a_partner_key_sees_no_orders(client, keys, globex_order):
    assert client.get(LIST_URL, **bearer(keys["carrier"])).json()["results"] == []
    assert client.get(detail_url(globex_order), **bearer(keys["carrier"])).status_code == 404


def test_a_staff_key_sees_every_customers_orders(client, keys, globex_order, branch):
    staff_key = partner_services.api_key_create(organisation=branch, name="BI")[1]

    assert client.get(detail_url(globex_order), **bearer(staff_key)).status_code == 200
    assert [o["reference"] for o in client.get(LIST_URL, **bearer(staff_key)).json()["results"]] == [globex_order]


def test_a_customer_portal_user_sees_only_its_own_orders_over_the_session(client, keys, globex_order, customer_a_user):
    client.force_login(customer_a_user)

    assert client.get(LIST_URL).json()["results"] == []
    assert client.get(detail_url(globex_order)).status_code == 404


def test_a_revoked_key_is_locked_out_at_once(client, keys, globex_order, customer_b):
    key = customer_b.api_keys.get()
    partner_services.api_key_revoke(api_key=key)

    response = client.get(detail_url(globex_order), **bearer(keys["globex"]))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


# --- A person acting for two customers (a group's buyer for two of its companies) ------------------------------


@pytest.fixture
def two_company_buyer(customer_a_user, customer_b, account_branches):
    partner_services.membership_grant(user=customer_a_user, organisation=customer_b, role=Role.CUSTOMER)
    return customer_a_user


def test_a_customer_of_two_organisations_can_edit_a_draft_of_the_second(
    two_company_buyer, customer_b, order_data, ops_user
):
    scope = scope_for_user(two_company_buyer)
    assert customer_b.pk in scope.organisation_ids  # the person sees GLOBEX's orders (list, detail, API)
    order = order_services.order_create(
        data=order_data(customer_code="GLOBEX", customer_reference="G-1"), scope=scope_for_user(ops_user),
        by=ops_user, channel=Channel.SCREEN,
    )  # fmt: skip
    # A partial edit that does not touch the customer: it used to be refused, "You can only place orders for ACME."
    order = order_services.order_update(
        order=order, data={"requested_pickup_on": "2026-12-05"}, scope=scope, by=two_company_buyer,
        channel=Channel.PORTAL, partial=True,
    )  # fmt: skip
    assert (order.customer.code, order.requested_pickup_on) == ("GLOBEX", datetime.date(2026, 12, 5))


def test_a_customer_of_two_organisations_can_order_for_the_second(two_company_buyer, order_data):
    data = order_data(customer_code="GLOBEX", customer_reference="G-2")
    data.pop("branch_code")
    order = order_services.order_create(
        data=data, scope=scope_for_user(two_company_buyer), by=two_company_buyer, channel=Channel.PORTAL
    )
    assert order.customer.code == "GLOBEX"


def test_a_customer_of_two_organisations_is_asked_which_one_an_order_is_for(client, two_company_buyer, order_data):
    client.force_login(two_company_buyer)
    data = order_data(customer_reference="G-3")
    del data["customer_code"], data["branch_code"]

    response = client.post(LIST_URL, data, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "customer_code": [
            "You act for several customers (ACME, GLOBEX): name the one this order is for in customer_code."
        ]
    }
    assert not Order.objects.exists()
    data["customer_code"] = "globex"
    assert client.post(LIST_URL, data, content_type="application/json").status_code == 201
    assert Order.objects.get().customer.code == "GLOBEX"


def test_a_customer_of_two_organisations_cannot_order_for_a_third(two_company_buyer, order_data):
    OrganisationFactory(code="INITECH", name="Initech", kinds=["customer"])
    data = order_data(customer_code="INITECH")
    data.pop("branch_code")
    _, errors = validate_order(data, scope=scope_for_user(two_company_buyer))
    assert errors["customer_code"] == ["You can only place orders for ACME or GLOBEX."]
