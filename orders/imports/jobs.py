"""What every step of an import job reads and writes of its row: whose rights it acts with (`job_scope`), who is
named as acting (`_actor`), its stored upload, and `_set`, which saves fields at once so the progress page sees them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.core.files.storage import default_storage
from django.utils import timezone

from orders.imports import reading
from orders.models import ImportJob
from partners.models import ApiKey
from partners.scoping import NOBODY, Scope, scope_for_api_key, scope_for_user


def job_scope(job: ImportJob) -> Scope:
    """Whose rights the job is checked and its orders created with, as they are now: the confirmer's once the
    file is confirmed, the uploader's before. The one who makes the orders exist acts with their own rights,
    never with those of the colleague who uploaded the file (and is named as the orders' creator)."""
    if job.api_key_id:
        # As the API authenticates a key: not revoked, and its organisation still active.
        api_key = ApiKey.objects.active().select_related("organisation").filter(pk=job.api_key_id).first()
        scope = scope_for_api_key(api_key) if api_key is not None else NOBODY
    elif job.confirmed_at is not None and job.confirmed_by_id is None:
        scope = NOBODY  # whoever confirmed it is gone: nobody's rights, never the uploader's
    else:
        scope = scope_for_user(_actor(job))
    if job.customer_id is None or scope.is_staff:
        return scope
    # A customer's file creates that customer's orders or none: narrowed to the job's customer, whatever else the
    # person may act for now, and nobody's once they no longer act for it (a membership moved while it queued).
    if scope.is_customer and scope.owns(job.customer_id):
        return replace(scope, organisation_ids=frozenset({job.customer_id}))
    return NOBODY


def _actor(job: ImportJob) -> Any:
    return job.confirmed_by if job.confirmed_by_id else job.created_by


def _file_name(job: ImportJob) -> str:
    """The stored upload's name (the field is not null: a job whose file was deleted has "")."""
    return job.file.name or ""


def _opener(job: ImportJob) -> reading.Opener:
    name = _file_name(job)
    return lambda: default_storage.open(name, "rb")


def _set(job: ImportJob, **values: Any) -> None:
    """Save fields at once (outside any transaction), so the progress page sees them."""
    for name, value in values.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now(), **values)
