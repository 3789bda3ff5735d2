"""Console → Exception rules, and the tracking console's other forms: what the tables' constraints refuse is said in
words (not "Constraint “…” is violated."), a rule's customer is picked by code or name among customers, and "Notify
customer" is not ticked silently for a customer that cannot be emailed. The first three tests are review D's."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.db.models import CheckConstraint, Model, UniqueConstraint
from django.urls import reverse

from partners.models import Organisation
from tracking.exceptions.models import ExceptionRule
from tracking.models import CarrierRecord, CarrierService

RAW_CONSTRAINT = "Constraint “"


def _errors(response) -> str:
    """The console's error lists, as text: what the admin is told."""
    return " ".join(re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S))


# --- review D ---------------------------------------------------------------------------------------------------


def test_a_negative_exception_threshold_is_refused_in_words(client, admin_user, customer_a):
    client.force_login(admin_user)
    form = {"kind": "damage", "customer": customer_a.pk, "threshold_hours": "-4", "severity": "2", "is_active": "on"}
    response = client.post(reverse("admin:tracking_exceptionrule_add"), form)
    assert response.status_code == 200
    body = response.content.decode()
    assert "exception_rule_threshold_positive" not in body
    assert RAW_CONSTRAINT not in body
    assert not ExceptionRule.objects.filter(customer=customer_a).exists()
    assert "The threshold is hours of tolerance, 0 or more (0: at once)." in _errors(response)


def test_a_negative_threshold_edited_in_the_exception_rule_list_is_refused_in_words(client, admin_user, customer_a):
    rule = ExceptionRule.objects.create(kind="damage", customer=customer_a, threshold_hours=0, severity=2)
    client.force_login(admin_user)
    data = {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(rule.pk),
        "form-0-threshold_hours": "-1", "form-0-severity": "2", "form-0-is_active": "on", "_save": "Save",
    }  # fmt: skip
    response = client.post(reverse("admin:tracking_exceptionrule_changelist") + f"?customer__id__exact={customer_a.pk}",
                           data)  # fmt: skip
    body = response.content.decode()
    assert "exception_rule_threshold_positive" not in body
    assert RAW_CONSTRAINT not in body
    rule.refresh_from_db()
    assert rule.threshold_hours == 0
    assert "The threshold is hours of tolerance, 0 or more (0: at once)." in _errors(response)


def test_the_exception_rule_customer_is_picked_by_name_not_typed_as_an_id(client, admin_user, customer_a):
    """Every other console form picks an organisation by code or name (autocomplete); the exception rule's customer
    is a raw id box: the admin must know ACME's database id."""
    client.force_login(admin_user)
    body = client.get(reverse("admin:tracking_exceptionrule_add")).content.decode()
    field = re.search(r'<(input|select)[^>]*id="id_customer"[^>]*>', body)
    assert field is not None
    assert "vForeignKeyRawIdAdminField" not in field.group(0)


# --- the customer picker ----------------------------------------------------------------------------------------


def test_the_customer_picker_offers_customers_only(client, admin_user, customer_a, customer_b, carrier, branch):
    client.force_login(admin_user)
    query = {"app_label": "tracking", "model_name": "exceptionrule", "field_name": "customer", "term": ""}
    response = client.get(reverse("admin:autocomplete"), query)
    assert response.status_code == 200
    offered = {int(item["id"]) for item in response.json()["results"]}
    assert offered == {customer_a.pk, customer_b.pk}

    found = client.get(reverse("admin:autocomplete"), {**query, "term": customer_a.name[:4]}).json()["results"]
    assert [int(item["id"]) for item in found] == [customer_a.pk]


# --- notifying a customer that has no email address -------------------------------------------------------------


def _rule_form(**fields) -> dict:
    return {"kind": "damage", "threshold_hours": "0", "severity": "3", "is_active": "on", **fields}


def test_notifying_a_customer_without_an_email_address_is_refused_in_words(client, admin_user, customer_a):
    assert customer_a.email == ""
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:tracking_exceptionrule_add"), _rule_form(customer=customer_a.pk, notify_customer="on")
    )
    assert response.status_code == 200
    assert f"{customer_a.code} has no email address, so the customer would not be told" in _errors(response)
    assert not ExceptionRule.objects.filter(customer=customer_a).exists()


def test_notifying_a_customer_with_an_email_address_is_saved(client, admin_user, customer_a):
    Organisation.objects.filter(pk=customer_a.pk).update(email="ops@acme.example")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:tracking_exceptionrule_add"), _rule_form(customer=customer_a.pk, notify_customer="on")
    )
    assert response.status_code == 302, _errors(response)
    assert ExceptionRule.objects.get(customer=customer_a).notify_customer


def test_notifying_every_customer_names_those_without_an_address(client, admin_user, customer_a, customer_b):
    Organisation.objects.filter(pk=customer_b.pk).update(email="ops@globex.example")
    ExceptionRule.objects.filter(kind="damage", mode="", customer=None).delete()
    client.force_login(admin_user)
    response = client.post(reverse("admin:tracking_exceptionrule_add"), _rule_form(notify_customer="on"), follow=True)
    assert ExceptionRule.objects.get(kind="damage", mode="", customer=None).notify_customer
    [warning] = re.findall(r'<li class="warning">(.*?)</li>', response.content.decode(), re.S)
    assert warning == (
        f"Customers without an email address are not emailed when this rule applies to them: {customer_a.code}. "
        "Add the address on each organisation."
    )


# --- the other constraints --------------------------------------------------------------------------------------


def _constraints():
    """The constraints of planning's tables (tracking/models/) and of the exception rules."""
    models: list[type[Model]] = [ExceptionRule]
    models += [model for model in apps.get_app_config("tracking").get_models() if model.__module__ == "tracking.models"]
    for model in models:
        for constraint in model._meta.constraints:
            if isinstance(constraint, CheckConstraint | UniqueConstraint):
                yield pytest.param(constraint, id=constraint.name)


@pytest.mark.parametrize("constraint", list(_constraints()))
def test_every_planning_and_rule_constraint_says_what_is_wrong(constraint):
    assert constraint.violation_error_message != constraint.default_violation_error_message


def test_a_service_with_no_transit_time_is_refused_in_words(client, admin_user, carrier):
    client.force_login(admin_user)
    form = {
        "carrier": carrier.pk, "name": "Baltic Express", "mode": "road_ftl", "origin_code": "DEHAM",
        "destination_code": "PLWAW", "transit_days": "0", "cargo_cutoff_hours": "24",
        "documentation_cutoff_hours": "48", "vgm_cutoff_hours": "24", "is_active": "on",
    }  # fmt: skip
    response = client.post(reverse("admin:tracking_carrierservice_add"), form)
    assert response.status_code == 200
    assert RAW_CONSTRAINT not in response.content.decode()
    assert "The transit time is at least one day." in _errors(response)
    assert not CarrierService.objects.exists()


def test_an_on_time_score_above_one_is_refused_in_words(client, admin_user, carrier):
    client.force_login(admin_user)
    form = {"carrier": carrier.pk, "on_time_score": "1.5", "measured_legs": "3"}
    response = client.post(reverse("admin:tracking_carrierrecord_add"), form)
    assert response.status_code == 200
    assert RAW_CONSTRAINT not in response.content.decode()
    assert "The on-time score is between 0 and 1 (0.5: neutral)." in _errors(response)
    assert not CarrierRecord.objects.filter(carrier=carrier, on_time_score=Decimal("1.5")).exists()


def test_a_second_rule_for_the_same_scope_is_refused_in_words(client, admin_user, customer_a):
    ExceptionRule.objects.create(kind="damage", customer=customer_a, threshold_hours=0, severity=2)
    client.force_login(admin_user)
    response = client.post(reverse("admin:tracking_exceptionrule_add"), _rule_form(customer=customer_a.pk))
    assert response.status_code == 200
    assert "There is a rule for this kind, mode and customer already: change that one." in _errors(response)
