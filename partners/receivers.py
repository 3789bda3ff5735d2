"""Role groups follow memberships and organisations on every path (connect() is called from PartnersConfig.ready()).

A person's role groups carry the configuration console's model permissions (partners.roles). They are a copy of
the person's active memberships in active organisations, made by services.user_groups_sync, and a copy that
outlives its source hands out permissions nobody granted. Memberships and organisations change on paths that no
service or ModelAdmin hook sees: the console's "Delete selected" (delete_queryset), the cascade when an
organisation or person is deleted, an organisation saved with is_active changed by its form or by code. So, as the
one exception to "no model signals for behaviour" (STYLE.md), the copy is refreshed here whenever its source rows
are written:

- Membership saved or deleted → that person's groups.
- Organisation saved (opened or closed) → the groups of everyone with a membership in it. A new organisation has
  no one yet; a save naming update_fields without is_active cannot have opened or closed it.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from partners import services
from partners.models import Membership, Organisation


def _membership_saved(sender: Any, *, instance: Membership, raw: bool = False, **kwargs: Any) -> None:
    if raw:  # loaddata: the person may not be loaded yet, and a fixture's groups are its own
        return
    services.user_groups_sync(user=instance.user)


def _membership_deleted(sender: Any, *, instance: Membership, **kwargs: Any) -> None:
    # When the person is deleted, all their memberships are deleted before this runs and the person right after:
    # the sync finds no role to keep and only removes groups, which the cascade removes anyway.
    services.user_groups_sync(user=instance.user)


def _organisation_saved(
    sender: Any, *, instance: Organisation, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    update_fields = kwargs.get("update_fields")
    if raw or created or (update_fields is not None and "is_active" not in update_fields):
        return
    services.organisation_members_groups_sync(organisation=instance)


def connect() -> None:
    """Connect the receivers (idempotent: dispatch_uid)."""
    post_save.connect(_membership_saved, sender=Membership, dispatch_uid="partners.membership_saved")
    post_delete.connect(_membership_deleted, sender=Membership, dispatch_uid="partners.membership_deleted")
    post_save.connect(_organisation_saved, sender=Organisation, dispatch_uid="partners.organisation_saved")
