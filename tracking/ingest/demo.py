"""Demo tracking (seed_demo, after the planning demo): the simulated carrier on every demo carrier, a few more
booked shipments in every mode around today (on the lanes and pickups of orders.demo.SHIPPED), a signed webhook
source, and one code without a mapping so the console has an alert to resolve. Idempotent: what exists is kept.

The shipments: some left weeks ago and are at sea, on the rails or on the road, some leave today, and some have
arrived: an ocean shipment waits at the port of discharge since the day before yesterday, a flight and a parcel were
delivered (yesterday, today), and a flight, a transpacific container and a truck were delivered days ago (their
orders completed: workflows.demo.seed_work_done). The simulated carrier (tracking.ingest.adapters.simulated) runs a
quarter of its shipments late and holds a fifth in customs, chosen by a hash of the shipment's reference: for the
shipments whose arrival the story fixes, the planned arrival is set back by the carrier's delay so it arrives on the
day the story says; the ones still travelling were planned to arrive tomorrow or later, so a late one shows an ETA
that slipped, not an arrival already overdue.

Three shipments play a scene instead (DemoShipment.scene, simulated.Scene), timed from the moment the seed books
them, so that exceptions open and resolve by themselves in the first twenty minutes of `make run` (docs/operations.md,
"The demo data"):

- the groupage truck from Hamburg to Munich was due to collect a little less than its overdue rule's threshold
  before the seed: its pickup is overdue 5 min after the seed, and it collects 14 min after it;
- the flight from Hong Kong to Amsterdam, whose later estimate came after take-off (an ETA that slipped), was due to
  land a little less than the threshold before the seed: its arrival is overdue 7 min after, and it lands 18 min
  after the seed;
- the container from Shanghai that arrived in Hamburg this morning is held by customs 4 min after the seed and
  released 12 min after it (ACME's customs holds are critical, and ACME is emailed).

An overdue milestone opens at the periodic scan (every 5 min) after its threshold passed, so each is overdue for
longer than that before the carrier reports it.

`carrier_replay` sends every step of the simulated carrier that is due by now, as its ticks would over the weeks
the shipments have travelled; seed_demo runs it before the exception scan. From then on the simulated carrier
(tracking.ingest.tasks.advance_simulated_carrier, every 30 s) sends each step as its time comes: the ones departing
today move during the demo, and the late and held ones open their exceptions when the carrier says so.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders import services as order_services
from orders.errors import OrderError
from orders.models import Channel, Order, OrderStatus
from partners.models import Organisation, User
from partners.scoping import scope_for_user
from tracking.errors import PlanningError
from tracking.exceptions import rules
from tracking.exceptions.defaults import seed_default_rules
from tracking.exceptions.models import ExceptionKind, ExceptionRule
from tracking.ingest import polling
from tracking.ingest.adapters import simulated
from tracking.ingest.formats import oms_event
from tracking.ingest.models import (
    AdapterKind,
    CarrierEndpoint,
    MappingAlert,
    MappingRule,
    Milestone,
    SourceKind,
    TrackingSubscription,
    WebhookSource,
)
from tracking.ingest.services import Source, events_ingest
from tracking.ingest.standards import seed_reference_data
from tracking.models import Shipment
from tracking.services import booking as booking_services
from tracking.services import planning

DEMO_CARRIERS = ("MAEU", "HLCU", "LHCARGO", "DHLX", "NORDTRUCK")
M = datetime.timedelta(minutes=1)
H = datetime.timedelta(hours=1)

# The scenes (module docstring), each timed from the moment its shipment is booked (the seed).
LATE_PICKUP = "late_pickup"  # the pickup is overdue from PICKUP_OVERDUE_IN, the truck collects at PICKED_UP_IN
PICKUP_OVERDUE_IN, PICKED_UP_IN = 5 * M, 14 * M
LATE_LANDING = "late_landing"  # the arrival is overdue from LANDING_OVERDUE_IN, the flight lands at LANDED_IN
LANDING_OVERDUE_IN, LANDED_IN, FLIGHT_TIME = 7 * M, 18 * M, 14 * H
CUSTOMS_HOLD = "customs_hold"  # held at HELD_IN, released at RELEASED_IN, the box discharged before
HELD_IN, RELEASED_IN = 4 * M, 12 * M


@dataclass(frozen=True)
class DemoShipment:
    """One demo shipment: its lane, carrier, departure (days from today, at this hour) and master bill; planned to
    arrive `transit` days after the departure, or, when `arrives` is set, reported arrived that many days from
    today (the plan set back by the simulated carrier's delay). A `scene` (module docstring) times it from now
    instead, its departure or its arrival."""

    mode: str
    origin: str
    destination: str
    carrier: str
    etd_days: int
    bill: str
    transit: int = 0
    arrives: int | None = None
    scene: str = ""


S = DemoShipment
SHIPMENTS = (
    # travelling, or leaving today
    S("ocean_fcl", "CNSHA", "DEHAM", "HLCU", -30, "HLCUSHA2611001", transit=34),
    S("ocean_fcl", "CNNGB", "NLRTM", "MAEU", -9, "MAEU261104417", transit=32),
    S("ocean_fcl", "DEBRV", "CNSHA", "MAEU", 0, "MAEU261104418", transit=36),
    S("ocean_lcl", "CNTAO", "BEANR", "MAEU", -40, "MAEU261104419", transit=44),
    S("air", "HKHKG", "NLAMS", "LHCARGO", -1, "020-31234574", scene=LATE_LANDING),
    S("road_ftl", "DEDUI", "ITMIL", "NORDTRUCK", -1, "CMR-2611-0771", transit=2),
    S("road_ltl", "DEHAM", "DEMUC", "NORDTRUCK", 0, "CMR-2611-0772", transit=2, scene=LATE_PICKUP),
    S("parcel", "DEHAM", "GBLON", "DHLX", -1, "JD014600006281230004", transit=2),
    S("parcel", "CNSZX", "USLAX", "DHLX", 0, "JD014600006281230005", transit=3),
    S("rail", "CNXIA", "DEDUI", "MAEU", -12, "MAEURAIL261101", transit=18),
    # arrived at the port of discharge, waiting for customs and the haulier (this morning: held by customs)
    S("ocean_fcl", "CNSHA", "DEHAM", "HLCU", -38, "HLCUSHA2611002", scene=CUSTOMS_HOLD),
    S("ocean_lcl", "CNSZX", "DEHAM", "MAEU", -44, "MAEU261104420", arrives=-2),
    # delivered: the proof of delivery to collect
    S("air", "HKHKG", "NLAMS", "LHCARGO", -6, "020-31234585", arrives=-2),
    S("parcel", "DEHAM", "GBLON", "DHLX", -4, "JD014600006281230006", arrives=0),
    # delivered days ago: completed, for finance to invoice
    S("air", "CNPVG", "DEFRA", "LHCARGO", -10, "020-31234563", transit=2),
    S("ocean_fcl", "KRPUS", "USLAX", "HLCU", -24, "HLCUPUS2611003", transit=13),
    S("road_ftl", "DEDUI", "ITMIL", "NORDTRUCK", -9, "CMR-2611-0770", transit=2),
)
WEBHOOK_SOURCE = "demo-tms"
DAY = datetime.timedelta(days=1)
REPLAY_ROUNDS = 60  # a shipment's plan has at most a dozen steps, sent two a poll


def _endpoints(carriers: dict[str, Organisation]) -> int:
    made = 0
    for code in DEMO_CARRIERS:
        if code in carriers:
            _, created = CarrierEndpoint.objects.get_or_create(
                carrier=carriers[code], kind=AdapterKind.SIMULATED, defaults={"rate_limit_per_minute": 600}
            )
            made += created
    return made


def _candidate(row: DemoShipment, leaves_on: datetime.date) -> Order | None:
    """An order on the row's lane that is submitted or confirmed, on no shipment yet, and whose customer asked for
    the pickup on or before the day its goods leave: the latest such pickup (goods are not booked to sail before
    they are ready, nor weeks after)."""
    return (
        Order.objects.filter(
            mode=row.mode,
            origin_id=row.origin,
            destination_id=row.destination,
            status__in=[OrderStatus.SUBMITTED, OrderStatus.CONFIRMED],
            houses__isnull=True,
            requested_pickup_on__lte=leaves_on,
        )
        .select_related("branch")
        .order_by("-requested_pickup_on", "reference")
        .first()
    )


def _overdue_after(order: Order) -> datetime.timedelta:
    """How long after its planned time a movement of the order's mode is overdue, by the rule detection chooses
    (tracking.exceptions.rules): the scenes are timed from it."""
    rule = rules.rulebook().rule(ExceptionKind.MILESTONE_OVERDUE, mode=order.mode, customer_id=order.customer_id)
    hours = rule.threshold_hours if rule is not None and rule.threshold_hours is not None else 0
    return datetime.timedelta(hours=float(hours))


def _scene(
    row: DemoShipment, order: Order, etd: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime, simulated.Scene]:
    """A scene's planned departure and arrival, from now (the departure of the held box as the row says), and what
    its carrier does (module docstring)."""
    now = timezone.now()
    if row.scene == LATE_PICKUP:
        etd = now + PICKUP_OVERDUE_IN - _overdue_after(order)
        return etd, etd + row.transit * DAY, simulated.Scene(departs_late_by=now + PICKED_UP_IN - etd)
    if row.scene == LATE_LANDING:
        eta = now + LANDING_OVERDUE_IN - _overdue_after(order)
        return eta - FLIGHT_TIME, eta, simulated.Scene(late_by=now + LANDED_IN - eta)
    # customs hold: the vessel arrived so long ago that the carrier's hold, which comes HOLD_AFTER_ARRIVAL after the
    # arrival (the box discharged before it), comes HELD_IN from now
    eta = now + HELD_IN - simulated.HOLD_AFTER_ARRIVAL[row.mode]
    return etd, eta, simulated.Scene(held=True, hold_for=RELEASED_IN - HELD_IN)


def _ship(order: Order, carrier: Organisation, row: DemoShipment, *, scope: Any, ops: User) -> Shipment | None:
    """Confirm, plan on its own master, book with the carrier (the lifecycle plans it if workflows let it); a
    scene's shipment is then given its scene."""
    if order.status == OrderStatus.SUBMITTED:
        order = order_services.order_transition(
            order=order, name="confirm", scope=scope, by=ops, channel=Channel.SCREEN
        )
    hour = datetime.time(timezone.localtime().hour, 0)
    etd = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), hour)) + row.etd_days * DAY
    master = planning.shipment_plan_direct(order=order, by=ops)
    scene = None
    if row.scene:
        etd, eta, scene = _scene(row, order, etd)
    elif row.arrives is None:
        eta = etd + row.transit * DAY
    else:  # the simulated carrier, late or held or not, reports the arrival on the story's day
        eta = etd + (row.arrives - row.etd_days) * DAY - simulated.arrival_late_by(simulated.plan_for(master))
    booking = booking_services.booking_request(shipment=master, carrier=carrier, by=ops)
    booking_services.booking_confirm(
        booking=booking,
        carrier_reference=f"{carrier.code}{master.pk:08d}",
        departure_at=etd,
        arrival_at=eta,
        scope=scope,
        by=ops,
    )
    Shipment.objects.filter(pk=master.pk).update(bill_number=row.bill)
    if scene is not None:
        simulated.scene_set(shipment=master, scene=scene)
    return master


def _shipments(carriers: dict[str, Organisation]) -> int:
    ops = User.objects.filter(email="ops@oms.example").first()
    if ops is None:
        return 0
    scope = scope_for_user(ops)
    made = 0
    for row in SHIPMENTS:
        if row.carrier not in carriers or Shipment.objects.filter(bill_number=row.bill).exists():
            continue
        order = _candidate(row, timezone.localdate() + row.etd_days * DAY)
        if order is None:
            continue
        try:
            with transaction.atomic():
                made += _ship(order, carriers[row.carrier], row, scope=scope, ops=ops) is not None
        except (OrderError, PlanningError):
            continue  # a demo order the lifecycle or planning refuses: the next run tries another
    return made


def _webhook_source() -> str:
    source, _ = WebhookSource.objects.get_or_create(name=WEBHOOK_SOURCE)
    return source.name


def _unmapped_example() -> None:
    """A partner's X12 214 appointment code (AT7-03 "X9", appointment secured) sent as a status: no rule maps
    it, so it is stored, moves nothing, and the console shows the alert to map it."""
    bills = [row.bill for row in SHIPMENTS if row.mode == "road_ftl" and row.arrives is None]
    shipment = Shipment.objects.filter(bill_number__in=bills).order_by("pk").first()
    if shipment is None or MappingAlert.objects.filter(scheme="x12_214", code="X9").exists():
        return
    event = oms_event(
        {
            "id": f"demo-x9-{shipment.reference}",
            "code": "X9",
            "scheme": "x12_214",
            "occurred_at": timezone.now().isoformat(),
            "subject": {"type": "shipment", "value": shipment.reference},
        }
    )
    events_ingest(events=[event], source=Source(kind=SourceKind.WEBHOOK, name=WEBHOOK_SOURCE, channel=Channel.WEBHOOK))


def carrier_replay() -> int:
    """Send every step of the simulated carrier that is due by now, as its ticks would have (a tick sends a step
    or two of each shipment), and end the subscriptions of the shipments delivered; returns how many steps were
    sent. The order statuses and tasks the events move are the workflow's: seed_demo drains those."""
    polling.subscriptions_sync()
    sent = 0
    for _ in range(REPLAY_ROUNDS):
        moved = 0
        for subscription in TrackingSubscription.objects.filter(is_active=True, endpoint__kind=AdapterKind.SIMULATED):
            before = subscription.state.get("next", -1)
            polling.subscription_poll(subscription_id=subscription.pk)
            subscription.refresh_from_db(fields=["state"])
            moved += max(subscription.state.get("next", -1) - max(before, 0), 0)
        polling.subscriptions_sync()
        sent += moved
        if not moved:
            break
    return sent


def seed_tracking_demo() -> dict[str, int | str]:
    """Endpoints, demo shipments and the webhook source; returns what was made."""
    seed_reference_data(Milestone, MappingRule)
    seed_default_rules(ExceptionRule)  # the scenes are timed by them (a new installation has them from a migration)
    carriers = Organisation.objects.in_bulk(list(DEMO_CARRIERS), field_name="code")
    endpoints = _endpoints(carriers)
    shipments = _shipments(carriers)
    _unmapped_example()
    return {"simulated_endpoints": endpoints, "shipments": shipments, "webhook_source": _webhook_source()}
