"""Platform rows that belong to no business app."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker proved it runs tasks; /readyz reads it."""

    name = models.CharField(max_length=200, unique=True, help_text="Worker host name (celery@host).")
    beat_at = models.DateTimeField(help_text="When the worker last ran the heartbeat task.")

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
