"""Rating rules: card replacement, currency minor units, surcharge scope and renewal, "any" equipment lines,
line limits."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from finance.fx import FxTable
from finance.models import ExchangeRate, RateBasis, RateCard, RateLine, SurchargeKind
from finance.money import minor_unit, money_round
from finance.rating import Measures, NoQuote, Quote, rate_quote
from tests.factories import OrganisationFactory
from tests.finance.builders import prepared, rate_card

D = Decimal
DAY = datetime.date(2026, 9, 1)
JAN, JUN = datetime.date(2026, 1, 1), datetime.date(2026, 6, 1)


@pytest.fixture
def maersk(db):
    return OrganisationFactory(code="MAEU", kinds=["carrier"])


def fcl_line(rate, iso="22G1", basis=RateBasis.PER_CONTAINER):
    return {
        "origin_code": "CNSHA",
        "destination_code": "DEHAM",
        "equipment_type": iso,
        "basis": basis,
        "breaks": [(0, rate)],
    }


def fcl_quote(card, containers=(("22G1", 1),), on=DAY):
    measures = Measures("ocean_fcl", D(10000), D(30), containers)
    return rate_quote(card=prepared(card), origin="CNSHA", destination="DEHAM", measures=measures, on=on)


# --- "expires_on blank: until replaced" --------------------------------------------------------------


def test_an_open_ended_card_is_replaced_by_a_later_card_of_the_same_contract(maersk):
    old = rate_card(maersk, mode="ocean_fcl", name="2026", reference="C-1", effective_on=JAN, lines=[fcl_line(1000)])
    new = rate_card(
        maersk, mode="ocean_fcl", name="2026 rev", reference="C-1", version=2, effective_on=JUN, lines=[fcl_line(1400)]
    )

    before, after = fcl_quote(old, on=datetime.date(2026, 5, 31)), fcl_quote(old, on=DAY)

    assert isinstance(before, Quote)
    assert after == NoQuote(old.pk, "rate card 2026 is replaced by 2026 rev v2 from 2026-06-01")
    assert fcl_quote(new).total_amount == D("1400.00")
    assert list(RateCard.objects.valid_on(DAY)) == [new]
    assert set(RateCard.objects.valid_on(datetime.date(2026, 5, 31))) == {old}


def test_a_higher_version_starting_the_same_day_replaces_the_card(maersk):
    first = rate_card(maersk, mode="ocean_fcl", name="A", reference="C-1", effective_on=JAN, lines=[fcl_line(900)])
    rate_card(maersk, mode="ocean_fcl", name="A", reference="C-1", version=2, effective_on=JAN, lines=[fcl_line(950)])
    assert "replaced by A v2" in fcl_quote(first).reason


def test_a_card_without_reference_is_replaced_only_by_a_later_card_of_the_same_name(maersk):
    spot = rate_card(maersk, mode="ocean_fcl", name="Spot", effective_on=JAN, lines=[fcl_line(1000)])
    rate_card(maersk, mode="ocean_fcl", name="Named contract", effective_on=JUN, lines=[fcl_line(1100)])
    assert isinstance(fcl_quote(spot), Quote)
    rate_card(maersk, mode="ocean_fcl", name="Spot", effective_on=JUN, lines=[fcl_line(1200)])
    assert "replaced by Spot v1 from 2026-06-01" in fcl_quote(spot).reason


@pytest.mark.parametrize(
    "other",
    [
        {"reference": "C-2"},  # another contract
        {"service_level": "express"},  # another product of the carrier
        {"mode": "rail"},
        {"is_active": False},  # a draft of the next version
        {"expires_on": datetime.date(2026, 8, 31)},  # the newer card is over again on the day
        {"effective_on": datetime.date(2026, 10, 1)},  # not started yet
    ],
)
def test_only_an_active_later_card_of_the_same_contract_valid_on_the_day_replaces(maersk, other):
    old = rate_card(maersk, mode="ocean_fcl", name="v1", reference="C-1", effective_on=JAN, lines=[fcl_line(1000)])
    rate_card(maersk, **{"mode": "ocean_fcl", "name": "v2", "reference": "C-1", "effective_on": JUN, **other})
    assert isinstance(fcl_quote(old), Quote)
    assert old in RateCard.objects.valid_on(DAY)


def test_another_carriers_card_with_the_same_reference_does_not_replace(maersk):
    old = rate_card(maersk, mode="ocean_fcl", name="v1", reference="C-1", effective_on=JAN, lines=[fcl_line(1000)])
    rate_card(OrganisationFactory(code="HLCU", kinds=["carrier"]), mode="ocean_fcl", reference="C-1", effective_on=JUN)
    assert isinstance(fcl_quote(old), Quote)


def test_a_public_sell_tariff_is_replaced_by_the_next_public_tariff_in_sql_as_in_python(db):
    old = rate_card(None, mode="ocean_fcl", name="Tariff", reference="T-1", direction="sell", effective_on=JAN)
    new = rate_card(None, mode="ocean_fcl", name="Tariff", reference="T-1", direction="sell", version=2,
                    effective_on=JUN)  # fmt: skip
    customer = rate_card(OrganisationFactory(code="ACME"), mode="ocean_fcl", name="Tariff", reference="T-1",
                         direction="sell", version=3, effective_on=JUN)  # fmt: skip

    assert not old.is_valid_on(DAY, newer=[new, customer])
    assert set(RateCard.objects.valid_on(DAY)) == {new, customer}, "the replaced public tariff is still in force"
    assert set(RateCard.objects.valid_on(datetime.date(2026, 5, 31))) == {old}


def test_is_valid_on_reads_the_newer_cards_it_is_given(maersk):
    old = rate_card(maersk, mode="ocean_fcl", reference="C-1", effective_on=JAN)
    new = rate_card(maersk, mode="ocean_fcl", reference="C-1", version=2, effective_on=JUN)
    assert old.is_valid_on(DAY)
    assert not old.is_valid_on(DAY, newer=[new])
    assert old.is_valid_on(datetime.date(2026, 5, 1), newer=[new])
    assert new.is_valid_on(DAY, newer=[old])


# --- ISO 4217 minor units -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "unit"), [("EUR", "0.01"), ("JPY", "1"), ("KRW", "1"), ("KWD", "0.001"), ("BHD", "0.001")]
)
def test_minor_unit_follows_iso_4217(currency, unit):
    assert minor_unit(currency) == D(unit)


def test_a_code_without_iso_minor_unit_keeps_two_decimals():
    assert money_round(D("1.005"), "XAU") == D("1.01")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [("61853", "JPY", "61,853"), ("1250.5", "EUR", "1,250.50"), ("0.375", "KWD", "0.375"), ("2", "XAU", "2.00")],
)
def test_amounts_are_shown_with_the_currencys_decimals(amount, currency, text):
    from finance.money import money_text

    assert money_text(D(amount), currency) == text


def test_a_jpy_card_quotes_whole_yen(db):
    airline = OrganisationFactory(code="NCA", kinds=["carrier"])
    card = rate_card(
        airline,
        mode="air",
        currency="JPY",
        surcharges=[{"code": "FSC", "name": "Fuel", "kind": SurchargeKind.PERCENT, "percent": D("12.5")}],
        lines=[
            {"origin_code": "CNPVG", "destination_code": "DEFRA", "basis": RateBasis.PER_KG, "breaks": [(0, "412.35")]}
        ],
    )
    result = rate_quote(
        card=prepared(card), origin="CNPVG", destination="DEFRA", measures=Measures("air", D(150), D("0.1")), on=DAY
    )
    # 150 kg x 412.35 = 61,852.5 -> 61,853; fuel 12.5% of 61,853 = 7,731.625 -> 7,732
    assert [line.amount for line in result.lines] == [D("61853"), D("7732")]
    assert result.total_amount == D("69585")


def test_a_kwd_card_keeps_fils_and_its_minimum(db):
    carrier = OrganisationFactory(code="KWT", kinds=["carrier"])
    card = rate_card(
        carrier,
        mode="road_ltl",
        currency="KWD",
        lines=[
            {
                "origin_code": "DEHAM",
                "destination_code": "DEMUC",
                "basis": RateBasis.PER_KG,
                "breaks": [(0, "0.125")],
                "minimum_amount": D("0.250"),
            }
        ],
    )
    measures = Measures("road_ltl", D(3), D("0.001"))
    result = rate_quote(card=prepared(card), origin="DEHAM", destination="DEMUC", measures=measures, on=DAY)
    assert result.total_amount == D("0.375")
    small = rate_quote(
        card=prepared(card),
        origin="DEHAM",
        destination="DEMUC",
        measures=Measures("road_ltl", D(1), D("0.001")),
        on=DAY,
    )
    assert small.total_amount == D("0.250")


@pytest.mark.parametrize(
    ("quote", "rate", "expected"), [("JPY", "161.237", "1612"), ("KWD", "0.33351", "3.335"), ("USD", "1.0845", "10.85")]
)
def test_fx_conversion_rounds_to_the_target_currencys_minor_unit(quote, rate, expected):
    table = FxTable([ExchangeRate(base_currency="EUR", quote_currency=quote, rate=D(rate), rate_on=DAY)])
    assert table.convert(D("10.00"), "EUR", quote, DAY) == D(expected)


# --- surcharges ---------------------------------------------------------------------------------------


def test_a_percentage_surcharge_for_one_container_type_is_a_percentage_of_that_types_freight(maersk):
    card = rate_card(
        maersk,
        mode="ocean_fcl",
        lines=[fcl_line(1000, "22G1"), fcl_line(2000, "45G1")],
        surcharges=[
            {
                "code": "PSS",
                "name": "20' peak",
                "kind": SurchargeKind.PERCENT,
                "percent": D(10),
                "equipment_type": "22G1",
            },
            {"code": "CAF", "name": "Currency", "kind": SurchargeKind.PERCENT, "percent": D(5)},
        ],
    )
    result = fcl_quote(card, (("22G1", 2), ("45G1", 1)))
    charges = {line.code: line for line in result.lines}
    assert charges["PSS"].amount == D("200.00")  # 10% of 2 x 1,000, not of the 4,000 freight
    assert charges["PSS"].unit == "% of 22G1 freight"
    assert charges["CAF"].amount == D("200.00")  # 5% of all 4,000


def test_a_renewed_surcharge_overlapping_the_old_row_is_charged_once_at_the_new_amount(maersk):
    def baf(name, amount, iso, **extra):
        return {
            "code": "BAF",
            "name": name,
            "basis": RateBasis.PER_CONTAINER,
            "amount": D(amount),
            "equipment_type": iso,
            **extra,
        }

    q4 = datetime.date(2026, 9, 1)
    card = rate_card(
        maersk,
        mode="ocean_fcl",
        lines=[fcl_line(1000, "22G1"), fcl_line(1800, "45G1")],
        surcharges=[
            baf("Bunker 20'", 285, "22G1"),
            baf("Bunker 20' Q4", 310, "22G1", effective_on=q4),
            baf("Bunker 40'", 500, "45G1"),
        ],
    )
    boxes = (("22G1", 2), ("45G1", 1))
    before = fcl_quote(card, boxes, on=datetime.date(2026, 8, 31))
    after = fcl_quote(card, boxes, on=datetime.date(2026, 9, 15))

    assert [(line.description, line.amount) for line in before.lines if line.code == "BAF"] == [
        ("Bunker 20'", D("570.00")),
        ("Bunker 40'", D("500.00")),
    ]
    assert [(line.description, line.amount) for line in after.lines if line.code == "BAF"] == [
        ("Bunker 20' Q4", D("620.00")),
        ("Bunker 40'", D("500.00")),
    ]


# --- a blank equipment type means "any" ---------------------------------------------------------------


def test_a_blank_equipment_per_shipment_line_prices_containers_once_per_shipment(db):
    carrier = OrganisationFactory(code="RAIL", kinds=["carrier"])
    card = rate_card(
        carrier,
        mode="rail",
        lines=[
            {
                "origin_code": "CNXIA",
                "destination_code": "DEDUI",
                "basis": RateBasis.PER_SHIPMENT,
                "breaks": [(0, 5000)],
            }
        ],
    )
    result = rate_quote(
        card=prepared(card),
        origin="CNXIA",
        destination="DEDUI",
        measures=Measures("rail", D(9000), D(30), (("22G1", 2), ("45G1", 1))),
        on=DAY,
    )
    assert isinstance(result, Quote), result
    assert [line.amount for line in result.lines] == [D("5000.00")]


def test_a_typed_line_wins_over_the_blank_one_and_the_blank_one_prices_the_rest(maersk):
    blank = {"origin_code": "CNSHA", "destination_code": "DEHAM", "basis": RateBasis.PER_SHIPMENT, "breaks": [(0, 800)]}
    card = rate_card(
        maersk,
        mode="ocean_fcl",
        lines=[fcl_line(1000, "22G1"), blank],
        surcharges=[
            {
                "code": "PSS",
                "name": "40' peak",
                "kind": SurchargeKind.PERCENT,
                "percent": D(10),
                "equipment_type": "45G1",
            }
        ],
    )
    result = fcl_quote(card, (("22G1", 1), ("45G1", 1)))
    assert [(line.code, line.amount) for line in result.lines] == [
        ("FRT", D("1000.00")),
        ("FRT", D("800.00")),
        ("PSS", D("80.00")),  # 10% of the line that priced the 45' box
    ]


def test_a_blank_equipment_per_container_line_is_charged_per_container_of_each_type(maersk):
    card = rate_card(maersk, mode="ocean_fcl", lines=[fcl_line(700, "")])
    result = fcl_quote(card, (("22G1", 2), ("45G1", 3)))
    assert [(line.quantity, line.amount) for line in result.lines] == [(D(2), D("1400.00")), (D(3), D("2100.00"))]


def test_without_a_typed_or_blank_line_the_container_type_has_no_rate(maersk):
    card = rate_card(maersk, mode="ocean_fcl", lines=[fcl_line(1000, "22G1")])
    assert fcl_quote(card, (("45G1", 1),)).reason == "no rate for 45G1 containers on CNSHA → DEHAM"


# --- rate line limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("maximum", [D(-5), D(0)])
def test_a_line_maximum_must_be_above_zero(maersk, maximum):
    card = rate_card(maersk, mode="air")
    line = RateLine(
        card=card, origin_code="CNPVG", destination_code="DEFRA", basis=RateBasis.PER_KG, maximum_quantity=maximum
    )
    with pytest.raises(ValidationError) as error:
        line.full_clean()
    assert "above zero" in str(error.value.message_dict["maximum_quantity"])
    with pytest.raises(IntegrityError), transaction.atomic():
        line.save()


def test_a_line_without_maximum_or_with_a_positive_one_is_valid(maersk):
    card = rate_card(maersk, mode="air")
    for maximum in (None, D("31.5")):
        RateLine(
            card=card, origin_code="CNPVG", destination_code="DEFRA", basis=RateBasis.PER_KG, maximum_quantity=maximum
        ).full_clean()
