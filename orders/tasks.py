"""Celery tasks of the orders app: thin, idempotent, retried only on named transient errors."""

from __future__ import annotations

import uuid

from celery import shared_task

from orders import bulk
from orders.imports import service
from orders.imports.service import TransientImportError


@shared_task(
    bind=True,
    name="orders.tasks.process_order_import",
    ignore_result=True,
    autoretry_for=(TransientImportError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    dead_runs_limit=None,  # the job counts its own dead runs and fails itself in words (service.RUNS_LOST_LIMIT)
)
def process_order_import(self, job_id: str) -> None:
    """Check a pending order file, or import a confirmed one. Returns quietly when the job is gone or done.
    Transient database errors are retried; when the last retry fails too, the job is marked not imported."""
    try:
        service.import_job_process(job_id=uuid.UUID(job_id))
    except TransientImportError:
        if self.request.retries >= self.max_retries:
            service.import_job_give_up(job_id=uuid.UUID(job_id))
        raise


@shared_task(name="orders.tasks.requeue_stalled_imports", ignore_result=True)
def requeue_stalled_imports() -> int:
    """Queue again the order imports that should be running but have not moved for 15 minutes (beat)."""
    return service.import_jobs_requeue_stalled()


@shared_task(name="orders.tasks.drop_idle_import_rows_copies", ignore_result=True)
def drop_idle_import_rows_copies() -> int:
    """Delete the rows copies of workbook uploads checked and left alone for OMS_IMPORT_ROWS_COPY_DAYS (beat)."""
    return service.import_rows_copies_drop_idle()


@shared_task(name="orders.tasks.delete_expired_import_files", ignore_result=True)
def delete_expired_import_files() -> int:
    """Delete uploaded order files whose jobs ended OMS_IMPORT_FILE_DAYS ago (beat, daily)."""
    return service.import_files_delete_expired()


@shared_task(name="orders.tasks.send_order_created_events", ignore_result=True)
def send_order_created_events(
    *, order_ids: list[int], channel: str, by_id: int | None, transition_ids: list[int | None] | None
) -> None:
    """The domain events of orders created in bulk (orders.bulk), sent from the worker in chunks."""
    bulk.send_created_events(order_ids=order_ids, channel=channel, by_id=by_id, transition_ids=transition_ids)
