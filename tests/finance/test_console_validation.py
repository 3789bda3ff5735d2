"""What the rate console refuses, it refuses in words (review D): a buy card without a party, or from a customer,
and every finance constraint a console form can break, never as 'Constraint “…” is violated.'"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from finance.models import (
    ExchangeRate,
    RateBasis,
    RateCard,
    RateDirection,
    RateLine,
    RateZone,
    Surcharge,
    SurchargeKind,
)
from finance.rating import Measures, Quote, rate_quote
from tests.factories import OrganisationFactory
from tests.finance.builders import prepared, rate_card, zone
from tests.finance.test_admin import _card_form, _errors, _line_form

D = Decimal
RAW_CONSTRAINT = "Constraint “"


def _refused(response) -> str:
    assert response.status_code == 200
    assert RAW_CONSTRAINT not in response.content.decode()
    return _errors(response)


def test_a_buy_card_without_a_party_is_refused_in_words(client, admin_user, carrier):
    client.force_login(admin_user)
    response = client.post("/admin/finance/ratecard/add/", _card_form(carrier, party=""))
    assert "A buy card names who we buy from: pick the carrier, agent or vendor." in _refused(response)
    assert not RateCard.objects.exists()


def test_a_buy_card_from_a_customer_is_refused(client, admin_user, customer_a):
    """The help text says "Buy: the carrier or vendor"; a buy card from a customer was saved, and carrier ranking
    offers a buy card's party as the carrier of a leg."""
    client.force_login(admin_user)
    response = client.post("/admin/finance/ratecard/add/", _card_form(customer_a))
    assert "ACME is not a carrier, agent or vendor" in _refused(response)
    assert not RateCard.objects.exists()


def test_a_sell_card_for_a_carrier_is_refused_and_one_for_a_customer_or_the_public_is_saved(
    client, admin_user, carrier, customer_a
):
    client.force_login(admin_user)
    to_carrier = client.post("/admin/finance/ratecard/add/", _card_form(carrier, direction=RateDirection.SELL))
    assert "NORDTRUCK is not a customer" in _refused(to_carrier)
    for party, name in ((customer_a, "Acme tariff"), (None, "Public tariff")):
        form = _card_form(customer_a, direction=RateDirection.SELL, party=party.pk if party else "", name=name)
        assert client.post("/admin/finance/ratecard/add/", form).status_code == 302
    assert RateCard.objects.filter(direction=RateDirection.SELL).count() == 2


def test_an_agent_sells_us_freight_on_a_buy_card(client, admin_user):
    agent = OrganisationFactory(code="AGT", name="Overseas agent", kinds=["agent"])
    client.force_login(admin_user)
    assert client.post("/admin/finance/ratecard/add/", _card_form(agent)).status_code == 302


def test_a_negative_surcharge_is_refused_in_words(client, admin_user, carrier):
    client.force_login(admin_user)
    response = client.post("/admin/finance/ratecard/add/", _card_form(carrier, {"amount": "-5"}))
    assert "A fixed surcharge needs its amount per unit above 0" in _refused(response)
    assert not Surcharge.objects.exists()


@pytest.mark.parametrize(
    ("surcharge", "messages"),
    [
        # 12.5 typed in Amount, the first number box, with Percent left at 0: every quote carried "BAF 0.00"
        (
            {"kind": SurchargeKind.PERCENT, "amount": "12.5", "percent": "0"},
            [
                "A percentage surcharge needs its percent of the freight above 0, e.g. 12.5.",
                "A percentage surcharge has no amount: put the number in Percent, or pick Fixed amount.",
            ],
        ),
        (
            {"kind": SurchargeKind.FIXED, "amount": "0", "percent": "12.5"},
            [
                "A fixed surcharge needs its amount per unit above 0, e.g. 285.",
                "A fixed surcharge has no percent: put the number in Amount, or pick % of freight.",
            ],
        ),
        ({"kind": SurchargeKind.FIXED, "amount": "0", "percent": "0"}, ["A fixed surcharge needs its amount"]),
        ({"kind": SurchargeKind.PERCENT, "amount": "0", "percent": "0"}, ["A percentage surcharge needs its percent"]),
    ],
)
def test_a_surcharge_whose_number_is_not_in_its_kinds_box_is_refused(client, admin_user, carrier, surcharge, messages):
    """Rating reads a percentage's percent and a fixed surcharge's amount: the other box would quote it at 0.00 and
    make the card look cheaper than it is, so ranking preferred it."""
    client.force_login(admin_user)
    response = client.post("/admin/finance/ratecard/add/", _card_form(carrier, surcharge))
    errors = _refused(response)
    for message in messages:
        assert message in errors
    assert not Surcharge.objects.exists()


@pytest.mark.parametrize(
    "surcharge",
    [
        {"kind": SurchargeKind.PERCENT, "amount": "0", "percent": "12.5"},
        {"kind": SurchargeKind.FIXED, "amount": "285", "percent": "0"},
    ],
)
def test_a_surcharge_with_its_number_in_its_kinds_box_is_saved(client, admin_user, carrier, surcharge):
    client.force_login(admin_user)
    assert client.post("/admin/finance/ratecard/add/", _card_form(carrier, surcharge)).status_code == 302
    assert Surcharge.objects.get().kind == surcharge["kind"]


def _zone_form(carrier, **fields) -> dict:
    return {"carrier": carrier.pk, "code": "EU1", "name": "EU zone 1", "countries": "", "locations": ""} | fields


def test_a_zones_codes_are_stored_in_capitals_and_its_lines_then_price_the_lane(client, admin_user, carrier):
    """Rating compares DEHAM[:2] with the zone's countries: saved as typed, "de,fr,nl" matched no lane, and the
    carrier dropped out of every ranking there with only "no rate for PLWAW → DEHAM"."""
    client.force_login(admin_user)

    response = client.post(
        "/admin/finance/ratezone/add/", _zone_form(carrier, countries="de, fr,nl", locations="chbsl")
    )

    assert response.status_code == 302
    area = RateZone.objects.get(code="EU1")
    assert (area.countries, area.locations) == (["DE", "FR", "NL"], ["CHBSL"])
    line = {"origin_code": "PL", "destination_zone": area, "basis": RateBasis.PER_SHIPMENT, "breaks": [(0, 900)]}
    card = prepared(rate_card(carrier, mode="road_ftl", lines=[line]))
    for destination in ("DEHAM", "CHBSL"):
        result = rate_quote(
            card=card,
            origin="PLWAW",
            destination=destination,
            measures=Measures("road_ftl", D(5000), D(20)),
            on=datetime.date(2026, 3, 2),
        )
        assert isinstance(result, Quote), result


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"countries": "DE,XX,EN"}, "countries", "XX, EN: use ISO 3166 country codes, e.g. DE or CN."),
        ({"locations": "DEHAM,HAMBG"}, "locations", "HAMBG is not a UN/LOCODE: HA is no ISO 3166 country."),
        ({"locations": "DE1"}, "locations", "DE1 is not a UN/LOCODE"),
    ],
)
def test_a_zone_with_codes_that_are_no_countries_or_places_is_refused_in_words(
    client, admin_user, carrier, fields, field, message
):
    client.force_login(admin_user)
    response = client.post("/admin/finance/ratezone/add/", _zone_form(carrier, **fields))
    assert message in _refused(response)
    assert response.context["adminform"].form.errors[field]
    assert not RateZone.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"minimum_amount": "-1"}, "The minimum charge is zero or more."),
        ({"origin_zone": "zone"}, "Give the origin as a code or as a zone, not both."),
        ({"destination_zone": "zone"}, "Give the destination as a code or as a zone, not both."),
    ],
)
def test_a_rate_line_the_constraints_refuse_is_refused_in_words(client, admin_user, carrier, fields, message):
    client.force_login(admin_user)
    card = rate_card(carrier, mode="air")
    area = zone(carrier, "EU1", countries=["DE"])
    form = _line_form(card, ("0", "3.10")) | {name: area.pk if value == "zone" else value
                                               for name, value in fields.items()}  # fmt: skip
    response = client.post("/admin/finance/rateline/add/", form)
    assert message in _refused(response)
    assert not RateLine.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rate": "0"}, "The rate is above zero."),
        ({"quote_currency": "EUR"}, "An exchange rate is between two different currencies."),
    ],
)
def test_an_exchange_rate_the_constraints_refuse_is_refused_in_words(client, admin_user, fields, message):
    client.force_login(admin_user)
    form = {"base_currency": "EUR", "quote_currency": "USD", "rate": "1.08", "rate_on": "2026-03-02", "source": ""}
    response = client.post("/admin/finance/exchangerate/add/", form | fields)
    assert message in _refused(response)
    assert not ExchangeRate.objects.exists()
