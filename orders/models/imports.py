"""Order files: an upload, its check and import (ImportJob), the errors of its rows and the orders it made."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from orders.models.orders import Channel, Order
from partners.models import Organisation


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
    VALID_ONLY = "valid_only", "Valid orders only"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be checked"
    CHECKING = "checking", "Checking"
    CHECKED = "checked", "Checked"
    REJECTED = "rejected", "Rejected"
    QUEUED = "queued", "Waiting to import"
    IMPORTING = "importing", "Importing"
    IMPORTED = "imported", "Imported"
    FAILED = "failed", "Not imported"
    CANCELLED = "cancelled", "Cancelled"


IMPORT_RUNNING_STATUSES = frozenset({ImportStatus.PENDING, ImportStatus.CHECKING, ImportStatus.QUEUED,
                                     ImportStatus.IMPORTING})  # fmt: skip


def import_file_path(instance: ImportJob, filename: str) -> str:
    """Where an uploaded file is kept: a generated name, never the uploader's (OWASP File Upload)."""
    return f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class ImportJob(models.Model):
    """One uploaded order file: its check (the preview), the user's decision and the import's outcome."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when a customer uploads: the only customer the file may create orders for.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey("partners.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source = models.CharField(max_length=10, choices=Channel.choices, help_text="Where the file was uploaded.")
    file = models.FileField(
        upload_to=import_file_path, max_length=200, blank=True,
        help_text="The uploaded file as received. Deleted OMS_IMPORT_FILE_DAYS after the job ended (file_deleted_at); "
        "the job, its counts, errors and orders stay.",
    )  # fmt: skip
    file_deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the retention task deleted the uploaded file (OMS_IMPORT_FILE_DAYS)."
    )
    file_name = models.CharField(max_length=255, help_text="The uploader's file name, for display only.")
    file_size = models.PositiveBigIntegerField(default=0)
    rows_file = models.FileField(
        max_length=220, blank=True, editable=False,
        help_text="A workbook's rows as CSV, written on its first read: later reads take this copy (much faster "
        "than the workbook). Deleted when the job is done, or left unconfirmed for OMS_IMPORT_ROWS_COPY_DAYS.",
    )  # fmt: skip
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_format = models.CharField(max_length=4, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    header = models.JSONField(
        default=list, blank=True,
        help_text="The file's column names as its header row writes them, in the file's order (the errors' columns "
        "are shown so); empty for files checked before it was kept.",
    )  # fmt: skip
    mode = models.CharField(max_length=14, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING)
    dry_run = models.BooleanField(default=False, help_text="Only check the file; never import it.")
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    orders_total = models.PositiveIntegerField(default=0)
    orders_valid = models.PositiveIntegerField(default=0)
    orders_invalid = models.PositiveIntegerField(default=0)
    orders_duplicate = models.PositiveIntegerField(default=0)
    orders_created = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0, help_text="Every error found, also those not stored.")
    runs_unfinished = models.PositiveSmallIntegerField(
        default=0,
        help_text="Runs on this job that started and have not ended: the one under way, and those whose process was "
        "killed (out of memory, a deploy) since a run last completed. At three dead runs in a row the job is given up "
        "instead of killing its next worker.",
    )
    file_error = models.TextField(blank=True, help_text="Why the whole file was refused.")
    preview = models.JSONField(default=list, blank=True, help_text="The first orders the file would create.")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="import_job_newest"),
            models.Index(fields=["customer", "-created_at"], name="import_job_customer_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("imports:detail", args=[self.pk])

    @property
    def is_running(self) -> bool:
        return self.status in IMPORT_RUNNING_STATUSES

    @property
    def progress_percent(self) -> int:
        if not self.rows_total:
            return 0
        return min(100, round(100 * self.rows_done / self.rows_total))

    # How long a file may wait for a worker before its page says why it has not started.
    WORKER_WAIT_NOTICE = datetime.timedelta(seconds=30)

    @property
    def waits_for_a_worker(self) -> bool:
        """Queued (or pending) and untouched for longer than WORKER_WAIT_NOTICE: every worker of the imports queue
        is busy, or none runs."""
        return (
            self.status in (ImportStatus.PENDING, ImportStatus.QUEUED)
            and self.updated_at is not None
            and timezone.now() - self.updated_at > self.WORKER_WAIT_NOTICE
        )


class ImportRowError(models.Model):
    """One problem found in an import file: where (row as the spreadsheet numbers it, column), what, why."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="errors")
    row = models.PositiveIntegerField(null=True, blank=True, help_text="Spreadsheet row (header = 1); empty: file.")
    column = models.CharField(max_length=64, blank=True)
    value = models.CharField(max_length=300, blank=True)
    message = models.TextField()
    customer_reference = models.CharField(max_length=64, blank=True)
    is_duplicate = models.BooleanField(default=False, help_text="The order exists already; it was left unchanged.")

    class Meta:
        ordering = ["job", "row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="import_error_job_row")]

    def __str__(self) -> str:
        return f"row {self.row} {self.column}: {self.message}"


class ImportedOrder(models.Model):
    """Which job created an order, from which row: the result page, and how a re-run knows its own orders."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, primary_key=True, related_name="import_record")
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="imported", db_index=False)
    row = models.PositiveIntegerField()

    class Meta:
        ordering = ["job", "row"]
        indexes = [models.Index(fields=["job", "row"], name="imported_order_job_row")]

    def __str__(self) -> str:
        return f"{self.order_id} from row {self.row}"
