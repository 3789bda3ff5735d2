"""Inbound order webhooks: a Shopify-compatible `orders/create` endpoint and a generic signed JSON intake.

Both verify the signature over the raw body, in constant time, before anything is parsed or stored
(wrong, missing or stale signatures: 401, nothing stored). Each accepted delivery is recorded once per
integration and delivery id (X-Shopify-Webhook-Id, webhook-id); a repeat gets the stored answer and
creates nothing. Orders go through `orders.services.order_create` (the single-order path: the same
validation, history and events), submitted, with channel "webhook".

- Shopify: base64(HMAC-SHA256(secret, body)) in X-Shopify-Hmac-Sha256. A Shopify order becomes a parcel
  order: line items are cargo lines (quantity → pieces, grams times quantity → kg, title and SKU →
  description), the shipping address is the consignee and the destination (country + city → UN/LOCODE
  when we know the place, else the integration's destination for that country). Its name (e.g. "#1001")
  is the customer reference, so a second delivery of the same Shopify order is a duplicate, not a copy.
- Generic (Standard Webhooks): webhook-id, webhook-timestamp (±5 minutes), webhook-signature
  "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>" (several, space-separated, during a secret
  rotation). The body is the intake vocabulary: one order or a list; all or nothing per delivery.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pghistory
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from orders import services
from orders.errors import OrderValidationError
from orders.models import (
    Channel,
    DeliveryOutcome,
    Integration,
    IntegrationKind,
    Location,
    Mode,
    Order,
    WebhookDelivery,
)
from partners.models import Role
from partners.scoping import Audience, Scope

MAX_ORDERS_PER_DELIVERY = 100
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


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


def shopify_signature_valid(*, secret: str, body: bytes, header: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return bool(header) and hmac.compare_digest(expected, header.strip())


def standard_signature_valid(*, secret: str, msg_id: str, timestamp: str, body: bytes, header: str) -> bool:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
    for candidate in header.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected, signature):
            return True
    return False


def timestamp_fresh(timestamp: str, *, now: float | None = None) -> bool:
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    return abs((now if now is not None else time.time()) - sent) <= settings.OMS_WEBHOOK_TOLERANCE_SECONDS


# --- Shopify orders to the intake vocabulary ---------------------------------------------------------------


def _destination(address: Mapping[str, Any], integration: Integration) -> tuple[str, str | None]:
    """(UN/LOCODE, problem): the place of the city when we know it, else the integration's default."""
    country = str(address.get("country_code") or "").strip().upper()
    city = str(address.get("city") or "").strip()
    if not country:
        return "", "The shipping address has no country code."
    if city:
        match = (
            Location.objects.filter(country=country, is_active=True)
            .filter(Q(name__iexact=city) | Q(name_ascii__iexact=city))
            .order_by("code")
            .values_list("code", flat=True)
            .first()
        )
        if match:
            return match, None
    fallback = str((integration.destination_by_country or {}).get(country, "")).strip().upper()
    if fallback:
        return fallback, None
    return "", (
        f"We know no UN/LOCODE for {city or 'the city'}, {country}: give the integration a destination for {country} "
        "(admin: integration → destination by country)."
    )


def _address_text(address: Mapping[str, Any]) -> str:
    parts = [address.get(k) for k in ("company", "address1", "address2", "zip", "city", "province", "country")]
    return ", ".join(str(part).strip() for part in parts if part and str(part).strip())


def _kg(grams: Any, quantity: int) -> str:
    try:
        total = Decimal(str(grams or 0)) * quantity / 1000
    except InvalidOperation:
        return ""
    return str(total.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)) if total > 0 else "0"


def shopify_order_to_intake(payload: Mapping[str, Any], integration: Integration) -> tuple[dict[str, Any], dict]:
    """(intake data, errors): a Shopify order as a parcel order in the intake vocabulary."""
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
    for item in payload.get("line_items") or []:
        if not isinstance(item, Mapping) or item.get("requires_shipping") is False:
            continue  # gift cards, services and downloads do not travel
        quantity = int(item.get("quantity") or 0)
        title = " – ".join(str(part) for part in (item.get("title"), item.get("variant_title")) if part)
        sku = str(item.get("sku") or "").strip()
        lines.append({
            "pieces": quantity, "package_type": "PK", "gross_weight_kg": _kg(item.get("grams"), quantity),
            "description": (f"{title} (SKU {sku})" if sku else title)[:300],
        })  # fmt: skip
    reference = str(payload.get("name") or payload.get("order_number") or payload.get("id") or "").strip()
    name = str(address.get("name") or address.get("company") or "").strip()
    data: dict[str, Any] = {
        "customer_code": integration.customer.code, "customer_reference": reference[:64], "mode": Mode.PARCEL,
        "service_level": integration.default_service_level, "incoterm": integration.default_incoterm,
        "origin": integration.default_origin_id or "", "destination": destination,
        "shipper_name": integration.customer.name, "consignee_name": name,
        "consignee_address": _address_text(address), "destination_address": _address_text(address),
        "requested_pickup_on": timezone.localdate(), "description": lines[0]["description"] if lines else "",
        "special_instructions": str(payload.get("note") or "")[:1000], "lines": lines,
    }  # fmt: skip
    if integration.default_branch_id:
        data["branch_code"] = integration.default_branch.code
    total = str(payload.get("total_price") or "").strip()
    if total and payload.get("currency"):
        data["declared_value"], data["currency"] = total, str(payload["currency"])
    return data, errors


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


Handler = Callable[[Integration, Any], tuple[int, DeliveryOutcome, dict[str, Any], Order | None]]


def delivery_receive(
    *, integration: Integration, delivery_id: str, body: bytes, handle: Handler, external_id: str = ""
) -> tuple[int, dict[str, Any]]:
    """Record a verified delivery once and process it; a repeat of a processed delivery gets the stored
    answer. Concurrent repeats wait for the first (the row is locked) and then get its answer."""
    with transaction.atomic():
        delivery, created = WebhookDelivery.objects.select_for_update().get_or_create(
            integration=integration,
            delivery_id=delivery_id[:200],
            defaults={"outcome": DeliveryOutcome.MALFORMED, "status_code": 0, "body": _body_text(body)},
        )
        if not created:
            delivery.attempts += 1
            if delivery.outcome in (DeliveryOutcome.CREATED, DeliveryOutcome.DUPLICATE):
                delivery.save(update_fields=["attempts"])
                return 200, {**delivery.response, "repeated": True}
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            status, outcome, order = 400, DeliveryOutcome.MALFORMED, None
            response = _error_body("parse_error", "The body is not JSON.")
        else:
            status, outcome, response, order = handle(integration, payload)
        delivery.outcome, delivery.status_code, delivery.response = outcome, status, response
        delivery.order, delivery.external_id, delivery.processed_at = order, external_id[:100], timezone.now()
        delivery.body = _body_text(body)
        delivery.save()
    return status, response


def _error_body(code: str, message: str, fields: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": dict(fields or {})}}


def _body_text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _existing(integration: Integration, customer_reference: str) -> Order | None:
    return Order.objects.filter(customer_id=integration.customer_id, customer_reference=customer_reference).first()


def _create(
    data: Mapping[str, Any], scope: Scope, integration: Integration
) -> tuple[DeliveryOutcome, Order | None, dict]:
    """Create (submitted) one order, or say it exists already, or give its errors."""
    reference = str(data.get("customer_reference") or "").strip()
    existing = _existing(integration, reference) if reference else None
    if existing:
        return DeliveryOutcome.DUPLICATE, existing, {}
    try:
        with pghistory.context(integration=str(integration.pk)):
            order = services.order_create(
                data=data, scope=scope, channel=Channel.WEBHOOK, submit=data.get("submit", True) is not False
            )
    except OrderValidationError as exc:
        existing = _existing(integration, reference) if reference else None
        if existing:  # a concurrent delivery of the same order won the customer reference
            return DeliveryOutcome.DUPLICATE, existing, {}
        return DeliveryOutcome.INVALID, None, exc.errors
    return DeliveryOutcome.CREATED, order, {}


def _order_json(order: Order, outcome: DeliveryOutcome) -> dict[str, Any]:
    return {"status": outcome.value, "reference": order.reference, "customer_reference": order.customer_reference}


def handle_shopify(integration: Integration, payload: Any) -> tuple[int, DeliveryOutcome, dict[str, Any], Order | None]:
    if not isinstance(payload, Mapping):
        return 400, DeliveryOutcome.MALFORMED, _error_body("parse_error", "A Shopify order is a JSON object."), None
    data, errors = shopify_order_to_intake(payload, integration)
    if errors:
        return (
            422,
            DeliveryOutcome.INVALID,
            _error_body("validation_error", "The order cannot be created.", errors),
            None,
        )
    outcome, order, errors = _create(data, _shopify_scope(integration), integration)
    if order is None:
        return 422, outcome, _error_body("validation_error", "The order cannot be created.", errors), None
    return 200, outcome, _order_json(order, outcome), order


def handle_generic(integration: Integration, payload: Any) -> tuple[int, DeliveryOutcome, dict[str, Any], Order | None]:
    orders = payload if isinstance(payload, list) else [payload]
    if not orders or len(orders) > MAX_ORDERS_PER_DELIVERY:
        detail = f"Send one order or a list of 1 to {MAX_ORDERS_PER_DELIVERY} orders."
        return 400, DeliveryOutcome.MALFORMED, _error_body("parse_error", detail), None
    if not all(isinstance(order, Mapping) for order in orders):
        detail = "Each order is a JSON object of intake fields."
        return 400, DeliveryOutcome.MALFORMED, _error_body("parse_error", detail), None
    scope = _customer_scope(integration)
    results: list[dict[str, Any]] = []
    invalid = False
    with transaction.atomic():  # all or nothing per delivery: the sender fixes it and sends it again
        for index, data in enumerate(orders):
            outcome, order, errors = _create(data, scope, integration)
            if order is None:
                invalid = True
                results.append({"index": index, "status": "invalid", "errors": errors,
                                "customer_reference": str(data.get("customer_reference") or "")})  # fmt: skip
            else:
                results.append({"index": index, **_order_json(order, outcome)})
        if invalid:
            transaction.set_rollback(True)
    if invalid:
        fields: dict[str, list[str]] = {}
        for result in results:
            if result["status"] == "created":
                result.update(status="not_created", reference=None)  # rolled back with the invalid ones
            for name, messages in result.get("errors", {}).items():
                fields[f"[{result['index']}].{name}"] = messages
        message = "Some orders have errors; none of this delivery was created."
        return (
            422,
            DeliveryOutcome.INVALID,
            {**_error_body("validation_error", message, fields), "results": results},
            None,
        )
    created = any(result["status"] == "created" for result in results)
    outcome = DeliveryOutcome.CREATED if created else DeliveryOutcome.DUPLICATE
    first = _existing(integration, results[0]["customer_reference"]) if results else None
    return 200, outcome, {"status": outcome.value, "results": results}, first


# --- Endpoints ------------------------------------------------------------------------------------------------


def _integration(integration_id: Any, kind: str) -> Integration | None:
    return (
        Integration.objects.select_related("customer", "default_branch")
        .filter(pk=integration_id, kind=kind, is_active=True, customer__is_active=True)
        .first()
    )


def _too_large(request: Request) -> bool:
    length = request.META.get("CONTENT_LENGTH") or "0"
    return (int(length) if length.isdigit() else 0) > settings.OMS_WEBHOOK_MAX_BYTES


def _error(status: int, code: str, message: str) -> Response:
    """The API's one error shape (oms/api_errors.py)."""
    return Response(_error_body(code, message), status=status)


def _unauthorised() -> Response:
    return _error(401, "authentication_failed", "Missing, invalid or stale signature; nothing was stored.")


def _too_large_response() -> Response:
    return _error(413, "too_large", f"The body is larger than {settings.OMS_WEBHOOK_MAX_BYTES:,} bytes.")


# The one error shape (oms/api_errors.py), registered by the project's AutoSchema; named, not imported.
_API_ERROR = {"$ref": "#/components/schemas/ApiError"}

_RESULT = OpenApiResponse(
    description="Created, or already created by an earlier delivery (then `repeated` is true).",
    examples=[OpenApiExample("created", value={"status": "created", "reference": "HAM-26-000123",
                                               "customer_reference": "#1001"})],
)  # fmt: skip


@extend_schema(
    summary="Shopify orders/create webhook",
    description="Point a Shopify `orders/create` webhook at this URL (one per integration). The body is "
    "verified with X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the raw body with the integration's secret) "
    "before it is read. Each Shopify order becomes one submitted parcel order; repeated deliveries "
    "(same X-Shopify-Webhook-Id, or the same Shopify order) create nothing more and answer 200.",
    auth=[],
    request={"application/json": OpenApiTypes.OBJECT},
    parameters=[
        OpenApiParameter("X-Shopify-Hmac-Sha256", str, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("X-Shopify-Webhook-Id", str, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("X-Shopify-Topic", str, OpenApiParameter.HEADER, description="orders/create"),
    ],
    responses={200: _RESULT, 400: OpenApiResponse(_API_ERROR, description="Not a JSON order."),
               401: OpenApiResponse(_API_ERROR, description="Missing or invalid signature; nothing stored."),
               413: OpenApiResponse(_API_ERROR, description="Body too large."),
               422: OpenApiResponse(_API_ERROR, description="The order cannot be created: `errors` by field.")},
)  # fmt: skip
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def shopify_orders_create(request: Request, integration_id: Any) -> Response:
    if _too_large(request):
        return _too_large_response()
    integration = _integration(integration_id, IntegrationKind.SHOPIFY)
    body = request.body
    header = request.headers.get("X-Shopify-Hmac-Sha256", "")
    if integration is None or not shopify_signature_valid(secret=integration.secret, body=body, header=header):
        return _unauthorised()
    topic = request.headers.get("X-Shopify-Topic", "orders/create")
    if topic != "orders/create":
        return Response({"status": "ignored", "detail": f"This endpoint takes orders/create, not {topic}."})
    delivery_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
    if not delivery_id:
        return _error(400, "validation_error", "X-Shopify-Webhook-Id is missing.")
    status, response = delivery_receive(
        integration=integration, delivery_id=delivery_id, body=body, handle=handle_shopify,
        external_id=request.headers.get("X-Shopify-Order-Id", ""),
    )  # fmt: skip
    return Response(response, status=status)


@extend_schema(
    summary="Signed order intake webhook (ERP, WMS, TMS)",
    description="For systems that cannot call the order API directly. Signed the Standard Webhooks way: "
    "`webhook-id`, `webhook-timestamp` (Unix seconds, within 5 minutes of our clock) and `webhook-signature` "
    "= `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{raw body}` with the integration's whsec_ secret "
    "(several space-separated signatures are accepted while a secret is rotated). The body is one order "
    "or a list of up to 100 orders in the intake vocabulary of POST /api/v1/orders/ (customer_code is "
    "implied). All or nothing per delivery; the webhook-id makes a repeated delivery harmless.",
    auth=[],
    request={"application/json": OpenApiTypes.OBJECT},
    parameters=[
        OpenApiParameter("webhook-id", str, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("webhook-timestamp", str, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("webhook-signature", str, OpenApiParameter.HEADER, required=True),
    ],
    responses={200: OpenApiResponse(description="Every order created or already there: `results` per order."),
               400: OpenApiResponse(_API_ERROR, description="Not JSON, or not an order list."),
               401: OpenApiResponse(_API_ERROR, description="Missing, invalid or stale signature; nothing stored."),
               413: OpenApiResponse(_API_ERROR, description="Body too large."),
               422: OpenApiResponse(_API_ERROR, description="Some orders have errors; none was created.")},
)  # fmt: skip
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def generic_intake(request: Request, integration_id: Any) -> Response:
    if _too_large(request):
        return _too_large_response()
    integration = _integration(integration_id, IntegrationKind.GENERIC)
    body = request.body
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
