"""What carrier tracking reported that the workflow has still to act on."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class TrackingRecordKind(models.TextChoices):
    MILESTONE = "milestone", "Milestone"
    ESTIMATE = "estimate", "Estimate"


class QueuedTrackingRecord(models.Model):
    """A milestone or a changed ETD/ETA of one order, written by workflows.receivers in the ingest batch's own
    transaction (tracking.ingest.events: milestones_recording, estimates_changing), until the workflow worker
    has acted on it (workflows.services.milestones.tracking_records_drain). Neither a process that dies right
    after ingest's commit nor a broker that is down can lose it: the row is there, and the drain that the
    commit asks for, or the one the beat runs every minute, finds it.

    A drain leases the rows it takes (`available_at` moves LEASE ahead): a worker killed mid-batch leaves them
    to the next drain after that. A record that fails on the database waits a backoff and is tried again, up
    to MAX_ATTEMPTS. The order id carries no foreign key (a record whose order was deleted is skipped), and
    rows are short-lived: the table is a queue, not a record (that is tracking's TrackingEvent and EtaHistory).

    A record given up (MAX_ATTEMPTS failures, or as many drains killed while holding it) is kept, with
    `given_up_at`, for support to read and to try again from the admin once the cause is fixed; drains and
    the readiness check pass it by (the partial index holds only the records still waiting).
    """

    kind = models.CharField(max_length=9, choices=TrackingRecordKind.choices)
    order_id = models.BigIntegerField()
    code = models.CharField(max_length=24, help_text="The milestone code, e.g. DEPARTED (as Milestone.code).")
    event_id = models.BigIntegerField(null=True, blank=True, help_text="The tracking event (milestones).")
    estimated_at = models.DateTimeField(null=True, blank=True, help_text="The estimate reported (ETD/ETA).")
    available_at = models.DateTimeField(
        db_default=Now(), help_text="When a drain may take it: now, after a lease or after a backoff."
    )
    attempts = models.PositiveSmallIntegerField(db_default=0, help_text="How many drains have taken it.")
    queued_at = models.DateTimeField(db_default=Now(), help_text="When tracking reported it.")
    given_up_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the drain gave it up after its attempts failed; no drain takes it until it is tried again.",
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["available_at", "id"], name="queued_tracking_waiting", condition=Q(given_up_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.code} of order {self.order_id}"
