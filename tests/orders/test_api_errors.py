"""The one error shape (oms/api_errors.py) and the per-key rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions

from oms.api_errors import api_exception_handler, error_body
from orders.api import PreconditionFailed
from orders.errors import ConcurrentChange, OrderError, OrderValidationError, TransitionNotAllowed
from partners import services as partner_services
from partners.auth import ApiKeyRateThrottle
from tests.orders.test_api import LIST_URL, bearer


def handled(exc: Exception) -> tuple[int, dict]:
    response = api_exception_handler(exc, {})
    assert response is not None
    return response.status_code, response.data


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (OrderValidationError({"origin": ["Unknown."]}), 400, "validation_error"),
        (TransitionNotAllowed("A cancelled order cannot be submitted."), 409, "transition_not_allowed"),
        (ConcurrentChange("The order changed meanwhile."), 409, "concurrent_change"),
        (OrderError("Only draft orders can be edited."), 409, "conflict"),
        (PreconditionFailed("The order was changed since you read it."), 412, "precondition_failed"),
        (ProtectedError("An invoice refers to it.", set()), 409, "conflict"),
        (Http404("No Order matches the given query."), 404, "not_found"),
        (exceptions.NotAuthenticated(), 401, "not_authenticated"),
        (exceptions.AuthenticationFailed("Unknown or revoked API key."), 401, "authentication_failed"),
        (exceptions.PermissionDenied(), 403, "permission_denied"),
        (exceptions.NotFound(), 404, "not_found"),
        (exceptions.MethodNotAllowed("DELETE"), 405, "method_not_allowed"),
        (exceptions.NotAcceptable(), 406, "not_acceptable"),
        (exceptions.UnsupportedMediaType("text/plain"), 415, "unsupported_media_type"),
        (exceptions.Throttled(wait=7), 429, "throttled"),
        (RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."), 413, "payload_too_large"),
    ],
)
def test_every_error_has_the_one_shape_with_a_stable_code(exc, status, code):
    got_status, data = handled(exc)

    assert got_status == status
    assert set(data) == {"error"}
    assert set(data["error"]) == {"code", "message", "fields"}
    assert data["error"]["code"] == code
    assert data["error"]["message"]


def test_domain_validation_errors_keep_their_fields_and_summary():
    _status, data = handled(OrderValidationError({"origin": ["Unknown."], "lines[0].hs_code": ["No.", "Never."]}))

    assert data == {
        "error": {
            "code": "validation_error",
            "message": "The order has 3 errors.",
            "fields": {"origin": ["Unknown."], "lines[0].hs_code": ["No.", "Never."]},
        }
    }


def test_nested_serializer_errors_are_flattened_to_intake_field_names():
    detail: dict[str, Any] = {
        "reason": ["Required."],
        "lines": [{}, {"pieces": ["Too few."]}],
        "non_field_errors": ["Bad."],
    }

    body = error_body(exceptions.ValidationError(detail))

    assert body["fields"] == {"reason": ["Required."], "lines[1].pieces": ["Too few."], "non_field_errors": ["Bad."]}
    assert body["message"] == "The request has 3 errors."


def test_unexpected_exceptions_are_left_to_django():
    assert api_exception_handler(RuntimeError("bug"), {}) is None


def test_429_carries_retry_after_in_the_error_shape(client, customer_a, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    cache.clear()
    raw_key = partner_services.api_key_create(organisation=customer_a, name="ERP")[1]
    other_key = partner_services.api_key_create(organisation=customer_a, name="Shop")[1]

    statuses = [client.get(LIST_URL, **bearer(raw_key)).status_code for _ in range(3)]
    throttled = client.get(LIST_URL, **bearer(raw_key))

    assert statuses == [200, 200, 429]
    assert throttled.json()["error"]["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert client.get(LIST_URL, **bearer(other_key)).status_code == 200  # the limit is per key


def test_the_rate_limit_is_counted_in_a_cache_every_worker_shares(settings):
    """LocMemCache would count per gunicorn worker process; the database (or Redis) cache is shared."""
    assert settings.CACHES["default"]["BACKEND"] in {
        "django.core.cache.backends.db.DatabaseCache",
        "django.core.cache.backends.redis.RedisCache",
    }


# --- Bodies and answers the API does not take -------------------------------------------------------------------


def test_a_body_over_the_upload_limit_is_a_413_in_the_error_shape(client, acme_key, settings):
    # Django refuses it (RequestDataTooBig) with its plain HTML "Bad Request (400)" page unless the handler maps it.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(LIST_URL, {"special_instructions": "x" * 2000}, content_type="application/json",
                           **bearer(acme_key))  # fmt: skip

    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "The request body is larger than 1,000 bytes, the most the API accepts. Send less in one request.",
        "fields": {},
    }


@pytest.mark.parametrize(
    "body",
    [b'{"customer_reference": "PO-1", "lines": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", b'{"a":' * 5000 + b"1"],
)
def test_json_nested_too_deeply_is_a_400_parse_error(client, acme_key, body):
    # Python's json raises RecursionError, which DRF's JSONParser let through as a 500 page.
    response = client.post(LIST_URL, body, content_type="application/json", **bearer(acme_key))

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "parse_error", "message": "JSON parse error - the body is nested too deeply.", "fields": {}
    }  # fmt: skip


@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml;q=0.9", "application/xml"])
def test_an_answer_the_api_cannot_give_is_406_in_json(client, acme_key, accept):
    # JSON only: no browsable API pages (with their forms) for a browser's Accept header.
    response = client.get(LIST_URL, HTTP_ACCEPT=accept, **bearer(acme_key))

    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_acceptable"


@pytest.mark.parametrize("accept", ["application/json", "*/*", "text/html,*/*;q=0.8", None])
def test_json_is_the_answer_to_any_accept_that_takes_it(client, acme_key, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = client.get(LIST_URL, **headers, **bearer(acme_key))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
