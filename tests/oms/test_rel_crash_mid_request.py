"""RELIABILITY.md C4, crash mid-request, on a real gunicorn worker killed with SIGKILL, then retried with the same
Idempotency-Key (partners/idempotency.py):

- killed after the commit, before the answer left: the order and its completed key committed together, so the
  retry replays the stored 201 and there is still one order;
- killed before the commit, after the order was written: PostgreSQL rolls the work back; the claim, committed
  on its own when the request began, is still "in progress", so a retry at once is a 409 with Retry-After, and one
  after the lock timeout takes the claim over and creates the order once.
In both, the order's queued event (the outbox the workflow worker drains) exists exactly when the order does.

The server runs this module's `application`: Django's, plus a crash switch read from a request header, which only
this test's server has. Django is imported inside functions, so gunicorn can import the module before setup.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CRASH_HEADER = "X-Test-Crash"
KEY = "rel-c4-0001"
_django_application: Any = None


def application(environ: dict[str, Any], start_response: Any) -> Any:
    """The crash switch around Django: `after-commit` kills the worker once Django has answered (the transaction
    is committed, nothing is sent yet); `before-commit` kills it inside the request's transaction, right after the
    completed key was written with the order."""
    global _django_application
    if _django_application is None:
        from django.core.wsgi import get_wsgi_application

        _django_application = get_wsgi_application()
    crash = environ.get("HTTP_X_TEST_CRASH")
    if crash == "before-commit":
        from partners import idempotency

        complete = idempotency._complete

        def complete_then_die(claim: Any, response: Any) -> None:
            complete(claim, response)
            os.kill(os.getpid(), signal.SIGKILL)

        idempotency._complete = complete_then_die  # the worker dies with the patch
    elif crash == "database-lost":
        _lose_the_database_before_completing()
    response = _django_application(environ, start_response)
    if crash == "after-commit":
        os.kill(os.getpid(), signal.SIGKILL)
    return response


def _lose_the_database_before_completing() -> None:
    """For this request only: once the order is written, the database ends this worker's session (as
    `pg_terminate_backend` or a PostgreSQL restart does), so completing the key meets a dead connection."""
    import psycopg
    from django.db import connection

    from partners import idempotency

    complete = idempotency._complete

    def terminate_then_complete(claim: Any, response: Any) -> None:
        idempotency._complete = complete
        pid = connection.connection.info.backend_pid
        with psycopg.connect(_database_url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        complete(claim, response)

    idempotency._complete = terminate_then_complete


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Server:
    def __init__(self, port: int) -> None:
        self.port = port

    def post(self, body: dict[str, Any], *, key: str, raw_key: str, crash: str = "") -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {raw_key}", "Idempotency-Key": key}
        if crash:
            headers[CRASH_HEADER] = crash
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", "/api/v1/orders/", json.dumps(body), headers)
        return conn.getresponse()

    def get(self, path: str, *, raw_key: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", path, headers={"Authorization": f"Bearer {raw_key}"})
        response = conn.getresponse()
        return response.status, response.read()

    def retry(self, body: dict[str, Any], *, key: str, raw_key: str) -> tuple[int, dict[str, str], bytes]:
        """The client's retry: again until a worker is back to answer (gunicorn starts a new one)."""
        deadline = time.monotonic() + 90
        while True:
            try:
                response = self.post(body, key=key, raw_key=raw_key)
                return response.status, dict(response.getheaders()), response.read()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)


@pytest.fixture
def server_env() -> dict[str, str]:
    """What this module's server runs with beyond the test settings: a new connection per request."""
    return {"CONN_MAX_AGE": "0"}


@pytest.fixture
def server(transactional_db, tmp_path, server_env) -> Iterator[Server]:
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oms.settings_test",
        "DATABASE_URL": _database_url(),
        **server_env,
        "CELERY_BROKER_URL": "",  # the embedded filesystem broker under OMS_VAR_DIR: this server's alone
        "OMS_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    command = [
        sys.executable, "-m", "gunicorn", f"{__name__}:application", f"--bind=127.0.0.1:{port}", "--workers=1",
        "--worker-class=sync", "--timeout=120", "--graceful-timeout=5",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (
                "gunicorn did not answer /healthz: " + (tmp_path / "gunicorn.log").read_text()
            )
            time.sleep(0.3)
        yield Server(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def raw_key(branch, locations) -> str:
    from partners import services as partner_services

    return partner_services.api_key_create(organisation=branch, name="Hamburg ERP")[1]


def _counts() -> tuple[int, int]:
    from orders.models import Order, QueuedTransition

    return Order.objects.count(), QueuedTransition.objects.count()


def test_a_server_killed_after_the_commit_answers_the_retry_with_the_stored_201(server, raw_key, order_data):
    from partners.models import IdempotencyKey, IdempotencyKeyStatus

    body = order_data(submit=True)
    with pytest.raises(http.client.RemoteDisconnected):
        server.post(body, key=KEY, raw_key=raw_key, crash="after-commit")

    assert _counts() == (1, 1)  # committed before the worker died, with its queued event
    stored = IdempotencyKey.objects.get()
    assert stored.status == IdempotencyKeyStatus.COMPLETED

    status, headers, content = server.retry(body, key=KEY, raw_key=raw_key)

    assert (status, headers.get("Idempotent-Replayed")) == (201, "true")
    from orders.models import Order

    assert json.loads(content)["reference"] == Order.objects.get().reference
    assert _counts() == (1, 1)


def test_a_server_killed_before_the_commit_leaves_nothing_and_the_retry_creates_the_order_once(
    server, raw_key, order_data
):
    from django.db.models import F

    from partners.idempotency import LOCK_TIMEOUT
    from partners.models import IdempotencyKey, IdempotencyKeyStatus

    body = order_data(submit=True)
    with pytest.raises(http.client.RemoteDisconnected):
        server.post(body, key=KEY, raw_key=raw_key, crash="before-commit")

    assert _counts() == (0, 0)  # rolled back with the dead connection
    assert IdempotencyKey.objects.get().status == IdempotencyKeyStatus.IN_PROGRESS

    status, headers, _content = server.retry(body, key=KEY, raw_key=raw_key)
    assert (status, "Retry-After" in headers) == (409, True)  # the claim may still be its request's
    assert _counts() == (0, 0)

    # The lock timeout passes (gunicorn's own timeout: the request that held the claim cannot still be running).
    IdempotencyKey.objects.update(locked_at=F("locked_at") - LOCK_TIMEOUT - LOCK_TIMEOUT)
    status, headers, content = server.retry(body, key=KEY, raw_key=raw_key)

    assert status == 201
    assert "Idempotent-Replayed" not in headers
    assert _counts() == (1, 1)
    assert IdempotencyKey.objects.get().status == IdempotencyKeyStatus.COMPLETED
    replay_status, replay_headers, replay = server.retry(body, key=KEY, raw_key=raw_key)
    assert (replay_status, replay_headers.get("Idempotent-Replayed"), replay) == (201, "true", content)
    assert _counts() == (1, 1)
