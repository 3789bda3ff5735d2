"""RELIABILITY (b) area E, Celery reliability: the configuration and the static checks the plan asks for.

E1 no task is queued from inside a transaction (a lint over the code: `.delay(` / `.apply_async(` lexically inside
`transaction.atomic`); E2 the worker settings that make a killed task run again; E4 database connections are
health-checked and the tasks queued on commit retry a lost database; E5 no ETA or countdown can outlast the
broker's visibility timeout (Celery would deliver the message again and again).
The worker-kill drills themselves are tests/orders/test_imports_worker.py and tests/workflows/test_worker.py.
E4 in the API (last section; its first test is a reviewer's proof, kept as written): a database lost mid-request is a
503 in the API's error shape with Retry-After, documented in the schema, not Django's HTML 500 page.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.db import InterfaceError, OperationalError, ProgrammingError

from oms.celery import app
from orders import services
from orders.models import Order
from partners import services as partner_services

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = ("oms.", "partners.", "orders.", "finance.", "tracking.", "documents.", "workflows.", "portal.")
QUEUEING = {"delay", "apply_async", "send_task"}


def _visibility_timeout() -> float:
    return float(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600))


def _project_tasks() -> dict[str, Any]:  # Celery tasks
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith(PROJECT_APPS)}


def _project_sources() -> list[Path]:
    skip = {"tests", "migrations", ".venv", "var", "bench", "static", "node_modules"}
    return [path for path in ROOT.rglob("*.py") if not skip & set(path.relative_to(ROOT).parts)]


def _is_atomic(expression: ast.expr) -> bool:
    target = expression.func if isinstance(expression, ast.Call) else expression
    return (isinstance(target, ast.Attribute) and target.attr == "atomic") or (
        isinstance(target, ast.Name) and target.id == "atomic"
    )


def _queued_inside_a_transaction(tree: ast.AST) -> list[int]:
    """Lines of `.delay(`, `.apply_async(` or `.send_task(` calls lexically inside `with transaction.atomic()` or a
    function decorated with it. A lambda is deferred work (transaction.on_commit(lambda: ...)), so it is not."""
    found: list[int] = []

    def visit(node: ast.AST, inside: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside = any(_is_atomic(decorator) for decorator in node.decorator_list)
        elif isinstance(node, ast.Lambda):
            inside = False
        elif isinstance(node, ast.With) and any(_is_atomic(item.context_expr) for item in node.items):
            inside = True
        if inside and isinstance(node, ast.Call) and getattr(node.func, "attr", None) in QUEUEING:
            found.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


# --- E1: enqueue only after commit ----------------------------------------------------------------------------


def test_no_task_is_queued_from_inside_a_transaction():
    offenders = []
    for path in _project_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line in _queued_inside_a_transaction(tree)]
    assert offenders == []


def test_the_lint_finds_a_task_queued_inside_a_transaction():
    source = (
        "@transaction.atomic\n"
        "def a():\n"
        "    task.delay(1)\n"
        "def b():\n"
        "    with transaction.atomic():\n"
        "        task.apply_async(args=[1])\n"
        "        transaction.on_commit(lambda: task.delay(1))\n"
        "    task.delay(2)\n"
    )
    assert _queued_inside_a_transaction(ast.parse(source)) == [3, 6]


# --- E2: a killed task runs again -----------------------------------------------------------------------------


def test_tasks_ack_late_and_are_requeued_when_their_worker_dies():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT


# --- E4: the database going away ------------------------------------------------------------------------------


def test_database_connections_are_health_checked():
    database = settings.DATABASES["default"]
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["CONN_MAX_AGE"] > 0


@pytest.mark.parametrize(
    "name",
    [
        "workflows.tasks.handle_queued_transitions",
        "workflows.tasks.handle_tracking_records",
        "workflows.tasks.process_pending_transitions",
        "tracking.ingest.tasks.poll_carrier_events",
        "tracking.ingest.tasks.sync_order_status",
    ],
)
def test_tasks_queued_by_a_commit_retry_a_lost_database_with_backoff(name):
    task = _project_tasks()[name]

    assert any(issubclass(OperationalError, kind) for kind in getattr(task, "autoretry_for", ()))
    assert task.retry_backoff
    assert 0 < task.max_retries <= 10


# --- E5: no wait longer than the visibility timeout -----------------------------------------------------------


def test_no_task_may_run_longer_than_the_visibility_timeout():
    assert _visibility_timeout() > settings.CELERY_TASK_TIME_LIMIT


def test_no_retry_backoff_can_outlast_the_visibility_timeout():
    for name, task in _project_tasks().items():
        if getattr(task, "retry_backoff", False):
            assert _visibility_timeout() > getattr(task, "retry_backoff_max", 600), name  # Celery's default: 600


def test_no_code_schedules_a_task_at_an_eta():
    offenders = []
    for path in _project_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            queues = isinstance(node, ast.Call) and getattr(node.func, "attr", None) in QUEUEING
            if queues and any(keyword.arg in ("eta", "expires") for keyword in cast(ast.Call, node).keywords):
                offenders.append(f"{path.relative_to(ROOT)}:{cast(ast.Call, node).lineno}")
    assert offenders == []


def test_every_countdown_in_the_code_is_bounded_below_the_visibility_timeout(monkeypatch):
    """The two countdowns the code uses: the workflow retry's backoff, and a drain handing over after LINGER."""
    from workflows import tasks
    from workflows.services import transition_queue

    countdowns = []
    for path in _project_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and any(keyword.arg == "countdown" for keyword in node.keywords):
                countdowns.append(path.relative_to(ROOT).as_posix())
    assert sorted(set(countdowns)) == ["workflows/services/transition_queue.py", "workflows/tasks.py"]

    retried = []

    def capture_retry(**kwargs):
        retried.append(kwargs["countdown"])
        return Retry()

    fake = SimpleNamespace(request=SimpleNamespace(retries=60), retry=capture_retry)
    with pytest.raises(Retry):
        tasks._retry_later(fake, ids=[1])
    assert 0 <= retried[0] <= 600 < _visibility_timeout()
    assert _visibility_timeout() > transition_queue.LINGER


# --- E4: a database lost mid-request, in the API --------------------------------------------------------------

LIST_URL = "/api/v1/orders/"


@pytest.fixture
def staff_key(branch, locations) -> str:
    return partner_services.api_key_create(organisation=branch, name="Hamburg BI")[1]


def bearer(raw_key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


def test_a_database_lost_mid_request_is_a_503_in_the_error_shape(client, staff_key, order_data, monkeypatch):
    def connection_lost(order, clean):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "_write_lines", connection_lost)
    client.raise_request_exception = False

    response = client.post(LIST_URL, order_data(), content_type="application/json", **bearer(staff_key))

    assert not Order.objects.exists()
    assert response.status_code == 503, (response.status_code, response["Content-Type"])
    assert response.has_header("Retry-After")
    assert response.json()["error"]["code"]


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("terminating connection due to administrator command"),  # pg_terminate_backend
        InterfaceError("connection already closed"),  # a connection that died before this request used it
    ],
)
def test_a_lost_database_anywhere_in_an_api_request_is_a_503_with_retry_after(
    client, staff_key, monkeypatch, caplog, error
):
    """The first query of the request, the API key's look-up, fails: still the API's answer, and still logged."""

    def database_gone(**kwargs):
        raise error

    monkeypatch.setattr("partners.auth.api_key_authenticate", database_gone)
    client.raise_request_exception = False

    response = client.get(LIST_URL, **bearer(staff_key))

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "10"
    assert response.json() == {
        "error": {
            "code": "service_unavailable",
            "message": "OMS cannot reach its database just now. Retry after the number of seconds in Retry-After.",
            "fields": {},
        }
    }
    [logged] = [record for record in caplog.records if record.name == "oms.api_errors"]
    assert logged.levelno == logging.ERROR
    assert logged.exc_info[1] is error


def test_other_database_errors_are_still_a_500(client, staff_key, order_data, monkeypatch):
    """Only a lost or unanswering database is worth a retry; a bug (here a broken query) stays Django's logged 500."""

    def broken(order, clean):
        raise ProgrammingError('relation "orders_cargoline" does not exist')

    monkeypatch.setattr(services, "_write_lines", broken)
    client.raise_request_exception = False

    response = client.post(LIST_URL, order_data(), content_type="application/json", **bearer(staff_key))

    assert response.status_code == 500


def test_the_schema_documents_the_503_on_every_operation(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    missing = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            response = operation["responses"].get("503", {})
            content = response.get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref") != "#/components/schemas/ApiError":
                missing.append(f"{method.upper()} {path}")
    assert missing == []


# --- E4: a database lost mid-request, on the screens ----------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [OperationalError("server closed the connection unexpectedly"), InterfaceError("connection already closed")],
)
def test_a_database_lost_under_a_screen_is_a_503_page_saying_try_again(login, ops_user, monkeypatch, caplog, error):
    """The screens answer 503 with Retry-After and a page that says try again, rendered without touching the
    database; a screen's form post rolls back what it wrote."""
    from orders import selectors

    def database_gone(**kwargs):
        raise error

    monkeypatch.setattr(selectors, "order_list_for", database_gone)
    client = login(ops_user)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="oms.database"):
        response = client.get("/orders/")
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert "OMS cannot reach its database just now" in response.content.decode()
    [logged] = [record for record in caplog.records if record.name == "oms.database"]
    assert logged.exc_info[1] is error


def test_other_errors_on_a_screen_stay_the_500_page(login, ops_user, monkeypatch):
    from orders import selectors

    def broken(**kwargs):
        raise ProgrammingError('relation "orders_order" does not exist')

    monkeypatch.setattr(selectors, "order_list_for", broken)
    client = login(ops_user)
    client.raise_request_exception = False
    response = client.get("/orders/")
    assert response.status_code == 500
    assert "OMS cannot reach its database" not in response.content.decode()


def _session_load_fails(monkeypatch, error: Exception) -> None:
    def load(self):
        raise error

    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", load)


@pytest.mark.parametrize("error", [OperationalError("sorry, too many clients already"), InterfaceError("closed")])
def test_a_database_lost_in_a_middleware_before_the_view_is_the_same_503_page(
    login, ops_user, locations, monkeypatch, caplog, error
):
    """On a POST pghistory's middleware reads the user, which loads the session before any view runs: Django turns
    what a middleware raises into its 500 page where it is raised, so the middleware never saw it (a reviewer's
    proof: the GET was a 503, the POST a 500)."""
    client = login(ops_user)
    client.raise_request_exception = False
    _session_load_fails(monkeypatch, error)

    with caplog.at_level(logging.ERROR, logger="oms.database"):
        response = client.post("/orders/new/", {"action": "draft"})

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert "OMS cannot reach its database just now" in response.content.decode()
    [logged] = [record for record in caplog.records if record.name == "oms.database"]
    assert logged.exc_info[1] is error
    assert client.get("/orders/").status_code == 503  # as a GET, whose session a view loads


def test_a_database_lost_in_a_middleware_of_an_api_request_is_the_apis_503(login, ops_user, locations, monkeypatch):
    client = login(ops_user)  # a session request to the API: its session is loaded before DRF answers anything
    client.raise_request_exception = False
    _session_load_fails(monkeypatch, OperationalError("server closed the connection unexpectedly"))

    response = client.post("/api/v1/orders/", {}, content_type="application/json")

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert response.json()["error"]["code"] == "service_unavailable"


def test_other_errors_in_a_middleware_stay_the_500_page(login, ops_user, locations, monkeypatch):
    client = login(ops_user)
    client.raise_request_exception = False
    _session_load_fails(monkeypatch, ProgrammingError('relation "django_session" does not exist'))

    response = client.post("/orders/new/", {"action": "draft"})

    assert response.status_code == 500
    assert "OMS cannot reach its database" not in response.content.decode()
