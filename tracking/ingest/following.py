"""What newly stored events change: estimates (ETA/ETD history, estimates.py), legs and shipments, and orders.

Only ACTUAL events are facts: they record actual departures and arrivals on legs (through planning's
`leg_record_actual`), deliver shipments, and move orders forward through the lifecycle (through
`orders.services.order_transition`, never by writing the state). Planned and estimated events only change
estimates. Nothing moves backwards: an order already further along, on hold or cancelled is left alone,
and the reason is written on the event (`effect`) and logged.

The lifecycle may refuse (a workflow task still open, the order not yet planned): the event is kept, the
order stays, and `order_status_sync` catches up when the order can move (tracking/ingest/receivers.py).

An actual event that contradicts its leg's recorded actual times (an arrival before the recorded departure, a
departure after the recorded arrival: what planning's `leg_record_actual` refuses) is kept but not applied
(`StoredEvent.contradiction`, stored on the event): it moves no leg, shipment or order and announces nothing;
the other events of its batch are judged on their own (docs/tracking-events.md, "An actual time that contradicts
its leg"; contradictions.py). A person entering one is refused instead (`Actor.refuse_contradictions`).
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import STATUS_PATH, Mode, Order, OrderStatus
from partners.models import Role
from partners.scoping import Audience, Scope
from tracking.errors import PlanningError
from tracking.ingest import events as domain_events
from tracking.ingest.contradictions import Contradiction, judge, mark_not_applied
from tracking.ingest.estimates import follow_estimates
from tracking.ingest.mapping import MappingTable
from tracking.ingest.models import Classifier, LocationRole, SourceKind, TrackingEvent
from tracking.ingest.subjects import LegInfo, Link, Resolution
from tracking.models import (
    OPEN_SHIPMENT_STATUSES,
    ConsolidatedHouse,
    Leg,
    LegRole,
    Shipment,
    ShipmentKind,
    ShipmentStatus,
)
from tracking.services.leg_changes import CLOSED_SHIPMENT_STATUSES, leg_record_actual, shipment_set_status

logger = logging.getLogger(__name__)

# Milestones actually taking place are facts the system reports; the lifecycle records them as done by
# operations (the role that may take depart, arrive and deliver), on behalf of whoever sent the event.
SYSTEM_SCOPE = Scope(Audience.STAFF, frozenset(), frozenset({Role.OPERATIONS}))
LEG_MILESTONES = {"DEPARTED": "departure", "ARRIVED": "arrival"}
# On a truck (or courier) leg the pick-up is the leg's departure and the delivery its arrival: road and parcel
# feeds often report nothing else (Karrio: picked_up, in_transit, out_for_delivery, delivered).
ROAD_LEG_MILESTONES = {**LEG_MILESTONES, "PICKED_UP": "departure", "DELIVERED": "arrival"}
ROAD_MODES = frozenset({Mode.ROAD_FTL, Mode.ROAD_LTL, Mode.PARCEL})

# Only the main carriage's departure and arrival are the shipment's DEPARTED and ARRIVED (DOMAIN.md §1.7: "main
# conveyance left the origin port", "arrived at the destination port"). A leg before it collects the goods
# (PICKED_UP) and brings them to the port, CFS or hub (RECEIVED_AT_ORIGIN, the gate-in); a leg after it takes them
# out of the port (OUT_FOR_DELIVERY, the gate-out laden at the POD) to the consignee (DELIVERED) or, when it is not
# the last leg or the shipment carries several orders (a consolidation's box to an inland CFS), to where they are
# available to the consignees (AVAILABLE). Planning's recorded actual times (receivers.leg_actual_to_event) and a
# carrier's departure or arrival landing on such a leg (placing._on_its_leg) are recorded as these.
PRE_MAIN_ROLES = frozenset({LegRole.PRE_CARRIAGE})
AFTER_MAIN_ROLES = frozenset({LegRole.ON_CARRIAGE, LegRole.LAST_MILE})
PRE_MAIN_MILESTONES = {"PICKED_UP": "departure", "RECEIVED_AT_ORIGIN": "arrival"}
AFTER_MAIN_MILESTONES = {"OUT_FOR_DELIVERY": "departure", "DELIVERED": "arrival", "AVAILABLE": "arrival"}
# Every milestone that is some leg's departure or arrival, whatever its role and mode.
ANY_LEG_MILESTONES = {**ROAD_LEG_MILESTONES, **PRE_MAIN_MILESTONES, **AFTER_MAIN_MILESTONES}


def leg_moment(milestone: str | None, leg_mode: str, leg_role: str = LegRole.MAIN) -> str | None:
    """ "departure" or "arrival" when an actual event of this milestone is one on a leg of this mode and role."""
    moments = ROAD_LEG_MILESTONES if leg_mode in ROAD_MODES else LEG_MILESTONES
    if leg_role in PRE_MAIN_ROLES:
        moments = {**moments, **PRE_MAIN_MILESTONES}
    elif leg_role in AFTER_MAIN_ROLES:
        moments = {**moments, **AFTER_MAIN_MILESTONES}
    return moments.get(milestone or "")


def leg_milestone(*, kind: str, role: str, is_last: bool, single_order: bool) -> str:
    """The milestone a leg's own departure or arrival (`kind`) is, by the leg's role (see PRE_MAIN_ROLES)."""
    departure = kind == "departure"
    if role in PRE_MAIN_ROLES:
        return "PICKED_UP" if departure else "RECEIVED_AT_ORIGIN"
    if role in AFTER_MAIN_ROLES:
        if departure:
            return "OUT_FOR_DELIVERY"
        return "DELIVERED" if is_last and single_order else "AVAILABLE"
    return "DEPARTED" if departure else "ARRIVED"


_PATH_INDEX: dict[str, int] = {str(status): index for index, status in enumerate(STATUS_PATH)}


@dataclass
class StoredEvent:
    """An event that the batch inserted (duplicates never get here)."""

    id: int
    milestone: str | None
    classifier: str
    event_at: datetime.datetime
    reported_at: datetime.datetime
    link: Link
    leg_id: int | None
    source: str
    notes: list[str] = field(default_factory=list)
    role: str = LocationRole.ANY  # where it happened relative to its shipment, when the event names the place
    # Not applied, and why: it contradicts its leg's recorded actual times (contradictions.judge).
    contradiction: str = ""

    @property
    def applies(self) -> bool:
        """An actual event that may move legs, shipments and orders and be announced: not a contradiction."""
        return self.classifier == Classifier.ACTUAL and not self.contradiction


@dataclass(frozen=True)
class Actor:
    channel: str
    source: str
    by: Any = None
    # A person typing the time (the order page, the planning screen): a contradiction is refused, not stored,
    # since they are there to correct it. Feeds and files keep the event, not applied.
    refuse_contradictions: bool = False


def _transition_to(target: str) -> str | None:
    """The lifecycle transition whose target is `target` (looked up, never typed: the lifecycle may grow)."""
    from orders import lifecycle

    field_ = Order._meta.get_field("status")
    for transition in field_.get_all_transitions(Order):  # type: ignore[attr-defined]
        if transition.target == target and transition.name in lifecycle.TRANSITIONS:
            return str(transition.name)
    return None


# --- legs and shipments -----------------------------------------------------------------------------


_HOUSE_MOMENTS = {"PICKED_UP": "pickup", "DELIVERED": "delivery"}  # what a house's own event is called in a note


@dataclass
class _LegOwners:
    """Whose legs a batch's events land on, and which shipment each event is about there.

    An event naming a house lands on its master's legs (placing._leg_for). It is about the leg's own shipment when it
    names it, or names the only live house on it (a direct FCL: the same goods); a house of a consolidation is about
    itself: a groupage truck collects and drops house by house. The masters' live houses (deconsolidated ones too)
    are read with one query, only when an event names a house on a master's leg: a feed naming the master costs none.
    """

    owner: dict[int, int]  # leg → its shipment
    references: dict[int, str]  # shipment → its reference, for the notes
    houses: dict[int, set[int]] = field(default_factory=dict)  # master → its live houses, once read

    @classmethod
    def of(cls, resolution: Resolution) -> _LegOwners:
        owner = {leg.id: info.id for info in resolution.shipments.values() for leg in info.legs}
        return cls(owner, {info.id: info.reference for info in resolution.shipments.values()})

    def read_houses(self, named_on_legs: Iterable[tuple[int | None, int]]) -> None:
        """Read the live houses of the masters on whose legs these (named shipment, leg) pairs name another one."""
        masters = {self.owner[leg] for named, leg in named_on_legs if named != self.owner[leg]} - set(self.houses)
        if not masters:
            return
        self.houses.update({master: set() for master in masters})
        for master, house in ConsolidatedHouse.objects.filter(
            master_id__in=masters, removed_at__isnull=True
        ).values_list("master_id", "house_id"):
            self.houses[master].add(house)

    def about(self, named: int | None, leg_id: int) -> int | None:
        owner = self.owner[leg_id]
        return owner if named == owner or self.houses.get(owner) == {named} else named

    def reference_of(self, leg_id: int) -> str:
        """The reference of the leg's shipment (where operations correct it)."""
        return self.references.get(self.owner[leg_id], "")

    def is_own(self, named: int | None, leg_id: int) -> bool:
        return self.about(named, leg_id) == self.owner[leg_id]

    def house_note(self, event: StoredEvent, leg_id: int, moment: str, recorded: datetime.datetime | None) -> str:
        """Why a house's own event on a consolidation's leg left the leg's time alone."""
        house = self.references.get(event.link.shipment_id or 0, "This house")
        what = f"{house}'s own {_HOUSE_MOMENTS.get(str(event.milestone), moment)}"
        if recorded is not None:
            return f"{what}: the leg keeps its {moment} recorded at {_at(recorded)}; each house keeps its own time."
        master = self.references.get(self.owner[leg_id], "the master")
        return f"{what}: {master}'s leg arrives when the master is reported or its last house is delivered."


def _at(at: datetime.datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


def _chosen(reports: list[StoredEvent]) -> StoredEvent:
    """Of one source's reports about one shipment of a moment the leg has no time for yet: a person's latest report
    (the corrected row in the same file), a machine feed's first (its later ones are not known to be corrections)."""
    ordered = sorted(reports, key=lambda e: (e.reported_at, e.id))
    return ordered[-1] if _corrects_itself(ordered[0].source) else ordered[0]


def _first_time(events: list[StoredEvent], owners: _LegOwners, moment: str) -> datetime.datetime:
    """The time a leg without one takes from these reports of the moment: per source and shipment `_chosen`, then
    the earliest of those (two sources, or two houses' pickups: the goods moved at the first). The others are noted."""
    reports: dict[tuple[str, int | None], list[StoredEvent]] = defaultdict(list)
    for event in events:
        reports[(event.source, owners.about(event.link.shipment_id, event.leg_id or 0))].append(event)
    chosen = {key: _chosen(group) for key, group in reports.items()}
    first = min(event.event_at for event in chosen.values())
    for key, group in reports.items():
        for event in group:
            if event.event_at == first:
                continue
            if chosen[key].event_at != first:
                whose = "another report"
            else:
                whose = "a later report of this source" if _corrects_itself(event.source) else "its first report"
            event.notes.append(f"The leg takes the {moment} at {_at(first)} from {whose}.")
    return first


def _waiting_arrivals(
    departures: dict[int, datetime.datetime], known: dict[int, LegInfo], owners: _LegOwners, stored: list[StoredEvent]
) -> tuple[dict[int, datetime.datetime], list[StoredEvent]]:
    """The arrival already reported for each leg departing now (`departures`), which waited for its departure (out
    of order), chosen as `_first_time` chooses; a house's own arrival on a consolidation's leg is none. One query.

    An earlier batch's arrival before the departure now recorded is no arrival of the leg: it is returned marked not
    applied (its effect kept, the reason added), for `follow` to write with the batch's notes; the departure is
    recorded. This batch's own events were judged by `contradictions.judge` already."""
    legs = {leg_id: known[leg_id] for leg_id in departures}
    arrival_milestones = [code for code, moment in ANY_LEG_MILESTONES.items() if moment == "arrival"]
    rows = TrackingEvent.objects.filter(
        leg_id__in=legs, classifier=Classifier.ACTUAL, milestone_id__in=arrival_milestones, contradiction=""
    ).values_list("id", "milestone_id", "event_at", "reported_at", "shipment_id", "leg_id", "source", "effect")
    batch = {event.id for event in stored}
    found: list[StoredEvent] = []
    for pk, milestone, at, reported_at, shipment, leg, source, effect in rows:
        if leg_moment(milestone, legs[leg].mode, legs[leg].role) == "arrival" and (
            at >= departures[leg] or pk not in batch
        ):
            event = StoredEvent(pk, milestone, Classifier.ACTUAL, at, reported_at, Link(shipment, None), leg, source)
            event.notes.extend([effect] if effect else [])
            found.append(event)
    owners.read_houses((event.link.shipment_id, event.leg_id or 0) for event in found)
    per_leg: dict[int, list[StoredEvent]] = defaultdict(list)
    passed: list[StoredEvent] = []
    for event in found:
        if not owners.is_own(event.link.shipment_id, event.leg_id or 0):
            continue
        departed = departures[event.leg_id or 0]
        if event.event_at < departed:
            reference = owners.reference_of(event.leg_id or 0)
            mark_not_applied(
                event, Contradiction("arrival", event.event_at, "departure", departed, reference), refuse=False
            )
            passed.append(event)
        else:
            per_leg[event.leg_id or 0].append(event)
    chosen = {leg_id: _first_time(events, owners, "arrival") for leg_id, events in per_leg.items()}
    return chosen, passed


def follow_legs(
    stored: list[StoredEvent], resolution: Resolution, owners: _LegOwners, *, by: Any = None, refuse: bool = False
) -> list[StoredEvent]:
    """Actual departures and arrivals go on their leg (planning moves the shipment in transit / arrived).

    What a leg does not have yet, as read with the batch: once a shipment moves, its events cost no query here. A
    leg without a time takes it per `_first_time`; a departure recorded late picks up an arrival that came before
    it (out of order). A time the leg already has is changed only by a person correcting their own report
    (`_follow_corrections`). A house's own arrival on a consolidation's leg is no arrival of the leg: the leg
    arrives when the master is reported, or with its last house's delivery (`follow_deliveries`). An event its leg's
    times rule out is not applied (`contradictions.judge`), nor is an arrival that waited for a departure that came
    after it.
    """
    known = {leg.id: leg for info in resolution.shipments.values() for leg in info.legs}
    on_legs: list[tuple[StoredEvent, LegInfo, str]] = []
    for event in stored:
        leg = known.get(event.leg_id) if event.leg_id else None
        moment = leg_moment(event.milestone, leg.mode, leg.role) if leg is not None else None
        if leg is not None and moment is not None and event.classifier == Classifier.ACTUAL:
            on_legs.append((event, leg, moment))
    if not on_legs:
        return []
    owners.read_houses((event.link.shipment_id, leg.id) for event, leg, _ in on_legs)
    own: list[tuple[StoredEvent, LegInfo, str]] = []
    for event, leg, moment in on_legs:
        if moment == "arrival" and not owners.is_own(event.link.shipment_id, leg.id):
            event.notes.append(owners.house_note(event, leg.id, moment, None))
        else:
            own.append((event, leg, moment))
    firsts: dict[tuple[int, str], list[StoredEvent]] = defaultdict(list)
    events_of: dict[int, list[StoredEvent]] = defaultdict(list)
    corrections: list[tuple[StoredEvent, LegInfo, str]] = []
    for event, leg, moment in judge(own, owners.reference_of, refuse=refuse):
        events_of[leg.id].append(event)
        recorded = _recorded(leg, moment)
        if recorded is None:
            firsts[(leg.id, moment)].append(event)
        elif event.event_at != recorded:
            corrections.append((event, leg, moment))
    if corrections:
        _follow_corrections(corrections, owners, by=by)
    departures = {leg_id: _first_time(events, owners, m) for (leg_id, m), events in firsts.items() if m == "departure"}
    arrivals = {leg_id: _first_time(events, owners, m) for (leg_id, m), events in firsts.items() if m == "arrival"}
    waiting, passed = _waiting_arrivals(departures, known, owners, stored) if departures else ({}, [])
    for leg_id in sorted(set(departures) | set(arrivals)):
        leg = known[leg_id]
        departed = departures.get(leg_id)
        arrived = min(filter(None, [arrivals.get(leg_id), waiting.get(leg_id)]), default=None)
        arrived = arrived if leg.actual_arrival_at is None else None
        if arrived and not (leg.actual_departure_at or departed):
            continue  # planning records an arrival only after a departure: it waits for DEPARTED
        if arrived and departed and arrived < departed:  # the departure chosen is later than the batch's first
            for event in firsts.get((leg_id, "arrival"), []):
                if event.event_at < departed:
                    found = Contradiction("arrival", event.event_at, "departure", departed, owners.reference_of(leg_id))
                    mark_not_applied(event, found, refuse=refuse)
            arrived = min((e.event_at for e in firsts.get((leg_id, "arrival"), []) if not e.contradiction),
                          default=waiting.get(leg_id))  # fmt: skip
        _record_on_leg(leg_id, events_of[leg_id], departed_at=departed, arrived_at=arrived, by=by)
    return passed


def _record_on_leg(
    leg_id: int,
    events: list[StoredEvent],
    *,
    departed_at: datetime.datetime | None = None,
    arrived_at: datetime.datetime | None = None,
    by: Any = None,
) -> bool:
    """leg_changes.leg_record_actual (the leg's history keeps the change); a refusal is noted on the events."""
    try:
        with transaction.atomic():
            leg_record_actual(leg=Leg.objects.get(pk=leg_id), departed_at=departed_at, arrived_at=arrived_at, by=by)
    except PlanningError as exc:
        for event in events:
            event.notes.append(f"Leg not updated: {exc}")
        logger.info("tracking: leg %s not updated: %s", leg_id, exc)
        return False
    return True


def _recorded(leg: LegInfo, moment: str) -> datetime.datetime | None:
    return leg.actual_departure_at if moment == "departure" else leg.actual_arrival_at


# Sources in which a person states the time (a file they upload, an entry on a screen): a new time from the same one
# for a recorded moment is that person correcting a mistake. A machine feed (a carrier's DCSA events, a polled
# tracker, a partner's or customer's system on a webhook) sending the same milestone again at another time is as
# often another port call, an AIS reading or a transhipment as a correction, and DCSA 2.2 says nothing of which;
# its first actual stands until operations correct the leg (DCSA 3's retractedEventID would be the machine's way).
_SELF_CORRECTING_KINDS = frozenset({SourceKind.FILE, SourceKind.MANUAL})


def _corrects_itself(source: str) -> bool:
    return source.partition(":")[0] in _SELF_CORRECTING_KINDS


def _follow_corrections(corrections: list[tuple[StoredEvent, LegInfo, str]], owners: _LegOwners, *, by: Any) -> None:
    """Actual times reported for a leg moment the leg already has, at another time (docs/tracking-events.md,
    "Corrected actual times").

    A person may correct their own time: the same milestone on the same leg about the same shipment from the same
    file or screen source (a re-uploaded file with the row corrected) replaces the time when it is reported after the
    one that set it, the latest report winning, through planning's `leg_record_actual`, so the leg's history shows
    the change. Another source, another shipment (the next house a groupage truck collects), an older report or a
    machine feed never overwrites it: its event is kept with a note saying which time stands, and operations correct
    the leg. Who recorded the time, and about which shipment, is read from the events at that time (one query, only
    when a person's correction is to be judged: a feed's repeated actuals cost none)."""
    judged = [(event, leg, moment) for event, leg, moment in corrections if _corrects_itself(event.source)]
    reported: dict[tuple[int, str, datetime.datetime, str, int | None], datetime.datetime] = {}
    if judged:
        rows = list(
            TrackingEvent.objects.filter(
                leg_id__in={leg.id for _, leg, _ in judged},
                milestone_id__in={event.milestone for event, _, _ in judged},
                event_at__in={_recorded(leg, moment) for _, leg, moment in judged},
                classifier=Classifier.ACTUAL,
            ).values_list("leg_id", "milestone_id", "event_at", "source", "reported_at", "shipment_id")
        )
        owners.read_houses((shipment_id, leg_id) for leg_id, *_, shipment_id in rows)
        for leg_id, milestone, at, source, reported_at, shipment_id in rows:
            key = (leg_id, milestone, at, source, owners.about(shipment_id, leg_id))
            reported[key] = max(reported_at, reported.get(key, reported_at))
    latest: dict[tuple[int, str], tuple[StoredEvent, datetime.datetime]] = {}
    for event, leg, moment in sorted(corrections, key=lambda c: (c[0].reported_at, c[0].id)):
        recorded = _recorded(leg, moment)
        if recorded is None:  # follow_legs passes only times the leg has
            continue
        about = owners.about(event.link.shipment_id, leg.id)
        set_by_this_source = reported.get((leg.id, str(event.milestone), recorded, event.source, about))
        if set_by_this_source is not None and event.reported_at >= set_by_this_source:
            latest[(leg.id, moment)] = (event, recorded)
        elif about != owners.owner[leg.id] and set_by_this_source is None:
            event.notes.append(owners.house_note(event, leg.id, moment, recorded))
        else:
            whose = "an earlier report of this source" if set_by_this_source is not None else "another report"
            event.notes.append(
                f"The leg keeps its {moment} recorded at {_at(recorded)} from {whose}; "
                "operations correct it on the shipment's legs."
            )
    for (leg_id, moment), (event, recorded) in sorted(latest.items(), key=lambda item: item[0]):
        departure = moment == "departure"
        departed_at, arrived_at = (event.event_at, None) if departure else (None, event.event_at)
        if _record_on_leg(leg_id, [event], departed_at=departed_at, arrived_at=arrived_at, by=by):
            event.notes.append(f"Corrects the {moment} recorded at {_at(recorded)} (same source).")


def follow_deliveries(
    stored: list[StoredEvent], resolution: Resolution, table: MappingTable, owners: _LegOwners, *, by: Any = None
) -> None:
    """An actual delivery closes what was delivered: a house named by the event by itself, else the shipment that
    carried it (a master with its live houses).

    A house on a master is delivered alone: a groupage truck or a CFS box is delivered drop by drop, to several
    consignees, and the other houses and the master travel on. A master closes when it is delivered itself, or
    once none of its live houses (deconsolidated ones too) is left undelivered: a house alone on its master (a
    direct FCL) closes it at once. A master closed by its last house's delivery arrives then on the leg that
    delivery ends (`_arrive_with_last_house`)."""
    delivered: set[int] = set()
    masters: set[int] = set()
    deliveries: list[StoredEvent] = []
    for event in stored:
        if not event.applies or table.order_status(event.milestone) != OrderStatus.DELIVERED:
            continue
        named = resolution.shipments.get(event.link.shipment_id) if event.link.shipment_id else None
        if named is None:
            continue
        deliveries.append(event)
        info = named if named.kind == ShipmentKind.HOUSE else resolution.carrying(named.id)
        if info is not None and info.status in OPEN_SHIPMENT_STATUSES:
            delivered.add(info.id)
            masters.update(info.masters)
    for shipment in Shipment.objects.filter(pk__in=delivered).order_by("pk"):
        shipment_set_status(shipment=shipment, status=ShipmentStatus.DELIVERED)
    if not masters:
        return
    waiting = ConsolidatedHouse.objects.filter(master_id__in=masters, removed_at__isnull=True).exclude(
        house__status__in=CLOSED_SHIPMENT_STATUSES
    )
    done = masters - set(waiting.values_list("master_id", flat=True))
    closed = list(Shipment.objects.filter(pk__in=done, status__in=OPEN_SHIPMENT_STATUSES).order_by("pk"))
    for master in closed:
        shipment_set_status(shipment=master, status=ShipmentStatus.DELIVERED)
    if closed:
        _arrive_with_last_house(deliveries, resolution, owners, {master.pk for master in closed}, by=by)


def _arrive_with_last_house(
    deliveries: list[StoredEvent], resolution: Resolution, owners: _LegOwners, closed: set[int], *, by: Any
) -> None:
    """The legs of masters their last house's delivery closed, which that delivery is the arrival of (a groupage
    truck's last drop) and which have none yet, arrive at the batch's latest such delivery (planning's
    `leg_record_actual`, after the master is delivered: its houses keep their status). One query for the legs."""
    known = {leg.id: leg for info in resolution.shipments.values() for leg in info.legs}
    last: dict[int, list[StoredEvent]] = defaultdict(list)
    for event in deliveries:
        leg = known.get(event.leg_id) if event.leg_id else None
        if leg is None or owners.owner[leg.id] not in closed or leg.actual_arrival_at is not None:
            continue
        if leg_moment(event.milestone, leg.mode, leg.role) == "arrival":
            last[leg.id].append(event)
    if not last:
        return
    for leg_id in (
        Leg.objects.filter(pk__in=list(last), actual_arrival_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        event = max(last[leg_id], key=lambda e: (e.event_at, e.id))
        if _record_on_leg(leg_id, last[leg_id], arrived_at=event.event_at, by=by):
            master = owners.references.get(owners.owner[leg_id], "the master")
            event.notes.append(f"{master}'s last house delivered: its leg arrived at {_at(event.event_at)}.")


# --- orders -------------------------------------------------------------------------------------------


@dataclass
class OrderMove:
    order_id: int
    target: str
    events: list[StoredEvent]

    @property
    def driver(self) -> StoredEvent:
        return self.events[-1]


def _order_targets(stored: list[StoredEvent], resolution: Resolution, table: MappingTable) -> list[OrderMove]:
    moves: dict[int, OrderMove] = {}
    for event in sorted(stored, key=lambda e: (e.event_at, e.id)):
        target = table.order_status(event.milestone) if event.applies else ""
        if not target:
            continue
        for order_id in resolution.orders_of(event.link):
            move = moves.get(order_id)
            if move is None or _PATH_INDEX[target] > _PATH_INDEX[move.target]:
                moves[order_id] = OrderMove(order_id, target, [*(move.events if move else []), event])
            else:
                move.events.append(event)
    return [moves[order_id] for order_id in sorted(moves)]  # one lock order for every batch: no deadlocks


def advance_order(order: Order, *, target: str, actor: Actor, reason: str, payload: dict[str, Any]) -> str:
    """Take the order forward to `target` one lifecycle step at a time; returns what happened, for the record."""
    if order.status not in _PATH_INDEX:
        return f"{order.reference} is {OrderStatus(order.status).label.lower()}: status left as it is."
    if _PATH_INDEX[order.status] >= _PATH_INDEX[target]:
        return ""
    for status in STATUS_PATH[_PATH_INDEX[order.status] + 1 : _PATH_INDEX[target] + 1]:
        name = (
            _transition_to(status)
            if status in (OrderStatus.IN_TRANSIT, OrderStatus.ARRIVED, OrderStatus.DELIVERED)
            else None
        )
        if name is None:
            return (
                f"{order.reference} is {OrderStatus(order.status).label.lower()}: events move orders only once "
                f"they are planned; it stays until operations plan it."
            )
        try:
            order = order_services.order_transition(
                order=order,
                name=name,
                scope=SYSTEM_SCOPE,
                channel=actor.channel,
                by=actor.by,
                reason=reason[:300],
                payload=payload,
            )
        except TransitionNotAllowed as exc:
            logger.info("tracking: %s not moved to %s: %s", order.reference, status, exc)
            return f"{order.reference} stays {OrderStatus(order.status).label.lower()}: {exc}"
    return f"{order.reference} is now {OrderStatus(order.status).label.lower()}."


def follow_orders(stored: list[StoredEvent], resolution: Resolution, table: MappingTable, actor: Actor) -> None:
    """Each order concerned by an actual event goes forward to the furthest status its events imply."""
    moves = [
        move for move in _order_targets(stored, resolution, table)
        if _PATH_INDEX.get(resolution.order_status.get(move.order_id, ""), -1) < _PATH_INDEX[move.target]
    ]  # fmt: skip
    if not moves:
        return  # every order is already as far as these events take it: no query
    orders = Order.objects.in_bulk([move.order_id for move in moves])
    for move in moves:
        order = orders.get(move.order_id)
        if order is None or _PATH_INDEX.get(order.status, -1) >= _PATH_INDEX[move.target]:
            continue
        driver = move.driver
        name = table.milestones[str(driver.milestone)].name
        note = advance_order(
            order,
            target=move.target,
            actor=actor,
            reason=f"{name} reported by {actor.source}",
            payload={"tracking_event_id": driver.id, "milestone": driver.milestone},
        )
        if note:
            driver.notes.append(note)


def announce_milestones(stored: list[StoredEvent], resolution: Resolution) -> None:
    """milestones_recording before the commit, milestone_recorded after it, once per order and milestone in the
    batch (events.note_milestones: one call for the batch). An event not applied (a contradiction) is not announced:
    no workflow, notification or exception hears of it."""
    seen: set[tuple[int, str]] = set()
    records: list[domain_events.MilestoneRecorded] = []
    for event in stored:
        if not event.applies or not event.milestone:
            continue
        for order_id in resolution.orders_of(event.link):
            if (order_id, event.milestone) in seen:
                continue
            seen.add((order_id, event.milestone))
            records.append(
                domain_events.MilestoneRecorded(order_id, event.milestone, event.id, event.classifier, event.event_at)
            )
    if records:
        domain_events.note_milestones(sender=TrackingEvent, records=records)


# What each event changed, and whether it was applied, for all of a batch's events in one statement (event_at too:
# the partition key).
_WRITE_NOTES = """
    UPDATE tracking_trackingevent AS e SET effect = n.effect, contradiction = n.contradiction
    FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[], %s::text[]) AS n(id, event_at, effect, contradiction)
    WHERE e.id = n.id AND e.event_at = n.event_at
"""


def write_notes(stored: list[StoredEvent]) -> None:
    """Keep on each event what it changed or why it changed nothing (shown on the staff timeline), and why it was
    not applied (a contradiction always comes with its note)."""
    noted = [event for event in stored if event.notes]
    if not noted:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _WRITE_NOTES,
            [
                [e.id for e in noted],
                [e.event_at for e in noted],
                [" ".join(e.notes)[:300] for e in noted],
                [e.contradiction for e in noted],
            ],
        )


def follow(stored: list[StoredEvent], resolution: Resolution, table: MappingTable, actor: Actor) -> None:
    """Everything newly stored events change, in order: estimates, legs, shipments, orders, then the record."""
    follow_estimates(stored, resolution)
    owners = _LegOwners.of(resolution)
    passed = follow_legs(stored, resolution, owners, by=actor.by, refuse=actor.refuse_contradictions)
    follow_deliveries(stored, resolution, table, owners, by=actor.by)
    follow_orders(stored, resolution, table, actor)
    announce_milestones(stored, resolution)
    write_notes([*stored, *passed])
