"""Inbound order webhooks: a Shopify-compatible `orders/create` endpoint and a generic signed JSON intake.

Both read at most OMS_WEBHOOK_MAX_BYTES + 1 bytes of the body, with or without Content-Length (a chunked
request has none), and verify the signature over the raw bytes, in constant time and as bytes, before
anything is parsed or stored (wrong, missing or stale signatures: 401, nothing stored). Each accepted
delivery is recorded once per integration and delivery id (X-Shopify-Webhook-Id, webhook-id), NUL kept as
U+FFFD (PostgreSQL text cannot hold it); a repeat gets the stored answer and creates nothing. Orders go
through `orders.services.order_create` (the single-order path: the same validation, history and events),
submitted, with channel "webhook".

- `orders.webhooks_signatures`: the secrets and the two signature schemes;
- `orders.webhooks_deliveries`: a delivery recorded once and answered, and the order creation both handlers share;
- `orders.webhooks_shopify`: Shopify orders as parcel orders (what is ignored, declared, referenced, held);
- `orders.webhooks_generic`: the signed generic intake, all or nothing per delivery;
- here: the two endpoints and their OpenAPI description.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
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
from orders.models import DeliveryOutcome, Integration, IntegrationKind
from orders.webhooks_deliveries import _error_body, delivery_receive
from orders.webhooks_generic import handle_generic
from orders.webhooks_shopify import handle_shopify
from orders.webhooks_signatures import shopify_signature_valid, standard_signature_valid, timestamp_fresh


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
    "customer reference an earlier delivery created, in any case, is answered `duplicate` (with that order); two "
    "orders of one delivery under the same reference, in any case, are a 422 (an error on the later one's "
    "`customer_reference`).",
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
