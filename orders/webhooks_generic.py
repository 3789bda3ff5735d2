"""The signed generic order intake (ERP, WMS, TMS), verified the Standard Webhooks way (webhooks_signatures).

The body is the intake vocabulary: one order or a list; all or nothing per delivery. Two orders of one delivery under
the same customer reference, in any case, are an error of the delivery (422, nothing created), never a "duplicate":
that answer means an earlier delivery created the order. The integration acts like its customer's own API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from orders.models import DeliveryOutcome, Integration, Order
from orders.references import customer_reference_key
from orders.webhooks_deliveries import Handled, _customer_scope, _error_body, _existing, _order_json, _submit
from partners.scoping import Scope

MAX_ORDERS_PER_DELIVERY = 100


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
        key = customer_reference_key(reference)  # "SO-1" and "so-1" cannot both exist either
        if key in first:
            clashes[index] = (
                f"Order [{first[key]}] of this delivery has the customer reference {reference} too: give each "
                "order its own reference, or send one order with all its cargo lines."
            )
        else:
            first[key] = index
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
    in_key_order = sorted(
        enumerate(orders), key=lambda item: customer_reference_key(str(item[1].get("customer_reference") or "").strip())
    )
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
