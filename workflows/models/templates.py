"""Workflow templates: which orders they apply to, their versions, and the task definitions of a version.

A template matches orders by mode, service level, customer, branch and trade direction; the most specific
active template wins. Its tasks live in versions: an admin edits a draft, publishes it, and from then on new
orders start on it, while orders in flight keep the version they started with (OrderWorkflow) unless an
admin migrates them. Published versions are never edited, so a running order's tasks always make sense.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from orders.lifecycle import TRANSITIONS
from orders.models import STATUS_PATH, Mode, Order, OrderStatus, ServiceLevel
from partners.models import Organisation
from workflows.business_hours import MAX_BUSINESS_HOURS
from workflows.models.config import config_changed_trigger
from workflows.models.teams import TeamFunction, staff_problem


class TradeDirection(models.TextChoices):
    """Seen from the branch handling the order: goods leaving its country, arriving, both, or neither."""

    EXPORT = "export", "Export"
    IMPORT = "import", "Import"
    DOMESTIC = "domestic", "Domestic"
    CROSS_TRADE = "cross_trade", "Cross-trade"


class WorkflowTemplate(models.Model):
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    mode = models.CharField(max_length=12, choices=Mode.choices, blank=True, help_text="Blank: any mode.")
    service_level = models.CharField(
        max_length=12, choices=ServiceLevel.choices, blank=True, help_text="Blank: any service level."
    )
    customer = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"kinds__contains": ["customer"]},
        help_text="Blank: any customer.",
    )
    branch = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"kinds__contains": ["branch"]},
        help_text="Blank: any branch.",
    )
    trade_direction = models.CharField(
        max_length=12, choices=TradeDirection.choices, blank=True, help_text="Blank: any direction."
    )
    is_active = models.BooleanField(default=True, help_text="Inactive templates match no new orders.")
    current_version = models.ForeignKey(
        "WorkflowVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="The published version new orders start on.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        triggers = [config_changed_trigger()]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def criteria(self) -> list[tuple[str, str]]:
        """The criteria this template sets, as (label, value) pairs for screens."""
        pairs = [
            ("Customer", self.customer.code if self.customer_id and self.customer else ""),
            ("Branch", self.branch.code if self.branch_id and self.branch else ""),
            ("Mode", self.get_mode_display() if self.mode else ""),
            ("Direction", self.get_trade_direction_display() if self.trade_direction else ""),
            ("Service", self.get_service_level_display() if self.service_level else ""),
        ]
        return [(label, value) for label, value in pairs if value]

    def specificity(self) -> tuple[int, ...]:
        """How specific the template is: more criteria first, then customer > branch > mode > direction >
        service level, then the oldest template; the highest wins."""
        flags = (
            self.customer_id is not None,
            self.branch_id is not None,
            bool(self.mode),
            bool(self.trade_direction),
            bool(self.service_level),
        )
        return (sum(flags), *(int(flag) for flag in flags), -self.pk)


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class WorkflowVersion(models.Model):
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(editable=False)
    status = models.CharField(max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT, editable=False)
    note = models.CharField(max_length=200, blank=True, help_text="What changed in this version.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        triggers = [config_changed_trigger()]
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="workflow_version_number_unique"),
            models.UniqueConstraint(
                fields=["template"], condition=Q(status="draft"), name="workflow_version_one_draft"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number} ({self.get_status_display().lower()})"

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT


class TriggerKind(models.TextChoices):
    STATE = "state", "Order enters a state"
    MILESTONE = "milestone", "Milestone recorded"
    DOCUMENT = "document", "Document uploaded"
    DATE = "date", "Time before/after a date"


class DateAnchor(models.TextChoices):
    """Dates a task can be timed from. The first two are on the order; the others are recorded by the apps
    that know them (tracking: ETD, ETA, cut-offs) through workflows.services.key_date_record."""

    REQUESTED_PICKUP = "requested_pickup", "Requested pickup"
    REQUESTED_DELIVERY = "requested_delivery", "Requested delivery"
    ETD = "etd", "ETD"
    ETA = "eta", "ETA"
    CARGO_CUTOFF = "cargo_cutoff", "Cargo cut-off"
    DOCUMENT_CUTOFF = "document_cutoff", "Documentation cut-off"


ORDER_DATE_FIELDS: dict[str, str] = {
    DateAnchor.REQUESTED_PICKUP: "requested_pickup_on",
    DateAnchor.REQUESTED_DELIVERY: "requested_delivery_on",
}


class AssignRule(models.TextChoices):
    LEAST_LOADED = "least_loaded", "Least-loaded team member"
    ACCOUNT_OWNER = "account_owner", "Customer's account owner (else least-loaded)"
    NAMED_USER = "named_user", "A named person"
    TEAM_QUEUE = "team_queue", "Team queue (someone claims it)"


class AutoComplete(models.TextChoices):
    NONE = "", "Never (a person completes it)"
    STATE = "state", "Order reaches a state"
    MILESTONE = "milestone", "Milestone recorded"
    DOCUMENT = "document", "Document exists"


TRANSITION_CHOICES = [(name, spec.label) for name, spec in TRANSITIONS.items()]
# Where each fixed-target transition leads (release and hold depend on the order).
_TARGETS = {
    "submit": "submitted", "confirm": "confirmed", "plan": "planned", "unplan": "confirmed", "depart": "in_transit",
    "arrive": "arrived",
    "deliver": "delivered", "complete": "completed", "invoice": "invoiced", "close": "closed", "cancel": "cancelled",
}  # fmt: skip
# The forward path's steps, by the state each enters (unplan enters confirmed too, going back).
FORWARD_STEPS = {name: target for name, target in _TARGETS.items() if target in STATUS_PATH and name != "unplan"}
# What "order enters a state" can name (tasks, rules): an order is created in draft and never enters it.
ENTERED_STATES = tuple(status for status in OrderStatus.values if status != OrderStatus.DRAFT)
NEVER_ENTERED = "No order enters draft: orders are created in it."
# The states whose reaching completes a task (auto_completion.state_events): the forward path after draft. On hold is
# not on it, and a cancelled or closed order's open tasks are cancelled (transition_handling._state_tasks), never
# completed.
COMPLETING_STATES = tuple(status for status in STATUS_PATH if status not in (OrderStatus.DRAFT, OrderStatus.CLOSED))
# How far before or after its date a date-triggered task may start: a year (the arithmetic overflows past 70 million).
MAX_DATE_OFFSET_HOURS = 8784


def business_hours_problem(hours: Decimal | None) -> str:
    """Why a due time counted in business hours is refused ("" when it is not): more than MAX_BUSINESS_HOURS either
    way. Beyond it, a sparse calendar reaches no due time at all and a usual one runs to years (8760 meant as a year
    is three and a half years of 10-hour, five-day weeks)."""
    if hours is None or abs(hours) <= MAX_BUSINESS_HOURS:
        return ""
    return (
        f"A due time counted in business hours can be at most {MAX_BUSINESS_HOURS} hours (about a year of 8-hour "
        "working days)."
    )


class TaskDefinition(models.Model):
    """One task a version creates: what, for which team, when, due when, after what, blocking what."""

    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="definitions")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.SlugField(max_length=40, help_text="Short id other tasks name in 'depends on', e.g. house-bl.")
    name = models.CharField(max_length=120)
    instructions = models.TextField(blank=True)
    team_function = models.CharField("team", max_length=20, choices=TeamFunction.choices)

    trigger_kind = models.CharField(max_length=10, choices=TriggerKind.choices, default=TriggerKind.STATE)
    trigger_state = models.CharField(
        max_length=20, choices=OrderStatus.choices, blank=True, help_text="For 'order enters a state'."
    )
    trigger_code = models.CharField(
        max_length=40, blank=True, help_text="Milestone code (e.g. DEPARTED) or document type (e.g. HBL)."
    )
    date_anchor = models.CharField(max_length=20, choices=DateAnchor.choices, blank=True)
    date_offset_hours = models.IntegerField(
        default=0,
        help_text=f"For date triggers: hours after the date (negative: before), e.g. -48; at most "
        f"{MAX_DATE_OFFSET_HOURS} (a year) either way.",
    )

    due_in_hours = models.DecimalField(
        max_digits=6,
        decimal_places=1,
        default=Decimal(8),
        help_text=f"SLA: hours from the trigger (or due anchor); in business hours at most {MAX_BUSINESS_HOURS}. "
        "Negative hours (before the anchor date) need a due anchor.",
    )
    due_anchor = models.CharField(
        max_length=20,
        choices=DateAnchor.choices,
        blank=True,
        help_text="Blank: due counts from the moment the task appears; else from this date (negative hours: before).",
    )
    due_in_business_hours = models.BooleanField(
        default=True, help_text="Count only the branch's business hours, in its time zone."
    )

    assign_rule = models.CharField(max_length=20, choices=AssignRule.choices, default=AssignRule.LEAST_LOADED)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="For 'a named person' (active OMS staff only).",
    )
    depends_on = ArrayField(
        models.SlugField(max_length=40), default=list, blank=True, help_text="Keys of tasks to finish first."
    )
    blocks = ArrayField(
        models.CharField(max_length=20, choices=TRANSITION_CHOICES),
        default=list,
        blank=True,
        help_text="Transitions the order cannot take while this task is open.",
    )
    auto_complete_kind = models.CharField(max_length=10, choices=AutoComplete.choices, blank=True)
    auto_complete_value = models.CharField(
        max_length=40, blank=True, help_text="The state, milestone code or document type that completes it."
    )

    class Meta:
        ordering = ["version", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="task_definition_key_unique")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        needs = {
            TriggerKind.STATE: ("trigger_state", "Pick the state that starts the task."),
            TriggerKind.MILESTONE: ("trigger_code", "Name the milestone code, e.g. DEPARTED."),
            TriggerKind.DOCUMENT: ("trigger_code", "Name the document type, e.g. HBL."),
            TriggerKind.DATE: ("date_anchor", "Pick the date the task is timed from."),
        }
        name, message = needs[TriggerKind(self.trigger_kind)]
        if not getattr(self, name):
            errors[name] = message
        if self.trigger_kind == TriggerKind.STATE and self.trigger_state == OrderStatus.DRAFT:
            errors["trigger_state"] = f"{NEVER_ENTERED} Pick a later state, e.g. submitted."
        errors |= self._event_codes_check()
        errors |= self._timing_check()
        if self.assign_rule == AssignRule.NAMED_USER and not self.assignee_id:
            errors["assignee"] = "Name the person, or pick another assignment rule."
        elif self.assign_rule == AssignRule.NAMED_USER and (
            problem := staff_problem(self.assignee_id, where="only active OMS staff are named for a template's task")
        ):
            errors["assignee"] = problem
        if self.auto_complete_kind and not self.auto_complete_value:
            errors["auto_complete_value"] = "Say which state, milestone or document completes the task."
        if self.auto_complete_kind == AutoComplete.STATE and self.auto_complete_value not in COMPLETING_STATES:
            errors["auto_complete_value"] = (
                f"Use one of: {', '.join(COMPLETING_STATES)}. A task completes when the order reaches a state on its "
                "way; on hold is not on it, and a cancelled or closed order's open tasks are cancelled, not completed."
            )
        if self.key and self.key in self.depends_on:
            errors["depends_on"] = "A task cannot wait for itself."
        entering = {spec_name for spec_name in self.blocks if _TARGETS.get(spec_name) == self.auto_complete_value}
        if self.auto_complete_kind == AutoComplete.STATE and entering:
            errors["blocks"] = (
                f"It completes when the order reaches {self.auto_complete_value}, so it cannot block "
                f"{', '.join(sorted(entering))}: neither could ever happen."
            )
        if errors:
            raise ValidationError(errors)

    def _timing_check(self) -> dict[str, str]:
        """What is wrong with when the task starts or is due, by field: a due time the business-hours calculator
        cannot keep, hours counted back from no date (due before the task appears: overdue, and escalated, at
        once), a start so far from its date that it cannot be computed."""
        errors = {}
        if self.due_in_business_hours and (problem := business_hours_problem(self.due_in_hours)):
            errors["due_in_hours"] = f"{problem} For a longer one, untick “Count only the branch's business hours”."
        elif self.due_in_hours is not None and self.due_in_hours < 0 and not self.due_anchor:
            errors["due_in_hours"] = "Counting back needs a date: pick a due anchor."
        if self.date_offset_hours is not None and abs(self.date_offset_hours) > MAX_DATE_OFFSET_HOURS:
            errors["date_offset_hours"] = (
                f"A task starts at most {MAX_DATE_OFFSET_HOURS} hours (a year) before or after its date."
            )
        return errors

    def _event_codes_check(self) -> dict[str, str]:
        """Check the milestone code or document type that starts or completes the task as a rule's event value is
        checked, and keep it as the events name it (departed is DEPARTED): a typo would otherwise publish and the
        task never appear, or never complete. What is wrong, by field."""
        from workflows.models.rules import RuleEvent, event_value_check  # rules build on this module's choices

        events = {"milestone": RuleEvent.MILESTONE_RECORDED, "document": RuleEvent.DOCUMENT_UPLOADED}
        errors = {}
        for field, kind in (("trigger_code", self.trigger_kind), ("auto_complete_value", self.auto_complete_kind)):
            typed = getattr(self, field).strip()
            if kind not in events or not typed:
                continue
            value, problem = event_value_check(events[kind], typed)
            if problem:
                errors[field] = problem
            else:
                setattr(self, field, value)
        return errors

    @property
    def auto_complete_on(self) -> str:
        """The event that completes the task, as Task.auto_complete_on stores it ("state:planned")."""
        return f"{self.auto_complete_kind}:{self.auto_complete_value}" if self.auto_complete_kind else ""

    def trigger_display(self) -> str:
        if self.trigger_kind == TriggerKind.STATE:
            return f"enters {OrderStatus(self.trigger_state).label.lower()}" if self.trigger_state else "—"
        if self.trigger_kind == TriggerKind.DATE:
            anchor = DateAnchor(self.date_anchor).label if self.date_anchor else "?"
            hours = self.date_offset_hours
            return f"{abs(hours)} h {'before' if hours < 0 else 'after'} {anchor.lower()}"
        return f"{self.get_trigger_kind_display().lower()} {self.trigger_code}"


class OrderWorkflow(models.Model):
    """Which template version an order runs on; fixed when the order first moves, changed only by an
    admin's migration."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="workflow")
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    version = models.ForeignKey(
        WorkflowVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="order_workflows"
    )
    trade_direction = models.CharField(max_length=12, choices=TradeDirection.choices, blank=True)
    bound_at = models.DateTimeField(auto_now_add=True)
    migrated_at = models.DateTimeField(null=True, blank=True)
    events_seen = ArrayField(
        models.TextField(), default=list, db_default=[], blank=True,
        help_text='The milestones and documents the order has had, as tasks name them ("milestone:DEPARTED", '
        '"document:HBL"): a task made later that one of them completes is made done (services.engine).',
    )  # fmt: skip

    def __str__(self) -> str:
        return f"{self.order_id} on {self.version or 'no workflow'}"


class OrderKeyDate(models.Model):
    """A date an order's tasks can be timed from that is not on the order itself (ETD, cut-offs), as last
    recorded by the app that knows it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="key_dates")
    anchor = models.CharField(max_length=20, choices=DateAnchor.choices)
    at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "anchor"], name="order_key_date_once")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.anchor} {self.at:%Y-%m-%d %H:%M}"
