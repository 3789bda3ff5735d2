"""One error shape for every API error, and its description in the OpenAPI schema.

    {"error": {"code": "validation_error", "message": "The order has 2 errors.",
               "fields": {"origin": ["…"], "lines[0].hs_code": ["…"]}}}

`code` is stable and machine-readable (the table below); `message` is for a person; `fields` maps each
offending field to its messages (nested fields written `lines[0].hs_code`, as the intake layer names
them) and is empty for errors that are not about fields. HTTP statuses:

    400 validation_error, parse_error, idempotency_key_invalid   401 not_authenticated, authentication_failed
    403 permission_denied   404 not_found   405 method_not_allowed   406 not_acceptable
    409 transition_not_allowed, concurrent_change, conflict, idempotency_key_in_progress
    412 precondition_failed (If-Match names an older version of the order)
    413 payload_too_large (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, 5 MB; the signed webhooks have their own limits)
    415 unsupported_media_type   422 idempotency_key_reused   429 throttled (with Retry-After)
    503 service_unavailable (with Retry-After: the database went away or did not answer in time)

Domain errors become HTTP errors here, so services stay free of HTTP. Unexpected exceptions are left
to Django (a logged 500), never swallowed. A database that is restarting, or a connection that was cut, is
not unexpected: the request's transaction was rolled back with it, the next request reconnects
(CONN_HEALTH_CHECKS), so the client is told to retry, in JSON, not handed Django's HTML 500 page. It is
still logged, with its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.db.models import ProtectedError
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from orders.errors import ConcurrentChange, OrderError, OrderValidationError, TransitionNotAllowed

logger = logging.getLogger(__name__)


class FieldErrors(exceptions.APIException):
    """Errors by field from a domain validation (e.g. OrderValidationError), with its own summary."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "validation_error"

    def __init__(self, message: str, fields: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.fields = fields


class Conflict(exceptions.APIException):
    """The request is valid but conflicts with the current state of the resource."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"

    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(message)
        self.error_code = code


class PayloadTooLarge(exceptions.APIException):
    """The body is larger than Django reads (DATA_UPLOAD_MAX_MEMORY_SIZE): Django's RequestDataTooBig, which it
    would answer with its plain HTML "Bad Request (400)" page."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self) -> None:
        super().__init__(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes, the most the API "
            "accepts. Send less in one request."
        )


class ServiceUnavailable(exceptions.APIException):
    """The database was lost mid-request (a restart, a killed connection, a timeout): Django's OperationalError
    or InterfaceError. What the request was writing is rolled back with its transaction; the client retries
    (a POST with the same Idempotency-Key, so that it is applied once however often it is sent)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "OMS cannot reach its database just now. Retry after the number of seconds in Retry-After."
    wait = 10  # seconds, read by DRF's handler into Retry-After: about what a PostgreSQL restart takes


def _as_api_exception(exc: Exception) -> Exception:
    """Domain errors as the HTTP errors they mean; anything else unchanged."""
    if isinstance(exc, OrderValidationError):
        return FieldErrors(str(exc), exc.errors)
    if isinstance(exc, ConcurrentChange):
        return Conflict(str(exc), "concurrent_change")
    if isinstance(exc, TransitionNotAllowed):
        return Conflict(str(exc), "transition_not_allowed")
    if isinstance(exc, OrderError):
        return Conflict(str(exc))
    if isinstance(exc, ProtectedError):
        return Conflict("Other records depend on this one, so it cannot be deleted.")
    if isinstance(exc, Http404):
        return exceptions.NotFound()  # the same body whether the object is missing or someone else's
    if isinstance(exc, DjangoPermissionDenied):  # its reason, as the 403 page shows it (templates/403.html)
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, DatabaseOperationalError | DatabaseInterfaceError):
        logger.error("API request failed: the database is unavailable (answered 503)", exc_info=exc)
        return ServiceUnavailable()
    return exc


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"lines[0].pieces": [...]}, the intake layer's field names."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for name, value in detail.items():
            flat.update(_flatten(value, f"{prefix}.{name}" if prefix else str(name)))
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        flat = {}
        for index, value in enumerate(detail):
            flat.update(_flatten(value, f"{prefix}[{index}]"))
        return flat
    messages = [str(item) for item in detail] if isinstance(detail, list) else [str(detail)]
    return {prefix or "non_field_errors": messages} if messages else {}


def _count(fields: dict[str, list[str]]) -> int:
    return sum(len(messages) for messages in fields.values())


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    """The `error` object for an API exception."""
    if isinstance(exc, FieldErrors):
        return {"code": exc.default_code, "message": str(exc.detail), "fields": exc.fields}
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        count = _count(fields)
        message = f"The request has {count} error{'s' if count != 1 else ''}."
        return {"code": "validation_error", "message": message, "fields": fields}
    code = exc.error_code if isinstance(exc, Conflict) else exc.default_code
    return {"code": str(code), "message": str(exc.detail), "fields": {}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: DRF's handling (status, Retry-After and WWW-Authenticate
    headers, rollback of an open atomic block), then the body rewritten into the one error shape."""
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = {"error": error_body(exc)}
    return response


# --- OpenAPI ------------------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable, e.g. validation_error, not_found, throttled.")
    message = serializers.CharField(help_text="For a person: what went wrong and, where it helps, what to do.")
    # DRF's metaclass moves declared fields out of the class, so this does not shadow Serializer.fields.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Messages by field; nested fields are written like "lines[0].hs_code". Empty when the '
        "error is not about fields.",
    )


class ApiErrorSerializer(serializers.Serializer):
    """Every API error has this shape."""

    error = ErrorDetailSerializer()


def error_example(name: str, code: str, message: str, fields: dict[str, list[str]] | None = None) -> OpenApiExample:
    return OpenApiExample(
        name, value={"error": {"code": code, "message": message, "fields": fields or {}}}, response_only=True
    )


def error_response(description: str, *examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(ApiErrorSerializer, description=description, examples=list(examples))


_COMMON_ERRORS: dict[str, OpenApiResponse] = {
    "401": error_response(
        "No API key, or an unknown or revoked one.",
        error_example("Unknown key", "authentication_failed", "Unknown or revoked API key."),
    ),
    "403": error_response(
        "The caller may not do this.",
        error_example("Not allowed", "permission_denied", "You do not have permission to perform this action."),
    ),
    "429": error_response(
        "Too many requests for this API key; retry after the number of seconds in Retry-After.",
        error_example("Throttled", "throttled", "Request was throttled. Expected available in 12 seconds."),
    ),
    "503": error_response(
        "The database is briefly unavailable (e.g. restarting) and the request's changes were rolled back. Retry "
        "after the number of seconds in Retry-After; send a POST again with the same Idempotency-Key.",
        error_example("Database unavailable", "service_unavailable", ServiceUnavailable.default_detail),
    ),
}
_NOT_ACCEPTABLE = error_response(
    "The Accept header asks for no type this endpoint answers in (it answers application/json; send */* or nothing).",
    error_example("Not acceptable", "not_acceptable", "Could not satisfy the request Accept header."),
)
_NOT_FOUND = error_response(
    "There is no such object, or it is not visible to the caller (the two are indistinguishable).",
    error_example("Not found", "not_found", "Not found."),
)
_BAD_REQUEST = error_response(
    "The request has errors; `fields` says which.",
    error_example("Malformed JSON", "parse_error", "JSON parse error - Expecting value: line 1 column 1 (char 0)"),
)
_PAYLOAD_TOO_LARGE = error_response(
    "The body is larger than the API accepts (5 MB).",
    error_example(
        "Too large",
        "payload_too_large",
        "The request body is larger than 5,242,880 bytes, the most the API accepts. Send less in one request.",
    ),
)
_SIGNED_DELIVERY_UNAVAILABLE = error_response(
    "The database is briefly unavailable (e.g. restarting) and nothing of the delivery was stored. Send it again "
    "after the number of seconds in Retry-After (Shopify and most webhook senders retry by themselves); a delivery "
    "that was stored once is never stored twice.",
    error_example("Database unavailable", "service_unavailable", ServiceUnavailable.default_detail),
)


def _unsupported_media_type(media_types: list[str]) -> OpenApiResponse:
    """The 415 of an operation whose body must be one of `media_types` (its request body's, as documented)."""
    if media_types == ["application/json"]:
        advice = "Send JSON (Content-Type: application/json)."
        sent = "text/plain"
    else:
        advice = f"Send the body as {' or '.join(media_types)}, as the request body above says."
        sent = "application/json"
    return error_response(
        advice,
        error_example("Unsupported type", "unsupported_media_type", f'Unsupported media type "{sent}" in request.'),
    )


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the shared error responses added to every operation that does not
    declare its own for that status (done after @extend_schema overrides, which replace the responses).

    Each shared error is added only where the view can answer it: 401 and 403 where it authenticates an API key
    (the signed webhooks authenticate nothing: a bad signature is their own 401, and AllowAny never refuses), 429
    where it is throttled, and the 415 names the media types its request body is documented with (an order file
    is multipart/form-data, not JSON)."""

    def _error_responses(self, operation: dict[str, Any]) -> dict[str, OpenApiResponse]:
        authenticates = bool(self.view.authentication_classes)
        errors = dict(_COMMON_ERRORS)
        if not authenticates:
            del errors["401"], errors["403"]
            errors["503"] = _SIGNED_DELIVERY_UNAVAILABLE
        if not self.view.throttle_classes:
            del errors["429"]
        if "{" in self.path:
            errors["404"] = _NOT_FOUND
        if self._answers_json_only():
            errors["406"] = _NOT_ACCEPTABLE
        if self.method in ("POST", "PUT", "PATCH"):
            errors["400"] = _BAD_REQUEST
            errors["413"] = _PAYLOAD_TOO_LARGE
            body_types = list(operation.get("requestBody", {}).get("content", {})) or ["application/json"]
            errors["415"] = _unsupported_media_type(body_types)
        return errors

    def _answers_json_only(self) -> bool:
        """Content negotiation refuses an Accept that none of the view's renderers gives (a browser's text/html)."""
        renderers = self.view.get_renderers()
        return bool(renderers) and all(renderer.media_type == "application/json" for renderer in renderers)

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code, response in self._error_responses(operation).items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code)
        operation["responses"] = dict(sorted(responses.items()))
        return operation
