"""Console fields a person must interpret say how (review H): an exchange rate entered the other way round
corrupts every comparison of offers; cut-off hours say before what; a carrier exclusion says how far it reaches."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory

from finance.fx import FxTable
from finance.models import ExchangeRate


def _form_field(admin_user, model_label: str, field: str):
    model = apps.get_model(model_label)
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    return admin.site._registry[model].get_form(request)().fields[field]


@pytest.mark.parametrize(
    ("model_label", "field", "says"),
    [
        ("finance.ExchangeRate", "rate", "How many quote-currency units 1 base-currency unit buys"),
        ("finance.ExchangeRate", "rate_on", "until the day of a newer row"),
        ("finance.ExchangeRate", "base_currency", "ISO 4217"),
        ("finance.ExchangeRate", "quote_currency", "ISO 4217"),
        ("tracking.CarrierService", "documentation_cutoff_hours", "Hours before departure"),
        ("tracking.CarrierService", "vgm_cutoff_hours", "Hours before departure"),
        ("tracking.CarrierPreference", "kind", "kept off a master already booked with this carrier"),
    ],
)
def test_console_fields_a_person_must_interpret_have_help_text(admin_user, model_label, field, says):
    assert says in _form_field(admin_user, model_label, field).help_text


def test_the_rate_help_text_reads_the_way_the_conversion_does():
    """ "EUR to USD at 1.08 is 1.08": 100 EUR are 108 USD, and the other direction is derived from the same row."""
    row = ExchangeRate(base_currency="EUR", quote_currency="USD", rate=Decimal("1.08"), rate_on="2026-01-01")
    assert "EUR to USD at 1.08 is 1.08" in ExchangeRate._meta.get_field("rate").help_text

    table = FxTable([row])

    assert table.convert(Decimal(100), "EUR", "USD", row.rate_on) == Decimal("108.00")
    assert table.convert(Decimal(108), "USD", "EUR", row.rate_on) == Decimal("100.00")
