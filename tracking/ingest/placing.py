"""Where an event lands on the shipment that carries it (events_ingest, services.py; relinking.py and remapping.py
place held and remapped events the same way): its location role, its leg, the leg's own milestone for a departure
or arrival before or after the main carriage, whether the sender may record it there, and, for an event without a
place, whether the goods had left when it was made."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from tracking.ingest import following, mapping
from tracking.ingest.formats import IncomingEvent
from tracking.ingest.models import Classifier, LocationRole, MappingStatus, TrackingEvent
from tracking.ingest.subjects import Resolution, ShipmentInfo, main_leg
from tracking.models import LegRole, ShipmentKind


def location_role(code: str, info: ShipmentInfo | None, *, departed: bool | None = None) -> str:
    """Origin, destination or in between, relative to the shipment that carries the goods (its main leg's
    ports count as well). Without a place: origin until the shipment had departed, destination after; `departed`
    says whether it had when the event was made (ShipmentInfo.had_departed), else it is read from its status now."""
    if info is None:
        return LocationRole.ANY
    if not code:
        gone = info.has_departed if departed is None else departed
        return LocationRole.DESTINATION if gone else LocationRole.ORIGIN
    main = main_leg(info)
    if code in {info.origin_id, *([main.origin_id] if main else [])}:
        return LocationRole.ORIGIN
    if code in {info.destination_id, *([main.destination_id] if main else [])}:
        return LocationRole.DESTINATION
    return LocationRole.INTERMEDIATE


def _leg_for(milestone: str | None, code: str, info: ShipmentInfo | None) -> int | None:
    """The leg an event happened on: the one leaving (departures) or reaching (arrivals) its place, else the
    main leg for departures and arrivals; other milestones only when the place names one leg."""
    if info is None or not info.legs:
        return None
    leaving = [leg for leg in info.legs if leg.origin_id == code]
    reaching = [leg for leg in info.legs if leg.destination_id == code]
    main = main_leg(info)
    if milestone == "PICKED_UP":  # collected at the shipper: the first leg (by truck, it is its departure)
        return (leaving[0] if leaving else info.legs[0]).id
    if milestone == "DELIVERED":  # handed to the consignee: the last leg (by truck, it is its arrival)
        return (reaching[-1] if reaching else info.legs[-1]).id
    if milestone in ("DEPARTED", "LOADED", "RECEIVED_AT_ORIGIN"):
        chosen = leaving[0] if leaving else main
        return chosen.id if chosen else None
    if milestone in ("ARRIVED", "DISCHARGED"):
        chosen = reaching[-1] if reaching else main
        return chosen.id if chosen else None
    candidates = leaving or reaching
    return candidates[0].id if len(candidates) == 1 else None


# The milestones a carrier reports a leg's own departure or arrival with (following.ROAD_LEG_MILESTONES).
_MOMENT_OF = {"DEPARTED": "departure", "PICKED_UP": "departure", "ARRIVED": "arrival", "DELIVERED": "arrival"}


def _on_its_leg(
    found: mapping.Mapping, leg_id: int | None, info: ShipmentInfo | None, table: mapping.MappingTable
) -> mapping.Mapping:
    """A departure or arrival that lands on a leg before or after the main carriage is that leg's own milestone
    (following.leg_milestone): a pre-carriage truck reaching the port is the goods received at origin, not the
    shipment arriving at its destination; the same truck "delivered" at the terminal has delivered nothing to the
    consignee. The main carriage's, and anything on no leg, stay as mapped. A milestone switched off in the console
    makes the event none (kept, moving nothing) rather than the shipment's."""
    kind = _MOMENT_OF.get(found.milestone or "")
    if kind is None or leg_id is None or info is None:
        return found
    leg = next(leg for leg in info.legs if leg.id == leg_id)
    if leg.role == LegRole.MAIN:
        return found
    single_order = info.kind != ShipmentKind.MASTER or len(info.houses) <= 1
    milestone = following.leg_milestone(
        kind=kind, role=leg.role, is_last=leg.id == info.legs[-1].id, single_order=single_order
    )
    if milestone == found.milestone:
        return found
    if milestone not in table.milestones:
        return mapping.Mapping(MappingStatus.NOT_A_MILESTONE, None, found.classifier)
    return dataclasses.replace(found, milestone=milestone)


def _not_carried(
    milestone: str | None, leg_id: int | None, info: ShipmentInfo | None, carrier_ids: frozenset[int] | None
) -> str | None:
    """Why a partner (`carrier_ids`) may not record this event on the shipment that carries it, or None.

    A partner reaches a shipment when it carries any of its legs (subjects.py), but records only on its own: the
    leg the event lands on must be carried by one of its organisations (the leg's carrier; a leg without one is
    the shipment's carrier's). A milestone that lands on no leg (a customs hold, a place naming no one leg) is
    about the shipment as a whole: only the carrier of its main carriage reports it. An unmapped code on no leg
    changes nothing and is kept, as from anyone. Without `carrier_ids` (operations, our own feeds): anything."""
    if carrier_ids is None or info is None:
        return None
    if leg_id is not None:
        leg = next(leg for leg in info.legs if leg.id == leg_id)
        if (leg.carrier_id or info.carrier_id) in carrier_ids:
            return None
        return (
            f"{milestone or 'This event'} for {info.reference} is on a leg you do not carry "
            f"({leg.origin_id} → {leg.destination_id})."
        )
    main = main_leg(info)
    if milestone is None or ((main.carrier_id if main else None) or info.carrier_id) in carrier_ids:
        return None
    return f"{milestone} for {info.reference} is on no one leg; only the carrier of the main carriage reports it."


def departed_when_made(
    location: str,
    carrier: ShipmentInfo | None,
    made_at: datetime.datetime | None,
    departures: dict[int, datetime.datetime],
) -> bool | None:
    """For an event without a place on the shipment that carries it (`carrier`: Resolution.carrying), whether the goods
    had left when it was made (ShipmentInfo.had_departed: `made_at`, its eventCreatedDateTime, else when it came;
    `departures`, the first actual departure its own batch reports, from _departures); None for an event with a place,
    which its place decides. Ingest, re-mapping and relinking judge such an event by this one rule, so a stored event
    means what it meant when it came, however late it is mapped again or attached (docs/tracking-events.md)."""
    if location or carrier is None:
        return None
    return carrier.had_departed(made_at, departures.get(carrier.id))


def incoming_of(event: TrackingEvent) -> IncomingEvent:
    """A stored event as ingest read it (its first reference, the sender's classifier, its report time): relinking and
    re-mapping place it again the way ingest placed it."""
    return IncomingEvent(
        scheme=event.scheme,
        raw_code=event.raw_code,
        classifier=event.sent_classifier,
        event_at=event.event_at,
        offset_minutes=event.event_offset_minutes,
        subjects=[(event.subject_type, event.subject_value)],
        payload={},
        reported_at=event.reported_at,
        location_code=event.location_code,
    )


# An actual event of these is a leg leaving: the shipment is in transit from then on (ShipmentInfo.has_departed).
_DEPARTURES = frozenset(code for code, moment in following.ANY_LEG_MILESTONES.items() if moment == "departure")
Facts = tuple[str, mapping.Mapping, int | None, str | None]  # location role, mapping, leg, why it is refused


def _departures(located: list[Any], resolution: Resolution, facts_of: Any) -> dict[int, datetime.datetime]:
    """Carrying shipment id → the first actual departure this batch reports for it, when the batch has an event
    without a place (else nothing is looked up): ShipmentInfo.had_departed."""
    found: dict[int, datetime.datetime] = {}
    for event, link, _subject, location in located if not all(row[3] for row in located) else ():
        info = resolution.carrying(link.shipment_id) if link.shipment_id else None
        _role, mapped, _leg, refused = facts_of(link.shipment_id, location, event, None)
        actual = (mapped.classifier or event.classifier) == Classifier.ACTUAL
        if info is not None and actual and not refused and mapped.milestone in _DEPARTURES:
            found[info.id] = min(event.event_at, found.get(info.id, event.event_at))
    return found
