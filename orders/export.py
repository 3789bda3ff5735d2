"""Exports of the filtered order list to CSV and XLSX, in the intake vocabulary.

Both read the rows in batches through a server-side cursor, so memory stays flat whether the filter
matches ten orders or a million: CSV streams straight to the client; XLSX goes through openpyxl's
write-only workbook into a temporary file, which is then streamed.

Spreadsheet programs run a cell that starts with = + - @ (or a tab or carriage return before them) as a
formula, so a shipper called `=HYPERLINK(...)` would become a live link in the reader's Excel. Every
text cell that starts with one of those characters is prefixed with an apostrophe (OWASP, "CSV
Injection").

Times are on the clock of the list they export, the viewer's own branch's (views.order_export; docs/planning.md,
"Which clock a screen uses"), and each file says which. A CSV cell is text, so it holds ISO 8601 with the offset
(`2026-12-07T07:30:00+08:00`): a program reads the instant exactly, a person sees the local time, and the column
keeps its name. An XLSX date cell holds no offset, so the times are written as the clock shows them (a real date
cell, which Excel sorts and filters) and the header names the zone: `created_at (Asia/Shanghai)`. The API gives
the same times in UTC.
"""

from __future__ import annotations

import csv
import datetime
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from orders.models import Order
from partners.time_zones import zone_label

# Column name (the intake vocabulary) -> ORM path.
COLUMNS: dict[str, str] = {
    "reference": "reference",
    "status": "status",
    "customer_code": "customer__code",
    "customer_reference": "customer_reference",
    "mode": "mode",
    "incoterm": "incoterm",
    "origin": "origin_id",
    "destination": "destination_id",
    "shipper_name": "shipper_name",
    "consignee_name": "consignee_name",
    "requested_pickup_on": "requested_pickup_on",
    "pieces_total": "pieces_total",
    "gross_weight_kg_total": "gross_weight_kg_total",
    "volume_m3_total": "volume_m3_total",
    "chargeable_weight_kg": "chargeable_weight_kg",
    "created_at": "created_at",
}
TIME_COLUMNS = frozenset({"created_at"})  # aware date-times: on the export's clock, which the file names
BATCH_SIZE = 2000
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise_formula(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def export_rows(queryset: QuerySet[Order]) -> Iterator[tuple[Any, ...]]:
    """The export's rows in the queryset's order, fetched BATCH_SIZE at a time."""
    rows = queryset.values_list(*COLUMNS.values())
    yield from rows.iterator(chunk_size=BATCH_SIZE)


def _csv_cell(value: Any, zone: datetime.tzinfo) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value, zone).isoformat(timespec="seconds")  # with its offset: +08:00
    if isinstance(value, datetime.date | Decimal):
        return str(value)
    return neutralise_formula(value)


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def csv_response(queryset: QuerySet[Order], *, filename: str, zone: datetime.tzinfo) -> StreamingHttpResponse:
    """The rows as CSV, times in ISO 8601 on `zone`'s clock with its offset. The rows are read as the response
    streams, after the view has returned: the zone is passed in, not taken from the request's."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # a byte-order mark, so Excel reads the file as UTF-8
        yield writer.writerow(COLUMNS)
        for row in export_rows(queryset):
            yield writer.writerow([_csv_cell(value, zone) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _xlsx_cell(value: Any, zone: datetime.tzinfo) -> Any:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value, zone).replace(tzinfo=None)  # Excel has no time zones: the header names it
    if isinstance(value, str):
        return neutralise_formula(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def xlsx_header(zone: datetime.tzinfo) -> list[str]:
    """The column names, each time column's with the zone its cells are on: `created_at (Asia/Shanghai)`."""
    return [f"{name} ({zone_label(zone)})" if name in TIME_COLUMNS else name for name in COLUMNS]


def xlsx_response(queryset: QuerySet[Order], *, filename: str, zone: datetime.tzinfo) -> FileResponse:
    """The rows as a workbook, times as date cells on `zone`'s clock, which the header names."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Orders")
    sheet.append(xlsx_header(zone))
    for row in export_rows(queryset):
        sheet.append([_xlsx_cell(value, zone) for value in row])
    # FileResponse closes the temporary file when it has been sent; the file system then frees it.
    spool = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    workbook.save(spool)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
