"""OMS project package: settings, URLs, the Celery app, health checks and the embedded default."""

from oms.celery import app as celery_app

__all__ = ["celery_app"]
