"""Import jobs: upload → check (the preview: a dry run with no side effects) → confirm → import.

Every write of the import goes through here; screens, the API and the Celery task are interfaces to it.

- `import_job_create` stores the upload under a generated name and checks it (inline when small, in
  the worker when large), or, for API uploads without dry_run, queues the import straight away.
- `import_job_process` is the task's body: it checks a pending job or imports a queued one. Safe to run
  twice: a PostgreSQL advisory lock lets one run at a time, finished jobs are left alone, and a run
  after a crash recognises the orders the job created before (ImportedOrder) instead of calling them
  duplicates.
- The check (`orders.imports.check`) reads the stored file and validates every order, writing nothing but the job's
  progress; a run's writes (`orders.imports.writes`) store its outcome on the job, and the import's orders through
  `orders.bulk` in one transaction with the job's outcome. `orders.imports.jobs` holds what every step shares: the
  job's rights, its stored upload, the progress writes. A job's errors are read through `orders.imports.selectors`.
- Uploaded files and the rows copies of workbooks are deleted once nothing needs them
  (`import_files_delete_expired`, `import_rows_copies_drop_idle`).

Policy: all-or-nothing (default) imports nothing when any order has an error; valid-only imports the
valid orders and reports the rest. Orders that exist already are never changed: they are reported as
duplicates under both policies, so uploading a corrected file again creates only what is new.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import psycopg
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg import errors as psycopg_errors

from orders.errors import OrderError
from orders.imports import reading
from orders.imports.columns import ImportFileError
from orders.imports.jobs import _set
from orders.imports.writes import _check_job, _import_job
from orders.models import IMPORT_RUNNING_STATUSES, ImportJob, ImportMode, ImportStatus
from partners.models import Organisation
from partners.scoping import Scope

logger = logging.getLogger(__name__)


class ImportStateError(OrderError):
    """The job is not in a state that allows what was asked (e.g. confirming a job twice)."""


class TransientImportError(Exception):
    """The database lost a race (deadlock, serialization failure) or the connection: try the job again."""


_TRANSIENT = (psycopg_errors.DeadlockDetected, psycopg_errors.SerializationFailure, psycopg.OperationalError)


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


# --- The job's files, deleted once nothing reads them ------------------------------------------------


def import_rows_copies_drop_idle() -> int:
    """Delete the rows copy of every upload that waits, checked, untouched for OMS_IMPORT_ROWS_COPY_DAYS; return
    how many. Confirming one later makes its copy again from the workbook (`check._rows_source`)."""
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
