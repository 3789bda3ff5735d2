"""Exceptions: what went wrong with a shipment (late, silent, held, damaged, rolled …), who owns it, what was
done, and the rules that detect them (thresholds per mode and customer, set in the console).

Loaded by Django through the star import in tracking/models/__init__.py, so these are models of the
`tracking` app (tables tracking_*). Relations to planning's models are by string.

One exception per (kind, shipment, leg, house) is open at a time: a partial unique index on the rows that are
not resolved, so a scan that runs twice, or two workers scanning at once, cannot open the same thing twice
(the insert is INSERT … ON CONFLICT DO NOTHING). Tracking events are referenced by id only
(`source_event_ids`): the events table is built to be partitioned and takes no foreign keys.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from orders.models import Mode
from partners.models import Organisation

__all__ = [
    "ExceptionEntry",
    "ExceptionKind",
    "ExceptionRule",
    "ExceptionScan",
    "ExceptionStatus",
    "RootCause",
    "Severity",
    "ShipmentException",
]


class ExceptionKind(models.TextChoices):
    MILESTONE_OVERDUE = "milestone_overdue", "Milestone overdue"
    ETA_DELAY = "eta_delay", "ETA slipped"
    NO_MOVEMENT = "no_movement", "No event"
    CUSTOMS_HOLD = "customs_hold", "Customs hold"
    CARRIER_HOLD = "carrier_hold", "Carrier hold (documents, payment)"
    DAMAGE = "damage", "Damage"
    FAILED_DELIVERY = "failed_delivery", "Failed delivery"
    RETURNED_TO_SENDER = "returned_to_sender", "Return to sender"
    ROLLED_BOOKING = "rolled_booking", "Rolled booking"
    MISSED_CUTOFF = "missed_cutoff", "Missed cut-off"


# Kinds whose condition can clear by itself (the awaited event arrives); the others need a person.
SELF_RESOLVING_KINDS = frozenset(
    {
        ExceptionKind.MILESTONE_OVERDUE,
        ExceptionKind.ETA_DELAY,
        ExceptionKind.NO_MOVEMENT,
        ExceptionKind.CUSTOMS_HOLD,
        ExceptionKind.CARRIER_HOLD,
        ExceptionKind.FAILED_DELIVERY,
        ExceptionKind.ROLLED_BOOKING,
        ExceptionKind.MISSED_CUTOFF,
    }
)


# Kinds that are a report (the carrier's, a broker's, a partner's file): their `observed_at` is the time the report
# gives for what happened, which may be long before detection opened the exception (a feed that arrives late).
REPORTED_KINDS = frozenset(
    {
        ExceptionKind.CUSTOMS_HOLD,
        ExceptionKind.CARRIER_HOLD,
        ExceptionKind.DAMAGE,
        ExceptionKind.FAILED_DELIVERY,
        ExceptionKind.RETURNED_TO_SENDER,
    }
)


class Severity(models.IntegerChoices):
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    CRITICAL = 4, "Critical"


class ExceptionStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


UNRESOLVED_STATUSES = (ExceptionStatus.OPEN, ExceptionStatus.ACKNOWLEDGED)


class RootCause(models.TextChoices):
    CARRIER = "carrier", "Carrier (capacity, schedule, equipment)"
    WEATHER = "weather", "Weather or force majeure"
    PORT_CONGESTION = "port_congestion", "Port or terminal congestion"
    CUSTOMS = "customs", "Customs or authority inspection"
    DOCUMENTS = "documents", "Missing or wrong documents"
    PAYMENT = "payment", "Unpaid freight or charges"
    SHIPPER = "shipper", "Shipper (cargo not ready, late delivery to terminal)"
    CONSIGNEE = "consignee", "Consignee (closed, refused, wrong address)"
    OUR_ERROR = "our_error", "Our error (booking, data, follow-up)"
    DATA_ONLY = "data_only", "No real problem (data or feed issue)"
    OTHER = "other", "Other (see the note)"


class ExceptionRule(models.Model):
    """A detection rule: which kind of exception to open, when (the threshold), how severe, for which mode and
    customer. The most specific active rule wins: customer and mode, customer, mode, then the generic rule."""

    kind = models.CharField(
        max_length=20,
        choices=ExceptionKind.choices,
        help_text="What this rule detects. Each kind has its own meaning of the threshold (see below).",
    )
    mode = models.CharField(
        max_length=12,
        choices=Mode.choices,
        blank=True,
        help_text="Only shipments of this mode. Blank: every mode without a rule of its own.",
    )
    customer = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exception_rules",
        limit_choices_to={"kinds__contains": ["customer"]},
        help_text="Only this customer's shipments (their SLA); type its code or name to pick it. Blank: every "
        "customer without a rule of its own.",
    )
    threshold_hours = models.DecimalField(
        max_digits=7,
        decimal_places=1,
        default=0,
        help_text="Hours of tolerance. Overdue milestone: hours past the planned time. ETA slipped: hours the "
        "latest estimate is later than planned. No event: hours since the last actual event. Holds, damage, "
        "failed delivery, return: hours the report stands before it opens (0: at once). Rolled booking: hours "
        "the new departure is later than the first one. Missed cut-off: hours past the cargo cut-off without "
        "the cargo at the terminal.",
    )
    severity = models.PositiveSmallIntegerField(
        choices=Severity.choices,
        default=Severity.MEDIUM,
        help_text="How the exception is ranked in the inbox (critical first).",
    )
    notify_customer = models.BooleanField(
        default=False,
        help_text="Also email the customer (the organisation's email address) when such an exception opens. A "
        "customer without an address cannot be told: a rule for one customer is refused until its organisation has "
        "one; saving a rule for every customer names those who have none (they are not emailed).",
    )
    is_active = models.BooleanField(
        default=True, help_text="Untick to stop detecting this; a more general rule still applies, if any."
    )
    note = models.CharField(
        max_length=200, blank=True, help_text="Why this threshold, e.g. 'ACME contract: 12 h on air'."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "mode", "customer__code"]
        verbose_name = "exception rule"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "mode", "customer"],
                nulls_distinct=False,
                name="exception_rule_once_per_scope",
                violation_error_message="There is a rule for this kind, mode and customer already: change that one.",
            ),
            models.CheckConstraint(
                condition=Q(threshold_hours__gte=0),
                name="exception_rule_threshold_positive",
                violation_error_message="The threshold is hours of tolerance, 0 or more (0: at once).",
            ),
        ]

    def __str__(self) -> str:
        scope = " · ".join(filter(None, [self.get_mode_display() if self.mode else "", str(self.customer or "")]))
        return f"{self.get_kind_display()} ({scope or 'all'}): {self.threshold_hours} h"

    @property
    def specificity(self) -> int:
        return (2 if self.customer_id else 0) + (1 if self.mode else 0)


class ShipmentException(models.Model):
    """One exception on a shipment (and leg, when known): open → acknowledged → resolved, by a person with a
    root cause, or by itself when its condition clears (is_auto_resolved, with what cleared it)."""

    kind = models.CharField(max_length=20, choices=ExceptionKind.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(
        max_length=12, choices=ExceptionStatus.choices, default=ExceptionStatus.OPEN, editable=False
    )
    shipment = models.ForeignKey("tracking.Shipment", on_delete=models.CASCADE, related_name="exceptions")
    leg = models.ForeignKey("tracking.Leg", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    house = models.ForeignKey(
        "tracking.Shipment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The house the carrier's report named (a hold, damage, failed delivery or return of that house's "
        "cargo); blank when it concerns the whole shipment.",
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exceptions",
        help_text="The order concerned: the house's for a report on a house, else the shipment's when it carries "
        "one order; blank for what concerns every order on a consolidation.",
    )
    customer = models.ForeignKey(
        Organisation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The order's customer (kept here for the inbox's filter and sort).",
    )
    carrier = models.ForeignKey(Organisation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    mode = models.CharField(max_length=12, choices=Mode.choices)
    rule = models.ForeignKey(ExceptionRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    milestone = models.CharField(max_length=24, blank=True, help_text="The milestone concerned, e.g. ARRIVED.")
    expected_at = models.DateTimeField(null=True, blank=True, help_text="Planned time, baseline or cut-off.")
    observed_at = models.DateTimeField(null=True, blank=True, help_text="Latest estimate, or the carrier's report.")
    detail = models.CharField(max_length=300, help_text="What was detected, in a sentence.")
    carrier_reason_code = models.CharField(
        max_length=80, blank=True, help_text="As the carrier sent it (scheme:code, and its remark)."
    )
    canonical_reason = models.CharField(max_length=40, blank=True, help_text="Our reason code, e.g. customs_hold.")
    trigger_key = models.CharField(
        max_length=80,
        blank=True,
        editable=False,
        help_text="What opened it (an event id, a planned time, a roll): resolved by hand, the same trigger never "
        "reopens it.",
    )
    source_event_ids = ArrayField(
        models.BigIntegerField(), default=list, blank=True, help_text="Tracking events behind it (ids)."
    )
    notify_customer = models.BooleanField(default=False, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_exceptions"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    announced_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When higher apps were told (owner, tasks, alerts)."
    )
    resolved_announced_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When higher apps were told it resolved (once)."
    )
    customer_notified_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the customer's email was sent (once)."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_auto_resolved = models.BooleanField(default=False)
    root_cause = models.CharField(max_length=20, choices=RootCause.choices, blank=True)
    resolution_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-severity", "opened_at", "id"]
        verbose_name = "exception"
        constraints = [
            # Dedupe (DOMAIN.md §5): one unresolved exception per kind, shipment, leg and house ("no leg" and "no
            # house" count as one value each): two houses held on one master are two exceptions.
            models.UniqueConstraint(
                fields=["kind", "shipment", "leg", "house"],
                condition=Q(status__in=UNRESOLVED_STATUSES),
                nulls_distinct=False,
                name="exception_open_once",
            ),
            models.CheckConstraint(
                condition=Q(status=ExceptionStatus.RESOLVED, resolved_at__isnull=False)
                | ~Q(status=ExceptionStatus.RESOLVED),
                name="exception_resolved_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["-severity", "opened_at", "id"],
                condition=Q(status__in=UNRESOLVED_STATUSES),
                name="exception_inbox",
            ),
            models.Index(fields=["shipment", "status"], name="exception_shipment"),
            models.Index(fields=["owner", "status"], name="exception_owner"),
            models.Index(fields=["opened_at"], name="exception_opened"),
            # The portal's "resolved in the last days", beside exception_inbox's unresolved ones.
            models.Index(
                fields=["resolved_at"], condition=Q(status=ExceptionStatus.RESOLVED), name="exception_resolved_at"
            ),
            models.Index(fields=["opened_at"], condition=Q(announced_at__isnull=True), name="exception_unannounced"),
        ]

    def __str__(self) -> str:
        # Reads the shipment: lists of exceptions select_related it.
        return f"{self.get_kind_display()} · {self.shipment.reference}"

    def get_absolute_url(self) -> str:
        return reverse("tracking_exceptions:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status != ExceptionStatus.RESOLVED

    @property
    def reported_at(self) -> datetime.datetime | None:
        """When what was reported happened, as the report gives it (a hold, damage, a failed delivery, a return: the
        event's time, as the order's timeline shows it); None for what detection works out itself (an overdue
        milestone, a slipped ETA, silence, a roll, a missed cut-off), whose moment is when it was opened."""
        return self.observed_at if self.kind in REPORTED_KINDS else None

    @property
    def age(self):  # type: ignore[no-untyped-def]
        return (self.resolved_at or timezone.now()) - self.opened_at


# What one note in an exception's history holds (forms.NoteForm, services.handling.exception_note_add).
NOTE_LIMIT = 4000


class ExceptionEntry(models.Model):
    """The history of an exception: opened, assigned, acknowledged, noted, updated (what is detected changed while
    it stays open: a later estimate, a new plan, another attempt), resolved (by whom, or by itself)."""

    class Verb(models.TextChoices):
        OPENED = "opened", "opened"
        ASSIGNED = "assigned", "assigned"
        ACKNOWLEDGED = "acknowledged", "acknowledged"
        NOTED = "noted", "added a note"
        UPDATED = "updated", "updated"
        RESOLVED = "resolved", "resolved"
        AUTO_RESOLVED = "auto_resolved", "resolved itself"
        NOTIFIED = "notified", "notified"

    exception = models.ForeignKey(ShipmentException, on_delete=models.CASCADE, related_name="entries")
    verb = models.CharField(max_length=14, choices=Verb.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = "exception history entry"
        verbose_name_plural = "exception history"
        indexes = [models.Index(fields=["exception", "at"], name="exception_entry_at")]

    def __str__(self) -> str:
        # Reads the exception and its shipment: lists of entries select_related("exception__shipment").
        return f"{self.exception}: {self.get_verb_display()} {self.at:%Y-%m-%d %H:%M}"


class ExceptionScan(models.Model):
    """One run of the full scan over active shipments: its cursor moves after each committed batch, so a scan
    that dies is continued by the next run from where it stopped (nothing lost, nothing opened twice)."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    cursor = models.BigIntegerField(default=0, help_text="The last shipment id done.")
    batches = models.PositiveIntegerField(default=0)
    shipments = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["started_at"], condition=Q(finished_at__isnull=True), name="exception_scan_open")
        ]

    def __str__(self) -> str:
        return f"Scan {self.started_at:%Y-%m-%d %H:%M} ({'done' if self.finished_at else f'at {self.cursor}'})"
