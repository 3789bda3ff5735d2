"""Worker lifecycle: a worker records its heartbeat as soon as it is ready."""

from typing import Any

from celery.signals import worker_ready


@worker_ready.connect
def _heartbeat_when_ready(sender: Any = None, **kwargs: Any) -> None:
    from oms.tasks import record_worker_heartbeat

    record_worker_heartbeat.delay()
