"""What sets the workflow in motion: order transitions, milestones, documents, key dates, the clock.

Each entry point runs in one transaction and is idempotent, so the on-commit receiver, a redelivered
Celery task and the catch-up sweep can all call it without creating anything twice:
- a transition is claimed in ProcessedTransition and taken off the queue before its effects are written
  (engine.transitions_claim, transitions_claim_queued: the claim and the loading of the orders are one
  statement); a worker's batch is one transaction, so a worker killed half-way leaves it all queued;
- a task is unique per (order, source key); a rule run is unique per (rule, event key);
- opening a scheduled task and escalating an overdue one are conditional UPDATEs.

The hooks for apps that do not exist yet (tracking's milestones and exceptions, documents' uploads) are
`milestone_record`, `exception_record`, `document_record` and `key_date_record`: their receivers call them.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
import time
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from orders.models import Channel, OrderStatus, OrderTransition, QueuedTransition
from partners.time_zones import branch_zone, zone_label
from workflows.models import (
    FailedTransition,
    NotificationKind,
    OrderKeyDate,
    ProcessedTransition,
    Rule,
    RuleEvent,
    Task,
    TaskEvent,
    TaskState,
    TriggerKind,
)
from workflows.models.teams import is_active_staff
from workflows.services import holds
from workflows.services.assignment import Draft, assign_drafts, loads_adjust
from workflows.services.engine import (
    Batch,
    OrderRun,
    auto_complete,
    close_tasks,
    create_tasks,
    date_drafts,
    draft_close,
    draft_from_definition,
    event_remember,
    order_for_event,
    order_run,
    order_runs,
    state_events,
    transitions_claim,
    transitions_claim_queued,
)
from workflows.services.notify import Notice, notify
from workflows.services.rules import RuleTrigger, rules_fire

logger = logging.getLogger(__name__)

# Nothing further happens to a cancelled or closed order: whatever is still open about it is moot.
_FINAL = (OrderStatus.CANCELLED, OrderStatus.CLOSED)


def _occurrence(record: OrderTransition) -> str:
    # Each state is entered once on the forward path; holds can repeat, so each hold is its own occurrence. An
    # order taken back from planned to confirmed (unplan) enters confirmed again: the same occurrence, so the
    # state's tasks are not made twice (create_tasks skips the source keys it has).
    return f"{record.target}#{record.pk}" if record.target == OrderStatus.ON_HOLD else record.target


def transition_handle(*, transition_id: int) -> bool:
    """Create, complete or cancel the tasks an order's state change calls for and run the rules it triggers.
    Exactly once per transition; returns False when it had already been handled."""
    return transitions_handle(transition_ids=[transition_id]) == 1


def transitions_handle(*, transition_ids: list[int]) -> int:
    """transition_handle for several transitions in one transaction (in their order); how many were not
    handled before."""
    with transaction.atomic():
        records = transitions_claim(transition_ids)
        _handle(records)
    return len(records)


def queued_transitions_handle(*, limit: int = 100) -> int:
    """Handle up to `limit` queued transitions (orders.QueuedTransition) that no other worker holds, as one
    batch in one transaction; how many. 0: the queue is empty (or every row is held by another worker)."""
    with transaction.atomic():
        records = transitions_claim_queued(limit)
        _handle(records)
    return len(records)


def _handle(records: list[OrderTransition]) -> None:
    """Each transition's workflow effects, in order, as one batch (engine.Batch): one statement binds the
    new orders, one reads the people, one inserts the tasks, one the notifications, one writes the loads.

    In two passes over the batch: first every transition's own tasks (created, completed, cancelled), then
    every transition's rules. A rule reads the tasks back when it takes a transition (the guards), so the
    tasks of all the batch are saved once between the passes, instead of once before each such rule. An
    order met a second time starts a new segment of the batch: it sees the first event's tasks and rules."""
    if not records:
        return
    now = timezone.now()
    batch = Batch(now, [record.order for record in records])
    runs = order_runs([r.order for r in records], now=now, batch=batch)
    segment: list[tuple[OrderTransition, OrderRun]] = []
    for record, run in zip(records, runs, strict=True):
        if any(record.order_id == earlier.order_id for earlier, _run in segment):
            _handle_segment(segment, batch)
            segment = []
            # The order's second event in this batch: the order as the first left it, and its tasks.
            run = order_run(order=order_for_event(record.order_id), now=now, batch=batch)
        segment.append((record, run))
    _handle_segment(segment, batch)
    batch.finish()


def _handle_segment(segment: list[tuple[OrderTransition, OrderRun]], batch: Batch) -> None:
    for record, run in segment:
        _state_tasks(record, run, batch)
    batch.flush()
    for record, run in segment:
        _rules(record, run)


def _state_tasks(record: OrderTransition, run: OrderRun, batch: Batch) -> None:
    """The tasks the transition's new state calls for: those it completes (or, for cancelled and closed, all
    still open are cancelled), and those made on entering it. When the order has left that state by the time
    the transition is handled, the tasks it no longer needs are made closed: see _tasks_left_behind."""
    if record.target in _FINAL:
        batch.flush()  # the tasks are read back to be cancelled
        _cancel_remaining(run, why=f"Order {OrderStatus(record.target).label.lower()}")
    else:
        auto_complete(run, state_events(run.order))
    if record.name != "release":  # release returns to a state already entered: its tasks exist
        drafts = _drafts(run, kind=TriggerKind.STATE, match=record.target, occurrence=_occurrence(record))
        _tasks_left_behind(record, run, drafts)
        create_tasks(run, drafts)


def _tasks_left_behind(record: OrderTransition, run: OrderRun, drafts: list[Draft]) -> None:
    """Close the drafts of the state `record` entered that the order no longer needs, having left that
    state before the transition was handled.

    The workflow hears of a transition after its commit: at once for a person's screen, a moment later for
    the API, webhooks and files (the queue, docs/decisions/0004), later still when a confirmation and a plan
    share one transaction (a carrier booking confirmed by a service that also confirms the order), after a
    failure, or when the worker was down. Meanwhile the order may move on. The blocking-tasks guard could not
    hold the next step back, since the tasks that would have blocked it did not exist yet, and the step's own
    conditions (tracking's confirmed booking for `plan`) were met. Made open now, such a task blocks a
    transition already taken: it sits overdue forever on a planned order, says "blocks plan", and only a
    person closing it by hand ends that.

    Decision: every task of the state is still made (same source key, so exactly once), but
    - one that blocks a transition the order has taken since this one is made cancelled, its history saying
      "skipped" and why ("Not needed: the order was already planned when the workflow made this task
      (Carrier booking … confirmed)."). Its purpose was to hold that step back, and the step is behind the
      order. It is not made done: nobody did it. It gets its team, no assignee, no load, no notification,
      and the tasks depending on it do not wait for it;
    - on an order cancelled or closed meanwhile (not by this transition), every task is made cancelled,
      "Order cancelled before the workflow made this task": what the cancellation's handling does to tasks
      it finds open, whichever of the two events is handled first;
    - every other task is made as ever: one without `blocks`, one blocking a step the order has not taken
      (it keeps blocking it), one whose auto-completion happened (made done). An order held in the state,
      or back in it after a release, has not left it.

    Rejected: refusing a transition while an earlier one of the order is still unhandled (a guard on the
    queue). A confirmation and a plan in one transaction could then never succeed (the first is handled
    only after the commit), an API caller's next step would fail or pass by how far behind the worker is,
    and a worker outage would stop every order moved through the API. The queue's contract is that the order
    moves at once and its tasks follow; this keeps that, and the tasks that follow fit the order they find.
    Not created at all, or left open but not blocking: the first would hide what the workflow asked for, the
    second would leave a task overdue forever for a step already taken.

    The order is the one loaded for this event (its current row). Nothing is read unless it has left the
    state and one of the drafts blocks something: then the order's later transitions, once."""
    order = run.order
    if not drafts or order.status == record.target:
        return
    if order.status == OrderStatus.ON_HOLD and order.status_before_hold == record.target:
        return
    if order.status in _FINAL and record.target not in _FINAL:
        why = f"Order {OrderStatus(order.status).label.lower()} before the workflow made this task"
        for draft in drafts:
            draft_close(draft, state=TaskState.CANCELLED, verb="cancelled", detail=why, now=run.now)
        return
    blocking = [draft for draft in drafts if draft.task.blocks]
    if not blocking:
        return
    since = list(
        OrderTransition.objects.filter(order_id=record.order_id, pk__gt=record.pk)
        .order_by("pk")
        .values_list("name", "target", "reason")
    )
    for draft in blocking:
        taken = next(((target, reason) for name, target, reason in since if name in draft.task.blocks), None)
        if taken is None:
            continue
        target, reason = taken
        why = f"Not needed: the order was already {OrderStatus(target).label.lower()} when the workflow made this task"
        why += f" ({reason})." if reason else "."
        draft_close(draft, state=TaskState.CANCELLED, verb="skipped", detail=why, now=run.now)


def _rules(record: OrderTransition, run: OrderRun) -> None:
    """The rules the transition triggers. "Order enters a state" runs once per occurrence of the state, as the state's
    tasks are made once (_occurrence): a release returns to a state the order was in and enters nothing (a rule's
    hold released by a person would otherwise be put back at once, and its tasks made again); an order taken back to
    confirmed (unplan) is in the occurrence it was in. Each hold is a state entered anew."""
    chain = tuple((record.payload or {}).get("automation", {}).get("chain", []))
    triggers = []
    if record.name == "submit":
        triggers.append(RuleTrigger(RuleEvent.ORDER_SUBMITTED, f"transition:{record.pk}"))
    if record.name != "release":
        entered = f"entered:{record.order_id}:{_occurrence(record)}"
        triggers.append(RuleTrigger(RuleEvent.ORDER_ENTERED_STATE, entered, record.target))
    rules_fire(run=run, triggers=triggers, chain=chain)
    create_tasks(run, [])  # the date-triggered tasks found if this event bound the order (release)


def _drafts(run: OrderRun, *, kind: str, match: str, occurrence: str) -> list[Draft]:
    definitions = [
        d for d in run.definitions()
        if d.trigger_kind == kind and (d.trigger_state if kind == TriggerKind.STATE else d.trigger_code).upper()
        == match.upper()
    ]  # fmt: skip
    return [draft_from_definition(d, run, occurrence=occurrence, start=run.now) for d in definitions]


def _fire(run: OrderRun, *, kind: str, match: str, occurrence: str) -> list[Task]:
    return create_tasks(run, _drafts(run, kind=kind, match=match, occurrence=occurrence))


def _cancel_remaining(run: OrderRun, *, why: str) -> None:
    remaining = list(
        Task.objects.select_for_update().filter(order=run.order, state__in=[TaskState.OPEN, TaskState.SCHEDULED])
    )
    close_tasks(
        remaining, state=TaskState.CANCELLED, by=None, now=run.now, verb="cancelled", detail=why,
        pending=run.load_changes,
    )  # fmt: skip
    run.forget_tasks()


def _run_for(order_id: int) -> OrderRun | None:
    """The order's workflow context for an event on it, or None when the order is cancelled or closed:
    nothing further happens to it (its open tasks were cancelled with it; see _state_tasks), so a late
    milestone, document, exception or date neither opens, completes nor schedules anything."""
    order = order_for_event(order_id)
    if order.status in _FINAL:
        return None
    return order_run(order=order, now=timezone.now())


def milestone_record(*, order_id: int, code: str, event_id: str | int = "") -> list[Task]:
    """A milestone (DEPARTED, ARRIVED …) happened on the order: complete the tasks it completes (and remember
    it for those made later: engine.event_remember), create the tasks it triggers, run the milestone rules.
    A hold report that no longer stands (released before it arrived) or repeats a hold creates nothing and runs
    no rule (the rules' runs say why); a report that clears the order's last hold completes the hold rules' tasks
    and releases the order a hold rule held (services.holds).
    Called by tracking's receiver (through workflows.tasks.record_milestones); safe to call twice. Nothing for a
    cancelled or closed order."""
    code = code.strip().upper()
    with transaction.atomic():
        run = _run_for(order_id)
        if run is None:
            return []
        first = event_remember(run, f"milestone:{code}")
        auto_complete(run, [f"milestone:{code}"])
        not_current = holds.hold_report_not_current(order_id=order_id, event_id=event_id) if code == holds.HOLD else ""
        created = [] if not_current else _fire(
            run, kind=TriggerKind.MILESTONE, match=code, occurrence=f"milestone:{code}"
        )  # fmt: skip
        if not first and code != holds.HOLD:  # holds repeat for real: hold_report_not_current judges those
            # One milestone, one run of its rules, as its tasks are made once: a carrier's correction (a new event,
            # its time in the dedupe key) or a second source reporting it would otherwise make a second task.
            not_current = f"Not run: the order already had {code} (this event repeats or corrects it)."
        rules_fire(run=run, triggers=[
            RuleTrigger(RuleEvent.MILESTONE_RECORDED, f"milestone:{order_id}:{code}:{event_id}", code,
                        not_current=not_current)
        ])  # fmt: skip
        holds.holds_cleared(run, code=code, event_id=event_id)
    return created


def document_record(*, order_id: int, document_type: str, document_id: str = "") -> list[Task]:
    """A document (HBL, POD …) now exists for the order: remember, complete, create and run rules as for
    milestones. Called by documents' receiver; safe to call twice. Nothing for a cancelled or closed order."""
    kind = document_type.strip().upper()
    with transaction.atomic():
        run = _run_for(order_id)
        if run is None:
            return []
        event_remember(run, f"document:{kind}")
        auto_complete(run, [f"document:{kind}"])
        created = _fire(run, kind=TriggerKind.DOCUMENT, match=kind, occurrence=f"document:{kind}")
        rules_fire(run=run, triggers=[
            RuleTrigger(RuleEvent.DOCUMENT_UPLOADED, f"document:{order_id}:{kind}:{document_id}", kind)
        ])  # fmt: skip
    return created


def exception_record(
    *, order_id: int, kind: str, exception_id: str, subject: str = "", link: str = "", prefer_user_id: int | None = None
) -> None:
    """Tracking opened an exception (delay, customs hold …) on the order: run the exception rules. The tasks they
    create carry `subject` in their name ("Customs hold on HAM-26-000004") and `link` in their instructions, and go
    to `prefer_user_id` first when that person can take the team's work. Nothing for a cancelled or closed order."""
    with transaction.atomic():
        run = _run_for(order_id)
        if run is None:
            return
        trigger = RuleTrigger(
            RuleEvent.EXCEPTION_OPENED, f"exception:{exception_id}", kind.strip(), subject=subject, link=link,
            prefer_user_id=prefer_user_id,
        )  # fmt: skip
        rules_fire(run=run, triggers=[trigger])
        create_tasks(run, [])  # the date-triggered tasks, if this event bound the order


def key_date_record(*, order_id: int, anchor: str, at: datetime.datetime) -> list[Task]:
    """A date tasks can be timed from (ETD, cut-off) is known or changed: store it, move the still-scheduled
    tasks timed from it, and schedule the ones that were waiting for it. Nothing (not even the date) for a
    cancelled or closed order: the dates only time its tasks."""
    with transaction.atomic():
        run = _run_for(order_id)
        if run is None:
            return []
        OrderKeyDate.objects.update_or_create(order_id=order_id, anchor=anchor, defaults={"at": at})
        moved = _reschedule(run, anchor=anchor)
        return moved + create_tasks(run, date_drafts(run, anchors={anchor}))


def _reschedule(run: OrderRun, *, anchor: str) -> list[Task]:
    anchor_at = run.anchor_at(anchor)
    scheduled = list(
        Task.objects.select_for_update(of=("self",))
        .filter(order=run.order, state=TaskState.SCHEDULED, definition__date_anchor=anchor)
        .select_related("definition")
    )
    for task in scheduled:
        if anchor_at is not None and task.definition is not None:
            was_due = task.due_at
            task.available_at = anchor_at + datetime.timedelta(hours=task.definition.date_offset_hours)
            task.due_at = run.due_at(
                hours=task.definition.due_in_hours, anchor=task.definition.due_anchor,
                business=task.definition.due_in_business_hours, start=max(task.available_at, run.now),
            )  # fmt: skip
            if task.due_at and (was_due is None or task.due_at > was_due):
                task.escalated_at = None  # due later: going overdue again is a new episode, escalated once more
    Task.objects.bulk_update(scheduled, ["available_at", "due_at", "escalated_at"])
    return scheduled


def scheduled_tasks_open(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Open the scheduled tasks whose time has come, assign and announce them; one transaction each, so a
    crash keeps what is done and the next run does the rest. Returns how many opened."""
    now = now or timezone.now()
    due = list(
        Task.objects.filter(state=TaskState.SCHEDULED, available_at__lte=now)
        .order_by("available_at")
        .values_list("pk", flat=True)[:limit]
    )
    opened = 0
    for pk in due:
        with transaction.atomic():
            task = (
                Task.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("order", "definition")
                .filter(pk=pk, state=TaskState.SCHEDULED)
                .first()
            )
            if task is None:
                continue
            task.state = TaskState.OPEN
            draft = Draft(task, task.definition.assign_rule if task.definition else "least_loaded",
                          task.definition.assignee_id if task.definition else None)  # fmt: skip
            preassigned = task.assignee_id  # given to someone while scheduled: assign_drafts keeps them
            assign_drafts([draft], order=task.order, now=now)
            if preassigned:  # load counts open tasks only, so theirs grows now (assign_drafts counts only its own)
                loads_adjust([(task.team_id, preassigned, 1)], now=now)
            task.save(update_fields=["state", "team", "assignee", "assigned_at"])
            TaskEvent.objects.create(task=task, verb="opened", at=now)
            if task.assignee_id:
                notify([Notice(task.assignee_id, NotificationKind.ASSIGNED, f"{task.name} · {task.order.reference}",
                               url=task.get_absolute_url(), task=task)])  # fmt: skip
            opened += 1
    return opened


def overdue_tasks_escalate(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Tell each overdue task's team lead, once per overdue episode: `escalated_at` is set by a conditional
    UPDATE in the same transaction as the notification, so a rerun or a second worker finds nothing left to do.
    Reopening a task, or moving its due time later, clears `escalated_at`: going overdue again escalates again."""
    now = now or timezone.now()
    overdue = list(
        Task.objects.filter(state=TaskState.OPEN, escalated_at__isnull=True, due_at__lt=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    with_rules = Rule.objects.filter(event=RuleEvent.TASK_OVERDUE, is_active=True).exists()
    escalated = 0
    for pk in overdue:
        with transaction.atomic():
            claimed = Task.objects.filter(pk=pk, state=TaskState.OPEN, escalated_at__isnull=True).update(
                escalated_at=now
            )
            if not claimed:
                continue
            task = Task.objects.select_related("order__customer", "order__branch", "team__lead", "assignee").get(pk=pk)
            _escalate(task, now=now, with_rules=with_rules)
            escalated += 1
    return escalated


def _escalate(task: Task, *, now: datetime.datetime, with_rules: bool) -> None:
    TaskEvent.objects.create(task=task, verb="escalated", at=now)
    lead = task.team.lead if task.team else None
    # A lead who left (deactivated, or no longer staff: a customer's person never reads our orders) is told nothing.
    lead_id = lead.pk if lead is not None and is_active_staff(lead.pk) else None
    if lead_id:
        who = task.assignee or "nobody"
        zone = branch_zone(task.order.branch)  # as the assignment notice gives the due time
        due = f"{timezone.localtime(task.due_at, zone):%a %d %b %H:%M} ({zone_label(zone)})" if task.due_at else "—"
        notify([
            Notice(lead_id, NotificationKind.ESCALATED, f"Overdue: {task.name} · {task.order.reference}",
                   body=f"Assigned to {who}; it was due {due}.", url=task.get_absolute_url(), task=task),
        ])  # fmt: skip
    if with_rules:  # the order's workflow context costs queries; only rules need it
        run = order_run(order=task.order, now=now)
        # once per overdue episode, like the escalation: the escalated_at just claimed names the episode
        episode = f"task_overdue:{task.pk}:{task.escalated_at:%Y%m%dT%H%M%S.%f}"
        rules_fire(run=run, triggers=[RuleTrigger(RuleEvent.TASK_OVERDUE, episode, task.team_function)])
        create_tasks(run, [])


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
