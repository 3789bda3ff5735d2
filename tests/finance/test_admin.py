"""The finance configuration console: its lists read a fixed number of queries, however many rows they show."""

import datetime
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

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
from partners.demo import seed_partners
from partners.models import User
from tests.factories import OrganisationFactory
from tests.finance.builders import rate_card, zone


def _add_rows(start: int, n: int) -> None:
    for i in range(start, start + n):
        carrier = OrganisationFactory(code=f"C{i:03d}", kinds=["carrier"])
        area = zone(carrier, f"Z{i}", countries=["DE"])
        line = {"origin_code": "CNSHA", "destination_zone": area, "basis": RateBasis.PER_KG, "breaks": [(0, 1)]}
        rate_card(carrier, mode="air", reference=f"R-{i}", lines=[line])
        ExchangeRate.objects.create(
            base_currency="EUR", quote_currency="USD", rate=1 + i, rate_on=f"2026-01-{i + 1:02d}"
        )


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


@pytest.mark.parametrize("model", ["ratecard", "rateline", "ratezone", "exchangerate"])
def test_finance_admin_lists_do_not_query_per_row(admin_user, client, model):
    client.force_login(admin_user)
    url = f"/admin/finance/{model}/"
    _add_rows(0, 2)
    few = _queries(client, url)
    _add_rows(2, 10)
    assert _queries(client, url) == few


def _errors(response) -> str:
    """The console's error lists, as text, to read what the pricing person is told."""
    return " ".join(re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S))


def _card_form(carrier, surcharge: dict | None = None, **fields) -> dict:
    """The console's rate card form as posted, with at most one surcharge row."""
    data = {
        "name": "Air 2026",
        "version": "1",
        "direction": RateDirection.BUY,
        "party": carrier.pk,
        "mode": "air",
        "currency": "EUR",
        "effective_on": "2026-03-01",
        "is_active": "on",
        "surcharges-TOTAL_FORMS": "1" if surcharge else "0",
        "surcharges-INITIAL_FORMS": "0",
        **fields,
    }
    base = {"code": "BAF", "name": "Bunker", "kind": SurchargeKind.FIXED, "basis": RateBasis.PER_SHIPMENT}
    for name, value in {**base, "amount": "10", "percent": "0", **(surcharge or {})}.items():
        data[f"surcharges-0-{name}"] = value
    return data


def test_a_card_ending_before_it_starts_is_refused_on_its_expiry_naming_both_dates(admin_user, client, carrier):
    """The constraint's message stated the rule above the form; the person needs the two dates, at the box to fix."""
    client.force_login(admin_user)

    response = client.post("/admin/finance/ratecard/add/", _card_form(carrier, expires_on="2026-02-01"))

    assert response.status_code == 200
    assert not RateCard.objects.exists()
    form = response.context["adminform"].form
    assert form.errors["expires_on"] == [
        "It expires on 1 Feb 2026, before it takes effect on 1 Mar 2026: set an expiry on 1 Mar 2026 or later, or "
        "leave it blank (until a newer issue of the contract takes effect)."
    ]
    assert not form.non_field_errors()
    assert "The card expires on or after the day it takes effect." not in _errors(response)


def test_a_surcharge_ending_before_it_starts_is_refused_on_its_expiry_naming_both_dates(admin_user, client, carrier):
    """It would never apply, and the card would quote without it, silently."""
    client.force_login(admin_user)
    surcharge = {"effective_on": "2026-05-01", "expires_on": "2026-04-01"}

    response = client.post("/admin/finance/ratecard/add/", _card_form(carrier, surcharge))

    assert response.status_code == 200
    assert not Surcharge.objects.exists()
    (surcharges,) = [inline.formset for inline in response.context["inline_admin_formsets"]]
    assert surcharges.errors[0]["expires_on"] == [
        "It expires on 1 Apr 2026, before it takes effect on 1 May 2026: set an expiry on 1 May 2026 or later, or "
        "leave it blank (as long as the card)."
    ]
    assert "The surcharge expires on or after the day it takes effect." not in _errors(response)


def _surcharge_errors(response) -> dict:
    assert response.status_code == 200
    (surcharges,) = [inline.formset for inline in response.context["inline_admin_formsets"]]
    return surcharges.errors[0]


@pytest.mark.parametrize("effective_on", ["", "2026-01-01"])
def test_a_surcharge_expiring_before_its_card_takes_effect_is_refused_naming_both_dates(
    admin_user, client, carrier, effective_on
):
    """Blank start is "as the card", so it starts on 1 Mar 2026 and ended on 1 Feb: rating, which adds a card's
    surcharges valid on the cargo's day, never adds it, and quotes leave it out without a word. With a start of its
    own in January it is the same."""
    client.force_login(admin_user)
    surcharge = {"effective_on": effective_on, "expires_on": "2026-02-01"}

    response = client.post("/admin/finance/ratecard/add/", _card_form(carrier, surcharge))

    assert _surcharge_errors(response) == {
        "expires_on": [
            "It expires on 1 Feb 2026, before its card takes effect on 1 Mar 2026, so it would never apply: set an "
            "expiry on 1 Mar 2026 or later, or leave it blank (as long as the card)."
        ]
    }
    assert not RateCard.objects.exists()
    assert not Surcharge.objects.exists()


def test_a_surcharge_starting_after_its_card_expires_is_refused_naming_both_dates(admin_user, client, carrier):
    client.force_login(admin_user)
    form = _card_form(carrier, {"effective_on": "2026-07-01"}, expires_on="2026-06-30")

    response = client.post("/admin/finance/ratecard/add/", form)

    assert _surcharge_errors(response) == {
        "effective_on": [
            "It takes effect on 1 Jul 2026, after its card expires on 30 Jun 2026, so it would never apply: set a "
            "start on 30 Jun 2026 or earlier, or leave it blank (as the card)."
        ]
    }
    assert not Surcharge.objects.exists()


@pytest.mark.parametrize(
    ("dates", "card_dates"),
    [
        ({"effective_on": "", "expires_on": "2026-03-01"}, {}),  # its last day is the card's first
        ({"effective_on": "", "expires_on": "2026-04-30"}, {}),
        ({"effective_on": "2026-01-01", "expires_on": "2026-03-31"}, {}),  # before the card too, and within it
        ({"effective_on": "2026-06-30", "expires_on": ""}, {"expires_on": "2026-06-30"}),
        ({"effective_on": "", "expires_on": ""}, {"expires_on": "2026-06-30"}),
    ],
)
def test_a_surcharge_that_applies_on_some_day_of_its_card_is_saved(admin_user, client, carrier, dates, card_dates):
    client.force_login(admin_user)

    response = client.post("/admin/finance/ratecard/add/", _card_form(carrier, dates, **card_dates))

    assert response.status_code == 302
    assert Surcharge.objects.count() == 1


def test_moving_a_cards_start_past_a_surcharges_expiry_is_refused_on_the_surcharge(admin_user, client, carrier):
    """The card's page checks its surcharges against the card as typed, not as stored."""
    client.force_login(admin_user)
    assert (
        client.post("/admin/finance/ratecard/add/", _card_form(carrier, {"expires_on": "2026-04-30"})).status_code
        == 302
    )
    card, surcharge = RateCard.objects.get(), Surcharge.objects.get()
    form = _card_form(
        carrier, {"id": surcharge.pk, "card": card.pk, "expires_on": "2026-04-30"}, effective_on="2026-05-01"
    )
    form["surcharges-INITIAL_FORMS"] = "1"

    response = client.post(f"/admin/finance/ratecard/{card.pk}/change/", form)

    assert _surcharge_errors(response)["expires_on"] == [
        "It expires on 30 Apr 2026, before its card takes effect on 1 May 2026, so it would never apply: set an "
        "expiry on 1 May 2026 or later, or leave it blank (as long as the card)."
    ]
    assert RateCard.objects.get().effective_on == datetime.date(2026, 3, 1)


def test_any_form_of_a_surcharge_refuses_one_that_would_never_apply(carrier):
    """The check is the model's clean(): the console's inline, and any other form or import that validates."""
    card = rate_card(carrier, mode="air", effective_on=datetime.date(2026, 3, 1))
    surcharge = Surcharge(
        card=card, code="PSS", name="Peak season", amount=Decimal(50), expires_on=datetime.date(2026, 2, 28)
    )

    with pytest.raises(ValidationError) as refused:
        surcharge.full_clean()

    assert refused.value.message_dict["expires_on"] == [
        "It expires on 28 Feb 2026, before its card takes effect on 1 Mar 2026, so it would never apply: set an "
        "expiry on 1 Mar 2026 or later, or leave it blank (as long as the card)."
    ]


def test_the_database_still_refuses_a_card_ending_before_it_starts(carrier):
    """The console's words come first; the constraint still guards imports, code and the shell."""
    card = rate_card(carrier, mode="air", effective_on=datetime.date(2026, 3, 1))
    card.expires_on = datetime.date(2026, 2, 1)

    with pytest.raises(IntegrityError), transaction.atomic():
        card.save()


def test_a_surcharge_for_a_container_type_that_does_not_exist_is_refused(admin_user, client, carrier):
    """Rating matches the type exactly: a typo (40hc for 45G1) would leave the surcharge off every container."""
    client.force_login(admin_user)

    response = client.post("/admin/finance/ratecard/add/", _card_form(carrier, {"equipment_type": "40hc"}))

    assert response.status_code == 200
    assert not Surcharge.objects.exists()
    assert "40hc is not an ISO 6346 size-type code" in _errors(response)


def _line_form(card, *breaks: tuple[str, str]) -> dict:
    data = {
        "card": card.pk,
        "origin_code": "CNSHA",
        "destination_code": "DEHAM",
        "basis": RateBasis.PER_KG,
        "minimum_amount": "0",
        "charge_code": "FRT",
        "breaks-TOTAL_FORMS": str(len(breaks)),
        "breaks-INITIAL_FORMS": "0",
    }
    for i, (from_quantity, rate) in enumerate(breaks):
        data[f"breaks-{i}-from_quantity"] = from_quantity
        data[f"breaks-{i}-rate"] = rate
    return data


@pytest.mark.parametrize("rate", ["0", "-1"])
def test_a_break_priced_at_zero_or_less_is_refused(admin_user, client, carrier, rate):
    """A zero rate is a slip (a blank cell), not a price: it would make the carrier the cheapest on every lane."""
    client.force_login(admin_user)
    card = rate_card(carrier, mode="air")

    response = client.post("/admin/finance/rateline/add/", _line_form(card, ("0", "3.10"), ("100", rate)))

    assert response.status_code == 200
    assert not RateBreak.objects.exists()
    assert "A rate is above zero and starts at a quantity of zero or more." in _errors(response)


def test_a_second_card_of_the_same_contract_version_and_start_is_refused(admin_user, client, carrier):
    """Two issues alike would leave rating to pick one by creation order; a re-issue raises the version instead."""
    client.force_login(admin_user)
    first = rate_card(carrier, mode="air", name="Air 2026", reference="C-7", effective_on=datetime.date(2026, 3, 1))
    form = _card_form(carrier, reference="C-7", name="Air 2026 (copy)")

    duplicate = client.post("/admin/finance/ratecard/add/", form)
    reissue = client.post("/admin/finance/ratecard/add/", {**form, "version": "2"})

    assert duplicate.status_code == 200
    assert f"Version 1 of this contract from 1 Mar 2026 is already on file ({first}); raise the version" in _errors(
        duplicate
    )
    assert reissue.status_code == 302
    assert RateCard.objects.count() == 2


def test_the_console_card_list_says_buy_once_and_tells_contract_versions_apart(admin_user, client, carrier):
    """At 1440 px: each row spelt "Buy (cost from a carrier or vendor)", wrapping to four lines and pushing the last
    columns out of view, and v1 and v2 of one contract read alike."""
    for version in (1, 2):
        rate_card(carrier, mode="road_ftl", name="Nordtruck FTL 2026", reference="NT-2026", version=version)
    client.force_login(admin_user)

    page = client.get("/admin/finance/ratecard/").content.decode()

    rows = page[page.index('id="result_list"') :]
    rows = rows[: rows.index("</table>")]
    assert "Buy (cost from a carrier or vendor)" not in rows
    assert rows.count('<td class="field-direction_column">Buy</td>') == 2
    assert 'class="field-issue">NT-2026 v1</td>' in rows
    assert 'class="field-issue">NT-2026 v2</td>' in rows


def test_the_demos_finance_person_maintains_rate_cards_and_exchange_rates_in_the_console(db, client):
    """Finance keeps the tariffs and exchange rates (partners/demo.py); the rate card screens send it to the console."""
    seed_partners(password="demo-password-for-tests")
    finance = User.objects.get(email="finance@oms.example")
    client.force_login(finance)

    for url in ("/admin/finance/ratecard/add/", "/admin/finance/ratezone/add/", "/admin/finance/exchangerate/add/"):
        assert client.get(url).status_code == 200, url
    assert not User.objects.get(email="sales@oms.example").is_staff


def test_the_console_rate_line_list_reads_the_most_a_line_takes_beside_its_basis(admin_user, client, carrier):
    """At 1280 px the list was 943 px in a 907 px column, its charge code behind a scroll bar: the maximum had a
    column of its own, and the lane repeated the basis."""
    area = zone(carrier, "EU1", countries=["DE"])
    parcel = {"origin_code": "CN", "destination_zone": area, "basis": RateBasis.PER_SHIPMENT, "breaks": [(0, 40)]}
    kilo = {"origin_code": "CNSHA", "destination_code": "DEHAM", "basis": RateBasis.PER_KG, "breaks": [(0, 3)]}
    rate_card(carrier, mode="parcel", currency="EUR", lines=[parcel, kilo])
    RateLine.objects.filter(basis=RateBasis.PER_SHIPMENT).update(maximum_quantity=Decimal("31.5"))
    RateLine.objects.filter(basis=RateBasis.PER_KG).update(minimum_amount=Decimal("45"))
    client.force_login(admin_user)

    page = client.get("/admin/finance/rateline/").content.decode()

    rows = page[page.index('id="result_list"') :]
    rows = rows[: rows.index("</table>")]
    assert "column-maximum_quantity" not in rows
    assert '<td class="field-basis_column">Per shipment, at most 31.5 kg</td>' in rows
    assert '<td class="field-basis_column">Per kg chargeable</td>' in rows
    assert '<td class="field-minimum">45 EUR</td>' in rows
    assert ">CN → EU1</a>" in rows
