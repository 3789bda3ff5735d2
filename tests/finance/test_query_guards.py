"""Query guards: the rate card list and a rate card's page, and the console's rate card and rate line pages with
their surcharges and breaks, cost as many queries with many rows as with a few. Each is read with a few rows of
varied content, then with several times more, and must run the same number of queries, under a fixed ceiling for the
larger case (STYLE.md, Tests)."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
from django.test import Client

from finance.models import (
    ExchangeRate,
    RateBasis,
    RateBreak,
    RateCard,
    RateDirection,
    RateLine,
    Surcharge,
    SurchargeKind,
)
from tests.factories import OrganisationFactory
from tests.finance.builders import rate_card, zone

serial = itertools.count(1)
# Each page's ceiling for the larger case: what it ran when these guards were written (it runs the same for the
# few). A page that needs more must say why; more rows never may.
CEILINGS = {"card list": 5, "card": 8, "console card": 6, "console line": 7}


def _cards(n: int) -> None:
    """n more cards, each of its own carrier (buy, to its own zone) or customer (sell), in modes and currencies."""
    for _ in range(n):
        k = next(serial)
        party = OrganisationFactory(code=f"P{k}", kinds=[("carrier", "customer")[k % 2]])
        line = {"origin_code": "CNSHA", "destination_zone": zone(party, f"Z{k}", countries=["DE"]),
                "basis": RateBasis.PER_KG, "breaks": [(0, 2), (100, 1)]}  # fmt: skip
        rate_card(party, mode=("air", "ocean_fcl", "road_ftl")[k % 3], currency=("EUR", "USD")[k % 2],
                  direction=(RateDirection.BUY, RateDirection.SELL)[k % 2], name=f"Card {k}", lines=[line])  # fmt: skip


def _grow_card(card: RateCard, n: int) -> None:
    """n more lines (to a zone of the card's carrier or a port, each with two breaks) and surcharges on `card`, and
    n more breaks on its first line."""
    first = card.lines.order_by("id").first()
    for _ in range(n):
        k = next(serial)
        area = zone(card.party, f"Y{k}", countries=["PL"]) if k % 2 else None
        line = RateLine.objects.create(card=card, origin_code="CNSHA", destination_zone=area,
                                       destination_code="" if area else "DEHAM", basis=RateBasis.PER_KG,
                                       minimum_amount=Decimal(k), charge_code=f"FRT-{k}")  # fmt: skip
        RateBreak.objects.bulk_create(
            [RateBreak(line=line, from_quantity=0, rate=3), RateBreak(line=line, from_quantity=50, rate=2)]
        )
        RateBreak.objects.create(line=first, from_quantity=1000 + k, rate=Decimal("0.5"))
        Surcharge.objects.create(card=card, code=f"S{k}", name=f"Surcharge {k}", basis=RateBasis.PER_SHIPMENT,
                                 kind=(SurchargeKind.FIXED, SurchargeKind.PERCENT)[k % 2], amount=k, percent=k,
                                 equipment_type=("", "22G1")[k % 2])  # fmt: skip


@pytest.fixture
def card(carrier):
    ExchangeRate.objects.create(base_currency="EUR", quote_currency="USD", rate=Decimal("1.08"),
                                rate_on=datetime.date(2026, 1, 1))  # fmt: skip
    return rate_card(carrier, mode="air", currency="USD", lines=[{"origin_code": "CNSHA", "destination_code": "DEHAM",
                     "basis": RateBasis.PER_KG, "breaks": [(0, 1)]}])  # fmt: skip


def test_the_rate_card_screens_cost_the_same_queries_for_few_and_many_cards_lines_and_surcharges(
    card, login, ops_user, admin_user, django_assert_max_num_queries
):
    staff, console = login(ops_user), Client()
    console.force_login(admin_user)
    first = card.lines.order_by("id").first()
    pages = {
        "card list": (staff, "/planning/rates/"),
        "card": (staff, f"/planning/rates/{card.pk}/"),
        "console card": (console, f"/admin/finance/ratecard/{card.pk}/change/"),
        "console line": (console, f"/admin/finance/rateline/{first.pk}/change/"),
    }

    def grow(n: int) -> None:
        _cards(n)
        _grow_card(card, n)

    grow(2)
    for client, url in pages.values():
        client.get(url)  # warm the sessions
    few, many, bodies = {}, {}, {}
    for name, (client, url) in pages.items():
        with django_assert_max_num_queries(CEILINGS[name]) as queries:
            assert client.get(url).status_code == 200
        few[name] = len(queries)
    grow(9)

    for name, (client, url) in pages.items():
        with django_assert_max_num_queries(CEILINGS[name]) as queries:
            response = client.get(url)
        many[name], bodies[name] = len(queries), response.content.decode()

    assert many == few
    assert bodies["card list"].count("Card ") >= 11
    assert bodies["card"].count("Surcharge ") >= 11
    assert bodies["console card"].count('value="Surcharge ') >= 11  # its inline rows
    assert bodies["console line"].count('name="breaks-') >= 11 * 2  # its inline rows (from quantity, rate)
