"""The session login backend: Django's ModelBackend, with the person's memberships loaded in the same query.

The session middleware asks `get_user` for the signed-in person on every request, and almost every screen
then needs that person's scope (partners.scoping) and the organisation shown in the layout. Loading the
active memberships as an array in the user's own row saves a round trip per page; `scope_for_user` reads
them from the user object when they are there and queries them otherwise (users fetched any other way).
The snapshot lives as long as the user object, which is one request.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef

from partners.scoping import MEMBERSHIPS_ATTRIBUTE, membership_rows


class MembershipModelBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        rows = membership_rows(user=OuterRef("pk")).order_by("organisation_id")
        user = (
            user_model._default_manager.filter(pk=user_id)
            .annotate(**{MEMBERSHIPS_ATTRIBUTE: ArraySubquery(rows)})
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None
