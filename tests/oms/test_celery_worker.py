"""A real Celery worker on the configured broker (Redis in CI, the filesystem broker locally):
work queued on commit runs; work queued in a rolled-back transaction never does."""

import time
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from oms.celery import app
from oms.models import WorkerHeartbeat

QUEUE = f"test-{uuid.uuid4().hex[:8]}"


@app.task(name="tests.record_marker")
def record_marker(name: str) -> None:
    WorkerHeartbeat.objects.create(name=name, beat_at="2026-01-01T00:00:00Z")


def _wait_for(predicate, timeout: float = 45.0) -> bool:  # generous: CI machines run two suites at once
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def worker(transactional_db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    eager, routes = app.conf.task_always_eager, app.conf.task_routes
    # conf.update (not attribute assignment) flushes the route table Celery caches on first use: another
    # test in this process may already have built it without our queue.
    app.conf.update(task_always_eager=False, task_routes={**routes, "tests.record_marker": {"queue": QUEUE}})
    try:
        with start_worker(app, queues=[QUEUE], perform_ping_check=False, shutdown_timeout=20) as running:
            yield running
    finally:
        app.conf.update(task_always_eager=eager, task_routes=routes)


@pytest.mark.worker
def test_task_queued_on_commit_runs_after_the_commit(worker):
    marker = f"committed-{uuid.uuid4().hex}"
    with transaction.atomic():
        record_marker.delay_on_commit(marker)
        time.sleep(0.5)
        assert not WorkerHeartbeat.objects.filter(name=marker).exists()
    assert _wait_for(lambda: WorkerHeartbeat.objects.filter(name=marker).exists())


@pytest.mark.worker
def test_task_queued_in_a_rolled_back_transaction_never_runs(worker):
    rolled_back = f"rolled-back-{uuid.uuid4().hex}"
    witness = f"witness-{uuid.uuid4().hex}"
    with transaction.atomic():
        record_marker.delay_on_commit(rolled_back)
        transaction.set_rollback(True)
    record_marker.delay(witness)  # queued after: once it has run, the earlier one would have too
    assert _wait_for(lambda: WorkerHeartbeat.objects.filter(name=witness).exists())
    assert not WorkerHeartbeat.objects.filter(name=rolled_back).exists()
