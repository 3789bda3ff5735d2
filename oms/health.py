"""Health endpoints: /healthz says the process is alive, /readyz that it can do its job."""

import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from kombu import Connection

from oms.models import WorkerHeartbeat

# A dead letter keeps /readyz red this long after its message was dropped: long enough to be seen across a night
# and a weekend morning's first look, short enough to clear by itself (a dead letter is read, not resolved).
DEAD_LETTER_WINDOW = timedelta(hours=24)


def record_heartbeat(*, name: str) -> None:
    """Upsert the worker's heartbeat row."""
    WorkerHeartbeat.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def _check_broker() -> str | None:
    try:
        with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"broker unreachable: {exc.__class__.__name__}"
    return None


def _check_worker() -> str | None:
    max_age = timedelta(seconds=settings.OMS_WORKER_HEARTBEAT_MAX_AGE)
    try:
        latest = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
    except Exception as exc:
        return f"heartbeat unreadable: {exc.__class__.__name__}"
    if latest is None:
        return "no worker heartbeat recorded yet"
    age = timezone.now() - latest
    if age > max_age:
        return f"last worker heartbeat {int(age.total_seconds())} s ago (limit {int(max_age.total_seconds())} s)"
    return _check_dead_letters()


def _ago(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _check_dead_letters() -> str | None:
    """A message dropped because its runs killed their worker process (oms.celery.GuardedTask) in the last
    DEAD_LETTER_WINDOW: the work it stood for waits for a sweep or a person, and the cause (a batch too large for
    the memory, a crash, the time limit) is still there. The latest by id, read through the primary key's index."""
    from workflows.models import DeadLetter

    try:
        latest = DeadLetter.objects.order_by("-id").values_list("task_name", "runs", "dropped_at").first()
    except Exception as exc:
        return f"dead letters unreadable: {exc.__class__.__name__}"
    if latest is None:
        return None
    task_name, runs, dropped_at = latest
    age = timezone.now() - dropped_at
    if age > DEAD_LETTER_WINDOW:
        return None
    window = int(DEAD_LETTER_WINDOW.total_seconds() // 3600)
    return (
        f"a message of {task_name} was dropped {_ago(age)} ago after {runs} runs died with their worker process (out "
        f"of memory, a crash, the time limit): read it under Workflows › Dead letters and the worker's log; this "
        f"check clears {window} h after the last drop"
    )


def _check_workflow_queue() -> str | None:
    """The oldest order transition still waiting for the workflow worker (docs/decisions/0004) must be
    younger than OMS_WORKFLOW_QUEUE_MAX_AGE: older means no drain is running, or it cannot keep up."""
    from orders.models import QueuedTransition

    max_age = timedelta(seconds=settings.OMS_WORKFLOW_QUEUE_MAX_AGE)
    try:  # the oldest by id, which follows time, read through the primary key's index
        oldest = QueuedTransition.objects.order_by("transition_id").values_list("queued_at", flat=True).first()
    except Exception as exc:
        return f"workflow queue unreadable: {exc.__class__.__name__}"
    if oldest is not None and timezone.now() - oldest > max_age:
        waited, limit = int((timezone.now() - oldest).total_seconds()), int(max_age.total_seconds())
        return f"an order transition has waited {waited} s for the workflow worker (limit {limit} s)"
    return _check_tracking_records(max_age)


def _check_tracking_records(max_age: timedelta) -> str | None:
    """Carrier milestones and ETD/ETA wait for the workflow's drain too (workflows.QueuedTrackingRecord): one that
    a drain could have taken for longer than the limit means none runs. Records leased to a drain or waiting out
    a backoff are not late (their available_at lies ahead), nor are records given up (support's to try again from
    the admin; their failures were logged); read through the partial (available_at, id) index."""
    from workflows.models import QueuedTrackingRecord

    try:
        waiting = QueuedTrackingRecord.objects.filter(given_up_at__isnull=True)  # what a drain may still take
        oldest = waiting.order_by("available_at", "id").values_list("available_at", flat=True)[:1]
        available_since = next(iter(oldest), None)
    except Exception as exc:
        return f"tracking records queue unreadable: {exc.__class__.__name__}"
    if available_since is not None and timezone.now() - available_since > max_age:
        waited, limit = int((timezone.now() - available_since).total_seconds()), int(max_age.total_seconds())
        return f"a carrier milestone has waited {waited} s for the workflow worker (limit {limit} s)"
    return _check_given_up_transitions()


def _check_given_up_transitions() -> str | None:
    """Order transitions whose workflow handling failed FailedTransition.MAX_ATTEMPTS times and were given up: their
    tasks are missing until someone fixes the cause and retries them (the console's Failed transitions, "Retry now").
    Red until then, however old: a retried row is no longer given up, a handled one is deleted. One aggregate
    over the partial index of given-up rows (failed_transition_given_up)."""
    from workflows.models import FailedTransition

    try:
        given_up = FailedTransition.objects.filter(given_up_at__isnull=False).aggregate(
            count=Count("pk"), first=Min("given_up_at")
        )
    except Exception as exc:
        return f"failed transitions unreadable: {exc.__class__.__name__}"
    if not given_up["count"]:
        return None
    count, first = given_up["count"], given_up["first"]
    which, its, it = ("an order transition was", "its", "it") if count == 1 else (f"{count} order transitions were",
                                                                             "their", "them")  # fmt: skip
    since = "" if count == 1 else "the first "
    return (
        f"{which} given up after {FailedTransition.MAX_ATTEMPTS} failed workflow handlings ({since}"
        f"{_ago(timezone.now() - first)} ago), so {its} tasks are missing: fix the cause, then retry {it} under "
        f"Workflows › Failed transitions"
    )


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    started = time.monotonic()
    checks = {"database": _check_database(), "broker": _check_broker()}
    checks["worker"] = _check_worker() if checks["database"] is None else "database unreachable"
    checks["workflow_queue"] = _check_workflow_queue() if checks["database"] is None else "database unreachable"
    ok = all(problem is None for problem in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {name: problem or "ok" for name, problem in checks.items()},
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return JsonResponse(body, status=200 if ok else 503)
