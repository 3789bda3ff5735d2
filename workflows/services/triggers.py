"""What sets the workflow in motion: order transitions, milestones, documents, key dates, the clock.

Each entry point runs in one transaction and is idempotent, so the on-commit receiver, a redelivered
Celery task and the catch-up sweep can all call it without creating anything twice:
- a transition is claimed in ProcessedTransition before its effects are written (engine.transition_claim:
  the claim and the loading of the order are one statement);
- a task is unique per (order, source key); a rule run is unique per (rule, event key);
- opening a scheduled task and escalating an overdue one are conditional UPDATEs.

The hooks for apps that do not exist yet (tracking's milestones and exceptions, documents' uploads) are
`milestone_record`, `exception_record`, `document_record` and `key_date_record`: their receivers call them.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from orders.models import OrderStatus, OrderTransition
from workflows.models import (
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
from workflows.services.assignment import Draft, assign_drafts
from workflows.services.engine import (
    OrderRun,
    auto_complete,
    close_tasks,
    create_tasks,
    date_drafts,
    draft_from_definition,
    order_for_event,
    order_run,
    state_events,
    transition_claim,
)
from workflows.services.notify import Notice, notify
from workflows.services.rules import RuleTrigger, rules_fire

logger = logging.getLogger(__name__)

# Nothing further happens to a cancelled or closed order: whatever is still open about it is moot.
_FINAL = (OrderStatus.CANCELLED, OrderStatus.CLOSED)


def _occurrence(record: OrderTransition) -> str:
    # Each state is entered once on the forward path; holds can repeat, so each hold is its own occurrence.
    return f"{record.target}#{record.pk}" if record.target == OrderStatus.ON_HOLD else record.target


def transition_handle(*, transition_id: int) -> bool:
    """Create, complete or cancel the tasks an order's state change calls for and run the rules it triggers.
    Exactly once per transition; returns False when it had already been handled."""
    with transaction.atomic():
        record = transition_claim(transition_id)
        if record is None:
            return False
        run = order_run(order=record.order, now=timezone.now())
        run.hold_loads()  # written just before the commit: see services.assignment
        if record.target in _FINAL:
            _cancel_remaining(run, why=f"Order {OrderStatus(record.target).label.lower()}")
        else:
            auto_complete(run, state_events(run.order))
        if record.name != "release":  # release returns to a state already entered: its tasks exist
            _fire(run, kind=TriggerKind.STATE, match=record.target, occurrence=_occurrence(record))
        chain = tuple((record.payload or {}).get("automation", {}).get("chain", []))
        triggers = [RuleTrigger(RuleEvent.ORDER_ENTERED_STATE, f"transition:{record.pk}:state", record.target)]
        if record.name == "submit":
            triggers.insert(0, RuleTrigger(RuleEvent.ORDER_SUBMITTED, f"transition:{record.pk}"))
        rules_fire(run=run, triggers=triggers, chain=chain)
        create_tasks(run, [])  # the date-triggered tasks found if this event bound the order (release)
        run.write_loads()
    return True


def _fire(run: OrderRun, *, kind: str, match: str, occurrence: str) -> list[Task]:
    definitions = [
        d for d in run.definitions()
        if d.trigger_kind == kind and (d.trigger_state if kind == TriggerKind.STATE else d.trigger_code).upper()
        == match.upper()
    ]  # fmt: skip
    drafts = [draft_from_definition(d, run, occurrence=occurrence, start=run.now) for d in definitions]
    return create_tasks(run, drafts)


def _cancel_remaining(run: OrderRun, *, why: str) -> None:
    remaining = list(
        Task.objects.select_for_update().filter(order=run.order, state__in=[TaskState.OPEN, TaskState.SCHEDULED])
    )
    close_tasks(remaining, state=TaskState.CANCELLED, by=None, now=run.now, verb="cancelled", detail=why)
    run.forget_tasks()


def _run_for(order_id: int) -> OrderRun:
    return order_run(order=order_for_event(order_id), now=timezone.now())


def milestone_record(*, order_id: int, code: str, event_id: str = "") -> list[Task]:
    """A milestone (DEPARTED, ARRIVED …) happened on the order: complete the tasks it completes, create the
    tasks it triggers, run the milestone rules. Called by tracking's receiver; safe to call twice."""
    code = code.strip().upper()
    with transaction.atomic():
        run = _run_for(order_id)
        auto_complete(run, [f"milestone:{code}"])
        created = _fire(run, kind=TriggerKind.MILESTONE, match=code, occurrence=f"milestone:{code}")
        rules_fire(run=run, triggers=[
            RuleTrigger(RuleEvent.MILESTONE_RECORDED, f"milestone:{order_id}:{code}:{event_id}", code)
        ])  # fmt: skip
    return created


def document_record(*, order_id: int, document_type: str, document_id: str = "") -> list[Task]:
    """A document (HBL, POD …) now exists for the order: complete, create and run rules as for milestones.
    Called by documents' receiver; safe to call twice."""
    kind = document_type.strip().upper()
    with transaction.atomic():
        run = _run_for(order_id)
        auto_complete(run, [f"document:{kind}"])
        created = _fire(run, kind=TriggerKind.DOCUMENT, match=kind, occurrence=f"document:{kind}")
        rules_fire(run=run, triggers=[
            RuleTrigger(RuleEvent.DOCUMENT_UPLOADED, f"document:{order_id}:{kind}:{document_id}", kind)
        ])  # fmt: skip
    return created


def exception_record(*, order_id: int, kind: str, exception_id: str) -> None:
    """Tracking opened an exception (delay, customs hold …) on the order: run the exception rules."""
    with transaction.atomic():
        run = _run_for(order_id)
        rules_fire(
            run=run, triggers=[RuleTrigger(RuleEvent.EXCEPTION_OPENED, f"exception:{exception_id}", kind.strip())]
        )
        create_tasks(run, [])  # the date-triggered tasks, if this event bound the order


def key_date_record(*, order_id: int, anchor: str, at: datetime.datetime) -> list[Task]:
    """A date tasks can be timed from (ETD, cut-off) is known or changed: store it, move the still-scheduled
    tasks timed from it, and schedule the ones that were waiting for it."""
    with transaction.atomic():
        OrderKeyDate.objects.update_or_create(order_id=order_id, anchor=anchor, defaults={"at": at})
        run = _run_for(order_id)
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
            task.available_at = anchor_at + datetime.timedelta(hours=task.definition.date_offset_hours)
            task.due_at = run.due_at(
                hours=task.definition.due_in_hours, anchor=task.definition.due_anchor,
                business=task.definition.due_in_business_hours, start=max(task.available_at, run.now),
            )  # fmt: skip
    Task.objects.bulk_update(scheduled, ["available_at", "due_at"])
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
            assign_drafts([draft], order=task.order, now=now)
            task.save(update_fields=["state", "team", "assignee", "assigned_at"])
            TaskEvent.objects.create(task=task, verb="opened", at=now)
            if task.assignee_id:
                notify([Notice(task.assignee_id, NotificationKind.ASSIGNED, f"{task.name} · {task.order.reference}",
                               url=task.get_absolute_url(), task=task)])  # fmt: skip
            opened += 1
    return opened


def overdue_tasks_escalate(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Tell each overdue task's team lead, once: `escalated_at` is set by a conditional UPDATE in the same
    transaction as the notification, so a rerun or a second worker finds nothing left to do."""
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
            task = Task.objects.select_related("order__customer", "order__branch", "team", "assignee").get(pk=pk)
            _escalate(task, now=now, with_rules=with_rules)
            escalated += 1
    return escalated


def _escalate(task: Task, *, now: datetime.datetime, with_rules: bool) -> None:
    TaskEvent.objects.create(task=task, verb="escalated", at=now)
    lead_id = task.team.lead_id if task.team else None
    if lead_id:
        who = task.assignee or "nobody"
        notify([
            Notice(lead_id, NotificationKind.ESCALATED, f"Overdue: {task.name} · {task.order.reference}",
                   body=f"Assigned to {who}; it was due {task.due_at:%d %b %H:%M} UTC.", url=task.get_absolute_url(),
                   task=task),
        ])  # fmt: skip
    if with_rules:  # the order's workflow context costs queries; only rules need it
        run = order_run(order=task.order, now=now)
        rules_fire(
            run=run, triggers=[RuleTrigger(RuleEvent.TASK_OVERDUE, f"task_overdue:{task.pk}", task.team_function)]
        )
        create_tasks(run, [])


def pending_transitions_process(
    *, older_than: datetime.timedelta = datetime.timedelta(seconds=30), limit: int = 500
) -> int:
    """Handle transitions whose on-commit handling never happened (the process died after the order's
    commit). The transition row is written with the state change, so nothing is lost; the claim makes a
    late duplicate harmless. Looks back to what was handled a day ago."""
    cutoff = timezone.now() - older_than
    floor = (
        ProcessedTransition.objects.filter(processed_at__lt=timezone.now() - datetime.timedelta(days=1)).aggregate(
            floor=Max("transition_id")
        )["floor"]
        or 0
    )
    handled = ProcessedTransition.objects.filter(transition_id=OuterRef("pk"))
    pending = list(
        OrderTransition.objects.filter(pk__gt=floor, at__lt=cutoff)
        .exclude(Exists(handled))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in pending:
        done += transition_handle(transition_id=pk)
    return done


def on_order_status_changed(*, transition_id: int | None, order_id: int, **_: Any) -> None:
    """The order_status_changed receiver's work: handle the transition now, in the process that made it."""
    if transition_id is None:  # an event from before apply() sent the id: find the newest transition
        transition_id = (
            OrderTransition.objects.filter(order_id=order_id).order_by("-pk").values_list("pk", flat=True).first()
        )
    if transition_id is None:
        return
    try:
        transition_handle(transition_id=transition_id)
    except DatabaseError:
        # The order's change is committed and its transition row is the durable record: the catch-up
        # sweep (pending_transitions_process) handles it shortly. The person's action must not fail.
        logger.exception("Workflow handling of order transition %s failed; the sweep will retry", transition_id)
