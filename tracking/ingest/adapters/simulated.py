"""The simulated carrier of the demo: each demo shipment gets a realistic event sequence for its mode, timed
from its plan, and every tick sends the steps that are due, through the same ingest path as a real feed.

    ocean (DCSA events):   gate-in, loaded, departed, arrived, discharged, gate-out, delivered
    air (IATA codes):      booked, received from shipper, departed, arrived, notified, delivered
    road, parcel (Karrio): picked up, in transit, out for delivery, delivered
    rail (UN/ECE Rec 24):  picked up, departed, arrived, delivered

Some shipments run late (an EST event moves the ETA, the arrival follows it) and some are held by customs
(CUSTOMS_HOLD, then the release; a truck inside the EU is never held): chosen from a hash of the shipment
reference, so a rerun plans the same. A held ship or plane is held after its arrival, a held parcel at the
destination hub before it goes out for delivery (Karrio has no release: going out for delivery clears the hold), a
held train after its arrival at the terminal; each is delivered that much later.

A `Scene` set on a shipment (`scene_set`, kept in its subscription's state) replaces what the hash picks: the demo's
seed gives a few shipments a late pickup, a late arrival or a short hold that happen while the demo is watched
(tracking.ingest.demo, its scenes).

Each step has a fixed event id (`sim:<shipment>:<step>`): a step sent twice is stored once.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Max, Q
from django.utils import timezone

from orders.models import Mode, Order
from tracking.ingest.adapters import PollPage, TakeToken
from tracking.ingest.formats import IncomingEvent, dcsa_event, oms_event
from tracking.ingest.models import AdapterKind, TrackingSubscription
from tracking.models import Leg, LegRole, Shipment

if TYPE_CHECKING:
    from tracking.ingest.models import CarrierEndpoint

H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)
STEPS_PER_TICK = 2  # a shipment far behind its plan catches up a step or two a tick: the demo moves
TICK = datetime.timedelta(seconds=45)
TRANSIT: dict[str, datetime.timedelta] = {
    Mode.AIR: 2 * D,
    Mode.PARCEL: 3 * D,
    Mode.ROAD_FTL: 2 * D,
    Mode.ROAD_LTL: 3 * D,
    Mode.RAIL: 18 * D,
}
# How long a held shipment waits for its release, by mode (a scene may say otherwise).
HELD_FOR: dict[str, datetime.timedelta] = {Mode.AIR: 8 * H, Mode.PARCEL: 8 * H}
HELD_FOR_OTHERWISE = 20 * H
HELD_MODES = frozenset({Mode.OCEAN_FCL, Mode.OCEAN_LCL, Mode.AIR, Mode.PARCEL, Mode.RAIL})
# When a held ship or plane is held: this long after its arrival.
HOLD_AFTER_ARRIVAL: dict[str, datetime.timedelta] = {Mode.OCEAN_FCL: 10 * H, Mode.OCEAN_LCL: 10 * H, Mode.AIR: 2 * H}
ZERO = datetime.timedelta(0)


@dataclass(frozen=True)
class Plan:
    reference: str
    mode: str
    origin: str
    destination: str
    etd: datetime.datetime
    eta: datetime.datetime
    container: str
    bill: str
    late_by: datetime.timedelta  # the arrival (the delivery by road, parcel and rail) after the planned one
    held: bool
    collected: datetime.datetime | None = None  # noon (UTC) of the latest requested pickup of the goods on board
    departs_late_by: datetime.timedelta = ZERO  # the departure (the pickup by road and parcel) after the planned one
    hold_for: datetime.timedelta | None = None  # from the hold to the release; None: the mode's (HELD_FOR)

    @property
    def departure(self) -> datetime.datetime:
        return self.etd + self.departs_late_by

    @property
    def held_for(self) -> datetime.timedelta:
        """How much the hold delays what follows it (nothing when not held)."""
        if not self.held:
            return ZERO
        return self.hold_for if self.hold_for is not None else HELD_FOR.get(self.mode, HELD_FOR_OTHERWISE)


@dataclass(frozen=True)
class Scene:
    """What the carrier does with one shipment instead of what the hash of its reference picks (scene_set): how late
    it departs and arrives, whether it is held and for how long."""

    departs_late_by: datetime.timedelta = ZERO
    late_by: datetime.timedelta = ZERO
    held: bool = False
    hold_for: datetime.timedelta | None = None

    def as_state(self) -> dict[str, Any]:
        hold_for = None if self.hold_for is None else self.hold_for.total_seconds()
        return {
            "departs_late_by": self.departs_late_by.total_seconds(),
            "late_by": self.late_by.total_seconds(),
            "held": self.held,
            "hold_for": hold_for,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Scene:
        seconds = datetime.timedelta(seconds=1)
        hold_for = state.get("hold_for")
        return cls(
            departs_late_by=state.get("departs_late_by", 0) * seconds,
            late_by=state.get("late_by", 0) * seconds,
            held=bool(state.get("held")),
            hold_for=None if hold_for is None else hold_for * seconds,
        )


def scene_set(*, shipment: Shipment, scene: Scene) -> int:
    """Have the simulated carrier play `scene` with this shipment, from its first step: the demo's seed sets it
    right after the booking, before the carrier has sent anything. Kept in the subscription's state, so the plan is
    made again the same way if the state's steps are lost. Returns how many subscriptions took it (0: the shipment's
    carrier has no simulated feed)."""
    return TrackingSubscription.objects.filter(shipment=shipment, endpoint__kind=AdapterKind.SIMULATED).update(
        state={"scene": scene.as_state()}
    )


def _scene_of(shipment: Shipment) -> Scene | None:
    states = TrackingSubscription.objects.filter(shipment=shipment, endpoint__kind=AdapterKind.SIMULATED)
    state = next(iter(states.values_list("state", flat=True)), None) or {}
    return Scene.from_state(state["scene"]) if "scene" in state else None


def _chance(reference: str, salt: str) -> int:
    return int(hashlib.sha256(f"{salt}:{reference}".encode()).hexdigest()[:8], 16) % 100


def plan_for(shipment: Shipment) -> Plan:
    """The carrier's plan for the shipment: the times of its booking, how late and whether held from its scene, else
    from the hash of its reference."""
    legs = list(Leg.objects.filter(shipment=shipment).order_by("sequence"))
    leg = next((item for item in legs if item.role == LegRole.MAIN), legs[0] if legs else None)
    etd = (leg.planned_departure_at if leg else None) or shipment.created_at + D
    eta = (leg.planned_arrival_at if leg else None) or etd + TRANSIT.get(shipment.mode, 30 * D)
    box = shipment.containers.exclude(container_number="").values_list("container_number", flat=True).first()
    scene = _scene_of(shipment)
    if scene is None:
        late = _chance(shipment.reference, "late") < 25
        scene = Scene(
            late_by=(1 + _chance(shipment.reference, "slip") % 3) * D if late else ZERO,
            held=shipment.mode in HELD_MODES and _chance(shipment.reference, "hold") < 20,
        )
    pickup = Order.objects.filter(
        Q(pk=shipment.order_id)
        | Q(houses__consolidations__master=shipment, houses__consolidations__removed_at__isnull=True)
    ).aggregate(latest=Max("requested_pickup_on"))["latest"]
    return Plan(
        reference=shipment.reference,
        mode=shipment.mode,
        origin=shipment.origin_id,
        destination=shipment.destination_id,
        etd=etd,
        eta=eta,
        container=box or "",
        bill=shipment.bill_number,
        late_by=scene.late_by,
        held=scene.held,
        collected=datetime.datetime.combine(pickup, datetime.time(12), datetime.UTC) if pickup else None,
        departs_late_by=scene.departs_late_by,
        hold_for=scene.hold_for,
    )


def arrival_late_by(plan: Plan) -> datetime.timedelta:
    """How much later than planned the carrier reports the arrival the demo's story dates (the port's or airport's
    arrival; by road, parcel and rail the delivery, which a hold before it delays too)."""
    if plan.mode in HOLD_AFTER_ARRIVAL:
        return plan.late_by
    return plan.late_by + plan.held_for


def _iso(at: datetime.datetime) -> str:
    return at.astimezone(datetime.UTC).isoformat()


def _gate_in(plan: Plan) -> datetime.datetime:
    """The box at the terminal two days before it sails, but never before the goods were collected (their requested
    pickup): a gate-in reported first moved the order to in transit while its pickup was still ahead, depending on
    the hour the demo was seeded. Before loading in any case."""
    at = plan.etd - 2 * D
    if plan.collected is not None:
        at = max(at, plan.collected)
    return min(at, plan.etd - 10 * H)


def _ocean_steps(plan: Plan) -> list[dict[str, Any]]:
    arrival = plan.eta + plan.late_by
    hold = plan.held_for
    steps = [
        ("EST", "TRANSPORT", "ARRI", plan.destination, plan.eta, plan.etd - 3 * D),
        ("ACT", "EQUIPMENT", "GTIN", plan.origin, _gate_in(plan), None),
        ("ACT", "EQUIPMENT", "LOAD", plan.origin, plan.departure - 8 * H, None),
        ("ACT", "TRANSPORT", "DEPA", plan.origin, plan.departure, None),
    ]
    if plan.late_by:
        steps.append(("EST", "TRANSPORT", "ARRI", plan.destination, arrival, plan.departure + D))
    steps += [
        ("ACT", "TRANSPORT", "ARRI", plan.destination, arrival, None),
        ("ACT", "EQUIPMENT", "DISC", plan.destination, arrival + 8 * H, None),
    ]
    if plan.held:
        steps += [
            ("ACT", "SHIPMENT", "CUS:HOLD", plan.destination, arrival + HOLD_AFTER_ARRIVAL[plan.mode], None),
            ("ACT", "SHIPMENT", "CUS:RELS", plan.destination, arrival + HOLD_AFTER_ARRIVAL[plan.mode] + hold, None),
        ]
    steps += [
        ("ACT", "EQUIPMENT", "GTOT", plan.destination, arrival + 36 * H + hold, None),
        ("ACT", "EQUIPMENT", "DROP", plan.destination, arrival + 60 * H + hold, None),
    ]
    return [_dcsa(plan, *step) for step in steps]


def _dcsa(
    plan: Plan,
    classifier: str,
    kind: str,
    code: str,
    place: str,
    at: datetime.datetime,
    said_at: datetime.datetime | None,
) -> dict[str, Any]:
    created = said_at or at
    event: dict[str, Any] = {
        "eventCreatedDateTime": _iso(created),
        "eventType": kind,
        "eventClassifierCode": classifier,
        "eventDateTime": _iso(created if kind == "SHIPMENT" else at),
        "references": [{"referenceType": "FF", "referenceValue": plan.reference}],
    }
    if plan.bill:
        event["documentReferences"] = [{"documentReferenceType": "TRD", "documentReferenceValue": plan.bill}]
    call = {
        "transportCallID": f"{plan.reference}-{place}",
        "modeOfTransport": "VESSEL",
        "UNLocationCode": place,
        "facilityTypeCode": "POTE",
    }
    if kind == "TRANSPORT":
        event.update(transportEventTypeCode=code, transportCall=call)
    elif kind == "EQUIPMENT":
        event.update(equipmentEventTypeCode=code, emptyIndicatorCode="LADEN", transportCall=call)
        if plan.container:
            event["equipmentReference"] = plan.container
    else:
        document, status = code.split(":")
        event.update(shipmentEventTypeCode=status, documentTypeCode=document, documentID=plan.bill or plan.reference)
    return {"format": "dcsa", "emit_at": _iso(created), "event": event}


def _ours(
    plan: Plan,
    scheme: str,
    code: str,
    place: str,
    at: datetime.datetime,
    *,
    classifier: str = "ACT",
    emit_at: datetime.datetime | None = None,
) -> dict[str, Any]:
    event = {
        "scheme": scheme,
        "code": code,
        "classifier": classifier,
        "occurred_at": _iso(at),
        "location": place,
        "subject": {"type": "shipment", "value": plan.reference},
    }
    if scheme == "oms":
        event = {**event, "milestone": code}
    return {"format": "oms", "emit_at": _iso(emit_at or at), "event": event}


def _air_steps(plan: Plan) -> list[dict[str, Any]]:
    arrival = plan.eta + plan.late_by
    hold = plan.held_for
    steps = [
        _ours(plan, "iata", "BKD", plan.origin, plan.etd - D),
        _ours(plan, "iata", "RCS", plan.origin, plan.etd - 8 * H),
        _ours(plan, "iata", "DEP", plan.origin, plan.departure),
    ]
    if plan.late_by:
        steps.append(
            _ours(plan, "oms", "ARRIVED", plan.destination, arrival, classifier="EST", emit_at=plan.departure + H)
        )
    steps += [_ours(plan, "iata", "ARR", plan.destination, arrival)]
    if plan.held:
        steps += [
            _ours(plan, "iata", "CRC", plan.destination, arrival + HOLD_AFTER_ARRIVAL[Mode.AIR]),
            _ours(plan, "iata", "CCD", plan.destination, arrival + HOLD_AFTER_ARRIVAL[Mode.AIR] + hold),
        ]
    steps += [
        _ours(plan, "iata", "NFD", plan.destination, arrival + 3 * H + hold),
        _ours(plan, "iata", "DDL", plan.destination, arrival + D + hold),
    ]
    return steps


# A hold on the ground, by scheme: the hold's code, and the release's ("": the next step clears it).
GROUND_HOLDS = {"karrio": ("on_hold", ""), "edifact": ("17", "39")}


def _road_steps(plan: Plan, scheme: str, codes: tuple[str, str, str, str]) -> list[dict[str, Any]]:
    """Picked up, on its way, the last mile's start (out for delivery; by rail the arrival at the terminal) and the
    delivery. A held parcel waits at the destination hub before it goes out for delivery, a held train's box at
    the terminal after its arrival: the rest comes that much later."""
    hold = plan.held_for
    arrival = plan.eta + plan.late_by + hold  # the delivery
    halfway = plan.departure + (arrival - plan.departure) / 2
    on_the_road = plan.departure + 2 * H  # left the shipper's yard or the origin hub
    last_mile = arrival - hold - 4 * H  # out for delivery, or at the terminal, when not held
    steps = [
        _ours(plan, scheme, codes[0], plan.origin, plan.departure),
        _ours(plan, scheme, codes[1], "", on_the_road),
    ]
    if plan.late_by:
        estimate = plan.eta + plan.late_by  # a hold to come is not foreseen
        steps.append(_ours(plan, "oms", "DELIVERED", plan.destination, estimate, classifier="EST", emit_at=halfway + H))
    held, released = GROUND_HOLDS.get(scheme, ("", ""))
    if plan.held and not released:  # held before the last mile, which releases it
        steps += [
            _ours(plan, scheme, held, plan.destination, last_mile - 2 * H),
            _ours(plan, scheme, codes[2], plan.destination, last_mile + hold),
        ]
    elif plan.held:  # held after the arrival at the terminal until the release
        steps += [
            _ours(plan, scheme, codes[2], plan.destination, last_mile),
            _ours(plan, scheme, held, plan.destination, last_mile + H),
            _ours(plan, scheme, released, plan.destination, last_mile + H + hold),
        ]
    else:
        steps.append(_ours(plan, scheme, codes[2], plan.destination, last_mile))
    steps.append(_ours(plan, scheme, codes[3], plan.destination, arrival))
    return steps


def steps_for(plan: Plan) -> list[dict[str, Any]]:
    if plan.mode in (Mode.OCEAN_FCL, Mode.OCEAN_LCL):
        return _ocean_steps(plan)
    if plan.mode == Mode.AIR:
        return _air_steps(plan)
    if plan.mode == Mode.RAIL:
        return _road_steps(plan, "edifact", ("13", "24", "40", "21"))
    return _road_steps(plan, "karrio", ("picked_up", "in_transit", "out_for_delivery", "delivered"))


def _read(step: dict[str, Any], number: int, reference: str) -> IncomingEvent:
    event = dcsa_event(step["event"]) if step["format"] == "dcsa" else oms_event(step["event"])
    event.source_event_id = f"sim:{reference}:{number}"
    return event


class SimulatedAdapter:
    """Sends the due steps of each demo shipment's plan; the plan is kept in the subscription's state."""

    kind: str = AdapterKind.SIMULATED

    def __init__(self, endpoint: CarrierEndpoint) -> None:
        self.endpoint = endpoint

    def poll(self, subscription: TrackingSubscription, *, take_token: TakeToken) -> Iterator[PollPage]:
        state = subscription.state
        if "steps" not in state:
            state["steps"] = steps_for(plan_for(subscription.shipment))
            state["next"] = 0
        now = timezone.now()
        due: list[IncomingEvent] = []
        number = state["next"]
        while number < len(state["steps"]) and len(due) < STEPS_PER_TICK:
            step = state["steps"][number]
            if datetime.datetime.fromisoformat(step["emit_at"]) > now:
                break
            due.append(_read(step, number, subscription.shipment.reference))
            number += 1
        state["next"] = number  # saved by polling.py only after the events are stored
        yield PollPage(events=due)

    def next_poll_in(self, subscription: TrackingSubscription) -> datetime.timedelta | None:
        steps, number = subscription.state.get("steps", []), subscription.state.get("next", 0)
        if number >= len(steps):
            return 6 * H  # the plan is done; the subscription ends when the shipment is delivered
        due = datetime.datetime.fromisoformat(steps[number]["emit_at"])
        return max(TICK, min(due - timezone.now(), 6 * H))
