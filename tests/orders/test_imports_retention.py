"""Uploaded order files are kept OMS_IMPORT_FILE_DAYS after their job ends, then deleted by a daily beat task;
the job, its errors and its orders stay. An upload nobody confirmed in that time is cancelled first."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from orders import tasks
from orders.imports import service
from orders.models import ImportJob, ImportStatus, Order
from tests.orders.fixtures.imports import COLUMNS, csv_bytes, import_file, order_row, world, xlsx_bytes

__all__ = ["world"]  # the fixture, used by name


def _age(job: ImportJob, days: int) -> None:
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - datetime.timedelta(days=days))


def _delete_expired(capture) -> int:
    with capture(execute=True):
        return tasks.delete_expired_import_files()


def _good_file(*references: str) -> bytes:
    return csv_bytes([order_row(reference) for reference in references])


def test_the_task_is_scheduled_daily(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "orders.tasks.delete_expired_import_files" in schedule
    assert schedule["orders.tasks.delete_expired_import_files"].hour == {3}


def test_ended_jobs_lose_their_file_after_the_retention_days_and_keep_everything_else(
    world, settings, django_capture_on_commit_callbacks
):
    settings.OMS_IMPORT_FILE_DAYS = 30
    ops = world["ops"]
    imported = service.import_job_confirm(job=import_file(ops, _good_file("PO-1")), by=ops, mode="all_or_nothing")
    mixed = import_file(ops, csv_bytes([order_row("PO-2", origin="XXNOPE"), order_row("PO-6")]))
    failed = service.import_job_confirm(job=mixed, by=ops, mode="all_or_nothing")  # one order has errors
    rejected = import_file(ops, b"\x00\x01\x02 binary")
    cancelled = service.import_job_cancel(job=import_file(ops, _good_file("PO-3")))
    dry_run = import_file(ops, _good_file("PO-4"), dry_run=True)
    recent = service.import_job_confirm(job=import_file(ops, _good_file("PO-5")), by=ops, mode="all_or_nothing")
    assert [job.status for job in (imported, failed, rejected, cancelled, dry_run, recent)] == [
        "imported", "failed", "rejected", "cancelled", "checked", "imported",
    ]  # fmt: skip
    ended = [imported, failed, rejected, cancelled, dry_run]
    for job in ended:
        _age(job, 31)
    _age(recent, 29)
    names = {job.pk: job.file.name for job in (*ended, recent)}
    assert all(default_storage.exists(name) for name in names.values())

    assert _delete_expired(django_capture_on_commit_callbacks) == 5

    for job in ended:
        before_status = job.status
        job.refresh_from_db()
        assert job.file.name == ""
        assert job.file_deleted_at is not None
        assert job.status == before_status  # an ended job keeps its outcome
        assert not default_storage.exists(names[job.pk])
    recent.refresh_from_db()
    assert recent.file.name == names[recent.pk]
    assert default_storage.exists(recent.file.name)
    assert recent.file_deleted_at is None
    assert Order.objects.filter(customer_reference__in=["PO-1", "PO-5"]).count() == 2  # orders stay
    imported.refresh_from_db()
    assert imported.orders_created == 1
    assert rejected.file_error  # the reason stays


def test_an_unconfirmed_upload_is_cancelled_before_its_file_is_deleted(
    world, settings, django_capture_on_commit_callbacks, client
):
    settings.OMS_IMPORT_FILE_DAYS = 30
    ops = world["ops"]
    job = import_file(ops, xlsx_bytes([COLUMNS, [order_row("PO-1")[c] for c in COLUMNS]]), name="orders.xlsx")
    assert job.status == ImportStatus.CHECKED
    names = [job.file.name, job.rows_file.name]
    _age(job, 31)

    assert _delete_expired(django_capture_on_commit_callbacks) == 1

    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED
    assert job.finished_at == job.file_deleted_at
    assert (job.file.name, job.rows_file.name) == ("", "")
    assert not any(default_storage.exists(name) for name in names)
    with pytest.raises(service.ImportStateError, match="cancelled"):
        service.import_job_confirm(job=job, by=ops, mode="all_or_nothing")
    assert Order.objects.count() == 0

    client.force_login(ops)
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert "Nobody confirmed this upload within 30 days" in page
    assert "file deleted" in page


def test_running_jobs_are_never_touched_and_zero_days_keeps_files(world, settings, django_capture_on_commit_callbacks):
    settings.OMS_IMPORT_FILE_DAYS = 30
    job = import_file(world["ops"], _good_file("PO-1"))
    for status in (ImportStatus.PENDING, ImportStatus.CHECKING, ImportStatus.QUEUED, ImportStatus.IMPORTING):
        ImportJob.objects.filter(pk=job.pk).update(status=status)
        _age(job, 400)
        assert _delete_expired(django_capture_on_commit_callbacks) == 0
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTED)
    _age(job, 400)
    settings.OMS_IMPORT_FILE_DAYS = 0
    assert _delete_expired(django_capture_on_commit_callbacks) == 0
    settings.OMS_IMPORT_FILE_DAYS = 30
    assert _delete_expired(django_capture_on_commit_callbacks) == 1
    assert _delete_expired(django_capture_on_commit_callbacks) == 0  # once


def test_the_error_file_and_the_api_outlive_the_upload(world, settings, django_capture_on_commit_callbacks, client):
    settings.OMS_IMPORT_FILE_DAYS = 30
    ops = world["ops"]
    bad_row = order_row("PO-2", origin="XXNOPE")
    job = import_file(ops, csv_bytes([bad_row]))
    service.import_job_cancel(job=job)
    _age(job, 31)
    assert _delete_expired(django_capture_on_commit_callbacks) == 1

    client.force_login(ops)
    errors = b"".join(client.get(reverse("imports:errors", args=[job.pk])).streaming_content).decode()
    assert "XXNOPE" in errors
    body = client.get(reverse("api-order-import-detail", args=[job.pk])).json()
    assert body["file_deleted_at"] is not None
    assert body["state"] == "cancelled"
