"""The 200 answers of the intake and Shopify webhooks are typed in the OpenAPI schema (review H, item 5), and what
the views answer matches that schema exactly: every key documented, no undocumented key, the documented values."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from tests.orders.test_webhooks import (
    SHOPIFY_ORDER,
    _body,
    _cancel_in_store,
    _generic_post,
    _intake_order,
    _shopify_post,
    generic,
    shopify,
    world,
)

__all__ = ["generic", "shopify", "world"]

SHOPIFY_PATH = "/api/v1/webhooks/shopify/{integration_id}/orders-create/"
INTAKE_PATH = "/api/v1/webhooks/intake/{integration_id}/"


def _closed(schema: dict) -> dict:
    """The components with every object closed (additionalProperties: false), so an undocumented key fails."""
    components = copy.deepcopy(schema["components"])
    for component in components["schemas"].values():
        if component.get("type") == "object" and "properties" in component:
            component["additionalProperties"] = False
    return components


def _validator(schema: dict, path: str) -> jsonschema.Validator:
    content = schema["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
    return jsonschema.Draft7Validator({**content["schema"], "components": _closed(schema)})


@pytest.mark.parametrize("path", [SHOPIFY_PATH, INTAKE_PATH])
def test_the_200_answer_has_a_typed_schema(schema, path):
    content = schema["paths"][path]["post"]["responses"]["200"].get("content", {})
    assert "$ref" in content["application/json"]["schema"]


def test_every_shopify_answer_matches_its_schema(schema, shopify):
    validator = _validator(schema, SHOPIFY_PATH)
    nothing_to_ship = copy.deepcopy(SHOPIFY_ORDER)
    for item in nothing_to_ship["line_items"]:
        item["requires_shipping"] = False
    answers = [
        _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1"),  # created
        _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-1"),  # the same delivery: repeated
        _shopify_post(shopify, _body(SHOPIFY_ORDER), webhook_id="wh-2"),  # duplicate
        _shopify_post(shopify, _body(_cancel_in_store(SHOPIFY_ORDER)), webhook_id="wh-3"),  # duplicate, held
        _shopify_post(shopify, _body({**nothing_to_ship, "id": 2}), webhook_id="wh-4"),  # ignored
        _shopify_post(shopify, _body({**SHOPIFY_ORDER, "id": 3, "test": True}), webhook_id="wh-5"),  # ignored
        _shopify_post(shopify, _body({**SHOPIFY_ORDER, "id": 4}), webhook_id="wh-6", HTTP_X_SHOPIFY_TOPIC="x"),
    ]
    bodies: list[dict[str, Any]] = []
    for answer in answers:
        assert answer.status_code == 200, answer.content
        bodies.append(answer.json())
        validator.validate(bodies[-1])
    assert [body["status"] for body in bodies] == [
        "created", "created", "duplicate", "duplicate", "ignored", "ignored", "ignored"
    ]  # fmt: skip
    assert bodies[1]["repeated"] is True
    assert "detail" in bodies[3]


def test_every_intake_answer_matches_its_schema(schema, generic):
    validator = _validator(schema, INTAKE_PATH)
    answers = [
        _generic_post(generic, _body(_intake_order("SO-1")), msg_id="m1"),  # created (one order)
        _generic_post(generic, _body(_intake_order("SO-1")), msg_id="m1"),  # the same delivery: repeated
        _generic_post(generic, _body([_intake_order("SO-1"), _intake_order("SO-2")]), msg_id="m2"),  # both
        _generic_post(generic, _body([_intake_order("SO-2")]), msg_id="m3"),  # duplicate
    ]
    bodies: list[dict[str, Any]] = []
    for answer in answers:
        assert answer.status_code == 200, answer.content
        bodies.append(answer.json())
        validator.validate(bodies[-1])
    assert [body["status"] for body in bodies] == ["created", "created", "created", "duplicate"]
    assert bodies[1]["repeated"] is True
    assert [result["status"] for result in bodies[2]["results"]] == ["duplicate", "created"]


def test_an_undocumented_key_would_be_caught(schema):
    """The check above is strict: an answer with a key the schema does not name fails it."""
    with pytest.raises(jsonschema.ValidationError):
        _validator(schema, INTAKE_PATH).validate({"status": "created", "results": [], "surprise": 1})
