"""Demo orders (seed_demo): a few hundred orders across modes, customers, branches and states, made
through the real intake service so they carry the same validation and history as any other order.

Their requested pickup dates tell the story a real book would: the orders whose goods were collected before
today are the ones the demo's shipments carry (SHIPPED: tracking/demo.py and tracking/ingest/demo.py book each
on its lane for the departure after its pickup) or that were cancelled; every other open order asks for a pickup
from the fourth working day on (its booking is not due yet), except the three the team is late with on purpose
(LATE: confirmed, no carrier booked, pickup days ago; on lanes no demo shipment serves), whose booking tasks are
the inbox's overdue examples."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.utils import timezone

from orders import services
from orders.locations import locations_load_demo
from orders.models import Channel, Location, Order
from partners.models import Organisation, User
from partners.scoping import scope_for_user

# (mode, origin, destination, incoterm, branch, goods, hs_code, package)
LANES = (
    ("ocean_fcl", "CNSHA", "DEHAM", "FOB", "SHA", "Flat-pack furniture", "940360", "CT"),
    ("ocean_fcl", "CNNGB", "NLRTM", "CIF", "SHA", "Solar panels", "854143", "PX"),
    ("ocean_fcl", "DEHAM", "USNYC", "FCA", "HAM", "Industrial pumps", "841370", "CR"),
    ("ocean_fcl", "KRPUS", "USLAX", "FOB", "SHA", "Car parts", "870899", "PX"),
    ("ocean_fcl", "DEBRV", "CNSHA", "CFR", "HAM", "Paper machinery spares", "843991", "CS"),
    ("ocean_lcl", "CNSZX", "DEHAM", "FOB", "SHA", "LED lamps", "940542", "CT"),
    ("ocean_lcl", "CNTAO", "BEANR", "EXW", "SHA", "Ceramic tiles", "690721", "PX"),
    ("ocean_lcl", "DEHAM", "SGSIN", "FCA", "HAM", "Laboratory glassware", "701710", "CT"),
    ("air", "CNPVG", "DEFRA", "FCA", "SHA", "Smartphones", "851713", "CT"),
    ("air", "DEFRA", "USCHI", "CPT", "HAM", "Medical instruments", "901890", "BX"),
    ("air", "HKHKG", "NLAMS", "CIP", "SHA", "Laptops", "847130", "CT"),
    ("air", "DEMUC", "CNPVG", "DAP", "HAM", "Auto electronics", "853710", "BX"),
    ("road_ftl", "DEHAM", "PLWAW", "DAP", "HAM", "Beverages", "220210", "PX"),
    ("road_ftl", "DEDUI", "ITMIL", "FCA", "HAM", "Steel coils", "720839", "RO"),
    ("road_ltl", "DEHAM", "DEMUC", "DAP", "HAM", "Office chairs", "940131", "PX"),
    ("road_ltl", "NLRTM", "DEBER", "CPT", "HAM", "Garden tools", "820110", "PX"),
    ("rail", "CNXIA", "DEDUI", "FCA", "SHA", "Textiles", "620342", "CT"),
    ("rail", "CNCKG", "PLMAA", "FCA", "SHA", "Bicycles", "871200", "CT"),
    ("parcel", "DEHAM", "GBLON", "DAP", "HAM", "Fashion accessories", "420222", "PK"),
    ("parcel", "CNSZX", "USLAX", "DDP", "SHA", "Phone cases", "392690", "PK"),
)
CONTAINERS = ("MSCU", "MAEU", "HLXU", "CMAU", "TGHU", "OOLU")
CONSIGNEES = (
    "Nordwind Handel GmbH",
    "Rhine Valley Distribution",
    "Great Lakes Supply Co.",
    "Bayside Retail Inc.",
)
SHIPPERS = (
    "Shenzhen Bright Lighting Co.",
    "Ningbo Sunpower Ltd.",
    "Hanse Maschinenbau GmbH",
    "Busan Auto Parts Co.",
)


def _container_number(rnd: random.Random) -> str:
    from stdnum import iso6346

    body = rnd.choice(CONTAINERS) + f"{rnd.randrange(1_000_000):06d}"
    return body + iso6346.calc_check_digit(body)


def _awb_number(rnd: random.Random) -> str:
    serial = rnd.randrange(1_000_000, 9_999_999)
    return f"{rnd.choice(('020', '160', '176', '618'))}-{serial} {serial % 7}"


# The orders the demo's shipments carry, whose pickups are due by their departure: (mode, origin, destination),
# the pickup in days from today. A shipment takes the order on its lane with the latest pickup on or before its
# departure day, so each past pickup here is one departure there (the future ones are booked, or open and not due yet).
SHIPPED: tuple[tuple[tuple[str, str, str], int], ...] = (
    (("ocean_fcl", "CNSHA", "DEHAM"), -41),  # arrived yesterday in Hamburg
    (("ocean_fcl", "CNSHA", "DEHAM"), -33),  # at sea
    (("ocean_fcl", "CNSHA", "DEHAM"), 6),  # booking request sent, no answer yet
    (("ocean_fcl", "CNNGB", "NLRTM"), -12),  # at sea
    (("ocean_fcl", "KRPUS", "USLAX"), -27),  # delivered, completed
    (("ocean_fcl", "KRPUS", "USLAX"), 1),  # booked, rolled to next week's sailing
    (("ocean_fcl", "DEBRV", "CNSHA"), -3),  # sails today
    (("ocean_lcl", "CNSZX", "DEHAM"), -47),  # arrived in Hamburg the day before yesterday
    (("ocean_lcl", "CNSZX", "DEHAM"), 1),  # three in one box, sailing in two days
    (("ocean_lcl", "CNSZX", "DEHAM"), 1),
    (("ocean_lcl", "CNSZX", "DEHAM"), 1),
    (("ocean_lcl", "CNTAO", "BEANR"), -43),  # at sea
    (("ocean_lcl", "DEHAM", "SGSIN"), 1),  # two in one box whose cargo missed the CFS cut-off
    (("ocean_lcl", "DEHAM", "SGSIN"), 1),
    (("air", "CNPVG", "DEFRA"), -10),  # delivered, completed
    (("air", "CNPVG", "DEFRA"), 0),  # flies tonight
    (("air", "HKHKG", "NLAMS"), -6),  # delivered yesterday
    (("air", "HKHKG", "NLAMS"), -1),  # flew last night, lands late (a scene of tracking.ingest.demo)
    (("road_ftl", "DEHAM", "PLWAW"), -1),  # on the road, delivery this afternoon
    (("road_ftl", "DEDUI", "ITMIL"), -9),  # delivered, completed
    (("road_ftl", "DEDUI", "ITMIL"), -1),  # on the road
    (("road_ltl", "DEHAM", "DEMUC"), 0),  # collected today
    (("parcel", "DEHAM", "GBLON"), -4),  # delivered today
    (("parcel", "DEHAM", "GBLON"), -1),  # with the courier
    (("parcel", "CNSZX", "USLAX"), 0),  # collected today
    (("rail", "CNXIA", "DEDUI"), -12),  # on the train
)
# The team is late with these on purpose (the inbox's overdue examples): confirmed, no carrier booked yet, the
# pickup days ago. No demo shipment serves their lanes.
LATE: tuple[tuple[tuple[str, str, str], int], ...] = (
    (("ocean_fcl", "DEHAM", "USNYC"), -2),  # "Book container space…" and the shipping instructions overdue
    (("air", "DEFRA", "USCHI"), -1),  # "Book the flight…" overdue
    (("rail", "CNCKG", "PLMAA"), -3),  # "Book transport…" overdue
)


def _lane(key: tuple[str, str, str]) -> tuple:
    return next(lane for lane in LANES if lane[:3] == key)


# An order of no demo shipment asks for its pickup from the fourth working day on: the team books transport up to
# three working days ahead (workflows.demo: "Book container space…" is due 24 working hours before the pickup), so
# none of them is late yet; the team is late only with LATE.
FIRST_PICKUP_WORKING_DAYS = 4


def _first_pickup(today: datetime.date) -> datetime.date:
    day, left = today, FIRST_PICKUP_WORKING_DAYS
    while left:
        day += datetime.timedelta(days=1)
        left -= day.weekday() < 5
    return day


def _pickup(rnd: random.Random, story: str, first: datetime.date) -> datetime.date:
    """A requested pickup for an order of no demo shipment: cancelled ones any time in the last weeks or the next,
    the others in the four weeks from `first` (drafts a day later)."""
    if story == "cancelled":
        return timezone.localdate() + datetime.timedelta(days=rnd.randint(-40, 30))
    return first + datetime.timedelta(days=rnd.randint(story == "draft", 27))


def _order_data(rnd: random.Random, n: int, customer: Organisation, lane: tuple, pickup: datetime.date) -> dict:
    mode, origin, destination, incoterm, branch, goods, hs_code, package = lane
    transit = {"air": 3, "parcel": 4, "road_ftl": 2, "road_ltl": 3, "rail": 18}.get(mode, 32)
    lines = []
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        # LCL is the part-loads a consolidation box takes (up to a few tonnes), a parcel a few kilos
        pieces = rnd.randint(1, {"parcel": 3, "ocean_lcl": 10}.get(mode, 40))
        per_piece = rnd.randint(8, 100 if mode == "ocean_lcl" else 400)
        weight = Decimal(pieces * per_piece) if mode != "parcel" else Decimal(rnd.randint(1, 30))
        line = {
            "pieces": pieces, "package_type": package, "description": goods, "hs_code": hs_code,
            "gross_weight_kg": weight,
            "volume_m3": (weight / Decimal(rnd.randint(150, 400))).quantize(Decimal("0.001")),
        }  # fmt: skip
        if mode == "ocean_fcl":
            line["container_number"] = _container_number(rnd)
            line["container_type"] = rnd.choice(("22G1", "42G1", "45G1"))
        if mode == "air":
            line["awb_number"] = _awb_number(rnd)
        lines.append(line)
    return {
        "customer_code": customer.code, "customer_reference": f"{customer.code[:3]}-PO-{40000 + n}",
        "branch_code": branch, "mode": mode, "incoterm": incoterm, "origin": origin, "destination": destination,
        "shipper_name": rnd.choice(SHIPPERS), "consignee_name": rnd.choice(CONSIGNEES),
        "requested_pickup_on": pickup, "requested_delivery_on": pickup + datetime.timedelta(days=transit),
        "description": goods, "declared_value": Decimal(rnd.randint(2, 400) * 250),
        "currency": rnd.choice(("EUR", "USD")),
        "service_level": rnd.choice(("standard", "standard", "express", "economy")), "lines": lines,
    }  # fmt: skip


def seed_orders(*, count: int = 300) -> int:
    """Create demo orders until there are `count` (idempotent: existing demo orders are kept)."""
    if Location.objects.count() < 50:
        locations_load_demo()
    existing = Order.objects.count()
    if existing >= count:
        return 0
    rnd = random.Random(2026)  # noqa: S311 - demo data, not security
    ops = User.objects.get(email="ops@oms.example")
    scope = scope_for_user(ops)
    customers = list(Organisation.objects.customers().order_by("code"))
    today = timezone.localdate()
    first = _first_pickup(today)
    story = [(_lane(key), today + datetime.timedelta(days=days), "submitted") for key, days in SHIPPED + LATE]
    created = 0
    for n in range(count):
        customer = customers[n % len(customers)]
        state = rnd.random()
        if n < len(story):
            lane, pickup, fate = story[n]
        else:
            fate = "draft" if state <= 0.15 else "cancelled" if state > 0.95 else "submitted"
            lane = LANES[n % len(LANES)]
            pickup = _pickup(rnd, fate, first)
        data = _order_data(rnd, n, customer, lane, pickup)
        if Order.objects.filter(customer=customer, customer_reference=data["customer_reference"]).exists():
            continue
        channel = rnd.choice((Channel.SCREEN, Channel.API, Channel.FILE))
        order = services.order_create(data=data, scope=scope, by=ops, channel=channel, submit=fate != "draft")
        if fate == "cancelled":
            services.order_cancel(
                order=order,
                scope=scope,
                by=ops,
                channel=Channel.SCREEN,
                reason="Customer withdrew the order.",
            )
        created += 1
    return created
