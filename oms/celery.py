"""The Celery application. Tasks live in each app's tasks.py; schedules in settings.

Every task runs with acks-late and reject-on-worker-lost (settings): a worker process that dies mid-task hands
its message back, and another process runs it again. Brokers do not count such redeliveries, so a message whose
run kills its process every time (out of memory on a too-large batch, a native crash, the hard time limit) would
be handed from process to process for ever. GuardedTask, the base of every task here, counts them.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from celery.contrib.django.task import DjangoTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")

logger = logging.getLogger("oms.celery")

# Runs of one message that may die with their worker process; the next delivery is dropped to a dead letter.
DEAD_RUNS_LIMIT = 3
# How long a message's count of dead runs is kept (above the broker's visibility timeout of 2 h).
_COUNT_TTL = 24 * 3600


class GuardedTask(DjangoTask):
    """A task whose message is dropped after DEAD_RUNS_LIMIT runs that died with their worker process (a Django
    task as Celery makes them by default: delay_on_commit, apply_async_on_commit).

    Each run of a message from the broker counts itself in Redis (the broker's) before it starts, under the
    message's task id and retry number (a retry is a new message), and takes its count away when it ends, well
    or not. Only a run that never ended (its process was killed) leaves its count. A delivery that finds
    DEAD_RUNS_LIMIT runs left behind is not run: it is acknowledged, written to workflows.DeadLetter and logged
    at ERROR. What the message stood for is redone by the periodic sweeps, or by hand.

    Runs in the calling process (eager, `apply`, a direct call) are not counted; nor are tasks on a broker other
    than Redis (the embedded development broker), where the guard is off. A task that counts its own dead runs and
    ends its work in words (the order import: ImportJob.runs_unfinished, "The import stopped 3 times …") declares
    `dead_runs_limit=None`: the guard would drop the very delivery that tells the user."""

    dead_runs_limit: int | None = DEAD_RUNS_LIMIT

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = self._dead_runs_key() if self.dead_runs_limit is not None else None
        if key is None:
            return super().__call__(*args, **kwargs)
        store = _store(self.app)
        if store is None:
            return super().__call__(*args, **kwargs)
        try:
            runs = int(store.incr(key))
            store.expire(key, _COUNT_TTL)
        except Exception:  # the guard must never stop a task: without its count, the task runs as ever
            logger.warning("Could not count the runs of %s[%s]", self.name, self.request.id, exc_info=True)
            return super().__call__(*args, **kwargs)
        if runs > (self.dead_runs_limit or DEAD_RUNS_LIMIT):
            _dead_letter(self, runs=runs - 1, args=args, kwargs=kwargs)
            _forget(store, key)
            return None
        try:
            return super().__call__(*args, **kwargs)
        finally:
            _forget(store, key)

    def _dead_runs_key(self) -> str | None:
        request = self.request
        if not request.id or request.is_eager or request.called_directly or not request.delivery_info:
            return None
        return f"oms:task-runs:{request.id}:{request.retries or 0}"


_stores: dict[str, Any] = {}


def _store(app: Celery) -> Any:
    """A Redis client on the broker's Redis (one per process), or None when the broker is not Redis."""
    url = str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://")):
        return None
    if url not in _stores:
        import redis

        _stores[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return _stores[url]


def _forget(store: Any, key: str) -> None:
    try:
        store.delete(key)
    except Exception:  # a count left behind expires (_COUNT_TTL); it only counts a run that did end
        logger.warning("Could not clear the run count %s", key, exc_info=True)


def _dead_letter(task: Task, *, runs: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    from workflows.models import DeadLetter  # the app registry is ready in a worker process

    shown = f"args={args!r} kwargs={kwargs!r}"[:2000]
    logger.error(
        "Dropped %s[%s]: %d runs of it died with their worker process (out of memory, a crash, the time limit); "
        "see workflows.DeadLetter. %s",
        task.name, task.request.id, runs, shown,
    )  # fmt: skip
    try:
        DeadLetter.objects.create(task_name=task.name, task_id=task.request.id, args=shown, runs=runs)
    except Exception:  # the database away: the ERROR above is the record
        logger.exception("Could not write the dead letter of %s[%s]", task.name, task.request.id)


app = Celery("oms", task_cls=GuardedTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
