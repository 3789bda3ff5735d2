"""The import screens: templates, upload, preview with every error, confirm, progress polling, the error
file (formula-escaped), and who may open them."""

from __future__ import annotations

import csv
import html
import io
import re

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from orders.imports import check, selectors, service
from orders.imports.columns import TEMPLATE_COLUMNS
from orders.models import ImportJob, ImportStatus, Order
from tests.orders.fixtures.imports import COLUMNS, csv_bytes, errors_of, import_file, order_row, upload, world

__all__ = ["world"]


def test_list_shows_jobs_with_status_and_counts(world, login):
    import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2", pieces="0")]), name="week-48.csv")
    response = login(world["ops"]).get(reverse("imports:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "week-48.csv" in body
    assert "Has errors" in body
    assert reverse("imports:upload") in body


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_templates_hold_the_vocabulary_and_an_example_row_that_is_never_imported(world, login, file_format):
    response = login(world["ops"]).get(reverse("imports:template", args=[file_format]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    if file_format == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
        rows = [[cell if cell is not None else "" for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert tuple(rows[0]) == TEMPLATE_COLUMNS
    # The example row is a valid order, but left in a file it is reported, never imported as an order of ACME's.
    job = import_file(world["ops"], response.content, name=f"template.{file_format}")
    assert job.status == ImportStatus.CHECKED, job.file_error
    assert list(job.errors.values_list("row", "column", "message")) == [
        (2, "customer_reference", "This is the template's example row: delete it, or replace its values with one "
         "of your orders.")
    ]  # fmt: skip
    assert (job.orders_total, job.orders_valid, job.orders_invalid) == (1, 0, 1)
    # Filled in, the same row is an order.
    if file_format == "csv":
        content = response.content.replace(b"Nordwind Handel GmbH", b"Hanse Lampen KG")
    else:
        workbook = openpyxl.load_workbook(io.BytesIO(response.content))
        sheet = workbook.worksheets[0]
        sheet.cell(row=2, column=TEMPLATE_COLUMNS.index("consignee_name") + 1, value="Hanse Lampen KG")
        buffer = io.BytesIO()
        workbook.save(buffer)
        content = buffer.getvalue()
    job = import_file(world["ops"], content, name=f"filled.{file_format}")
    assert job.status == ImportStatus.CHECKED, list(job.errors.values_list("message"))
    assert job.orders_valid == 1


def test_upload_shows_the_preview_with_every_error_escaped(world, login):
    client = login(world["ops"])
    content = csv_bytes([order_row("PO-1"), order_row("PO-2", consignee_name="<script>alert(1)</script>",
                                                      gross_weight_kg="-5")])  # fmt: skip
    response = client.post(reverse("imports:upload"), {"file": upload(content), "mode": "all_or_nothing"})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job.get_absolute_url()
    page = client.get(job.get_absolute_url()).content.decode()
    assert "Must be greater than zero." in page
    assert "gross_weight_kg" in page
    assert "<script>alert(1)</script>" not in page
    assert "Import the 1 valid order only" in page
    assert "Upload a corrected file" in page
    assert Order.objects.count() == 0


def test_upload_refuses_other_extensions_with_a_form_error(world, login):
    response = login(world["ops"]).post(reverse("imports:upload"), {"file": upload(b"x", "orders.exe")})
    assert response.status_code == 200
    assert "Upload a .csv, .txt (read as CSV) or .xlsx file" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_upload_form_offers_and_explains_the_files_it_reads(world, login):
    """One rule: the file picker, the help and the check all take .csv, .txt (read as CSV) and .xlsx."""
    client = login(world["ops"])
    page = client.get(reverse("imports:upload")).content.decode()
    assert 'accept=".csv,.txt,.xlsx,text/csv"' in page
    assert "or .txt read as CSV" in page
    content = csv_bytes([order_row()], delimiter="\t")
    response = client.post(reverse("imports:upload"), {"file": upload(content, "o.txt"), "mode": "all_or_nothing"})
    job = ImportJob.objects.get()
    assert (response.status_code, job.file_name, job.orders_valid) == (302, "o.txt", 1)


def test_confirm_imports_and_shows_the_result(world, login):
    client = login(world["ops"])
    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2")]))
    response = client.post(reverse("imports:confirm", args=[job.pk]), {"mode": "all_or_nothing"})
    assert response.status_code == 302
    page = client.get(job.get_absolute_url()).content.decode()
    assert "2 orders created and submitted" in page
    for order in Order.objects.all():
        assert order.reference in page


def test_confirm_valid_only_is_an_explicit_choice(world, login):
    client = login(world["ops"])
    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2", pieces="0")]))
    client.post(reverse("imports:confirm", args=[job.pk]), {"mode": "valid_only"})
    job.refresh_from_db()
    assert (job.status, job.mode, job.orders_created) == (ImportStatus.IMPORTED, "valid_only", 1)


def test_cancel_drops_a_checked_upload(world, login):
    client = login(world["ops"])
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    response = client.post(reverse("imports:cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED
    assert client.post(reverse("imports:confirm", args=[job.pk])).status_code == 302
    assert Order.objects.count() == 0


def test_progress_fragment_polls_while_running_and_refreshes_when_done(world, login):
    client = login(world["ops"])
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING, rows_total=10, rows_done=4)
    response = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'hx-trigger="every 1s"' in body
    assert "4 of 10 rows" in body
    assert "40%" in body
    assert "HX-Refresh" not in response
    assert "HX-Request" in response["Vary"]
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.CHECKING, rows_total=0, rows_done=3000)
    body = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "reading the workbook: 3,000 rows" in body  # a workbook's first read, before the rows are counted
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING, rows_total=10, rows_done=4)
    # Every row checked, the orders being written in one transaction: no percentage that sits at 100 %.
    ImportJob.objects.filter(pk=job.pk).update(rows_done=10, orders_valid=7)
    body = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "Saving the orders — they appear together once all 7 are saved" in body
    assert "10 rows checked" in body
    assert "progress-bar-animated" in body
    assert "· 100%" not in body
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTED)
    response = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"


def test_error_file_lists_every_error_and_escapes_formulas(world, login):
    client = login(world["ops"])
    rows = [order_row('=HYPERLINK("http://evil/","x")', origin="+cmd"), order_row("PO-2", gross_weight_kg="-12.5")]
    job = import_file(world["ops"], csv_bytes(rows))
    response = client.get(reverse("imports:errors", args=[job.pk]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert lines[0] == ["row", "column", "value", "message", "customer_reference", "kind"]
    by_column = {line[1]: line for line in lines[1:]}
    assert by_column["origin"][2] == "'+cmd"
    assert by_column["origin"][4].startswith("'=HYPERLINK")
    assert by_column["gross_weight_kg"][2] == "-12.5"  # a plain number is no formula: left as it is
    assert len(lines) - 1 == job.error_count


def test_customers_and_roles_without_submit_may_not_import(world, login, customer_a_user, finance_user):
    assert login(customer_a_user).get(reverse("imports:list")).status_code == 403
    client = login(finance_user)
    assert client.get(reverse("imports:list")).status_code == 200
    assert client.get(reverse("imports:upload")).status_code == 403


def test_staff_screens_404_for_unknown_jobs(world, login):
    import uuid

    assert login(world["ops"]).get(reverse("imports:detail", args=[uuid.uuid4()])).status_code == 404


@pytest.mark.parametrize(("name", "encoded"), [("заказы.csv", "%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7%D1%8B"),
                                               ("订单.csv", "%E8%AE%A2%E5%8D%95")])  # fmt: skip
def test_the_error_file_keeps_a_non_latin_file_name(world, login, name, encoded):
    """Django MIME-encodes a header that is not Latin-1 as a whole (=?utf-8?b?…?=), which no browser reads: the
    download lost its name. RFC 6266 names it in filename*=utf-8''…"""
    job = import_file(world["ops"], csv_bytes([order_row("PO-1", pieces="0")]), name=name)
    response = login(world["ops"]).get(reverse("imports:errors", args=[job.pk]))
    disposition = next(
        line for line in response.serialize_headers().decode("latin-1").split("\r\n")
        if line.lower().startswith("content-disposition:")
    )  # fmt: skip
    assert disposition == f"Content-Disposition: attachment; filename*=utf-8''{encoded}-errors.csv"


def test_the_error_file_of_a_latin_file_name_quotes_it(world, login):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1", pieces="0")]), name='week "48".csv')
    response = login(world["ops"]).get(reverse("imports:errors", args=[job.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="week \\"48\\"-errors.csv"'


# --- Acceptance findings on the import screens (2026-12-06) -------------------------------------------------


def test_a_file_whose_every_order_has_errors_tells_the_user_to_correct_it(world, login):
    job = import_file(world["ops"], csv_bytes([order_row("PO-1", pieces="0"), order_row("PO-2", origin="XXXXX")]))
    body = login(world["ops"]).get(job.get_absolute_url()).content.decode()
    assert "Nothing new to import" not in body
    assert "Correct the file" in body
    assert reverse("imports:upload") in body.split("Errors and duplicates")[0]


def test_a_file_whose_every_order_exists_already_has_nothing_new_to_import(world, login):
    content = csv_bytes([order_row("PO-1"), order_row("PO-2")])
    service.import_job_confirm(job=import_file(world["ops"], content), by=world["ops"], mode="all_or_nothing")
    job = import_file(world["ops"], content)
    body = login(world["ops"]).get(job.get_absolute_url()).content.decode()
    assert "Nothing new to import: every correct order in this file exists already." in body
    assert "Correct the file" not in body
    assert reverse("imports:upload") not in body.split("Errors and duplicates")[0]


def test_the_polled_fragment_brings_the_current_status_badge(world, login, django_assert_max_num_queries):
    client = login(world["ops"])
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.PENDING)
    page = client.get(job.get_absolute_url()).content.decode()
    assert page.count('id="import-status"') == 1  # the badge beside the file name, the target of the swap
    assert "hx-swap-oob" not in page
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.CHECKING, rows_total=10, rows_done=4)
    with django_assert_max_num_queries(4):  # session, user, job, the menu's task count: the badge costs nothing
        body = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    badge = re.search(r'<span id="import-status" hx-swap-oob="true">(.*?)</span>\s*</span>', body, re.S)
    assert badge, body
    assert "Checking" in badge.group(1)
    assert "Waiting to be checked" not in body
    assert "4 of 10 rows" in body


def test_a_file_no_worker_takes_says_why_it_has_not_started(world, login):
    """Queued for longer than WORKER_WAIT_NOTICE: the page says the workers are busy or stopped, and nothing is lost."""
    import datetime

    from django.utils import timezone

    client = login(world["ops"])
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED, updated_at=timezone.now())
    body = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "Waiting for a worker" in body
    assert "No worker has taken this file" not in body
    waited = timezone.now() - ImportJob.WORKER_WAIT_NOTICE - datetime.timedelta(seconds=1)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=waited)
    body = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "No worker has taken this file since" in body
    assert "nothing is lost meanwhile" in body


def test_an_import_whose_orders_were_all_created_meanwhile_says_so_and_is_no_success(world, login):
    """Two tabs (or two uploads) of one file, both checked: the second confirmation finds every order created."""
    content = csv_bytes([order_row("PO-1"), order_row("PO-2")])
    first, second = import_file(world["ops"], content), import_file(world["ops"], content)
    client = login(world["ops"])
    client.post(reverse("imports:confirm", args=[first.pk]), {"mode": "all_or_nothing"})
    client.post(reverse("imports:confirm", args=[second.pk]), {"mode": "all_or_nothing"})
    second.refresh_from_db()
    assert (second.status, second.orders_created, second.orders_duplicate) == (ImportStatus.IMPORTED, 0, 2)
    body = client.get(second.get_absolute_url()).content.decode()
    assert "Nothing was created: these 2 orders were imported meanwhile (by another upload or tab)" in body
    assert "0 orders created" not in body
    assert "alert-success" not in body
    assert "oms-badge-success" not in body
    listing = client.get(reverse("imports:list")).content.decode()
    assert listing.count("oms-badge-success") == 1  # the first upload's
    first_body = client.get(first.get_absolute_url()).content.decode()
    assert "2 orders created and submitted" in first_body
    assert "oms-badge-success" in first_body


def test_counts_carry_thousands_separators_on_every_import_screen(world, login, settings):
    settings.OMS_IMPORT_MAX_ROWS = 100_000
    client = login(world["ops"])
    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    big = {"rows_total": 20_000, "orders_total": 10_000, "orders_valid": 10_000, "orders_invalid": 0}
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.CHECKED, **big)
    number = re.compile(r"(?<![\d,.])\d{5,}(?![\d,.])")

    def unformatted(html: str) -> list[str]:  # in the text people read (ids in links and attributes aside)
        text = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
        return number.findall(re.sub(r"<[^>]*>", " ", text))

    body = client.get(job.get_absolute_url()).content.decode()
    assert "Import 10,000 orders" in body
    assert "Importing creates 10,000 submitted orders" in body
    assert not unformatted(body)
    done = {"orders_created": 10_000, "orders_valid": 0, "orders_duplicate": 12_345, "orders_invalid": 11_111}
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTED, error_count=23_456, **done)
    body = client.get(job.get_absolute_url()).content.decode()
    assert "10,000 orders created and submitted" in body
    assert "12,345 existed already" in body
    assert "11,111 with errors" in body
    assert not unformatted(body)
    listing = client.get(reverse("imports:list")).content.decode()
    for count in ("20,000", "10,000", "11,111", "12,345"):
        assert count in listing
    assert not unformatted(listing)
    assert "100,000 rows" in client.get(reverse("imports:upload")).content.decode()


def test_the_preview_and_the_errors_follow_the_rows_of_the_file(world, login):
    """An order's rows may be far apart: PO-1 ends on row 5, after PO-2 and PO-3, and was listed after them."""
    rows = [
        order_row("PO-1"), order_row("PO-2"), order_row("PO-3"), order_row("PO-1", description="Spare parts"),
        order_row("PO-4", incoterm="FOB", requested_pickup_on="31/12/2026", gross_weight_kg="-5"),
        order_row("PO-5", pieces="0"),
    ]  # fmt: skip
    job = import_file(world["ops"], csv_bytes(rows), mode="valid_only")
    client = login(world["ops"])
    body = client.get(job.get_absolute_url()).content.decode()
    preview = body.split('id="preview"')[1].split("</table>")[0]
    assert [int(row) for row in re.findall(r'text-secondary">(\d+)</td>', preview)] == [2, 3, 4]
    table = body.split("Errors and duplicates")[1]
    cells = r'<td class="text-end tabular-nums">(\d+)</td>\s*<td class="small">(\w*)</td>'
    shown = re.findall(cells, table)
    expected = [("6", "incoterm"), ("6", "gross_weight_kg"), ("6", "requested_pickup_on"), ("7", "pieces")]
    assert shown == expected
    response = client.get(reverse("imports:errors", args=[job.pk]))
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(line[0], line[1]) for line in lines[1:]] == expected


@pytest.mark.parametrize(("delimiter", "written"), [(";", ";"), (",", ","), ("\t", ",")])
def test_the_error_file_uses_the_semicolons_of_a_semicolon_upload(world, login, delimiter, written):
    """German Excel writes and opens CSV with semicolons: an error file with commas opens in one column."""
    content = csv_bytes([order_row("PO-1", pieces="0", consignee_name="Müller; Söhne")], delimiter=delimiter)
    job = import_file(world["ops"], content)
    assert job.delimiter == delimiter
    response = login(world["ops"]).get(reverse("imports:errors", args=[job.pk]))
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeffrow" + written + "column" + written)
    lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=written))
    assert lines[1][:3] == ["2", "pieces", "0"]


def test_the_error_file_of_a_workbook_uses_commas(world, login):
    from tests.orders.fixtures.imports import COLUMNS, xlsx_bytes

    row = order_row("PO-1", pieces="0")
    job = import_file(world["ops"], xlsx_bytes([COLUMNS, [row[name] for name in COLUMNS]]), name="orders.xlsx")
    response = login(world["ops"]).get(reverse("imports:errors", args=[job.pk]))
    assert b"".join(response.streaming_content).decode("utf-8").startswith("\ufeffrow,column,value,")


def test_the_error_file_writes_plain_numbers_as_they_are_and_escapes_formulas(world, login):
    rows = [order_row("PO-1", gross_weight_kg="-5"), order_row("PO-2", gross_weight_kg="-12,5"),
            order_row("-2+3+cmd|' /C calc'!A0", pieces="-3"), order_row("PO-4", pieces="0")]  # fmt: skip
    job = import_file(world["ops"], csv_bytes(rows))
    response = login(world["ops"]).get(reverse("imports:errors", args=[job.pk]))
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    values = {(line[0], line[1]): line for line in lines[1:]}
    assert values["2", "gross_weight_kg"][2] == "-5"
    assert values["3", "gross_weight_kg"][2] == "-12,5"
    assert values["4", "pieces"][2] == "-3"
    assert values["4", "pieces"][4] == "'-2+3+cmd|' /C calc'!A0"
    assert values["5", "pieces"][2] == "0"


def test_a_refused_header_names_its_row_once_on_the_screen(world, login):
    rows = [{**order_row(), "status": "delivered"}]
    from tests.orders.fixtures.imports import COLUMNS

    job = import_file(world["ops"], csv_bytes(rows, columns=[*COLUMNS, "status"]))
    body = login(world["ops"]).get(job.get_absolute_url()).content.decode()
    assert "Row 1:" not in body
    assert "Row 1" in body  # beside the message, where a row column would be
    assert "Delete the status column: OMS sets the status" in body


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("orders.xls", "This is an old Excel (.xls) workbook: save it as .xlsx or CSV UTF-8."),
        ("ORDERS.XLS", "This is an old Excel (.xls) workbook: save it as .xlsx or CSV UTF-8."),
        ("orders.ods", "This is an OpenDocument (.ods) spreadsheet: save it as .xlsx or CSV UTF-8."),
        ("orders.numbers", "This is a Numbers spreadsheet: export it as .xlsx or CSV UTF-8."),
    ],
)
def test_upload_names_the_spreadsheet_formats_it_cannot_read(world, login, name, message):
    content = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64
    response = login(world["ops"]).post(reverse("imports:upload"), {"file": upload(content, name)})
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_an_import_that_created_nothing_for_another_reason_does_not_claim_a_concurrent_one(world, login):
    """Valid at the check, invalid at the import (the customer put on credit hold meanwhile): nothing was imported
    by anyone else, and the page does not say so."""
    from orders.imports import service

    job = import_file(world["ops"], csv_bytes([order_row("PO-1")]), mode="valid_only")
    world["acme"].may_place_orders = False
    world["acme"].save(update_fields=["may_place_orders"])
    job = service.import_job_confirm(job=job, by=world["ops"], mode="valid_only")
    assert (job.status, job.orders_created, job.orders_duplicate, job.orders_invalid) == (
        ImportStatus.IMPORTED,
        0,
        0,
        1,
    )
    body = login(world["ops"]).get(job.get_absolute_url()).content.decode()
    assert "imported meanwhile" not in body
    assert "a file never changes an existing order" not in body
    assert "no longer valid at the import" in body


def test_the_preview_of_a_long_file_shows_the_files_first_orders(world, login):
    count = check.PREVIEW_ORDERS + 1
    rows = [order_row("PO-A"), *(order_row(f"PO-{n}") for n in range(1, count)),
            order_row("PO-A", description="Spare parts")]  # fmt: skip
    job = import_file(world["ops"], csv_bytes(rows))
    assert (job.orders_valid, len(job.preview)) == (count, check.PREVIEW_ORDERS)
    body = login(world["ops"]).get(job.get_absolute_url()).content.decode()
    assert f"the first {check.PREVIEW_ORDERS} of {count}" in body
    preview = body.split('id="preview"')[1].split("</table>")[0]
    shown = [int(row) for row in re.findall(r'text-secondary">(\d+)</td>', preview)]
    assert shown[0] == 2, f"'the first {check.PREVIEW_ORDERS}' starts at row {shown[0]}; row 2's order PO-A is missing"


def walk_list(client, url: str) -> list[str]:
    """The order references on every page of an order list (staff or portal), following its Next (Older) links."""
    path, references = url.split("?")[0], []
    while url:
        page = client.get(url).content.decode()
        references += re.findall(r'href="/(?:orders|tracking/orders)/([A-Z]+-\d+-\d+)/', page)
        found = re.search(r'<a[^>]*href="\?([^"]+)"[^>]*>\s*(?:Next|Older)', page)
        url = f"{path}?{found.group(1).replace('&amp;', '&')}" if found else ""
    return references


def test_the_result_links_to_every_order_the_import_created_in_the_order_list(
    world, login, django_assert_max_num_queries
):
    """The result page lists the first 50 created orders; the link shows them all, with the list's paging."""
    client = login(world["ops"])
    count = 60
    job = import_file(world["ops"], csv_bytes([order_row(f"PO-{n}") for n in range(count)]))
    client.post(reverse("imports:confirm", args=[job.pk]), {"mode": "all_or_nothing"})
    other = import_file(world["ops"], csv_bytes([order_row("PO-OTHER")]))
    client.post(reverse("imports:confirm", args=[other.pk]), {"mode": "all_or_nothing"})
    created = set(Order.objects.filter(import_record__job=job).values_list("reference", flat=True))
    assert len(created) == count

    page = client.get(job.get_absolute_url()).content.decode()
    link = f"{reverse('orders:list')}?import={job.pk}"
    assert f'href="{link}"' in page
    assert f"All {count} in the order list" in page

    with CaptureQueriesContext(connection) as unfiltered:
        client.get(reverse("orders:list"))
    with django_assert_max_num_queries(len(unfiltered)):  # the filter is part of the page's one query
        response = client.get(link)
    assert f'name="import" value="{job.pk}"' in response.content.decode()  # a filter change keeps it
    listed = walk_list(client, link)
    assert sorted(listed) == sorted(created)  # each once, none of the other import's
    assert client.get(f"{reverse('orders:list')}?import=x").status_code == 200  # malformed: ignored


def test_the_import_filter_narrows_the_export_too(world, login):
    client = login(world["ops"])
    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2")]))
    client.post(reverse("imports:confirm", args=[job.pk]), {"mode": "all_or_nothing"})
    other = import_file(world["ops"], csv_bytes([order_row("PO-OTHER")]))
    client.post(reverse("imports:confirm", args=[other.pk]), {"mode": "all_or_nothing"})

    page = client.get(f"{reverse('orders:list')}?import={job.pk}").content.decode()
    export = re.search(r'href="(/orders/export/csv/[^"]*)"', page).group(1).replace("&amp;", "&")
    rows = b"".join(client.get(export).streaming_content).decode("utf-8-sig")

    assert f"import={job.pk}" in export
    assert "PO-1" in rows
    assert "PO-2" in rows
    assert "PO-OTHER" not in rows


def test_the_preview_counts_the_orders_with_errors_and_those_that_exist_already(world, login):
    """Review E, 4: one order imported last week, two with errors. The decision said "Both orders have errors or
    exist already", counting only those with errors in a file of three."""
    first = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    service.import_job_confirm(job=first, by=world["ops"], mode="all_or_nothing")
    content = csv_bytes([order_row("PO-1"), order_row("PO-2", pieces="0"), order_row("PO-3", origin="XXABC")])
    job = import_file(world["ops"], content, name="week-49.csv")
    assert (job.orders_total, job.orders_valid, job.orders_invalid, job.orders_duplicate) == (3, 0, 2, 1)

    page = page_text(login(world["ops"]).get(job.get_absolute_url()))

    assert "2 orders have errors and 1 exists already; nothing new can be imported." in page
    assert "Both orders" not in page


def test_the_preview_of_one_order_with_errors_and_one_that_exists_speaks_of_each_in_the_singular(world, login):
    first = import_file(world["ops"], csv_bytes([order_row("PO-1")]))
    service.import_job_confirm(job=first, by=world["ops"], mode="all_or_nothing")
    job = import_file(world["ops"], csv_bytes([order_row("PO-1"), order_row("PO-2", pieces="0")]))

    page = page_text(login(world["ops"]).get(job.get_absolute_url()))

    assert "1 order has errors and 1 exists already; nothing new can be imported." in page


def test_errors_name_the_column_as_the_files_header_writes_it_on_screen_and_in_the_error_file(world, login):
    """Review E, 6: headers written "Gross Weight KG" are accepted, and their errors named gross_weight_kg, a name
    nowhere in the user's sheet. The API keeps the vocabulary's name."""
    header = {name: name.replace("_", " ").title() for name in COLUMNS} | {"gross_weight_kg": "Gross Weight KG"}
    content = csv_bytes([header, order_row("PO-1"), order_row("PO-2", gross_weight_kg="heavy")])
    content = content.split(b"\r\n", 1)[1]  # the friendly header line replaces the vocabulary's
    job = import_file(world["ops"], content, name="friendly.csv")
    assert job.status == ImportStatus.CHECKED, job.file_error
    assert errors_of(job) == [(3, "gross_weight_kg", "heavy is not a number.")]

    client = login(world["ops"])
    page = page_text(client.get(job.get_absolute_url()))
    assert "3 Gross Weight KG heavy heavy is not a number." in page
    error_file = b"".join(client.get(reverse("imports:errors", args=[job.pk])).streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(error_file)))[1][:3] == ["3", "Gross Weight KG", "heavy"]


def test_a_rows_errors_follow_the_files_column_order(world, login):
    columns = ["requested_pickup_on", *(name for name in COLUMNS if name != "requested_pickup_on")]
    content = csv_bytes([order_row("PO-1", pieces="0", requested_pickup_on="31/12/2026")], columns=columns)
    job = import_file(world["ops"], content)

    shown = [vars(error)["header"] for error in selectors.import_job_errors(job)]  # an annotation: not in the model

    assert shown == ["requested_pickup_on", "pieces"]


def page_text(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_a_preview_with_errors_does_not_promise_to_create_the_valid_orders(world, login):
    """Acceptance walk (h3): a file with 18 orders in error and 5 valid, checked "all or nothing", listed the 5 under
    "Orders that will be created" beside "Correct the file and upload it again": they are created only if the user
    chooses to import the valid orders only."""
    rows = [order_row("PO-1"), order_row("PO-2", pieces="0")]
    client = login(world["ops"])
    body = client.get(import_file(world["ops"], csv_bytes(rows)).get_absolute_url()).content.decode()
    header = body.split('id="preview"')[1].split("</div>")[0]
    assert "Orders that will be created" not in body
    assert "Valid orders" in header
    assert "created only if you import the valid orders only" in header

    clean = client.get(import_file(world["ops"], csv_bytes([order_row("PO-3")])).get_absolute_url()).content.decode()
    assert "Orders that will be created" in clean.split('id="preview"')[1].split("</div>")[0]
