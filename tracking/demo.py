"""Demo planning (seed_demo): carrier services and records, preferences, and a handful of shipments in every
planning state (booked with cut-offs coming due, awaiting the carrier, departing and arriving today, rolled, one
whose cargo missed its cut-off), made through the real services. Plenty of LCL orders stay unplanned so a person can
consolidate them by hand. Idempotent: nothing happens once a shipment exists."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from finance.demo import seed_rates
from orders import services as order_services
from orders.models import Channel, Order
from partners.models import Organisation, User
from partners.scoping import Scope, scope_for_user
from partners.time_zones import branch_zone
from tracking.models import Booking, CarrierPreference, CarrierRecord, CarrierService, LegRole, Shipment
from tracking.services import appointment_changes, consolidation, container_changes, leg_changes, planning, ranking
from tracking.services import booking as booking_services

# carrier, mode, origin, destination, service name, transit days, weekdays (0 = Monday), cargo cut-off hours
SERVICES: tuple[tuple[str, str, str, str, str, int, list[int], int], ...] = (
    ("MAEU", "ocean_fcl", "CNSHA", "DEHAM", "AE7 Asia–North Europe", 34, [4], 48),
    ("HLCU", "ocean_fcl", "CNSHA", "DEHAM", "FE2 Far East Loop 2", 31, [1], 48),
    ("MAEU", "ocean_fcl", "CNSZX", "DEHAM", "AE7 Asia–North Europe", 37, [3], 48),
    ("HLCU", "ocean_fcl", "CNSZX", "DEHAM", "FE4 Far East Loop 4", 33, [6], 48),
    ("MAEU", "ocean_fcl", "CNNGB", "NLRTM", "AE5 Asia–North Europe", 32, [2], 48),
    ("HLCU", "ocean_fcl", "CNNGB", "NLRTM", "FE3 Far East Loop 3", 30, [5], 48),
    ("MAEU", "ocean_fcl", "DEHAM", "USNYC", "TA2 Transatlantic", 12, [0], 36),
    ("HLCU", "ocean_fcl", "DEHAM", "USNYC", "AL5 Atlantic Loop 5", 11, [3], 36),
    ("MAEU", "ocean_fcl", "KRPUS", "USLAX", "TP6 Transpacific", 13, [2], 36),
    ("HLCU", "ocean_fcl", "KRPUS", "USLAX", "PS3 Pacific South", 14, [4], 36),
    ("MAEU", "ocean_fcl", "DEBRV", "CNSHA", "AE10 North Europe–Asia", 36, [5], 48),
    ("HLCU", "ocean_fcl", "DEBRV", "CNSHA", "FE2 westbound", 34, [0], 48),
    ("MAEU", "ocean_fcl", "CNTAO", "BEANR", "AE6 Asia–North Europe", 35, [1], 48),
    ("HLCU", "ocean_fcl", "CNTAO", "BEANR", "FE5 Far East Loop 5", 34, [3], 48),
    ("MAEU", "ocean_fcl", "DEHAM", "SGSIN", "AE2 westbound", 26, [6], 48),
    ("HLCU", "ocean_fcl", "DEHAM", "SGSIN", "FE1 westbound", 27, [2], 48),
    ("MAEU", "ocean_lcl", "CNSZX", "DEHAM", "LCL consol Shenzhen–Hamburg", 42, [2], 96),
    ("MAEU", "ocean_lcl", "CNTAO", "BEANR", "LCL consol Qingdao–Antwerp", 44, [4], 96),
    ("MAEU", "ocean_lcl", "DEHAM", "SGSIN", "LCL consol Hamburg–Singapore", 32, [1], 96),
    ("MAEU", "rail", "CNXIA", "DEDUI", "AE Rail Xi'an–Duisburg", 18, [1, 4], 72),
    ("MAEU", "rail", "CNCKG", "PLMAA", "AE Rail Chongqing–Małaszewicze", 16, [2], 72),
    ("LHCARGO", "air", "CNPVG", "DEFRA", "LH8407 PVG–FRA", 2, [0, 1, 2, 3, 4, 5], 6),
    ("LHCARGO", "air", "DEFRA", "USCHI", "LH8210 FRA–ORD", 2, [0, 2, 4], 6),
    ("LHCARGO", "air", "HKHKG", "NLAMS", "LH8389 HKG–AMS via FRA", 3, [1, 3, 5], 6),
    ("LHCARGO", "air", "DEMUC", "CNPVG", "LH8406 MUC–PVG", 2, [0, 3], 6),
    ("NORDTRUCK", "road_ftl", "DEHAM", "PLWAW", "Direct FTL Hamburg–Warsaw", 2, [], 12),
    ("NORDTRUCK", "road_ftl", "DEDUI", "ITMIL", "Direct FTL Duisburg–Milan", 3, [], 12),
    ("NORDTRUCK", "road_ltl", "DEHAM", "DEMUC", "Groupage Hamburg–Munich", 2, [0, 1, 2, 3, 4], 18),
    ("NORDTRUCK", "road_ltl", "NLRTM", "DEBER", "Groupage Rotterdam–Berlin", 3, [0, 2, 4], 18),
    ("DHLX", "parcel", "DE", "GB", "Express Worldwide", 1, [0, 1, 2, 3, 4], 2),
    ("DHLX", "parcel", "CN", "US", "Express Worldwide", 3, [0, 1, 2, 3, 4], 2),
)
RECORDS = {"MAEU": ("0.820", 214), "HLCU": ("0.880", 163), "LHCARGO": ("0.910", 402), "DHLX": ("0.950", 1210)}


def _at(days: int, hour: int, branch: Organisation | None) -> datetime.datetime:
    """`hour` o'clock `days` from today on the branch's clock, as its planners would type it (docs/planning.md)."""
    zone = branch_zone(branch)
    day = timezone.localdate(timezone=zone) + datetime.timedelta(days=days)
    return datetime.datetime.combine(day, datetime.time(hour, 0), tzinfo=zone)


def _seed_reference_data(carriers: dict[str, Organisation]) -> None:
    for code, mode, origin, destination, name, transit, weekdays, cutoff in SERVICES:
        CarrierService.objects.create(
            carrier=carriers[code],
            mode=mode,
            origin_code=origin,
            destination_code=destination,
            name=name,
            transit_days=transit,
            departure_weekdays=weekdays,
            cargo_cutoff_hours=cutoff,
            documentation_cutoff_hours=cutoff + 24,
            vgm_cutoff_hours=cutoff,
        )
    for code, (score, legs) in RECORDS.items():
        CarrierRecord.objects.create(carrier=carriers[code], on_time_score=score, measured_legs=legs)
    customers = Organisation.objects.in_bulk(["ACME", "GLOBEX"], field_name="code")
    CarrierPreference.objects.create(
        carrier=carriers["HLCU"],
        kind="preferred",
        customer=customers["ACME"],
        origin_code="CN",
        destination_code="DE",
        reason="ACME contract 2026 (FAK)",
    )
    CarrierPreference.objects.create(
        carrier=carriers["MAEU"],
        kind="excluded",
        customer=customers["GLOBEX"],
        destination_code="US",
        reason="GLOBEX routing guide: no Maersk into the US",
    )


def _confirmed(orders: Iterable[Order], scope: Scope, by: User) -> list[Order]:
    """Confirm submitted orders through the lifecycle (the demo's sales desk accepting them)."""
    result = []
    for order in orders:
        if order.status == "submitted":
            order = order_services.order_transition(
                order=order, name="confirm", scope=scope, by=by, channel=Channel.SCREEN
            )
        result.append(order)
    return result


READY_BEFORE = datetime.timedelta(days=7)


def _open_orders(mode: str, origin: str, destination: str, count: int, leaves_in: int) -> list[Order]:
    """Open orders on the lane whose customer asked for the pickup in the week up to the day the goods leave (in
    `leaves_in` days), the latest pickups first (goods are booked for the sailing after they are ready, not weeks
    later); of those, the smallest by volume, so a demo consolidation fits its box."""
    leaves_on = timezone.localdate() + datetime.timedelta(days=leaves_in)
    orders = Order.objects.filter(
        mode=mode,
        origin_id=origin,
        destination_id=destination,
        status__in=["submitted", "confirmed"],
        requested_pickup_on__range=(leaves_on - READY_BEFORE, leaves_on),
    ).order_by("-requested_pickup_on", "reference")
    ready = list(orders.select_related("branch")[: count * 2])
    return sorted(ready, key=lambda order: (order.volume_m3_total, order.reference))[:count]


def _box_for(orders: list[Order]) -> str:
    """A 20' box when the cargo fits one, else a 40' high cube."""
    volume = sum(order.volume_m3_total for order in orders)
    weight = sum(order.gross_weight_kg_total for order in orders)
    return "22G1" if volume <= 30 and weight <= 26000 else "45G1"


def _book(
    master: Shipment,
    *,
    scope: Scope,
    by: User,
    etd_days: int,
    transit_days: int,
    vessel: str = "",
    imo: str = "",
    voyage: str = "",
    confirm: bool = True,
    cargo_cutoff_hours: int = 30,
) -> Booking:
    option = ranking.ranking_for_shipment(shipment=master).best
    booking = booking_services.booking_request(shipment=master, option=option, by=by)
    if not confirm:
        return booking_services.booking_send(booking=booking, by=by)
    etd = _at(etd_days, 18, master.branch)
    return booking_services.booking_confirm(
        booking=booking,
        carrier_reference=f"{booking.carrier.code}{timezone.localdate():%y}{master.pk:06d}",
        departure_at=etd,
        arrival_at=etd + datetime.timedelta(days=transit_days),
        scope=scope,
        by=by,
        documentation_cutoff_at=etd - datetime.timedelta(hours=72),
        vgm_cutoff_at=etd - datetime.timedelta(hours=36),
        cargo_cutoff_at=etd - datetime.timedelta(hours=cargo_cutoff_hours),
        vessel_name=vessel,
        vessel_imo=imo,
        voyage_number=voyage,
    ).booking


def _scenarios(scope: Scope, ops: User) -> int:
    created = 0
    # 1. three LCL orders in one 20' box, booked with the top-ranked carrier; cut-offs due tomorrow
    lcl = _confirmed(_open_orders("ocean_lcl", "CNSZX", "DEHAM", 3, leaves_in=2), scope, ops)
    if len(lcl) == 3:
        master = consolidation.consolidation_create(orders=lcl, container_type=_box_for(lcl), by=ops)
        _book(
            master,
            scope=scope,
            by=ops,
            etd_days=2,
            transit_days=37,
            vessel="Hamburg Express",
            imo="9229312",
            voyage="612W",
        )
        container_changes.container_update(
            container=master.containers.get(), data={"container_number": "HLXU8134570", "seal_numbers": ["HL4471208"]}
        )
        created += 1
    # 2. an FCL order on its own, request sent, waiting for the carrier
    fcl = _confirmed(_open_orders("ocean_fcl", "CNSHA", "DEHAM", 1, leaves_in=7), scope, ops)
    if fcl:
        _book(
            planning.shipment_plan_direct(order=fcl[0], by=ops),
            scope=scope,
            by=ops,
            etd_days=7,
            transit_days=34,
            confirm=False,
        )
        created += 1
    # 3. air freight departing tonight, pickup this afternoon
    air = _confirmed(_open_orders("air", "CNPVG", "DEFRA", 1, leaves_in=0), scope, ops)
    if air:
        master = planning.shipment_plan_direct(order=air[0], by=ops)
        # the airline's cargo cut-off (LH8407: 6 h), met: the carrier reports the cargo received 8 h before
        _book(master, scope=scope, by=ops, etd_days=0, transit_days=1, cargo_cutoff_hours=6)
        Shipment.objects.filter(pk=master.pk).update(bill_number="020-12345675")
        appointment_changes.appointment_schedule(
            shipment=master,
            data={
                "kind": "pickup",
                "location_id": "CNPVG",
                "address": "Shanghai Bright Lighting Co., Songjiang",
                "window_start_at": _at(0, 13, master.branch),
                "window_end_at": _at(0, 16, master.branch),
                "reference": "PU-4471",
            },
        )
        created += 1
    # 4. a truck that left yesterday and arrives today, delivery window this afternoon
    ftl = _confirmed(_open_orders("road_ftl", "DEHAM", "PLWAW", 1, leaves_in=-1), scope, ops)
    if ftl:
        master = planning.shipment_plan_direct(order=ftl[0], by=ops)
        _book(master, scope=scope, by=ops, etd_days=-1, transit_days=1)
        leg = master.legs.get(role=LegRole.MAIN)
        leg_changes.leg_update(leg=leg, data={"truck_plate": "HH-NT 4711"})
        leg_changes.leg_record_actual(leg=leg, departed_at=_at(-1, 19, master.branch), by=ops)
        appointment_changes.appointment_schedule(
            shipment=master,
            data={
                "kind": "delivery",
                "location_id": "PLWAW",
                "address": "Nordwind Handel, ul. Grochowska 21, Warszawa",
                "window_start_at": _at(0, 14, master.branch),
                "window_end_at": _at(0, 17, master.branch),
                "contact": "Piotr, +48 22 555 0101",
            },
        )
        created += 1
    # 5. a transpacific booking the carrier rolled to the next week's sailing
    rolled = _confirmed(_open_orders("ocean_fcl", "KRPUS", "USLAX", 1, leaves_in=3), scope, ops)
    if rolled:
        master = planning.shipment_plan_direct(order=rolled[0], by=ops)
        booking = _book(
            master,
            scope=scope,
            by=ops,
            etd_days=3,
            transit_days=13,
            vessel="Maersk Kinloss",
            imo="9196890",
            voyage="244E",
        )
        booking_services.booking_roll(
            booking=booking,
            departure_at=_at(10, 18, master.branch),
            arrival_at=_at(23, 6, master.branch),
            by=ops,
            reason="Vessel full: rolled to the next sailing",
            vessel_name="Maersk Kendal",
            voyage_number="245E",
            cargo_cutoff_at=_at(8, 12, master.branch),
        )
        created += 1
    # 6. two LCL orders for Singapore in one box whose cargo missed the CFS cut-off: the shipper's goods are
    # collected tomorrow, after the service's 96 h cut-off passed last night (the carrier reports them at the CFS
    # tomorrow evening, which resolves the exception)
    late_cargo = _confirmed(_open_orders("ocean_lcl", "DEHAM", "SGSIN", 2, leaves_in=3), scope, ops)
    if len(late_cargo) == 2:
        master = consolidation.consolidation_create(orders=late_cargo, container_type=_box_for(late_cargo), by=ops)
        _book(
            master,
            scope=scope,
            by=ops,
            etd_days=3,
            transit_days=32,
            vessel="Maersk Elba",
            imo="9458080",
            voyage="650W",
            cargo_cutoff_hours=96,
        )
        created += 1
    return created


@transaction.atomic
def seed_planning() -> int:
    """Rates, services, preferences and the demo shipments; returns how many shipments scenarios were made."""
    seed_rates()
    if Shipment.objects.exists() or CarrierService.objects.exists():
        return 0
    carriers = Organisation.objects.in_bulk([code for code, *_ in SERVICES], field_name="code")
    _seed_reference_data(carriers)
    ops = User.objects.get(email="ops@oms.example")
    return _scenarios(scope_for_user(ops), ops)
