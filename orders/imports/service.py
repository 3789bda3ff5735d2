"""Import jobs: upload → check (the preview: a dry run with no side effects) → confirm → import.

Every write of the import goes through here; screens, the API and the Celery task are interfaces to it.

- `import_job_create` stores the upload under a generated name and checks it (inline when small, in
  the worker when large), or, for API uploads without dry_run, queues the import straight away.
- `import_job_process` is the task's body: it checks a pending job or imports a queued one. Safe to run
  twice: a PostgreSQL advisory lock lets one run at a time, finished jobs are left alone, and a run
  after a crash recognises the orders the job created before (ImportedOrder) instead of calling them
  duplicates.
- The check reads the stored file twice as a stream (see grouping); a workbook is read once, into a CSV copy
  of its rows kept beside it (`ImportJob.rows_file`) that every later pass reads, until the job is done. It
  validates each order with
  `orders.intake.validate_order` against lookups loaded once, and looks duplicates up once per batch.
  It writes only the job row and its error rows: no orders, no references, no history, no events.
- The import validates again (the world may have changed since the preview), then, if the policy
  allows, writes every valid order through `orders.bulk` in one transaction with the job's outcome.

Policy: all-or-nothing (default) imports nothing when any order has an error; valid-only imports the
valid orders and reports the rest. Orders that exist already are never changed: they are reported as
duplicates under both policies, so uploading a corrected file again creates only what is new.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import heapq
import io
import logging
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from itertools import islice
from typing import Any

import psycopg
from defusedxml import ElementTree as defused_element_tree
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Case, CharField, F, QuerySet, Value, When
from django.utils import timezone
from psycopg import errors as psycopg_errors

from orders import bulk
from orders.errors import OrderError
from orders.imports import grouping, reading
from orders.imports.columns import ALL_COLUMNS, TEMPLATE_COLUMNS, HeaderError, ImportFileError, normalise_header
from orders.imports.grouping import RowError
from orders.intake import CleanOrder, Lookups, validate_order
from orders.models import (
    IMPORT_RUNNING_STATUSES,
    Channel,
    ImportedOrder,
    ImportJob,
    ImportMode,
    ImportRowError,
    ImportStatus,
)
from orders.resources import escape_formula
from partners.models import ApiKey, Organisation
from partners.scoping import NOBODY, Scope, scope_for_api_key, scope_for_user

logger = logging.getLogger(__name__)

BATCH_ORDERS = 1000
PROGRESS_EVERY_S = 0.5  # the progress page (templates/imports/import_detail.html) polls every second
PREVIEW_ORDERS = 50
ERROR_FILE_COLUMNS = ("row", "column", "value", "message", "customer_reference", "kind")


class ImportStateError(OrderError):
    """The job is not in a state that allows what was asked (e.g. confirming a job twice)."""


class TransientImportError(Exception):
    """The database lost a race (deadlock, serialization failure) or the connection: try the job again."""


_TRANSIENT = (psycopg_errors.DeadlockDetected, psycopg_errors.SerializationFailure, psycopg.OperationalError)


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


# --- Scope and storage -----------------------------------------------------------------------------


def job_scope(job: ImportJob) -> Scope:
    """Whose rights the job is checked and its orders created with, as they are now: the confirmer's once the
    file is confirmed, the uploader's before. The one who makes the orders exist acts with their own rights,
    never with those of the colleague who uploaded the file (and is named as the orders' creator)."""
    if job.api_key_id:
        # As the API authenticates a key: not revoked, and its organisation still active.
        api_key = ApiKey.objects.active().select_related("organisation").filter(pk=job.api_key_id).first()
        scope = scope_for_api_key(api_key) if api_key is not None else NOBODY
    elif job.confirmed_at is not None and job.confirmed_by_id is None:
        scope = NOBODY  # whoever confirmed it is gone: nobody's rights, never the uploader's
    else:
        scope = scope_for_user(_actor(job))
    if job.customer_id is None or scope.is_staff:
        return scope
    # A customer's file creates that customer's orders or none: narrowed to the job's customer, whatever else the
    # person may act for now, and nobody's once they no longer act for it (a membership moved while it queued).
    if scope.is_customer and scope.owns(job.customer_id):
        return replace(scope, organisation_ids=frozenset({job.customer_id}))
    return NOBODY


def _actor(job: ImportJob) -> Any:
    return job.confirmed_by if job.confirmed_by_id else job.created_by


def _implied_customer_code(job: ImportJob) -> str:
    return job.customer.code if job.customer is not None else ""


def _file_name(job: ImportJob) -> str:
    """The stored upload's name (the field is not null: a job whose file was deleted has "")."""
    return job.file.name or ""


def _opener(job: ImportJob) -> reading.Opener:
    name = _file_name(job)
    return lambda: default_storage.open(name, "rb")


def _safe_file_name(name: str) -> str:
    """The uploader's file name for display only: no path, no control characters, bounded length."""
    base = os.path.basename(name.replace("\\", "/"))
    base = re.sub(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]", "", base).strip() or "upload"
    return base[-120:]


def _customer_of(scope: Scope) -> Organisation | None:
    if scope.is_staff:
        return None
    if scope.is_customer and len(scope.organisation_ids) == 1:
        return Organisation.objects.get(pk=next(iter(scope.organisation_ids)))
    if scope.is_customer:
        codes = ", ".join(Organisation.objects.filter(pk__in=scope.organisation_ids).order_by("code").values_list(
            "code", flat=True))  # fmt: skip
        raise ImportStateError(
            f"You act for several customers ({codes}), and an order file belongs to one: upload it with that "
            "customer's API key, or ask OMS staff to upload it for the customer."
        )
    raise ImportStateError("Only OMS staff and customers can import orders.")


# --- Create, confirm, cancel ------------------------------------------------------------------------


def import_job_create(
    *,
    upload: File,
    scope: Scope,
    source: str,
    by: Any = None,
    api_key: Any = None,
    mode: str = ImportMode.ALL_OR_NOTHING,
    dry_run: bool = False,
    confirm: bool = False,
) -> ImportJob:
    """Store an uploaded order file and check it. With `confirm` (the API without dry_run), import it
    straight after the check. Small files are handled now; large ones in the worker after commit.
    Raises ImportFileError for a file too large to store; every other file problem ends up on the job."""
    limits = reading.Limits.from_settings()
    problem = reading.size_problem(upload.size or 0, limits)
    if problem:
        raise ImportFileError(problem)
    customer = _customer_of(scope)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    job = ImportJob(
        customer=customer,
        created_by=by if getattr(by, "pk", None) else None,
        api_key=api_key,
        source=source,
        file_name=_safe_file_name(upload.name or "upload"),
        file_size=upload.size or 0,
        file_sha256=digest.hexdigest(),
        mode=mode if mode in ImportMode.values else ImportMode.ALL_OR_NOTHING,
        dry_run=dry_run,
        status=ImportStatus.QUEUED if confirm and not dry_run else ImportStatus.PENDING,
    )
    if job.status == ImportStatus.QUEUED:
        job.confirmed_by, job.confirmed_at = job.created_by, timezone.now()
    job.file.save("upload", upload, save=False)  # the name comes from import_file_path, not the user
    job.save()
    _dispatch(job)
    job.refresh_from_db()
    return job


def _dispatch(job: ImportJob) -> None:
    """Process small files in this request; queue large ones for the worker once the job is committed.
    A small file that meets a transient database error (a deadlock with another import, a dropped connection)
    goes to the worker too, which retries it: the job keeps its status and the page shows it running."""
    from orders import tasks  # tasks import this module

    if job.file_size <= settings.OMS_IMPORT_INLINE_MAX_BYTES:
        try:
            import_job_process(job_id=job.pk)
            return
        except TransientImportError as exc:
            logger.warning("Order import %s met a transient error; the worker retries it: %s", job.pk, exc)
    tasks.process_order_import.delay_on_commit(str(job.pk))


STALLED_AFTER = timedelta(minutes=15)


def import_jobs_requeue_stalled() -> int:
    """Queue again every job that should be running but has not moved for STALLED_AFTER; return how many.

    A running job writes its progress at least every few seconds. One that has not moved lost its worker or its
    message: a web process killed during a small file, a broker emptied, retries used up by a long outage.
    Queueing it again is safe: a job is processed by one run at a time (advisory lock) and resumes where it
    stands (a check starts over; an import counts the orders it created already)."""
    from orders import tasks  # tasks import this module

    now = timezone.now()
    stalled = list(
        ImportJob.objects.filter(status__in=IMPORT_RUNNING_STATUSES, updated_at__lt=now - STALLED_AFTER).values_list(
            "pk", flat=True
        )
    )
    for pk in stalled:
        ImportJob.objects.filter(pk=pk).update(updated_at=now)  # one message per STALLED_AFTER, not one per run
        tasks.process_order_import.delay(str(pk))
    if stalled:
        logger.warning("Queued %d stalled order imports again.", len(stalled))
    return len(stalled)


def import_job_confirm(*, job: ImportJob, by: Any, mode: str) -> ImportJob:
    """Import a checked file with the chosen policy. Idempotent: confirming twice imports once."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.dry_run:
            raise ImportStateError("This upload was a check only (dry run); upload the file again to import it.")
        if locked.status in (ImportStatus.QUEUED, ImportStatus.IMPORTING, ImportStatus.IMPORTED):
            return locked  # a second click, or a second tab: the first confirmation stands
        if locked.status != ImportStatus.CHECKED:
            raise ImportStateError(f"This import is {locked.get_status_display().lower()}; it cannot be confirmed.")
        if locked.orders_valid == 0:
            raise ImportStateError("The file has no new valid orders to import.")
        locked.status = ImportStatus.QUEUED
        locked.mode = mode if mode in ImportMode.values else locked.mode
        locked.confirmed_by, locked.confirmed_at = (by if getattr(by, "pk", None) else None), timezone.now()
        locked.rows_done = 0
        locked.save(update_fields=["status", "mode", "confirmed_by", "confirmed_at", "rows_done", "updated_at"])
    _dispatch(locked)
    locked.refresh_from_db()
    return locked


def import_job_cancel(*, job: ImportJob) -> ImportJob:
    """Drop a checked (or still pending) upload; nothing was imported and nothing will be."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status not in (ImportStatus.PENDING, ImportStatus.CHECKED, ImportStatus.REJECTED):
            raise ImportStateError(f"This import is {locked.get_status_display().lower()}; it cannot be cancelled.")
        locked.status = ImportStatus.CANCELLED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at", "updated_at"])
    _drop_rows_copy(locked)
    return locked


# --- Processing (the task's body) ---------------------------------------------------------------------


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a file is processed.

    A check keeps every valid order of the file (dicts, Decimals, dates: millions of objects for 100,000
    rows) until they are written, and the collector's full passes walk all of them again and again: 3 s
    of a 20 s import, measured in bench/import_orders.py. What the import builds is freed by reference
    counting; the one way it used to make cyclic garbage, a caught database error (its traceback holds
    the frames above it, with the whole file's orders), is avoided where it happened every time, the
    first reference of a branch and year (orders.references). The collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _exclusive(job_id: Any) -> Iterator[bool]:
    """A session advisory lock per job: True when this run may work on it, False when another run does."""
    key = job_id.int & 0x7FFF_FFFF_FFFF_FFFF
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:  # the connection was lost, and the lock with it: keep the error that ended the run
                logger.warning("Could not unlock order import %s; its connection is gone", job_id, exc_info=True)


def import_job_process(*, job_id: Any) -> None:
    """Do whatever the job waits for: check a pending upload, import a confirmed one. Safe to run twice."""
    job = (
        ImportJob.objects.select_related("customer", "created_by", "confirmed_by", "api_key__organisation")
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        return
    with _exclusive(job.pk) as acquired, _cyclic_gc_paused():
        if not acquired:
            return  # another worker is on it
        job.refresh_from_db()
        if job.status not in IMPORT_RUNNING_STATUSES:
            return
        if job.runs_unfinished >= RUNS_LOST_LIMIT:
            _give_up_lost_runs(job)
            return
        with _run_counted(job):
            try:
                if job.status in (ImportStatus.PENDING, ImportStatus.CHECKING):
                    _check_job(job)
                else:
                    _import_job(job)
            except OperationalError as exc:
                if isinstance(exc.__cause__, _TRANSIENT):
                    raise TransientImportError(str(exc)) from exc  # the job keeps its status; the retry resumes it
                _fail(job)
                raise
            except Exception:
                _fail(job)  # recorded for the people waiting on the page, then raised for the logs
                raise
        if job.status != ImportStatus.CHECKED or job.dry_run:
            _drop_rows_copy(job)  # nothing reads the file again


# A run that never ends leaves its count behind: its process was killed (out of memory, a deploy, a host lost).
# Celery hands the message to the next worker (acks_late, reject_on_worker_lost) and the stalled-jobs beat queues
# it again, which is right for a deploy and wrong for a file that kills every worker it meets: after three dead
# runs the job is given up, so it cannot take worker after worker down for ever.
RUNS_LOST_LIMIT = 3


@contextmanager
def _run_counted(job: ImportJob) -> Iterator[None]:
    """Count the run as started (committed at once, outside any transaction) and as ended however it ends,
    short of its process dying. A run that completes clears the count: only dead runs in a row give a job up
    (a check killed by two deploys does not use up its import's lives). An error leaves the dead runs before
    it counted. On a connection that was lost meanwhile the count stays (the run may well count as dead), and
    the error that ended the run is the one raised."""
    ImportJob.objects.filter(pk=job.pk).update(runs_unfinished=F("runs_unfinished") + 1)
    completed = False
    try:
        yield
        completed = True
    finally:
        runs = ImportJob.objects.filter(pk=job.pk, runs_unfinished__gt=0)
        try:
            runs.update(runs_unfinished=0 if completed else F("runs_unfinished") - 1)
        except DatabaseError:
            logger.warning("Could not count the end of a run of order import %s", job.pk, exc_info=True)


def _give_up_lost_runs(job: ImportJob) -> None:
    logger.error("Order import %s given up: %d runs ended with their process killed", job.pk, job.runs_unfinished)
    _drop_rows_copy(job)
    _set(
        job, status=ImportStatus.FAILED, finished_at=timezone.now(),
        file_error=f"The import stopped {job.runs_unfinished} times because the process working on it was killed "
        "(most often by running out of memory); nothing was imported. Split the file into smaller files, or ask "
        "an administrator to look at the workers' memory.",
    )  # fmt: skip


def import_job_give_up(*, job_id: Any) -> None:
    """Record that a job's transient errors outlasted its retries: it is not imported, and the page says so."""
    job = ImportJob.objects.filter(pk=job_id, status__in=IMPORT_RUNNING_STATUSES).first()
    if job is not None:
        _fail(job)


def _fail(job: ImportJob) -> None:
    """Record an unexpected error for the people waiting on the page, unless the job had ended meanwhile: an
    error raised after an import's commit must not say that nothing was imported."""
    logger.exception("Order import %s stopped", job.pk)
    _drop_rows_copy(job)
    values = {
        "status": ImportStatus.FAILED, "finished_at": timezone.now(),
        "file_error": "The import stopped because of an unexpected error; nothing was imported. We have been told.",
    }  # fmt: skip
    if ImportJob.objects.filter(pk=job.pk, status__in=IMPORT_RUNNING_STATUSES).update(
        updated_at=timezone.now(), **values
    ):
        for name, value in values.items():
            setattr(job, name, value)


def _set(job: ImportJob, **values: Any) -> None:
    """Save fields at once (outside any transaction), so the progress page sees them."""
    for name, value in values.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now(), **values)


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
            message = f"{FIRST_SHEET_ONLY.format(name=reading.orders_sheet(sheets).title)} {message}"
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
            result.add_errors([_duplicate_error(item.clean, item.first_row, lost.existing_reference)], _max_errors())
        result.duplicates += len(outcome.duplicates)
        result.valid_count -= len(outcome.duplicates)
        _store_result(
            job, result, status=ImportStatus.IMPORTED, orders_created=len(outcome.created) + result.created_before,
            finished_at=timezone.now(),
        )  # fmt: skip


def _max_errors() -> int:
    return settings.OMS_IMPORT_MAX_STORED_ERRORS


def _duplicate_error(clean: CleanOrder, row: int, existing_reference: str) -> RowError:
    customer, reference = clean.order["customer"], clean.order["customer_reference"]
    return RowError(
        row=row, column="customer_reference", value=reference, is_duplicate=True, customer_reference=reference,
        message=f"{customer.code} already has an order with reference {reference} ({existing_reference}); "
        "it was left unchanged.",
    )  # fmt: skip


# --- The check ------------------------------------------------------------------------------------------


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
    return result


def _rows_source(
    job: ImportJob, info: reading.FileInfo, limits: reading.Limits
) -> tuple[reading.Opener, reading.FileInfo]:
    """Where the passes read the rows: a CSV file itself; for a workbook, the CSV copy of its rows, made on the
    first read (reading.spool_xlsx) and kept until the job is done."""
    if info.format != "xlsx":
        return _opener(job), info
    name = job.rows_file.name
    if not name or not default_storage.exists(name):
        name = _copy_rows(job, info, limits)
    return (lambda: default_storage.open(name, "rb")), reading.SPOOL_INFO


def _copy_rows(job: ImportJob, info: reading.FileInfo, limits: reading.Limits) -> str:
    reported = time.monotonic()

    def progress(rows: int) -> None:
        nonlocal reported
        if time.monotonic() - reported >= PROGRESS_EVERY_S:
            _set(job, rows_done=rows, rows_total=0)  # "N rows read" on the page
            reported = time.monotonic()

    with tempfile.TemporaryFile() as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        reading.spool_xlsx(_opener(job), info, limits, text, progress=progress)
        text.flush()
        text.detach()
        spool.seek(0)
        name = default_storage.save(f"{job.file.name}.rows.csv", File(spool))
    _set(job, rows_file=name)
    return name


def import_rows_copies_drop_idle() -> int:
    """Delete the rows copy of every upload that waits, checked, untouched for OMS_IMPORT_ROWS_COPY_DAYS; return
    how many. Confirming one later makes its copy again from the workbook (`_rows_source`)."""
    idle_since = timezone.now() - timedelta(days=settings.OMS_IMPORT_ROWS_COPY_DAYS)
    idle = ImportJob.objects.exclude(rows_file="").filter(status=ImportStatus.CHECKED, updated_at__lt=idle_since)
    dropped = 0
    for pk in list(idle.values_list("pk", flat=True)):
        with transaction.atomic():  # under the row lock import_job_confirm takes: a confirmation and a drop never cross
            job = idle.select_for_update().filter(pk=pk).only("pk", "rows_file").first()
            if job is None:
                continue  # confirmed, cancelled or touched meanwhile
            name = job.rows_file.name or ""  # not null: the query left out jobs with none ("")
            ImportJob.objects.filter(pk=pk).update(rows_file="")
            transaction.on_commit(partial(_delete_files, [name]))
            dropped += 1
    return dropped


def _delete_files(names: list[str]) -> None:
    """Delete these stored files (on commit: only once their job no longer names them)."""
    for name in names:
        default_storage.delete(name)


_ENDED_STATUSES = (ImportStatus.IMPORTED, ImportStatus.FAILED, ImportStatus.REJECTED, ImportStatus.CANCELLED)


def import_files_delete_expired() -> int:
    """Delete the uploaded file of every job untouched for OMS_IMPORT_FILE_DAYS; return how many were deleted.

    Order files carry customers' names and addresses: they are kept long enough to answer "what did we
    receive?", then deleted. Jobs that ended (imported, not imported, rejected, cancelled, or checked as a
    dry run) lose their file; an upload checked but never confirmed is cancelled first, under the row lock
    that confirming takes, so a confirmation and a deletion never cross. Running jobs are never touched. The
    job stays, with its counts, its errors (and error file) and the orders it created; `file_deleted_at`
    says when its file went. OMS_IMPORT_FILE_DAYS = 0 keeps files forever."""
    if settings.OMS_IMPORT_FILE_DAYS <= 0:
        return 0
    now = timezone.now()
    expired = ImportJob.objects.exclude(file="").filter(
        updated_at__lt=now - timedelta(days=settings.OMS_IMPORT_FILE_DAYS),
        status__in=(*_ENDED_STATUSES, ImportStatus.CHECKED),
    )
    deleted = 0
    for pk in list(expired.values_list("pk", flat=True)):
        with transaction.atomic():
            job = expired.select_for_update().filter(pk=pk).only("pk", "status", "dry_run", "file", "rows_file").first()
            if job is None:
                continue  # confirmed or touched meanwhile
            changes: dict[str, Any] = {"file": "", "rows_file": "", "file_deleted_at": now, "updated_at": now}
            if job.status == ImportStatus.CHECKED and not job.dry_run:
                changes.update(status=ImportStatus.CANCELLED, finished_at=now)  # nobody confirmed it in time
            ImportJob.objects.filter(pk=pk).update(**changes)
            names = [name for name in (job.file.name, job.rows_file.name) if name]
            transaction.on_commit(partial(_delete_files, names))
            deleted += 1
    if deleted:
        logger.info("Deleted %d uploaded order files older than %d days.", deleted, settings.OMS_IMPORT_FILE_DAYS)
    return deleted


def _drop_rows_copy(job: ImportJob) -> None:
    if job.rows_file.name:
        default_storage.delete(job.rows_file.name)
        _set(job, rows_file="")


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
            result.add_errors([_duplicate_error(clean, intake.first_row, found[1])], limit)
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


# --- Reading results ----------------------------------------------------------------------------------------


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
