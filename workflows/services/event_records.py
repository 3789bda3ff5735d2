"""What other apps tell the workflow about an order: milestones, documents, exceptions, key dates. Each runs
in one transaction and is idempotent (see services.transition_handling); a cancelled or closed order gets nothing.

The hooks for apps that do not exist yet (tracking's milestones and exceptions, documents' uploads) are
`milestone_record`, `exception_record`, `document_record` and `key_date_record`: their receivers call them.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from workflows.models import OrderKeyDate, RuleEvent, Task, TaskState, TriggerKind
from workflows.services import holds
from workflows.services.auto_completion import auto_complete, event_remember
from workflows.services.binding import order_run
from workflows.services.rules import RuleTrigger, rules_fire
from workflows.services.runs import OrderRun, order_for_event
from workflows.services.task_creation import create_tasks, date_drafts, date_timing
from workflows.services.transition_handling import _FINAL, _fire


def _run_for(order_id: int) -> OrderRun | None:
    """The order's workflow context for an event on it, or None when the order is cancelled or closed:
    nothing further happens to it (its open tasks were cancelled with it; see transition_handling._state_tasks),
    so a late milestone, document, exception or date neither opens, completes nor schedules anything."""
    order = order_for_event(order_id)
    if order.status in _FINAL:
        return None
    return order_run(order=order, now=timezone.now())


def milestone_record(*, order_id: int, code: str, event_id: str | int = "") -> list[Task]:
    """A milestone (DEPARTED, ARRIVED …) happened on the order: complete the tasks it completes (and remember
    it for those made later: auto_completion.event_remember), create the tasks it triggers, run the milestone rules.
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
    """Move the order's scheduled tasks timed from `anchor` to the timing its date gives them now (date_timing, as
    new tasks are timed; a done task is timed so when it is reopened: task_changes.reopen_task)."""
    scheduled = list(
        Task.objects.select_for_update(of=("self",))
        .filter(order=run.order, state=TaskState.SCHEDULED, definition__date_anchor=anchor)
        .select_related("definition")
    )
    for task in scheduled:
        timing = date_timing(task.definition, run) if task.definition is not None else None
        if timing is not None:
            was_due = task.due_at
            task.available_at, task.due_at = timing.opens_at, timing.due_at
            if task.due_at and (was_due is None or task.due_at > was_due):
                task.escalated_at = None  # due later: going overdue again is a new episode, escalated once more
    Task.objects.bulk_update(scheduled, ["available_at", "due_at", "escalated_at"])
    return scheduled
