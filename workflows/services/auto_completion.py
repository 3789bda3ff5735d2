"""Auto-completion: the events that complete tasks ("state:planned", "milestone:DEPARTED", "document:HBL"),
completing the order's tasks an event completes, and remembering its milestones and documents so that a task
made after its event is made done.

Callers hold a transaction; nothing here commits or talks to the network.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import F, Func, Value

from orders.models import STATUS_PATH, Order, OrderStatus
from workflows.models import OrderWorkflow, Task, TaskState
from workflows.services.assignment import Draft
from workflows.services.runs import OrderRun
from workflows.services.task_changes import _after_close

_RANK: dict[str, int] = {status: rank for rank, status in enumerate(STATUS_PATH)}
# The kinds of auto-completion event the order's binding remembers (OrderWorkflow.events_seen); "state:" needs no
# memory, the order's state says whether it was reached.
_REMEMBERED = ("milestone", "document")


def status_reached(order: Order, status: str) -> bool:
    """Whether the order is at or past `status` on the forward path (a held order counts where it was held)."""
    current = order.status_before_hold if order.status == OrderStatus.ON_HOLD else order.status
    return status in _RANK and current in _RANK and _RANK[current] >= _RANK[status]


def state_events(order: Order) -> list[str]:
    """The "state:<status>" auto-completion events an order at this state has reached."""
    return [f"state:{status}" for status in STATUS_PATH if status_reached(order, status)]


# Lock, complete and return the due tasks with the state each had, in one statement: FOR UPDATE in the CTE
# waits for a concurrent change to a task and re-checks it, so a task closed meanwhile is left alone.
_AUTO_COMPLETE_SQL = (
    f"WITH due AS (SELECT id, state FROM {Task._meta.db_table} WHERE order_id = %s AND state IN (%s, %s) "  # noqa: S608 - table name from the model
    "AND auto_complete_on = ANY(%s) FOR UPDATE) "
    f"UPDATE {Task._meta.db_table} t SET state = %s, completed_at = %s, completed_by_id = NULL FROM due "
    "WHERE t.id = due.id RETURNING t.id, t.order_id, t.source_key, t.key, t.team_id, t.assignee_id, due.state"
)


def auto_complete(run: OrderRun, events: list[str]) -> list[Task]:
    """Complete the order's open and scheduled tasks that these events ("state:planned", "document:HBL")
    complete."""
    live = (TaskState.OPEN, TaskState.SCHEDULED)
    wanted = set(events)
    existing = run.existing_tasks()
    if not any(t.state in live and t.auto_complete_on in wanted for t in existing.values()):
        return []  # the order's tasks were just read: nothing to lock or complete
    with connection.cursor() as cursor:
        cursor.execute(
            _AUTO_COMPLETE_SQL,
            [run.order.pk, TaskState.OPEN, TaskState.SCHEDULED, list(events), TaskState.DONE, run.now],
        )
        rows = cursor.fetchall()
    due = [
        Task(id=pk, order_id=order_id, source_key=source_key, key=key, team_id=team_id, assignee_id=assignee_id,
             state=state)
        for pk, order_id, source_key, key, team_id, assignee_id, state in rows
    ]  # fmt: skip
    _after_close(
        due, state=TaskState.DONE, by_id=None, now=run.now, verb="auto-completed", detail=", ".join(events),
        known=existing, pending=run.load_changes,
    )  # fmt: skip
    for task in due:
        if task.source_key in existing:
            existing[task.source_key].state = TaskState.DONE
        else:
            run.forget_tasks()  # a task without a source key: read them all again when next needed
    return due


def event_remember(run: OrderRun, event: str) -> bool:
    """Remember that the order has had `event` ("milestone:DEPARTED", "document:HBL"), so that a task made later
    which the event completes is made done (_done_already). Idempotent: True the first time, False when the order
    had the event already (its rules do not run again: event_records.milestone_record).

    Call it before auto_complete reads the order's tasks. Its UPDATE holds the order's binding until commit, and a
    task maker reads the events under a share lock of that row (OrderRun.events_seen): of a task being made and its
    event being recorded at the same time, one waits for the other's commit and then sees it, the task or the
    event. Nothing is ever forgotten: no document can be withdrawn yet (a hook that does would take it out here)."""
    if run._seen is not None:
        run._seen.add(event)
    appended = (
        OrderWorkflow.objects.filter(order_id=run.order.pk)
        .exclude(events_seen__contains=[event])
        .update(events_seen=Func(F("events_seen"), Value(event), function="array_append"))
    )
    return appended > 0


def _done_already(run: OrderRun, drafts: list[Draft]) -> None:
    """Make done the drafts whose own completion has happened, whatever else would have closed them: a state the
    order has reached (as ever, with no history line), or a milestone or document it has had before the task was
    made (event_remember), with a line saying so.

    Auto-completion otherwise reacts to the event only (auto_complete), and which comes first is chance: the
    "departure" task is made when the order goes in transit, and the DEPARTED milestone that completes it is
    acted on by another worker, before or after (decision 0004: the transition may wait on the queue). Made open
    after its milestone, the task would stay open for good, and hold back the step it blocks. The milestones
    and documents are read only when a draft is completed by one: one statement then."""
    remembered = []
    for draft in drafts:
        kind, _, value = draft.task.auto_complete_on.partition(":")
        if kind == "state" and status_reached(run.order, value):
            draft.task.state, draft.task.completed_at, draft.closed_as = TaskState.DONE, run.now, None
        elif kind in _REMEMBERED and draft.task.state != TaskState.DONE:
            remembered.append(draft)
    if not remembered:
        return
    seen = run.events_seen()
    for draft in remembered:
        event = draft.task.auto_complete_on
        if event in seen:
            draft.task.state, draft.task.completed_at = TaskState.DONE, run.now
            draft.closed_as = ("auto-completed", f"{event} (before this task was made)")
