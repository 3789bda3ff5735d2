"""What the rate console refuses, it refuses in words (review D): a buy card without a party, or from a customer,
and every finance constraint a console form can break, never as 'Constraint “…” is violated.'"""

from __future__ import annotations

import pytest

from finance.models import ExchangeRate, RateCard, RateDirection, RateLine, Surcharge
from tests.factories import OrganisationFactory
from tests.finance.builders import rate_card, zone
from tests.finance.test_admin import _card_form, _errors, _line_form

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
    assert "its amount or percentage is zero or more" in _refused(response)
    assert not Surcharge.objects.exists()


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
