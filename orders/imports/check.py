"""The check of an order file: read, group and validate every order, and find the duplicates.

`check_file` is the preview (a dry run with no side effects) and the import's second look (the world may have changed
since the preview). It reads the stored file twice as a stream (see grouping); a workbook is read once, into a CSV copy
of its rows kept beside it (`ImportJob.rows_file`) that every later pass reads, until the job is done. It validates
each order with `orders.intake.validate_order` against lookups loaded once, and looks duplicates up once per batch. It
writes only the job's progress and a workbook's rows copy: no orders, no references, no history, no events.
"""

from __future__ import annotations

import heapq
import io
import tempfile
import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage

from orders import bulk
from orders.imports import grouping, reading, workbooks
from orders.imports.columns import ImportFileError
from orders.imports.grouping import RowError
from orders.imports.jobs import _opener, _set, job_scope
from orders.intake import CleanOrder, validate_order
from orders.intake_lookups import Lookups
from orders.models import ImportedOrder, ImportJob
from partners.scoping import Scope

BATCH_ORDERS = 1000
PROGRESS_EVERY_S = 0.5  # the progress page (templates/imports/import_detail.html) polls every second
PREVIEW_ORDERS = 50


@dataclass
class ValidOrder:
    clean: CleanOrder
    first_row: int


@dataclass
class CheckResult:
    rows_total: int = 0
    orders_total: int = 0
    invalid: int = 0
    duplicates: int = 0
    created_before: int = 0  # orders this job created in an earlier, interrupted run
    valid: list[ValidOrder] = field(default_factory=list)
    valid_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    # The file's first PREVIEW_ORDERS valid orders by first row, as a max-heap of (-row, row dict): an order is
    # checked when its last row is read, so the first checked are not always the first in the file.
    preview_heap: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def preview(self) -> list[dict[str, Any]]:
        return [row for _, row in sorted(self.preview_heap, reverse=True)]

    def offer_preview(self, clean: CleanOrder, intake: grouping.GroupIntake) -> None:
        key = -intake.first_row
        if len(self.preview_heap) < PREVIEW_ORDERS:
            heapq.heappush(self.preview_heap, (key, _preview_row(clean, intake)))
        elif key > self.preview_heap[0][0]:  # earlier in the file than the latest row kept
            heapq.heapreplace(self.preview_heap, (key, _preview_row(clean, intake)))

    def add_errors(self, errors: list[RowError], limit: int) -> None:
        self.error_count += len(errors)
        room = limit - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])


def _implied_customer_code(job: ImportJob) -> str:
    return job.customer.code if job.customer is not None else ""


def _max_errors() -> int:
    return settings.OMS_IMPORT_MAX_STORED_ERRORS


def _duplicate_error(clean: CleanOrder, row: int, existing_reference: str, written: str) -> RowError:
    """`written`: the reference as the existing order writes it ("PO-1" when the file says "po-1"). The message reads
    true at the preview, before anything ran, as after the import."""
    customer, reference = clean.order["customer"], clean.order["customer_reference"]
    return RowError(
        row=row, column="customer_reference", value=reference, is_duplicate=True, customer_reference=reference,
        message=f"{customer.code} already has an order with reference {written} ({existing_reference}); "
        "a file never changes an existing order.",
    )  # fmt: skip


def check_file(job: ImportJob, *, keep_valid: bool) -> CheckResult:
    """Read, group and validate the whole file; nothing but the job's progress (and a workbook's CSV copy of
    its rows) is written. Raises ImportFileError for a file-level problem."""
    limits = reading.Limits.from_settings()
    info = reading.detect(_opener(job), size=job.file_size, limits=limits)
    if (job.file_format, job.encoding, job.delimiter) != (info.format, info.encoding, info.delimiter):
        _set(job, file_format=info.format, encoding=info.encoding, delimiter=info.delimiter)
    scope = job_scope(job)
    if not (scope.is_staff or scope.is_customer):
        raise ImportFileError(
            "Whoever uploaded or confirmed this file can no longer import these orders (the API key was revoked, "
            "the account or its organisation deactivated, or it no longer acts for the file's customer); nothing "
            "was imported."
        )
    # Written with semicolons, as Excel writes CSV where the comma is the decimal mark: "1.500" may be 1500.
    points_may_group_thousands = info.format == "csv" and info.delimiter == ";"
    opener, info = _rows_source(job, info, limits)
    implied = _implied_customer_code(job)
    scanned = grouping.scan(opener, info, limits, is_staff=scope.is_staff, implied_customer=implied)
    # The check counts from its first row: a workbook's copy left rows_done at the rows it copied (the bar moves on).
    _set(job, rows_total=scanned.rows_total, rows_done=0, header=scanned.header)
    lookups = Lookups().preload(customer_codes=scanned.customer_codes, location_codes=scanned.location_codes)
    ours = set(ImportedOrder.objects.filter(job=job).values_list("order_id", flat=True))
    result = CheckResult(rows_total=scanned.rows_total, orders_total=scanned.orders_total)
    groups = grouping.iter_groups(opener, info, limits, scanned, implied_customer=implied)
    layout = grouping.Layout.of(scanned.columns)
    submit_check = bulk.SubmitCheck(scope)
    reported = time.monotonic()
    while batch := list(islice(groups, BATCH_ORDERS)):
        _check_batch(
            batch, layout, scope, lookups, ours, result, submit_check=submit_check, keep_valid=keep_valid,
            points_may_group_thousands=points_may_group_thousands,
        )  # fmt: skip
        if time.monotonic() - reported >= PROGRESS_EVERY_S:  # often enough for the progress bar, no more
            _set(job, rows_done=batch[-1][0])
            reported = time.monotonic()
    if job.rows_done != scanned.rows_total:
        # Every row is checked: an import now saves its orders (seconds for a large file), which the page shows as
        # "Saving the orders" only once rows_done reaches rows_total; the last batches fell inside the interval.
        _set(job, rows_done=scanned.rows_total)
    return result


def _rows_source(
    job: ImportJob, info: reading.FileInfo, limits: reading.Limits
) -> tuple[reading.Opener, reading.FileInfo]:
    """Where the passes read the rows: a CSV file itself; for a workbook, the CSV copy of its rows, made on the
    first read (workbooks.spool_xlsx) and kept until the job is done."""
    if info.format != "xlsx":
        return _opener(job), info
    name = job.rows_file.name
    if not name or not default_storage.exists(name):
        name = _copy_rows(job, info, limits)
    return (lambda: default_storage.open(name, "rb")), workbooks.SPOOL_INFO


def _copy_rows(job: ImportJob, info: reading.FileInfo, limits: reading.Limits) -> str:
    reported = time.monotonic()

    def progress(rows: int) -> None:
        nonlocal reported
        if time.monotonic() - reported >= PROGRESS_EVERY_S:
            _set(job, rows_done=rows, rows_total=0)  # "N rows read" on the page
            reported = time.monotonic()

    with tempfile.TemporaryFile() as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        workbooks.spool_xlsx(_opener(job), info, limits, text, progress=progress)
        text.flush()
        text.detach()
        spool.seek(0)
        name = default_storage.save(f"{job.file.name}.rows.csv", File(spool))
    _set(job, rows_file=name)
    return name


def _check_batch(
    batch: list[tuple[int, grouping.RowGroup]],
    layout: grouping.Layout,
    scope: Scope,
    lookups: Lookups,
    ours: set[int],
    result: CheckResult,
    *,
    submit_check: bulk.SubmitCheck,
    keep_valid: bool,
    points_may_group_thousands: bool = False,
) -> None:
    limit = _max_errors()
    candidates: list[tuple[CleanOrder, grouping.GroupIntake]] = []
    for _done, group in batch:
        intake = grouping.build_intake(group, layout, points_may_group_thousands=points_may_group_thousands)
        clean, errors = validate_order(
            intake.data, scope=scope, lookups=lookups, points_may_group_thousands=points_may_group_thousands
        )
        problems = intake.conflicts + grouping.map_errors(errors, intake)
        if clean is not None and not problems:
            blocked = submit_check.problem(clean)
            if blocked:
                problems.append(RowError(row=intake.first_row, column="", value="", message=blocked,
                                         customer_reference=intake.customer_reference))  # fmt: skip
        if problems or clean is None:
            result.invalid += 1
            result.add_errors(problems, limit)
            continue
        candidates.append((clean, intake))
    existing = bulk.existing_references(
        (clean.order["customer"].pk, clean.order["customer_reference"]) for clean, _ in candidates
    )
    for clean, intake in candidates:
        found = existing.get((clean.order["customer"].pk, clean.order["customer_reference"]))
        if found and found[0] in ours:
            result.created_before += 1
            continue
        if found:
            result.duplicates += 1
            result.add_errors([_duplicate_error(clean, intake.first_row, found[1], found[2])], limit)
            continue
        result.valid_count += 1
        if keep_valid:
            result.valid.append(ValidOrder(clean=clean, first_row=intake.first_row))
        result.offer_preview(clean, intake)


def _preview_row(clean: CleanOrder, intake: grouping.GroupIntake) -> dict[str, Any]:
    order = clean.order
    return {
        "row": intake.first_row, "customer": order["customer"].code, "customer_reference": order["customer_reference"],
        "mode": order["mode"], "origin": order["origin_id"], "destination": order["destination_id"],
        "lines": len(clean.lines), "pieces": order["pieces_total"],
        "gross_weight_kg": str(order["gross_weight_kg_total"]),
        "requested_pickup_on": order["requested_pickup_on"].isoformat() if order["requested_pickup_on"] else "",
    }  # fmt: skip
