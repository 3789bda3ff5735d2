"""When an order's transitions are handled: at once, in the process that made them (INLINE_CHANNELS), or
queued (orders.QueuedTransition) and drained in batches by the workflow worker (docs/decisions/0004); the
catch-up sweep for those whose handling never happened or failed, and the retries of failed ones
(FailedTransition). The handling itself: services.transition_handling.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
import time
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from orders.models import Channel, OrderTransition, QueuedTransition
from workflows.models import FailedTransition, ProcessedTransition
from workflows.services.transition_handling import queued_transitions_handle, transition_handle, transitions_handle

logger = logging.getLogger(__name__)


def pending_transitions_process(
    *, older_than: datetime.timedelta = datetime.timedelta(seconds=30), limit: int = 500
) -> int:
    """Handle transitions whose on-commit handling never happened (the process died after the order's
    commit) or failed. The transition row is written with the state change, so nothing is lost; the claim
    makes a late duplicate harmless. Looks back to what was handled a day ago.

    Queued transitions are drained first, in batches: a worker killed mid-drain leaves its batch queued,
    and its task comes back only after the broker's visibility timeout (hours), so this periodic sweep is
    what picks the queue up again meanwhile. Those another drain holds are left to it.

    Each transition is handled on its own: one that fails again is counted (FailedTransition, a growing wait
    before the next attempt) and the sweep goes on with the next, so one bad transition never holds up those
    behind it. After FailedTransition.MAX_ATTEMPTS failures it is given up (logged at ERROR, shown by /readyz)."""
    done = queued_transitions_drain()
    queued = QueuedTransition.objects.filter(transition_id=OuterRef("pk"))
    now = timezone.now()
    cutoff = now - older_than
    floor = (
        ProcessedTransition.objects.filter(processed_at__lt=now - datetime.timedelta(days=1)).aggregate(
            floor=Max("transition_id")
        )["floor"]
        or 0
    )
    handled = ProcessedTransition.objects.filter(transition_id=OuterRef("pk"))
    waiting = FailedTransition.objects.filter(transition_id=OuterRef("pk")).filter(
        Q(given_up_at__isnull=False) | Q(next_attempt_at__gt=now)
    )
    pending = list(
        OrderTransition.objects.filter(pk__gt=floor, at__lt=cutoff)
        .exclude(Exists(handled))
        .exclude(Exists(queued))
        .exclude(Exists(waiting))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    # Transitions that failed before and are due again, however old (the floor looks back a day only).
    due_again = FailedTransition.objects.filter(
        given_up_at__isnull=True, next_attempt_at__lte=now, transition_id__lte=floor
    ).values_list("transition_id", flat=True)
    pending += list(due_again[:limit])
    for pk in pending:
        try:
            handled_now = transition_handle(transition_id=pk)
        except Exception as exc:  # any failure: counted, logged in full, and the sweep goes on
            _transition_failed(pk, exc)
            continue
        done += handled_now
        FailedTransition.objects.filter(transition_id=pk).delete()  # handled (now or by another): no longer failing
    return done


# The waits before the catch-up sweep tries a failed transition again, by how many times it failed: the first
# retry is at the next sweep (a deadlock, a task row made meanwhile), then longer, to outlast a database failover
# or a fix being deployed; the eighth failure gives it up (FailedTransition.MAX_ATTEMPTS), about 4 h after the first.
RETRY_WAITS = tuple(datetime.timedelta(minutes=m) for m in (0, 1, 5, 15, 30, 60, 120))


def failed_transitions_retry(*, transition_ids: list[int]) -> int:
    """Have the catch-up sweep try these failed transitions again at its next run, given up or waiting (the
    console's "Retry now", once the cause is fixed). The sweep takes a row that is not given up and is due, however
    old its transition; its attempts stay counted, so one that fails again is given up again at once. How many."""
    return FailedTransition.objects.filter(transition_id__in=transition_ids).update(
        given_up_at=None, next_attempt_at=timezone.now()
    )


def _transition_failed(transition_id: int, error: BaseException) -> None:
    """Count a failure of the transition's handling (the handling itself was rolled back), and give it up once it
    has failed FailedTransition.MAX_ATTEMPTS times. Logged with its traceback each time; at ERROR when given up."""
    now = timezone.now()
    failed, _created = FailedTransition.objects.get_or_create(transition_id=transition_id)
    failed.attempts += 1
    failed.failed_at = now
    failed.last_error = f"{error.__class__.__name__}: {error}"[:2000]
    failed.next_attempt_at = now + RETRY_WAITS[min(failed.attempts - 1, len(RETRY_WAITS) - 1)]
    if failed.attempts >= FailedTransition.MAX_ATTEMPTS:
        failed.given_up_at = now
        logger.error(
            "Workflow handling of order transition %s failed %d times; given up (workflows.FailedTransition): %s",
            transition_id, failed.attempts, failed.last_error, exc_info=error,
        )  # fmt: skip
    else:
        logger.warning(
            "Workflow handling of order transition %s failed (attempt %d of %d); the catch-up sweep retries it",
            transition_id, failed.attempts, FailedTransition.MAX_ATTEMPTS, exc_info=error,
        )  # fmt: skip
    failed.save()


# Transitions people take on a screen (and the automation their handling sets off) are handled at once,
# in the same process, so the page they land on shows the tasks. Those that other systems make through the
# API, webhooks and files stay queued (orders.QueuedTransition) for the workflow worker, which handles
# them in batches (docs/decisions/0004), as it does automation set off by its own batches.
INLINE_CHANNELS = frozenset({Channel.SCREEN, Channel.PORTAL, Channel.ADMIN, Channel.SYSTEM})
# A worker asked to drain the queue keeps polling it for LINGER seconds once it is empty; a process asks
# at most once every WAKE_EVERY seconds. As WAKE_EVERY < LINGER, a transition queued after a skipped
# request is still seen by the worker the last request started (see queued_transitions_drain).
LINGER = 1.0
WAKE_EVERY = 0.25
# A drain asked for by a process hands over to a fresh task after this long (Celery's soft limit is 25 min).
DRAIN_BUDGET = 60.0
POLL = 0.02
BATCH = 100

_draining: contextvars.ContextVar[bool] = contextvars.ContextVar("workflows_draining", default=False)
_last_wake = -WAKE_EVERY


def on_order_status_changed(
    *, transition_id: int | None, order_id: int, channel: str = "", queued: bool = False, **_: Any
) -> None:
    """The order_status_changed receiver's work: handle the transition now, in the process that made it, or
    leave it queued and make sure a worker drains the queue soon (INLINE_CHANNELS says which)."""
    if queued and (channel not in INLINE_CHANNELS or _draining.get()):
        if not _draining.get():  # a draining worker carries on until the queue is empty
            _wake_worker()
        return
    if transition_id is None:  # an event from before apply() sent the id: find the newest transition
        transition_id = (
            OrderTransition.objects.filter(order_id=order_id).order_by("-pk").values_list("pk", flat=True).first()
        )
    if transition_id is None:
        return
    try:
        transition_handle(transition_id=transition_id)
    except Exception:  # a lost connection, a deadlock or a bug: logged in full, and retried, never the person's 500
        # The order's change is committed and its transition row is the durable record: the queue (or, for
        # a bulk import's, the catch-up sweep) handles it shortly. The person's action must not fail.
        logger.exception("Workflow handling of order transition %s failed; a worker will retry", transition_id)


def _wake_worker() -> None:
    """Ask a worker to drain the queue, unless this process asked less than WAKE_EVERY seconds ago. Run
    eagerly (tests, no broker), the drain happens here and now and does not linger."""
    global _last_wake
    from workflows.tasks import handle_queued_transitions  # tasks import services: keep the graph acyclic

    eager = handle_queued_transitions.app.conf.task_always_eager
    now = time.monotonic()
    if not eager and now - _last_wake < WAKE_EVERY:
        return
    try:
        handle_queued_transitions.delay(linger_seconds=0 if eager else LINGER)
    except KombuError:
        # The broker is away. The caller's work is committed and its transitions wait in their queue table: the
        # beat's catch-up sweep (process_pending_transitions, every minute) drains them once the broker is back.
        # The request must not fail for a wake-up call.
        logger.warning("Could not wake a worker for the queued transitions; the sweep drains them", exc_info=True)
        return
    if not eager:
        _last_wake = now


# The session-level advisory lock only one drain holds at a time (any 64-bit number no other code uses).
DRAIN_LOCK = 0x0F5D_7A1E_0004


def queued_transitions_drain(
    *, linger: float = 0.0, batch: int = BATCH, budget: float | None = None, retry_if_busy: bool = False
) -> int:
    """Handle the queued transitions in batches until the queue has stayed empty for `linger` seconds
    (polling it every POLL seconds meanwhile); how many were handled. Automation that a batch sets off is
    queued and handled by a later batch of the same drain. With a `budget` (seconds), a drain that has run
    that long hands over to a new drain task between two batches, so a worker process under a long burst
    is freed for its other tasks now and then and never meets Celery's time limit.

    One drain runs at a time (DRAIN_LOCK): a request that finds another drain running returns at once, so
    however many requests a burst of submits makes, one worker process drains and the others stay free for
    other work. This loses nothing: the running drain lets go of the lock before it looks at the queue a
    last time, and carries on if it finds anything, so a transition committed before a request gave up is
    seen. A request that processes skipped (WAKE_EVERY) relied on, though, must also cover what was
    committed just after it gave up, while the running drain was about to stop: with `retry_if_busy` it
    asks once more, `linger` seconds later (a countdown, holding no worker process meanwhile). Then it
    either drains and lingers itself, or the lock is still held, and its holder looks at the queue after
    that moment. A worker killed mid-drain drops its connection and with it the lock.

    A batch that fails (a task row made meanwhile by a concurrent handler of the same order, a lost
    connection) is rolled back whole and done again one transition at a time; a transition that still
    fails leaves the queue and is retried by the catch-up sweep (pending_transitions_process), as a failed
    inline handling is, so one bad transition cannot hold up the queue."""
    if not _drain_lock(take=True):
        if retry_if_busy:
            _hand_over(linger=linger, countdown=linger)
        return 0
    handled, held = 0, True
    token = _draining.set(True)
    try:
        deadline = None if budget is None else time.monotonic() + budget
        while True:
            done, out_of_time = _drain_until_idle(linger=linger, batch=batch, deadline=deadline)
            handled += done
            held = _drain_lock(take=False)
            if out_of_time:
                _hand_over(linger=linger)
                return handled
            if not QueuedTransition.objects.exists():
                return handled
            held = _drain_lock(take=True)
            if not held:  # another drain took over: it looks at the queue again before it stops
                return handled
    finally:
        _draining.reset(token)
        if held:
            with contextlib.suppress(DatabaseError):  # a lost connection has let go of it already
                _drain_lock(take=False)


def _drain_lock(*, take: bool) -> bool:
    """Take (True: taken) or let go of (returns False) the drain lock."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {'pg_try_advisory_lock' if take else 'pg_advisory_unlock'}(%s)", [DRAIN_LOCK])
        (result,) = cursor.fetchone()
    return bool(result) if take else False


def _hand_over(*, linger: float, countdown: float = 0.0) -> None:
    """Queue a new drain (which will not retry when busy) to carry on where this one stopped or, after
    `countdown` seconds, to try again; the lock is not held by this one."""
    from workflows.tasks import handle_queued_transitions  # tasks import services: keep the graph acyclic

    handle_queued_transitions.apply_async(kwargs={"linger_seconds": linger, "retry": False}, countdown=countdown)


def _drain_until_idle(*, linger: float, batch: int, deadline: float | None) -> tuple[int, bool]:
    """Batches until the queue stays empty for `linger` seconds (False) or the deadline passes with work
    left (True); how many were handled."""
    handled, idle_since = 0, None
    while True:
        if deadline is not None and time.monotonic() >= deadline and QueuedTransition.objects.exists():
            return handled, True
        try:
            done = queued_transitions_handle(limit=batch)
        except Exception:  # a deadlock, a lost connection, or a bug in a rule, a template or unforeseen data
            logger.exception("A batch of queued order transitions failed; handling them one by one")
            done = _handle_one_by_one(batch)
        handled += done
        if done:
            idle_since = None
            continue
        now = time.monotonic()
        idle_since = now if idle_since is None else idle_since
        if now - idle_since >= linger:
            return handled, False
        time.sleep(POLL)


def _handle_one_by_one(limit: int) -> int:
    """The batch again, a transition at a time: one that fails on its own leaves the queue, is counted
    (_transition_failed) and is retried by the catch-up sweep, so it cannot fail every later batch."""
    done = 0
    for pk in QueuedTransition.objects.order_by("pk").values_list("pk", flat=True)[:limit]:
        try:
            done += transitions_handle(transition_ids=[pk])
        except Exception as exc:  # any failure: counted and logged in full
            QueuedTransition.objects.filter(pk=pk).delete()
            _transition_failed(pk, exc)
    return done
