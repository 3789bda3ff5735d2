"""The conditions workflows puts on order transitions (registered with orders.lifecycle at start-up)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection

from orders.lifecycle import TRANSITIONS, register_guard
from orders.models import Order
from workflows.models import Task, TaskState

SHOWN = 3
FINISH_FIRST = "Finish first: "


# Asked inside every transition's locked transaction, so written as SQL: the ORM took longer to compile
# this query (0.5 ms) than Postgres to answer it (0.1 ms, on the task_order_state index). Scheduled tasks block
# too: a step a task must come before waits for it even before it opens, and the people who may work it can mark
# it done early (services.tasks.task_complete).
_BLOCKING_SQL = (
    f"SELECT id, name FROM {Task._meta.db_table} WHERE order_id = %s AND state IN (%s, %s) "  # noqa: S608 - table name from the model
    "AND blocks @> ARRAY[%s]::varchar(20)[] ORDER BY due_at, id LIMIT %s"
)


def blocking_tasks(order: Order, transition: str) -> list[tuple[int, str]]:
    """The open and scheduled tasks that block `transition` (id, name), soonest due first: the first few, and
    one more when there are more."""
    with connection.cursor() as cursor:
        cursor.execute(_BLOCKING_SQL, [order.pk, TaskState.OPEN, TaskState.SCHEDULED, transition, SHOWN + 1])
        return [(pk, name) for pk, name in cursor.fetchall()]


def blocking_tasks_by_step(order: Order) -> dict[str, list[tuple[int, str]]]:
    """blocking_tasks for every step at once (step → its tasks, in the same order and as many), in one query: for a
    screen that links the tasks of each step it shows blocked (the order page, `{% blocked_reason %}`), whose cost
    must not grow with the steps. A step no open or scheduled task blocks is not in it."""
    rows = (
        Task.objects.filter(order_id=order.pk, state__in=(TaskState.OPEN, TaskState.SCHEDULED))
        .exclude(blocks=[])
        .order_by("due_at", "id")  # as _BLOCKING_SQL: NULL due times last, then by id
        .values_list("id", "name", "blocks")
    )
    by_step: dict[str, list[tuple[int, str]]] = {}
    for pk, name, blocks in rows:
        for step in dict.fromkeys(blocks):
            tasks = by_step.setdefault(step, [])
            if len(tasks) <= SHOWN:
                tasks.append((pk, name))
    return by_step


def finish_first(tasks: list[tuple[int, str]]) -> str | None:
    """ "Finish first: A, B and more." for the blocking tasks, or None when there are none."""
    if not tasks:
        return None
    shown = ", ".join(name for _, name in tasks[:SHOWN]) + (" and more" if len(tasks) > SHOWN else "")
    return f"{FINISH_FIRST}{shown}."


def with_task_links(step: dict[str, Any], tasks: list[tuple[int, str]]) -> dict[str, Any]:
    """A step of lifecycle.available_transitions whose reason holds the "Finish first: …" this guard wrote for
    `tasks` (blocking_tasks' list), with that sentence taken out of the reason and the tasks given as `blocking`
    (id, name: the first SHOWN) and `more_blocking`, for templates/workflows/_blocked_reason.html to link them. The
    step as it was when its reason does not say so (another guard's reason only; the tasks changed meanwhile)."""
    said = finish_first(tasks)
    if not said or said not in (step.get("reason") or ""):
        return step
    reason = " ".join(step["reason"].replace(said, "").split())
    return {**step, "reason": reason, "blocking": tasks[:SHOWN], "more_blocking": len(tasks) > SHOWN}


def open_blocking_tasks(order: Order, transition: str) -> str | None:
    """Why the order cannot take `transition` yet: the open (or scheduled) tasks that block it, by name."""
    return finish_first(blocking_tasks(order, transition))


def _guard_for(transition: str) -> Callable[[Order], str | None]:
    def guard(order: Order) -> str | None:
        return open_blocking_tasks(order, transition)

    guard.__name__ = f"open_tasks_block_{transition}"
    return guard


_GUARDS = {name: _guard_for(name) for name in TRANSITIONS}


def register_guards() -> None:
    """Let open tasks that block a transition hold it back, with their names as the reason."""
    for name, guard in _GUARDS.items():
        register_guard(name, guard)
