"""RELIABILITY.md E4 against a real server: PostgreSQL ends the sessions of a running gunicorn worker
(`pg_terminate_backend`, what a database restart or failover does to every open connection).

- Between requests: the worker keeps its connection (CONN_MAX_AGE), finds it dead at the next request's health
  check (CONN_HEALTH_CHECKS) and opens a new one; the request is answered as if nothing happened, no restart.
- In the middle of an order's creation: the request fails whole, as the API's 503 with Retry-After, leaving no
  order and no queued event; the same retry, once the key's claim has timed out, creates the order once.
tests/oms/test_relplan_e.py proves the same answers by raising the errors; this file lets PostgreSQL do it.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models import F

from orders.models import Order, QueuedTransition
from partners.idempotency import LOCK_TIMEOUT
from partners.models import IdempotencyKey
from tests.oms.test_rel_crash_mid_request import KEY, raw_key, server

__all__ = ["raw_key", "server"]


@pytest.fixture
def server_env() -> dict[str, str]:
    """The production connection settings (oms/settings.py): persistent connections, health-checked."""
    return {}


def _terminate_the_servers_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


def test_a_worker_whose_database_session_was_ended_answers_the_next_request_without_a_restart(
    server, raw_key, order_data
):
    assert server.get("/api/v1/orders/", raw_key=raw_key)[0] == 200
    assert _terminate_the_servers_sessions() >= 1  # the worker kept its connection open, and lost it

    status, content = server.get("/api/v1/orders/", raw_key=raw_key)
    created = server.post(order_data(submit=True), key=KEY, raw_key=raw_key)

    assert status == 200, content
    assert created.status == 201, created.read()
    assert (Order.objects.count(), QueuedTransition.objects.count()) == (1, 1)


def test_a_database_lost_in_the_middle_of_a_creation_is_a_503_and_leaves_nothing(server, raw_key, order_data):
    body = order_data(submit=True)

    lost = server.post(body, key=KEY, raw_key=raw_key, crash="database-lost")

    content = lost.read()
    assert lost.status == 503, content
    assert lost.getheader("Retry-After")
    assert json.loads(content)["error"]["code"] == "service_unavailable"
    assert (Order.objects.count(), QueuedTransition.objects.count()) == (0, 0)

    IdempotencyKey.objects.update(locked_at=F("locked_at") - LOCK_TIMEOUT - LOCK_TIMEOUT)  # if the claim was kept
    status, _headers, created = server.retry(body, key=KEY, raw_key=raw_key)

    assert status == 201, created
    assert (Order.objects.count(), QueuedTransition.objects.count()) == (1, 1)
