"""The console picks places and organisations by typing (review D): the integration form's "Default origin" was
one drop-down of every UN/LOCODE (394 with the demo set, over 100,000 once import_unlocode has loaded the list).
Every console form with a foreign key to a large table (places, organisations, orders, shipments, people) uses a
picker (autocomplete) or a raw id box, never a <select> of the whole table."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, ForeignKeyRawIdWidget
from django.test import RequestFactory

from orders.models import Location, Order
from partners.models import Organisation, Role, User
from tests.conftest import _member
from tracking.models import Shipment

LARGE = (Location, Organisation, Order, Shipment, User)


def _drop_downs(form_class: Any, owner: str, parent: str = "") -> list[str]:
    found = []
    for name, field in form_class.base_fields.items():
        if name == parent or not isinstance(field, forms.ModelChoiceField) or field.queryset.model not in LARGE:
            continue  # an inline's link to the form's own object is not shown
        widget = getattr(field.widget, "widget", field.widget)  # unwrap RelatedFieldWidgetWrapper
        if not isinstance(widget, AutocompleteSelect | ForeignKeyRawIdWidget):
            found.append(f"{owner}.{name}")
    return found


def test_no_console_form_offers_a_whole_large_table_in_a_drop_down(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    found = []
    for model_admin in admin.site._registry.values():
        if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
            continue  # a read-only admin shows values, not fields
        found += _drop_downs(model_admin.get_form(request), type(model_admin).__name__)
        for inline in model_admin.get_inline_instances(request):
            formset = inline.get_formset(request)
            found += _drop_downs(formset.form, type(inline).__name__, parent=formset.fk.name)  # type: ignore[attr-defined]
    assert found == []


@pytest.fixture
def place_pickers(locations):
    Location.objects.filter(code="DEHAM").update(is_active=True)
    Location.objects.filter(code="DEBRV").update(is_active=False)  # Bremerhaven, closed for new orders


def test_the_integration_form_does_not_list_every_location(client, admin_user, customer_a, locations):
    client.force_login(admin_user)
    body = client.get("/admin/orders/integration/add/").content.decode()
    select = re.search(r'<select[^>]*id="id_default_origin".*?</select>', body, re.S)
    assert select is not None
    assert "admin-autocomplete" in select.group(0)
    assert select.group(0).count("<option") <= 1


def _places(client, term: str) -> list[str]:
    query = {"app_label": "orders", "model_name": "integration", "field_name": "default_origin", "term": term}
    response = client.get("/admin/autocomplete/", query)
    assert response.status_code == 200
    return [result["id"] for result in response.json()["results"]]


def test_the_place_picker_finds_places_as_the_order_screens_do(client, admin_user, place_pickers):
    """By UN/LOCODE (with or without its space), IATA code or name; the exact code first; closed places not."""
    client.force_login(admin_user)
    assert _places(client, "DE HAM")[0] == "DEHAM"
    assert "DEHAM" in _places(client, "hamburg")
    assert _places(client, "HAM")[0] == "DEHAM"  # Hamburg airport's IATA code
    assert "DEBRV" not in _places(client, "bremerhaven")


def test_staff_who_edit_integrations_may_use_the_place_picker(client, branch, place_pickers):
    """The picker answers to the view permission on places, which every staff role has with orders."""
    client.force_login(_member("sales@oms.test", branch, Role.SALES, is_staff=True))
    assert "DEHAM" in _places(client, "hamburg")


def test_places_are_listed_in_the_console_but_not_edited(client, admin_user, place_pickers):
    client.force_login(admin_user)
    listed = client.get("/admin/orders/location/", {"q": "hamburg"})
    assert listed.status_code == 200
    assert "DEHAM" in listed.content.decode()
    assert client.get("/admin/orders/location/add/").status_code == 403
