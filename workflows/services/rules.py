"""Automation rules: evaluate conditions on an order and run the actions of the rules an event triggers.

One evaluation serves both the live path and the dry run (services.dry_run), so what the dry run shows is what the
rule does.
The live path reads the rules, the auto-accept flags and the team leads from the event's kept
configuration (services.config), so an event that no rule applies to costs no query here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from finance.fx import fx_table_load
from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.lifecycle import TRANSITIONS
from orders.models import Channel, Order
from partners.models import Role
from partners.scoping import Audience, Scope
from workflows.models import (
    BOOLEAN_FIELDS,
    MAX_RULE_DEPTH,
    NUMERIC_FIELDS,
    ActionKind,
    AssignRule,
    ConditionField,
    CustomerSettings,
    NotificationKind,
    Operator,
    Rule,
    RuleAction,
    RuleCondition,
    RuleOutcome,
    RuleRun,
    Task,
    TaskState,
)
from workflows.services.assignment import Draft
from workflows.services.notify import Notice, notify
from workflows.services.runs import OrderRun
from workflows.services.task_changes import set_assignee
from workflows.services.task_creation import create_tasks

# Automation acts as the company with every staff role; guards (open blocking tasks …) still apply.
AUTOMATION_SCOPE = Scope(Audience.STAFF, frozenset(), frozenset({Role.ADMIN}))


class OrderFacts:
    """The order's values that conditions test, each computed on first use.

    The declared value is compared in the base currency (OMS_BASE_CURRENCY): a rule's "more than 10000" means
    10000 EUR whatever the order's currency, converted at the latest rate known today. Without a rate for the
    order's currency the value is unknown and no value condition matches (not even "is not"): a rule written
    for high-value goods must not fire, or stay silent, on 20000 JPY as if it were 20000 EUR. `rates` may be
    shared between orders (the dry run) so each currency's rate is read once."""

    def __init__(
        self, order: Order, *, direction: str, auto_accept: Callable[[], bool] | None = None,
        rates: dict[str, Decimal | None] | None = None,
    ) -> None:  # fmt: skip
        self.order = order
        self.direction = direction
        self._auto_accept = auto_accept or (
            lambda: CustomerSettings.objects.filter(customer_id=order.customer_id, auto_accept=True).exists()
        )
        self._rates = {} if rates is None else rates
        self._cache: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = self._compute(name)
        return self._cache[name]

    def _compute(self, name: str) -> Any:
        order = self.order
        computed: dict[str, Callable[[], Any]] = {
            ConditionField.CUSTOMER: lambda: order.customer.code,
            ConditionField.CUSTOMER_AUTO_ACCEPT: self._auto_accept,
            ConditionField.BRANCH: lambda: order.branch.code,
            ConditionField.TRADE_DIRECTION: lambda: self.direction,
            ConditionField.ORIGIN: lambda: order.origin_id,
            ConditionField.DESTINATION: lambda: order.destination_id,
            ConditionField.ORIGIN_COUNTRY: lambda: order.origin_id[:2],
            ConditionField.DESTINATION_COUNTRY: lambda: order.destination_id[:2],
            ConditionField.GROSS_WEIGHT: lambda: order.gross_weight_kg_total,
            ConditionField.DECLARED_VALUE: self._declared_value_in_base,
        }
        return computed[name]() if name in computed else getattr(order, name)

    def _declared_value_in_base(self) -> Decimal | None:
        amount, currency = self.order.declared_value_amount, self.order.declared_value_currency.upper()
        base = settings.OMS_BASE_CURRENCY
        if amount is None or currency == base:
            return amount
        if currency not in self._rates:
            table = fx_table_load(currencies=[currency, base])  # one query per currency, only when it is asked
            self._rates[currency] = table.rate(currency, base, timezone.localdate())
        rate = self._rates[currency]
        return None if rate is None else amount * rate


def _decimal(text: str) -> Decimal | None:
    """The number a numeric condition compares with, or None (it matches nothing) for one that is not a finite
    number: NaN or Infinity saved before RuleCondition.clean refused them would otherwise raise on every order."""
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None
    return number if number.is_finite() else None


def condition_holds(condition: RuleCondition, facts: OrderFacts) -> bool:
    """Whether one condition is true of the order. Text compares ignore case; lists are comma-separated."""
    actual = facts.get(condition.field)
    operator = condition.operator
    if condition.field in BOOLEAN_FIELDS or operator in (Operator.IS_TRUE, Operator.IS_FALSE):
        return bool(actual) is (operator != Operator.IS_FALSE)
    if condition.field in NUMERIC_FIELDS:
        expected = _decimal(condition.value)
        if actual is None or expected is None:
            return False
        numeric: dict[str, bool] = {
            Operator.EQUALS: actual == expected, Operator.NOT_EQUALS: actual != expected,
            Operator.GREATER: actual > expected, Operator.LESS: actual < expected,
        }  # fmt: skip
        return numeric.get(operator, False)
    text = str(actual or "").strip().upper()
    values = [value.strip().upper() for value in condition.value.split(",") if value.strip()]
    first = values[0] if values else ""
    textual: dict[str, bool] = {
        Operator.EQUALS: text == first, Operator.NOT_EQUALS: text != first,
        Operator.IN: text in values, Operator.NOT_IN: text not in values,
    }  # fmt: skip
    return textual.get(operator, False)


def conditions_hold(conditions: Iterable[RuleCondition], facts: OrderFacts) -> bool:
    return all(condition_holds(condition, facts) for condition in conditions)


class _ActionFailed(Exception):
    pass


def _claim_run(rule: Rule, order: Order, event_key: str) -> RuleRun | None:
    """Record that the rule runs for this event; None when it already did (one statement, no savepoint)."""
    record = RuleRun(rule=rule, order=order, event_key=event_key[:120], at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RuleRun._meta.db_table} (rule_id, order_id, event_key, outcome, detail, at) "  # noqa: S608 - table name from the model
            "VALUES (%s, %s, %s, %s, '', %s) ON CONFLICT (rule_id, event_key) DO NOTHING RETURNING id",
            [rule.pk, order.pk, record.event_key, record.outcome, record.at],
        )
        row = cursor.fetchone()
    if row is None:
        return None  # this rule already ran for this event
    record.pk = row[0]
    return record


@dataclass(frozen=True)
class RuleTrigger:
    """An event rules can react to: its kind, its value (state, code, type, team) and its unique key."""

    event: str
    event_key: str
    value: str = ""
    # Why the event's rules must not act (a hold report that no longer stands): each rule's run says so, skipped.
    not_current: str = ""
    # For tasks the rules create (an exception's): words naming what the event is about, added to the task's name
    # ("Customs hold on HAM-26-000004"), a link for its instructions, and the person its tasks go to first when
    # they can take the team's work (the owner of the shipment's other open exceptions).
    subject: str = ""
    link: str = ""
    prefer_user_id: int | None = None


def rules_fire(*, run: OrderRun, triggers: list[RuleTrigger], chain: tuple[int, ...] = ()) -> list[RuleRun]:
    """Run every active rule for these events whose conditions hold, once per event (one query when no rule
    applies). `chain` lists the rules whose actions led here: they are not run again, so rules cannot loop."""
    events = {trigger.event for trigger in triggers}
    rules = [rule for rule in run.config.rules() if rule.event in events]
    if not rules:
        return []
    customer_id = run.order.customer_id
    facts = OrderFacts(
        run.order, direction=run.workflow.trade_direction, auto_accept=lambda: run.config.is_auto_accept(customer_id)
    )
    runs = []
    for trigger in triggers:
        for rule in rules:
            if rule.event != trigger.event or rule.event_value.upper() not in ("", trigger.value.upper()):
                continue
            record = _run_rule(rule, run=run, facts=facts, trigger=trigger, chain=chain)
            if record is not None:
                runs.append(record)
    return runs


def _run_rule(
    rule: Rule, *, run: OrderRun, facts: OrderFacts, trigger: RuleTrigger, chain: tuple[int, ...]
) -> RuleRun | None:
    if not conditions_hold(rule.conditions.all(), facts):
        return None
    record = _claim_run(rule, run.order, trigger.event_key)
    if record is None:
        return None
    if trigger.not_current:
        record.outcome, record.detail = RuleOutcome.SKIPPED, trigger.not_current
    elif rule.pk in chain or len(chain) >= MAX_RULE_DEPTH:
        record.outcome = RuleOutcome.SKIPPED
        record.detail = "Not run: this rule's own actions led to this event (it would loop)."
    else:
        record.outcome, record.detail = _perform_all(rule, run=run, trigger=trigger, chain=(*chain, rule.pk))
    record.save(update_fields=["outcome", "detail"])
    return record


def _perform_all(rule: Rule, *, run: OrderRun, trigger: RuleTrigger, chain: tuple[int, ...]) -> tuple[str, str]:
    notes, failed = [], 0
    for action in rule.actions.all():
        try:
            notes.append(_perform(action, rule=rule, run=run, trigger=trigger, chain=chain))
        except _ActionFailed as exc:
            failed += 1
            notes.append(f"{action.get_kind_display()}: not done — {exc}")
    if not failed:
        return RuleOutcome.DONE, "\n".join(notes)
    return (RuleOutcome.SKIPPED if failed == len(notes) else RuleOutcome.PARTLY), "\n".join(notes)


def _perform(action: RuleAction, *, rule: Rule, run: OrderRun, trigger: RuleTrigger, chain: tuple[int, ...]) -> str:
    if action.kind in (ActionKind.TRANSITION, ActionKind.HOLD):
        return _take_transition(action, rule=rule, run=run, chain=chain, event_key=trigger.event_key)
    if action.kind == ActionKind.CREATE_TASK:
        return _create_task(action, rule=rule, run=run, trigger=trigger)
    if action.kind == ActionKind.ASSIGN:
        return _assign(action, run=run)
    return _notify(action, rule=rule, run=run)


def _take_transition(action: RuleAction, *, rule: Rule, run: OrderRun, chain: tuple[int, ...], event_key: str) -> str:
    """Take the action's transition (a hold) for the rule; its payload names the rule, the chain and the event the
    rule ran for (`event_key`: the run's key, so a hold knows which exception's rule put it on: services.holds)."""
    name = "hold" if action.kind == ActionKind.HOLD else action.transition
    if name not in TRANSITIONS:
        raise _ActionFailed("no transition is set")
    if run.batch is not None:
        run.batch.flush()  # the transition's guards read the order's tasks
    try:
        # The order as this event's handling read it (and as earlier actions left it): the transition locks
        # the row and refuses, as "changed meanwhile", if someone moved the order since.
        moved = order_services.order_transition(
            order=run.order, name=name, scope=AUTOMATION_SCOPE, channel=Channel.SYSTEM,
            reason=action.message or f"Automation: {rule.name}",
            payload={"automation": {"rule": rule.pk, "chain": list(chain), "event": event_key[:120]}},
        )  # fmt: skip
    except TransitionNotAllowed as exc:
        raise _ActionFailed(str(exc)) from exc
    run.order_moved(moved)
    return f"{TRANSITIONS[name].label}: done"


def _create_task(action: RuleAction, *, rule: Rule, run: OrderRun, trigger: RuleTrigger) -> str:
    if not action.task_name or not action.team_function:
        raise _ActionFailed("the task needs a name and a team")
    name = f"{action.task_name}: {trigger.subject}" if trigger.subject else action.task_name
    link = f"The exception: {trigger.link}" if trigger.link else ""
    instructions = "\n\n".join(text for text in (action.message, link) if text)
    task = Task(
        order=run.order, rule=rule, source_key=f"rule:{rule.pk}:{trigger.event_key}:{action.pk}"[:120],
        name=name[:120], instructions=instructions, team_function=action.team_function, state=TaskState.OPEN,
    )  # fmt: skip
    task.due_at = run.due_at(hours=action.due_in_hours, anchor="", business=True, start=run.now)
    named = action.user_id is not None and RuleAction.is_staff_user(action.user_id)
    # Unnamed: the customer's account owner for the team first (workflows.models.AccountOwner: "their tasks go to
    # this person first"), else the least-loaded member; an event's preferred person before either.
    rule_for_user = AssignRule.NAMED_USER if named else AssignRule.ACCOUNT_OWNER
    draft = Draft(task, rule_for_user, action.user_id if named else None)
    draft.prefer_user_id = None if named else trigger.prefer_user_id
    created = create_tasks(run, [draft])
    # the task is still needed when the named person has left: it goes to the team like an unnamed one
    note = " (the named person is not active OMS staff: given to the team)" if action.user_id and not named else ""
    return (f"Created task “{action.task_name}”" if created else "Task already existed") + note


def _assign(action: RuleAction, *, run: OrderRun) -> str:
    if not action.user_id:
        raise _ActionFailed("no person is set")
    if not RuleAction.is_staff_user(action.user_id):
        raise _ActionFailed("the person is not active OMS staff")
    if run.batch is not None:
        run.batch.flush()  # the order's open tasks are read from the database
    tasks = Task.objects.select_for_update().filter(order=run.order, state=TaskState.OPEN).select_related("order")
    if action.team_function:
        tasks = tasks.filter(team_function=action.team_function)
    changed = sum(
        set_assignee(t, user_id=action.user_id, by=None, now=run.now, verb="assigned by rule", pending=run.load_changes)
        for t in tasks
    )
    return f"Assigned {changed} task{'s' if changed != 1 else ''}"


def _notify(action: RuleAction, *, rule: Rule, run: OrderRun) -> str:
    recipient = action.user_id
    if recipient is None and action.team_function:
        recipient = run.config.team_lead(branch_id=run.order.branch_id, function=action.team_function)
    if recipient is None:
        raise _ActionFailed("nobody to notify (no person, or the team has no lead)")
    if not RuleAction.is_staff_user(recipient):  # live: whether people are active is never kept (config)
        raise _ActionFailed("the person to notify is not active OMS staff")
    url = reverse("workflows:order_tasks", args=[run.order.reference])
    notify(
        [Notice(recipient, NotificationKind.RULE, f"{rule.name} · {run.order.reference}", action.message, url)],
        config=run.config,
    )
    return "Notified"
