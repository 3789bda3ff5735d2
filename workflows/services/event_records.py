"""What other apps tell the workflow about an order: milestones, documents, exceptions, key dates. Each runs
in one transaction and is idempotent (see services.transition_handling); a cancelled or closed order gets nothing.

The hooks for apps that do not exist yet (tracking's milestones and exceptions, documents' uploads) are
`milestone_record`, `exception_record`, `document_record` and `key_date_record`: their receivers call them.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from workflows.models import (
    Notification,
    NotificationKind,
    OrderKeyDate,
    RuleEvent,
    Task,
    TaskEvent,
    TaskState,
    TriggerKind,
)
from workflows.services import holds
from workflows.services.auto_completion import auto_complete, event_remember
from workflows.services.binding import order_run
from workflows.services.notify import Notice, notify
from workflows.services.rules import RuleTrigger, rules_fire
from workflows.services.runs import OrderRun, order_for_event
from workflows.services.task_changes import date_moved_text, task_time_text
from workflows.services.task_creation import create_tasks, date_drafts, date_timing, task_due_at
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
    """A date tasks can be timed from (ETD, cut-off) is known or changed: store it, move the scheduled and open
    tasks timed or due from it (_reschedule), and schedule the ones that were waiting for it. Returns the tasks it
    moved and made. Nothing (not even the date) for a cancelled or closed order: the dates only time its tasks."""
    with transaction.atomic():
        run = _run_for(order_id)
        if run is None:
            return []
        _, first = OrderKeyDate.objects.update_or_create(order_id=order_id, anchor=anchor, defaults={"at": at})
        moved = _reschedule(run, anchor=anchor, known_before=not first)
        return moved + create_tasks(run, date_drafts(run, anchors={anchor}))


def _reschedule(run: OrderRun, *, anchor: str, known_before: bool) -> list[Task]:
    """Move the order's scheduled and open tasks timed from `anchor` (a date-triggered definition's date) or due
    from it (a definition's `due_anchor`, whatever starts its task) to the timing the date gives them now
    (_timing_now); the tasks that moved. One read (the tasks, locked, with their definitions) and one write, however
    many tasks move, then their history and the notices.

    Each moved task's history says so ("rescheduled": "The cargo cut-off moved: it is now due …, it was due …").
    Due later and no longer overdue, its escalation is cleared: going overdue again is a new episode, escalated once
    more. Still overdue, it is the same episode: an ETA slipping by the hour does not tell the lead again. An open
    task's assignee is told when it becomes due earlier (or gets a due time it had none): it is in their list, and
    its deadline came closer. Due later, the history is enough: nothing is lost by reading it later. A scheduled
    task's assignee is told nothing: opening it tells them, at its new time. A done or cancelled task is not moved
    (reopening it times it again: task_changes.reopen_task)."""
    timed = Q(definition__trigger_kind=TriggerKind.DATE, definition__date_anchor=anchor) | Q(
        definition__due_anchor=anchor
    )
    tasks = list(
        Task.objects.select_for_update(of=("self",))
        .filter(timed, order=run.order, state__in=(TaskState.SCHEDULED, TaskState.OPEN))
        .select_related("definition")
        .order_by("id")
    )
    moved, history, notices = [], [], []
    for task in tasks:
        task.order = run.order  # the history's times read the order's branch once, not once per task
        was_opening, was_due = task.available_at, task.due_at
        task.available_at, task.due_at = _timing_now(task, run)
        if (task.available_at, task.due_at) == (was_opening, was_due):
            continue
        if task.due_at and task.due_at > run.now and (was_due is None or task.due_at > was_due):
            task.escalated_at = None  # due later, not overdue now: going overdue again is a new episode
        said = date_moved_text(
            task, anchor=anchor, known_before=known_before, was_opening=was_opening, was_due=was_due
        )[:300]
        history.append(TaskEvent(task=task, verb="rescheduled", detail=said, at=run.now))
        earlier = task.due_at is not None and (was_due is None or task.due_at < was_due)
        if earlier and task.state == TaskState.OPEN and task.assignee_id:
            title = _DUE_EARLIER if was_due is not None else _DUE_TIME_SET
            notices.append(Notice(task.assignee_id, NotificationKind.ASSIGNED,
                                  f"{title}: {task.name} · {run.order.reference}", body=said,
                                  url=task.get_absolute_url(), task=task))  # fmt: skip
        moved.append(task)
    Task.objects.bulk_update(moved, ["available_at", "due_at", "escalated_at"])
    TaskEvent.objects.bulk_create(history)
    notify(_not_yet_told(notices, now=run.now), config=run.config)
    return moved


_DUE_EARLIER, _DUE_TIME_SET = "Due earlier", "Due time set"
_DUE_NOTICES = (f"{_DUE_EARLIER}: ", f"{_DUE_TIME_SET}: ")  # the titles _reschedule's notices start with
_MOVED_AGAIN = " Since then it moved again: it is now due "


def _not_yet_told(notices: list[Notice], *, now: datetime.datetime) -> list[Notice]:
    """The due-time notices to send: an assignee who has not read the last one about the same task is not sent
    another; that unread one is brought up to date instead (its time, and its body: what it first said, with the
    due time they last knew, then "Since then it moved again: it is now due …"), so an estimate that keeps coming
    earlier (an ETA, hour by hour) leaves one notice in their list, not one a move. Its email copy, if it was sent, is
    not sent again. One read, and one write when there is one to bring up to date.

    Its title says what the reader needs now. A notice that gave the task its first due time ("Due time set") told
    them that time (its first line, its email copy, its title in their list); a move that brings the task earlier
    than that makes it "Due earlier", as a notice of its own would have said: kept "Due time set", it read as news
    of a time they could plan on, though the time had come closer since. A notice is brought up to date only by a
    move earlier than the due time just before it (a move later tells nobody: _reschedule), so "earlier" is than
    that time."""
    if not notices:
        return []
    titled = Q()
    for prefix in _DUE_NOTICES:
        titled |= Q(title__startswith=prefix)
    unread = {
        (row.task_id, row.recipient_id): row
        for row in Notification.objects.filter(
            titled, task_id__in=[notice.task.pk for notice in notices if notice.task is not None],
            recipient_id__in={notice.recipient_id for notice in notices}, read_at__isnull=True,
        ).order_by("pk")
    }  # fmt: skip
    fresh, updated = [], []
    for notice in notices:
        row = unread.get((notice.task.pk if notice.task is not None else None, notice.recipient_id))
        if row is None:
            fresh.append(notice)
        else:
            first = row.body.split(_MOVED_AGAIN)[0]
            due = task_time_text(notice.task, notice.task.due_at) if notice.task and notice.task.due_at else "—"
            row.body, row.created_at = f"{first}{_MOVED_AGAIN}{due}.", now
            if notice.title.startswith(_DUE_NOTICES[0]):  # earlier than the time it told them: it says so now
                row.title = notice.title[:200]
            updated.append(row)
    Notification.objects.bulk_update(updated, ["title", "body", "created_at"])
    return fresh


def _timing_now(task: Task, run: OrderRun) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """(opening, due time) a task of _reschedule takes from its dates as they are now, task_creation.date_timing's
    rule. A scheduled task is timed as a new one would be now: it opens at its date plus its offset. An open task
    keeps its opening (someone may be working it; it stays in their list, open) and is due as it would have been
    had its dates been so when it was made (`made_at`): its hours from its opening by the new date, or from when it
    was made if that came later, or from its due date. A task started by an event (a state, a milestone) and due
    from a date: its due time only."""
    definition = task.definition
    if definition is None:
        return task.available_at, task.due_at
    if definition.trigger_kind != TriggerKind.DATE:
        return task.available_at, task_due_at(definition, run, start=task.created_at)
    made_at = run.now if task.state == TaskState.SCHEDULED else task.created_at
    timing = date_timing(definition, run, made_at=made_at)
    if timing is None:
        return task.available_at, task.due_at
    if task.state == TaskState.SCHEDULED:
        return timing.opens_at, timing.due_at
    return task.available_at, timing.due_at
