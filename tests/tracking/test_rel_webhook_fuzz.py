"""RELIABILITY.md F2 and C6 behind a valid signature: what a sender signs is still untrusted (OWASP API10). Every
field of a tracking webhook's events (ours and DCSA's, the subject and the transport call too), of a Standard
Webhooks order intake and of a Shopify order is sent, correctly signed, with hostile values: wrong JSON types, NUL,
lone surrogates, huge numbers and strings, impossible times. The answer is never a 5xx: a bad value is the sender's
error (or one rejected event among stored ones), never our crash. Each delivery has its own id, so none is taken
for a repeat of another.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.orders.fixtures.imports import world
from tests.orders.test_webhooks import SHOPIFY_ORDER, _generic_post, _intake_order, _shopify_post, generic, shopify
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, dcsa_event, oms_event, signed_headers
from tests.tracking.test_webhook_signatures import URL

__all__ = ["generic", "shopify", "world"]

HOSTILE: list[Any] = [
    None, True, -1, 0, 2**63, 1e308, 1.5, "", "x" * 10_000, "\u0000", "a\u0000b", "\ud800", "\u202e", [], {},
    [None], {"$ne": ""}, "2026-02-30T10:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00",
    "2026-12-01T25:61:00", "NaN", "../../etc/passwd", "=1+1", "ＣＮＳＨＡ",
]  # fmt: skip


def _mutations(document: Any, values: Iterator[Any], path: tuple[Any, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(where, a copy of `document` with one field, at any depth, set to the next hostile value), twice per field."""
    items = document.items() if isinstance(document, dict) else enumerate(document)
    for key, value in list(items):
        for _ in range(2):
            changed = copy.deepcopy(document)
            changed[key] = next(values)
            yield "/".join(map(str, (*path, key))), changed
        if isinstance(value, dict | list) and value:
            for where, inner in _mutations(value, values, (*path, key)):
                changed = copy.deepcopy(document)
                changed[key] = inner
                yield where, changed


def _refused(status: int, content: bytes) -> bool:
    """A 4xx, or a 200 that lists events it rejected (a tracking delivery stores the readable ones)."""
    return 400 <= status < 500 or (status == 200 and bool(json.loads(content).get("rejected")))


def _server_errors(responses: Iterator[tuple[str, Any]]) -> list[str]:
    """The 5xx answers, by the field that was hostile; also that the walk sent enough, and was refused somewhere,
    so that it means something."""
    answers = [(where, response.status_code, response.content) for where, response in responses]
    assert len(answers) >= 20, answers
    assert any(_refused(status, content) for _, status, content in answers if status < 500), answers
    return [f"{status} at {where}" for where, status, _ in answers if status >= 500]


def test_no_hostile_field_in_a_signed_tracking_delivery_is_a_5xx(booked_fcl, webhook_source):
    client = Client(raise_request_exception=False)
    values = itertools.cycle(HOSTILE)
    events = {
        "ours": oms_event("DEPARTED", ETD, place="CNSHA", event_id="fuzz-ours"),
        "dcsa": dcsa_event("EQUIPMENT", "LOAD", ETD, event_id="fuzz-dcsa"),
    }

    def deliveries() -> Iterator[tuple[str, Any]]:
        for kind, event in events.items():
            for n, (where, hostile) in enumerate(_mutations(event, values)):
                body = json.dumps({"events": [{**hostile, "id": f"{kind}-{n}"} if kind == "ours" else hostile]})
                raw = body.encode("utf-8", "surrogatepass")
                headers = signed_headers(raw)
                yield f"{kind}:{where}", client.generic("POST", URL, raw, "application/json", headers=headers)

    assert _server_errors(deliveries()) == []


def test_no_hostile_field_in_a_signed_order_intake_is_a_5xx(generic):
    values = itertools.cycle(HOSTILE)

    def deliveries() -> Iterator[tuple[str, Any]]:
        for n, (where, hostile) in enumerate(_mutations(_intake_order("SO-FUZZ"), values)):
            raw = json.dumps([hostile]).encode("utf-8", "surrogatepass")
            yield where, _generic_post(generic, raw, msg_id=f"msg-fuzz-{n}")

    assert _server_errors(deliveries()) == []


def test_no_hostile_field_in_a_signed_shopify_order_is_a_5xx(shopify):
    values = itertools.cycle(HOSTILE)

    def deliveries() -> Iterator[tuple[str, Any]]:
        for n, (where, hostile) in enumerate(_mutations(SHOPIFY_ORDER, values)):
            raw = json.dumps(hostile).encode("utf-8", "surrogatepass")
            yield where, _shopify_post(shopify, raw, webhook_id=f"wh-fuzz-{n}")

    assert _server_errors(deliveries()) == []


@pytest.fixture(autouse=True)
def _no_request_exceptions(monkeypatch):
    """Answer a crash as a 500 (as a server does) rather than raise it into the test, so all are listed at once."""
    monkeypatch.setattr(APIClient, "raise_request_exception", False, raising=False)
