"""Template context every page shares: navigation for the user's audience."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from oms.navigation import nav_items_for
from partners.models import Organisation
from partners.scoping import scope_for_request


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "is_staff_user": False, "portal_organisation": None}
    scope = scope_for_request(request)
    ids = sorted(scope.organisation_ids)
    # Lazy: htmx fragments and pages that never show the organisation don't pay for the query.
    organisation = SimpleLazyObject(lambda: Organisation.objects.filter(pk__in=ids).order_by("pk").first())
    return {
        "nav_items": nav_items_for(request, scope),
        "is_staff_user": scope.is_staff,
        "portal_organisation": organisation,
        "oms_scope": scope,
    }
