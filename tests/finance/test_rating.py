import datetime
from decimal import Decimal

import pytest

from finance.fx import FxTable
from finance.models import ExchangeRate, RateBasis, SurchargeKind
from finance.rating import Measures, NoQuote, Quote, rate_quote
from tests.factories import OrganisationFactory
from tests.finance.builders import prepared, rate_card, zone

D = Decimal
DAY = datetime.date(2026, 3, 2)


@pytest.fixture
def airline(db):
    return OrganisationFactory(code="LHCARGO", kinds=["carrier"])


def air_card(airline, **extra):
    return rate_card(
        airline,
        mode="air",
        lines=[
            {
                "origin_code": "CNPVG",
                "destination_code": "DEFRA",
                "basis": RateBasis.PER_KG,
                "minimum_amount": D(75),
                "charge_code": "FRT-AIR",
                "breaks": [(0, "4.10"), (45, "3.20"), (100, "2.90"), (300, "2.60")],
            }
        ],
        **extra,
    )


def quote(card, measures, *, origin="CNPVG", destination="DEFRA", on=DAY):
    return rate_quote(card=prepared(card), origin=origin, destination=destination, measures=measures, on=on)


def test_air_rate_uses_the_weight_break_the_cargo_falls_in(airline):
    result = quote(air_card(airline), Measures("air", D(150), D("0.5")))
    assert isinstance(result, Quote)
    assert result.total_amount == D("435.00")  # 150 kg × 2.90 (Q100)
    assert result.lines[0].rate == D("2.90")


def test_air_rate_takes_a_higher_break_when_it_is_cheaper(airline):
    result = quote(air_card(airline), Measures("air", D(280), D("0.5")))
    # 280 × 2.90 = 812.00, but 300 × 2.60 = 780.00: IATA lets the shipper pay the higher break
    assert result.total_amount == D("780.00")
    assert "higher break is cheaper" in result.lines[0].note


def test_air_rate_charges_volume_weight_rounded_up_to_half_a_kilo(airline):
    # 1.001 m³ at 1:6000 = 166.833 kg volume weight > 20 kg actual → 167.0 kg chargeable
    result = quote(air_card(airline), Measures("air", D(20), D("1.001")))
    assert result.lines[0].quantity == D("167.0")


def test_minimum_charge_applies_to_small_shipments(airline):
    result = quote(air_card(airline), Measures("air", D(5), D("0.01")))
    assert result.total_amount == D("75.00")
    assert "minimum 75 applies" in result.lines[0].note


def test_fixed_and_percentage_surcharges_are_added_and_only_while_valid(airline):
    card = air_card(
        airline,
        surcharges=[
            {
                "code": "FSC",
                "name": "Fuel",
                "kind": SurchargeKind.FIXED,
                "basis": RateBasis.PER_KG,
                "amount": D("0.85"),
            },
            {
                "code": "SSC",
                "name": "Security",
                "kind": SurchargeKind.FIXED,
                "basis": RateBasis.PER_SHIPMENT,
                "amount": D(25),
            },
            {
                "code": "PSS",
                "name": "Peak season",
                "kind": SurchargeKind.PERCENT,
                "percent": D(10),
                "effective_on": datetime.date(2026, 11, 1),
            },
        ],
    )
    result = quote(card, Measures("air", D(150), D("0.5")))
    codes = {line.code: line.amount for line in result.lines}
    assert codes == {"FRT-AIR": D("435.00"), "FSC": D("127.50"), "SSC": D("25.00")}
    assert result.total_amount == D("587.50")
    peak = quote(card, Measures("air", D(150), D("0.5")), on=datetime.date(2026, 11, 10))
    assert {line.code: line.amount for line in peak.lines}["PSS"] == D("43.50")  # 10% of the 435.00 freight


def test_a_card_outside_its_validity_gives_no_quote_and_says_why(airline):
    card = air_card(airline, expires_on=datetime.date(2026, 2, 28))
    result = quote(card, Measures("air", D(150), D("0.5")))
    assert isinstance(result, NoQuote)
    assert "expired on 2026-02-28" in result.reason
    early = quote(air_card(airline, effective_on=datetime.date(2026, 4, 1)), Measures("air", D(150), D("0.5")))
    assert "starts on 2026-04-01" in early.reason


def test_the_most_specific_lane_wins(airline):
    card = rate_card(
        airline,
        mode="air",
        lines=[
            {"origin_code": "CN", "destination_code": "DE", "basis": RateBasis.PER_KG, "breaks": [(0, "5.00")]},
            {"origin_code": "CNPVG", "destination_code": "DEFRA", "basis": RateBasis.PER_KG, "breaks": [(0, "3.00")]},
            {"origin_code": "", "destination_code": "", "basis": RateBasis.PER_KG, "breaks": [(0, "9.00")]},
        ],
    )
    assert quote(card, Measures("air", D(100), D(0))).total_amount == D("300.00")
    assert quote(card, Measures("air", D(100), D(0)), origin="CNSZX").total_amount == D("500.00")
    assert quote(card, Measures("air", D(100), D(0)), origin="USLAX").total_amount == D("900.00")


def test_no_line_for_the_lane_gives_no_quote(airline):
    result = quote(air_card(airline), Measures("air", D(100), D(0)), origin="HKHKG")
    assert isinstance(result, NoQuote)
    assert "no rate for HKHKG → DEFRA" in result.reason


def test_fcl_rates_per_container_type_and_box_surcharges(db):
    line = OrganisationFactory(code="MAEU", kinds=["carrier"])
    card = rate_card(
        line,
        mode="ocean_fcl",
        currency="USD",
        lines=[
            {
                "origin_code": "CNSHA",
                "destination_code": "DEHAM",
                "equipment_type": "22G1",
                "basis": RateBasis.PER_CONTAINER,
                "breaks": [(0, 1450)],
            },
            {
                "origin_code": "CNSHA",
                "destination_code": "DEHAM",
                "equipment_type": "45G1",
                "basis": RateBasis.PER_CONTAINER,
                "breaks": [(0, 2600)],
            },
        ],
        surcharges=[{"code": "BAF", "name": "Bunker", "basis": RateBasis.PER_CONTAINER, "amount": D(310)}],
    )
    result = quote(
        card, Measures("ocean_fcl", D(30000), D(120), (("22G1", 1), ("45G1", 2))), origin="CNSHA", destination="DEHAM"
    )
    assert result.total_amount == D(1450 + 2 * 2600 + 3 * 310)
    missing = quote(card, Measures("ocean_fcl", D(10000), D(60), (("42G1", 1),)), origin="CNSHA", destination="DEHAM")
    assert "no rate for 42G1 containers" in missing.reason


def test_lcl_is_rated_per_revenue_ton(db):
    coloader = OrganisationFactory(code="COLOAD", kinds=["carrier"])
    card = rate_card(
        coloader,
        mode="ocean_lcl",
        lines=[
            {
                "origin_code": "CNSZX",
                "destination_code": "DEHAM",
                "basis": RateBasis.PER_WM,
                "minimum_amount": D(65),
                "breaks": [(0, 65)],
            }
        ],
    )
    # 2,400 kg = 2.4 t against 5.1 m³: W/M is 5.1
    result = quote(card, Measures("ocean_lcl", D(2400), D("5.1")), origin="CNSZX", destination="DEHAM")
    assert result.lines[0].quantity == D("5.100")
    assert result.total_amount == D("331.50")


def test_parcel_rates_by_zone_and_weight_band_with_a_weight_limit(db):
    courier = OrganisationFactory(code="DHLX", kinds=["carrier"])
    europe = zone(courier, "Z1", countries=["GB", "FR"])
    card = rate_card(
        courier,
        mode="parcel",
        lines=[
            {
                "origin_code": "DE",
                "destination_zone": europe,
                "basis": RateBasis.PER_SHIPMENT,
                "maximum_quantity": D("31.5"),
                "breaks": [(0, "11.90"), (2, "14.50"), (5, "19.80"), (10, "27.40")],
            }
        ],
    )
    parcel = quote(card, Measures("parcel", D(6), D("0.01")), origin="DEHAM", destination="GBLON")
    assert parcel.total_amount == D("19.80")
    too_heavy = quote(card, Measures("parcel", D(40), D("0.01")), origin="DEHAM", destination="GBLON")
    assert "takes at most 31.5 kg" in too_heavy.reason
    assert "no rate" in quote(card, Measures("parcel", D(1), D(0)), origin="DEHAM", destination="USLAX").reason


def test_fx_table_converts_directly_inversely_and_across(db):
    ExchangeRate.objects.create(base_currency="EUR", quote_currency="USD", rate=D("1.0800"), rate_on=DAY)
    ExchangeRate.objects.create(base_currency="EUR", quote_currency="CNY", rate=D("7.8000"), rate_on=DAY)
    table = FxTable(ExchangeRate.objects.all())
    assert table.convert(D(108), "USD", "EUR", DAY) == D("100.00")
    assert table.convert(D(100), "EUR", "USD", DAY) == D("108.00")
    assert table.convert(D(108), "USD", "CNY", DAY) == D("780.00")
    assert table.rate("EUR", "USD", DAY - datetime.timedelta(days=1)) is None
