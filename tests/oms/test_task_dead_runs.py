"""Review G (defect 3): a message whose run kills its worker process every time (out of memory on a too-large
batch, a native crash) is dropped to a dead letter after DEAD_RUNS_LIMIT runs, instead of being handed from
process to process for ever (acks-late and reject-on-worker-lost; brokers do not count redeliveries)."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings
from django.db import connection

from oms.celery import DEAD_RUNS_LIMIT, app
from tests.worker_process import kill_worker, start_worker_process, wait_for
from tracking.exceptions.tasks import detect_exceptions
from workflows.models import DeadLetter

QUEUE = f"test-dead-runs-{uuid.uuid4().hex[:8]}"
DEATHS = 8


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_task_that_kills_its_worker_every_time_is_dropped_to_a_dead_letter(tmp_path):
    deaths = tmp_path / "deaths"
    deaths.write_text(str(DEATHS))
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    connection.close()
    worker = start_worker_process(
        QUEUE, "tests.oms.worker_guard_settings",
        OMS_TEST_DIE_IN="tracking.exceptions.services.detection:exceptions_detect_for", OMS_TEST_DEATHS=str(deaths),
        OMS_TEST_MAIL_DIR=str(tmp_path),
    )  # fmt: skip
    try:
        detect_exceptions.apply_async(kwargs={"order_ids": [1]}, queue=QUEUE)
        assert wait_for(DeadLetter.objects.exists, timeout=40), "the message was never dropped"
        assert worker.poll() is None, "the worker itself died"
    finally:
        kill_worker(worker)
        app.conf.task_always_eager = eager
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)
    runs = DEATHS - int(deaths.read_text())
    assert runs == DEAD_RUNS_LIMIT, f"one message killed {runs} worker processes"
    letter = DeadLetter.objects.get()
    assert letter.task_name == "tracking.exceptions.tasks.detect_exceptions"
    assert letter.runs == DEAD_RUNS_LIMIT
    assert "order_ids" in letter.args


def test_a_run_in_the_calling_process_is_not_counted(monkeypatch):
    """Eager runs, `apply` and direct calls have no broker message to count: the guard stays out of their way."""
    from oms import celery

    monkeypatch.setattr(celery, "_store", lambda app: pytest.fail("counted"))
    from workflows.tasks import open_scheduled_tasks

    with mock_open_scheduled():
        open_scheduled_tasks.apply()
        open_scheduled_tasks()


def mock_open_scheduled():
    from unittest import mock

    return mock.patch("workflows.services.scheduled_tasks_open", return_value=0)
