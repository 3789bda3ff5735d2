"""Tasks: a piece of work on one order for one team, with an owner, a due time and a state.

`source_key` makes creation idempotent: "<definition key>@<occurrence>" for template tasks (the same key
across versions, so a migrated order never gets a task twice), "rule:<rule>:<event>:<action>" for rule
tasks. Processing the same trigger twice therefore cannot create a second task.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderTransition
from workflows.models.teams import Team, TeamFunction
from workflows.models.templates import TaskDefinition


class TaskState(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class TaskQuerySet(models.QuerySet["Task"]):
    def open(self) -> TaskQuerySet:
        return self.filter(state=TaskState.OPEN)

    def overdue(self, now=None) -> TaskQuerySet:  # type: ignore[no-untyped-def]
        return self.filter(state=TaskState.OPEN, due_at__lt=now or timezone.now())


class Task(models.Model):
    # No single-column index where a composite one of Meta.indexes starts with the column (order, team,
    # assignee), and none on `key`, which is only ever read with its order: each index is written on every
    # task insert and state change (docs/decisions/0003).
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    definition = models.ForeignKey(TaskDefinition, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    rule = models.ForeignKey("workflows.Rule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source_key = models.CharField(max_length=120, blank=True, editable=False)
    key = models.SlugField(
        max_length=40, blank=True, db_index=False, help_text="The definition's key, for dependencies."
    )
    name = models.CharField(max_length=120)
    instructions = models.TextField(blank=True)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="tasks", db_index=False
    )
    team_function = models.CharField("team", max_length=20, choices=TeamFunction.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="tasks", db_index=False
    )
    state = models.CharField(max_length=10, choices=TaskState.choices, default=TaskState.OPEN)
    available_at = models.DateTimeField(null=True, blank=True, help_text="When a scheduled task opens.")
    due_at = models.DateTimeField(null=True, blank=True)
    blocks = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    depends_on = ArrayField(models.SlugField(max_length=40), default=list, blank=True)
    waiting_on = ArrayField(
        models.SlugField(max_length=40), default=list, blank=True, help_text="Keys of dependencies not done yet."
    )
    auto_complete_on = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Indexed only where set (Meta.indexes): most tasks are closed by people or automation.
    completed_by_key = models.ForeignKey(
        "partners.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, db_index=False, related_name="+",
        help_text="The API key that marked the task done (an integrator's system), when no person did.",
    )  # fmt: skip
    escalated_at = models.DateTimeField(null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "source_key"], condition=~Q(source_key=""), name="task_once_per_source"
            ),
            models.CheckConstraint(
                condition=Q(state="scheduled", available_at__isnull=False) | ~Q(state="scheduled"),
                name="task_scheduled_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["assignee", "state", "due_at"], name="task_assignee_state_due"),
            models.Index(fields=["team", "state", "due_at"], name="task_team_state_due"),
            models.Index(fields=["order", "state"], name="task_order_state"),
            models.Index(
                fields=["due_at"], condition=Q(state="open", escalated_at__isnull=True), name="task_to_escalate"
            ),
            models.Index(fields=["available_at"], condition=Q(state="scheduled"), name="task_to_open"),
            models.Index(
                fields=["completed_by_key"], condition=Q(completed_by_key__isnull=False), name="task_completed_by_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.order_id})"

    def get_absolute_url(self) -> str:
        return reverse("workflows:task_detail", args=[self.pk])

    @property
    def exception_url(self) -> str:
        """The page of the exception a rule made this task for ("" for any other task): its source key is
        "rule:<rule>:exception:<exception>:<order>:<action>" (services.rules)."""
        _, found, rest = self.source_key.partition(":exception:")
        exception_id = rest.partition(":")[0]
        if not (found and exception_id.isdigit()):
            return ""
        return reverse("tracking_exceptions:detail", args=[int(exception_id)])

    @property
    def is_open(self) -> bool:
        return self.state == TaskState.OPEN

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < timezone.now()

    @property
    def done_before_opening(self) -> bool:
        """Done before the time it was scheduled to open (a person finished it early, or its milestone came
        first): `available_at` is kept, so the lists and its page can say so for good."""
        return (
            self.state == TaskState.DONE
            and self.available_at is not None
            and self.completed_at is not None
            and self.completed_at < self.available_at
        )

    @property
    def sla_state(self) -> str:
        """overdue, due (within 4 hours), ok, scheduled, done or cancelled: the badge a list shows."""
        if self.state != TaskState.OPEN:
            return self.state
        if self.due_at is None:
            return "ok"
        left = (self.due_at - timezone.now()).total_seconds()
        return "overdue" if left < 0 else "due" if left < 4 * 3600 else "ok"


class TaskComment(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"


class TaskEvent(models.Model):
    """What happened to a task (created, assigned, completed, reopened …): its history on screen."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    verb = models.CharField(max_length=20)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    api_key = models.ForeignKey(
        "partners.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, db_index=False, related_name="+",
        help_text="The API key that did it (an integrator's system), when no person did; neither: automation.",
    )  # fmt: skip
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["task", "at", "id"]
        # Only the rows an API key wrote (few): what deleting a key sets to null finds them without a scan.
        indexes = [models.Index(fields=["api_key"], condition=Q(api_key__isnull=False), name="task_event_api_key")]

    def __str__(self) -> str:
        return f"{self.task_id} {self.verb}"


class ProcessedTransition(models.Model):
    """An order transition whose workflow effects are done. Inserted in the same transaction as those
    effects, so each transition is handled exactly once whoever gets to it first (the on-commit receiver
    or the catch-up sweep)."""

    transition = models.OneToOneField(OrderTransition, on_delete=models.CASCADE, primary_key=True, related_name="+")
    processed_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"transition {self.transition_id}"


class FailedTransition(models.Model):
    """An order transition whose workflow handling failed (a rule's bug, a template, data nobody foresaw, a
    deadlock): the attempts counter of the queue drain and the catch-up sweep, and the dead letter once given up.

    The drain takes a transition that fails on its own out of the queue (orders.QueuedTransition) and writes
    this row; the catch-up sweep (pending_transitions_process) tries it again when `next_attempt_at` comes, with
    a growing wait, and gives it up after MAX_ATTEMPTS failures: `given_up_at` is set, the failure is logged at
    ERROR, /readyz names it, and no sweep takes it until support retries it once the cause is fixed (the console's
    "Retry now": services.transition_queue.failed_transitions_retry). A transition handled at last deletes its row."""

    MAX_ATTEMPTS = 8

    transition = models.OneToOneField(
        OrderTransition,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        help_text="The order's state change whose workflow handling (tasks, rules, notifications) failed.",
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How many times its handling failed.")
    first_failed_at = models.DateTimeField(default=timezone.now, help_text="When its handling failed first.")
    failed_at = models.DateTimeField(default=timezone.now, help_text="When its handling failed last.")
    next_attempt_at = models.DateTimeField(
        default=timezone.now, help_text="When the catch-up sweep may try it again (a growing wait)."
    )
    last_error = models.TextField(blank=True, help_text="The last failure's error, as logged.")
    given_up_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "When the sweep gave it up after its attempts failed (/readyz is red meanwhile). Once the cause is "
            "fixed, “Retry now” has the next sweep try it once more."
        ),
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["given_up_at"], condition=Q(given_up_at__isnull=False), name="failed_transition_given_up"
            )
        ]

    def __str__(self) -> str:
        return f"transition {self.transition_id} failed {self.attempts}×"


class DeadLetter(models.Model):
    """A Celery message dropped instead of being handed to one more worker process: its runs killed the process
    every time (out of memory, a native crash, the hard time limit), and acks-late would redeliver it for ever
    (oms.celery.GuardedTask). Kept for support to read; the work it stood for is redone by the periodic sweeps
    or by hand."""

    task_name = models.CharField(max_length=200, help_text="The Celery task whose message was dropped.")
    task_id = models.CharField(
        max_length=64, help_text="The message's task id, as in the worker's log (“Dropped <task>[<id>]”)."
    )
    args = models.TextField(blank=True, help_text="The message's arguments, as Python shows them (cut at 2,000).")
    runs = models.PositiveSmallIntegerField(help_text="How many runs of it died with their worker process.")
    dropped_at = models.DateTimeField(
        default=timezone.now, help_text="When the message was dropped (/readyz is red for 24 h after the last drop)."
    )

    class Meta:
        ordering = ["-dropped_at", "-id"]
        verbose_name = "dead letter"

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"
