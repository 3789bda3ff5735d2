"""What people do with an exception: acknowledge it, note what was done, resolve it with a root cause, take it (or
be given it by workflows' assignment)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from tracking.exceptions.models import NOTE_LIMIT, ExceptionEntry, ExceptionStatus, RootCause, ShipmentException
from tracking.exceptions.services.announcing import announce_on_commit

Entry = ExceptionEntry.Verb


class ExceptionError(Exception):
    """Something asked of an exception cannot be done; the message says why."""


def _lock(exception: ShipmentException) -> ShipmentException:
    return ShipmentException.objects.select_for_update().get(pk=exception.pk)


def _name(user: Any) -> str:
    return (user.get_full_name() or user.email) if user else "nobody"


@transaction.atomic
def exception_assign_owner(*, exception_id: int, owner: Any, by: Any = None, how: str = "") -> ShipmentException:
    """Give the exception an owner (workflows' assignment on opening, or a person taking it)."""
    exception = ShipmentException.objects.select_for_update().get(pk=exception_id)
    if exception.owner_id == getattr(owner, "pk", None):
        return exception
    exception.owner = owner
    exception.save(update_fields=["owner"])
    text = f"Owner: {_name(owner)}" + (f" ({how})" if how else "")
    ExceptionEntry.objects.create(exception=exception, verb=Entry.ASSIGNED, by=by, text=text)
    return exception


@transaction.atomic
def exception_acknowledge(*, exception: ShipmentException, by: Any) -> ShipmentException:
    """Someone has seen it and is on it: open → acknowledged (it stays in the inbox until resolved)."""
    exception = _lock(exception)
    if exception.status != ExceptionStatus.OPEN:
        raise ExceptionError(f"This exception is already {exception.get_status_display().lower()}.")
    exception.status = ExceptionStatus.ACKNOWLEDGED
    exception.acknowledged_at, exception.acknowledged_by = timezone.now(), by
    if exception.owner_id is None:
        exception.owner = by  # who acknowledges an unowned exception takes it
    exception.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "owner"])
    ExceptionEntry.objects.create(exception=exception, verb=Entry.ACKNOWLEDGED, by=by)
    return exception


@transaction.atomic
def exception_note_add(*, exception: ShipmentException, by: Any, text: str) -> ExceptionEntry:
    """What was done or learnt (called the carrier, broker has the documents …)."""
    text = text.strip()
    if not text:
        raise ExceptionError("Write the note first.")
    if len(text) > NOTE_LIMIT:
        raise ExceptionError(f"A note holds up to {NOTE_LIMIT:,} characters (this one has {len(text):,}): shorten it.")
    return ExceptionEntry.objects.create(exception=exception, verb=Entry.NOTED, by=by, text=text)


@transaction.atomic
def exception_resolve(*, exception: ShipmentException, by: Any, root_cause: str, note: str = "") -> ShipmentException:
    """Close it by hand with a root cause. After commit: exception_resolved."""
    exception = _lock(exception)
    if exception.status == ExceptionStatus.RESOLVED:
        raise ExceptionError("This exception is already resolved.")
    if root_cause not in RootCause.values:
        raise ExceptionError("Pick the root cause.")
    exception.status, exception.resolved_at, exception.resolved_by = ExceptionStatus.RESOLVED, timezone.now(), by
    exception.root_cause, exception.resolution_note, exception.is_auto_resolved = root_cause, note.strip()[:300], False
    exception.save(
        update_fields=["status", "resolved_at", "resolved_by", "root_cause", "resolution_note", "is_auto_resolved"]
    )
    text = RootCause(root_cause).label + (f": {exception.resolution_note}" if exception.resolution_note else "")
    ExceptionEntry.objects.create(exception=exception, verb=Entry.RESOLVED, by=by, text=text)
    announce_on_commit([], [exception.pk])
    return exception
