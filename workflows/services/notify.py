"""Notifications: written in the caller's transaction; the email copy is queued after commit.

Whether a person wants the email comes from their preferences: read from the event's kept configuration
when the caller has one (services.config, invalidated by any change to a preference), else queried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from workflows.models import DEFAULT_PREFERENCE, Notification, NotificationPreference, Task

if TYPE_CHECKING:
    from workflows.services.config import WorkflowConfig


@dataclass(frozen=True)
class Notice:
    recipient_id: int
    kind: str
    title: str
    body: str = ""
    url: str = ""
    task: Task | None = None


def notify(notices: Iterable[Notice], *, config: WorkflowConfig | None = None) -> list[Notification]:
    """Store the notices (one insert) and queue an email for each recipient who wants that kind by email."""
    notices = [notice for notice in notices if notice.recipient_id]
    if not notices:
        return []
    recipients = {notice.recipient_id for notice in notices}
    if config is not None:
        preferences = config.preferences(recipients)
    else:
        preferences = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=recipients)}
    rows = [
        Notification(
            recipient_id=notice.recipient_id, kind=notice.kind, title=notice.title[:200], body=notice.body,
            url=notice.url[:300], task=notice.task,
            email_wanted=preferences.get(notice.recipient_id, DEFAULT_PREFERENCE).wants_email(notice.kind),
        )
        for notice in notices
    ]  # fmt: skip
    created = Notification.objects.bulk_create(rows)
    emails = [row.pk for row in created if row.email_wanted]
    if emails:
        from workflows.tasks import send_notification_email  # tasks import services: keep the graph acyclic

        for pk in emails:
            send_notification_email.delay_on_commit(pk)
    return created


def notifications_mark_read(*, user: Any, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when `ids` is None); returns how many changed."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())


def notification_preferences_save(*, user: Any, values: dict[str, bool]) -> NotificationPreference:
    """Store the user's email preferences."""
    fields = ("email_assigned", "email_mentioned", "email_escalated", "email_rule")
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, defaults={name: bool(values.get(name)) for name in fields}
    )
    return preference
