"""Housekeeping of the partners app's tables."""

from celery import shared_task

from partners.idempotency import idempotency_keys_delete_expired


@shared_task(name="partners.tasks.delete_expired_idempotency_keys", ignore_result=True)
def delete_expired_idempotency_keys() -> int:
    """Delete Idempotency-Keys past their 24 hours (scheduled in CELERY_BEAT_SCHEDULE). Safe to run twice."""
    return idempotency_keys_delete_expired()
