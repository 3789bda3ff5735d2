"""An integration's "destination by country": checked in the console where it is set, and again by the Shopify
webhook where it is read, since an integration saved before the check may hold anything (walk_d, defect 1)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from orders.admin import IntegrationForm
from orders.models import DeliveryOutcome, Integration, IntegrationKind, Location, Order, WebhookDelivery
from tests.orders.fixtures.imports import world
from tests.orders.test_webhooks import SHOPIFY_ORDER, SHOPIFY_SECRET, _shopify_post

__all__ = ["world"]


def _form(world, destination_by_country: str) -> IntegrationForm:
    return IntegrationForm(data={
        "customer": world["acme"].pk, "kind": IntegrationKind.SHOPIFY, "name": "acme-shop", "secret": SHOPIFY_SECRET,
        "default_origin": "DEHAM", "default_service_level": "standard", "default_incoterm": "DAP",
        "destination_by_country": destination_by_country, "is_active": "on",
    })  # fmt: skip


def _integration(world, destination_by_country: Any) -> Integration:
    """An integration as one saved before the console checked the field: the model takes any JSON."""
    return Integration.objects.create(
        customer=world["acme"], kind=IntegrationKind.SHOPIFY, name="acme-shop", secret=SHOPIFY_SECRET,
        default_origin=Location.objects.get(code="DEHAM"), destination_by_country=destination_by_country,
    )  # fmt: skip


def _to_an_unknown_city() -> bytes:
    order = copy.deepcopy(SHOPIFY_ORDER)
    order["shipping_address"]["city"] = "Saint-Ouen-sur-Seine"  # not in the location list: the fallback is read
    return json.dumps(order).encode()


# --- The console -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ['{"FR": "FRPAR"}', '{"FR": "FRPAR", "DE": "DEHAM"}', "{}", ""])
def test_the_console_accepts_countries_with_a_known_unlocode_of_theirs(world, value):
    form = _form(world, value)
    assert form.is_valid(), form.errors


def test_the_console_stores_countries_and_codes_upper_case_without_spaces(world):
    """The webhook looks the shipping address's country up upper case: a lower-case key would never be found."""
    form = _form(world, '{"fr": "fr par", " de ": "DEHAM"}')
    assert form.is_valid(), form.errors
    assert form.cleaned_data["destination_by_country"] == {"FR": "FRPAR", "DE": "DEHAM"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["FRPAR"]', 'Give an object of country codes and UN/LOCODEs, e.g. {"DE": "DEHAM", "FR": "FRPAR"}, '
                      "not a list."),
        ('"FRPAR"', "not a text."),
        ("5", "not a number."),
        ('{"FR": "XXXXX"}', '"FR": "XXXXX": XXXXX is not in our UN/LOCODE list.'),
        ('{"France": "FRPAR"}', '"France": "FRPAR": a country is its two-letter ISO code, e.g. "DE".'),
        ('{"FR": ["FRPAR"]}', '"FR": ["FRPAR"]: the destination is a UN/LOCODE in quotes'),
        ('{"FR": "Paris"}', '"FR": "Paris": PARIS is not in our UN/LOCODE list.'),
        ('{"FR": "FR-PA"}', '"FR": "FR-PA": FR-PA is not a UN/LOCODE'),
        ('{"DE": "FRPAR"}', '"DE": "FRPAR": FRPAR (Paris) is in FR, not in DE.'),
        ('{"FR": "FRPAR", "fr": "FRPAR"}', '"fr": "FRPAR": FR is given twice'),
        ('{"\\ud800": "FRPAR"}', '"\\ud800": "FRPAR": a country is its two-letter'),  # shown, though no text
    ],
)  # fmt: skip
def test_the_console_refuses_anything_but_countries_with_a_known_unlocode_naming_the_entry(world, value, message):
    form = _form(world, value)
    assert not form.is_valid()
    assert any(message in error for error in form.errors["destination_by_country"]), form.errors


def test_the_console_refuses_a_retired_unlocode(world):
    Location.objects.filter(code="FRPAR").update(is_active=False)
    form = _form(world, '{"DE": "DEHAM", "FR": "FRPAR"}')
    assert not form.is_valid()
    assert form.errors["destination_by_country"] == [
        '"FR": "FRPAR": FRPAR is a retired UN/LOCODE; use its replacement.'
    ]


def test_the_console_names_every_bad_entry(world):
    form = _form(world, '{"FR": "XXXXX", "DE": 12, "NL": "NLRTM"}')
    assert not form.is_valid()
    errors = form.errors["destination_by_country"]
    assert len(errors) == 2
    assert errors[0].startswith('"DE": 12: the destination is a UN/LOCODE in quotes'), errors
    assert errors[1] == '"FR": "XXXXX": XXXXX is not in our UN/LOCODE list.', errors


def test_an_integration_saved_with_a_bad_mapping_shows_the_problem_when_opened(world, admin_user, login):
    integration = _integration(world, {"FR": "XXXXX"})
    page = login(admin_user).get(f"/admin/orders/integration/{integration.pk}/change/")
    assert page.status_code == 200
    assert (
        '<li class="error">Destination by country: &quot;FR&quot;: &quot;XXXXX&quot;: XXXXX is not in our UN/LOCODE '
        "list. Shopify orders to a city we do not know are refused until this is corrected.</li>"
        in page.content.decode()
    )


def test_an_integration_with_a_good_mapping_opens_without_a_warning(world, admin_user, login):
    integration = _integration(world, {"FR": "FRPAR"})
    page = login(admin_user).get(f"/admin/orders/integration/{integration.pk}/change/")
    assert page.status_code == 200
    assert 'class="messagelist"' not in page.content.decode()


# --- The webhook reading a mapping saved before the check -------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (["FRPAR"], "not a list."),
        ("FRPAR", "not a text."),
        ({"FR": "XXXXX"}, "XXXXX is not in our UN/LOCODE list."),
        ({"FR": 7}, "the destination is a UN/LOCODE in quotes"),
        ({"FR": "DEHAM"}, "DEHAM (Hamburg) is in DE, not in FR."),
    ],
)
def test_a_bad_stored_mapping_is_a_422_kept_for_staff_not_a_500(world, stored, message):
    integration = _integration(world, stored)
    response = _shopify_post(integration, _to_an_unknown_city())
    assert response.status_code == 422, response.content
    problem = response.json()["error"]["fields"]["destination"][0]
    assert problem.startswith("The integration's destination by country cannot be used for FR: "), problem
    assert message in problem, problem
    assert problem.endswith("(admin: integration → destination by country)."), problem
    delivery = WebhookDelivery.objects.get(integration=integration)  # recorded, not rolled back
    assert (delivery.outcome, delivery.status_code, delivery.order) == (DeliveryOutcome.INVALID, 422, None)
    assert Order.objects.count() == 0


def test_a_bad_stored_mapping_still_lets_orders_to_a_known_city_through(world):
    integration = _integration(world, ["FRPAR"])
    response = _shopify_post(integration, json.dumps(SHOPIFY_ORDER).encode())  # Paris: its UN/LOCODE is known
    assert response.status_code == 200, response.content
    assert Order.objects.get().destination_id == "FRPAR"


def test_a_bad_entry_of_another_country_does_not_stop_this_countrys_fallback(world):
    integration = _integration(world, {"FR": "FRPAR", "DE": "XXXXX", "it": 1})
    assert _shopify_post(integration, _to_an_unknown_city()).status_code == 200
    assert Order.objects.get().destination_id == "FRPAR"


def test_shopifys_retry_after_the_mapping_is_corrected_creates_the_order(world):
    integration = _integration(world, ["FRPAR"])
    assert _shopify_post(integration, _to_an_unknown_city(), webhook_id="wh-9").status_code == 422
    integration.destination_by_country = {"fr": "FRPAR"}  # even a lower-case key stored before the check is read
    integration.save(update_fields=["destination_by_country"])
    retried = _shopify_post(integration, _to_an_unknown_city(), webhook_id="wh-9")
    assert retried.status_code == 200, retried.content
    assert Order.objects.get().destination_id == "FRPAR"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.attempts) == (DeliveryOutcome.CREATED, 2)
