"""Changing tasks that exist: closing them (done or cancelled), reopening them and giving them to someone
else, with everything that hangs off them (load counts, the tasks that wait on them, history, the new assignee
told).

Callers hold a transaction; nothing here commits or talks to the network.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from oms.templatetags.oms_dates import datetime_text
from partners.time_zones import branch_zone, zone_label
from workflows.models import AssignRule, DateAnchor, NotificationKind, Task, TaskEvent, TaskState, TriggerKind
from workflows.models.teams import is_active_staff
from workflows.services.assignment import Draft, LoadChange, assign_drafts, loads_adjust
from workflows.services.notify import Notice, notify
from workflows.services.runs import ExistingTask

if TYPE_CHECKING:
    from workflows.services.task_creation import DateTiming

_SATISFIED = (TaskState.DONE, TaskState.CANCELLED)


def actor_name(by: Any, api_key: Any = None) -> str:
    """Who did something to a task, as people read it: the person, else the API key (an integrator's system, by
    the name it was given), else the workflow's automation."""
    if getattr(by, "pk", None):
        return str(by)
    if api_key is not None:
        return f"API key “{api_key.name}”"
    return "Automation"


def close_tasks(
    tasks: list[Task], *, state: str, by: Any, now: datetime.datetime, verb: str, detail: str = "",
    pending: list[LoadChange] | None = None, api_key: Any = None,
) -> None:  # fmt: skip
    """Mark tasks done or cancelled; release their load and the tasks that waited on them. `pending`: the
    caller's held load changes (OrderRun.load_changes), which the release joins; else it is written now.
    `api_key`: the key that closed them when no person did (the API), kept for their page and history."""
    tasks = [t for t in tasks if t.state in (TaskState.OPEN, TaskState.SCHEDULED)]
    if not tasks:
        return
    by_id, key_id = getattr(by, "pk", None), getattr(api_key, "pk", None)
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(
        state=state, completed_at=now, completed_by_id=by_id, completed_by_key_id=key_id
    )
    _after_close(tasks, state=state, by_id=by_id, key_id=key_id, now=now, verb=verb, detail=detail, pending=pending)


def _after_close(
    tasks: list[Task], *, state: str, by_id: int | None, now: datetime.datetime, verb: str, detail: str,
    known: dict[str, ExistingTask] | None = None, pending: list[LoadChange] | None = None, key_id: int | None = None,
) -> None:  # fmt: skip
    """What follows closing tasks (`tasks` still carry the state they had): load, dependents, history."""
    released = [(t.team_id, t.assignee_id, -1) for t in tasks if t.state == TaskState.OPEN]
    if pending is None:
        loads_adjust(released, now=now)
    else:
        pending += released
    for task in tasks:
        task.state, task.completed_at, task.completed_by_id, task.completed_by_key_id = state, now, by_id, key_id
    _unblock_dependents(tasks, known=known)
    TaskEvent.objects.bulk_create(
        TaskEvent(task=t, verb=verb, by_id=by_id, api_key_id=key_id, detail=detail[:300], at=now) for t in tasks
    )


def _unblock_dependents(finished: list[Task], *, known: dict[str, ExistingTask] | None = None) -> None:
    """Take the finished tasks' keys off the waiting lists of their orders' unfinished tasks. `known`: the
    order's tasks as read in this transaction; when none of them waits on a finished key, nothing is read."""
    keys_by_order: dict[int, set[str]] = {}
    for task in finished:
        if task.key:
            keys_by_order.setdefault(task.order_id, set()).add(task.key)
    if not keys_by_order:
        return
    if known is not None:
        finished_keys = set().union(*keys_by_order.values())
        if not any(t.state not in _SATISFIED and finished_keys & set(t.waiting_on) for t in known.values()):
            return
    waiting = []
    for order_id, keys in keys_by_order.items():
        waiting += list(
            Task.objects.filter(order_id=order_id, waiting_on__overlap=sorted(keys)).exclude(state__in=_SATISFIED)
        )
    for task in waiting:
        task.waiting_on = [key for key in task.waiting_on if key not in keys_by_order[task.order_id]]
    if waiting:
        Task.objects.bulk_update(waiting, ["waiting_on"])
    if known is not None:
        for existing in known.values():
            existing.waiting_on = [key for key in existing.waiting_on if key not in finished_keys]


def reopen_task(task: Task, *, by: Any, now: datetime.datetime, detail: str = "", announce: bool = True) -> None:
    """Put a done task back to open: its assignee carries it again and tasks after it wait again. Its
    escalation is cleared: escalation happens once per overdue episode, and a reopened task that goes (or
    still is) overdue is a new episode, escalated again by the next overdue_tasks_escalate.

    A task done before it opened (`available_at` still ahead: done early, or its milestone came first) goes back to
    scheduled instead: it blocks its steps again, is in nobody's load, and the clock opens it when its time comes
    (scheduled_tasks_open: assigned, counted and announced then). Once that time has passed, it is open.

    A task timed from a date (ETD, cut-off, requested pickup) is timed again first, as a task of its definition would
    be now (_timing_again): the date may have moved while it was done, and re-timing (event_records._reschedule)
    moves scheduled and open tasks, not done ones. When that moves its opening or due time, its history says so
    ("rescheduled").

    The assignee is told that it is theirs again, with the reason (`detail`), unless they reopened it themselves:
    it is back in their list and their load, and they thought it finished.

    An assignee who is no longer active OMS staff (left, deactivated, no staff role any more) does not get it back:
    they would never see it, and the team would not either (it is not unassigned). It is assigned as a new task of
    its kind would be (assign_drafts: its definition's rule, a rule's task the account owner first, else the
    least-loaded member; the team queue stays the queue), its history saying why, and the new assignee is told; a
    task scheduled again is unassigned instead, and assigned when it opens.

    `announce` False: nobody is told here, the caller tells them itself (as a cancelled booking does)."""
    by_id = getattr(by, "pk", None)
    left = task.assignee_id is not None and not is_active_staff(task.assignee_id)
    was_opening, was_due = task.available_at, task.due_at
    timing = _timing_again(task, now=now)
    if timing is not None:
        task.available_at, task.due_at = timing.opens_at, timing.due_at
    state = TaskState.SCHEDULED if task.available_at is not None and task.available_at > now else TaskState.OPEN
    Task.objects.filter(pk=task.pk).update(
        state=state, completed_at=None, completed_by=None, completed_by_key=None, escalated_at=None,
        available_at=task.available_at, due_at=task.due_at,
    )  # fmt: skip
    task.state, task.completed_at, task.completed_by_id, task.escalated_at = state, None, None, None
    task.completed_by_key_id = None
    TaskEvent.objects.create(task=task, verb="reopened", by_id=by_id, detail=detail[:300], at=now)
    if (task.available_at, task.due_at) != (was_opening, was_due):
        said = _retimed_text(task, was_opening=was_opening, was_due=was_due)
        TaskEvent.objects.create(task=task, verb="rescheduled", by_id=by_id, detail=said[:300], at=now)
    if left and state == TaskState.SCHEDULED:
        _unassign_leaver(task, now=now)
    elif left:
        _assign_again(task, by_id=by_id, now=now, announce=announce)
    else:
        if state == TaskState.OPEN:
            loads_adjust([(task.team_id, task.assignee_id, 1)], now=now)
        if announce and task.assignee_id and task.assignee_id != by_id:
            said = f": {detail}" if detail else "."
            notify([
                Notice(task.assignee_id, NotificationKind.ASSIGNED, f"Reopened: {task.name} · {task.order.reference}",
                       body=f"{actor_name(by)} reopened it{said}", url=task.get_absolute_url(), task=task)
            ])  # fmt: skip
    if task.key:
        dependents = list(
            Task.objects.filter(order_id=task.order_id, depends_on__contains=[task.key]).exclude(state__in=_SATISFIED)
        )
        for dependent in dependents:
            if task.key not in dependent.waiting_on:
                dependent.waiting_on = [*dependent.waiting_on, task.key]
        Task.objects.bulk_update(dependents, ["waiting_on"])


def _timing_again(task: Task, *, now: datetime.datetime) -> DateTiming | None:
    """The timing a reopened task takes (see reopen_task), or None when it keeps its own: a task not timed from a
    date, or whose date is not known (any more), keeps it, as does one whose time came where it was timed (it is
    open again with the due time it had, as any reopened task). Else it is timed as a task of its definition would
    be now (task_creation.date_timing: the rule that times new tasks and moves them with their date): scheduled
    when that opening is ahead, open once it has passed (due from now, as a new task opened now would be)."""
    definition = task.definition
    if definition is None or definition.trigger_kind != TriggerKind.DATE:
        return None
    # binding builds on task_creation, which builds on this module: imported here to keep the graph acyclic
    from workflows.services.binding import order_run
    from workflows.services.task_creation import date_timing

    timing = date_timing(definition, order_run(order=task.order, now=now))
    if timing is None:
        return None
    moved = task.available_at is not None and timing.opens_at != task.available_at
    return timing if timing.opens_at > now or moved else None


def task_time_text(task: Task, moment: datetime.datetime) -> str:
    """ "Fri 18 Dec 2026, 09:00 Europe/Berlin": a moment of the task (when it opens, is due) as its page says it,
    on the clock of its order's branch."""
    zone = branch_zone(task.order.branch)
    return f"{datetime_text(moment.astimezone(zone), 'weekday year')} {zone_label(zone)}"


def _retimed_text(task: Task, *, was_opening: datetime.datetime | None, was_due: datetime.datetime | None) -> str:
    """The history line of a reopened task timed again (_timing_again), for the people who work it: which date
    moved, when it opens now (or that its time came, so it is open), when it is due, and what it had before."""
    due = f"due {task_time_text(task, task.due_at)}" if task.due_at else "with no due time"
    if task.available_at == was_opening or task.available_at is None or task.definition is None:
        before = f" (it was due {task_time_text(task, was_due)})" if was_due else ""
        return f"The date it is due from moved while it was done: it is {due} now{before}."
    date = _date_words(task.definition.date_anchor)
    before = f" (it was to open {task_time_text(task, was_opening)})" if was_opening else ""
    when = task_time_text(task, task.available_at)
    if task.state == TaskState.SCHEDULED:
        return f"The {date} moved while it was done: it now opens {when}{before}, {due}."
    return f"The {date} moved while it was done: its time came {when}{before}, so it is open now, {due}."


def date_moved_text(
    task: Task, *, anchor: str, known_before: bool, was_opening: datetime.datetime | None,
    was_due: datetime.datetime | None,
) -> str:  # fmt: skip
    """The history line of a scheduled or open task whose date (`anchor`) moved (event_records._reschedule), or is
    known now (`known_before` False: a task due from it had no due time), for the people who work it. A scheduled
    task whose opening moved: when it opens now, as _retimed_text says it. Else (an open task keeps its opening, or
    only its due date moved): "The cargo cut-off moved: it is now due …, it was due …"."""
    date = f"The {_date_words(anchor)} {'moved' if known_before else 'is known'}"
    due = f"due {task_time_text(task, task.due_at)}" if task.due_at else "with no due time"
    if task.state == TaskState.SCHEDULED and task.available_at is not None and task.available_at != was_opening:
        before = f" (it was to open {task_time_text(task, was_opening)})" if was_opening else ""
        return f"{date}: it now opens {task_time_text(task, task.available_at)}{before}, {due}."
    now = f"it is now {due}" if task.due_at else "it has no due time now"
    before = f"it was due {task_time_text(task, was_due)}" if was_due else "it had no due time"
    return f"{date}: {now}, {before}."


def _date_words(anchor: str) -> str:
    """ "cargo cut-off", "ETD": a date tasks are timed from as a sentence names it after "the"."""
    label = str(dict(DateAnchor.choices).get(anchor, anchor))
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _unassign_leaver(task: Task, *, now: datetime.datetime) -> None:
    """Take a task scheduled again off an assignee who left (see reopen_task): opening it assigns it."""
    leaver = task.assignee
    Task.objects.filter(pk=task.pk).update(assignee_id=None, assigned_at=None)
    task.assignee_id, task.assigned_at = None, None
    detail = f"{leaver} is no longer active OMS staff: it is assigned when it opens."
    TaskEvent.objects.create(task=task, verb="unassigned", detail=detail, at=now)


def _assign_again(task: Task, *, by_id: int | None, now: datetime.datetime, announce: bool) -> None:
    """Give a reopened task whose assignee left to whoever its assignment picks now (see reopen_task)."""
    leaver = task.assignee
    definition = task.definition
    rule = definition.assign_rule if definition is not None else AssignRule.ACCOUNT_OWNER  # as services.rules
    draft = Draft(task, rule, definition.assignee_id if definition is not None else None)
    task.assignee_id, task.assigned_at = None, None
    assign_drafts([draft], order=task.order, now=now)  # counts the new assignee's load
    Task.objects.filter(pk=task.pk).update(
        team_id=task.team_id, assignee_id=task.assignee_id, assigned_at=task.assigned_at
    )
    given = f"given to {task.assignee}" if task.assignee_id else "back to the team queue"
    TaskEvent.objects.create(
        task=task, verb="reassigned", detail=f"{leaver} is no longer active OMS staff: {given}.", at=now
    )
    if announce and task.assignee_id and task.assignee_id != by_id:
        notify([
            Notice(task.assignee_id, NotificationKind.ASSIGNED, f"{task.name} · {task.order.reference}",
                   body=f"Reopened; {leaver}, who had it, is no longer active OMS staff.", url=task.get_absolute_url(),
                   task=task)
        ])  # fmt: skip


def set_assignee(
    task: Task, *, user_id: int | None, by: Any, now: datetime.datetime, verb: str,
    pending: list[LoadChange] | None = None, api_key: Any = None,
) -> bool:  # fmt: skip
    """Give an open (or scheduled) task to `user_id` (None: back to the team queue), moving the load (into
    `pending` when the caller holds its load changes) and telling the new assignee who gave it (`by`, else
    `api_key`, else automation). Returns False when nothing changed."""
    if task.assignee_id == user_id:
        return False
    previous = task.assignee_id
    Task.objects.filter(pk=task.pk).update(assignee_id=user_id, assigned_at=now if user_id else None)
    if task.state == TaskState.OPEN:
        moved = [(task.team_id, previous, -1), (task.team_id, user_id, 1)]
        if pending is None:
            loads_adjust(moved, now=now)
        else:
            pending += moved
    task.assignee_id, task.assigned_at = user_id, now if user_id else None
    TaskEvent.objects.create(
        task=task, verb=verb, by_id=getattr(by, "pk", None), api_key_id=getattr(api_key, "pk", None), at=now
    )
    if user_id and user_id != getattr(by, "pk", None):
        notify([
            Notice(user_id, NotificationKind.ASSIGNED, f"{task.name} · {task.order.reference}",
                   body=f"{actor_name(by, api_key)} gave you this task.", url=task.get_absolute_url(), task=task)
        ])  # fmt: skip
    return True
