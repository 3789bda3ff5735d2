"""One event by hand: a milestone recorded on the order page, the planning screen or a file row, and a time typed
on a screen. Each is one event through the one write path (services.events_ingest), refused with a TrackingError
that says why."""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from typing import Any

from django.utils import timezone

from orders.models import Channel, Order
from tracking.ingest import contradictions, following, mapping
from tracking.ingest.formats import FormatError, IncomingEvent, clean_location, clean_subject, parse_time
from tracking.ingest.models import Classifier, Scheme, SourceKind, SubjectType, TrackingEvent
from tracking.ingest.services import Source, TrackingError, events_ingest
from tracking.models import Shipment, ShipmentStatus

logger = logging.getLogger(__name__)


def event_record(
    *,
    milestone: str,
    occurred_at: datetime.datetime,
    subject: tuple[str, str],
    source: Source,
    classifier: str = Classifier.ACTUAL,
    location: str = "",
    note: str = "",
) -> TrackingEvent:
    """Record one milestone for a shipment or order (the order page, the planning screen, a file row).
    Raises TrackingError when it is not valid or was already recorded."""
    table = mapping.table()
    if milestone not in table.milestones:
        raise TrackingError(f"{milestone} is not a milestone we know.")
    if timezone.is_naive(occurred_at):
        raise TrackingError("Give the time with its time zone.")
    try:
        kind, value = clean_subject(*subject)
    except FormatError as exc:
        raise TrackingError(str(exc)) from exc
    location_code, location_text = clean_location(location)
    offset = occurred_at.utcoffset()
    event = IncomingEvent(
        scheme=Scheme.OMS,
        raw_code=milestone,
        classifier=classifier,
        event_at=occurred_at.astimezone(datetime.UTC),
        offset_minutes=int(offset.total_seconds() // 60) if offset is not None else None,
        subjects=[(kind, value)],
        payload={
            "milestone": milestone,
            "classifier": classifier,
            "occurred_at": occurred_at.isoformat(),
            "location": location,
            "subject": {"type": kind, "value": value},
            "note": note,
        },
        location_code=location_code,
        location_text=location_text,
        reason=note[:300],
    )
    try:
        result = events_ingest(events=[event], source=source)
    except contradictions.ContradictionRefused as exc:
        raise TrackingError(_contradiction_refused(exc.contradiction, occurred_at)) from exc
    if result.rejected:
        raise TrackingError(result.rejected[0][1])
    if not result.stored_ids:
        raise TrackingError("This milestone was already recorded at that time and place.")
    stored = TrackingEvent.objects.get(pk=result.stored_ids[0])
    if stored.shipment_id is None and stored.order_id is None:
        logger.info("tracking: event #%s for %s %s matches no shipment or order", stored.pk, kind, value)
    return stored


def _contradiction_refused(found: contradictions.Contradiction, occurred_at: datetime.datetime) -> str:
    """Why a time typed by hand is refused, both times on the clock it was typed on: the person is there to fix it."""
    zone = occurred_at.tzinfo or datetime.UTC
    where = f" of {found.shipment}" if found.shipment else ""
    fix = "departure" if found.moment == "arrival" else "arrival"
    return (
        f"Not recorded: {found.text(zone)[0].upper()}{found.text(zone)[1:]}{where}. Check the time you entered, or "
        f"correct the leg's {fix} on the shipment's legs first."
    )


def event_record_for_order(
    *,
    order: Order,
    milestone: str,
    occurred_at: datetime.datetime,
    by: Any,
    classifier: str = Classifier.ACTUAL,
    location: str = "",
    note: str = "",
    channel: str = Channel.SCREEN,
) -> TrackingEvent:
    """A milestone entered on the order page: about the order's house when it has one, else the order."""
    houses = Shipment.objects.houses().filter(order=order).exclude(status=ShipmentStatus.CANCELLED)
    house = houses.order_by("created_at").values_list("reference", flat=True).first()
    subject = (SubjectType.SHIPMENT, house) if house else (SubjectType.ORDER, order.reference)
    source = Source(
        kind=SourceKind.MANUAL, name=getattr(by, "email", "")[:50], channel=channel, by=by, refuse_contradictions=True
    )
    return event_record(
        milestone=milestone,
        occurred_at=occurred_at,
        subject=subject,
        source=source,
        classifier=classifier,
        location=location,
        note=note,
    )


def event_record_for_leg(*, leg: Any, milestone: str, occurred_at: datetime.datetime, by: Any) -> TrackingEvent:
    """DEPARTED or ARRIVED entered on the planning execution screen: the event, and the leg's actual time."""
    if milestone not in following.LEG_MILESTONES:
        raise TrackingError("The planning screen records DEPARTED or ARRIVED.")
    place = leg.origin_id if milestone == "DEPARTED" else leg.destination_id
    source = Source(
        kind=SourceKind.PLANNING,
        name=getattr(by, "email", "")[:50],
        channel=Channel.SCREEN,
        by=by,
        refuse_contradictions=True,
    )
    return event_record(
        milestone=milestone,
        occurred_at=occurred_at,
        subject=(SubjectType.SHIPMENT, leg.shipment.reference),
        source=source,
        location=place,
    )


def parse_entered_time(value: str, *, time_zone: str) -> datetime.datetime:
    """A time typed on a screen or in a file ("2026-03-05T08:55", or with an offset), in `time_zone` when it
    has none; the result keeps its own offset so the event shows the local time it was entered in."""
    try:
        parse_time(value, what="The time", time_zone=time_zone)  # the checks and messages of every source
        parsed = datetime.datetime.fromisoformat(value.strip())
    except FormatError as exc:
        raise TrackingError(str(exc)) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zoneinfo.ZoneInfo(time_zone))
