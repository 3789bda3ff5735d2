"""The history of a shipment's legs, for its page: each leg added, corrected (what changed, from what to what) and
removed, and when its actual times were recorded, with who did it.

Read from tracking.LegEvent (django-pghistory's triggers on tracking_leg, migration tracking/0014): every row is
the leg as it stood after a change, so a change is the difference from the leg's previous row. A "snapshot" row is
the state a leg had when the history began (no event of its own). Three queries whatever the history: the events
with their contexts, the people, the carriers named.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from oms.templatetags.oms_dates import datetime_text
from orders.models import Mode
from partners.models import Organisation
from tracking.models import LegEvent, LegRole, Shipment

# What a person reads for each recorded field, in the order the leg form shows them.
LABELS = {
    "role": "Role",
    "mode": "Mode",
    "carrier_id": "Carrier",
    "origin_id": "From",
    "destination_id": "To",
    "planned_departure_at": "Planned departure",
    "planned_arrival_at": "Planned arrival",
    "actual_departure_at": "Actual departure",
    "actual_arrival_at": "Actual arrival",
    "vessel_name": "Vessel",
    "vessel_imo": "IMO number",
    "voyage_number": "Voyage",
    "flight_number": "Flight",
    "truck_plate": "Truck plate",
    "train_number": "Train",
}
SNAPSHOT = "snapshot"
TITLES = {"insert": "Leg added", "update": "Leg changed", "delete": "Leg removed"}


@dataclass
class LegChange:
    label: str
    before: str
    after: str


@dataclass
class LegHistoryEntry:
    at: datetime.datetime
    title: str
    leg: str  # "Main carriage CNSHA → DEHAM", as the leg stood after the change (before it, for a removal)
    who: str
    changes: list[LegChange] = field(default_factory=list)


def _leg_name(event: Any) -> str:
    role = LegRole(event.role).label if event.role in LegRole.values else event.role
    return f"{role} {event.origin_id} → {event.destination_id}"


def _value(name: str, value: Any, carriers: dict[int, str]) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, datetime.datetime):
        return datetime_text(timezone.localtime(value))  # on the clock the page runs on (the branch's)
    if name == "carrier_id":
        return carriers.get(value, f"#{value}")
    if name == "role":
        return str(LegRole(value).label) if value in LegRole.values else str(value)
    if name == "mode":
        return str(Mode(value).label) if value in Mode.values else str(value)
    return str(value)


def leg_history_for(*, shipment: Shipment, limit: int = 30) -> list[LegHistoryEntry]:
    """The shipment's leg changes, newest first (at most `limit`)."""
    events = list(LegEvent.objects.filter(shipment_id=shipment.pk).select_related("pgh_context").order_by("pgh_id"))
    if not events:
        return []
    user_ids = {
        event.pgh_context.metadata.get("user")
        for event in events
        if event.pgh_context is not None and isinstance(event.pgh_context.metadata.get("user"), int)
    }
    users = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "email")) if user_ids else {}
    carrier_ids = {event.carrier_id for event in events if event.carrier_id}
    carriers = dict(Organisation.objects.filter(pk__in=carrier_ids).values_list("pk", "name")) if carrier_ids else {}
    previous: dict[int, Any] = {}  # leg id → its last row
    entries: list[LegHistoryEntry] = []
    for event in events:
        before = previous.get(event.pgh_obj_id)
        previous[event.pgh_obj_id] = event
        if event.pgh_label == SNAPSHOT:
            continue
        user = event.pgh_context.metadata.get("user") if event.pgh_context is not None else None
        who = users.get(user, "System") if isinstance(user, int) else "System"
        entry = LegHistoryEntry(
            at=event.pgh_created_at,
            title=TITLES.get(event.pgh_label, event.pgh_label),
            leg=_leg_name(event),
            who=who,
        )
        if event.pgh_label == "update" and before is not None:
            entry.changes = [
                LegChange(
                    label, _value(name, getattr(before, name), carriers), _value(name, getattr(event, name), carriers)
                )
                for name, label in LABELS.items()
                if getattr(before, name) != getattr(event, name)
            ]
            if not entry.changes:
                continue
        entries.append(entry)
    return entries[::-1][:limit]
