"""What every inbound order delivery shares, Shopify's or the generic intake's.

`delivery_receive` records each verified delivery once per integration and delivery id (X-Shopify-Webhook-Id,
webhook-id), NUL kept as U+FFFD (PostgreSQL text cannot hold it), and hands it to its handler; a repeat gets the stored
answer and creates nothing. The handlers make their orders through `orders.services.order_create` (`_submit`: the
single-order path, with the same validation, history and events), submitted, with channel "webhook", and answer in the
API's one error shape (`_error_body`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import pghistory
from django.db import transaction
from django.utils import timezone

from orders import services
from orders.errors import OrderValidationError
from orders.models import Channel, DeliveryOutcome, Integration, Order, WebhookDelivery
from partners.models import Role
from partners.scoping import Audience, Scope


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
    return Order.objects.filter(  # in any case, as the unique index compares it ("so-1" is "SO-1")
        customer_id=integration.customer_id, customer_reference__iexact=customer_reference
    ).first()


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


def _order_json(order: Order, outcome: DeliveryOutcome) -> dict[str, Any]:
    return {"status": outcome.value, "reference": order.reference, "customer_reference": order.customer_reference}


def _customer_scope(integration: Integration) -> Scope:
    """A generic integration acts like its customer's own API key: its orders, nothing else."""
    return Scope(Audience.CUSTOMER, frozenset({integration.customer_id}), frozenset({Role.CUSTOMER}))
