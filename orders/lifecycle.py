"""The order lifecycle: which transitions exist, who may take them, and the one function that applies them.

    draft → submitted → confirmed → planned → in_transit → arrived → delivered → completed → invoiced → closed
    unplan: planned → confirmed (the one step back: the plan fell through before the goods moved, e.g. the
            carrier booking was cancelled; tracking takes it when a confirmed booking is cancelled)
    hold: any live state (submitted … completed) → on_hold;  release: on_hold → the state it was held in
    cancel: draft, submitted, confirmed, planned (or on_hold when held in one of those) → cancelled

`TRANSITIONS` is the table: for each transition its label, the phrases its messages are written with ("A
draft order cannot be marked departed.", "Your role may not mark orders as invoiced."), the staff roles that
may take it ("admin" may take all), whether a customer may take it on their own order and from which
states, and whether a reason is required. The model methods on `Order` say which state each one leaves
from and goes to.

`apply()` locks the order row, checks that the state the caller saw is still the state in the database,
asks `can_proceed` and every registered guard, runs the transition, saves, writes an OrderTransition row
with its QueuedTransition (the event's durable copy, for workers to drain) and sends `order_status_changed`
after commit. Two people acting on the same order at once: one wins,
the other gets ConcurrentChange ("the order changed meanwhile") and none of their side effects happen.
The history context (who, API key, channel, transition: pghistory) is opened inside the transaction and
closed before it commits, so the receivers of `order_status_changed` run outside it: their writes are
not history and do not each carry the context's set_config() prefix, and a transition they take (a rule's
automatic confirmation) gets a context of its own instead of rewriting the one of the person who acted.
It is a new context even inside a request's (`history.write_context`: pghistory would merge the two).

Higher apps add conditions without `orders` importing them: `register_guard("complete", fn)` where
`fn(order) -> str | None` returns the reason the transition is blocked (e.g. workflows: "2 tasks must be
done first"; later documents: "no proof of delivery yet", tracking: "no confirmed carrier booking").
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone
from django_fsm import can_proceed

from oms.compiled import model_columns, model_from_row
from orders import events, history
from orders.errors import ConcurrentChange, TransitionNotAllowed
from orders.intake import NEEDED_TO_SUBMIT_FIELDS
from orders.models import Order, OrderStatus, OrderTransition, QueuedTransition
from partners.models import Role
from partners.scoping import Scope

Guard = Callable[[Order], str | None]

S = OrderStatus


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    label: str
    done: str  # past participle for messages: "A draft order cannot be <done>."
    verb: str  # what a refusal says one may not do, {orders} being "orders" or "this order": "put {orders} on hold"
    roles: frozenset[str]  # staff roles that may take it ("admin" may take all)
    button: str  # bootstrap variant for the button
    description: str
    customer_sources: frozenset[str] = frozenset()  # states from which a customer may take it on their own order
    needs_reason: bool = False
    condition_message: str = ""  # why the model's transition condition failed, when it has one


_MOVERS = frozenset({Role.OPERATIONS})
_ANY_STAFF = frozenset({Role.SALES, Role.OPERATIONS, Role.DOCUMENTATION, Role.FINANCE})

TRANSITIONS: dict[str, TransitionSpec] = {
    "submit": TransitionSpec(
        "submit", "Submit", "submitted", "submit {orders}", frozenset({Role.SALES, Role.OPERATIONS}), "primary",
        "Hand a draft to operations.", customer_sources=frozenset({S.DRAFT}),
    ),
    "confirm": TransitionSpec(
        "confirm", "Confirm", "confirmed", "confirm {orders}", frozenset({Role.SALES, Role.OPERATIONS}), "primary",
        "Accept the order on the agreed terms.",
    ),
    "plan": TransitionSpec(
        "plan", "Mark planned", "planned", "mark {orders} as planned", _MOVERS, "primary",
        "Routing and carrier booking are settled.",
    ),
    "depart": TransitionSpec(
        "depart", "Mark departed", "marked departed", "mark {orders} as departed", _MOVERS, "primary",
        "The goods were picked up or left origin.",
    ),
    "arrive": TransitionSpec(
        "arrive", "Mark arrived", "marked arrived", "mark {orders} as arrived", _MOVERS, "primary",
        "The goods reached the destination terminal or hub.",
    ),
    "deliver": TransitionSpec(
        "deliver", "Mark delivered", "marked delivered", "mark {orders} as delivered", _MOVERS, "primary",
        "The consignee received the goods.",
    ),
    "complete": TransitionSpec(
        "complete", "Complete", "completed", "complete {orders}", _MOVERS, "primary",
        "Operations are finished; the order is ready to bill.",
    ),
    "invoice": TransitionSpec(
        "invoice", "Mark invoiced", "invoiced", "mark {orders} as invoiced", frozenset({Role.FINANCE}), "primary",
        "The customer has been invoiced.",
    ),
    "close": TransitionSpec(
        "close", "Close", "closed", "close {orders}", frozenset({Role.FINANCE}), "outline-secondary",
        "Nothing is left to do or collect.",
    ),
    "unplan": TransitionSpec(
        "unplan", "Back to confirmed", "taken back to confirmed", "take {orders} back to confirmed", _MOVERS,
        "outline-secondary",
        "The plan fell through before the goods moved (carrier booking cancelled): route and book again.",
        needs_reason=True,
    ),
    "hold": TransitionSpec(
        "hold", "Put on hold", "put on hold", "put {orders} on hold", _ANY_STAFF, "outline-warning",
        "Stop work until someone releases it (credit, customs, missing documents).", needs_reason=True,
    ),
    "release": TransitionSpec(
        "release", "Release hold", "released", "release {orders} from hold", _ANY_STAFF, "outline-primary",
        "Resume work where the order was when it was held.",
    ),
    "cancel": TransitionSpec(
        "cancel", "Cancel order", "cancelled", "cancel {orders}", frozenset({Role.SALES, Role.OPERATIONS}),
        "outline-danger",
        "Stop the order before the goods move.", customer_sources=frozenset({S.DRAFT, S.SUBMITTED}),
        needs_reason=True, condition_message="An order held after it was planned cannot be cancelled.",
    ),
}  # fmt: skip

# Fields a transition may change; apply() writes exactly these.
_LIFECYCLE_FIELDS = (
    "status", "status_before_hold", "submitted_at", "cancelled_at", "cancel_reason", "updated_at", "updated_by_id",
    "updated_by_key_id",
)  # fmt: skip
_TRANSITION_FIELDS = ("name", "source", "target", "by_id", "api_key_id", "channel", "reason", "payload", "at")

_guards: dict[str, list[Guard]] = defaultdict(list)


def register_guard(transition: str, guard: Guard) -> None:
    """Let another app veto a transition; `guard(order)` returns the reason, or None to allow."""
    if transition not in TRANSITIONS:
        raise ValueError(f"There is no transition called {transition}.")
    if guard not in _guards[transition]:
        _guards[transition].append(guard)


def _permission_problem(spec: TransitionSpec, order: Order, scope: Scope) -> str | None:
    if scope.is_staff:
        return None if scope.has_role(*spec.roles) else f"Your role may not {spec.verb.format(orders='orders')}."
    if scope.is_customer and order.status in spec.customer_sources and scope.owns(order.customer_id):
        return None
    if scope.is_customer and spec.customer_sources and scope.owns(order.customer_id):
        return f"This order is {OrderStatus(order.status).label.lower()}; ask your OMS contact."
    return f"You may not {spec.verb.format(orders='this order')}."


def _state_problem(spec: TransitionSpec, order: Order) -> str | None:
    method = getattr(order, spec.name)
    if not can_proceed(method, check_conditions=False):
        return f"A {OrderStatus(order.status).label.lower()} order cannot be {spec.done}."
    if not can_proceed(method):
        return spec.condition_message or f"This order cannot be {spec.done} now."
    return None


GUARDED_FOR_OUTSIDERS = "Our team is still working on this order; ask your OMS contact."
_SUBMIT_NEEDS = {"incoterm": "the Incoterm", "shipper_name": "the shipper", "consignee_name": "the consignee"}


def _incomplete_problem(order: Order) -> str | None:
    """What a draft still lacks that submitting needs (a draft is saved without it: intake's draft rules)."""
    missing = [_SUBMIT_NEEDS[name] for name in NEEDED_TO_SUBMIT_FIELDS if not getattr(order, name)]
    if not order.pieces_total:  # every cargo line has a piece at least: none means no line
        missing.append("a cargo line")
    if not missing:
        return None
    listed = f"{', '.join(missing[:-1])} and {missing[-1]}" if len(missing) > 1 else missing[0]
    return f"Before it can be submitted, the order needs {listed}: edit the draft first."


def blocked_reason(order: Order, name: str, scope: Scope) -> str | None:
    """Why this scope cannot take the transition on the order now, or None when it can."""
    spec = TRANSITIONS[name]
    problem = _permission_problem(spec, order, scope) or _state_problem(spec, order)
    if problem:
        return problem
    if name == "submit" and (missing := _incomplete_problem(order)):
        return missing  # the order's own data: said to customers too
    # Every guard's reason, not just the first: the person sees all that stands in the way at once.
    reasons = [reason for guard in _guards[name] if (reason := guard(order))]
    if reasons and not scope.is_staff:
        # Guards name our internal work (open tasks such as "Credit check"): customers and partners learn
        # only that it is in the way.
        return GUARDED_FOR_OUTSIDERS
    return " ".join(reasons) or None


def available_transitions(order: Order, scope: Scope) -> list[dict[str, Any]]:
    """The transitions leaving the order's current state, each with whether this scope may take it now.

    Transitions the scope's role never may take are left out; ones blocked by a guard are kept, with
    the reason, so a screen can show a disabled button and say why.
    """
    leaving = {t.name for t in order.get_available_status_transitions()}
    result = []
    for name, spec in TRANSITIONS.items():
        if name not in leaving or _permission_problem(spec, order, scope):
            continue
        reason = blocked_reason(order, name, scope)
        result.append({"name": name, "label": spec.label, "button": spec.button, "allowed": reason is None,
                       "reason": reason, "needs_reason": spec.needs_reason,
                       "description": spec.description})  # fmt: skip
    return result


# The two statements every transition runs are written out once (oms.compiled says why: the ORM took
# 0.8 ms of CPU to compile the 45-column lock, the statement itself 0.3 ms). Names come from the models,
# values are parameters; both run inside the history context, so pghistory records the update as usual.
@functools.cache
def _lock_sql() -> str:
    return f"SELECT {model_columns(Order)} FROM {Order._meta.db_table} WHERE id = %s FOR UPDATE"  # noqa: S608


def _columns(model: type[models.Model], attnames: tuple[str, ...]) -> list[models.Field[Any, Any]]:
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    return [by_attname[name] for name in attnames]


@functools.cache
def _write_sql() -> str:
    """Move the order, record its transition and queue its event in one statement (the transition row only
    if the update found the order, which the lock guarantees; QueuedTransition says why the queue row)."""
    moved = ", ".join(f"{field.column} = %s" for field in _columns(Order, _LIFECYCLE_FIELDS))
    columns = ", ".join(str(field.column) for field in _columns(OrderTransition, _TRANSITION_FIELDS))
    placeholders = ", ".join("%s" for _ in _TRANSITION_FIELDS)
    return (
        f"WITH moved AS (UPDATE {Order._meta.db_table} SET {moved} WHERE id = %s RETURNING id), "  # noqa: S608
        f"recorded AS (INSERT INTO {OrderTransition._meta.db_table} (order_id, {columns}) "
        f"SELECT id, {placeholders} FROM moved RETURNING id, at) "
        f"INSERT INTO {QueuedTransition._meta.db_table} (transition_id, queued_at) SELECT id, at FROM recorded "
        "RETURNING transition_id"
    )


def _locked(order_id: int) -> Order:
    """The order's row, locked until the transaction ends (Order.DoesNotExist when it is gone)."""
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(), [order_id])
        row = cursor.fetchone()
    if row is None:
        raise Order.DoesNotExist(f"There is no order {order_id}.")
    return model_from_row(Order, row)


def _write(locked: Order, **transition: Any) -> int:
    """Save the lifecycle fields of the locked order and write its OrderTransition row; the row's id."""
    transition["target"] = locked.status
    values = [
        field.get_db_prep_save(getattr(locked, field.attname), connection)
        for field in _columns(Order, _LIFECYCLE_FIELDS)
    ]
    values.append(locked.pk)
    values += [
        field.get_db_prep_save(transition[field.attname], connection)
        for field in _columns(OrderTransition, _TRANSITION_FIELDS)
    ]
    with connection.cursor() as cursor:
        cursor.execute(_write_sql(), values)
        (transition_id,) = cursor.fetchone()
    return transition_id


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
    who = {"user": getattr(by, "pk", None), "api_key": getattr(api_key, "pk", None), "channel": channel}
    with transaction.atomic(), history.write_context(**who, transition=name):
        locked = _locked(order.pk)
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
        if locked.status == OrderStatus.SUBMITTED and source == OrderStatus.DRAFT:
            locked.submitted_at = now
        if locked.status == OrderStatus.CANCELLED:
            locked.cancelled_at, locked.cancel_reason = now, reason.strip()[:300]
        locked.updated_at = now  # a new version of the order, and who wrote it (services.order_version_conflict)
        locked.updated_by_id, locked.updated_by_key_id = getattr(by, "pk", None), getattr(api_key, "pk", None)
        transition_id = _write(
            locked, name=name, source=source, by_id=getattr(by, "pk", None), api_key_id=getattr(api_key, "pk", None),
            channel=channel, reason=reason.strip()[:300], payload=payload or {}, at=now,
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
                transition_id=transition_id,
                queued=True,
            )
        )
    return locked
