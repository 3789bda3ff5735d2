"""Inbound order webhooks: the Shopify-compatible orders/create endpoint and the signed generic intake.
Signatures are checked over the raw bytes before anything is stored; repeats create nothing more."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any, Literal

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from orders import history_entries, services
from orders.models import (
    Channel,
    DeliveryOutcome,
    Integration,
    IntegrationKind,
    Location,
    Order,
    OrderEvent,
    OrderStatus,
    WebhookDelivery,
)
from orders.webhooks import generic_intake, shopify_orders_create
from orders.webhooks_signatures import generate_secret
from partners.models import Role
from partners.scoping import Audience, Scope, scope_for_user
from tests.orders.fixtures.imports import world

__all__ = ["world"]
SHOPIFY_SECRET = "shpss_test_secret_0123456789abcdef"

# The total holds the gift card (25.00) and shipping (4.90); the goods in the parcel are worth 2 × 29.90.
SHOPIFY_ORDER: dict[str, Any] = {
    "id": 820982911946154508, "name": "#1001", "order_number": 1001, "currency": "EUR", "total_price": "89.70",
    "total_line_items_price": "84.80", "financial_status": "paid", "cancelled_at": None,
    "note": "Leave at the back door",
    "shipping_address": {"name": "Jane Doe", "address1": "1 Rue de Rivoli", "city": "Paris", "zip": "75001",
                         "country": "France", "country_code": "FR"},
    "line_items": [
        {"title": "T-shirt", "variant_title": "Blue / M", "sku": "TS-BLU-M", "quantity": 2, "grams": 200,
         "price": "29.90", "requires_shipping": True, "gift_card": False, "discount_allocations": []},
        {"title": "Gift card", "quantity": 1, "grams": 0, "price": "25.00", "requires_shipping": False,
         "gift_card": True, "discount_allocations": []},
    ],
    "shipping_lines": [{"title": "Colissimo", "price": "4.90", "discount_allocations": []}],
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


def _shopify_post(integration: Integration, body: bytes, *, webhook_id: str = "wh-1",
                  signature: str | Literal[False] | None = None, **headers: Any):  # fmt: skip
    digest = base64.b64encode(hmac.new(integration.secret.encode(), body, hashlib.sha256).digest()).decode()
    extra = {"HTTP_X_SHOPIFY_TOPIC": "orders/create", "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id, **headers}
    if signature is not False:
        extra["HTTP_X_SHOPIFY_HMAC_SHA256"] = digest if signature is None else signature
    url = f"/api/v1/webhooks/shopify/{integration.pk}/orders-create/"
    # APIClient.generic sends a bytes body as it is (force_bytes); its stubs allow only str (so here and below)
    return APIClient().generic("POST", url, body, content_type="application/json", **extra)  # type: ignore[arg-type]


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
    return APIClient().generic("POST", url, body, content_type="application/json", **headers)  # type: ignore[arg-type]


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
    assert (order.declared_value_amount, order.declared_value_currency) == (Decimal("59.80"), "EUR")
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
    "case", ["missing", "wrong secret", "non-ascii", "body changed", "reserialised", "unknown integration", "inactive"]
)
def test_a_bad_signature_is_401_and_nothing_is_stored(shopify, case):
    body = _body(SHOPIFY_ORDER)
    wrong = base64.b64encode(hmac.new(b"another secret", body, hashlib.sha256).digest()).decode()
    if case == "missing":
        response = _shopify_post(shopify, body, signature=False)
    elif case == "non-ascii":  # compare_digest raises TypeError on text with non-ASCII characters
        response = _shopify_post(shopify, body, signature="é")
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


def _unsized_request(url: str, body: bytes, **headers: Any):
    """A request whose body comes without Content-Length, as a chunked one does."""
    request = RequestFactory().generic("POST", url, body, content_type="application/json", **headers)
    del request.META["CONTENT_LENGTH"]
    return request


def test_an_oversized_body_without_content_length_is_413(shopify, settings):
    settings.OMS_WEBHOOK_MAX_BYTES = 100
    body = _body(SHOPIFY_ORDER)
    digest = base64.b64encode(hmac.new(shopify.secret.encode(), body, hashlib.sha256).digest()).decode()
    url = f"/api/v1/webhooks/shopify/{shopify.pk}/orders-create/"
    request = _unsized_request(url, body, HTTP_X_SHOPIFY_HMAC_SHA256=digest, HTTP_X_SHOPIFY_WEBHOOK_ID="wh-1")
    response = shopify_orders_create(request, integration_id=shopify.pk)
    assert response.status_code == 413
    assert response.data["error"]["code"] == "payload_too_large"  # as every 413 of the API
    assert WebhookDelivery.objects.count() == 0


def test_a_body_within_the_limit_without_content_length_is_read(shopify):
    body = _body(SHOPIFY_ORDER)
    digest = base64.b64encode(hmac.new(shopify.secret.encode(), body, hashlib.sha256).digest()).decode()
    url = f"/api/v1/webhooks/shopify/{shopify.pk}/orders-create/"
    request = _unsized_request(url, body, HTTP_X_SHOPIFY_HMAC_SHA256=digest, HTTP_X_SHOPIFY_WEBHOOK_ID="wh-1")
    response = shopify_orders_create(request, integration_id=shopify.pk)
    assert response.status_code == 200, response.data
    assert response.data["status"] == "created"


@pytest.mark.parametrize("quantity", [2, "2", "2.0"])
def test_a_whole_quantity_is_the_pieces_and_weighs_grams_times_quantity(shopify, quantity):
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["line_items"][0]["quantity"] = quantity
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 200, response.content
    line = Order.objects.get().lines.get()
    assert (line.pieces, str(line.gross_weight_kg)) == (2, "0.400")


@pytest.mark.parametrize(
    ("quantity", "message"),
    [("2.5", "2.5 is not a whole number."), ("abc", "abc is not a whole number."),
     ({"value": 2}, "Send text or a number here, not an object."), (-2, "Must be at least 1."),
     (0, "Must be at least 1."), (None, "This field is required."),
     (True, "Send text or a number here, not true or false.")],
)  # fmt: skip
def test_a_quantity_that_is_not_a_whole_number_is_a_422_on_the_lines_pieces(shopify, quantity, message):
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["line_items"][0]["quantity"] = quantity
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"lines[0].pieces": [message]}
    assert Order.objects.count() == 0
    assert WebhookDelivery.objects.get().outcome == DeliveryOutcome.INVALID


@pytest.mark.parametrize(
    ("grams", "message"),
    [("heavy", "heavy is not a number."), ("NaN", "NaN is not a number."), ({"g": 1}, "{'g': 1} is not a number."),
     (1e30, "Use at most 3 decimal places and a value below 1,000,000,000."), (-200, "Must be greater than zero.")],
)  # fmt: skip
def test_grams_that_are_no_weight_are_a_422_on_the_lines_weight(shopify, grams, message):
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["line_items"][0]["grams"] = grams
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"lines[0].gross_weight_kg": [message]}
    assert Order.objects.count() == 0


def test_a_shippable_item_of_zero_grams_is_a_422_staff_see(shopify):
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["line_items"][0]["grams"] = 0  # the merchant never weighed the product: a parcel we cannot book
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"lines[0].gross_weight_kg": ["Must be greater than zero."]}
    assert WebhookDelivery.objects.get().outcome == DeliveryOutcome.INVALID


def test_an_order_with_nothing_to_ship_is_ignored_with_200(shopify):
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["line_items"] = [{"title": "Gift card", "quantity": 1, "grams": 0, "requires_shipping": False},
                             {"title": "E-book", "quantity": 2, "grams": 0, "requires_shipping": False}]  # fmt: skip
    del payload["shipping_address"]  # a digital order has none
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 200  # an error answer would make Shopify retry and drop the subscription
    assert response.json()["status"] == "ignored"
    assert Order.objects.count() == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.status_code, delivery.order) == (DeliveryOutcome.IGNORED, 200, None)
    assert delivery.external_id == str(SHOPIFY_ORDER["id"])


def test_a_shopify_test_order_creates_no_real_order(shopify):
    """A merchant trying the checkout with Shopify's test gateway: `"test": true`. It used to become a real
    submitted parcel order that operations would book."""
    payload = {**copy.deepcopy(SHOPIFY_ORDER), "test": True}
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ignored",
        "detail": 'This is a Shopify test order ("test": true, placed through a test gateway): no order was created.',
    }
    assert Order.objects.count() == 0
    delivery = WebhookDelivery.objects.get()  # why it was ignored stays with the delivery
    assert (delivery.outcome, delivery.status_code, delivery.order) == (DeliveryOutcome.IGNORED, 200, None)
    assert delivery.response["detail"].startswith("This is a Shopify test order")
    assert delivery.external_id == str(SHOPIFY_ORDER["id"])


def test_a_real_order_that_says_test_false_is_created(shopify):
    response = _shopify_post(shopify, _body({**copy.deepcopy(SHOPIFY_ORDER), "test": False}))
    assert response.json()["status"] == "created"


def _with_shirt(**values: Any) -> dict[str, Any]:
    """SHOPIFY_ORDER with its T-shirt line changed."""
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["line_items"][0].update(values)
    return payload


def test_the_declared_value_is_the_goods_shipped_less_their_discounts(shopify):
    """Customs value of the parcel: not total_price, which adds shipping, tax and gift cards that do not travel."""
    payload = _with_shirt(discount_allocations=[{"amount": "5.98", "discount_application_index": 0}])  # 10 % off
    payload["line_items"].append({"title": "Mug", "quantity": 1, "grams": 350, "price": "15.00",
                                  "requires_shipping": True, "discount_allocations": [{"amount": "1.50"}]})  # fmt: skip
    payload.update(total_price="99.92", total_tax="11.90")
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 200, response.content
    order = Order.objects.get()
    assert (order.declared_value_amount, order.declared_value_currency) == (Decimal("67.32"), "EUR")  # 53.82 + 13.50


@pytest.mark.parametrize(
    "shirt",
    [{"price": "0.00"}, {"price": "29.90", "discount_allocations": [{"amount": "59.80"}]}],
    ids=["free item", "100 % discount"],
)
def test_a_free_shopify_order_creates_its_parcel_order_without_a_declared_value(shopify, shirt):
    """A replacement or a 100 % discount still ships. A value of 0.00 used to be declared, which validation
    refuses ("Must be greater than zero"): a 422 Shopify retried, then dropped."""
    response = _shopify_post(shopify, _body(_with_shirt(**shirt)))
    assert response.status_code == 200, response.content
    order = Order.objects.get()
    assert (order.declared_value_amount, order.declared_value_currency) == (None, "")
    assert WebhookDelivery.objects.get().outcome == DeliveryOutcome.CREATED


@pytest.mark.parametrize(
    "shirt", [{"price": "free"}, {"discount_allocations": [{"amount": "lots"}]}], ids=["price", "discount"]
)
def test_a_price_that_is_not_a_number_is_still_a_422_on_the_declared_value(shopify, shirt):
    response = _shopify_post(shopify, _body(_with_shirt(**shirt)))
    assert response.status_code == 422
    assert "declared_value" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("cancelled", "why"),
    [
        ({"cancelled_at": "2026-12-01T10:00:00+01:00", "cancel_reason": "customer", "financial_status": "voided"},
         "This order was cancelled in the store (cancelled_at 2026-12-01T10:00:00+01:00)"),
        ({"financial_status": "voided"}, 'This order\'s payment was voided in the store (financial_status "voided")'),
        ({"financial_status": "refunded"},
         'This order\'s payment was refunded in the store (financial_status "refunded")'),
    ],
    ids=["cancelled", "voided", "refunded"],
)  # fmt: skip
def test_an_order_the_store_cancelled_creates_no_parcel_order(shopify, cancelled, why):
    """A delayed or retried orders/create can carry an order the shop has cancelled: nothing will ship. It used to
    become a submitted parcel order that operations booked and a carrier collected."""
    payload = {**copy.deepcopy(SHOPIFY_ORDER), "id": 5550001, "name": "#2001", **cancelled}
    response = _shopify_post(shopify, _body(payload), webhook_id="wh-cancelled")
    assert response.status_code == 200  # an error answer would make Shopify retry and drop the subscription
    assert response.json() == {"status": "ignored", "detail": f"{why}: nothing ships, no order was created."}
    assert not Order.objects.exists()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.status_code, delivery.external_id) == (DeliveryOutcome.IGNORED, 200, "5550001")


def _cancel_in_store(payload: dict[str, Any]) -> dict[str, Any]:
    return {**copy.deepcopy(payload), "cancelled_at": "2026-12-01T10:00:00+01:00", "financial_status": "voided"}


_CANCELLED = "This order was cancelled in the store (cancelled_at 2026-12-01T10:00:00+01:00)"


def test_a_later_delivery_of_an_order_the_store_cancelled_since_is_a_duplicate_and_holds_it(shopify):
    """The order was delivered and created. A retried or delayed orders/create for the same Shopify order now carries
    cancelled_at. It used to be answered 200 "ignored … no order was created", though the order existed and stayed
    live: booked and collected as usual, with nothing to tell anyone the shop had cancelled it."""
    _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1")
    order = Order.objects.get()

    later = _shopify_post(shopify, _body(_cancel_in_store(SHOPIFY_ORDER)), webhook_id="wh-2")

    assert later.status_code == 200
    assert later.json() == {
        "status": "duplicate", "reference": order.reference, "customer_reference": "#1001",
        "detail": f"{_CANCELLED}, after it became order {order.reference}: the order is put on hold until our "
        "operations check with you whether it ships.",
    }  # fmt: skip
    order.refresh_from_db()
    assert (order.status, order.status_before_hold) == (OrderStatus.ON_HOLD, OrderStatus.SUBMITTED)  # not cancelled
    hold = order.transitions.get(name="hold")
    assert (hold.by, hold.channel, hold.payload) == (None, "webhook", {"cancelled_in_store": str(SHOPIFY_ORDER["id"])})
    assert hold.reason.startswith(f"{_CANCELLED}: held until operations check with the shop")
    entry = history_entries.order_history_for(order=order)[-1]  # what staff read on the order's page
    assert (entry.title, entry.who, entry.channel, entry.reason) == ("Put on hold", "System", "Webhook", hold.reason)
    delivery = WebhookDelivery.objects.get(delivery_id="wh-2")
    assert (delivery.outcome, delivery.order) == (DeliveryOutcome.DUPLICATE, order)


def test_an_order_the_store_cancelled_is_held_once_and_a_release_stands(shopify):
    _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1")
    _shopify_post(shopify, _body(_cancel_in_store(SHOPIFY_ORDER)), webhook_id="wh-2")
    order = Order.objects.get()
    scope = Scope(Audience.STAFF, frozenset(), frozenset({Role.OPERATIONS}))
    services.order_transition(order=order, name="release", scope=scope, channel=Channel.SCREEN)  # the shop ships it

    again = _shopify_post(shopify, _body(_cancel_in_store(SHOPIFY_ORDER)), webhook_id="wh-3")

    assert again.json()["status"] == "duplicate"
    assert again.json()["detail"] == (f"{_CANCELLED}, after it became order {order.reference}, which is submitted: the "
                                      "order is left as it is for our operations to handle.")  # fmt: skip
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert order.transitions.filter(name="hold").count() == 1


@pytest.mark.parametrize("status", [OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED, OrderStatus.CANCELLED])
def test_an_order_the_store_cancelled_after_its_goods_moved_is_left_as_it_is(shopify, status):
    """Stopping goods that move is an exception people handle; a hold would only stop tracking following them."""
    _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1")
    order = Order.objects.get()
    Order.objects.filter(pk=order.pk).update(status=status)

    later = _shopify_post(shopify, _body(_cancel_in_store(SHOPIFY_ORDER)), webhook_id="wh-2")

    assert (later.status_code, later.json()["status"], later.json()["reference"]) == (200, "duplicate", order.reference)
    left = f"after it became order {order.reference}, which is {OrderStatus(status).label.lower()}: the order is left"
    assert left in later.json()["detail"]
    order.refresh_from_db()
    assert order.status == status
    assert not order.transitions.filter(name="hold").exists()


def test_a_partly_refunded_order_still_ships(shopify):
    response = _shopify_post(shopify, _body({**copy.deepcopy(SHOPIFY_ORDER), "financial_status": "partially_refunded"}))
    assert response.json()["status"] == "created"


def test_an_order_without_line_items_is_still_a_422(shopify):
    payload = {**copy.deepcopy(SHOPIFY_ORDER), "line_items": []}
    response = _shopify_post(shopify, _body(payload))
    assert response.status_code == 422
    assert "lines" in response.json()["error"]["fields"]


@pytest.fixture
def second_store(world) -> Integration:
    return Integration.objects.create(
        customer=world["acme"], kind=IntegrationKind.SHOPIFY, name="acme-us-shop", secret=SHOPIFY_SECRET + "-us",
        default_origin=Location.objects.get(code="DEHAM"), destination_by_country={"FR": "FRPAR"},
    )  # fmt: skip


def _store_order(shopify_id: int, consignee: str) -> dict:
    payload = copy.deepcopy(SHOPIFY_ORDER)  # the same name, #1001: names are unique only within a store
    payload["id"] = shopify_id
    payload["shipping_address"]["name"] = consignee
    return payload


def test_a_second_store_of_the_customer_gets_its_own_order_with_the_same_name(shopify, second_store):
    eu = _shopify_post(shopify, _body(_store_order(1, "Jane Doe")), webhook_id="eu-1",
                       HTTP_X_SHOPIFY_SHOP_DOMAIN="acme-eu.myshopify.com")  # fmt: skip
    us = _shopify_post(second_store, _body(_store_order(2, "John Smith")), webhook_id="us-1",
                       HTTP_X_SHOPIFY_SHOP_DOMAIN="acme-us.myshopify.com")  # fmt: skip
    assert (eu.status_code, eu.json()["status"], eu.json()["customer_reference"]) == (200, "created", "#1001")
    assert (us.status_code, us.json()["status"], us.json()["customer_reference"]) == (200, "created", "acme-us #1001")
    assert dict(Order.objects.values_list("customer_reference", "consignee_name")) == {
        "#1001": "Jane Doe", "acme-us #1001": "John Smith"}  # fmt: skip


def test_each_store_s_order_in_a_new_delivery_is_a_duplicate_of_its_own(shopify, second_store):
    for webhook_id in ("eu-1", "eu-2"):
        _shopify_post(shopify, _body(_store_order(1, "Jane Doe")), webhook_id=webhook_id,
                      HTTP_X_SHOPIFY_SHOP_DOMAIN="acme-eu.myshopify.com")  # fmt: skip
    first = _shopify_post(second_store, _body(_store_order(2, "John Smith")), webhook_id="us-1",
                          HTTP_X_SHOPIFY_SHOP_DOMAIN="acme-us.myshopify.com")  # fmt: skip
    again = _shopify_post(second_store, _body(_store_order(2, "John Smith")), webhook_id="us-2",
                          HTTP_X_SHOPIFY_SHOP_DOMAIN="acme-us.myshopify.com")  # fmt: skip
    assert again.json() == {**first.json(), "status": "duplicate"}
    assert Order.objects.count() == 2


def test_one_integration_for_two_stores_tells_them_apart_by_shop_domain(shopify):
    # One Shopify app (one secret) installed in two stores: the shop domain names the store.
    _shopify_post(shopify, _body(_store_order(1, "Jane Doe")), webhook_id="a",
                  HTTP_X_SHOPIFY_SHOP_DOMAIN="acme-eu.myshopify.com")  # fmt: skip
    response = _shopify_post(shopify, _body(_store_order(2, "John Smith")), webhook_id="b",
                             HTTP_X_SHOPIFY_SHOP_DOMAIN="acme-us.myshopify.com")  # fmt: skip
    assert (response.json()["status"], response.json()["customer_reference"]) == ("created", "acme-us #1001")


def test_without_a_shop_domain_the_integration_name_tells_the_stores_apart(shopify, second_store):
    _shopify_post(shopify, _body(_store_order(1, "Jane Doe")), webhook_id="eu-1")
    response = _shopify_post(second_store, _body(_store_order(2, "John Smith")), webhook_id="us-1")
    assert (response.json()["status"], response.json()["customer_reference"]) == ("created", "acme-us-shop #1001")


def test_a_shopify_name_the_customer_used_elsewhere_is_not_taken_for_a_duplicate(shopify, generic):
    _generic_post(generic, _body(_intake_order("#1001")))  # the customer's ERP numbers its orders the same way
    response = _shopify_post(shopify, _body(SHOPIFY_ORDER), HTTP_X_SHOPIFY_SHOP_DOMAIN="acme-eu.myshopify.com")
    assert (response.json()["status"], response.json()["customer_reference"]) == ("created", "acme-eu #1001")
    assert Order.objects.count() == 2


@pytest.mark.parametrize("where", ["name", "city", "id"])
def test_a_nul_in_a_shopify_order_is_an_error_not_a_crash(shopify, where):
    payload = copy.deepcopy(SHOPIFY_ORDER)
    if where == "name":
        payload["name"] = "#10\x0001"
    elif where == "city":
        payload["shipping_address"]["city"] = "Par\x00is"
    else:
        payload["id"] = "8209\x00"
    response = _shopify_post(shopify, _body(payload))
    delivery = WebhookDelivery.objects.get()
    if where == "id":  # not an order field: the order is created, the id kept without the NUL
        assert response.status_code == 200
        assert delivery.external_id == "8209\ufffd"
    else:
        assert response.status_code == 422
        assert "Contains a NUL character; remove it." in str(response.json()["error"]["fields"])
        assert "\x00" not in json.dumps(delivery.response, ensure_ascii=False)


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


@pytest.mark.parametrize("signature", ["", "v1,AAAA", "v2,abc", "v1,é", "v1,é v1,AAAA"])
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


def test_two_orders_of_one_delivery_under_one_reference_are_a_422_not_a_duplicate(generic):
    """A mapping slip puts two different orders under SO-77. Answering the second "duplicate" of the first (200)
    let the sender mark both as delivered while 5 pieces / 99 kg were lost without a word."""
    second = _intake_order("SO-77", lines=[{"pieces": 5, "gross_weight_kg": "99"}], description="Spare motors")
    response = _generic_post(generic, _body([_intake_order("SO-77"), _intake_order("SO-78"), second]))
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["fields"] == {"[2].customer_reference": [
        "Order [0] of this delivery has the customer reference SO-77 too: give each order its own reference, or send "
        "one order with all its cargo lines."
    ]}  # fmt: skip
    assert [r["status"] for r in body["results"]] == ["not_created", "not_created", "invalid"]
    assert not Order.objects.exists()
    assert WebhookDelivery.objects.get().outcome == DeliveryOutcome.INVALID


def test_an_order_an_earlier_delivery_created_is_still_a_duplicate(generic):
    _generic_post(generic, _body(_intake_order("SO-77")), msg_id="first")
    response = _generic_post(generic, _body([_intake_order("SO-77"), _intake_order("SO-78")]), msg_id="second")
    assert response.status_code == 200, response.content
    assert [r["status"] for r in response.json()["results"]] == ["duplicate", "created"]
    assert Order.objects.count() == 2


def test_a_generic_delivery_cannot_order_for_another_customer(generic):
    response = _generic_post(generic, _body(_intake_order(customer_code="GLOBEX")))
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["[0].customer_code"] == ["You can only place orders for ACME."]


def test_a_timestamp_that_is_not_unix_seconds_is_401(generic):
    body = _body(_intake_order())
    for timestamp in ("9" * 400, "1.7e9", "-1"):  # 400 digits overflowed the float comparison (a 500)
        signature = _sign(generic.secret, "msg_1", timestamp, body)
        headers: dict[str, Any] = {"HTTP_WEBHOOK_ID": "msg_1", "HTTP_WEBHOOK_TIMESTAMP": timestamp,
                                   "HTTP_WEBHOOK_SIGNATURE": signature}  # fmt: skip
        response = APIClient().generic("POST", f"/api/v1/webhooks/intake/{generic.pk}/", body,  # type: ignore[arg-type]
                                       content_type="application/json", **headers)  # fmt: skip
        assert response.status_code == 401, timestamp
    assert WebhookDelivery.objects.count() == 0


def test_a_nul_in_the_customer_reference_is_a_422_and_the_delivery_is_kept(generic):
    response = _generic_post(generic, _body([_intake_order("SO-\x001")]))
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["fields"]["[0].customer_reference"] == ["Contains a NUL character; remove it."]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.status_code) == (DeliveryOutcome.INVALID, 422)
    assert delivery.response["results"][0]["customer_reference"] == "SO-\ufffd1"  # PostgreSQL keeps no NUL
    assert "\\u0000" in delivery.body  # the body as sent: JSON's escape is six plain characters
    assert Order.objects.count() == 0


def test_a_raw_nul_byte_in_the_body_is_kept_for_support_without_it(generic):
    response = _generic_post(generic, b'{"customer_reference": "SO-\x001"}')
    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.body) == (DeliveryOutcome.MALFORMED, '{"customer_reference": "SO-\ufffd1"}')


@pytest.mark.parametrize(
    "body",
    [b'{"customer_reference": "SO-1", "declared_value": ' + b"9" * 5000 + b"}",  # int() refuses > 4,300 digits
     b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe{}", b"{not json"],
    ids=["huge integer", "nested too deep", "not utf-8", "not json"],
)  # fmt: skip
def test_a_body_that_is_not_json_is_a_400_parse_error(generic, body):
    response = _generic_post(generic, body)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "parse_error", "message": "The body is not JSON.", "fields": {}}}
    assert WebhookDelivery.objects.get().outcome == DeliveryOutcome.MALFORMED


def test_an_oversized_generic_body_without_content_length_is_413(generic, settings):
    settings.OMS_WEBHOOK_MAX_BYTES = 100
    body, timestamp = _body(_intake_order()), str(int(time.time()))
    request = _unsized_request(
        f"/api/v1/webhooks/intake/{generic.pk}/", body, HTTP_WEBHOOK_ID="msg_1", HTTP_WEBHOOK_TIMESTAMP=timestamp,
        HTTP_WEBHOOK_SIGNATURE=_sign(generic.secret, "msg_1", timestamp, body),
    )  # fmt: skip
    assert generic_intake(request, integration_id=generic.pk).status_code == 413
    assert WebhookDelivery.objects.count() == 0


# --- Bodies and ids no column can carry ------------------------------------------------------------------


@pytest.mark.parametrize(
    "where", ["reference", "field name", "shopify city"], ids=["reference", "field-name", "shopify-city"]
)
def test_a_lone_surrogate_escape_is_a_400_kept_for_support_not_a_500(generic, shopify, where):
    """JSON's "\\ud800" (six ASCII characters) is valid JSON but no text: no query, text column or jsonb can
    carry it. Like bytes that are not UTF-8, it is a malformed body, answered 400 and kept for support."""
    if where == "reference":
        response = _generic_post(generic, b'[{"customer_reference": "SO-\\ud800", "mode": "road_ftl"}]')
    elif where == "field name":
        response = _generic_post(generic, (json.dumps(_intake_order("SO-1"))[:-1] + ', "x\\ud800": "1"}').encode())
    else:
        payload = copy.deepcopy(SHOPIFY_ORDER)
        payload["shipping_address"].update(country_code="ES", city="CITY_MARK")
        response = _shopify_post(shopify, json.dumps(payload).replace("CITY_MARK", "Madr\\ud800d").encode())
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "parse_error"
    assert "lone UTF-16 surrogate" in response.json()["error"]["message"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == DeliveryOutcome.MALFORMED
    assert "\\ud800" in delivery.body  # the body as sent, escape and all
    assert Order.objects.count() == 0


def test_two_long_delivery_ids_that_share_their_first_200_characters_are_two_deliveries(generic):
    """Standard Webhooks sets no length on webhook-id: an id too long for the column is kept as its SHA-256."""
    prefix = "evt_" + "0" * 196
    first = _generic_post(generic, _body(_intake_order("SO-1")), msg_id=prefix + "A")
    second = _generic_post(generic, _body(_intake_order("SO-2")), msg_id=prefix + "B")
    again = _generic_post(generic, _body(_intake_order("SO-2")), msg_id=prefix + "B")
    assert (first.status_code, second.status_code, again.status_code) == (200, 200, 200)
    assert again.json()["repeated"] is True
    assert set(Order.objects.values_list("customer_reference", flat=True)) == {"SO-1", "SO-2"}
    assert {len(d) for d in WebhookDelivery.objects.values_list("delivery_id", flat=True)} == {7 + 64}


def test_a_parcel_to_a_buyer_in_the_shops_own_city_is_created(shopify):
    """The shop ships from Hamburg to a buyer in Hamburg: a parcel order, not a 422 that Shopify retries and
    in the end drops (a UN/LOCODE names the whole city)."""
    shopify.destination_by_country = {"FR": "FRPAR", "DE": "DEHAM"}
    shopify.save(update_fields=["destination_by_country"])
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload["shipping_address"] = {"name": "Jürgen Müller", "address1": "Mönckebergstraße 7", "city": "Hamburg",
                                   "zip": "20095", "country": "Germany", "country_code": "DE"}  # fmt: skip
    response = _shopify_post(shopify, _body(payload), webhook_id="wh-local")
    assert response.status_code == 200, response.content
    order = Order.objects.get()
    assert (order.mode, order.origin_id, order.destination_id) == ("parcel", "DEHAM", "DEHAM")


@pytest.mark.parametrize("depth", [480, 700])
def test_a_deeply_nested_but_parseable_body_is_answered_and_kept_not_a_500(generic, shopify, depth):
    """json.loads takes bodies nested deeper than Python's recursion limit: the surrogate check walks them
    without recursion, and the delivery is answered and kept for support like any other."""
    nested = "[" * depth + "]" * depth
    body = json.dumps(_intake_order("SO-DEEP"))[:-1] + f', "extra": {nested}}}'
    json.loads(body)
    assert _generic_post(generic, body.encode()).status_code == 422
    body = json.dumps(SHOPIFY_ORDER)[:-1] + f', "note_attributes": {nested}}}'
    assert _shopify_post(shopify, body.encode()).status_code == 200
    assert WebhookDelivery.objects.count() == 2


def test_the_console_keeps_every_delivery_so_a_resent_shopify_order_stays_one_order(shopify, admin_user, login):
    """A delivery's row is what makes the same Shopify order sent again a duplicate: the console shows deliveries
    but may not delete them (nor add or change them)."""
    assert _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1").json()["status"] == "created"
    delivery = WebhookDelivery.objects.get()
    client = login(admin_user)
    response = client.post(
        "/admin/orders/webhookdelivery/",
        {"action": "delete_selected", "_selected_action": [delivery.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302, 403)
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    assert client.get(f"/admin/orders/webhookdelivery/{delivery.pk}/delete/").status_code == 403
    retried = _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1")  # Shopify retries it
    resent = _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-2")  # or sends the order again
    assert (retried.json()["repeated"], resent.json()["status"]) == (True, "duplicate")
    assert Order.objects.count() == 1


def test_the_order_page_says_the_store_cancelled_an_order_whose_goods_move(
    shopify, world, client, django_assert_max_num_queries
):
    """Once the goods move the order is left as it is, and the store's word reached only the store's own answer: the
    order page now says it, whoever opens the order, with the integration and when it came."""
    _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1")
    order = Order.objects.get()
    client.force_login(world["ops"])
    assert 'id="store-cancellation"' not in client.get(order.get_absolute_url()).content.decode()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.IN_TRANSIT)

    _shopify_post(shopify, _body(_cancel_in_store(SHOPIFY_ORDER)), webhook_id="wh-2")

    with django_assert_max_num_queries(21):
        page = client.get(order.get_absolute_url()).content.decode()
    assert "The store cancelled this order after it reached us." in page
    assert f"{_CANCELLED}. Check with the shop whether the goods should still travel" in page
    assert shopify.name in page
    assert "check with you" not in page  # the store's answer is addressed to the store


def test_a_held_store_cancellation_asks_to_cancel_or_release_and_a_cancelled_order_says_nothing(shopify, world, client):
    _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1")
    _shopify_post(shopify, _body(_cancel_in_store(SHOPIFY_ORDER)), webhook_id="wh-2")
    order = Order.objects.get()
    client.force_login(world["ops"])
    assert "then cancel or release the order." in client.get(order.get_absolute_url()).content.decode()
    services.order_cancel(
        order=order,
        scope=scope_for_user(world["ops"]),
        by=world["ops"],
        reason="Shop confirmed.",
        channel=Channel.SCREEN,
    )
    assert 'id="store-cancellation"' not in client.get(order.get_absolute_url()).content.decode()
