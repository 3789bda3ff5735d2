"""What an order's state change sets in motion: the tasks its new state calls for (created, completed,
cancelled, or made closed when the order has left that state meanwhile) and the rules it triggers.

Each entry point runs in one transaction and is idempotent, so the on-commit receiver, a redelivered
Celery task and the catch-up sweep can all call it without creating anything twice:
- a transition is claimed in ProcessedTransition and taken off the queue before its effects are written
  (runs.transitions_claim, transitions_claim_queued: the claim and the loading of the orders are one
  statement); a worker's batch is one transaction, so a worker killed half-way leaves it all queued;
- a task is unique per (order, source key); a rule run is unique per (rule, event key);
- opening a scheduled task and escalating an overdue one are conditional UPDATEs.

When a transition is handled (at once, or queued for the worker), and what retries it: services.transition_queue.
The other events (milestones, documents, exceptions, key dates): services.event_records; the clock: services.clock.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from orders.models import OrderStatus, OrderTransition
from workflows.models import RuleEvent, Task, TaskState, TriggerKind
from workflows.services.assignment import Draft
from workflows.services.auto_completion import auto_complete, state_events
from workflows.services.binding import order_run, order_runs
from workflows.services.rules import RuleTrigger, rules_fire
from workflows.services.runs import Batch, OrderRun, order_for_event, transitions_claim, transitions_claim_queued
from workflows.services.task_changes import close_tasks
from workflows.services.task_creation import create_tasks, draft_close, draft_from_definition

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
    """Each transition's workflow effects, in order, as one batch (runs.Batch): one statement binds the
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
