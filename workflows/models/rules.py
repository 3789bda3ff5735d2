"""Automation rules: "when <event> and <conditions on the order> then <actions>", configured in the admin.

A rule fires at most once per event (RuleRun is unique per rule and event key) and never twice in one
chain of automation: a transition a rule takes carries the chain of rules that led to it in its payload,
so a rule reacting to its own effect is skipped and recorded, and chains stop at MAX_RULE_DEPTH.

What a rule compares is checked when it is saved: the event's value is one the event can carry and each
condition's values exist (customers, branches, places, countries) or are among the field's choices. A typo
("Confirmd", a customer ACMEE) would otherwise save and never match, silently. Choices are taken by their code or
their label, in any case, and stored as their code ("In transit" is in_transit), as the rules compare them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from orders.models import Channel, Incoterm, Location, Mode, Order, OrderStatus, ServiceLevel
from partners.models import Organisation
from tracking.models import ExceptionKind, Milestone
from workflows.business_hours import MAX_BUSINESS_HOURS
from workflows.models.config import config_changed_trigger
from workflows.models.teams import TeamFunction, active_staff, is_active_staff
from workflows.models.templates import (
    ENTERED_STATES,
    NEVER_ENTERED,
    TRANSITION_CHOICES,
    TradeDirection,
    business_hours_problem,
)

MAX_RULE_DEPTH = 5


class RuleEvent(models.TextChoices):
    ORDER_SUBMITTED = "order_submitted", "Order submitted"
    ORDER_ENTERED_STATE = "order_entered_state", "Order enters a state"
    MILESTONE_RECORDED = "milestone_recorded", "Milestone recorded"
    EXCEPTION_OPENED = "exception_opened", "Exception opened"
    DOCUMENT_UPLOADED = "document_uploaded", "Document uploaded"
    TASK_OVERDUE = "task_overdue", "Task overdue"


DOCUMENT_TYPE_SHAPE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,39}$")


def choice_code(typed: str, choices: type[models.TextChoices]) -> str | None:
    """The code of the choice typed as its code or its label, in any case ("In transit" → in_transit); None for
    no choice."""
    wanted = typed.strip().lower()
    return next((str(code) for code, label in choices.choices if wanted in (str(code).lower(), str(label).lower())),
                None)  # fmt: skip


def _one_of(choices: Sequence[str]) -> str:
    return f"Use one of: {', '.join(choices)}."


def event_value_check(event: str, typed: str) -> tuple[str, str]:
    """(the value as stored, "") for a value the event can carry, else (typed, why not). Rules compare it with
    the event's own value: an order state's code, a milestone code, an exception kind, a document type, a team."""
    choices: dict[str, tuple[type[models.TextChoices], str]] = {
        RuleEvent.EXCEPTION_OPENED: (ExceptionKind, "an exception kind"),
        RuleEvent.TASK_OVERDUE: (TeamFunction, "a team"),
    }
    if event == RuleEvent.ORDER_ENTERED_STATE:
        code = choice_code(typed, OrderStatus)
        if code == OrderStatus.DRAFT:
            return typed, f"{NEVER_ENTERED} {_one_of(ENTERED_STATES)}"
        return (code, "") if code else (typed, f"{typed} is not an order state. {_one_of(ENTERED_STATES)}")
    if event in choices:
        kind, what = choices[event]
        code = choice_code(typed, kind)
        return (code, "") if code else (typed, f"{typed} is not {what}. {_one_of(kind.values)}")
    if event == RuleEvent.MILESTONE_RECORDED:
        named = Milestone.objects.filter(Q(code=typed.upper()) | Q(name__iexact=typed))
        if found := named.values_list("code", flat=True).first():
            return found, ""
        known = Milestone.objects.filter(is_active=True).order_by("rank", "code").values_list("code", flat=True)
        return typed, f"{typed} is not a milestone code. {_one_of(list(known))}"
    if event == RuleEvent.DOCUMENT_UPLOADED:
        if DOCUMENT_TYPE_SHAPE.match(typed.upper()):
            return typed.upper(), ""
        return typed, f"{typed} is not a document type: name it by its code, e.g. HBL or POD."
    label = RuleEvent(event).label if event in RuleEvent.values else event
    return typed, f"“{label}” takes no value: leave it blank."


class Rule(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    event = models.CharField(max_length=24, choices=RuleEvent.choices)
    event_value = models.CharField(
        max_length=40,
        blank=True,
        help_text="Narrow the event: the state entered, milestone code, exception kind, document type or the "
        "overdue task's team. Blank: any.",
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Rules for the same event run in this order.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        triggers = [config_changed_trigger()]
        ordering = ["event", "position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.event_value = self.event_value.strip()
        if not self.event_value or not self.event:
            return  # blank: any value of the event
        value, problem = event_value_check(self.event, self.event_value)
        if problem:
            raise ValidationError({"event_value": problem})
        self.event_value = value


class ConditionField(models.TextChoices):
    CUSTOMER = "customer", "Customer code"
    CUSTOMER_AUTO_ACCEPT = "customer_auto_accept", "Customer is flagged auto-accept"
    BRANCH = "branch", "Branch code"
    MODE = "mode", "Mode"
    SERVICE_LEVEL = "service_level", "Service level"
    INCOTERM = "incoterm", "Incoterm"
    TRADE_DIRECTION = "trade_direction", "Trade direction"
    ORIGIN = "origin", "Origin UN/LOCODE"
    DESTINATION = "destination", "Destination UN/LOCODE"
    ORIGIN_COUNTRY = "origin_country", "Origin country"
    DESTINATION_COUNTRY = "destination_country", "Destination country"
    CHANNEL = "channel", "Intake channel"
    STATUS = "status", "Order status"
    GROSS_WEIGHT = "gross_weight_kg", "Gross weight (kg)"
    CHARGEABLE_WEIGHT = "chargeable_weight_kg", "Chargeable weight (kg)"
    DECLARED_VALUE = "declared_value_amount", "Declared value (in the base currency)"


NUMERIC_FIELDS = frozenset(
    {ConditionField.GROSS_WEIGHT, ConditionField.CHARGEABLE_WEIGHT, ConditionField.DECLARED_VALUE}
)
BOOLEAN_FIELDS = frozenset({ConditionField.CUSTOMER_AUTO_ACCEPT})


CHOICE_FIELDS: dict[str, type[models.TextChoices]] = {
    ConditionField.MODE: Mode,
    ConditionField.SERVICE_LEVEL: ServiceLevel,
    ConditionField.INCOTERM: Incoterm,
    ConditionField.TRADE_DIRECTION: TradeDirection,
    ConditionField.CHANNEL: Channel,
    ConditionField.STATUS: OrderStatus,
}


def _none_has(values: Sequence[str], what: str) -> str:
    return f"No {what} has the code{'s' if len(values) > 1 else ''} {', '.join(values)}."


def _customers_unknown(codes: list[str]) -> str:
    known = set(Organisation.objects.customers().filter(code__in=codes).values_list("code", flat=True))
    unknown = [code for code in codes if code not in known]
    return _none_has(unknown, "customer") if unknown else ""


def _branches_unknown(codes: list[str]) -> str:
    branches = list(Organisation.objects.branches().order_by("code").values_list("code", flat=True))
    unknown = [code for code in codes if code not in branches]
    return f"{_none_has(unknown, 'branch')} Branches: {', '.join(branches)}." if unknown else ""


def _places_unknown(codes: list[str]) -> str:
    known = set(Location.objects.filter(code__in=codes).values_list("code", flat=True))
    unknown = [code for code in codes if code not in known]
    return f"No place has the UN/LOCODE {', '.join(unknown)}." if unknown else ""


def _countries_unknown(codes: list[str]) -> str:
    unknown = [code for code in codes if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None]
    return f"{', '.join(unknown)}: use ISO country codes, e.g. DE or CN." if unknown else ""


# Fields whose values name something that must exist: (how a typed value is written, what is unknown or "").
_KNOWN_VALUES: dict[str, tuple[Callable[[str], str], Callable[[list[str]], str]]] = {
    ConditionField.CUSTOMER: (str.upper, _customers_unknown),
    ConditionField.BRANCH: (str.upper, _branches_unknown),
    ConditionField.ORIGIN: (lambda code: code.replace(" ", "").upper(), _places_unknown),
    ConditionField.DESTINATION: (lambda code: code.replace(" ", "").upper(), _places_unknown),
    ConditionField.ORIGIN_COUNTRY: (str.upper, _countries_unknown),
    ConditionField.DESTINATION_COUNTRY: (str.upper, _countries_unknown),
}


def condition_values_check(field: str, typed: list[str]) -> tuple[list[str], str]:
    """(the values as stored, "") when each value of a text condition exists or is one of the field's choices,
    else (typed, why not)."""
    if field in CHOICE_FIELDS:
        choices = CHOICE_FIELDS[field]
        codes = [choice_code(value, choices) for value in typed]
        wrong = [value for value, code in zip(typed, codes, strict=True) if code is None]
        if wrong:
            label = ConditionField(field).label.lower()
            return typed, f"No {label} is called {', '.join(wrong)}. {_one_of(choices.values)}"
        return [code for code in codes if code is not None], ""
    if field in _KNOWN_VALUES:
        written, unknown = _KNOWN_VALUES[field]
        values = [written(value) for value in typed]
        return values, unknown(values)
    return typed, ""


class Operator(models.TextChoices):
    EQUALS = "eq", "is"
    NOT_EQUALS = "ne", "is not"
    IN = "in", "is one of (comma-separated)"
    NOT_IN = "not_in", "is none of (comma-separated)"
    GREATER = "gt", "is more than"
    LESS = "lt", "is less than"
    IS_TRUE = "true", "is true"
    IS_FALSE = "false", "is false"


class RuleCondition(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(max_length=24, choices=ConditionField.choices)
    operator = models.CharField(max_length=8, choices=Operator.choices, default=Operator.EQUALS)
    value = models.CharField(max_length=200, blank=True)

    class Meta:
        triggers = [config_changed_trigger()]
        ordering = ["rule", "id"]

    def __str__(self) -> str:
        return f"{self.get_field_display()} {self.get_operator_display()} {self.value}".strip()

    def clean(self) -> None:
        flag_operators = (Operator.IS_TRUE, Operator.IS_FALSE)
        if self.field in BOOLEAN_FIELDS and self.operator not in flag_operators:
            raise ValidationError({"operator": "This is a yes/no field: use 'is true' or 'is false'."})
        if self.field not in BOOLEAN_FIELDS and self.operator in flag_operators:
            raise ValidationError({"operator": "'is true' and 'is false' are for yes/no fields."})
        if self.field in NUMERIC_FIELDS:
            if self.operator in (Operator.IN, Operator.NOT_IN):
                raise ValidationError({"operator": "Compare numbers with is, is not, more than or less than."})
            try:
                finite = Decimal(self.value.strip()).is_finite()
            except InvalidOperation:
                finite = False
            if not finite:  # NaN or Infinity parse, but compare with no weight or value (services.rules)
                raise ValidationError({"value": "Enter a number, e.g. 25000."})
        elif self.operator in (Operator.GREATER, Operator.LESS):
            raise ValidationError({"operator": "'More than' and 'less than' are for numbers."})
        elif self.operator not in flag_operators and not self.value.strip():
            raise ValidationError({"value": "Enter the value to compare with."})
        elif self.operator not in flag_operators:
            self._values_check()

    def _values_check(self) -> None:
        typed = [value.strip() for value in self.value.split(",") if value.strip()]
        if len(typed) > 1 and self.operator in (Operator.EQUALS, Operator.NOT_EQUALS):
            raise ValidationError({"value": "“is” and “is not” compare with one value; for several, use “is one of”."})
        values, problem = condition_values_check(self.field, typed)
        if problem:
            raise ValidationError({"value": problem})
        self.value = ", ".join(values)


class ActionKind(models.TextChoices):
    TRANSITION = "transition", "Take a transition"
    CREATE_TASK = "create_task", "Create a task"
    ASSIGN = "assign", "Assign the order's open tasks"
    NOTIFY = "notify", "Notify"
    HOLD = "hold", "Put the order on hold"


class RuleAction(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=12, choices=ActionKind.choices)
    transition = models.CharField(max_length=20, choices=TRANSITION_CHOICES, blank=True)
    task_name = models.CharField(max_length=120, blank=True, help_text="For 'create a task'.")
    team_function = models.CharField(
        "team",
        max_length=20,
        choices=TeamFunction.choices,
        blank=True,
        help_text="Create: the task's team. Assign: only this team's tasks. Notify: this team's lead.",
    )
    due_in_hours = models.DecimalField(
        max_digits=6,
        decimal_places=1,
        default=Decimal(4),
        help_text="For 'create a task': business hours of the order's branch (its opening hours, in its time zone) "
        f"from the moment the task is made, at most {MAX_BUSINESS_HOURS}. 24 is not a day: with a 10-hour working "
        "day it is two and a half working days.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to=active_staff,
        help_text="Assign to / notify this person (active OMS staff only).",
    )
    message = models.CharField(max_length=300, blank=True, help_text="Reason, instructions or notification text.")

    class Meta:
        triggers = [config_changed_trigger()]
        ordering = ["rule", "position", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()

    def clean(self) -> None:
        required = {
            ActionKind.TRANSITION: ("transition", "Pick the transition to take."),
            ActionKind.CREATE_TASK: ("task_name", "Name the task to create."),
            ActionKind.ASSIGN: ("user", "Pick the person to assign to."),
            ActionKind.HOLD: ("message", "Say why the order is held (it is the hold's reason)."),
        }
        if self.kind in required:
            name, message = required[ActionKind(self.kind)]
            if not getattr(self, f"{name}_id" if name == "user" else name):
                raise ValidationError({name: message})
        if self.kind == ActionKind.CREATE_TASK and not self.team_function:
            raise ValidationError({"team_function": "Pick the team the task is for."})
        if self.kind == ActionKind.CREATE_TASK and self.due_in_hours is not None:
            # the task is due from the moment it is made, in the branch's business hours (services.rules)
            if self.due_in_hours < 0:
                raise ValidationError({"due_in_hours": "A rule's task is due after it is made: enter 0 hours or more."})
            if problem := business_hours_problem(self.due_in_hours):
                raise ValidationError({"due_in_hours": f"{problem} A rule's task always counts business hours."})
        if self.kind == ActionKind.NOTIFY and not (self.user_id or self.team_function):
            raise ValidationError({"user": "Pick a person, or a team whose lead is notified."})
        if self.user_id and not self.is_staff_user(self.user_id):
            # a customer's person would be told about (or given) other customers' orders
            raise ValidationError({"user": "Rules can only name active OMS staff."})

    @classmethod
    def is_staff_user(cls, user_id: int) -> bool:
        """Whether an action may name this person now; checked when saved and again when the rule runs, as
        people leave or change roles after the rule was written."""
        return is_active_staff(user_id)


class RuleOutcome(models.TextChoices):
    DONE = "done", "Done"
    PARTLY = "partly", "Partly done"
    SKIPPED = "skipped", "Skipped"


class RuleRun(models.Model):
    """One rule firing on one event for one order: what it did. Unique per (rule, event) so a redelivered
    event never runs a rule twice."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    event_key = models.CharField(max_length=120)
    outcome = models.CharField(max_length=10, choices=RuleOutcome.choices, default=RuleOutcome.DONE)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "event_key"], name="rule_run_once_per_event")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.event_key}: {self.outcome}"
