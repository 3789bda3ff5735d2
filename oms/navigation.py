"""The navigation each audience sees. Apps add their entries here as they gain screens."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from partners.scoping import Scope


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    icon: str
    roles: tuple[str, ...] = ()  # empty: every staff role


STAFF_NAV = (
    NavEntry("Home", "home", "speedometer2"),
    NavEntry("Organisations", "partners:organisation_list", "buildings"),
)
PORTAL_NAV = (NavEntry("Overview", "portal:home", "house"),)


def nav_items_for(request: HttpRequest, scope: Scope) -> list[dict[str, object]]:
    entries = STAFF_NAV if scope.is_staff and not request.path.startswith("/portal/") else PORTAL_NAV
    items = []
    for entry in entries:
        if entry.roles and not scope.has_role(*entry.roles):
            continue
        url = reverse(entry.url_name)
        active = (
            request.path == url if url == "/" or url.endswith("/portal/") else request.path.startswith(url)
        )
        items.append({"label": entry.label, "url": url, "icon": entry.icon, "active": active, "count": None})
    return items
