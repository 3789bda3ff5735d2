"""The navigation each audience sees. Apps add their entries here as they gain screens."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from partners.scoping import Scope
from workflows.selectors import nav_counts


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    icon: str
    roles: tuple[str, ...] = ()  # empty: every staff role
    count: str = ""  # key of a badge count from workflows.selectors.nav_counts ("tasks", "notifications", …)
    audience: str = ""  # portal entries: "customer" or "partner" for one kind of organisation's people only
    also: tuple[str, ...] = ()  # other paths under which the entry is the active one (pages it leads to)


STAFF_NAV = (
    NavEntry("Home", "home", "speedometer2"),
    NavEntry("Orders", "orders:list", "box-seam"),
    NavEntry("Imports", "imports:list", "upload"),
    NavEntry("Planning", "tracking:index", "diagram-3"),
    NavEntry("Schedule", "tracking:schedule", "calendar-week"),
    NavEntry("Tracking", "tracking_ingest:monitor", "broadcast"),
    NavEntry("Exceptions", "tracking_exceptions:inbox", "exclamation-triangle", count="exceptions"),
    NavEntry("Organisations", "partners:organisation_list", "buildings"),
    NavEntry("My tasks", "workflows:my_tasks", "check2-square", count="tasks"),
    NavEntry("Notifications", "workflows:notifications", "bell", count="notifications"),
)
PORTAL_NAV = (
    NavEntry("Overview", "portal:home", "house"),
    NavEntry("Orders", "portal:orders", "box-seam", audience="customer", also=("/tracking/orders/",)),
    NavEntry("Shipments", "portal:shipments", "truck", audience="partner", also=("/tracking/orders/",)),
    NavEntry("Imports", "portal_imports:list", "upload", audience="customer"),
    NavEntry("Milestone files", "tracking_ingest:upload", "broadcast", audience="partner"),
)


def nav_items_for(request: HttpRequest, scope: Scope) -> list[dict[str, object]]:
    entries = STAFF_NAV if scope.is_staff and not request.path.startswith("/portal/") else PORTAL_NAV
    # One query for every badge, and none when the entries shown have no badge (the portal).
    counts = nav_counts(user=request.user) if any(entry.count for entry in entries) else {}
    items = []
    for entry in entries:
        if entry.roles and not scope.has_role(*entry.roles):
            continue
        if (entry.audience == "customer" and not scope.is_customer) or (
            entry.audience == "partner" and not scope.is_partner
        ):
            continue
        url = reverse(entry.url_name)
        active = request.path == url if url == "/" or url.endswith("/portal/") else request.path.startswith(url)
        active = active or any(request.path.startswith(path) for path in entry.also)
        count = counts.get(entry.count) if entry.count else None
        item = {"label": entry.label, "url": url, "icon": entry.icon, "active": active, "count": count}
        items.append({**item, "count_key": entry.count})  # count_key: the badge's id (components/nav_count.html)
    # Nested URLs (/tasks/ and /tasks/notifications/): only the most specific entry is the active one.
    deepest = max((len(str(item["url"])) for item in items if item["active"]), default=0)
    for item in items:
        item["active"] = item["active"] and len(str(item["url"])) == deepest
    return items
