"""A declared value keeps as many decimals as its currency has (ISO 4217 minor units: JPY 0, EUR 2, KWD 3), no more,
on every channel: the rule is validate_order's, and the column holds three decimals (docs/decisions/0002,
"Declared values to the currency's minor unit")."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from orders import services
from orders.imports import service
from orders.intake import validate_order
from orders.models import Channel, ImportJob, ImportMode, Order
from partners.scoping import scope_for_user
from tests.orders.fixtures.imports import COLUMNS, csv_bytes, errors_of, import_file, order_row, world
from tests.orders.test_views_entry import NEW, field_errors, form_post
from tests.orders.test_webhooks import (
    SHOPIFY_ORDER,
    _body,
    _generic_post,
    _intake_order,
    _shopify_post,
    generic,
    shopify,
)

__all__ = ["generic", "shopify", "world"]

LIST_URL = "/api/v1/orders/"
VALUE_COLUMNS = [*COLUMNS, "declared_value", "currency"]

# (value, currency, the one message on declared_value)
TOO_FINE = [
    ("1500.5", "JPY", "JPY amounts have no decimals: give a whole amount."),
    ("0.125", "EUR", "EUR amounts have 2 decimals: give at most 2 decimal places."),
    ("1.2345", "KWD", "KWD amounts have 3 decimals: give at most 3 decimal places."),
    ("1.2345", "EUR", "EUR amounts have 2 decimals: give at most 2 decimal places."),
    # A point before three digits in a currency with fewer decimals reads two ways: refused, as before, saying so.
    (
        "1.234",
        "EUR",
        "1.234 could be 1234 or 1.234: write it without a thousands separator, with a point for decimals.",
    ),
]
KEPT = [("1.234", "KWD", "1.234"), ("1234.567", "KWD", "1234.567"), ("1.23", "EUR", "1.23"), ("1500", "JPY", "1500")]


@pytest.mark.parametrize(("value", "currency", "message"), TOO_FINE)
def test_a_value_finer_than_its_currency_is_refused_naming_its_decimals(order_data, staff_scope, value, currency,
                                                                        message):  # fmt: skip
    clean, errors = validate_order(order_data(declared_value=value, currency=currency), scope=staff_scope)
    assert clean is None
    assert errors == {"declared_value": [message]}


@pytest.mark.parametrize(("value", "currency", "stored"), KEPT)
def test_a_value_to_its_currency_s_minor_unit_is_stored_exactly(order_factory, value, currency, stored):
    order = order_factory(declared_value=value, currency=currency)
    assert Order.objects.get(pk=order.pk).declared_value_amount == Decimal(stored)


def test_a_currency_with_four_decimals_is_held_to_the_column_s_three(order_data, staff_scope):
    """CLF (Chilean Unidad de Fomento) has 4 minor digits; the column keeps 3."""
    errors = validate_order(order_data(declared_value="1.2345", currency="CLF"), scope=staff_scope)[1]
    assert errors == {"declared_value": ["CLF amounts have 4 decimals, but a declared value keeps 3: give at most 3."]}
    clean, errors = validate_order(order_data(declared_value="1.234", currency="CLF"), scope=staff_scope)
    assert errors == {}
    assert clean.order["declared_value_amount"] == Decimal("1.234")


def test_without_a_known_currency_the_value_is_held_to_the_column(order_data, staff_scope):
    errors = validate_order(order_data(declared_value="1.2345", currency="EURO"), scope=staff_scope)[1]
    assert errors["declared_value"] == ["Use at most 3 decimal places and a value below 1,000,000,000."]
    errors = validate_order(order_data(declared_value="1.234"), scope=staff_scope)[1]
    assert "declared_value" not in errors  # only the missing currency is named
    assert errors["currency"] == ["Give the currency of the declared value, e.g. EUR."]


def test_a_value_too_large_for_the_column_says_so_whatever_its_currency(order_data, staff_scope):
    errors = validate_order(order_data(declared_value="1e30", currency="JPY"), scope=staff_scope)[1]
    assert errors == {"declared_value": ["Use a value below 1,000,000,000."]}


# --- Every channel gets the same rule ------------------------------------------------------------------------------


def _imported(user, content: bytes) -> ImportJob:
    return service.import_job_confirm(job=import_file(user, content), by=user, mode=ImportMode.VALID_ONLY)


def test_the_api_takes_three_kwd_decimals_and_gives_them_back(client, acme_key, order_data):
    data = order_data(declared_value="1234.567", currency="KWD")
    del data["customer_code"], data["branch_code"]
    response = client.post(LIST_URL, data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {acme_key}")
    assert response.status_code == 201, response.json()
    assert response.json()["declared_value"] == "1234.567"
    assert Order.objects.get().declared_value_amount == Decimal("1234.567")


@pytest.mark.parametrize(("value", "currency", "message"), TOO_FINE[:2])
def test_the_api_refuses_a_value_finer_than_its_currency(client, acme_key, order_data, value, currency, message):
    data = order_data(declared_value=value, currency=currency)
    del data["customer_code"], data["branch_code"]
    response = client.post(LIST_URL, data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {acme_key}")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"declared_value": [message]}


def test_the_api_still_gives_euro_and_yen_amounts_with_two_decimals(client, acme_key, order_data):
    """The column keeps 3 decimals now; what the API gives for a 0- or 2-decimal currency did not change."""
    for reference, value, currency in (("PO-E", "48000", "EUR"), ("PO-J", "150000", "JPY")):
        data = order_data(customer_reference=reference, declared_value=value, currency=currency)
        del data["customer_code"], data["branch_code"]
        response = client.post(LIST_URL, data, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {acme_key}")  # fmt: skip
        assert response.json()["declared_value"] == f"{value}.00"


def test_the_screen_refuses_a_yen_amount_with_decimals_and_takes_a_kwd_one(login, ops_user, locations, customer_a):
    ops = login(ops_user)
    response = ops.post(NEW, form_post(declared_value="1500.5", currency="JPY"))
    assert response.status_code == 422
    assert field_errors(response)["declared_value"] == "JPY amounts have no decimals: give a whole amount."
    assert ops.post(NEW, form_post(declared_value="1234.567", currency="KWD")).status_code == 302
    assert Order.objects.get().declared_value_amount == Decimal("1234.567")


def test_a_file_row_gets_the_same_rule(world):
    rows = [
        order_row("PO-1", declared_value="1500.5", currency="JPY"),
        order_row("PO-2", declared_value="0.125", currency="EUR"),
        order_row("PO-3", declared_value="1234.567", currency="KWD"),
    ]
    job = _imported(world["ops"], csv_bytes(rows, columns=VALUE_COLUMNS))
    assert errors_of(job) == [(2, "declared_value", TOO_FINE[0][2]), (3, "declared_value", TOO_FINE[1][2])]
    assert Order.objects.get().declared_value_amount == Decimal("1234.567")


def test_a_file_s_rows_that_write_one_kwd_amount_two_ways_agree(world):
    """Order columns must agree on every row of an order; 1.5 and 1.500 KWD are one amount."""
    rows = [
        order_row("PO-1", declared_value="1.5", currency="KWD"),
        {"customer_code": "ACME", "customer_reference": "PO-1", "pieces": "1", "gross_weight_kg": "5",
         "declared_value": "1.500", "currency": "KWD"},
    ]  # fmt: skip
    job = _imported(world["ops"], csv_bytes(rows, columns=VALUE_COLUMNS))
    assert errors_of(job) == []
    assert Order.objects.get().declared_value_amount == Decimal("1.5")


def test_a_webhook_order_gets_the_same_rule(generic):
    response = _generic_post(generic, _body(_intake_order(declared_value="1500.5", currency="JPY")))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"[0].declared_value": [TOO_FINE[0][2]]}
    response = _generic_post(generic, _body(_intake_order(declared_value="1.234", currency="KWD")), msg_id="msg_2")
    assert response.status_code == 200, response.content
    assert Order.objects.get().declared_value_amount == Decimal("1.234")


def test_a_kwd_shopify_order_keeps_its_fils(shopify):
    """Shopify writes KWD prices to the fils (3 decimals): the goods' value is not rounded to cents."""
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["currency"] = "KWD"
    payload["line_items"][0]["price"] = "9.126"
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 200, response.content
    assert Order.objects.get().declared_value_amount == Decimal("18.252")


@pytest.mark.parametrize(("value", "currency"), [("12", "EUR"), ("150", "JPY"), ("1.5", "KWD"), ("1234.567", "KWD")])
def test_an_edit_that_changes_nothing_keeps_the_declared_value(order_factory, ops_user, value, currency):
    """The stored value goes back through validation on every edit: 12.000 EUR or 150.000 JPY, as a 3-decimal column
    reads them, would be refused as reading two ways (12,000 or 12)."""
    order = order_factory(declared_value=value, currency=currency)
    data = services.order_as_data(Order.objects.get(pk=order.pk))
    saved = services.order_update(order=order, data=data, scope=scope_for_user(ops_user), by=ops_user,
                                  channel=Channel.SCREEN)  # fmt: skip
    assert saved.declared_value_amount == Decimal(value)


def test_the_edit_form_shows_a_euro_amount_with_cents(login, ops_user, order_factory):
    order = order_factory(declared_value="12", currency="EUR")
    page = login(ops_user).get(f"/orders/{order.reference}/edit/").content.decode()
    assert 'value="12.00"' in page
    assert 'value="12.000"' not in page
