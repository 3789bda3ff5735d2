"""RELIABILITY.md E4 for the workers: PostgreSQL ends a running task's database session (`pg_terminate_backend`,
what a database restart or failover does to every open connection). The task fails on its next query with
OperationalError; tasks whose work the database holds retry it with backoff (autoretry_for, retry_backoff), and the
retry, on a new connection (Celery closes a worker's connections around every task), does the work: nothing is
lost and the worker needs no restart. The task is tracking's sync_order_status, run by a real worker on the
configured broker.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError, connection

from oms.celery import app
from tests.oms.test_celery_worker import _wait_for
from tests.orders.conftest import order_factory
from tracking.ingest import remapping, tasks

__all__ = ["order_factory"]

QUEUE = f"test-rel-{uuid.uuid4().hex[:8]}"
TASK = "tracking.ingest.tasks.sync_order_status"


@pytest.fixture
def worker(transactional_db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    eager, routes = app.conf.task_always_eager, app.conf.task_routes
    app.conf.update(task_always_eager=False, task_routes={**routes, TASK: {"queue": QUEUE}})
    try:
        with start_worker(app, queues=[QUEUE], perform_ping_check=False, shutdown_timeout=20) as running:
            yield running
    finally:
        app.conf.update(task_always_eager=eager, task_routes=routes)


@pytest.fixture
def first_run_loses_its_session(monkeypatch):
    """The runs of the task's work, in order: the first has its session ended by the database before it queries."""
    runs: list[str] = []
    work = remapping.order_status_sync

    def session_ended_once(*, order_id: int) -> str:
        if runs:
            done = work(order_id=order_id)
            runs.append("done")
            return done
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        try:
            return work(order_id=order_id)
        except OperationalError:
            runs.append("lost the database")
            raise

    monkeypatch.setattr(remapping, "order_status_sync", session_ended_once)
    return runs


def _admin_dsn() -> str:
    db = connection.settings_dict
    return (
        f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} "
        f"password={db['PASSWORD'] or ''} dbname={db['NAME']}"
    )


@pytest.mark.worker
def test_a_task_whose_database_session_was_ended_retries_with_backoff_and_does_its_work(
    worker, first_run_loses_its_session, order_factory
):
    order = order_factory(submit=True)

    tasks.sync_order_status.delay(order.pk)

    assert _wait_for(lambda: first_run_loses_its_session == ["lost the database", "done"]), first_run_loses_its_session
