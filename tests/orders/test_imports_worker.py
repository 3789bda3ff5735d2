"""A real worker killed in the middle of an import (SIGKILL of its pool child, after the orders are written and
before the commit): Celery hands the message to the next child (acks_late, reject_on_worker_lost), the import
runs again and creates its orders once. A file that kills every worker it meets is given up after three dead
runs (ImportJob.runs_unfinished), instead of taking worker after worker down for ever."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from django.db import connection, transaction

from oms.celery import app
from orders import tasks
from orders.imports import service
from orders.models import ImportJob, ImportStatus, Order
from tests.orders.fixtures.imports import csv_bytes, import_file, order_row, world
from tests.worker_process import kill_worker, start_worker_process, wait_for

__all__ = ["world"]

QUEUE = f"test-imports-{uuid.uuid4().hex[:8]}"
ROWS = [order_row(f"PO-{n}") for n in range(1, 6)]


@pytest.fixture
def imports_to_the_worker(settings, monkeypatch) -> Iterator[None]:
    """Import tasks go to this module's queue, to a worker of their own; no file is processed in the test.
    (Celery builds its router once per process, so the queue is named where the task is sent.)"""
    task = tasks.process_order_import
    monkeypatch.setattr(
        task, "delay_on_commit", lambda *args: transaction.on_commit(lambda: task.apply_async(args, queue=QUEUE))
    )
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = eager
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)


def _import_with_deaths(world, settings, tmp_path, deaths: int, *, until: str) -> tuple[ImportJob, int]:
    """Check a file here, confirm it to a real worker whose children die `deaths` times mid-import, wait for
    the job to reach `until` and its run to end. Returns the job and the deaths left unused; the worker must
    have survived."""
    job = import_file(world["ops"], csv_bytes(ROWS))
    assert job.status == ImportStatus.CHECKED
    settings.OMS_IMPORT_INLINE_MAX_BYTES = 0  # the confirmed import goes to the worker
    left = tmp_path / "deaths"
    left.write_text(str(deaths))
    connection.close()  # the worker uses the test database too; keep no idle transaction open
    worker = start_worker_process(
        QUEUE, "tests.worker_deaths_settings", OMS_TEST_DIE_IN="orders.bulk:orders_bulk_create",
        OMS_TEST_DEATHS=str(left), MEDIA_ROOT=str(settings.MEDIA_ROOT),
    )  # fmt: skip
    try:
        service.import_job_confirm(job=job, by=world["ops"], mode="all_or_nothing")
        reached = wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == until, timeout=60)
        job.refresh_from_db()
        assert reached, f"the job is {job.status}, {job.runs_unfinished} runs unfinished"
        # The run that ends the job counts itself out just after it saved the outcome; a completed run clears
        # the count, a job given up keeps its dead runs.
        ended = 0 if until == ImportStatus.IMPORTED else service.RUNS_LOST_LIMIT
        assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).runs_unfinished == ended)
        job.refresh_from_db()
        assert worker.poll() is None, "the worker itself died"
    finally:
        kill_worker(worker)
    return job, int(left.read_text())


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_was_killed_mid_write_runs_again_and_creates_its_orders_once(
    world, settings, tmp_path, imports_to_the_worker
):
    job, left = _import_with_deaths(world, settings, tmp_path, 1, until=ImportStatus.IMPORTED)
    assert left == 0  # the first run died after writing, before its commit
    assert (job.orders_created, Order.objects.count()) == (5, 5)
    assert job.runs_unfinished == 0  # the run that completed cleared the dead one


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_file_that_kills_every_worker_is_given_up_after_three_dead_runs(
    world, settings, tmp_path, imports_to_the_worker
):
    job, left = _import_with_deaths(world, settings, tmp_path, 99, until=ImportStatus.FAILED)
    assert 99 - left == service.RUNS_LOST_LIMIT == 3
    assert Order.objects.count() == 0
    assert job.file_error.startswith("The import stopped 3 times because the process working on it was killed")
    assert job.finished_at is not None
