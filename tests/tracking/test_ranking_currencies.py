"""Ranking compares a carrier's cards in one currency, and a card replaced by its newer version is not offered."""

import datetime
from decimal import Decimal

import pytest

from finance.models import ExchangeRate, RateBasis
from finance.rating import Measures
from tests.factories import OrganisationFactory
from tests.finance.builders import rate_card
from tracking.services.ranking import RankingRequest, rank, ranking_context_load

D = Decimal
DAY = datetime.date(2026, 9, 1)


@pytest.fixture
def maersk(db):
    return OrganisationFactory(code="MAEU", kinds=["carrier"])


def fcl_line(rate):
    return {
        "origin_code": "CNSHA",
        "destination_code": "DEHAM",
        "equipment_type": "22G1",
        "basis": RateBasis.PER_CONTAINER,
        "breaks": [(0, rate)],
    }


def ranked(currency="EUR"):
    request = RankingRequest(
        mode="ocean_fcl",
        origin="CNSHA",
        destination="DEHAM",
        ready_on=DAY,
        measures=Measures("ocean_fcl", D(10000), D(30), (("22G1", 1),)),
        currency=currency,
    )
    return rank(request, ranking_context_load(modes=["ocean_fcl"]))


def test_a_carriers_cards_in_two_currencies_are_compared_in_the_requested_currency(maersk):
    ExchangeRate.objects.create(base_currency="EUR", quote_currency="USD", rate=D("1.08"), rate_on=DAY)
    rate_card(maersk, mode="ocean_fcl", name="USD card", currency="USD", lines=[fcl_line(1000)])  # EUR 925.93
    rate_card(maersk, mode="ocean_fcl", name="EUR card", currency="EUR", lines=[fcl_line(950)])

    best = ranked().best

    assert (best.quote.card_name, best.quote.total_amount, best.cost) == ("USD card", D("1000.00"), D("925.93"))
    assert ranked("USD").best.cost == D("1000.00")  # and the same card when asked in dollars: 950 EUR = 1,026 USD


def test_a_card_without_an_exchange_rate_is_left_out_and_the_other_card_priced(maersk):
    rate_card(maersk, mode="ocean_fcl", name="JPY card", currency="JPY", lines=[fcl_line(100)])  # never counted as 1
    rate_card(maersk, mode="ocean_fcl", name="EUR card", currency="EUR", lines=[fcl_line(950)])
    best = ranked().best
    assert (best.quote.card_name, best.cost) == ("EUR card", D("950.00"))


def test_a_carrier_whose_only_card_has_no_exchange_rate_is_excluded_with_the_reason(maersk):
    rate_card(maersk, mode="ocean_fcl", name="JPY card", currency="JPY", lines=[fcl_line(100)])
    result = ranked()
    assert result.options == []
    assert result.excluded[0].excluded_reason == "no JPY/EUR exchange rate on 2026-09-01"


def test_an_open_ended_card_replaced_by_its_newer_version_is_not_ranked(maersk):
    rate_card(
        maersk,
        mode="ocean_fcl",
        name="v1",
        reference="C-1",
        effective_on=datetime.date(2026, 1, 1),
        lines=[fcl_line(1000)],
    )
    rate_card(
        maersk,
        mode="ocean_fcl",
        name="v2",
        reference="C-1",
        version=2,
        effective_on=datetime.date(2026, 6, 1),
        lines=[fcl_line(1400)],
    )
    best = ranked().best
    assert (best.quote.card_name, best.cost) == ("v2", D("1400.00"))


def test_a_replaced_card_alone_gives_the_reason(maersk):
    rate_card(
        maersk,
        mode="ocean_fcl",
        name="v1",
        reference="C-1",
        effective_on=datetime.date(2026, 1, 1),
        lines=[fcl_line(1000)],
    )
    rate_card(maersk, mode="ocean_fcl", name="v2", reference="C-1", version=2, effective_on=datetime.date(2026, 6, 1))
    result = ranked()
    assert result.options == []
    assert "rate card v1 is replaced by v2 v2 from 2026-06-01" in result.excluded[0].excluded_reason


def test_a_booking_keeps_a_kwd_quote_to_the_fils(make_order, ops_user):
    from tracking.services import booking as booking_services
    from tracking.services import consolidation, ranking

    kuwaiti = OrganisationFactory(code="KWSL", kinds=["carrier"], email="book@kwsl.test")
    ExchangeRate.objects.create(base_currency="EUR", quote_currency="KWD", rate=D("0.33"), rate_on=DAY)
    rate_card(kuwaiti, mode="ocean_fcl", currency="KWD", lines=[fcl_line("412.125")])
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    option = ranking.ranking_for_shipment(shipment=master).best
    booking = booking_services.booking_request(shipment=master, option=option, by=ops_user)
    booking.refresh_from_db()
    assert (booking.quoted_amount, booking.quoted_currency) == (D("412.125"), "KWD")
