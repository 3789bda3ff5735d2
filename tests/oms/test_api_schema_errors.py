"""The shared error responses ApiAutoSchema adds (oms/api_errors.py) are only those the view can answer: the signed
webhooks have no API key and no throttle, and an order file is sent as multipart/form-data, not JSON (review H)."""

from __future__ import annotations

import pytest

from partners import services as partner_services

WEBHOOKS = [
    ("/api/v1/webhooks/intake/{integration_id}/", "post"),
    ("/api/v1/webhooks/shopify/{integration_id}/orders-create/", "post"),
]


def _operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def _signed_webhooks(schema: dict) -> list[tuple[str, str, dict]]:
    found = [(path, method, op) for path, method, op in _operations(schema) if "/webhooks/" in path]
    assert {(path, method) for path, method, _ in found} >= set(WEBHOOKS)  # and tracking's
    assert len(found) == 3
    return found


def test_the_signed_webhooks_document_no_api_key_refusal_and_no_throttle(schema):
    wrong = [
        f"{method.upper()} {path} {code}: {operation['responses'][code]['description'][:50]}"
        for path, method, operation in _signed_webhooks(schema)
        for code in ("403", "429")
        if code in operation["responses"]
    ]
    assert wrong == []


def test_the_signed_webhooks_keep_their_own_401_and_a_503_that_fits_a_delivery(schema):
    for path, _method, operation in _signed_webhooks(schema):
        assert "signature" in operation["responses"]["401"]["description"], path
        unavailable = operation["responses"]["503"]["description"]
        assert "Idempotency-Key" not in unavailable, path
        assert "nothing of the delivery was stored" in unavailable, path


def test_operations_with_an_api_key_still_document_401_403_and_429(schema):
    keyed = [(path, method, op) for path, method, op in _operations(schema) if "/webhooks/" not in path]
    assert len(keyed) > 10
    for path, method, operation in keyed:
        assert {"401", "403", "429"} <= set(operation["responses"]), (path, method)
        assert "Idempotency-Key" in operation["responses"]["503"]["description"], (path, method)


def test_a_multipart_upload_tells_the_client_to_send_multipart(schema):
    operation = schema["paths"]["/api/v1/order-imports/"]["post"]
    assert list(operation["requestBody"]["content"]) == ["multipart/form-data"]

    unsupported = operation["responses"]["415"]
    assert "application/json" not in unsupported["description"]
    assert "multipart/form-data" in unsupported["description"]
    assert unsupported["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApiError"}


def test_a_json_write_still_tells_the_client_to_send_json(schema):
    unsupported = schema["paths"]["/api/v1/orders/"]["post"]["responses"]["415"]
    assert unsupported["description"] == "Send JSON (Content-Type: application/json)."


def test_every_operation_documents_the_406_its_content_negotiation_answers(schema):
    """The API answers 406 not_acceptable to an Accept it cannot satisfy (a browser's text/html, XML), and
    oms/api_errors.py lists it among the API's statuses, but no operation documented it (review C)."""
    undocumented = [
        f"{method.upper()} {path}" for path, method, op in _operations(schema) if "406" not in op["responses"]
    ]
    assert undocumented == []


@pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/orders/", "/api/v1/order-imports/"])
def test_a_406_answer_has_the_documented_error_shape(client, customer_a, path):
    key = partner_services.api_key_create(organisation=customer_a, name="ERP")[1]
    response = client.get(path, HTTP_ACCEPT="text/html", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert (response.status_code, response["Content-Type"]) == (406, "application/json")
    assert response.json()["error"]["code"] == "not_acceptable"
