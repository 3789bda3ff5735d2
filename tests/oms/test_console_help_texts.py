"""Console fields a person must interpret say how (review H): an exchange rate entered the other way round
corrupts every comparison of offers; cut-off hours say before what; a carrier exclusion says how far it reaches; a
rate card's fields say what rating does with them; a rule's actions say in which order they run and what each needs."""

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


def _inline_field(admin_user, parent_label: str, model_label: str, field: str):
    """The field as a row of the parent's inline shows it (surcharges on a card, breaks on a line)."""
    parent, model = apps.get_model(parent_label), apps.get_model(model_label)
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    model_admin = admin.site._registry[parent]
    (inline,) = [inline for inline in model_admin.get_inline_instances(request) if inline.model is model]
    return inline.get_formset(request).form.base_fields[field]


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
        # Rate cards: what each field does in rating (finance/rating.py), for a newcomer keying in a tariff.
        ("finance.RateCard", "name", "cards of one party and mode with the same name are issues of one contract"),
        ("finance.RateCard", "direction", "carrier ranking prices legs with buy cards only"),
        ("finance.RateCard", "mode", "used only for orders and legs of this mode"),
        ("finance.RateCard", "currency", "the currency of every rate, minimum and fixed surcharge on the card"),
        ("finance.RateCard", "effective_on", "The first day the card prices cargo"),
        ("finance.RateCard", "expires_on", "The last day the card prices cargo"),
        ("finance.RateCard", "notes", "rating does not read it"),
        ("finance.RateLine", "card", "its currency, dates and surcharges apply to the line"),
        ("finance.RateLine", "origin_zone", "Instead of an origin code: every country and place of the zone"),
        ("finance.RateLine", "destination_zone", "Instead of a destination code: every country and place of the zone"),
        ("finance.RateLine", "basis", "every break is tried, charging at least its quantity, and the cheapest"),
        ("finance.RateZone", "name", "rating goes by the countries and places below"),
    ],
)
def test_console_fields_a_person_must_interpret_have_help_text(admin_user, model_label, field, says):
    assert says in _form_field(admin_user, model_label, field).help_text


@pytest.mark.parametrize(
    ("parent_label", "model_label", "field", "says"),
    [
        ("finance.RateCard", "finance.Surcharge", "name", "As quotes show it"),
        ("finance.RateCard", "finance.Surcharge", "kind", "Percent of the quote's freight"),
        ("finance.RateLine", "finance.RateBreak", "from_quantity", "From this quantity of the line's basis on"),
        # A rule's actions, as its conditions have theirs (workflows/admin.py, RuleConditionForm).
        ("workflows.Rule", "workflows.RuleAction", "position", "The order the rule's actions run in, lowest first"),
        ("workflows.Rule", "workflows.RuleAction", "kind", "Create a task: name it and pick its team"),
    ],
)
def test_console_inline_fields_a_person_must_interpret_have_help_text(
    admin_user, parent_label, model_label, field, says
):
    assert says in _inline_field(admin_user, parent_label, model_label, field).help_text


def test_the_rate_help_text_reads_the_way_the_conversion_does():
    """ "EUR to USD at 1.08 is 1.08": 100 EUR are 108 USD, and the other direction is derived from the same row."""
    row = ExchangeRate(base_currency="EUR", quote_currency="USD", rate=Decimal("1.08"), rate_on="2026-01-01")
    assert "EUR to USD at 1.08 is 1.08" in ExchangeRate._meta.get_field("rate").help_text

    table = FxTable([row])

    assert table.convert(Decimal(100), "EUR", "USD", row.rate_on) == Decimal("108.00")
    assert table.convert(Decimal(108), "USD", "EUR", row.rate_on) == Decimal("100.00")
