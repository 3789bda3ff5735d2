"""Inbound order webhooks: a Shopify-compatible `orders/create` endpoint and a generic signed JSON intake.

Both read at most OMS_WEBHOOK_MAX_BYTES + 1 bytes of the body, with or without Content-Length (a chunked
request has none), and verify the signature over the raw bytes, in constant time and as bytes, before
anything is parsed or stored (wrong, missing or stale signatures: 401, nothing stored). Each accepted
delivery is recorded once per integration and delivery id (X-Shopify-Webhook-Id, webhook-id), NUL kept as
U+FFFD (PostgreSQL text cannot hold it); a repeat gets the stored answer and creates nothing. Orders go
through `orders.services.order_create` (the single-order path: the same validation, history and events),
submitted, with channel "webhook".

- Shopify: base64(HMAC-SHA256(secret, body)) in X-Shopify-Hmac-Sha256. A Shopify order becomes a parcel
  order: line items that require shipping are cargo lines (quantity → pieces, checked by the shared
  validation; grams times quantity → kg, title and SKU → description), the shipping address is the
  consignee and the destination (country + city → UN/LOCODE when we know the place, else the integration's
  destination for that country). An order with nothing to ship (every line item `requires_shipping: false`:
  gift cards, downloads) is answered 200 "ignored" and creates nothing: an error answer would only make
  Shopify retry and, in the end, drop the subscription. So is a test order (`"test": true`, placed through
  Shopify's test gateway: no parcel exists), and an order the store has cancelled already (`cancelled_at` set,
  or `financial_status` voided or refunded: a delayed or retried delivery); the delivery's stored answer says
  which it was. A cancelled order that an earlier delivery made an OMS order is a duplicate, answered with that
  order as any repeat is, and never cancelled here (it may be booked or moving): before its goods move it is put on
  hold, once, with the store's cancellation as the reason (`_cancelled_after_intake`), and either way the order's
  page tells whoever opens it what the store said (`selectors.store_cancellation_for`). The declared value is the
  customs value of the goods in the parcel: each shipped line item's `price` times its quantity, less its
  `discount_allocations`, never `total_price` (which adds shipping, tax, tips and gift cards); when that is zero (a
  replacement, a 100 % discount) none is declared. A line that must ship but weighs 0 g is a 422: a parcel of
  unknown weight cannot be booked, and the delivery stays visible to staff as invalid.
  References: a name ("#1001") is unique only within its store, the id across Shopify. The customer
  reference is the name, unless the customer already has an order with it that is not this Shopify order
  (another store's, or one entered another way): then the store's handle and the name, "acme-us #1001"
  (acme-us.myshopify.com in X-Shopify-Shop-Domain, else the integration's name). A single store keeps its
  plain references and a second store never loses an order to the first. A delivery is a duplicate when
  this integration has already delivered an order for the same Shopify id (the body's `id`, external_id).
- Generic (Standard Webhooks): webhook-id, webhook-timestamp (±5 minutes), webhook-signature
  "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>" (several, space-separated, during a secret
  rotation). The body is the intake vocabulary: one order or a list; all or nothing per delivery. Two orders of
  one delivery under the same customer reference are an error of the delivery (422, nothing created), never a
  "duplicate": that answer means an earlier delivery created the order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any, NamedTuple

import pghistory
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from oms.http import read_body_within
from orders import services
from orders.errors import OrderValidationError, TransitionNotAllowed
from orders.integrations import destination_for_country
from orders.models import (
    Channel,
    DeliveryOutcome,
    Integration,
    IntegrationKind,
    Location,
    Mode,
    Order,
    OrderStatus,
    WebhookDelivery,
)
from partners.models import Role
from partners.scoping import Audience, Scope

MAX_ORDERS_PER_DELIVERY = 100
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
_KG_LIMIT = Decimal(10) ** 9  # validate_order's limit; quantizing beyond it would exceed Decimal's precision
_MAX_TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658; longer ones would overflow a float


# --- Signatures ------------------------------------------------------------------------------------------


def generate_secret() -> str:
    """A Standard Webhooks secret: "whsec_" + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except binascii.Error:
            pass  # not base64 after all: use the text as it is
    return secret.encode()


def _same(expected: str, given: str) -> bool:
    # As bytes: compare_digest refuses text with non-ASCII characters, and a header may hold any.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", errors="replace"))


def shopify_signature_valid(*, secret: str, body: bytes, header: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return bool(header) and _same(expected, header.strip())


def standard_signature_valid(*, secret: str, msg_id: str, timestamp: str, body: bytes, header: str) -> bool:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
    for candidate in header.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and _same(expected, signature):
            return True
    return False


def timestamp_fresh(timestamp: str, *, now: float | None = None) -> bool:
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return False
    sent = int(timestamp)
    return abs((now if now is not None else time.time()) - sent) <= settings.OMS_WEBHOOK_TOLERANCE_SECONDS


# --- Shopify orders to the intake vocabulary ---------------------------------------------------------------


_FIX_IT = "(admin: integration → destination by country)."


def _destination(address: Mapping[str, Any], integration: Integration) -> tuple[str, str | None]:
    """(UN/LOCODE, problem): the place of the city when we know it, else the integration's default."""
    country = str(address.get("country_code") or "").strip().upper()
    city = str(address.get("city") or "").strip()
    if not country:
        return "", "The shipping address has no country code."
    if city and "\x00" not in country + city:  # PostgreSQL cannot compare with NUL; validation refuses it
        match = (
            Location.objects.filter(country=country, is_active=True)
            .filter(Q(name__iexact=city) | Q(name_ascii__iexact=city))
            .order_by("code")
            .values_list("code", flat=True)
            .first()
        )
        if match:
            return match, None
    # Checked again here: an integration saved before the console checked this field may hold anything.
    fallback, problem = destination_for_country(integration.destination_by_country, country)
    if problem:
        return "", f"The integration's destination by country cannot be used for {country}: {problem} {_FIX_IT}"
    if fallback:
        return fallback, None
    place = f"{city or 'the city'}, {country}"
    return "", f"We know no UN/LOCODE for {place}: give the integration a destination for {country} {_FIX_IT}"


def _address_text(address: Mapping[str, Any]) -> str:
    parts = [address.get(k) for k in ("company", "address1", "address2", "zip", "city", "province", "country")]
    return ", ".join(str(part).strip() for part in parts if part and str(part).strip())


def _whole_quantity(raw: Any) -> int | None:
    """The quantity when it is a whole number from 1 to 1,000,000, else None (validate_order says why)."""
    try:
        value = Decimal(str(raw).strip())
        if value.is_finite() and value == value.to_integral_value() and 0 < value <= 1_000_000:
            return int(value)
    except ArithmeticError:  # not a number (decimal's errors are ArithmeticErrors)
        pass
    return None


def _kg(grams: Any, quantity: int) -> str:
    """grams times quantity in kg, three places; a value that is no weight is passed on for validate_order to name."""
    try:
        total = Decimal(str(grams if grams not in (None, "") else 0).strip()) * quantity / 1000
        if abs(total) < _KG_LIMIT:
            total = total.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    except ArithmeticError:  # not a number, NaN, or beyond Decimal's range
        return str(grams)
    return str(total)


def _line_items(payload: Mapping[str, Any]) -> list[Any]:
    items = payload.get("line_items")
    return items if isinstance(items, list) else []


def is_test_order(payload: Mapping[str, Any]) -> bool:
    """Shopify marks an order placed through its test gateway (a merchant trying the checkout) `"test": true`."""
    return payload.get("test") is True


_PAYMENT_GONE = frozenset({"voided", "refunded"})


def cancelled_in_store(payload: Mapping[str, Any]) -> str:
    """Why the store will ship nothing of this order, or "": it was cancelled (`cancelled_at` set), or its payment
    was voided or wholly refunded (`financial_status`). A delayed or retried orders/create can carry such an order."""
    if payload.get("cancelled_at"):
        return f"This order was cancelled in the store (cancelled_at {str(payload['cancelled_at'])[:40]})"
    status = str(payload.get("financial_status") or "").strip().lower()
    if status in _PAYMENT_GONE:
        return f'This order\'s payment was {status} in the store (financial_status "{status}")'
    return ""


def nothing_to_ship(payload: Mapping[str, Any]) -> bool:
    """Every line item says it does not ship (gift cards, services, downloads): there is no parcel."""
    items = _line_items(payload)
    return bool(items) and all(isinstance(item, Mapping) and item.get("requires_shipping") is False for item in items)


def shopify_order_to_intake(payload: Mapping[str, Any], integration: Integration) -> tuple[dict[str, Any], dict]:
    """(intake data, errors): a Shopify order as a parcel order in the intake vocabulary. The customer
    reference is the order's name; `_create_shopify` qualifies it with the store when the name is taken."""
    errors: dict[str, list[str]] = {}
    address = payload.get("shipping_address") or {}
    if not isinstance(address, Mapping) or not address:
        errors["shipping_address"] = ["The Shopify order has no shipping address (nothing to deliver)."]
        address = {}
    destination, problem = _destination(address, integration) if address else ("", None)
    if problem:
        errors["destination"] = [problem]
    if integration.default_origin_id is None:
        errors["origin"] = ["The integration has no default origin: set where the parcels leave from (admin)."]
    lines = []
    for item in _line_items(payload):
        if not isinstance(item, Mapping) or item.get("requires_shipping") is False:
            continue  # gift cards, services and downloads do not travel
        quantity = item.get("quantity")
        title = " – ".join(str(part) for part in (item.get("title"), item.get("variant_title")) if part)
        sku = str(item.get("sku") or "").strip()
        # The quantity as sent: the shared validation says what is wrong with it. The weight of one piece
        # when it is not a whole number, so that only the quantity is reported.
        lines.append({
            "pieces": quantity, "package_type": "PK",
            "gross_weight_kg": _kg(item.get("grams"), _whole_quantity(quantity) or 1),
            "description": (f"{title} (SKU {sku})" if sku else title)[:300],
        })  # fmt: skip
    name = str(address.get("name") or address.get("company") or "").strip()
    data: dict[str, Any] = {
        "customer_code": integration.customer.code, "customer_reference": shopify_name(payload), "mode": Mode.PARCEL,
        "service_level": integration.default_service_level, "incoterm": integration.default_incoterm,
        "origin": integration.default_origin_id or "", "destination": destination,
        "shipper_name": integration.customer.name, "consignee_name": name,
        "consignee_address": _address_text(address), "destination_address": _address_text(address),
        "requested_pickup_on": timezone.localdate(), "description": lines[0]["description"] if lines else "",
        "special_instructions": str(payload.get("note") or "")[:1000], "lines": lines,
    }  # fmt: skip
    if integration.default_branch is not None:
        data["branch_code"] = integration.default_branch.code
    value = goods_value(payload)
    if value and payload.get("currency") and not _free(value):
        data["declared_value"], data["currency"] = value, str(payload["currency"])
    return data, errors


def _amount(raw: Any) -> Decimal | None:
    """A Shopify money string ("29.90") as a Decimal; absent counts as zero; None: not a number."""
    if raw is None or raw == "":
        return Decimal(0)
    try:
        value = Decimal(str(raw).strip())
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def goods_value(payload: Mapping[str, Any]) -> str:
    """The customs value of the goods in the parcel, in the order's currency: for each line item that ships (gift
    cards aside), its `price` times its quantity less its `discount_allocations` (its share of discounts). Not
    `total_price`: that adds shipping, tax, tips and gift cards, none of which is goods in the parcel. A price or
    discount that is not a number is passed on as it is, for validate_order to name on declared_value."""
    total = Decimal(0)
    for item in _line_items(payload):
        if not isinstance(item, Mapping) or item.get("requires_shipping") is False or item.get("gift_card") is True:
            continue  # not in the parcel (services, downloads), or no goods value (a gift card, even a printed one)
        price = _amount(item.get("price"))
        if price is None:
            return str(item.get("price"))
        total += price * (_whole_quantity(item.get("quantity")) or 0)  # a bad quantity is named on the lines
        allocations = item.get("discount_allocations")
        for allocation in allocations if isinstance(allocations, list) else []:
            raw = allocation.get("amount") if isinstance(allocation, Mapping) else allocation
            discount = _amount(raw)
            if discount is None:
                return str(raw)
            total -= discount
    try:
        return str(total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    except ArithmeticError:  # beyond Decimal's precision: validate_order says the value is too large
        return str(total)


def _free(total: str) -> bool:
    """A value of zero or less (a replacement, a giveaway, a 100 % discount) declares no value: the parcel still
    ships. Anything that is not a number is passed on, for validate_order to name."""
    try:
        value = Decimal(total)
    except ArithmeticError:
        return False
    return value.is_finite() and value <= 0


def shopify_name(payload: Mapping[str, Any]) -> str:
    """The order's customer reference before any store prefix: its name ("#1001"), else its number, else its id."""
    return str(payload.get("name") or payload.get("order_number") or payload.get("id") or "").strip()[:64]


def store_handle(shop_domain: str, integration: Integration) -> str:
    """The store's permanent handle, "acme-us" of acme-us.myshopify.com (X-Shopify-Shop-Domain), else the
    integration's name."""
    handle = re.sub(r"[^a-z0-9-]", "", shop_domain.strip().lower().removesuffix(".myshopify.com"))
    return handle or integration.name.strip()


def store_reference(handle: str, name: str) -> str:
    """The customer reference of a Shopify order whose name the customer already uses: "acme-us #1001"."""
    return f"{handle[: max(1, 63 - len(name))]} {name}"


def _shopify_scope(integration: Integration) -> Scope:
    """The rights the mapped order is validated with. The mapping above sets every field (customer_code is the
    integration's customer), so an operations scope only lets the integration's default branch apply."""
    if integration.default_branch_id:
        return Scope(Audience.STAFF, frozenset({integration.default_branch_id}), frozenset({Role.OPERATIONS}))
    return _customer_scope(integration)


def _customer_scope(integration: Integration) -> Scope:
    """A generic integration acts like its customer's own API key: its orders, nothing else."""
    return Scope(Audience.CUSTOMER, frozenset({integration.customer_id}), frozenset({Role.CUSTOMER}))


# --- Deliveries ----------------------------------------------------------------------------------------------


class Handled(NamedTuple):
    """What a handler made of a delivery: the answer, the outcome to record, the order, the sender's order id."""

    status: int
    outcome: DeliveryOutcome
    response: dict[str, Any]
    order: Order | None
    external_id: str = ""


Handler = Callable[[Integration, Any], Handled]


def delivery_receive(
    *, integration: Integration, delivery_id: str, body: bytes, handle: Handler
) -> tuple[int, dict[str, Any]]:
    """Record a verified delivery once and process it; a repeat of a processed delivery gets the stored
    answer. Concurrent repeats wait for the first (the row is locked) and then get its answer."""
    with transaction.atomic():
        delivery, created = WebhookDelivery.objects.select_for_update().get_or_create(
            integration=integration,
            delivery_id=_delivery_key(delivery_id),
            defaults={"outcome": DeliveryOutcome.MALFORMED, "status_code": 0, "body": _body_text(body)},
        )
        if not created:
            delivery.attempts += 1
            if delivery.outcome in (DeliveryOutcome.CREATED, DeliveryOutcome.DUPLICATE):
                delivery.save(update_fields=["attempts"])
                return 200, {**delivery.response, "repeated": True}
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, an integer over 4,300 digits, nested too deep
            handled = Handled(400, DeliveryOutcome.MALFORMED, _error_body("parse_error", "The body is not JSON."), None)
        else:
            if _holds_surrogate(payload):
                handled = Handled(400, DeliveryOutcome.MALFORMED, _error_body("parse_error", _SURROGATE), None)
            else:
                handled = handle(integration, payload)
        response = _storable(handled.response)
        delivery.outcome, delivery.status_code, delivery.response = handled.outcome, handled.status, response
        delivery.order, delivery.processed_at = handled.order, timezone.now()
        delivery.external_id = _storable(handled.external_id)[:100]
        delivery.body = _body_text(body)
        delivery.save()
    return handled.status, response


def _error_body(code: str, message: str, fields: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": dict(fields or {})}}


_SURROGATE = (
    "The body's JSON holds a lone UTF-16 surrogate escape (\\ud800 to \\udfff without its pair), which is not text: "
    "send valid Unicode."
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_surrogate(value: Any) -> bool:
    """Whether any text, key or value holds a lone surrogate: valid JSON (`"\\ud800"`) that is no Unicode text, so
    no query parameter, text column or jsonb can carry it. Walked without recursion: json.loads accepts bodies
    nested deeper than Python's recursion limit."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _delivery_key(delivery_id: str) -> str:
    """The sender's delivery id as stored (200 characters at most): itself when it fits, else its SHA-256, so two
    long ids that share their first 200 characters stay two deliveries."""
    stored = _storable(delivery_id)
    if len(stored) <= 200:
        return stored
    return "sha256:" + hashlib.sha256(stored.encode("utf-8", "surrogatepass")).hexdigest()


def _storable(value: Any) -> Any:
    """The value with NUL (and a lone surrogate) replaced by U+FFFD in every text, key and value: PostgreSQL text and
    jsonb refuse both."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value.replace("\x00", "\ufffd"))
    if isinstance(value, Mapping):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def _body_text(body: bytes) -> str:
    return _storable(body.decode("utf-8", errors="replace"))


def _existing(integration: Integration, customer_reference: str) -> Order | None:
    if "\x00" in customer_reference:  # cannot be stored, so no order has it (and PostgreSQL cannot compare it)
        return None
    return Order.objects.filter(customer_id=integration.customer_id, customer_reference=customer_reference).first()


def _submit(data: Mapping[str, Any], scope: Scope, integration: Integration) -> tuple[Order | None, dict]:
    """Create one order through the single-order path (submitted unless the data says `"submit": false`)."""
    try:
        with pghistory.context(integration=str(integration.pk)):
            order = services.order_create(
                data=data, scope=scope, channel=Channel.WEBHOOK, submit=data.get("submit", True) is not False
            )
    except OrderValidationError as exc:
        return None, exc.errors
    return order, {}


def _create(
    data: Mapping[str, Any], scope: Scope, integration: Integration
) -> tuple[DeliveryOutcome, Order | None, dict]:
    """Create (submitted) one order, or say it exists already, or give its errors."""
    reference = str(data.get("customer_reference") or "").strip()
    existing = _existing(integration, reference) if reference else None
    if existing:
        return DeliveryOutcome.DUPLICATE, existing, {}
    order, errors = _submit(data, scope, integration)
    if order is None:
        existing = _existing(integration, reference) if reference else None
        if existing:  # a concurrent delivery of the same order won the customer reference
            return DeliveryOutcome.DUPLICATE, existing, {}
        return DeliveryOutcome.INVALID, None, errors
    return DeliveryOutcome.CREATED, order, {}


def _delivered(integration: Integration, shopify_id: str, references: list[str]) -> Order | None:
    """The order this integration already made of this Shopify order, under either form of its reference."""
    references = [reference for reference in references if reference and "\x00" not in reference]
    if not references:
        return None
    made = WebhookDelivery.objects.filter(integration=integration, external_id=shopify_id).values("order_id")
    return Order.objects.filter(
        customer_id=integration.customer_id, customer_reference__in=references, pk__in=made
    ).first()


def _create_shopify(
    data: dict[str, Any], integration: Integration, *, shopify_id: str, handle: str
) -> tuple[DeliveryOutcome, Order | None, dict]:
    """Create (submitted) one Shopify order, or say this store's order exists already, or give its errors.
    The name is the reference unless the customer uses it already; then the store's handle comes first."""
    name = data["customer_reference"]
    qualified = store_reference(handle, name) if name else ""
    existing = _delivered(integration, shopify_id, [name, qualified])
    if existing:
        return DeliveryOutcome.DUPLICATE, existing, {}
    if name and _existing(integration, name):
        data = {**data, "customer_reference": qualified}
    scope = _shopify_scope(integration)
    order, errors = _submit(data, scope, integration)
    if order is None:
        existing = _delivered(integration, shopify_id, [name, qualified])
        if existing:  # a concurrent delivery of the same order won the reference
            return DeliveryOutcome.DUPLICATE, existing, {}
        if name and data["customer_reference"] == name and _existing(integration, name):
            # another store's order took the name while this one was being validated
            order, errors = _submit({**data, "customer_reference": qualified}, scope, integration)
    if order is None:
        return DeliveryOutcome.INVALID, None, errors
    return DeliveryOutcome.CREATED, order, {}


def _order_json(order: Order, outcome: DeliveryOutcome) -> dict[str, Any]:
    return {"status": outcome.value, "reference": order.reference, "customer_reference": order.customer_reference}


# Before the goods move, a hold stops the booking and the collection of a parcel the shop may never hand over;
# whether to cancel is for people (the shop may ship it after all). Once the goods move, stopping them is an
# exception people handle, and a hold would only stop tracking from following the order.
_HELD_WHEN_THE_STORE_CANCELS = (OrderStatus.SUBMITTED, OrderStatus.CONFIRMED, OrderStatus.PLANNED)
_INTAKE_STAFF = Scope(Audience.STAFF, frozenset(), frozenset({Role.OPERATIONS}))


def _cancelled_after_intake(order: Order, cancelled: str, shopify_id: str) -> Handled:
    """A later delivery of a Shopify order that is already an OMS order, now cancelled in the store: a duplicate,
    answered with the order. The order is not cancelled: it may be booked or moving. Before its goods move it is put
    on hold (by the system, channel webhook) with the store's cancellation as the reason: the order's history shows
    it, and the workflows react as to any hold (rules on "Order enters a state: On hold" notify and make tasks).
    Once per Shopify order: a hold that operations released after checking with the shop stands."""
    outcome = DeliveryOutcome.DUPLICATE
    held_before = order.transitions.filter(name="hold", payload__cancelled_in_store=shopify_id).exists()
    if order.status in _HELD_WHEN_THE_STORE_CANCELS and not held_before:
        reason = f"{cancelled}: held until operations check with the shop whether it ships, then cancel or release it."
        try:
            order = services.order_transition(
                order=order, name="hold", scope=_INTAKE_STAFF, channel=Channel.WEBHOOK, reason=reason[:300],
                payload={"cancelled_in_store": shopify_id},
            )  # fmt: skip
        except TransitionNotAllowed:  # the order changed meanwhile: left as it now is, and said so below
            order.refresh_from_db()
        else:
            detail = f"{cancelled}, after it became order {order.reference}: the order is put on hold until our "
            detail += "operations check with you whether it ships."
            return Handled(200, outcome, {**_order_json(order, outcome), "detail": detail}, order, shopify_id)
    status = OrderStatus(order.status).label.lower()
    detail = f"{cancelled}, after it became order {order.reference}, which is {status}: the order is left as it is "
    detail += "for our operations to handle."
    return Handled(200, outcome, {**_order_json(order, outcome), "detail": detail}, order, shopify_id)


def handle_shopify(integration: Integration, payload: Any, *, shop_domain: str = "") -> Handled:
    if not isinstance(payload, Mapping):
        response = _error_body("parse_error", "A Shopify order is a JSON object.")
        return Handled(400, DeliveryOutcome.MALFORMED, response, None)
    shopify_id = _storable(str(payload.get("id") or "").strip())[:100]
    if is_test_order(payload):
        detail = 'This is a Shopify test order ("test": true, placed through a test gateway): no order was created.'
        outcome = DeliveryOutcome.IGNORED
        return Handled(200, outcome, {"status": outcome.value, "detail": detail}, None, shopify_id)
    if cancelled := cancelled_in_store(payload):
        name = shopify_name(payload)
        qualified = store_reference(store_handle(shop_domain, integration), name) if name else ""
        if existing := _delivered(integration, shopify_id, [name, qualified]):
            return _cancelled_after_intake(existing, cancelled, shopify_id)
        detail = f"{cancelled}: nothing ships, no order was created."
        outcome = DeliveryOutcome.IGNORED
        return Handled(200, outcome, {"status": outcome.value, "detail": detail}, None, shopify_id)
    if nothing_to_ship(payload):
        detail = "No line item of this order requires shipping (gift cards, digital goods): no order was created."
        outcome = DeliveryOutcome.IGNORED
        return Handled(200, outcome, {"status": outcome.value, "detail": detail}, None, shopify_id)
    data, errors = shopify_order_to_intake(payload, integration)
    if errors:
        response = _error_body("validation_error", "The order cannot be created.", errors)
        return Handled(422, DeliveryOutcome.INVALID, response, None, shopify_id)
    handle = store_handle(shop_domain, integration)
    outcome, order, errors = _create_shopify(data, integration, shopify_id=shopify_id, handle=handle)
    if order is None:
        response = _error_body("validation_error", "The order cannot be created.", errors)
        return Handled(422, outcome, response, None, shopify_id)
    return Handled(200, outcome, _order_json(order, outcome), order, shopify_id)


def _shared_references(orders: list[Mapping[str, Any]]) -> dict[int, str]:
    """{index: message} for each order that reuses the customer reference of an earlier order in the same delivery.
    Two orders under one reference cannot both exist, and answering the second "duplicate" of the first would
    drop its cargo without a word: the delivery is at fault, so it is refused (all or nothing) for the sender to
    fix. "duplicate" stays the answer for an order an earlier delivery created."""
    first: dict[str, int] = {}
    clashes = {}
    for index, data in enumerate(orders):
        reference = str(data.get("customer_reference") or "").strip()
        if not reference:
            continue  # validation says it is required
        if reference in first:
            clashes[index] = (
                f"Order [{first[reference]}] of this delivery has the customer reference {reference} too: give each "
                "order its own reference, or send one order with all its cargo lines."
            )
        else:
            first[reference] = index
    return clashes


def handle_generic(integration: Integration, payload: Any) -> Handled:
    orders = payload if isinstance(payload, list) else [payload]
    if not orders or len(orders) > MAX_ORDERS_PER_DELIVERY:
        detail = f"Send one order or a list of 1 to {MAX_ORDERS_PER_DELIVERY} orders."
        return Handled(400, DeliveryOutcome.MALFORMED, _error_body("parse_error", detail), None)
    if not all(isinstance(order, Mapping) for order in orders):
        detail = "Each order is a JSON object of intake fields."
        return Handled(400, DeliveryOutcome.MALFORMED, _error_body("parse_error", detail), None)
    scope = _customer_scope(integration)
    clashes = _shared_references(orders)
    results: list[dict[str, Any]] = []
    invalid = False
    # Created in the order of their references, whatever the order sent: two deliveries naming the same orders in
    # another order then wait for each other's first insert instead of deadlocking on each other's second.
    in_key_order = sorted(enumerate(orders), key=lambda item: str(item[1].get("customer_reference") or "").strip())
    with transaction.atomic():  # all or nothing per delivery: the sender fixes it and sends it again
        for index, data in in_key_order:
            if index in clashes:
                outcome, order, errors = DeliveryOutcome.INVALID, None, {"customer_reference": [clashes[index]]}
            else:
                outcome, order, errors = _create(data, scope, integration)
            if order is None:
                invalid = True
                results.append({"index": index, "status": "invalid", "errors": errors,
                                "customer_reference": str(data.get("customer_reference") or "")})  # fmt: skip
            else:
                results.append({"index": index, **_order_json(order, outcome)})
        if invalid:
            transaction.set_rollback(True)
    results.sort(key=lambda result: result["index"])
    if invalid:
        fields: dict[str, list[str]] = {}
        for result in results:
            if result["status"] == "created":
                result.update(status="not_created", reference=None)  # rolled back with the invalid ones
            for name, messages in result.get("errors", {}).items():
                fields[f"[{result['index']}].{name}"] = messages
        message = "Some orders have errors; none of this delivery was created."
        response = {**_error_body("validation_error", message, fields), "results": results}
        return Handled(422, DeliveryOutcome.INVALID, response, None)
    created = any(result["status"] == "created" for result in results)
    outcome = DeliveryOutcome.CREATED if created else DeliveryOutcome.DUPLICATE
    first = _existing(integration, results[0]["customer_reference"]) if results else None
    return Handled(200, outcome, {"status": outcome.value, "results": results}, first)


# --- Endpoints ------------------------------------------------------------------------------------------------


def _integration(integration_id: Any, kind: str) -> Integration | None:
    return (
        Integration.objects.select_related("customer", "default_branch")
        .filter(pk=integration_id, kind=kind, is_active=True, customer__is_active=True)
        .first()
    )


def _error(status: int, code: str, message: str) -> Response:
    """The API's one error shape (oms/api_errors.py)."""
    return Response(_error_body(code, message), status=status)


def _unauthorised() -> Response:
    return _error(401, "authentication_failed", "Missing, invalid or stale signature; nothing was stored.")


def _too_large_response() -> Response:
    return _error(413, "payload_too_large", f"The body is larger than {settings.OMS_WEBHOOK_MAX_BYTES:,} bytes.")


# The one error shape (oms/api_errors.py), registered by the project's AutoSchema; named, not imported.
_API_ERROR = {"$ref": "#/components/schemas/ApiError"}

_STATUS_HELP = "`created`: the order was made now; `duplicate`: an earlier delivery made it (this is that order)."
_MADE = [DeliveryOutcome.CREATED.value, DeliveryOutcome.DUPLICATE.value]


# Named enums of their own: many components have a `status` of other values, which drf-spectacular would have to
# name by a hash (a warning) if these were left inline.
@extend_schema_field({"type": "string", "enum": _MADE}, component_name="IntakeWebhookOutcome")
class _IntakeOutcomeField(serializers.ChoiceField):
    pass


@extend_schema_field(
    {"type": "string", "enum": [*_MADE, DeliveryOutcome.IGNORED.value]}, component_name="ShopifyWebhookOutcome"
)
class _ShopifyOutcomeField(serializers.ChoiceField):
    pass


class ShopifyWebhookResultSerializer(serializers.Serializer):
    """The 200 answer of the Shopify orders/create webhook (handle_shopify, delivery_receive)."""

    status = _ShopifyOutcomeField(
        choices=[*_MADE, DeliveryOutcome.IGNORED.value],
        help_text=f"{_STATUS_HELP} `ignored`: nothing was created (`detail` says why).",
    )
    reference = serializers.CharField(required=False, help_text="Our order's reference (created or duplicate).")
    customer_reference = serializers.CharField(
        required=False, help_text="The order's name, or the store's handle and the name (created or duplicate)."
    )
    detail = serializers.CharField(
        required=False, help_text="Why nothing was created (ignored), or what became of an order the store cancelled."
    )
    repeated = serializers.BooleanField(
        required=False, help_text="Present (true) when this delivery was received before: its stored answer."
    )


class IntakeWebhookOrderResultSerializer(serializers.Serializer):
    """One order of a generic intake delivery that was answered 200."""

    index = serializers.IntegerField(help_text="The order's position in the delivery (0 for a single order).")
    status = _IntakeOutcomeField(choices=_MADE, help_text=_STATUS_HELP)
    reference = serializers.CharField(help_text="Our order's reference.")
    customer_reference = serializers.CharField()


class IntakeWebhookResultSerializer(serializers.Serializer):
    """The 200 answer of the signed generic intake webhook (handle_generic, delivery_receive)."""

    status = _IntakeOutcomeField(
        choices=_MADE, help_text="`created` when any order was made now, else `duplicate` (each order existed already)."
    )
    results = IntakeWebhookOrderResultSerializer(many=True, help_text="Per order, in the order sent.")
    repeated = serializers.BooleanField(
        required=False, help_text="Present (true) when this delivery was received before: its stored answer."
    )


_RESULT = OpenApiResponse(
    ShopifyWebhookResultSerializer,
    description="Created; or a duplicate, already created by an earlier delivery (`repeated` is true when it is the "
    "same delivery again; `detail` says so when the store has since cancelled the order); or ignored (nothing to "
    "ship, a test order, or an order the store cancelled before it reached OMS): `detail` says why.",
    examples=[OpenApiExample("created", value={"status": "created", "reference": "HAM-26-000123",
                                               "customer_reference": "#1001"}),
              OpenApiExample("ignored", value={"status": "ignored", "detail": "No line item of this order requires "
                                               "shipping (gift cards, digital goods): no order was created."}),
              OpenApiExample("test order", value={"status": "ignored", "detail": 'This is a Shopify test order '
                                                  '("test": true, placed through a test gateway): no order was '
                                                  "created."}),
              OpenApiExample("cancelled in the store", value={"status": "ignored", "detail": "This order was "
                                                              "cancelled in the store (cancelled_at "
                                                              "2026-12-01T10:00:00+01:00): nothing ships, no order "
                                                              "was created."}),
              OpenApiExample("cancelled in the store after it became an order",
                             value={"status": "duplicate", "reference": "HAM-26-000123", "customer_reference": "#1001",
                                    "detail": "This order was cancelled in the store (cancelled_at "
                                    "2026-12-01T10:00:00+01:00), after it became order HAM-26-000123: the order is "
                                    "put on hold until our operations check with you whether it ships."})],
)  # fmt: skip


@extend_schema(
    summary="Shopify orders/create webhook",
    description="Point a Shopify `orders/create` webhook at this URL (one per integration). The body is "
    "verified with X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the raw body with the integration's secret) "
    "before it is read. Each Shopify order becomes one submitted parcel order; repeated deliveries "
    "(same X-Shopify-Webhook-Id, or the same Shopify order) create nothing more and answer 200. An order "
    "with nothing to ship (every line item `requires_shipping: false`), a test order (`test: true`) or an order "
    "the store has cancelled (`cancelled_at` set, or `financial_status` voided or refunded) answers 200 with "
    "status `ignored` and creates nothing. A cancelled order that an earlier delivery already made an OMS order "
    "answers `duplicate` with that order's reference and a `detail`; the order is not cancelled (it may be booked or "
    "moving): if its goods have not moved yet (submitted, confirmed or planned) it is put on hold, once, for "
    "operations to check with the shop, and its history shows why; later it is left as it is. The declared value "
    "is the customs value of the goods shipped: for each "
    "line item that requires shipping, `price` × `quantity` less its `discount_allocations`, in the order's "
    "`currency`; shipping, tax, tips and gift cards are not declared (so not `total_price`), and a value of 0.00 "
    "declares none. "
    "The customer reference is the order's name; when the customer already uses that name (e.g. a second "
    "store), it is prefixed with the store's handle from X-Shopify-Shop-Domain: `acme-us #1001`.",
    auth=[],
    request={"application/json": OpenApiTypes.OBJECT},
    parameters=[
        OpenApiParameter("X-Shopify-Hmac-Sha256", str, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("X-Shopify-Webhook-Id", str, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("X-Shopify-Topic", str, OpenApiParameter.HEADER, description="orders/create"),
        OpenApiParameter("X-Shopify-Shop-Domain", str, OpenApiParameter.HEADER, description="acme.myshopify.com"),
    ],
    responses={200: _RESULT,
               400: OpenApiResponse(_API_ERROR, description="Not a JSON order, or JSON holding a lone surrogate "
                                    "escape (no Unicode text); kept for support as malformed."),
               401: OpenApiResponse(_API_ERROR, description="Missing or invalid signature; nothing stored."),
               413: OpenApiResponse(_API_ERROR, description="Body too large."),
               422: OpenApiResponse(_API_ERROR, description="The order cannot be created: `errors` by field.")},
)  # fmt: skip
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def shopify_orders_create(request: Request, integration_id: Any) -> Response:
    body = read_body_within(request, settings.OMS_WEBHOOK_MAX_BYTES)
    if body is None:
        return _too_large_response()
    integration = _integration(integration_id, IntegrationKind.SHOPIFY)
    header = request.headers.get("X-Shopify-Hmac-Sha256", "")
    if integration is None or not shopify_signature_valid(secret=integration.secret, body=body, header=header):
        return _unauthorised()
    topic = request.headers.get("X-Shopify-Topic", "orders/create")
    if topic != "orders/create":
        return Response({"status": "ignored", "detail": f"This endpoint takes orders/create, not {topic}."})
    delivery_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
    if not delivery_id:
        return _error(400, "validation_error", "X-Shopify-Webhook-Id is missing.")
    handle = partial(handle_shopify, shop_domain=request.headers.get("X-Shopify-Shop-Domain", ""))
    status, response = delivery_receive(integration=integration, delivery_id=delivery_id, body=body, handle=handle)
    return Response(response, status=status)


@extend_schema(
    summary="Signed order intake webhook (ERP, WMS, TMS)",
    description="For systems that cannot call the order API directly. Signed the Standard Webhooks way: "
    "`webhook-id`, `webhook-timestamp` (Unix seconds, within 5 minutes of our clock) and `webhook-signature` "
    "= `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{raw body}` with the integration's whsec_ secret "
    "(several space-separated signatures are accepted while a secret is rotated). The body is one order "
    "or a list of up to 100 orders in the intake vocabulary of POST /api/v1/orders/ (customer_code is "
    "implied). All or nothing per delivery; the webhook-id makes a repeated delivery harmless. An order whose "
    "customer reference an earlier delivery created is answered `duplicate` (with that order); two orders of "
    "one delivery under the same reference are a 422 (an error on the later one's `customer_reference`).",
    auth=[],
    request={"application/json": OpenApiTypes.OBJECT},
    parameters=[
        OpenApiParameter("webhook-id", str, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("webhook-timestamp", str, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("webhook-signature", str, OpenApiParameter.HEADER, required=True),
    ],
    responses={200: OpenApiResponse(IntakeWebhookResultSerializer, description="Every order created or already "
                                    "there: `results` per order.",
                                    examples=[OpenApiExample("created", value={"status": "created", "results": [
                                        {"index": 0, "status": "created", "reference": "HAM-26-000123",
                                         "customer_reference": "SO-1"},
                                        {"index": 1, "status": "duplicate", "reference": "HAM-26-000119",
                                         "customer_reference": "SO-0"}]})]),
               400: OpenApiResponse(_API_ERROR, description="Not JSON, not an order list, or JSON holding a lone "
                                    "surrogate escape (no Unicode text); kept for support as malformed."),
               401: OpenApiResponse(_API_ERROR, description="Missing, invalid or stale signature; nothing stored."),
               413: OpenApiResponse(_API_ERROR, description="Body too large."),
               422: OpenApiResponse(_API_ERROR, description="Some orders have errors; none was created.")},
)  # fmt: skip
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def generic_intake(request: Request, integration_id: Any) -> Response:
    body = read_body_within(request, settings.OMS_WEBHOOK_MAX_BYTES)
    if body is None:
        return _too_large_response()
    integration = _integration(integration_id, IntegrationKind.GENERIC)
    msg_id = request.headers.get("webhook-id", "").strip()
    timestamp = request.headers.get("webhook-timestamp", "").strip()
    signature = request.headers.get("webhook-signature", "")
    if (
        integration is None
        or not msg_id
        or not timestamp_fresh(timestamp)
        or not standard_signature_valid(
            secret=integration.secret, msg_id=msg_id, timestamp=timestamp, body=body, header=signature
        )
    ):
        return _unauthorised()
    status, response = delivery_receive(integration=integration, delivery_id=msg_id, body=body, handle=handle_generic)
    return Response(response, status=status)
