"""Carrier tracking adapters: one small polling interface next to planning's booking interface.

tracking/adapters.py (planning) defines `CarrierAdapter.book()`. A carrier we also track gets a
`TrackingAdapter` with `poll()`; `CarrierConnection` puts the two halves of a carrier side by side, so a
carrier is booked through planning's adapter (email where it has no API) and tracked through ours,
without either module importing the other's internals.

`poll(subscription, take_token)` yields pages of IncomingEvents; before each request it calls `take_token()`
(the shared per-carrier rate limit, polling.py), which raises RateLimited when the carrier's budget is spent.
Errors are PollError subclasses that say whether to wait (RateLimited, with the carrier's Retry-After) or
back off (CarrierUnavailable, MalformedResponse, CarrierRefused); polling.py turns them into the next
attempt time and, after repeated failures, the "tracking stale" flag.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tracking import adapters as booking_adapters
from tracking.ingest.formats import IncomingEvent
from tracking.ingest.models import AdapterKind

if TYPE_CHECKING:
    from tracking.ingest.models import CarrierEndpoint, TrackingSubscription


class PollError(Exception):
    """The poll did not complete; the message is for the operations screen."""


class RateLimited(PollError):
    """Wait `retry_after` seconds: the carrier said so (429, 503 with Retry-After) or our budget is spent."""

    def __init__(self, message: str, *, retry_after: float, from_carrier: bool) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.from_carrier = from_carrier


class CarrierUnavailable(PollError):
    """5xx, timeout or no connection: try again later, with backoff."""


class CarrierRefused(PollError):
    """4xx other than 429: credentials or reference wrong; retrying soon will not help."""


class MalformedResponse(PollError):
    """The answer is not what the API promises (HTML error page, wrong JSON shape)."""


@dataclass
class PollPage:
    events: list[IncomingEvent]
    rejected: list[tuple[int, str]] = field(default_factory=list)


TakeToken = Callable[[], None]


class TrackingAdapter(Protocol):
    kind: str

    def poll(self, subscription: TrackingSubscription, *, take_token: TakeToken) -> Iterator[PollPage]:
        """Fetch what the carrier has for the subscription's reference since its cursor, page by page."""
        ...

    def next_poll_in(self, subscription: TrackingSubscription) -> datetime.timedelta | None:
        """How long until the next poll, when the adapter knows better than the milestone cadence."""
        ...


@dataclass(frozen=True)
class CarrierConnection:
    """Both halves of a carrier: how we book it (planning's adapter) and how we track it (ours)."""

    booking: booking_adapters.CarrierAdapter
    tracking: TrackingAdapter


def tracking_adapter(endpoint: CarrierEndpoint) -> TrackingAdapter:
    """The tracking adapter for an endpoint. A plain mapping of kinds, no dynamic loading."""
    from tracking.ingest.adapters.dcsa import DcsaAdapter
    from tracking.ingest.adapters.karrio import KarrioAdapter
    from tracking.ingest.adapters.simulated import SimulatedAdapter

    kinds: dict[str, Callable[[CarrierEndpoint], TrackingAdapter]] = {
        AdapterKind.DCSA.value: DcsaAdapter,
        AdapterKind.KARRIO.value: KarrioAdapter,
        AdapterKind.SIMULATED.value: SimulatedAdapter,
    }
    if endpoint.kind not in kinds:
        raise PollError(f"{endpoint} is not polled ({endpoint.get_kind_display()}).")
    return kinds[endpoint.kind](endpoint)


def connection_for(endpoint: CarrierEndpoint) -> CarrierConnection:
    return CarrierConnection(
        booking=booking_adapters.adapter_for(endpoint.carrier.code), tracking=tracking_adapter(endpoint)
    )
