"""RELIABILITY (b) area C, API intake: what tests/partners/test_idempotency.py and test_api.py left open.

C1 a replayed creation queues no after-commit work and no second transition (the event is emitted once); C6 the
hostile payloads of the plan are field errors (4xx), never a 5xx, and create nothing.
"""

from __future__ import annotations

import json

import pytest

from orders.models import Order, OrderTransition, QueuedTransition
from tests.orders.test_api import LIST_URL, bearer

KEY = "relplan-c1-0001"


@pytest.fixture
def customer_body(order_data):
    def make(**overrides):
        data = order_data()
        del data["customer_code"], data["branch_code"]
        return {**data, **overrides}

    return make


def _line(**overrides):
    return [{"pieces": 1, "package_type": "PX", "gross_weight_kg": "10", "description": "Lamps", **overrides}]


# --- C1: a replay emits nothing ---------------------------------------------------------------------------


def test_a_replayed_creation_queues_nothing_after_its_commit(
    client, staff_key, order_data, django_capture_on_commit_callbacks
):
    body = order_data(submit=True)
    headers = {**bearer(staff_key), "HTTP_IDEMPOTENCY_KEY": KEY}

    with django_capture_on_commit_callbacks() as first_effects:
        first = client.post(LIST_URL, body, content_type="application/json", **headers)
    with django_capture_on_commit_callbacks() as replay_effects:
        replay = client.post(LIST_URL, body, content_type="application/json", **headers)

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert len(first_effects) >= 1  # order_created and order_status_changed, after the commit
    assert replay_effects == []
    assert Order.objects.count() == 1
    assert OrderTransition.objects.count() == QueuedTransition.objects.count() == 1


# --- C6: hostile payloads -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lines": _line(gross_weight_kg=-1)}, "lines[0].gross_weight_kg"),
        ({"lines": _line(gross_weight_kg="NaN")}, "lines[0].gross_weight_kg"),
        ({"lines": _line(gross_weight_kg="Infinity")}, "lines[0].gross_weight_kg"),
        ({"lines": _line(pieces=9223372036854775808)}, "lines[0].pieces"),
        ({"lines": _line(pieces=1.5)}, "lines[0].pieces"),
        ({"lines": _line(pieces=True)}, "lines[0].pieces"),
        ({"lines": _line(length_cm="1e10")}, "lines[0].length_cm"),
        ({"requested_pickup_on": "2026-02-30"}, "requested_pickup_on"),
        ({"requested_pickup_on": "0000-01-01"}, "requested_pickup_on"),
        ({"shipper_name": "x" * 5000}, "shipper_name"),
        ({"description": "x" * 100_000}, "description"),
        ({"customer_reference": "PO-\x001001"}, "customer_reference"),
        ({"customer_reference": ["PO-1001"]}, "customer_reference"),
        ({"customer_reference": {"$ne": ""}}, "customer_reference"),
        ({"declared_value": 1e300, "currency": "EUR"}, "declared_value"),
        ({"lines": _line() * 5000}, "lines"),
    ],
    ids=[
        "negative-weight", "nan", "infinity", "int64-overflow", "fractional-pieces", "boolean-pieces", "huge-length",
        "feb-30", "year-0", "5000-char-name", "100k-description", "nul", "list", "object", "1e300", "5000-lines",
    ],
)  # fmt: skip
def test_a_hostile_value_is_a_field_error_and_creates_nothing(client, acme_key, customer_body, overrides, field):
    response = client.post(LIST_URL, customer_body(**overrides), content_type="application/json", **bearer(acme_key))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert not Order.objects.exists()


def test_a_number_beyond_double_precision_is_a_field_error(client, acme_key, customer_body):
    body = json.dumps(customer_body()).replace('"4200.5"', "1e309")  # json.loads reads it as inf

    response = client.post(LIST_URL, body, content_type="application/json", **bearer(acme_key))

    assert response.status_code == 400
    assert "lines[0].gross_weight_kg" in response.json()["error"]["fields"]
    assert not Order.objects.exists()


def test_a_json_body_sent_as_text_plain_is_415(client, acme_key, customer_body):
    response = client.post(LIST_URL, json.dumps(customer_body()), content_type="text/plain", **bearer(acme_key))

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "9999-12-31T23:59:59-12:00"},
        {"created_before": "0001-01-01T00:00:00+14:00"},
        {"created_after": "2026-02-30T00:00:00Z"},
        {"customer_reference": "a\x00b"},
        {"status": "\x00"},
    ],
)
def test_hostile_list_filters_are_a_400_not_a_500(client, acme_key, params):
    client.raise_request_exception = False

    response = client.get(LIST_URL, params, **bearer(acme_key))

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(params)


@pytest.mark.parametrize(
    "reference",
    ["PO-\u202e1001", "PO-\u200b1001", "PO-1001\u2066", "\ufeffPO-1001", "PO-\t1001", "PO-\u00ad1001"],
    ids=["rtl-override", "zero-width-space", "left-to-right-isolate", "bom", "tab", "soft-hyphen"],
)
def test_a_reference_with_an_invisible_or_bidi_character_is_a_field_error(client, acme_key, customer_body, reference):
    """A reference that reads like an existing one ("PO-1001") would otherwise be a second order beside it."""
    assert (
        client.post(LIST_URL, customer_body(), content_type="application/json", **bearer(acme_key)).status_code == 201
    )
    response = client.post(
        LIST_URL, customer_body(customer_reference=reference), content_type="application/json", **bearer(acme_key)
    )
    assert response.status_code == 400
    (message,) = response.json()["error"]["fields"]["customer_reference"]
    (hidden,) = set(reference) - set("PO-1001")
    assert message.startswith(f"Contains an invisible character (U+{ord(hidden):04X})")
    assert Order.objects.count() == 1


def test_a_reference_in_another_script_is_welcome(client, acme_key, customer_body):
    for reference in ("订单-1001", "Bestellung-Müller-7", "PO 1001"):
        response = client.post(
            LIST_URL, customer_body(customer_reference=reference), content_type="application/json", **bearer(acme_key)
        )
        assert response.status_code == 201, response.json()
