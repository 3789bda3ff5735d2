"""Parcels through a self-hosted Karrio server's trackers API (karrio is an open-source multi-carrier API).

    GET  {base_url}/v1/trackers/{tracking_number}        the tracker, with its events
    POST {base_url}/v1/trackers                          {"tracking_number", "carrier_name"}: create it once
    Authorization: Token <key from the endpoint's environment variable>

A tracker (Karrio's TrackingStatus) carries `status` (its normalised TrackerStatus: pending, in_transit,
out_for_delivery, delivered, on_hold, …), `delivered`, `estimated_delivery`, and `events`. Each event has
`date` (YYYY-MM-DD), `time` (HH:MM, or HH:MM AM/PM), `code` (the carrier's own), `description`, `location`
(free text) and, on newer servers, its own normalised `status` and an ISO `timestamp`.

Mapping follows DOMAIN.md §1.2/§1.8: an event's normalised status is a code of the `karrio` scheme. An
event without one keeps the carrier's raw code as `<CARRIER>:<code>` (one mapping table per carrier, as
the domain notes advise: Karrio's own fallback to in_transit would hide gaps), except the latest scan,
which the tracker's `status` describes. Karrio events have no id, so each scan's identity is its tracking
number, time and carrier code: a scan polled again is a duplicate, whatever code it carried. Karrio's
times carry no offset: they are read in the endpoint's time zone (`_on_the_wall_clock`). A time the clocks skip there
(02:30 the night Berlin goes to summer time) is moved forward by the jump, as the wall clock is (03:30, summer time),
and a time they repeat (02:30 the night they go back) is read as its first pass; each is logged. A person's file is
refused such a time and asked for the offset (formats.parse_time); a feed cannot be asked, and refusing the scan would
lose it for good (docs/tracking-events.md, "Karrio's local times and clock changes").
"""

from __future__ import annotations

import datetime
import logging
import urllib.parse
import zoneinfo
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from partners.validators import is_time_zone
from tracking.ingest.adapters import CarrierRefused, MalformedResponse, PollPage, TakeToken, http
from tracking.ingest.formats import FormatError, IncomingEvent, clean_location, clean_subject, read_all
from tracking.ingest.models import AdapterKind, Classifier, Scheme, SubjectType

if TYPE_CHECKING:
    from tracking.ingest.models import CarrierEndpoint, TrackingSubscription

logger = logging.getLogger(__name__)
ESTIMATED_DELIVERY_HOUR = 12  # a date-only estimate is shown as midday local time


def _zone(name: str) -> zoneinfo.ZoneInfo:
    """The endpoint's time zone; a name that is none (saved before the field was validated) refuses the poll,
    which polling records as a failure (backoff, then the stale flag) instead of a crash on every run."""
    if not is_time_zone(name):
        raise CarrierRefused(f"The endpoint's time zone {name!r} is not a time zone name: correct it in the console.")
    return zoneinfo.ZoneInfo(name)


def _local_time(date: str, time: str, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    text = (time or "00:00").strip().upper()
    for pattern in ("%H:%M", "%I:%M %p", "%H:%M:%S"):
        try:
            clock = datetime.datetime.strptime(text, pattern).time()  # noqa: DTZ007 - the clock time only
            break
        except ValueError:
            continue
    else:
        raise FormatError(f"Karrio event time {time!r} is not HH:MM or HH:MM AM/PM.")
    try:
        day = datetime.date.fromisoformat(date)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"Karrio event date {date!r} is not YYYY-MM-DD.") from exc
    return _on_the_wall_clock(datetime.datetime.combine(day, clock), zone)


def _on_the_wall_clock(local: datetime.datetime, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """A local time without an offset as the moment it names in `zone`. Where the clocks skip it (they go forward),
    the moment is the time moved forward by the jump, as the wall clock shows it after (02:30 → 03:30 summer time; the
    same instant as reading it with the offset before the jump, so a scanner whose clock was not yet put forward is
    read right too). Where they repeat it (they go back), the first pass: at worst an hour before the scan happened,
    never after it. Both are logged: a feed cannot be asked which moment it meant."""
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    # The round trip through UTC gives another wall time only for a time that does not exist.
    moved = first.astimezone(datetime.UTC).astimezone(zone)
    if moved.replace(tzinfo=None) != local:
        logger.info(
            "Karrio event time %s does not exist in %s (the clocks jump past it): read as %s",
            local.isoformat(timespec="minutes"), zone.key, moved.isoformat(timespec="minutes"),
        )  # fmt: skip
        return moved
    logger.info(
        "Karrio event time %s happens twice in %s (the clocks go back): read as the first, %s",
        local.isoformat(timespec="minutes"), zone.key, first.isoformat(timespec="minutes"),
    )  # fmt: skip
    return first


def _event_time(event: dict[str, Any], zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    if event.get("timestamp"):
        try:
            parsed = datetime.datetime.fromisoformat(str(event["timestamp"]))
        except ValueError as exc:
            raise FormatError(f"Karrio timestamp {event['timestamp']!r} is not ISO 8601.") from exc
        at = parsed if parsed.tzinfo else _on_the_wall_clock(parsed, zone)
    else:
        at = _local_time(str(event.get("date") or ""), str(event.get("time") or ""), zone)
    try:
        at.astimezone(datetime.UTC)
    except OverflowError as exc:  # 0001-01-01 00:30 at +01:00 is before year 1 in UTC
        raise FormatError(
            f"Karrio event time {at.isoformat()} is outside the calendar (years 1 … 9999 in UTC)."
        ) from exc
    return at


def _incoming(
    *,
    code: str,
    at: datetime.datetime,
    subject: tuple[str, str],
    payload: dict[str, Any],
    classifier: str = Classifier.ACTUAL,
    event_id: str = "",
    location: str = "",
    reason: str = "",
) -> IncomingEvent:
    offset = at.utcoffset()
    location_code, location_text = clean_location(location)
    return IncomingEvent(
        scheme=Scheme.KARRIO,
        raw_code=code.upper()[:60],
        classifier=classifier,
        event_at=at.astimezone(datetime.UTC),
        offset_minutes=int(offset.total_seconds() // 60) if offset is not None else None,
        subjects=[subject],
        payload=payload,
        source_event_id=event_id,
        location_code=location_code,
        location_text=location_text,
        reason=reason[:300],
    )


def tracker_events(tracker: Any, *, time_zone: str = "UTC") -> PollPage:
    """A Karrio tracker as IncomingEvents (see the module docstring for how codes are chosen)."""
    if not isinstance(tracker, dict) or not isinstance(tracker.get("events", []), list):
        raise MalformedResponse("A Karrio tracker is a JSON object with an `events` list.")
    zone = _zone(time_zone)
    try:
        subject = clean_subject(SubjectType.PARCEL, tracker.get("tracking_number"))
    except FormatError as exc:
        raise MalformedResponse(f"The tracker has no tracking_number: {exc}") from exc
    carrier = str(tracker.get("carrier_name") or "carrier").upper()
    status = "delivered" if tracker.get("delivered") else str(tracker.get("status") or "")

    def read(raw: Any) -> IncomingEvent:
        if not isinstance(raw, dict):
            raise FormatError("Each Karrio event must be an object.")
        at = _event_time(raw, zone)
        code = str(raw.get("status") or (f"{carrier}:{raw['code']}" if raw.get("code") else ""))
        if not code:
            raise FormatError("The Karrio event has neither a status nor a carrier code.")
        # Karrio events have no id: this one is the carrier's scan at that time, whatever we call it.
        identity = f"{subject[1]}:{at.isoformat()}:{raw.get('code') or raw.get('description') or code}"
        return _incoming(
            code=code,
            at=at,
            subject=subject,
            payload=raw,
            event_id=identity,
            location=str(raw.get("location") or ""),
            reason=str(raw.get("description") or ""),
        )

    events, rejected = read_all(tracker.get("events") or [], read, sender="a Karrio tracker")
    page = PollPage(events=events, rejected=rejected)
    if events and status and not any(e.payload.get("status") for e in events):
        # An older server: only the tracker has a normalised status, and it describes the latest scan. The
        # scan keeps its identity, so when a newer one comes the stored (mapped) version stays as it is.
        max(events, key=lambda event: event.event_at).raw_code = status.upper()
    if tracker.get("estimated_delivery"):
        try:
            day = datetime.date.fromisoformat(str(tracker["estimated_delivery"])[:10])
            at = _on_the_wall_clock(datetime.datetime.combine(day, datetime.time(ESTIMATED_DELIVERY_HOUR)), zone)
            at.astimezone(datetime.UTC)  # OverflowError at the ends of the calendar
        except (ValueError, OverflowError):
            page.rejected.append((-1, f"estimated_delivery {tracker['estimated_delivery']!r} is not a date."))
        else:
            estimate = _incoming(
                code="delivered",
                at=at,
                subject=subject,
                classifier=Classifier.ESTIMATED,
                event_id=f"{subject[1]}:eta:{day.isoformat()}",
                payload={"estimated_delivery": tracker["estimated_delivery"]},
            )
            # Karrio does not say when it made the estimate: it is reported when we receive it, as every Karrio
            # estimate before, so a newer poll's estimate is newer news (following.follow_estimates keeps the
            # latest). Its identity is the estimate as of the newest scan (one from the future is a wrong clock, not
            # news): a day that comes back after a slip is a new estimate (a scan came between), the same tracker
            # polled again the same one (the id is the dedupe: the report time set here also makes its content key
            # new on each poll, so a day that comes back is not taken for the first estimate of that day). Without
            # a scan it is identified by its day alone. The scan's time is no report time: a scan made before the
            # last poll's receipt would make the new estimate older news.
            now = timezone.now()
            estimate.reported_at = now
            scans = [event.event_at for event in events if event.event_at <= now]
            if scans:
                estimate.source_event_id += f"@{max(scans):%Y-%m-%dT%H:%M:%SZ}"
            page.events.append(estimate)
    return page


class KarrioAdapter:
    kind: str = AdapterKind.KARRIO

    def __init__(self, endpoint: CarrierEndpoint) -> None:
        self.endpoint = endpoint
        self.base = endpoint.base_url.rstrip("/")

    def _headers(self) -> dict[str, str]:
        try:
            token = self.endpoint.credentials_token()
        except ValueError as exc:
            raise CarrierRefused(str(exc)) from exc
        return {"Authorization": f"Token {token}"} if token else {}

    def poll(self, subscription: TrackingSubscription, *, take_token: TakeToken) -> Iterator[PollPage]:
        number = urllib.parse.quote(subscription.reference, safe="")
        _zone(self.endpoint.time_zone)  # before a request is spent on an answer we could not read
        take_token()
        response = http.request_json("GET", f"{self.base}/v1/trackers/{number}", headers=self._headers(), allow=(404,))
        if response.status == 404:
            # Not yet known to Karrio: create it once ("creates or retrieves", so a repeat is harmless).
            take_token()
            body = {"tracking_number": subscription.reference, "carrier_name": self.endpoint.karrio_carrier_name}
            response = http.request_json(
                "POST",
                f"{self.base}/v1/trackers",
                body=body,
                headers=self._headers(),
                params={"pending_pickup": "true"},
            )
        yield tracker_events(response.data, time_zone=self.endpoint.time_zone)

    def next_poll_in(self, subscription: TrackingSubscription) -> datetime.timedelta | None:
        return None
