"""Template context every page shares: navigation for the user's audience."""

from __future__ import annotations

from django.http import HttpRequest

from oms.navigation import nav_items_for
from partners.permissions import may_plan
from partners.scoping import organisation_for_user, scope_for_request


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "is_staff_user": False, "portal_organisation": None, "may_plan": False}
    scope = scope_for_request(request)
    return {
        "nav_items": nav_items_for(request, scope),
        "is_staff_user": scope.is_staff,
        # From the memberships the login backend loaded with the user: no query of its own.
        "portal_organisation": organisation_for_user(user, scope),
        "oms_scope": scope,
        # Whether planning screens offer their actions (the views check it again: planning_required).
        "may_plan": may_plan(scope),
    }
