"""Creating an order's tasks: drafts from its workflow's definitions (by state, milestone, document or date),
saved with their dependencies, team, assignee and load, or made closed when their reason to be open has passed.

Callers hold a transaction; nothing here commits or talks to the network.
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

from workflows.models import Task, TaskDefinition, TaskState, TriggerKind
from workflows.services.assignment import Draft, assign_drafts
from workflows.services.auto_completion import _done_already
from workflows.services.runs import Batch, ExistingTask, OrderRun
from workflows.services.task_changes import _SATISFIED, _unblock_dependents


def _draft(definition: TaskDefinition, run: OrderRun, *, occurrence: str) -> Draft:
    task = Task(
        order=run.order, definition=definition, source_key=f"{definition.key}@{occurrence}", key=definition.key,
        name=definition.name, instructions=definition.instructions, team_function=definition.team_function,
        state=TaskState.OPEN, blocks=list(definition.blocks), depends_on=list(definition.depends_on),
        auto_complete_on=definition.auto_complete_on,
    )  # fmt: skip
    return Draft(task, definition.assign_rule, definition.assignee_id)


def task_due_at(definition: TaskDefinition, run: OrderRun, *, start: datetime.datetime) -> datetime.datetime | None:
    """When a task of `definition` that starts at `start` is due: its hours from then, or from its own due date
    (`due_anchor`) when it has one (OrderRun.due_at)."""
    return run.due_at(
        hours=definition.due_in_hours, anchor=definition.due_anchor, business=definition.due_in_business_hours,
        start=start,
    )  # fmt: skip


def draft_from_definition(
    definition: TaskDefinition, run: OrderRun, *, occurrence: str, start: datetime.datetime
) -> Draft:
    draft = _draft(definition, run, occurrence=occurrence)
    draft.task.due_at = task_due_at(definition, run, start=start)
    return draft


class DateTiming(NamedTuple):
    opens_at: datetime.datetime
    due_at: datetime.datetime | None


def date_timing(
    definition: TaskDefinition, run: OrderRun, *, made_at: datetime.datetime | None = None
) -> DateTiming | None:
    """When a date-triggered task of `definition` opens and is due, timed at `run.now`: it opens at its date plus
    the definition's offset, and is due its hours after it opens (after now once that moment has passed: it opens
    now), or from its own due date; None while its date is not known. `made_at`: timed as a task made then, with
    the dates as they are now (an open task whose date moved: its hours count from its opening by the new date, or
    from when it was made if that came later, as they would have had the date been so when it was made).

    The one rule for every task timed from a date: a new one (date_drafts), one whose date moved while it waits or
    is worked (event_records._reschedule) and one reopened after it was done (task_changes.reopen_task), so all
    agree."""
    anchor_at = run.anchor_at(definition.date_anchor)
    if anchor_at is None:
        return None
    opens_at = anchor_at + datetime.timedelta(hours=definition.date_offset_hours)
    return DateTiming(opens_at, task_due_at(definition, run, start=max(opens_at, made_at or run.now)))


def date_drafts(run: OrderRun, *, anchors: set[str] | None = None) -> list[Draft]:
    """The order's date-triggered tasks whose date is known: scheduled to open at the date plus its offset
    (or open now when that moment has passed), timed by date_timing."""
    drafts = []
    for definition in run.definitions():
        if definition.trigger_kind != TriggerKind.DATE or (
            anchors is not None and definition.date_anchor not in anchors
        ):
            continue
        timing = date_timing(definition, run)
        if timing is None:
            continue
        draft = _draft(definition, run, occurrence="date")
        draft.task.due_at = timing.due_at
        if timing.opens_at > run.now:
            draft.task.state, draft.task.available_at = TaskState.SCHEDULED, timing.opens_at
        drafts.append(draft)
    return drafts


def draft_close(draft: Draft, *, state: str, verb: str, detail: str, now: datetime.datetime) -> None:
    """Have the draft's task made closed (done or cancelled) instead of open, its history starting with
    `verb` and `detail`: a task whose reason to be open passed before it was made
    (transition_handling._tasks_left_behind). Made, not left out: the order's task list keeps showing what its
    workflow asked for, and why it is closed."""
    draft.task.state, draft.task.completed_at = state, now
    draft.closed_as = (verb, detail)


def create_tasks(run: OrderRun, drafts: list[Draft], *, by: Any = None) -> list[Task]:
    """Save the drafts the order does not have yet (by source key), with their dependencies, team, assignee
    and load; notify the assignees. Tasks whose auto-completion already happened are created done (_done_already);
    drafts closed by draft_close are created so, with their history line. A task created closed counts as finished
    for the tasks that depend on it, made now or before (those waiting on it stop waiting). In a batch
    (run.batch) the tasks are saved and announced when the batch flushes; returned unsaved."""
    drafts, run.pending = run.pending + drafts, []
    if not drafts:
        return []
    existing = run.existing_tasks()
    drafts = [d for d in drafts if not d.task.source_key or d.task.source_key not in existing]
    if not drafts:
        return []
    _done_already(run, drafts)
    closed = [d.task for d in drafts if d.task.state in _SATISFIED]
    satisfied = {task.key for task in existing.values() if task.state in _SATISFIED and task.key}
    satisfied |= {task.key for task in closed if task.key}
    for draft in drafts:
        draft.task.waiting_on = [key for key in draft.task.depends_on if key not in satisfied]
    batch = run.batch
    if closed:
        _release_waiting(run, closed, existing)
    assign_drafts(drafts, order=run.order, now=run.now, pending=run.load_changes, cache=batch.people if batch else None)
    tasks = [d.task for d in drafts]
    for task in tasks:
        existing[task.source_key or f"#new{id(task)}"] = ExistingTask(
            task.key, task.state, task.auto_complete_on, list(task.waiting_on)
        )
    if batch is not None:
        batch.add(run, drafts, by=by)
        return tasks
    alone = Batch(run.now)
    alone.add(run, drafts, by=by)
    return alone.flush()


def _release_waiting(run: OrderRun, closed: list[Task], existing: dict[str, ExistingTask]) -> None:
    """The order's earlier tasks that wait on tasks created closed stop waiting (a task of `planned` made
    before the `confirmed` one it depends on was made closed). Nothing is read unless one of them waits."""
    keys = {task.key for task in closed if task.key}
    if not any(t.state not in _SATISFIED and keys & set(t.waiting_on) for t in existing.values()):
        return
    if run.batch is not None:
        run.batch.flush()  # the waiting tasks are read back from the database
    _unblock_dependents(closed, known=existing)
