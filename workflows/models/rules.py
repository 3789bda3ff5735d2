"""Automation rules: "when <event> and <conditions on the order> then <actions>", configured in the admin.

A rule fires at most once per event (RuleRun is unique per rule and event key) and never twice in one
chain of automation: a transition a rule takes carries the chain of rules that led to it in its payload,
so a rule reacting to its own effect is skipped and recorded, and chains stop at MAX_RULE_DEPTH.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from orders.models import Order
from workflows.models.config import config_changed_trigger
from workflows.models.teams import TeamFunction, active_staff
from workflows.models.templates import TRANSITION_CHOICES

MAX_RULE_DEPTH = 5


class RuleEvent(models.TextChoices):
    ORDER_SUBMITTED = "order_submitted", "Order submitted"
    ORDER_ENTERED_STATE = "order_entered_state", "Order enters a state"
    MILESTONE_RECORDED = "milestone_recorded", "Milestone recorded"
    EXCEPTION_OPENED = "exception_opened", "Exception opened"
    DOCUMENT_UPLOADED = "document_uploaded", "Document uploaded"
    TASK_OVERDUE = "task_overdue", "Task overdue"


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
                Decimal(self.value.strip())
            except InvalidOperation:
                raise ValidationError({"value": "Enter a number, e.g. 25000."}) from None
        elif self.operator in (Operator.GREATER, Operator.LESS):
            raise ValidationError({"operator": "'More than' and 'less than' are for numbers."})
        elif self.operator not in flag_operators and not self.value.strip():
            raise ValidationError({"value": "Enter the value to compare with."})


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
    due_in_hours = models.DecimalField(max_digits=6, decimal_places=1, default=Decimal(4))
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
        if self.kind == ActionKind.NOTIFY and not (self.user_id or self.team_function):
            raise ValidationError({"user": "Pick a person, or a team whose lead is notified."})
        if self.user_id and not self.is_staff_user(self.user_id):
            # a customer's person would be told about (or given) other customers' orders
            raise ValidationError({"user": "Rules can only name active OMS staff."})

    @classmethod
    def is_staff_user(cls, user_id: int) -> bool:
        """Whether an action may name this person now; checked when saved and again when the rule runs, as
        people leave or change roles after the rule was written."""
        user_model = cls._meta.get_field("user").related_model
        assert isinstance(user_model, type)  # noqa: S101 - a foreign key's model, resolved once apps are loaded
        return user_model._default_manager.filter(active_staff(), pk=user_id).exists()


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
