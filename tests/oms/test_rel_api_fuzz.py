"""RELIABILITY.md C6, the fuzzing half, driven by our own OpenAPI schema (/api/schema/) as Schemathesis would be:
every documented operation, every parameter it names (path, query, header) and every property of its JSON body
(the order lines' too) is sent hostile values, by a customer's API key and by a staff key. Whatever is sent, the
answer is never a 5xx: a bad value is the client's error and is told as one (4xx). The values are the plan's:
wrong JSON types, NUL, lone surrogates, huge numbers and strings, impossible dates, path tricks, formulas.

Schemathesis itself is not a project dependency; this walks the same schema with a fixed, repeatable set of values
instead of generated ones, so a failure names exactly the request that caused it.
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import pytest
from django.test import Client

from orders.models import Order
from partners import services as partner_services

HOSTILE_JSON: list[Any] = [
    None, True, -1, 0, 2**63, -(2**63) - 1, 1e308, 1.5, "", " ", "x" * 10_000, "\u0000", "nul\u0000inside",
    "\ud800", "\u202eevil", "2026-02-30", "0000-01-01", "2026-12-01T25:61:00", "../../../etc/passwd",
    "=HYPERLINK(\"http://evil\")", "' OR 1=1 --", [], {}, [None], {"$ne": ""}, [[[[[]]]]], "ＨＡＭ", "NaN",
]  # fmt: skip
HOSTILE_TEXT = [
    "", "x" * 5000, "\x00", "-1", "99999999999999999999999", "1e309", "2026-02-30", "{}", "%00", "' OR 1=1 --",
    "\u202e", "ＨＡＭ",
]  # fmt: skip
HOSTILE_PATH = [
    "x" * 300, "HAM-26-99999999999999999999", "0", "-1", "..", "%2e%2e", "ＨＡＭ-26-000001", "ham-26-000001",
]  # fmt: skip
HEADER_NAMES_SKIPPED = {"authorization"}
WHOLE_BODIES: list[Any] = [[], "x", None, 1, {"lines": None}]


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _body_shape(schema: dict, operation: dict) -> tuple[dict | None, list[str], list[str]]:
    """The documented example (or an empty object), the body's properties, and the properties of its lines."""
    content = (operation.get("requestBody") or {}).get("content") or {}
    if "application/json" not in content:
        return None, [], []
    media = content["application/json"]
    examples = media.get("examples") or {}
    base = next(iter(examples.values()))["value"] if examples else {}
    body_schema = _resolve(schema, media["schema"])
    properties = list(body_schema.get("properties", {}))
    lines = body_schema.get("properties", {}).get("lines", {})
    line_properties = list(_resolve(schema, lines.get("items", {})).get("properties", {})) if lines else []
    return base, properties, line_properties


def _requests(schema: dict, reference: str) -> list[tuple[str, str, dict, str | None, str]]:
    """(method, path, headers, body, what) for every hostile case of every operation."""
    values = itertools.cycle(HOSTILE_JSON)
    cases: list[tuple[str, str, dict, str | None, str]] = []
    for template, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            parameters = operation.get("parameters", [])
            path_values = {
                p["name"]: str(uuid.uuid4()) if p.get("schema", {}).get("format") == "uuid" else reference
                for p in parameters
                if p["in"] == "path"
            }
            path_values.update({"transition": "confirm"} if "transition" in path_values else {})
            path = template.format(**path_values)
            base, properties, line_properties = _body_shape(schema, operation)
            body = json.dumps(base) if base is not None else None

            for parameter in parameters:
                name, where = parameter["name"], parameter["in"]
                if where == "path":
                    for value in HOSTILE_PATH:
                        cases.append((method, template.format(**{**path_values, name: value}), {}, body, name))
                elif where == "query":
                    for value in HOSTILE_TEXT:
                        cases.append((method, f"{path}?{name}={value}", {}, body, f"?{name}={value[:20]!r}"))
                elif where == "header" and name.lower() not in HEADER_NAMES_SKIPPED:
                    meta = "HTTP_" + name.upper().replace("-", "_")
                    for value in HOSTILE_TEXT:
                        cases.append((method, path, {meta: value}, body, f"{name}: {value[:20]!r}"))
            if base is None:
                continue
            for whole in WHOLE_BODIES:
                cases.append((method, path, {}, json.dumps(whole), f"body {whole!r}"))
            for name in properties:
                for value in (next(values) for _ in range(3)):
                    cases.append((method, path, {}, json.dumps({**base, name: value}), f"{name}={value!r:.30}"))
            for name in line_properties:
                line = {**(base.get("lines") or [{}])[0]}
                for value in (next(values) for _ in range(2)):
                    hostile = {**base, "lines": [{**line, name: value}]}
                    cases.append((method, path, {}, json.dumps(hostile), f"lines[0].{name}={value!r:.30}"))
    return cases


@pytest.fixture
def callers(customer_a, branch, locations, order_data, account_branches) -> dict[str, Client]:
    callers = {}
    for name, organisation in (("customer", customer_a), ("staff", branch)):
        raw_key = partner_services.api_key_create(organisation=organisation, name=f"{name} fuzz")[1]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        client.raise_request_exception = False
        callers[name] = client
    return callers


@pytest.fixture
def account_branches(customer_a, branch):
    customer_a.account_branch = branch
    customer_a.save(update_fields=["account_branch"])


@pytest.mark.parametrize("persona", ["customer", "staff"])
def test_no_hostile_value_in_any_documented_place_is_answered_with_a_5xx(schema, callers, order_data, persona):
    client = callers[persona]
    data = order_data(customer_reference="FUZZ-1")
    created = callers["staff"].post("/api/v1/orders/", data, content_type="application/json")
    assert created.status_code == 201, created.content
    reference = created.json()["reference"]
    cases = _requests(schema, reference)
    assert len(cases) > 500  # the walk reached the operations, their parameters and bodies

    server_errors = []
    for method, path, headers, body, what in cases:
        response = client.generic(method.upper(), path, body or "", content_type="application/json", **headers)
        if response.status_code >= 500:
            server_errors.append(f"{response.status_code} {method.upper()} {path[:80]} {what}")

    assert server_errors == []
    assert Order.objects.filter(reference=reference).exists()  # edited perhaps, by a valid value; never deleted
