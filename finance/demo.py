"""Demo buy rates (seed_demo): one rate card per demo carrier and mode over the demo lanes of orders/demo.py,
at late-2026 market levels, plus the exchange rates that make them comparable. Idempotent."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction

from finance.models import ExchangeRate, RateBasis, RateBreak, RateCard, RateLine, RateZone, Surcharge, SurchargeKind
from partners.models import Organisation

D = Decimal
SEASON = (datetime.date(2026, 7, 1), datetime.date(2027, 6, 30))
LAST_SEASON = (datetime.date(2026, 1, 1), datetime.date(2026, 6, 30))

# ocean FCL per container: lane → (20'GP, 40'GP, 40'HC) for Maersk in USD; Hapag-Lloyd quotes EUR ~4% dearer
FCL_LANES = {
    ("CNSHA", "DEHAM"): (1450, 2480, 2560),
    ("CNSZX", "DEHAM"): (1520, 2590, 2670),
    ("CNNGB", "NLRTM"): (1420, 2430, 2510),
    ("DEHAM", "USNYC"): (1980, 2850, 2940),
    ("KRPUS", "USLAX"): (1650, 2300, 2380),
    ("DEBRV", "CNSHA"): (520, 780, 820),
    ("CNTAO", "BEANR"): (1480, 2520, 2600),
    ("DEHAM", "SGSIN"): (890, 1420, 1480),
}
LCL_LANES = {("CNSZX", "DEHAM"): 58, ("CNTAO", "BEANR"): 61, ("DEHAM", "SGSIN"): 49}  # USD per W/M
AIR_LANES = {
    ("CNPVG", "DEFRA"): D("3.10"),
    ("DEFRA", "USCHI"): D("2.85"),
    ("HKHKG", "NLAMS"): D("3.35"),
    ("DEMUC", "CNPVG"): D("2.40"),
}  # EUR per kg at the N (under 45 kg) break
ROAD_FTL = {("DEHAM", "PLWAW"): 1180, ("DEDUI", "ITMIL"): 1690}  # EUR per truck
ROAD_LTL = {("DEHAM", "DEMUC"): D("0.21"), ("NLRTM", "DEBER"): D("0.19")}  # EUR per chargeable kg
RAIL_LANES = {("CNXIA", "DEDUI"): (4200, 7400), ("CNCKG", "PLMAA"): (4100, 7200)}  # USD 20'GP, 40'HC


def _card(party: Organisation, mode: str, currency: str, name: str, season=SEASON, **extra) -> RateCard:  # type: ignore[no-untyped-def]
    return RateCard.objects.create(
        name=name,
        party=party,
        mode=mode,
        currency=currency,
        effective_on=season[0],
        expires_on=season[1],
        reference=f"{party.code}-{season[0]:%y}-{mode.upper()}",
        **extra,
    )


def _line(card: RateCard, lane: tuple[str, str], basis: str, breaks, **extra) -> RateLine:  # type: ignore[no-untyped-def]
    line = RateLine.objects.create(card=card, origin_code=lane[0], destination_code=lane[1], basis=basis, **extra)
    RateBreak.objects.bulk_create(RateBreak(line=line, from_quantity=D(q), rate=D(r)) for q, r in breaks)
    return line


def _ocean(carrier: Organisation, currency: str, factor: Decimal, *, season=SEASON, label="") -> None:  # type: ignore[no-untyped-def]
    card = _card(carrier, "ocean_fcl", currency, f"{carrier.name} FCL {label or 'H2 2026'}", season=season)
    for lane, prices in FCL_LANES.items():
        for iso, price in zip(("22G1", "42G1", "45G1"), prices, strict=True):
            _line(
                card,
                lane,
                RateBasis.PER_CONTAINER,
                [(0, (price * factor).quantize(D(1)))],
                equipment_type=iso,
                charge_code="FRT-SEA",
            )
    Surcharge.objects.create(
        card=card, code="BAF", name="Bunker adjustment", basis=RateBasis.PER_CONTAINER, amount=D(285) * factor
    )
    Surcharge.objects.create(
        card=card, code="OTHC", name="Origin terminal handling", basis=RateBasis.PER_CONTAINER, amount=D(165)
    )
    Surcharge.objects.create(
        card=card,
        code="PSS",
        name="Peak season",
        basis=RateBasis.PER_CONTAINER,
        amount=D(300),
        effective_on=datetime.date(2026, 11, 15),
        expires_on=datetime.date(2027, 1, 31),
    )


@transaction.atomic
def seed_rates() -> int:
    """Rate cards for the demo carriers and EUR exchange rates; returns the number of cards created."""
    if RateCard.objects.exists():
        return 0
    carriers = Organisation.objects.in_bulk(["MAEU", "HLCU", "LHCARGO", "DHLX", "NORDTRUCK"], field_name="code")
    for quote, rate in (("USD", "1.0790"), ("CNY", "7.8150"), ("GBP", "0.8420")):
        ExchangeRate.objects.create(
            base_currency="EUR",
            quote_currency=quote,
            rate=D(rate),
            rate_on=datetime.date(2026, 7, 1),
            source="ECB reference rate",
        )
    maersk, hapag = carriers["MAEU"], carriers["HLCU"]
    _ocean(maersk, "USD", D(1))
    _ocean(maersk, "USD", D("1.12"), season=LAST_SEASON, label="H1 2026")  # expired: shows in the ranking's reasons
    _ocean(hapag, "EUR", D("0.97"))
    lcl = _card(maersk, "ocean_lcl", "USD", "Maersk LCL 2026")
    for lane, per_wm in LCL_LANES.items():
        _line(lcl, lane, RateBasis.PER_WM, [(0, per_wm)], minimum_amount=D(per_wm), charge_code="FRT-SEA")
    Surcharge.objects.create(card=lcl, code="CFS", name="CFS handling", basis=RateBasis.PER_WM, amount=D(18))
    rail = _card(maersk, "rail", "USD", "Maersk AE Rail 2026")
    for lane, (twenty, forty) in RAIL_LANES.items():
        _line(rail, lane, RateBasis.PER_CONTAINER, [(0, twenty)], equipment_type="22G1", charge_code="FRT-RAIL")
        _line(rail, lane, RateBasis.PER_CONTAINER, [(0, forty)], equipment_type="45G1", charge_code="FRT-RAIL")
        _line(rail, lane, RateBasis.PER_CONTAINER, [(0, forty)], equipment_type="42G1", charge_code="FRT-RAIL")
    air = _card(carriers["LHCARGO"], "air", "EUR", "Lufthansa Cargo general cargo 2026")
    for lane, normal in AIR_LANES.items():
        _line(
            air,
            lane,
            RateBasis.PER_KG,
            [
                (0, normal),
                (45, normal * D("0.82")),
                (100, normal * D("0.74")),
                (300, normal * D("0.66")),
                (500, normal * D("0.61")),
                (1000, normal * D("0.57")),
            ],
            minimum_amount=D(85),
            charge_code="FRT-AIR",
        )
    Surcharge.objects.create(card=air, code="FSC", name="Fuel (IATA MY)", basis=RateBasis.PER_KG, amount=D("0.85"))
    Surcharge.objects.create(card=air, code="SSC", name="Security (IATA SC)", basis=RateBasis.PER_KG, amount=D("0.15"))
    road = carriers["NORDTRUCK"]
    ftl = _card(road, "road_ftl", "EUR", "Nordtruck FTL Europe 2026")
    for lane, price in ROAD_FTL.items():
        _line(ftl, lane, RateBasis.PER_SHIPMENT, [(0, price)], charge_code="FRT-ROAD")
    ltl = _card(road, "road_ltl", "EUR", "Nordtruck groupage 2026")
    for lane, per_kg in ROAD_LTL.items():
        _line(
            ltl,
            lane,
            RateBasis.PER_KG,
            [(0, per_kg), (500, per_kg * D("0.8")), (2500, per_kg * D("0.62"))],
            minimum_amount=D(65),
            charge_code="FRT-ROAD",
        )
    for card in (ftl, ltl):
        Surcharge.objects.create(
            card=card, code="FSC", name="Diesel floater", kind=SurchargeKind.PERCENT, percent=D("11.5")
        )
    dhl = carriers["DHLX"]
    europe = RateZone.objects.create(
        carrier=dhl, code="EU1", name="Europe zone 1", countries=["GB", "FR", "NL", "BE", "AT", "DK"]
    )
    americas = RateZone.objects.create(carrier=dhl, code="AM1", name="North America", countries=["US", "CA"])
    parcel = _card(dhl, "parcel", "EUR", "DHL Express Worldwide 2026")
    bands = {
        europe: [(0, "18.40"), (1, "21.90"), (2, "25.60"), (5, "34.80"), (10, "49.50"), (20, "76.00")],
        americas: [(0, "31.20"), (1, "38.70"), (2, "46.10"), (5, "68.40"), (10, "104.00"), (20, "171.00")],
    }
    for origin in ("DE", "CN"):
        for zone, breaks in bands.items():
            line = RateLine.objects.create(
                card=parcel,
                origin_code=origin,
                destination_zone=zone,
                basis=RateBasis.PER_SHIPMENT,
                maximum_quantity=D(70),
                charge_code="FRT-EXP",
            )
            RateBreak.objects.bulk_create(RateBreak(line=line, from_quantity=D(q), rate=D(r)) for q, r in breaks)
    Surcharge.objects.create(
        card=parcel, code="FSC", name="Fuel surcharge", kind=SurchargeKind.PERCENT, percent=D("24.25")
    )
    return RateCard.objects.count()
