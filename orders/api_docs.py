"""The orders API's OpenAPI documentation pieces: request and response examples, the headers it reads and
sends (Idempotency-Key, ETag, If-Match) and the error answers it documents. orders.api attaches them to its
views with extend_schema; workflows.api reuses the idempotency ones."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from oms.api_errors import error_example, error_response
from partners import idempotency

ORDER_REQUEST_EXAMPLE = {
    "customer_reference": "PO-4711",
    "mode": "ocean_fcl",
    "incoterm": "FOB",
    "origin": "CNSHA",
    "destination": "DEHAM",
    "shipper_name": "Shenzhen Bright Lighting Co.",
    "consignee_name": "Nordwind Handel GmbH",
    "description": "LED lamps",
    "requested_pickup_on": "2026-12-01",
    "requested_delivery_on": "2027-01-15",
    "declared_value": "48000.00",
    "currency": "USD",
    "lines": [
        {
            "pieces": 20,
            "package_type": "PX",
            "gross_weight_kg": "8400.000",
            "volume_m3": "52.5000",
            "hs_code": "940542",
            "container_number": "CSQU3054383",
            "container_type": "45G1",
            "seal_numbers": ["SL123456"],
        }
    ],
}
ORDER_RESPONSE_EXAMPLE: dict[str, Any] = {
    "reference": "SHA-26-000123",
    "status": "draft",
    "channel": "api",
    "customer_code": "ACME",
    "customer_reference": "PO-4711",
    "branch_code": "SHA",
    "mode": "ocean_fcl",
    "service_level": "standard",
    "incoterm": "FOB",
    "named_place": "Shanghai",
    "origin": "CNSHA",
    "origin_address": "",
    "destination": "DEHAM",
    "destination_address": "",
    "shipper_name": "Shenzhen Bright Lighting Co.",
    "shipper_address": "",
    "consignee_name": "Nordwind Handel GmbH",
    "consignee_address": "",
    "notify_name": "",
    "notify_address": "",
    "description": "LED lamps",
    "requested_pickup_on": "2026-12-01",
    "requested_delivery_on": "2027-01-15",
    "declared_value": "48000.00",
    "currency": "USD",
    "special_instructions": "",
    "lines": [
        {
            "pieces": 20,
            "package_type": "PX",
            "gross_weight_kg": "8400.000",
            "volume_m3": "52.5000",
            "description": "LED lamps",
            "hs_code": "940542",
            "length_cm": None,
            "width_cm": None,
            "height_cm": None,
            "container_number": "CSQU3054383",
            "container_type": "45G1",
            "seal_numbers": "SL123456",
            "awb_number": "",
            "un_number": "",
            "dg_class": "",
            "packing_group": "",
        }
    ],
    "pieces_total": 20,
    "gross_weight_kg_total": "8400.000",
    "volume_m3_total": "52.5000",
    "chargeable_weight_kg": "8400.000",
    "created_at": "2026-11-29T10:15:00.123456Z",
    "updated_at": "2026-11-29T10:15:00.123456Z",
    "submitted_at": None,
    "cancelled_at": None,
    "cancel_reason": "",
    # Every transition the caller may take now (a staff key on a submitted order also sees confirm and hold).
    "transitions": [
        {
            "name": "submit", "label": "Submit", "allowed": True, "reason": None, "needs_reason": False,
            "description": "Hand a draft to operations.",
        },
        {
            "name": "cancel", "label": "Cancel order", "allowed": True, "reason": None, "needs_reason": True,
            "description": "Stop the order before the goods move.",
        },
    ],
}  # fmt: skip
SUBMITTED_EXAMPLE = {
    **ORDER_RESPONSE_EXAMPLE,
    "status": "submitted",
    "submitted_at": "2026-11-29T10:16:02.000000Z",
    "transitions": [ORDER_RESPONSE_EXAMPLE["transitions"][1]],
}
CANCELLED_EXAMPLE = {
    **ORDER_RESPONSE_EXAMPLE,
    "status": "cancelled",
    "cancelled_at": "2026-11-29T10:17:30.000000Z",
    "cancel_reason": "Customer postponed the shipment.",
    "transitions": [],
}

IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Optional, up to 255 printable ASCII characters, e.g. a UUID. A retry with the same key and body "
        "replays the first success (header Idempotent-Replayed: true) and changes nothing; the same key "
        "with another body is a 422; a retry while the first is still running is a 409 with Retry-After. "
        "Errors are not stored, so a corrected request may reuse the key. Keys are kept 24 hours."
    ),
)
REFERENCE = OpenApiParameter("reference", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. HAM-26-000123")
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description='The version of the order, e.g. "20261129T101500.123456Z" (quotes included; opaque). It changes '
    "whenever the order is saved. Send it back in If-Match to change this version only. A replayed answer "
    "(Idempotent-Replayed: true) carries none: GET the order for it.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional. The ETag of your last read of the order: the change is applied only if nobody changed "
    "the order since, otherwise the answer is 412 and nothing is saved (no lost updates). `*` or no header: "
    "applied to whatever is current. Compared strongly: a weak tag (W/...) never matches. Without it a PATCH "
    "still changes only the fields it sends, on the order as it is when the change is made.",
)
PRECONDITION_FAILED = error_response(
    "If-Match names a version that is no longer current: someone changed the order since you read it. "
    "Nothing was saved; GET the order for its current data and ETag and decide again.",
    error_example(
        "Changed since read",
        "precondition_failed",
        "SHA-26-000123 was changed since you opened it: ops@oms.example saved it on 29 Nov 2026 at 10:17:42 UTC. "
        "Nothing was saved: GET the order for its current data and ETag, then send your change again.",
    ),
)
NOT_A_DRAFT = error_response(
    "The order is no longer a draft.",
    error_example("Not a draft", "conflict", "Only draft orders can be edited; SHA-26-000123 is submitted."),
)
VALIDATION_ERROR = error_response(
    "The order has errors: every one of them, by field.",
    error_example(
        "Validation errors",
        "validation_error",
        "The order has 3 errors.",
        {
            "origin": ["XXABC is not in our UN/LOCODE list. Check the code, or ask an admin to import it."],
            "status": ["This field is not part of an order (state and references are set by OMS)."],
            "lines[0].hs_code": [
                "HS subheading 940130 does not exist in HS 2022; heading 9401 has 940131 and 940139 beside it."
            ],
        },
    ),
    error_example(
        "Duplicate customer reference",
        "validation_error",
        "The order has 1 error.",
        {"customer_reference": ["ACME already has an order with reference PO-4711 (SHA-26-000123)."]},
    ),
)
IDEMPOTENCY_IN_PROGRESS = error_example(
    "Same key still running", "idempotency_key_in_progress", idempotency.IdempotencyKeyInProgress.default_detail
)
IDEMPOTENCY_REUSED = error_response(
    "The Idempotency-Key was used before with a different request.",
    error_example("Key reused", "idempotency_key_reused", idempotency.IdempotencyKeyReused.default_detail),
)


def transition_conflict(verb: str, state: str) -> OpenApiResponse:
    return error_response(
        "The transition cannot be taken now; the message says why. A 409 is also the answer when the "
        "order changed meanwhile (concurrent_change) or the same Idempotency-Key is still running.",
        error_example("Not now", "transition_not_allowed", f"A {state} order cannot be {verb}."),
        error_example(
            "Changed meanwhile",
            "concurrent_change",
            "The order changed meanwhile: it is now cancelled. Reload it and try again.",
        ),
        IDEMPOTENCY_IN_PROGRESS,
    )
