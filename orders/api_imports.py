"""The import API: upload an order file as a job, then read its state, counts and errors.

POST /api/v1/order-imports/ (multipart: file, mode, dry_run) checks the file and, unless dry_run,
imports it straight away (no interactive preview over the API); small files are done when the 201
answers, large ones run in the worker: poll GET /api/v1/order-imports/{id}/. A customer's key imports
only its own orders (customer_code is implied and checked) and sees only its own jobs, listed newest first
a cursor page at a time, as the orders are.

The POST honours `Idempotency-Key` as the orders API does (`partners.idempotency`): a client that retries an
upload after a timeout gets the first answer again, the same job, and nothing is imported twice. The request
is fingerprinted by what it asks for, the file's content (sha256) and name and the options, not by the bytes of
its multipart body, whose boundary changes with every retry.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api_errors import error_example, error_response
from oms.http import declared_size_over
from oms.pagination import NewestFirstPagination
from orders.errors import OrderError
from orders.imports import selectors, service
from orders.imports.columns import ImportFileError
from orders.imports.forms import FILE_HELP, file_name_problem
from orders.imports.reading import megabytes
from orders.models import Channel, ImportJob, ImportMode
from partners import idempotency
from partners.models import ApiKey
from partners.scoping import scope_for_request

ERRORS_RETURNED = 1000


class ImportCreateInput(serializers.Serializer):
    file = serializers.FileField(help_text=FILE_HELP)
    mode = serializers.ChoiceField(
        choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING,
        help_text="all_or_nothing: import nothing while any order has errors. valid_only: import the valid orders.",
    )  # fmt: skip
    dry_run = serializers.BooleanField(default=False, help_text="Only check the file; import nothing.")

    def validate_file(self, upload: Any) -> Any:
        problem = file_name_problem(upload.name or "")
        if problem:
            raise serializers.ValidationError(problem)
        return upload


class ImportErrorOutput(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="Spreadsheet row (the header is row 1); null: the file.")
    column = serializers.CharField(help_text="The column at fault, e.g. gross_weight_kg; empty when none is.")
    header = serializers.CharField(
        help_text="The same column as the file's header writes it, e.g. Gross Weight KG (what a person sees in the "
        "file); the vocabulary's name when the header writes it so, empty when no column is at fault."
    )
    value = serializers.CharField(help_text="The value as the file holds it (up to 300 characters).")
    message = serializers.CharField(help_text="What is wrong, for a person.")
    duplicate = serializers.BooleanField(
        source="is_duplicate", help_text="true: the order exists already (same customer reference); left unchanged."
    )


class ImportCountsOutput(serializers.Serializer):
    """The job's counts (the schema's names for `ImportJobSummaryOutput.get_counts`)."""

    rows = serializers.IntegerField(help_text="Data rows in the file (cargo lines).")
    rows_done = serializers.IntegerField(help_text="Rows read so far.")
    orders = serializers.IntegerField(help_text="Orders the rows make up.")
    valid = serializers.IntegerField(help_text="Orders without errors.")
    invalid = serializers.IntegerField(help_text="Orders with errors.")
    duplicates = serializers.IntegerField(help_text="Orders whose customer reference exists already.")
    created = serializers.IntegerField(help_text="Orders created.")
    # a declared field, taken out of the class by DRF's metaclass: it does not hide Serializer.errors
    errors = serializers.IntegerField(help_text="Errors found, also beyond the 1,000 listed.")  # type: ignore[assignment]


class ImportJobSummaryOutput(serializers.Serializer):
    """A job without its errors, as the list gives it: a client gets the job for those (its `url`)."""

    id = serializers.UUIDField()
    url = serializers.SerializerMethodField()
    state = serializers.CharField(source="status", help_text="pending, checking, checked, rejected, queued, "
                                  "importing, imported, failed or cancelled.")  # fmt: skip
    mode = serializers.CharField()
    dry_run = serializers.BooleanField()
    file_name = serializers.CharField()
    counts = serializers.SerializerMethodField()
    file_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    file_deleted_at = serializers.DateTimeField(
        allow_null=True, help_text="When the uploaded file was deleted, OMS_IMPORT_FILE_DAYS after the job ended."
    )

    def get_url(self, job: ImportJob) -> str:
        request = self.context.get("request")
        path = reverse("api-order-import-detail", args=[job.pk])
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(ImportCountsOutput)
    def get_counts(self, job: ImportJob) -> dict[str, int]:
        return {
            "rows": job.rows_total, "rows_done": job.rows_done, "orders": job.orders_total,
            "valid": job.orders_valid, "invalid": job.orders_invalid, "duplicates": job.orders_duplicate,
            "created": job.orders_created, "errors": job.error_count,
        }  # fmt: skip


class ImportJobOutput(ImportJobSummaryOutput):
    """The job with its errors (the first ERRORS_RETURNED of them)."""

    # DRF's metaclass takes declared fields out of the class, so this field does not hide Serializer.errors
    errors = serializers.SerializerMethodField()  # type: ignore[assignment]
    errors_truncated = serializers.SerializerMethodField()

    @extend_schema_field(ImportErrorOutput(many=True))
    def get_errors(self, job: ImportJob) -> list[dict[str, Any]]:
        errors = selectors.import_job_errors(job)[:ERRORS_RETURNED]
        return cast(list[dict[str, Any]], ImportErrorOutput(errors, many=True).data)  # many=True: a ReturnList

    def get_errors_truncated(self, job: ImportJob) -> bool:
        return job.error_count > ERRORS_RETURNED


# The one error shape (oms/api_errors.py), registered by the project's AutoSchema; named, not imported.
_API_ERROR = {"$ref": "#/components/schemas/ApiError"}

_EXAMPLE = {
    "id": "6f0b1c9e-2d4a-4c1e-9f0e-3b8a1d2c4e5f", "url": "https://oms.example/api/v1/order-imports/6f0b…/",
    "state": "failed", "mode": "all_or_nothing", "dry_run": False, "file_name": "orders-week-48.csv",
    "counts": {"rows": 3, "rows_done": 3, "orders": 2, "valid": 1, "invalid": 1, "duplicates": 0, "created": 0,
               "errors": 1},
    "file_error": "",
    "errors": [{"row": 3, "column": "gross_weight_kg", "header": "Gross Weight KG", "value": "-5",
                "message": "Must be greater than zero.", "duplicate": False}],
    "errors_truncated": False, "created_at": "2026-11-29T10:00:00Z", "finished_at": "2026-11-29T10:00:01Z",
    "file_deleted_at": None,
}  # fmt: skip


_IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Optional, up to 255 printable ASCII characters, e.g. a UUID. A retry with the same key, the same file "
        "(content and name) and the same options replays the first success (the same job; header "
        "Idempotent-Replayed: true) and imports nothing again; the same key with another file or other options is "
        "a 422; a retry while the first is still running is a 409 with Retry-After. Errors are not stored, so a "
        "corrected request may reuse the key. Keys are kept 24 hours."
    ),
)
_IDEMPOTENCY_IN_PROGRESS = error_response(
    "The same Idempotency-Key is still running; retry after Retry-After.",
    error_example(
        "Same key still running", "idempotency_key_in_progress", idempotency.IdempotencyKeyInProgress.default_detail
    ),
)
_IDEMPOTENCY_REUSED = error_response(
    "The Idempotency-Key was used before with another file or other options.",
    error_example("Key reused", "idempotency_key_reused", idempotency.IdempotencyKeyReused.default_detail),
)


def _require_importer(request: Request) -> None:
    if not selectors.may_import(scope_for_request(request)):
        raise PermissionDenied("This key or user may not import orders.")


class _Fingerprinted:
    """The request as `partners.idempotency` fingerprints it: its method and path, and as its body what the upload
    asks for. The multipart body itself would not do: as JSON, an uploaded file is its name, so a retry with
    another file under the same name would replay the first file's answer."""

    def __init__(self, request: Request, data: dict[str, Any]) -> None:
        self._request = request
        self.data = data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def _upload_fingerprint(data: dict[str, Any]) -> dict[str, Any]:
    upload = data["file"]
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return {
        "file_sha256": digest.hexdigest(), "file_name": upload.name or "", "mode": data["mode"],
        "dry_run": data["dry_run"],
    }  # fmt: skip


class OrderImportList(GenericAPIView):
    """GET: the caller's import jobs, newest first, a cursor page at a time. POST: upload a file as a job."""

    pagination_class = NewestFirstPagination
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="List order imports",
        description="The caller's import jobs, newest first, with cursor pagination (`next`/`previous` links), as "
        "the orders list. Customer keys see only their organisation's jobs; staff keys see all. Items leave out "
        "`errors` and `errors_truncated`; get the job (its `url`) for those.",
        responses={
            200: ImportJobSummaryOutput(many=True),
            404: error_response("The cursor is not valid.", error_example("Bad cursor", "not_found", "Invalid cursor")),
        },
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.import_job_list_for(scope=scope_for_request(request)))
        return self.get_paginated_response(ImportJobSummaryOutput(page, many=True, context={"request": request}).data)

    @extend_schema(
        summary="Upload an order file",
        description="Multipart upload (field `file`). The file is checked; unless `dry_run`, it is then imported "
        "with the chosen `mode`. Small files are finished when this answers; large ones run in the background "
        "(poll the job's `url`). A file-level problem (encoding, structure, size) ends in state `rejected`. "
        "With an Idempotency-Key, a retried upload gets the first answer again and imports nothing twice.",
        parameters=[_IDEMPOTENCY_KEY],
        request={"multipart/form-data": ImportCreateInput},
        responses={
            201: OpenApiResponse(
                ImportJobOutput,
                description="The job (or, with Idempotent-Replayed: true, the first answer for this key).",
                examples=[OpenApiExample("failed", value=_EXAMPLE)],
            ),
            400: OpenApiResponse(
                _API_ERROR, description="No file, or not a .csv, .txt (read as CSV) or .xlsx file, or too large."
            ),
            403: OpenApiResponse(_API_ERROR, description="This key may not import orders."),
            413: OpenApiResponse(
                _API_ERROR, description="The body's Content-Length is far over the file size limit: refused unread."
            ),
            409: _IDEMPOTENCY_IN_PROGRESS,
            422: _IDEMPOTENCY_REUSED,
        },
    )
    def post(self, request: Request) -> Response:
        _require_importer(request)
        if (declared := declared_size_over(request, settings.OMS_IMPORT_MAX_BYTES)) is not None:
            raise FileTooLarge(declared)
        data = ImportCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fingerprinted = cast(Request, _Fingerprinted(request, _upload_fingerprint(data.validated_data)))
        response = idempotency.idempotent(fingerprinted, execute=lambda: _create(request, data.validated_data))
        if response.status_code == status.HTTP_201_CREATED and "Location" not in response:
            response["Location"] = response.data["url"]  # a replay carries the stored body only
        return response


class FileTooLarge(exceptions.APIException):
    """An upload whose declared length alone is over the limit, answered before its body is read."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self, declared: int) -> None:
        super().__init__(
            f"The upload is {megabytes(declared)}; an order file may be at most "
            f"{megabytes(settings.OMS_IMPORT_MAX_BYTES)}. Split it into smaller files."
        )


def _create(request: Request, data: dict[str, Any]) -> Response:
    scope = scope_for_request(request)
    api_key = request.auth if isinstance(request.auth, ApiKey) else None
    user = request.user if api_key is None else None
    try:
        job = service.import_job_create(
            upload=data["file"], scope=scope, source=Channel.API, by=user, api_key=api_key, mode=data["mode"],
            dry_run=data["dry_run"], confirm=True,
        )  # fmt: skip
    except ImportFileError as exc:
        raise serializers.ValidationError({"file": [str(exc)]}) from exc
    except OrderError as exc:
        raise PermissionDenied(str(exc)) from exc
    output = ImportJobOutput(job, context={"request": request}).data
    return Response(output, status=status.HTTP_201_CREATED, headers={"Location": output["url"]})


order_import_list_create = OrderImportList.as_view()


@extend_schema(
    summary="An order import: state, counts and errors",
    description="Errors are `[{row, column, value, message}]`, rows as a spreadsheet numbers them (header = 1); "
    "at most 1,000 are listed (`errors_truncated`).",
    responses={200: OpenApiResponse(ImportJobOutput, examples=[OpenApiExample("failed", value=_EXAMPLE)]),
               404: OpenApiResponse(_API_ERROR, description="No such import for this key.")},
)  # fmt: skip
@api_view(["GET"])
def order_import_detail(request: Request, pk: Any) -> Response:
    job = selectors.import_job_get_for(scope=scope_for_request(request), pk=pk)  # DRF answers Http404 with 404
    return Response(ImportJobOutput(job, context={"request": request}).data)
