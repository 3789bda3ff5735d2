"""Demo tracking (seed_demo, after the planning demo): the simulated carrier on every demo carrier, a few more
booked shipments in every mode with schedules around today, a signed webhook source, and one code without
a mapping so the console has an alert to resolve. Idempotent: what exists is kept.

The simulated carrier (tracking.ingest.tasks.advance_simulated_carrier, every 30 s) then sends each demo
shipment's events as their time comes: shipments planned in the past catch up a step or two a tick, the
ones departing today move during the demo, some run late and some are held by customs.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders import services as order_services
from orders.errors import OrderError
from orders.models import Channel, Order, OrderStatus
from partners.models import Organisation, User
from partners.scoping import scope_for_user
from tracking.errors import PlanningError
from tracking.ingest.formats import oms_event
from tracking.ingest.models import (
    AdapterKind,
    CarrierEndpoint,
    MappingAlert,
    MappingRule,
    Milestone,
    SourceKind,
    WebhookSource,
)
from tracking.ingest.services import Source, events_ingest
from tracking.ingest.standards import seed_reference_data
from tracking.models import Shipment
from tracking.services import booking as booking_services
from tracking.services import planning

DEMO_CARRIERS = ("MAEU", "HLCU", "LHCARGO", "DHLX", "NORDTRUCK")
# mode, carrier, days from today to the ETD, transit days, master bill
SHIPMENTS = (
    ("ocean_fcl", "HLCU", -30, 31, "HLCUSHA2611001"),
    ("ocean_fcl", "MAEU", -9, 34, "MAEU261104417"),
    ("ocean_fcl", "MAEU", 0, 33, "MAEU261104418"),
    ("ocean_lcl", "MAEU", -40, 42, "MAEU261104419"),
    ("air", "LHCARGO", -3, 2, "020-31234563"),
    ("air", "LHCARGO", 0, 1, "020-31234574"),
    ("road_ftl", "NORDTRUCK", -1, 2, "CMR-2611-0771"),
    ("road_ltl", "NORDTRUCK", 0, 2, "CMR-2611-0772"),
    ("parcel", "DHLX", -2, 3, "JD014600006281230004"),
    ("parcel", "DHLX", 0, 2, "JD014600006281230005"),
    ("rail", "MAEU", -12, 18, "MAEURAIL261101"),
)
WEBHOOK_SOURCE = "demo-tms"


def _endpoints(carriers: dict[str, Organisation]) -> int:
    made = 0
    for code in DEMO_CARRIERS:
        if code in carriers:
            _, created = CarrierEndpoint.objects.get_or_create(
                carrier=carriers[code], kind=AdapterKind.SIMULATED, defaults={"rate_limit_per_minute": 600}
            )
            made += created
    return made


def _candidate(mode: str, leaves_on: datetime.date) -> Order | None:
    """An order of this mode that is submitted or confirmed, on no shipment yet, and whose customer asked for
    the pickup on or before the day its goods leave: the latest such pickup (goods are not booked to sail before
    they are ready, nor weeks after)."""
    return (
        Order.objects.filter(
            mode=mode,
            status__in=[OrderStatus.SUBMITTED, OrderStatus.CONFIRMED],
            houses__isnull=True,
            requested_pickup_on__lte=leaves_on,
        )
        .select_related("branch")
        .order_by("-requested_pickup_on", "reference")
        .first()
    )


def _ship(
    order: Order, carrier: Organisation, *, etd_days: int, transit: int, bill: str, scope: Any, ops: User
) -> Shipment | None:
    """Confirm, plan on its own master, book with the carrier (the lifecycle plans it if workflows let it)."""
    if order.status == OrderStatus.SUBMITTED:
        order = order_services.order_transition(
            order=order, name="confirm", scope=scope, by=ops, channel=Channel.SCREEN
        )
    day = timezone.localdate() + datetime.timedelta(days=etd_days)
    etd = timezone.make_aware(datetime.datetime.combine(day, datetime.time(timezone.localtime().hour, 0)))
    master = planning.shipment_plan_direct(order=order, by=ops)
    booking = booking_services.booking_request(shipment=master, carrier=carrier, by=ops)
    booking_services.booking_confirm(
        booking=booking,
        carrier_reference=f"{carrier.code}{master.pk:08d}",
        departure_at=etd,
        arrival_at=etd + datetime.timedelta(days=transit),
        scope=scope,
        by=ops,
    )
    Shipment.objects.filter(pk=master.pk).update(bill_number=bill)
    return master


def _shipments(carriers: dict[str, Organisation]) -> int:
    ops = User.objects.filter(email="ops@oms.example").first()
    if ops is None:
        return 0
    scope = scope_for_user(ops)
    made = 0
    for mode, code, etd_days, transit, bill in SHIPMENTS:
        if code not in carriers or Shipment.objects.filter(bill_number=bill).exists():
            continue
        order = _candidate(mode, timezone.localdate() + datetime.timedelta(days=etd_days))
        if order is None:
            continue
        try:
            with transaction.atomic():
                made += (
                    _ship(order, carriers[code], etd_days=etd_days, transit=transit, bill=bill, scope=scope, ops=ops)
                    is not None
                )
        except (OrderError, PlanningError):
            continue  # a demo order the lifecycle or planning refuses: the next run tries another
    return made


def _webhook_source() -> str:
    source, _ = WebhookSource.objects.get_or_create(name=WEBHOOK_SOURCE)
    return source.name


def _unmapped_example() -> None:
    """A partner's X12 214 appointment code (AT7-03 "X9", appointment secured) sent as a status: no rule maps
    it, so it is stored, moves nothing, and the console shows the alert to map it."""
    shipment = Shipment.objects.filter(bill_number__in=[row[4] for row in SHIPMENTS], mode="road_ftl").first()
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


def seed_tracking_demo() -> dict[str, int | str]:
    """Endpoints, demo shipments and the webhook source; returns what was made."""
    seed_reference_data(Milestone, MappingRule)
    carriers = Organisation.objects.in_bulk(list(DEMO_CARRIERS), field_name="code")
    endpoints = _endpoints(carriers)
    shipments = _shipments(carriers)
    _unmapped_example()
    return {"simulated_endpoints": endpoints, "shipments": shipments, "webhook_source": _webhook_source()}
