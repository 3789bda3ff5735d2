"""Demo tracking (seed_demo, after the planning demo): the simulated carrier on every demo carrier, a few more
booked shipments in every mode around today (on the lanes and pickups of orders.demo.SHIPPED), a signed webhook
source, and one code without a mapping so the console has an alert to resolve. Idempotent: what exists is kept.

The shipments: some left weeks ago and are at sea, on the rails or on the road, some leave today, and some have
arrived: two ocean shipments wait at the port of discharge (arrived yesterday and the day before), a flight and a
parcel were delivered (yesterday, today), and a flight, a transpacific container and a truck were delivered days ago
(their orders completed: workflows.demo.seed_work_done). The simulated carrier (tracking.ingest.adapters.simulated)
runs a quarter of its shipments late and holds a fifth in customs, chosen by a hash of the shipment's reference: for
the shipments whose arrival the story fixes, the planned arrival is set back by the carrier's delay so it arrives on
the day the story says; the ones still travelling were planned to arrive tomorrow or later, so a late one shows an
ETA that slipped, not an arrival already overdue.

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
from tracking.ingest import polling
from tracking.ingest.adapters.simulated import plan_for
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


@dataclass(frozen=True)
class DemoShipment:
    """One demo shipment: its lane, carrier, departure (days from today, at this hour) and master bill; planned to
    arrive `transit` days after the departure, or, when `arrives` is set, reported arrived that many days from
    today (the plan set back by the simulated carrier's delay)."""

    mode: str
    origin: str
    destination: str
    carrier: str
    etd_days: int
    bill: str
    transit: int = 0
    arrives: int | None = None


S = DemoShipment
SHIPMENTS = (
    # travelling, or leaving today
    S("ocean_fcl", "CNSHA", "DEHAM", "HLCU", -30, "HLCUSHA2611001", transit=34),
    S("ocean_fcl", "CNNGB", "NLRTM", "MAEU", -9, "MAEU261104417", transit=32),
    S("ocean_fcl", "DEBRV", "CNSHA", "MAEU", 0, "MAEU261104418", transit=36),
    S("ocean_lcl", "CNTAO", "BEANR", "MAEU", -40, "MAEU261104419", transit=44),
    S("air", "HKHKG", "NLAMS", "LHCARGO", 0, "020-31234574", transit=1),
    S("road_ftl", "DEDUI", "ITMIL", "NORDTRUCK", -1, "CMR-2611-0771", transit=2),
    S("road_ltl", "DEHAM", "DEMUC", "NORDTRUCK", 0, "CMR-2611-0772", transit=2),
    S("parcel", "DEHAM", "GBLON", "DHLX", -1, "JD014600006281230004", transit=2),
    S("parcel", "CNSZX", "USLAX", "DHLX", 0, "JD014600006281230005", transit=3),
    S("rail", "CNXIA", "DEDUI", "MAEU", -12, "MAEURAIL261101", transit=18),
    # arrived at the port of discharge, waiting for customs and the haulier
    S("ocean_fcl", "CNSHA", "DEHAM", "HLCU", -38, "HLCUSHA2611002", arrives=-1),
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


def _ship(order: Order, carrier: Organisation, row: DemoShipment, *, scope: Any, ops: User) -> Shipment | None:
    """Confirm, plan on its own master, book with the carrier (the lifecycle plans it if workflows let it)."""
    if order.status == OrderStatus.SUBMITTED:
        order = order_services.order_transition(
            order=order, name="confirm", scope=scope, by=ops, channel=Channel.SCREEN
        )
    hour = datetime.time(timezone.localtime().hour, 0)
    etd = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), hour)) + row.etd_days * DAY
    master = planning.shipment_plan_direct(order=order, by=ops)
    if row.arrives is None:
        eta = etd + row.transit * DAY
    else:  # the simulated carrier, late or not, reports the arrival on the story's day
        eta = etd + (row.arrives - row.etd_days) * DAY - plan_for(master).late_by
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
    carriers = Organisation.objects.in_bulk(list(DEMO_CARRIERS), field_name="code")
    endpoints = _endpoints(carriers)
    shipments = _shipments(carriers)
    _unmapped_example()
    return {"simulated_endpoints": endpoints, "shipments": shipments, "webhook_source": _webhook_source()}
