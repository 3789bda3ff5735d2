"""Reads of import jobs that screens and the API share, already scoped: staff see every job, a customer
only the jobs uploaded for it (404 for the others), partners none. A job's errors are read in the file's order of rows
and columns, as a list (`import_job_errors`) or as the error file (`import_job_error_file`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.db.models import Case, CharField, F, QuerySet, Value, When
from django.http import Http404

from orders import lifecycle
from orders.imports.columns import ALL_COLUMNS, TEMPLATE_COLUMNS, normalise_header
from orders.models import ImportedOrder, ImportJob, ImportRowError
from orders.resources import escape_formula
from partners.scoping import Scope

ERROR_FILE_COLUMNS = ("row", "column", "value", "message", "customer_reference", "kind")


def import_job_list_for(*, scope: Scope) -> QuerySet[ImportJob]:
    """The jobs the scope may see, newest first."""
    jobs = ImportJob.objects.select_related("created_by", "customer", "api_key").order_by("-created_at")
    return scope.restrict(jobs, customer="customer_id")


def import_job_get_for(*, scope: Scope, pk: Any) -> ImportJob:
    job = import_job_list_for(scope=scope).filter(pk=pk).first()
    if job is None:
        raise Http404("No such import.")
    return job


def import_job_created_orders(*, job: ImportJob, limit: int = 50) -> QuerySet[ImportedOrder]:
    return job.imported.select_related("order__customer").order_by("row")[:limit]


def may_import(scope: Scope) -> bool:
    """Importing creates submitted orders: whoever may submit an order may upload a file."""
    spec = lifecycle.TRANSITIONS["submit"]
    if scope.is_staff:
        return scope.has_role(*spec.roles)
    return scope.is_customer


# Errors of one row in the order of the template's columns (a file made from it has them so), then the others.
_COLUMN_ORDER = Case(
    *(When(column=name, then=Value(position)) for position, name in enumerate(dict.fromkeys(
        (*TEMPLATE_COLUMNS, *ALL_COLUMNS)))),
    default=Value(len(ALL_COLUMNS) + len(TEMPLATE_COLUMNS)),
)  # fmt: skip


def import_job_errors(job: ImportJob) -> QuerySet[ImportRowError]:
    """The job's errors as the file has them: by row (the file's own problems first), then by column in the file's
    order, then as found. The check finds an order's errors when it has read all of its rows, which may be far apart.

    Each error carries `header`: its column as the file's header writes it ("Gross Weight KG"), which is what the
    screens and the error file show; `column` stays the vocabulary's name (gross_weight_kg), which the API returns."""
    columns = _written_columns(job)
    in_file_order = Case(
        *(When(column=name, then=Value(position)) for position, (name, _) in enumerate(columns)),
        default=Value(len(columns)),
    )
    renamed = [When(column=name, then=Value(written)) for name, written in columns if written != name]
    header = Case(*renamed, default=F("column"), output_field=CharField()) if renamed else F("column")
    ordering = (F("row").asc(nulls_first=True), *((in_file_order,) if columns else ()), _COLUMN_ORDER, "id")
    return job.errors.annotate(header=header).order_by(*ordering)


def _written_columns(job: ImportJob) -> list[tuple[str, str]]:
    """(vocabulary name, name as the file's header writes it) for each column, in the file's order."""
    return [(normalise_header(written), written) for written in job.header]


def import_job_error_file(job: ImportJob) -> Iterator[str]:
    """The errors as CSV lines (streamed), formula-escaped: the file opens in a spreadsheet. Written with semicolons
    when the upload was (Excel writes, and opens, CSV so where the comma is the decimal mark), else commas."""
    buffer = io.StringIO()
    delimiter = ";" if job.file_format == "csv" and job.delimiter == ";" else ","
    writer = csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL)

    def line(values: list[Any]) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff" + line(list(ERROR_FILE_COLUMNS))  # a BOM so Excel reads UTF-8
    listed = 0
    written = dict(_written_columns(job))
    for error in import_job_errors(job).iterator(chunk_size=2000):
        kind = "file" if error.row is None else ("duplicate" if error.is_duplicate else "error")
        yield line([
            error.row or "", escape_formula(written.get(error.column, error.column)), escape_formula(error.value),
            escape_formula(error.message), escape_formula(error.customer_reference), kind,
        ])  # fmt: skip
        listed += 1
    if job.error_count > listed:  # more than OMS_IMPORT_MAX_STORED_ERRORS: say so rather than end silently
        more = job.error_count - listed
        yield line([
            "", "", "", f"{more:,} more error{'s' if more != 1 else ''} were found and not kept; only the first "
            f"{listed:,} are listed. Correct these and check the file again to see the rest.", "", "note",
        ])  # fmt: skip
