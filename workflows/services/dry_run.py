"""The dry run of an automation rule: which existing orders it would have matched.

A rule matches an order when its event happened to the order and its conditions hold. The conditions are judged
as the live path judges them (rules.OrderFacts, rules.conditions_hold, on the order as it is now). The event is
looked up where the data says it happened, as the live path would have met it:

- order submitted: every order that left draft;
- order enters a state: the order's transitions into that state;
- milestone recorded, document uploaded: the milestones and documents the order's workflow has had
  (`OrderWorkflow.events_seen`, "milestone:CUSTOMS_HOLD", which the workflow writes as it meets each one);
- exception opened: tracking's exceptions of that kind that were announced (the rules run on the announcement) and
  concern the order: naming it, or naming no order and lying on its shipment or on the master its house was on
  while the exception was open (a consolidation's exception concerns every order on it);
- task overdue: the order's tasks of that team that went overdue (escalated, or open past their due time: the
  escalation is due at the next clock tick).

An event this module does not know how to look up is said to be unchecked (`DryRun.event_checked`), and the
screen says so, rather than listing every order as a match.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.db.models import Exists, F, Func, OuterRef, Q, QuerySet, TextField, Value
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from orders.models import Order, OrderStatus, OrderTransition
from tracking.models import ConsolidatedHouse, ExceptionKind, ShipmentException
from workflows.models import CustomerSettings, Rule, RuleEvent, Task, TaskEvent, TaskState, TeamFunction
from workflows.services.profiles import branch_profile, trade_direction
from workflows.services.rules import OrderFacts, conditions_hold

# How many of the matches the screen lists, the newest; it counts the rest in one line.
SHOWN = 50


@dataclass(frozen=True)
class DryRun:
    checked: int
    matched: list[Order]  # newest first
    limit: int
    # Which orders were checked, as the screen says it: "orders on which milestone CUSTOMS_HOLD was recorded".
    among: str = "submitted orders"
    # False: whether the event happened to an order is not known here; the matches are the conditions' alone.
    event_checked: bool = True

    @property
    def shown(self) -> list[Order]:
        """The matches the screen lists: the SHOWN newest."""
        return self.matched[:SHOWN]

    @property
    def more(self) -> int:
        """How many matches the screen does not list (older than those it does)."""
        return max(0, len(self.matched) - SHOWN)


def _label(choices: type[TeamFunction] | type[ExceptionKind] | type[OrderStatus], value: str) -> str:
    """The choice's label for a stored rule value (codes compare case-blind, as rules_fire compares them)."""
    return next((str(label) for code, label in choices.choices if str(code).lower() == value.lower()), value)


def _seen(kind: str, value: str) -> Q:
    """Orders whose workflow has had this milestone or document ("milestone:CUSTOMS_HOLD"), or any of that kind."""
    if value:
        return Q(workflow__events_seen__contains=[f"{kind}:{value.upper()}"])
    # An element of events_seen is "<kind>:<value>", so "|<kind>:" is in the joined list exactly when one is of kind.
    return Q(seen_list__contains=f"|{kind}:")


def _exception_concerned(value: str) -> Exists:
    """Orders an announced exception of this kind (any kind: "") concerned: it names the order, or it names no
    order and lies on the order's own shipment or on a master that carried the order's house while it was open."""
    exceptions = ShipmentException.objects.filter(announced_at__isnull=False)
    if value:
        exceptions = exceptions.filter(kind__iexact=value)
    house_aboard = ConsolidatedHouse.objects.filter(
        master_id=OuterRef("shipment_id"),
        house__order_id=OuterRef(OuterRef("pk")),
        added_at__lte=Coalesce(OuterRef("resolved_at"), Now()),
    ).filter(Q(removed_at__isnull=True) | Q(removed_at__gte=OuterRef("opened_at")))
    whole_shipment = Q(order__isnull=True) & (Q(shipment__order_id=OuterRef("pk")) | Exists(house_aboard))
    return Exists(exceptions.filter(Q(order_id=OuterRef("pk")) | whole_shipment))


def _task_went_overdue(value: str) -> Exists:
    """Orders with a task of this team (any team: "") that went overdue: escalated once or more, or open past its
    due time (its escalation, which runs the rules, is due at the clock's next tick)."""
    tasks = Task.objects.filter(order_id=OuterRef("pk"))
    if value:
        tasks = tasks.filter(team_function__iexact=value)
    escalated = Exists(TaskEvent.objects.filter(task_id=OuterRef("pk"), verb="escalated"))
    return Exists(tasks.filter(escalated | Q(state=TaskState.OPEN, due_at__lt=timezone.now())))


def _orders_the_event_happened_to(rule: Rule) -> tuple[QuerySet[Order], str, bool]:
    """The orders the rule's event happened to, how the screen names them, and whether the event was looked up."""
    orders = Order.objects.select_related("customer", "branch", "workflow").order_by("-created_at", "-id")
    submitted = orders.exclude(status=OrderStatus.DRAFT)
    value = rule.event_value.strip()
    event = rule.event
    if event == RuleEvent.ORDER_SUBMITTED or (event == RuleEvent.ORDER_ENTERED_STATE and not value):
        return submitted, "submitted orders", True
    if event == RuleEvent.ORDER_ENTERED_STATE:
        entered = OrderTransition.objects.filter(order=OuterRef("pk"), target=value.lower())
        return orders.filter(Exists(entered)), f"orders that entered “{_label(OrderStatus, value)}”", True
    if event in (RuleEvent.MILESTONE_RECORDED, RuleEvent.DOCUMENT_UPLOADED):
        kind = "milestone" if event == RuleEvent.MILESTONE_RECORDED else "document"
        listed = orders.annotate(
            seen_list=Func(Value("|"), Func(F("workflow__events_seen"), Value("|"), function="array_to_string"),
                           function="concat", output_field=TextField())
        )  # fmt: skip
        if kind == "milestone":
            among = f"orders on which milestone {value.upper()} was recorded" if value else "orders with a milestone"
        else:
            among = f"orders with a {value.upper()} document uploaded" if value else "orders with a document uploaded"
        return listed.filter(_seen(kind, value)), among, True
    if event == RuleEvent.EXCEPTION_OPENED:
        what = f"an exception “{_label(ExceptionKind, value)}”" if value else "an exception"
        return orders.filter(_exception_concerned(value)), f"orders {what} concerned", True
    if event == RuleEvent.TASK_OVERDUE:
        team = f" of {_label(TeamFunction, value)}" if value else ""
        return orders.filter(_task_went_overdue(value)), f"orders with a task{team} that went overdue", True
    return submitted, "submitted orders", False


def _in_set(value: int, values: set[int]) -> bool:
    return value in values


def rule_dry_run(*, rule: Rule, limit: int = 2000) -> DryRun:
    """The most recent orders (up to `limit`) the rule's event happened to and whose conditions it matches now."""
    orders, among, event_checked = _orders_the_event_happened_to(rule)
    auto_accept = set(CustomerSettings.objects.filter(auto_accept=True).values_list("customer_id", flat=True))
    conditions = list(rule.conditions.all())
    countries: dict[int, str] = {}
    rates: dict[str, Decimal | None] = {}
    matched, checked = [], 0
    for order in orders[:limit]:
        checked += 1
        direction = getattr(getattr(order, "workflow", None), "trade_direction", "")
        if not direction:
            if order.branch_id not in countries:
                countries[order.branch_id] = branch_profile(branch_id=order.branch_id).country
            direction = trade_direction(
                origin_country=order.origin_id[:2], destination_country=order.destination_id[:2],
                branch_country=countries[order.branch_id],
            )  # fmt: skip
        facts = OrderFacts(
            order, direction=direction, auto_accept=partial(_in_set, order.customer_id, auto_accept), rates=rates
        )
        if conditions_hold(conditions, facts):
            matched.append(order)
    return DryRun(checked=checked, matched=matched, limit=limit, among=among, event_checked=event_checked)
