"""RELIABILITY.md G (CSV import and export): the plan's own cases that the other import tests do not already take
one by one: UTF-16 without a byte-order mark, classic-Mac line endings, a refused file kept for support, the
1,000-row file with errors on rows 17, 203 and 503, one reference on rows 5 and 9, privileged columns and callers,
and the admin's export of import jobs."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
import tablib
from django.core.files.storage import default_storage
from django.urls import reverse

from orders.imports import service
from orders.models import ImportJob, ImportMode, ImportStatus, Order, OrderEvent
from orders.resources import ImportJobResource, SafeCSV
from tests.orders.fixtures.imports import (
    COLUMNS,
    csv_bytes,
    errors_of,
    import_file,
    order_row,
    upload,
    world,
    xlsx_bytes,
)

__all__ = ["world"]


def _rejected(job: ImportJob, fragment: str) -> None:
    assert job.status == ImportStatus.REJECTED, (job.status, job.file_error)
    assert fragment in job.file_error, job.file_error
    assert Order.objects.count() == 0


# --- G1 encodings ---------------------------------------------------------------------------------------------


def test_utf16le_without_a_byte_order_mark_is_refused_as_a_whole(world):
    content = csv_bytes([order_row(consignee_name="Müller GmbH")]).decode().encode("utf-16-le")
    _rejected(import_file(world["ops"], content), "not a text file")


# --- G2 malformed structure -----------------------------------------------------------------------------------


def test_a_file_with_carriage_return_only_line_endings_is_read_row_by_row(world):
    content = csv_bytes([order_row("PO-1"), order_row("PO-2", pieces="0")]).replace(b"\r\n", b"\r")
    assert b"\n" not in content
    job = import_file(world["ops"], content)
    assert job.status == ImportStatus.CHECKED, job.file_error
    assert (job.rows_total, job.orders_valid, job.orders_invalid) == (2, 1, 1)
    assert errors_of(job) == [(3, "pieces", "Must be at least 1.")]


def test_a_refused_file_is_kept_for_support_under_its_generated_name(world):
    content = csv_bytes([order_row("PO-1")]) + b'ACME,"PO-2,air\n'
    job = import_file(world["ops"], content, name="broken.csv")
    _rejected(job, "never closed")
    assert job.file_name == "broken.csv"
    with default_storage.open(job.file.name, "rb") as kept:
        assert kept.read() == content


# --- G3 row validation, the error report and the failure policy ---------------------------------------------


PLAN_FAULTS = {
    17: {"requested_pickup_on": "31/02/2026"},
    203: {"gross_weight_kg": "-5"},
    503: {"customer_code": "NOPE"},
    777: {"consignee_name": "<script>alert(1)</script>"},
}


def _plan_file() -> bytes:
    """1,000 orders, one row each; the header is spreadsheet row 1, so order n is on row n + 1."""
    rows = []
    for row in range(2, 1002):
        values = {**order_row(f"PO-{row:04d}"), **PLAN_FAULTS.get(row, {})}
        rows.append(values)
    return csv_bytes(rows)


def test_the_plans_thousand_row_file_lists_each_error_and_imports_nothing_by_default(world, login):
    client = login(world["ops"])
    client.post(reverse("imports:upload"), {"file": upload(_plan_file()), "mode": ImportMode.ALL_OR_NOTHING})
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.CHECKED, job.file_error
    assert (job.rows_total, job.orders_valid, job.orders_invalid) == (1000, 997, 3)
    found = [(row, column, value) for row, column, value in job.errors.values_list("row", "column", "value")]
    assert sorted(found) == [
        (17, "requested_pickup_on", "31/02/2026"),
        (203, "gross_weight_kg", "-5"),
        (503, "customer_code", "NOPE"),
    ]
    assert all(job.errors.values_list("message", flat=True))

    report = client.get(reverse("imports:errors", args=[job.pk]))
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert [(line[0], line[1], line[2]) for line in lines[1:]] == [
        ("17", "requested_pickup_on", "31/02/2026"),
        ("203", "gross_weight_kg", "-5"),
        ("503", "customer_code", "NOPE"),
    ]

    job = service.import_job_confirm(job=job, by=world["ops"], mode=ImportMode.ALL_OR_NOTHING)
    assert job.status == ImportStatus.FAILED
    assert Order.objects.count() == 0


def test_importing_the_valid_orders_only_is_chosen_and_recorded_and_markup_stays_text(world, login):
    client = login(world["ops"])
    job = import_file(world["ops"], _plan_file())
    response = client.post(reverse("imports:confirm", args=[job.pk]), {"mode": ImportMode.VALID_ONLY})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.mode, job.orders_created, job.orders_invalid) == (
        ImportStatus.IMPORTED,
        "valid_only",
        997,
        3,
    )
    assert (job.confirmed_by_id, job.confirmed_at is not None) == (world["ops"].pk, True)
    assert not Order.objects.filter(customer_reference__in=["PO-0017", "PO-0203", "PO-0503"]).exists()

    scripted = Order.objects.get(customer_reference="PO-0777")
    assert scripted.consignee_name == "<script>alert(1)</script>"  # data, kept as sent
    context = OrderEvent.objects.filter(pgh_obj_id=scripted.pk).select_related("pgh_context").first().pgh_context
    assert (context.metadata["import_job"], context.metadata["user"]) == (str(job.pk), world["ops"].pk)
    page = client.get(reverse("orders:detail", args=[scripted.reference])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- G4 duplicates ----------------------------------------------------------------------------------------------


def test_one_reference_on_rows_5_and_9_with_different_values_names_both_rows_and_updates_nothing(world):
    rows = [order_row(f"PO-{n}") for n in range(2, 11)]  # spreadsheet rows 2 to 10
    rows[3] = order_row("PO-1")  # row 5
    rows[7] = order_row("PO-1", consignee_name="Someone Else Ltd")  # row 9
    job = import_file(world["ops"], csv_bytes(rows))
    assert (job.orders_total, job.orders_valid, job.orders_invalid) == (8, 7, 1)
    ((row, column, message),) = errors_of(job)
    assert (row, column) == (9, "consignee_name")
    assert "Rows 5 and 9" in message
    job = service.import_job_confirm(job=job, by=world["ops"], mode=ImportMode.VALID_ONLY)
    assert not Order.objects.filter(customer_reference="PO-1").exists()
    assert Order.objects.count() == 7


def test_one_reference_on_rows_5_and_9_with_the_same_values_is_one_order_with_both_lines(world):
    rows = [order_row(f"PO-{n}") for n in range(2, 11)]
    rows[3] = order_row("PO-1", pieces="2", description="Pumps")
    rows[7] = order_row("PO-1", pieces="3", description="Valves")
    job = service.import_job_confirm(
        job=import_file(world["ops"], csv_bytes(rows)), by=world["ops"], mode="all_or_nothing"
    )
    assert job.status == ImportStatus.IMPORTED, errors_of(job)
    order = Order.objects.get(customer_reference="PO-1")
    assert list(order.lines.order_by("line_no").values_list("pieces", "description")) == [(2, "Pumps"), (3, "Valves")]


# --- G5 privileged columns and callers ------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["invoice_id", "organisation_id", "created_by", "id"])
def test_columns_outside_the_vocabulary_are_refused_with_nothing_imported(world, column):
    rows = [{**order_row(), column: "1"}]
    job = import_file(world["ops"], csv_bytes(rows, columns=[*COLUMNS, column]))
    assert job.status == ImportStatus.REJECTED, job.status
    assert column in job.file_error
    assert Order.objects.count() == 0


def test_a_customer_posting_to_the_staff_upload_and_a_partner_to_the_portal_upload_get_403(
    world, login, customer_a_user, carrier_user
):
    content = csv_bytes([order_row()])
    response = login(customer_a_user).post(reverse("imports:upload"), {"file": upload(content)})
    assert response.status_code == 403
    response = login(carrier_user).post(reverse("portal_imports:upload"), {"file": upload(content)})
    assert response.status_code == 403
    assert ImportJob.objects.count() == 0


# --- G6 huge and hostile files -------------------------------------------------------------------------------


def test_a_workbook_with_a_formatted_row_at_excels_last_row_is_refused_before_a_million_rows_are_read(world, settings):
    """LibreOffice and Excel may save formatting down to row 1,048,576: the rows in between are empty."""
    settings.OMS_IMPORT_MAX_ROWS = 10  # the physical cap is 2 x 10 + 1,000 rows
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([COLUMNS, [order_row()[name] for name in COLUMNS]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b'<row r="1048576" customFormat="1" s="0"/></sheetData>')
            target.writestr(item.filename, data)
    job = import_file(world["ops"], out.getvalue(), name="formatted.xlsx")
    _rejected(job, "more than 1,020 rows")
    assert job.errors.get().row == 1021


# --- G8 formula injection in the admin's export of import jobs ------------------------------------------------


def test_the_admin_export_of_import_jobs_makes_an_uploaders_formula_inert(world):
    job = import_file(world["ops"], b"x", name='=HYPERLINK("http:evil","x"),@SUM(A1).csv')
    dataset: tablib.Dataset = ImportJobResource().export(queryset=ImportJob.objects.filter(pk=job.pk))
    exported = SafeCSV().export_data(dataset).removeprefix("\ufeff")
    header, row = list(csv.reader(io.StringIO(exported)))
    cells = dict(zip(header, row, strict=True))
    assert cells["file_name"] == "'" + job.file_name
    assert cells["file_name"].startswith("'=HYPERLINK")
    assert cells["rows_total"] == "0"


class _CountingInput(io.BytesIO):
    """wsgi.input that counts the bytes the application reads."""

    consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.consumed += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = super().readline(size)
        self.consumed += len(data)
        return data


def test_an_upload_declared_far_over_the_limit_is_413_before_its_body_is_read(world, settings):
    """G6: the API refuses on Content-Length, unread, instead of spooling the whole body to disk first."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from django.test import RequestFactory
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    from partners import services as partner_services

    settings.OMS_IMPORT_MAX_BYTES = 100_000
    _key, raw = partner_services.api_key_create(organisation=world["acme"], name="ERP")
    body = encode_multipart(BOUNDARY, {"file": upload(b"customer_code\n" + b"ACME\n" * 200_000)})  # 1 MB
    request = RequestFactory().generic(
        "POST", "/api/v1/order-imports/", body, content_type=MULTIPART_CONTENT, HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    environ = {**request.environ, "wsgi.input": (stream := _CountingInput(body))}
    answered: list[str] = []
    request_started.disconnect(close_old_connections)  # as django.test.Client does: keep the test's transaction
    request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, lambda status, headers, exc_info=None: answered.append(status))
        content = b"".join(response)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert answered[0].startswith("413")
    assert stream.consumed == 0
    assert b"an order file may be at most 0.1 MB" in content
    assert ImportJob.objects.count() == 0


def test_the_upload_screen_refuses_a_body_declared_far_over_the_limit_unread(world, login, settings):
    settings.OMS_IMPORT_MAX_BYTES = 100_000
    response = login(world["ops"]).post(
        reverse("imports:upload"), {"file": upload(csv_bytes([order_row()]))}, CONTENT_LENGTH=str(50 * 2**20)
    )
    assert response.status_code == 413
    assert "The upload is 50 MB; an order file may be at most 0.1 MB." in response.content.decode()
    assert ImportJob.objects.count() == 0
