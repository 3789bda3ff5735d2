"""RELIABILITY (b) area B, tenant isolation: what test_api_scoping.py and the screen tests left open.

B1 the nested order endpoints (transitions, timeline, the workflow transitions) and the import jobs answer another
customer's object exactly as a missing one; B2 list parameters the API does not know never widen a customer's view;
B3 a DELETE of another customer's order changes nothing; B4 a PATCH carrying state, price or ownership is refused
whole and the customer sees only the allowlisted fields; B5 the admin console and the prices stay with their roles.
"""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from finance.models import RateCard
from orders.models import ImportJob, Order, OrderStatus, OrderTransition
from partners import services as partner_services
from partners.models import Role
from tests.conftest import _member
from tests.finance.builders import rate_card
from tests.orders.fixtures.imports import csv_bytes, order_row, upload, world
from tests.orders.test_api import LIST_URL, bearer, create, detail_url
from tests.orders.test_api_scoping import NOT_FOUND, globex_order, keys

__all__ = ["globex_order", "keys", "world"]

MISSING = "HAM-26-999999"

# Everything a customer's key reads of its own order (GET /api/v1/orders/{reference}/). A new key must be added
# here on purpose: nothing internal (costs, margins, notes, staff names) may appear by accident.
CUSTOMER_ORDER_KEYS = {
    "reference", "status", "channel", "customer_code", "customer_reference", "branch_code", "mode",
    "service_level", "incoterm", "named_place", "origin", "origin_address", "destination", "destination_address",
    "shipper_name", "shipper_address", "consignee_name", "consignee_address", "notify_name", "notify_address",
    "description", "requested_pickup_on", "requested_delivery_on", "declared_value", "currency",
    "special_instructions", "lines", "pieces_total", "gross_weight_kg_total", "volume_m3_total",
    "chargeable_weight_kg", "created_at", "updated_at", "submitted_at", "cancelled_at", "cancel_reason",
    "transitions",
}  # fmt: skip


@pytest.fixture
def acme_order(client, keys, order_data) -> str:
    data = order_data(customer_reference="AC-1")
    del data["customer_code"], data["branch_code"]
    return create(client, keys["acme"], data)["reference"]


# --- B1: nested resources -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["transitions/", "timeline/"])
def test_nested_reads_of_another_customers_order_are_a_404_like_a_missing_one(client, keys, globex_order, path):
    other = client.get(detail_url(globex_order) + path, **bearer(keys["acme"]))
    missing = client.get(detail_url(MISSING) + path, **bearer(keys["acme"]))

    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.content == missing.content
    assert other.json() == NOT_FOUND


@pytest.mark.parametrize("name", ["confirm", "hold", "release", "plan", "deliver", "invoice"])
def test_workflow_transitions_on_another_customers_order_are_a_404_like_a_missing_one(client, keys, globex_order, name):
    body = {"reason": "Let us try"}
    other = client.post(detail_url(globex_order, name), body, content_type="application/json", **bearer(keys["acme"]))
    missing = client.post(detail_url(MISSING, name), body, content_type="application/json", **bearer(keys["acme"]))

    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.content == missing.content
    order = Order.objects.get(reference=globex_order)
    assert order.status == OrderStatus.DRAFT
    assert not OrderTransition.objects.filter(order=order).exists()


def test_another_customers_import_job_is_a_404_like_a_missing_one(world):
    clients = {}
    for code in ("acme", "globex"):
        clients[code] = APIClient()
        raw_key = partner_services.api_key_create(organisation=world[code], name="ERP")[1]
        clients[code].credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    theirs = clients["globex"].post(
        "/api/v1/order-imports/",
        {"file": upload(csv_bytes([order_row("GX-1", customer="GLOBEX")]))},
        format="multipart",
    )
    assert theirs.status_code == 201

    other = clients["acme"].get(f"/api/v1/order-imports/{theirs.json()['id']}/")
    missing = clients["acme"].get(f"/api/v1/order-imports/{uuid.uuid4()}/")

    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.content == missing.content
    assert ImportJob.objects.count() == 1


# --- B2: collections ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"organisation": "GLOBEX"},
        {"customer": "GLOBEX"},
        {"customer__code": "GLOBEX"},
        {"search": "GX-1"},
        {"external_reference": "GX-1"},
        {"ordering": "-customer"},
        {"page": "999"},
        {"page_size": "1000"},
    ],
)
def test_parameters_the_list_does_not_know_never_widen_a_customers_view(client, keys, acme_order, globex_order, params):
    response = client.get(LIST_URL, params, **bearer(keys["acme"]))

    assert response.status_code == 200
    assert [order["reference"] for order in response.json()["results"]] == [acme_order]


# --- B3: writes -----------------------------------------------------------------------------------------------


def test_a_delete_of_another_customers_order_changes_nothing(client, keys, globex_order):
    response = client.delete(detail_url(globex_order), **bearer(keys["acme"]))

    assert response.status_code in (404, 405)
    assert Order.objects.filter(reference=globex_order, status=OrderStatus.DRAFT).exists()


# --- B4: mass assignment and over-exposure --------------------------------------------------------------------


def test_a_patch_carrying_state_price_or_ownership_is_refused_whole(client, keys, acme_order):
    before = client.get(detail_url(acme_order), **bearer(keys["acme"])).json()
    body = {
        "status": "delivered",
        "price": "0.00",
        "organisation": "GLOBEX",
        "is_invoiced": True,
        "internal_notes": "x",
        "requested_pickup_on": "2026-12-03",
    }

    response = client.patch(detail_url(acme_order), body, content_type="application/json", **bearer(keys["acme"]))

    assert response.status_code == 400
    assert {"status", "price", "organisation", "is_invoiced", "internal_notes"} <= set(
        response.json()["error"]["fields"]
    )
    assert client.get(detail_url(acme_order), **bearer(keys["acme"])).json() == before
    assert Order.objects.get(reference=acme_order).status == OrderStatus.DRAFT


@pytest.mark.parametrize("field", ["reference", "channel", "created_at", "submitted_at", "cancelled_at"])
def test_fields_oms_sets_cannot_be_patched(client, keys, acme_order, field):
    response = client.patch(
        detail_url(acme_order), {field: "2020-01-01T00:00:00Z"}, content_type="application/json", **bearer(keys["acme"])
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_a_customer_reads_only_the_allowlisted_fields_of_its_order(client, keys, acme_order):
    detail = client.get(detail_url(acme_order), **bearer(keys["acme"])).json()
    listed = client.get(LIST_URL, **bearer(keys["acme"])).json()["results"][0]

    assert set(detail) == CUSTOMER_ORDER_KEYS
    assert set(listed) == CUSTOMER_ORDER_KEYS - {"transitions"}


# --- B5: functions by role ------------------------------------------------------------------------------------


def test_import_and_export_permission_codes_are_set():
    assert settings.IMPORT_EXPORT_IMPORT_PERMISSION_CODE == "add"
    assert settings.IMPORT_EXPORT_EXPORT_PERMISSION_CODE == "view"


@pytest.mark.parametrize("persona", ["customer_a_user", "carrier_user", "outsider"])
def test_customers_partners_and_strangers_never_reach_the_admin_console(request, login, persona):
    client = login(request.getfixturevalue(persona))

    for path in ("/admin/", "/admin/orders/importjob/", "/admin/finance/ratecard/", "/admin/partners/apikey/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/"), path


@pytest.mark.parametrize(
    ("role", "may_change"),
    [(Role.SALES, False), (Role.OPERATIONS, False), (Role.DOCUMENTATION, False), (Role.FINANCE, True)],
)
def test_only_finance_changes_prices(branch, carrier, login, role, may_change):
    card = rate_card(carrier, mode="ocean_fcl", currency="EUR", lines=[])
    staff = _member(f"{role}@oms.test", branch, role, is_staff=True)
    client = login(staff)

    change = client.get(f"/admin/finance/ratecard/{card.pk}/change/")
    delete = client.post(f"/admin/finance/ratecard/{card.pk}/delete/", {"post": "yes"})

    if may_change:
        assert change.status_code == 200
        assert change.context["has_change_permission"] is True
    else:
        assert change.status_code in (200, 403)  # sales may view the rates, never change them
        assert change.status_code == 403 or change.context["has_change_permission"] is False
        assert delete.status_code == 403
        assert RateCard.objects.filter(pk=card.pk).exists()
