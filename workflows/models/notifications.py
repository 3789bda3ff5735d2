"""Notifications: in-app, with an email copy when the person's preferences ask for it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from workflows.models.config import config_changed_trigger


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", "Task assigned to you"
    MENTIONED = "mentioned", "You were mentioned"
    ESCALATED = "escalated", "Task overdue in your team"
    RULE = "rule", "Automation"


class Notification(models.Model):
    # Indexed by the composite indexes of Meta, which start with it.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(max_length=10, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    task = models.ForeignKey("workflows.Task", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_wanted = models.BooleanField(default=False, editable=False)
    emailed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the email copy was sent (after the mail server took it)."
    )
    # The email copy's send is leased, not claimed for good (workflows.tasks.send_notification_email): a worker
    # killed during the send leaves a claim that its redelivered message (the same task id) or, once the lease has
    # run out, the sweep takes over. A rare duplicate instead of a silent loss.
    email_claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When a worker took the email copy's send (a lease)."
    )
    email_claimed_by = models.CharField(
        max_length=64, blank=True, editable=False, help_text="The Celery task that holds the lease."
    )
    email_attempts = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="Sends the mail server refused or that failed; the sweep stops at 30."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient_newest"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
            # The sweep of email copies not sent yet (workflows.tasks.send_unsent_notification_emails).
            models.Index(
                fields=["created_at"],
                condition=Q(email_wanted=True, emailed_at__isnull=True),
                name="notification_unsent",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """Which notifications a person also wants by email; in-app ones always appear."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_assigned = models.BooleanField("email me when a task is assigned to me", default=False)
    email_mentioned = models.BooleanField("email me when someone mentions me", default=True)
    email_escalated = models.BooleanField("email me when a task in my team is overdue", default=True)
    email_rule = models.BooleanField("email me automation notices", default=True)

    class Meta:
        triggers = [config_changed_trigger()]

    def __str__(self) -> str:
        return f"Preferences of {self.user}"

    def wants_email(self, kind: str) -> bool:
        return bool(getattr(self, f"email_{kind}", False))


DEFAULT_PREFERENCE = NotificationPreference(email_assigned=False, email_mentioned=True, email_escalated=True)
