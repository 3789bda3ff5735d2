"""Amounts in templates are shown to their currency's ISO 4217 minor unit (decision 0005), never a fixed two."""

from decimal import Decimal

import pytest
from django.template import Context, Template


def shown(amount, currency):
    template = Template("{% load finance_tags %}{{ amount|money_in:currency }}")
    return template.render(Context({"amount": amount, "currency": currency}))


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("1234.567"), "KWD", "1,234.567"),
        (Decimal("61853"), "JPY", "61,853"),
        (Decimal("61852.5"), "JPY", "61,853"),  # half up, as finance rounds
        (Decimal("1250.5"), "EUR", "1,250.50"),
        (Decimal("0.005"), "USD", "0.01"),
        (Decimal("2"), "XAU", "2.00"),  # no ISO minor unit: two decimals
        (1404, "USD", "1,404.00"),
    ],
)
def test_an_amount_is_shown_to_its_currencys_minor_unit(amount, currency, text):
    assert shown(amount, currency) == text


def test_no_amount_is_a_dash():
    assert shown(None, "EUR") == "—"


def test_a_negative_amount_that_rounds_to_zero_is_not_shown_as_minus_zero():
    """-0.004 EUR rounds half up to Decimal('-0.00'), and Decimal keeps the sign when formatted: '-0.00'."""
    assert shown(Decimal("-0.004"), "EUR") == "0.00"
    assert shown(Decimal("-0.4"), "JPY") == "0"
    assert shown(Decimal("-0.005"), "EUR") == "-0.01"  # half up, away from zero: a real amount keeps its sign
