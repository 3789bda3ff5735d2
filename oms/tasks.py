"""Platform housekeeping tasks."""

import socket

from celery import shared_task
from django.core.management import call_command

from oms import health


@shared_task(name="oms.tasks.record_worker_heartbeat", ignore_result=True)
def record_worker_heartbeat() -> None:
    """Record that a worker on this host picked up and ran a task just now."""
    health.record_heartbeat(name=f"celery@{socket.gethostname()}")


@shared_task(name="oms.tasks.purge_expired_sessions", ignore_result=True)
def purge_expired_sessions() -> None:
    """Delete expired sessions (Django does not do it by itself)."""
    call_command("clearsessions")
