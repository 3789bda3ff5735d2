"""The rate card screens (/planning/rates/): plain numbers, never scientific notation, and Buy/Sell explained once."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from finance.models import ExchangeRate, RateBasis, RateBreak, RateDirection, Surcharge, SurchargeKind
from finance.money import number_text
from tests.finance.builders import rate_card

D = Decimal


@pytest.fixture
def ops(login, ops_user):
    return login(ops_user)


def ocean_and_air_cards(carrier):
    """A per-container rate of 1420 (stored 1420.0000, which Decimal.normalize() writes 1.42E+3) and an air card
    with a 100 kg break (100.000, written 1E+2)."""
    ocean = rate_card(
        carrier,
        mode="ocean_fcl",
        lines=[
            {
                "origin_code": "CNSHA",
                "destination_code": "DEHAM",
                "equipment_type": "45G1",
                "basis": RateBasis.PER_CONTAINER,
                "breaks": [(0, 1420)],
            }
        ],
        surcharges=[
            {"code": "PSS", "name": "Peak season", "basis": RateBasis.PER_CONTAINER, "amount": D("300.0000")},
            {"code": "FSC", "name": "Fuel", "kind": SurchargeKind.PERCENT, "percent": D("20.000")},
        ],
    )
    air = rate_card(
        carrier,
        mode="air",
        lines=[
            {
                "origin_code": "CNPVG",
                "destination_code": "DEFRA",
                "basis": RateBasis.PER_KG,
                "maximum_quantity": D("1000.000"),
                "breaks": [(0, "3.1"), (100, "2.294"), (1000, "1.98")],
            }
        ],
    )
    return ocean, air


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("1420.0000", "1,420"), ("100.000", "100"), ("2.2940", "2.294"), ("0.000", "0"), ("1234567.5", "1,234,567.5")],
)
def test_number_text_is_plain_with_thousands_and_without_trailing_zeros(stored, shown):
    assert number_text(D(stored)) == shown


def test_a_rate_of_1420_and_a_break_of_100_never_read_as_exponents(carrier):
    ocean, air = ocean_and_air_cards(carrier)
    ocean_break = RateBreak.objects.get(line__card=ocean)
    air_break = RateBreak.objects.get(line__card=air, from_quantity=100)
    assert str(ocean_break) == "≥ 0: 1,420"
    assert str(air_break) == "≥ 100: 2.294"
    assert str(Surcharge.objects.get(code="PSS")) == "PSS 300"
    assert str(Surcharge.objects.get(code="FSC")) == "FSC 20%"
    rate = ExchangeRate.objects.create(
        base_currency="EUR", quote_currency="JPY", rate=D("160.00000000"), rate_on=datetime.date(2026, 7, 1)
    )
    assert str(rate) == "1 EUR = 160 JPY (2026-07-01)"


def test_rate_card_detail_shows_rates_and_breaks_as_plain_numbers(ops, carrier):
    ocean, air = ocean_and_air_cards(carrier)

    ocean_page = ops.get(reverse("tracking:rate_card_detail", args=[ocean.pk])).content.decode()
    air_page = ops.get(reverse("tracking:rate_card_detail", args=[air.pk])).content.decode()

    assert "E+" not in ocean_page
    assert "E+" not in air_page
    assert '<span class="text-nowrap">1,420</span>' in ocean_page  # one rate from zero: the rate alone
    assert "300 per container" in ocean_page
    assert "20%" in ocean_page
    for text in ("≥ 0 kg: 3.1", "≥ 100 kg: 2.294", "≥ 1,000 kg: 1.98", "1,000 kg"):
        assert text in air_page


def test_rate_card_list_says_buy_on_each_row_and_explains_it_once(ops, carrier, customer_a):
    rate_card(carrier, mode="air", name="Carrier air")
    rate_card(carrier, mode="ocean_fcl", name="Carrier ocean")
    rate_card(customer_a, mode="air", name="Customer tariff", direction=RateDirection.SELL)

    page = ops.get(reverse("tracking:rate_cards")).content.decode()

    assert page.count("<td>Buy</td>") == 2
    assert page.count("<td>Sell</td>") == 1
    # The explanations appear once in the legend and once in the header's tooltip, not once per row.
    assert page.count("cost from a carrier or vendor") == 2
    assert page.count("tariff to a customer") == 2
    assert "Buy (cost from a carrier or vendor)" not in page


def test_rate_card_list_shows_fifty_cards_a_page_and_keeps_its_filter(ops, carrier):
    """Every issue of every contract stays on file, so the list grows for good: it pages, at a fixed query count."""
    for i in range(55):
        rate_card(
            carrier, mode="air", name=f"Air {i:02d}", effective_on=datetime.date(2026, 1, 1) + datetime.timedelta(i)
        )
    rate_card(carrier, mode="ocean_fcl", name="Sea card")
    url = reverse("tracking:rate_cards")

    first = ops.get(url, {"mode": "air"}).content.decode()
    with CaptureQueriesContext(connection) as queries:
        second = ops.get(url, {"mode": "air", "page": "2"}).content.decode()
    not_a_page = ops.get(url, {"mode": "air", "page": "x"})

    assert first.count("<td>Buy</td>") == 50
    assert second.count("<td>Buy</td>") == 5
    assert "Air 54" in first
    assert "Air 00" in second
    assert "Sea card" not in first + second
    assert "?mode=air&amp;page=2" in first
    assert len(queries) < 12
    assert not_a_page.status_code == 200
    assert not_a_page.content.decode().count("<td>Buy</td>") == 50


@pytest.mark.parametrize(("is_staff", "offered"), [(False, False), (True, True)])
def test_console_links_are_offered_only_to_those_who_may_open_the_console(
    login, finance_user, carrier, is_staff, offered
):
    """Finance holds every finance permission; without console access (is_staff) both links ended on the console's
    "not authorised" sign-in page."""
    finance_user.is_staff = is_staff
    finance_user.save()
    card = rate_card(carrier, mode="road_ftl")
    client = login(finance_user)
    add_url, change_url = (
        reverse("admin:finance_ratecard_add"),
        reverse("admin:finance_ratecard_change", args=[card.pk]),
    )

    listing = client.get(reverse("tracking:rate_cards")).content.decode()
    detail = client.get(reverse("tracking:rate_card_detail", args=[card.pk])).content.decode()

    assert ("New rate card" in listing, add_url in listing) == (offered, offered)
    assert ("Edit in console" in detail, change_url in detail) == (offered, offered)
    if offered:
        assert client.get(add_url).status_code == 200
        assert client.get(change_url).status_code == 200


def test_a_card_in_another_currency_shows_the_rate_ranking_converts_it_with(ops, carrier, settings):
    """Exchange rates live in the console; the card says the one its quotes are compared with."""
    settings.OMS_BASE_CURRENCY = "EUR"
    usd = rate_card(carrier, mode="air", currency="USD")
    jpy = rate_card(carrier, mode="road_ftl", currency="JPY")
    eur = rate_card(carrier, mode="ocean_fcl")
    ExchangeRate.objects.create(
        base_currency="EUR", quote_currency="USD", rate=D("1.08"), rate_on=datetime.date(2026, 1, 1)
    )

    def page(card) -> str:
        return ops.get(reverse("tracking:rate_card_detail", args=[card.pk])).content.decode()

    assert "1 USD = 0.9259 EUR today (ranking compares in EUR)" in page(usd)
    assert "no JPY/EUR exchange rate today: ranking leaves the card out" in page(jpy)
    assert "ranking" not in page(eur)
