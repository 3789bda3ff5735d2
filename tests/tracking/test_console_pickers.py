"""The planning console picks organisations, places and shipments by typing (tracking/admin.py): a carrier's box
offers active carriers, a customer's active customers, a booking's shipment masters, and the forms accept only
those or the one the record has already. No form asks for an id typed as a number."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.test import RequestFactory
from django.urls import reverse

from orders.models import Location, Order
from partners.models import Organisation, OrganisationKind, User
from tests.factories import OrganisationFactory
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tracking.models import CarrierPreference, CarrierService, Shipment, ShipmentKind

LARGE = (Location, Organisation, Order, Shipment, User)


def _errors(response) -> str:
    return " ".join(re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S))


@pytest.fixture
def organisations(carrier, customer_a, branch):
    """An active carrier (NORDTRUCK), a closed one, a customer and a branch."""
    closed = OrganisationFactory(code="GONE", name="Gone Shipping", kinds=[OrganisationKind.CARRIER], is_active=False)
    return {"carrier": carrier, "closed": closed, "customer": customer_a, "branch": branch}


def _offered(client, model_name: str, field_name: str, term: str = "") -> set[str]:
    query = {"app_label": "tracking", "model_name": model_name, "field_name": field_name, "term": term}
    response = client.get("/admin/autocomplete/", query)
    assert response.status_code == 200
    return {result["text"] for result in response.json()["results"]}


def _codes(texts: set[str]) -> set[str]:
    return {text.split(" · ", 1)[0] for text in texts}  # an organisation reads "CODE · Name"


def test_every_large_table_on_a_planning_form_is_picked_by_typing(admin_user):
    """Services, preferences and records had drop-downs of every organisation; shipments, bookings, appointments
    and legs had boxes for an id typed as a number."""
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    pickers: list[str] = []
    others: list[str] = []
    for model_admin in admin.site._registry.values():
        if type(model_admin).__module__ != "tracking.admin":
            continue
        forms_of = [(type(model_admin).__name__, model_admin.get_form(request), "")]
        for inline in model_admin.get_inline_instances(request):
            formset = inline.get_formset(request)
            forms_of.append((type(inline).__name__, formset.form, formset.fk.name))  # type: ignore[attr-defined]
        for owner, form_class, parent in forms_of:
            for name, field in form_class.base_fields.items():
                if name == parent or not isinstance(field, forms.ModelChoiceField):
                    continue
                widget = getattr(field.widget, "widget", field.widget)  # unwrap RelatedFieldWidgetWrapper
                (pickers if isinstance(widget, AutocompleteSelect) else others).append(f"{owner}.{name}")
    assert others == []  # a booking's service and rate card are picked by typing too
    assert {"CarrierServiceAdmin.carrier", "CarrierPreferenceAdmin.customer", "ShipmentAdmin.origin",
            "BookingAdmin.shipment", "AppointmentAdmin.location"} <= set(pickers)  # fmt: skip


def test_a_carrier_box_offers_active_carriers_only(client, admin_user, organisations):
    client.force_login(admin_user)
    for model_name in ("carrierservice", "carrierpreference", "carrierrecord", "shipment", "booking"):
        assert _codes(_offered(client, model_name, "carrier")) == {"NORDTRUCK"}, model_name


def test_a_customer_box_offers_customers_and_a_branch_box_branches(client, admin_user, organisations):
    client.force_login(admin_user)
    assert _codes(_offered(client, "carrierpreference", "customer")) == {"ACME"}
    assert _codes(_offered(client, "shipment", "branch")) == {"HAM"}


def test_a_bookings_shipment_box_offers_masters_and_an_appointments_every_shipment(client, admin_user, booked_fcl):
    order, master = booked_fcl
    house = Shipment.objects.get(order=order, kind=ShipmentKind.HOUSE)
    client.force_login(admin_user)
    assert _offered(client, "booking", "shipment") == {master.reference}
    assert _offered(client, "appointment", "shipment") == {master.reference, house.reference}
    assert _offered(client, "booking", "shipment", term=house.reference) == set()


def _service_form(carrier: Organisation, **fields) -> dict:
    return {"carrier": carrier.pk, "mode": "ocean_fcl", "name": "AE7", "origin_code": "CNSHA",
            "destination_code": "DEHAM", "transit_days": "30", "departure_weekdays": "", "cargo_cutoff_hours": "24",
            "documentation_cutoff_hours": "48", "vgm_cutoff_hours": "24", "is_active": "on", **fields}  # fmt: skip


def test_a_service_of_an_organisation_that_is_no_carrier_is_refused(client, admin_user, organisations, locations):
    client.force_login(admin_user)
    response = client.post(reverse("admin:tracking_carrierservice_add"), _service_form(organisations["customer"]))
    assert response.status_code == 200
    assert "Select a valid choice" in _errors(response)
    assert not CarrierService.objects.exists()

    response = client.post(reverse("admin:tracking_carrierservice_add"), _service_form(organisations["carrier"]))
    assert response.status_code == 302, _errors(response)
    assert CarrierService.objects.get().carrier == organisations["carrier"]


def test_a_record_keeps_the_carrier_it_has_once_that_carrier_is_closed(client, admin_user, organisations):
    closed = organisations["closed"]
    service = CarrierService.objects.create(
        carrier=closed, mode="ocean_fcl", name="AE7", origin_code="CNSHA", destination_code="DEHAM", transit_days=30
    )
    client.force_login(admin_user)
    url = reverse("admin:tracking_carrierservice_change", args=[service.pk])
    response = client.post(url, _service_form(closed, transit_days="28"))
    assert response.status_code == 302, _errors(response)
    service.refresh_from_db()
    assert (service.carrier, service.transit_days) == (closed, 28)


def test_a_preference_for_a_carrier_that_is_no_customer_is_refused(client, admin_user, organisations):
    client.force_login(admin_user)
    form = {"carrier": organisations["carrier"].pk, "kind": "preferred", "customer": organisations["branch"].pk,
            "mode": "", "origin_code": "", "destination_code": "", "reason": "Contract 2026"}  # fmt: skip
    response = client.post(reverse("admin:tracking_carrierpreference_add"), form)
    assert response.status_code == 200
    assert "Select a valid choice" in _errors(response)
    assert not CarrierPreference.objects.exists()
    customer = organisations["customer"].pk
    response = client.post(reverse("admin:tracking_carrierpreference_add"), form | {"customer": customer})
    assert response.status_code == 302, _errors(response)
    assert CarrierPreference.objects.get().customer == organisations["customer"]


def test_a_houses_order_is_shown_not_picked(client, admin_user, booked_fcl):
    """The console does not register orders (nothing to type into a picker), and a house carries its order's cargo
    lines: its order was a box for an order id."""
    order, master = booked_fcl
    house = Shipment.objects.get(order=order, kind=ShipmentKind.HOUSE)
    client.force_login(admin_user)
    body = client.get(reverse("admin:tracking_shipment_change", args=[house.pk])).content.decode()
    assert 'name="order"' not in body
    assert order.reference in body
    master_page = client.get(reverse("admin:tracking_shipment_change", args=[master.pk])).content.decode()
    assert 'name="legs-0-carrier"' not in master_page  # its legs are shown, corrected on the shipment page
    assert "Correct on the shipment page" in master_page


def test_shipments_are_not_added_in_the_console(client, admin_user):
    """Planning makes them (reference series, cargo, legs): the form, without kind or reference, was a 500."""
    client.force_login(admin_user)
    assert client.get(reverse("admin:tracking_shipment_add")).status_code == 403
    assert (
        'href="/admin/tracking/shipment/add/"'
        not in client.get(reverse("admin:tracking_shipment_changelist")).content.decode()
    )
