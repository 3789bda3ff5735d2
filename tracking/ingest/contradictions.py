"""Actual times their leg's recorded times rule out: an arrival before the recorded departure, a departure after the
recorded arrival (what planning's `leg_record_actual` refuses for that reason).

Such an event is kept (a carrier's data is never lost, its duplicates stay detected) but not applied: `following`
marks it (`StoredEvent.contradiction`, stored on the event with the batch's effects) and moves no leg, shipment or
order with it, announces nothing, and no reader counts it (selectors, goods, remapping). A person typing one is
refused instead (`ContradictionRefused`: the batch rolls back and the form names both times). Judged from the legs
the batch read already: no query. docs/tracking-events.md, "An actual time that contradicts its leg".
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # following imports this module; its event and leg types are only named here
    from tracking.ingest.following import StoredEvent
    from tracking.ingest.subjects import LegInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contradiction:
    """An actual `moment` at `at` that the leg's `recorded_moment` at `recorded_at` rules out."""

    moment: str  # "departure" or "arrival"
    at: datetime.datetime
    recorded_moment: str
    recorded_at: datetime.datetime
    shipment: str  # the reference of the leg's shipment, where operations correct it

    def text(self, zone: datetime.tzinfo = datetime.UTC) -> str:
        """ "the arrival (15 Nov 2026, 10:00 UTC) is before the recorded departure (7 Dec 2026, 08:00 UTC)", both
        times on `zone` (the stored reason in UTC; a refused entry on the clock it was typed on)."""
        order = "before" if self.moment == "arrival" else "after"
        return (
            f"the {self.moment} ({_day(self.at, zone)}) is {order} the recorded {self.recorded_moment} "
            f"({_day(self.recorded_at, zone)})"
        )


def _day(at: datetime.datetime, zone: datetime.tzinfo) -> str:
    local = at.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".rstrip()


class ContradictionRefused(Exception):
    """A person's entry contradicts its leg's recorded actual times (`Source.refuse_contradictions`): nothing is
    stored (the batch's transaction rolls back), and the form says both times."""

    def __init__(self, contradiction: Contradiction) -> None:
        super().__init__(contradiction.text())
        self.contradiction = contradiction


def contradicting(
    event: StoredEvent,
    moment: str,
    departed: datetime.datetime | None,
    arrived: datetime.datetime | None,
    shipment: str,
) -> Contradiction | None:
    """How an actual `moment` at the event's time contradicts the leg's departure and arrival, or None."""
    if moment == "arrival" and departed is not None and event.event_at < departed:
        return Contradiction("arrival", event.event_at, "departure", departed, shipment)
    if moment == "departure" and arrived is not None and event.event_at > arrived:
        return Contradiction("departure", event.event_at, "arrival", arrived, shipment)
    return None


def judge(
    on_legs: list[tuple[StoredEvent, LegInfo, str]], reference_of: Callable[[int], str], *, refuse: bool
) -> list[tuple[StoredEvent, LegInfo, str]]:
    """The (event, its leg, moment) of a batch that the leg's recorded times do not rule out; each other event is
    marked not applied (or, `refuse`, refused). Judged one by one in time order against the leg as recorded, an
    arrival also against the earliest departure the batch brings to a leg without one: the good departure is still
    recorded when a contradicting arrival came with it. `reference_of` names a leg's shipment."""
    first_departure: dict[int, datetime.datetime] = {}
    for event, leg, moment in on_legs:
        if moment == "departure" and leg.actual_departure_at is None and leg.actual_arrival_at is None:
            first_departure[leg.id] = min(event.event_at, first_departure.get(leg.id, event.event_at))
    for event, leg, moment in sorted(on_legs, key=lambda item: (item[0].event_at, item[0].id)):
        departed = leg.actual_departure_at or first_departure.get(leg.id)
        found = contradicting(event, moment, departed, leg.actual_arrival_at, reference_of(leg.id))
        if found is not None:
            mark_not_applied(event, found, refuse=refuse)
    return [item for item in on_legs if not item[0].contradiction]


def mark_not_applied(event: StoredEvent, found: Contradiction, *, refuse: bool) -> None:
    """Mark the event not applied, with why (its effect says what to do); or refuse it when a person typed it."""
    if refuse:
        raise ContradictionRefused(found)
    event.contradiction = found.text()[:300]
    event.notes.append(
        f"Not applied: {found.text()}. Correct the leg's times on {found.shipment or 'the shipment'}'s legs, or "
        f"record the {found.moment} by hand once they are right."
    )
    logger.info("tracking: event %s not applied: %s", event.id, found.text())
