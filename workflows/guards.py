"""The conditions workflows puts on order transitions (registered with orders.lifecycle at start-up)."""

from __future__ import annotations

from collections.abc import Callable

from orders.lifecycle import TRANSITIONS, register_guard
from orders.models import Order
from workflows.models import Task, TaskState

_SHOWN = 3


def open_blocking_tasks(order: Order, transition: str) -> str | None:
    """Why the order cannot take `transition` yet: the open tasks that block it, by name."""
    names = list(
        Task.objects.filter(
            order_id=order.pk, state__in=[TaskState.OPEN, TaskState.SCHEDULED], blocks__contains=[transition]
        )
        .order_by("due_at", "pk")
        .values_list("name", flat=True)[: _SHOWN + 1]
    )
    if not names:
        return None
    shown = ", ".join(names[:_SHOWN]) + (" and more" if len(names) > _SHOWN else "")
    return f"Finish first: {shown}."


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
