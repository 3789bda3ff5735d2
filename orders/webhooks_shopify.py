"""The Shopify-compatible `orders/create` webhook: a Shopify order made a parcel order.

Signed as webhooks_signatures says. A Shopify order becomes a parcel order: line items that require shipping are cargo
lines (quantity → pieces, checked by the shared validation; grams times quantity → kg, title and SKU → description),
the shipping address is the consignee and the destination (country + city → UN/LOCODE when we know the place, else the
integration's destination for that country). An order with nothing to ship (every line item `requires_shipping: false`:
gift cards, downloads) is answered 200 "ignored" and creates nothing: an error answer would only make Shopify retry
and, in the end, drop the subscription. So is a test order (`"test": true`, placed through Shopify's test gateway: no
parcel exists), and an order the store has cancelled already (`cancelled_at` set, or `financial_status` voided or
refunded: a delayed or retried delivery); the delivery's stored answer says which it was. A cancelled order that an
earlier delivery made an OMS order is a duplicate, answered with that order as any repeat is, and never cancelled here
(it may be booked or moving): before its goods move it is put on hold, once, with the store's cancellation as the
reason (`_cancelled_after_intake`), and either way the order's page tells whoever opens it what the store said
(`selectors.store_cancellation_for`). The declared value is the customs value of the goods in the parcel: each shipped
line item's `price` times its quantity, less its `discount_allocations`, never `total_price` (which adds shipping, tax,
tips and gift cards); when that is zero (a replacement, a 100 % discount) none is declared. A line that must ship but
weighs 0 g is a 422: a parcel of unknown weight cannot be booked, and the delivery stays visible to staff as invalid.

References: a name ("#1001") is unique only within its store, the id across Shopify. The customer reference is the
name, unless the customer already has an order with it that is not this Shopify order (another store's, or one entered
another way): then the store's handle and the name, "acme-us #1001" (acme-us.myshopify.com in X-Shopify-Shop-Domain,
else the integration's name). A single store keeps its plain references and a second store never loses an order to the
first. A delivery is a duplicate when this integration has already delivered an order for the same Shopify id (the
body's `id`, external_id).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from orders import services
from orders.currencies import CENT, minor_unit
from orders.errors import TransitionNotAllowed
from orders.integrations import destination_for_country
from orders.models import Channel, DeliveryOutcome, Integration, Location, Mode, Order, OrderStatus, WebhookDelivery
from orders.webhooks_deliveries import (
    Handled,
    _customer_scope,
    _error_body,
    _existing,
    _order_json,
    _storable,
    _submit,
)
from partners.models import Role
from partners.scoping import Audience, Scope

_KG_LIMIT = Decimal(10) ** 9  # validate_order's limit; quantizing beyond it would exceed Decimal's precision
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
    try:  # to the cent, as Shopify gives prices, or finer where the currency is (KWD prices are to the fils)
        unit = min(minor_unit(str(payload.get("currency") or "").strip().upper()), CENT)
        return str(total.quantize(unit, rounding=ROUND_HALF_UP))
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
