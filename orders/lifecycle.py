"""The order lifecycle: which transitions exist, who may take them, and the one function that applies them.

`apply()` locks the order row, checks that the state the caller saw is still the state in the database,
asks `can_proceed` and every registered guard, runs the transition, saves, writes an OrderTransition row
and sends `order_status_changed` after commit. Two people acting on the same order at once: one wins,
the other gets ConcurrentChange ("the order changed meanwhile") and none of their side effects happen.

Higher apps add conditions without `orders` importing them: `register_guard("complete", fn)` where
`fn(order) -> str | None` returns the reason the transition is blocked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pghistory
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from orders import events
from orders.errors import ConcurrentChange, TransitionNotAllowed
from orders.models import Order, OrderStatus, OrderTransition
from partners.models import Role
from partners.scoping import Scope

Guard = Callable[[Order], str | None]


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    label: str
    roles: frozenset[str]  # staff roles that may take it ("admin" may take all)
    customer_may: bool
    button: str  # bootstrap variant for the button
    needs_reason: bool = False


TRANSITIONS: dict[str, TransitionSpec] = {
    "submit": TransitionSpec(
        "submit", "Submit", frozenset({Role.SALES, Role.OPERATIONS}), customer_may=True, button="primary"
    ),
    "cancel": TransitionSpec(
        "cancel", "Cancel order", frozenset({Role.SALES, Role.OPERATIONS}), customer_may=True,
        button="outline-danger", needs_reason=True,
    ),
}  # fmt: skip

_guards: dict[str, list[Guard]] = defaultdict(list)


def register_guard(transition: str, guard: Guard) -> None:
    """Let another app veto a transition; `guard(order)` returns the reason, or None to allow."""
    if guard not in _guards[transition]:
        _guards[transition].append(guard)


def _permission_problem(spec: TransitionSpec, order: Order, scope: Scope) -> str | None:
    if scope.is_staff:
        return None if scope.has_role(*spec.roles) else f"Your role may not {spec.label.lower()} orders."
    if scope.is_customer and spec.customer_may and scope.owns(order.customer_id):
        return None
    return f"You may not {spec.label.lower()} this order."


def blocked_reason(order: Order, name: str, scope: Scope) -> str | None:
    """Why this scope cannot take the transition on the order now, or None when it can."""
    spec = TRANSITIONS[name]
    problem = _permission_problem(spec, order, scope)
    if problem:
        return problem
    if not can_proceed(getattr(order, name)):
        return f"A {OrderStatus(order.status).label.lower()} order cannot be {_past(name)}."
    for guard in _guards[name]:
        reason = guard(order)
        if reason:
            return reason
    return None


def _past(name: str) -> str:
    return {"submit": "submitted", "cancel": "cancelled"}.get(name, f"{name}ed")


def available_transitions(order: Order, scope: Scope) -> list[dict[str, Any]]:
    """The transitions leaving the order's current state, each with whether this scope may take it now.

    Transitions the scope's role never may take are left out; ones blocked by a guard are kept, with
    the reason, so a screen can show a disabled button and say why.
    """
    result = []
    for name, spec in TRANSITIONS.items():
        if not any(t.name == name for t in order.get_available_status_transitions()):
            continue
        if _permission_problem(spec, order, scope):
            continue
        reason = blocked_reason(order, name, scope)
        result.append({"name": name, "label": spec.label, "button": spec.button, "allowed": reason is None,
                       "reason": reason, "needs_reason": spec.needs_reason})  # fmt: skip
    return result


def apply(
    order: Order,
    name: str,
    *,
    scope: Scope,
    by: Any = None,
    api_key: Any = None,
    channel: str,
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> Order:
    """Take transition `name` on the order; see the module docstring. Returns the fresh, saved order."""
    if name not in TRANSITIONS:
        raise TransitionNotAllowed(f"There is no transition called {name}.")
    seen_status = order.status
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != seen_status:
            raise ConcurrentChange(
                f"The order changed meanwhile: it is now {OrderStatus(locked.status).label.lower()}. "
                "Reload it and try again."
            )
        problem = blocked_reason(locked, name, scope)
        if problem:
            raise TransitionNotAllowed(problem)
        if TRANSITIONS[name].needs_reason and not reason.strip():
            raise TransitionNotAllowed("Say why, so the team and the customer know.")
        source = locked.status
        getattr(locked, name)()
        now = timezone.now()
        update_fields = ["status", "updated_at"]
        if locked.status == OrderStatus.SUBMITTED:
            locked.submitted_at = now
            update_fields.append("submitted_at")
        if locked.status == OrderStatus.CANCELLED:
            locked.cancelled_at, locked.cancel_reason = now, reason.strip()[:300]
            update_fields += ["cancelled_at", "cancel_reason"]
        with pghistory.context(channel=channel, transition=name):
            locked.save(update_fields=update_fields)
        OrderTransition.objects.create(
            order=locked, name=name, source=source, target=locked.status, by=by if by and by.pk else None,
            api_key=api_key, channel=channel, reason=reason.strip()[:300], payload=payload or {},
        )  # fmt: skip
        transaction.on_commit(
            lambda: events.order_status_changed.send(
                sender=Order,
                order_id=locked.pk,
                transition=name,
                source=source,
                target=locked.status,
                by_id=getattr(by, "pk", None),
                channel=channel,
            )
        )
    return locked
