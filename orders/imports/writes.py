"""What a run of an import job writes: the check's outcome, and the import's orders.

`_check_job` stores the check of a pending upload on the job (counts, error rows, the preview), or the file's refusal
(`_reject`, which names a workbook's sheet when the orders are most likely on another one). `_import_job` checks the
file again and, if the policy allows, writes every valid order through `orders.bulk` in one transaction with the job's
outcome.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from typing import Any

from defusedxml import ElementTree as defused_element_tree
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from orders import bulk
from orders.imports import workbooks
from orders.imports.check import CheckResult, _duplicate_error, _max_errors, check_file
from orders.imports.columns import HeaderError, ImportFileError
from orders.imports.jobs import _actor, _file_name, _set, job_scope
from orders.models import Channel, ImportedOrder, ImportJob, ImportMode, ImportRowError, ImportStatus

logger = logging.getLogger(__name__)


def _check_job(job: ImportJob) -> None:
    # Only a job still waiting for its check: one cancelled after this run read it stays cancelled.
    started = ImportJob.objects.filter(pk=job.pk, status__in=(ImportStatus.PENDING, ImportStatus.CHECKING)).update(
        status=ImportStatus.CHECKING, rows_done=0, updated_at=timezone.now()
    )
    if not started:
        return
    job.status, job.rows_done = ImportStatus.CHECKING, 0
    try:
        result = check_file(job, keep_valid=False)
    except ImportFileError as exc:
        _reject(job, exc)
        return
    now = timezone.now()
    # A dry run ends with its check: nothing waits for a confirmation (API clients poll for finished_at).
    ended = {"finished_at": now} if job.dry_run else {}
    _store_result(job, result, status=ImportStatus.CHECKED, checked_at=now, **ended)


def _reject(job: ImportJob, exc: ImportFileError) -> None:
    message = _file_error_message(job, exc)
    with transaction.atomic():
        job.errors.all().delete()
        ImportRowError.objects.create(job=job, row=exc.row, message=message)
        _set(
            job, status=ImportStatus.REJECTED, file_error=message, error_count=1, finished_at=timezone.now(),
            checked_at=timezone.now(),
        )  # fmt: skip


FIRST_SHEET_ONLY = (
    "Only one sheet of the workbook is read, its first visible sheet (the leftmost tab): “{name}”. Move the orders "
    "to that sheet."
)


def _file_error_message(job: ImportJob, exc: ImportFileError) -> str:
    """The refusal as people read it (its row goes in a column of its own). A workbook whose header is refused and
    that has more than one sheet most often holds its orders on another sheet: only the first visible one is read,
    which is said first, by name, before the header's columns and the template's list."""
    message = str(exc)
    if isinstance(exc, HeaderError) and job.file_format == "xlsx":
        sheets = _workbook_sheets(job)
        if len(sheets) > 1:
            message = f"{FIRST_SHEET_ONLY.format(name=workbooks.orders_sheet(sheets).title)} {message}"
    return message


@dataclass(frozen=True)
class _WorkbookSheet:
    title: str
    sheet_state: str  # visible, hidden or veryHidden, as openpyxl names it


def _workbook_sheets(job: ImportJob) -> list[_WorkbookSheet]:
    """The sheets the stored workbook lists, in tab order (its xl/workbook.xml, parsed through defusedxml); none when
    unknown."""
    try:
        with default_storage.open(_file_name(job), "rb") as stream, zipfile.ZipFile(stream) as package:
            root = defused_element_tree.fromstring(package.read("xl/workbook.xml"))
    except Exception:  # a hint only: whatever the package holds (other compression, encryption, damage), no hint
        logger.info("Could not list the sheets of job %s's workbook", job.pk, exc_info=True)
        return []
    return [
        _WorkbookSheet(title=sheet.get("name", ""), sheet_state=sheet.get("state", "visible"))
        for sheet in root.findall("{*}sheets/{*}sheet")
    ]


def _store_result(job: ImportJob, result: CheckResult, *, status: str, **extra: Any) -> None:
    with transaction.atomic():
        job.errors.all().delete()
        ImportRowError.objects.bulk_create(
            [
                ImportRowError(job=job, row=e.row, column=e.column, value=e.value[:300], message=e.message,
                               customer_reference=e.customer_reference[:64], is_duplicate=e.is_duplicate)
                for e in result.errors
            ],
            batch_size=2000,
        )  # fmt: skip
        _set(
            job, status=status, rows_total=result.rows_total, rows_done=result.rows_total,
            orders_total=result.orders_total, orders_valid=result.valid_count, orders_invalid=result.invalid,
            orders_duplicate=result.duplicates, error_count=result.error_count, preview=result.preview,
            file_error="", **extra,
        )  # fmt: skip


def _import_job(job: ImportJob) -> None:
    _set(job, status=ImportStatus.IMPORTING, rows_done=0)
    try:
        result = check_file(job, keep_valid=True)
    except ImportFileError as exc:
        _reject(job, exc)
        return
    if job.mode == ImportMode.ALL_OR_NOTHING and result.invalid:
        _store_result(job, result, status=ImportStatus.FAILED, orders_created=0, finished_at=timezone.now())
        return
    scope = job_scope(job)
    valid = result.valid
    with transaction.atomic():
        outcome = bulk.orders_bulk_create(
            orders=[item.clean for item in valid], scope=scope, channel=Channel.FILE, by=_actor(job),
            api_key=job.api_key, submit=True, history={"import_job": str(job.pk)},
        )  # fmt: skip
        bulk.copy_rows(
            ImportedOrder, ["job_id", "order_id", "row"],
            ((job.pk, item.order_id, valid[item.index].first_row) for item in outcome.created),
        )  # fmt: skip
        for lost in outcome.duplicates:  # won by a concurrent import since the check
            item = valid[lost.index]
            error = _duplicate_error(item.clean, item.first_row, lost.existing_reference, lost.written)
            result.add_errors([error], _max_errors())
        result.duplicates += len(outcome.duplicates)
        result.valid_count -= len(outcome.duplicates)
        _store_result(
            job, result, status=ImportStatus.IMPORTED, orders_created=len(outcome.created) + result.created_before,
            finished_at=timezone.now(),
        )  # fmt: skip
