"""DCSA Track & Trace v2.2 polling: GET {base_url}/v2/events for one B/L, booking or container.

Filters (shared/data/dcsa/tnt_v2.2.0.yaml): `transportDocumentReference`, `carrierBookingReference` or
`equipmentReference`, and `eventCreatedDateTime:gte` from the newest event already seen (less an hour of
overlap), so each poll asks only for what is new (what comes again is deduplicated), oldest first
(`sort=eventCreatedDateTime:ASC`). `limit` sets the page size.

Pagination: the answer's `Next-Page` header points to the next page and is omitted on the last. The spec
calls it "a link" and gives a cursor as its example, so both are followed: an absolute or relative URL on
the same host, or a bare cursor sent back as `?cursor=`. A page count cap and a repeated-cursor check keep a
broken server from looping us. Authorization: `Bearer <token>` from the environment variable the endpoint
names; `API-Version: 2` (major only, as the spec says).
"""

from __future__ import annotations

import datetime
import logging
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tracking import adapters as booking_adapters
from tracking.ingest.adapters import CarrierRefused, MalformedResponse, PollPage, TakeToken, http
from tracking.ingest.formats import dcsa_event, read_all
from tracking.ingest.models import AdapterKind, SubjectType

if TYPE_CHECKING:
    from tracking.ingest.models import CarrierEndpoint, TrackingSubscription

logger = logging.getLogger(__name__)
PAGE_SIZE = 100
CURSOR_OVERLAP = datetime.timedelta(hours=1)
MAX_PAGES = 50
FILTERS: dict[str, str] = {
    SubjectType.BILL: "transportDocumentReference",
    SubjectType.BOOKING: "carrierBookingReference",
    SubjectType.CONTAINER: "equipmentReference",
}


def _same_origin(a: str, b: str) -> bool:
    first, second = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return (first.scheme, first.netloc) == (second.scheme, second.netloc)


class DcsaAdapter:
    """Tracking through a carrier's DCSA T&T v2 API; booking stays with planning's adapter for the carrier."""

    kind: str = AdapterKind.DCSA

    def __init__(self, endpoint: CarrierEndpoint) -> None:
        self.endpoint = endpoint
        self.events_url = endpoint.base_url.rstrip("/") + "/v2/events"

    def book(self, booking: Any, document: booking_adapters.BookingDocument) -> booking_adapters.Submission:
        """T&T has no booking: the carrier is booked the way planning books it (email unless it has an API)."""
        return booking_adapters.adapter_for(self.endpoint.carrier.code).book(booking, document)

    def _headers(self) -> dict[str, str]:
        headers = {"API-Version": "2"}
        try:
            token = self.endpoint.credentials_token()
        except ValueError as exc:
            raise CarrierRefused(str(exc)) from exc
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def first_request(self, subscription: TrackingSubscription) -> tuple[str, dict[str, str]]:
        if subscription.reference_type not in FILTERS:
            raise MalformedResponse(f"DCSA tracks by B/L, booking or container, not by {subscription.reference_type}.")
        # Oldest first: when a poll stops early, the cursor (newest seen) loses nothing that came before it.
        params = {
            FILTERS[subscription.reference_type]: subscription.reference,
            "limit": str(PAGE_SIZE),
            "sort": "eventCreatedDateTime:ASC",
        }
        if subscription.cursor_created_at:
            # An hour of overlap: an event the carrier created earlier but published late is still asked for
            # (what comes twice is a duplicate, stored once).
            since = subscription.cursor_created_at - CURSOR_OVERLAP
            cursor = since.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
            params["eventCreatedDateTime:gte"] = cursor
        return self.events_url, params

    def next_request(self, next_page: str) -> tuple[str, dict[str, str]]:
        """Where the Next-Page header sends us: a link on the carrier's host, or a cursor."""
        if next_page.startswith(("http://", "https://", "/")):
            url = urllib.parse.urljoin(self.events_url, next_page)
            if not _same_origin(url, self.events_url):
                raise MalformedResponse(f"Next-Page points to another host ({url[:80]}); not followed.")
            return url, {}
        return self.events_url, {"cursor": next_page, "limit": str(PAGE_SIZE)}

    def read_page(self, document: Any) -> PollPage:
        if not isinstance(document, list):
            raise MalformedResponse("GET /v2/events must answer with a JSON array of events.")
        events, rejected = read_all(document, dcsa_event, sender=self.endpoint)  # a bad event never fails the poll
        return PollPage(events=events, rejected=rejected)

    def poll(self, subscription: TrackingSubscription, *, take_token: TakeToken) -> Iterator[PollPage]:
        url, params = self.first_request(subscription)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            take_token()
            response = http.request_json("GET", url, params=params, headers=self._headers())
            yield self.read_page(response.data)
            next_page = (response.headers.get("next-page") or "").strip()
            if not next_page or next_page in seen:
                return
            seen.add(next_page)
            url, params = self.next_request(next_page)
        # The cursor moves to the newest event seen, so the next poll carries on where this one stopped.
        logger.warning(
            "tracking: %s has more than %d pages for %s; the rest comes next poll",
            self.endpoint,
            MAX_PAGES,
            subscription.reference,
        )

    def next_poll_in(self, subscription: TrackingSubscription) -> datetime.timedelta | None:
        return None  # the milestone cadence of polling.py
