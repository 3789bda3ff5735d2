"""Inbound order webhooks: the Shopify-compatible orders/create endpoint and the signed generic intake.
Signatures are checked over the raw bytes before anything is stored; repeats create nothing more."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time

import pytest
from rest_framework.test import APIClient

from orders.models import (
    DeliveryOutcome,
    Integration,
    IntegrationKind,
    Location,
    Order,
    OrderEvent,
    OrderStatus,
    WebhookDelivery,
)
from orders.webhooks import generate_secret
from tests.orders.fixtures.imports import world

__all__ = ["world"]
SHOPIFY_SECRET = "shpss_test_secret_0123456789abcdef"

SHOPIFY_ORDER = {
    "id": 820982911946154508, "name": "#1001", "order_number": 1001, "currency": "EUR", "total_price": "59.80",
    "note": "Leave at the back door",
    "shipping_address": {"name": "Jane Doe", "address1": "1 Rue de Rivoli", "city": "Paris", "zip": "75001",
                         "country": "France", "country_code": "FR"},
    "line_items": [
        {"title": "T-shirt", "variant_title": "Blue / M", "sku": "TS-BLU-M", "quantity": 2, "grams": 200,
         "requires_shipping": True},
        {"title": "Gift card", "quantity": 1, "grams": 0, "requires_shipping": False},
    ],
}  # fmt: skip


@pytest.fixture
def shopify(world) -> Integration:
    return Integration.objects.create(
        customer=world["acme"], kind=IntegrationKind.SHOPIFY, name="acme-shop", secret=SHOPIFY_SECRET,
        default_origin=Location.objects.get(code="DEHAM"), destination_by_country={"FR": "FRPAR"},
    )  # fmt: skip


@pytest.fixture
def generic(world) -> Integration:
    return Integration.objects.create(
        customer=world["acme"], kind=IntegrationKind.GENERIC, name="SAP", secret=generate_secret()
    )


def _shopify_post(integration: Integration, body: bytes, *, webhook_id: str = "wh-1", signature: str | None = None,
                  **headers: str):  # fmt: skip
    digest = base64.b64encode(hmac.new(integration.secret.encode(), body, hashlib.sha256).digest()).decode()
    extra = {"HTTP_X_SHOPIFY_TOPIC": "orders/create", "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id, **headers}
    if signature is not False:
        extra["HTTP_X_SHOPIFY_HMAC_SHA256"] = digest if signature is None else signature
    url = f"/api/v1/webhooks/shopify/{integration.pk}/orders-create/"
    return APIClient().generic("POST", url, body, content_type="application/json", **extra)


def _sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return (
        "v1,"
        + base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()
    )


def _generic_post(integration: Integration, body: bytes, *, msg_id: str = "msg_1", timestamp: int | None = None,
                  signature: str | None = None):  # fmt: skip
    ts = str(int(time.time()) if timestamp is None else timestamp)
    if signature is None:
        signature = _sign(integration.secret, msg_id, ts, body)
    headers = {"HTTP_WEBHOOK_ID": msg_id, "HTTP_WEBHOOK_TIMESTAMP": ts, "HTTP_WEBHOOK_SIGNATURE": signature}
    url = f"/api/v1/webhooks/intake/{integration.pk}/"
    return APIClient().generic("POST", url, body, content_type="application/json", **headers)


def _body(payload) -> bytes:
    return json.dumps(payload).encode()


# --- Shopify ---------------------------------------------------------------------------------------------


def test_a_signed_shopify_order_creates_one_submitted_parcel_order(shopify):
    response = _shopify_post(shopify, _body(SHOPIFY_ORDER))
    assert response.status_code == 200, response.content
    order = Order.objects.get()
    assert response.json() == {"status": "created", "reference": order.reference, "customer_reference": "#1001"}
    assert (order.customer, order.mode, order.status, order.channel) == (shopify.customer, "parcel",
                                                                          OrderStatus.SUBMITTED, "webhook")  # fmt: skip
    assert (order.origin_id, order.destination_id) == ("DEHAM", "FRPAR")
    assert order.consignee_name == "Jane Doe"
    assert "1 Rue de Rivoli" in order.destination_address
    assert (str(order.declared_value_amount), order.declared_value_currency) == ("59.80", "EUR")
    line = order.lines.get()  # the gift card does not travel
    assert (line.pieces, str(line.gross_weight_kg), line.description) == (
        2,
        "0.400",
        "T-shirt – Blue / M (SKU TS-BLU-M)",
    )
    context = OrderEvent.objects.filter(pgh_obj_id=order.pk).first().pgh_context.metadata
    assert context["channel"] == "webhook"
    assert context["integration"] == str(shopify.pk)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.order, delivery.status_code) == (DeliveryOutcome.CREATED, order, 200)


def test_the_city_is_mapped_to_its_unlocode_when_we_know_it(shopify):
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["shipping_address"].update(city="Hamburg", country_code="DE")
    shopify.default_origin = Location.objects.get(code="DEFRA")
    shopify.save()
    assert _shopify_post(shopify, _body(payload)).status_code == 200
    assert Order.objects.get().destination_id == "DEHAM"


def test_an_unknown_destination_is_a_clear_error(shopify):
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["shipping_address"].update(city="Nowhere", country_code="IS")
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 422
    assert "give the integration a destination for IS" in response.json()["error"]["fields"]["destination"][0]
    assert Order.objects.count() == 0
    assert WebhookDelivery.objects.get().outcome == DeliveryOutcome.INVALID


def test_a_repeated_delivery_creates_nothing_more(shopify):
    body = _body(SHOPIFY_ORDER)
    first = _shopify_post(shopify, body)
    again = _shopify_post(shopify, body)
    assert again.status_code == 200
    assert again.json()["repeated"] is True
    assert again.json()["reference"] == first.json()["reference"]
    assert Order.objects.count() == 1
    assert WebhookDelivery.objects.get().attempts == 2


def test_the_same_shopify_order_in_a_new_delivery_is_a_duplicate(shopify):
    _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1")
    response = _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-2")
    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    "case", ["missing", "wrong secret", "body changed", "reserialised", "unknown integration", "inactive"]
)
def test_a_bad_signature_is_401_and_nothing_is_stored(shopify, case):
    body = _body(SHOPIFY_ORDER)
    wrong = base64.b64encode(hmac.new(b"another secret", body, hashlib.sha256).digest()).decode()
    if case == "missing":
        response = _shopify_post(shopify, body, signature=False)
    elif case == "wrong secret":
        response = _shopify_post(shopify, body, signature=wrong)
    elif case == "body changed":
        digest = base64.b64encode(hmac.new(shopify.secret.encode(), body, hashlib.sha256).digest()).decode()
        response = _shopify_post(shopify, body.replace(b"1001", b"1002"), signature=digest)
    elif case == "reserialised":
        digest = base64.b64encode(hmac.new(shopify.secret.encode(), body, hashlib.sha256).digest()).decode()
        response = _shopify_post(shopify, json.dumps(SHOPIFY_ORDER, indent=2).encode(), signature=digest)
    elif case == "unknown integration":
        shopify.kind = IntegrationKind.GENERIC
        shopify.save()
        response = _shopify_post(shopify, body)
    else:
        shopify.is_active = False
        shopify.save()
        response = _shopify_post(shopify, body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert Order.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


def test_a_signed_body_that_is_not_json_is_kept_for_support(shopify):
    response = _shopify_post(shopify, b"{not json")
    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.body) == (DeliveryOutcome.MALFORMED, "{not json")


def test_an_oversized_body_is_413(shopify, settings):
    settings.OMS_WEBHOOK_MAX_BYTES = 100
    assert _shopify_post(shopify, _body(SHOPIFY_ORDER)).status_code == 413
    assert WebhookDelivery.objects.count() == 0


# --- Generic (Standard Webhooks) ----------------------------------------------------------------------------


def _intake_order(reference: str = "SO-1", **values) -> dict:
    return {
        "customer_reference": reference, "mode": "road_ftl", "incoterm": "DAP", "origin": "DEHAM",
        "destination": "PLWAW", "shipper_name": "Acme Industrial", "consignee_name": "Nordwind Handel GmbH",
        "requested_pickup_on": "2026-12-01", "lines": [{"pieces": 4, "gross_weight_kg": "800", "description": "Beer"}],
        **values,
    }  # fmt: skip


def test_a_signed_generic_delivery_creates_its_orders(generic):
    response = _generic_post(generic, _body([_intake_order("SO-1"), _intake_order("SO-2")]))
    assert response.status_code == 200, response.content
    assert [r["status"] for r in response.json()["results"]] == ["created", "created"]
    assert set(Order.objects.values_list("customer_reference", "status", "channel")) == {
        ("SO-1", "submitted", "webhook"), ("SO-2", "submitted", "webhook")}  # fmt: skip


def test_a_replayed_webhook_id_creates_nothing_more(generic):
    body = _body(_intake_order())
    _generic_post(generic, body)
    again = _generic_post(generic, body)
    assert again.status_code == 200
    assert again.json()["repeated"] is True
    assert Order.objects.count() == 1


@pytest.mark.parametrize("skew", [-600, 600])
def test_a_stale_or_future_timestamp_is_401(generic, skew):
    response = _generic_post(generic, _body(_intake_order()), timestamp=int(time.time()) + skew)
    assert response.status_code == 401
    assert Order.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.parametrize("signature", ["", "v1,AAAA", "v2,abc"])
def test_a_wrong_or_missing_generic_signature_is_401(generic, signature):
    response = _generic_post(generic, _body(_intake_order()), signature=signature)
    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


def test_one_of_several_signatures_may_match_during_a_rotation(generic):
    body, ts = _body(_intake_order()), str(int(time.time()))
    good = _sign(generic.secret, "msg_1", ts, body)
    old = _sign(generate_secret(), "msg_1", ts, body)
    assert _generic_post(generic, body, timestamp=int(ts), signature=f"{old} {good}").status_code == 200


def test_an_invalid_order_rolls_back_the_whole_delivery(generic):
    response = _generic_post(generic, _body([_intake_order("SO-1"), _intake_order("SO-2", origin="XXXXX")]))
    assert response.status_code == 422
    body = response.json()
    assert "[1].origin" in body["error"]["fields"]
    assert [r["status"] for r in body["results"]] == ["not_created", "invalid"]
    assert Order.objects.count() == 0


def test_a_generic_delivery_cannot_order_for_another_customer(generic):
    response = _generic_post(generic, _body(_intake_order(customer_code="GLOBEX")))
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["[0].customer_code"] == ["You can only place orders for ACME."]
