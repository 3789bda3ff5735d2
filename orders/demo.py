"""Demo orders (seed_demo): a few hundred orders across modes, customers, branches and states, made
through the real intake service so they carry the same validation and history as any other order."""

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


def _order_data(rnd: random.Random, n: int, customer: Organisation, lane: tuple) -> dict:
    mode, origin, destination, incoterm, branch, goods, hs_code, package = lane
    pickup = timezone.localdate() + datetime.timedelta(days=rnd.randint(-40, 30))
    transit = {"air": 3, "parcel": 4, "road_ftl": 2, "road_ltl": 3, "rail": 18}.get(mode, 32)
    lines = []
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        pieces = rnd.randint(1, 40) if mode != "parcel" else rnd.randint(1, 3)
        weight = Decimal(pieces * rnd.randint(8, 400)) if mode != "parcel" else Decimal(rnd.randint(1, 30))
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
    created = 0
    for n in range(count):
        customer = customers[n % len(customers)]
        data = _order_data(rnd, n, customer, LANES[n % len(LANES)])
        if Order.objects.filter(customer=customer, customer_reference=data["customer_reference"]).exists():
            continue
        channel = rnd.choice((Channel.SCREEN, Channel.API, Channel.FILE))
        state = rnd.random()
        order = services.order_create(data=data, scope=scope, by=ops, channel=channel, submit=state > 0.15)
        if state > 0.95:
            services.order_cancel(
                order=order,
                scope=scope,
                by=ops,
                channel=Channel.SCREEN,
                reason="Customer withdrew the order.",
            )
        created += 1
    return created
