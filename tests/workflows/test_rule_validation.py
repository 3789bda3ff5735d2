"""Automation rules compare what can happen (review D): an event value or a condition that can never match is
refused when the rule is saved, with the valid choices named; labels are taken for their codes. "Order enters a
state" with "Confirmd" or a condition "Customer code is ACMEE" saved, and the rule silently never fired."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import OrganisationFactory
from workflows.models import BranchCalendar, Rule, RuleCondition, RuleEvent


def _errors(response) -> str:
    return " ".join(re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S))


def _rule_form(**fields) -> dict:
    data = {
        "name": "Welcome call", "event": "order_entered_state", "event_value": "confirmed", "is_active": "on",
        "position": "0", "conditions-TOTAL_FORMS": "0", "conditions-INITIAL_FORMS": "0",
        "actions-TOTAL_FORMS": "1", "actions-INITIAL_FORMS": "0", "actions-0-position": "0",
        "actions-0-kind": "create_task", "actions-0-task_name": "Call the customer",
        "actions-0-team_function": "sales", "actions-0-due_in_hours": "4",
    }  # fmt: skip
    return data | fields


def _condition(field: str, value: str, operator: str = "eq") -> dict:
    return {"conditions-TOTAL_FORMS": "1", "conditions-0-field": field, "conditions-0-operator": operator,
            "conditions-0-value": value}  # fmt: skip


def test_a_rule_for_a_state_that_does_not_exist_is_refused_naming_the_states(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_rule_add"), _rule_form(event_value="Confirmd"))
    assert response.status_code == 200
    assert "Confirmd is not an order state. Use one of: submitted, confirmed" in _errors(response)
    assert not Rule.objects.exists()


def test_a_state_written_as_the_screens_write_it_is_saved_as_its_code(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_rule_add"), _rule_form(event_value="In transit"))
    assert response.status_code == 302, _errors(response)
    assert Rule.objects.get().event_value == "in_transit"


def test_a_rule_condition_on_a_customer_that_does_not_exist_is_refused(client, admin_user, customer_a):
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_rule_add"), _rule_form(**_condition("customer", "ACMEE")))
    assert response.status_code == 200
    assert "No customer has the code ACMEE." in _errors(response)
    assert not Rule.objects.exists()


def test_a_rule_condition_on_existing_customers_is_saved_as_their_codes(client, admin_user, customer_a, customer_b):
    client.force_login(admin_user)
    form = _rule_form(**_condition("customer", "acme, globex", operator="in"))
    response = client.post(reverse("admin:workflows_rule_add"), form)
    assert response.status_code == 302, _errors(response)
    assert Rule.objects.get().conditions.get().value == "ACME, GLOBEX"


@pytest.mark.parametrize(
    ("event", "typed", "stored"),
    [
        (RuleEvent.ORDER_ENTERED_STATE, "ON_HOLD", "on_hold"),
        (RuleEvent.MILESTONE_RECORDED, "customs_hold", "CUSTOMS_HOLD"),
        (RuleEvent.MILESTONE_RECORDED, "Departed", "DEPARTED"),
        (RuleEvent.EXCEPTION_OPENED, "Customs hold", "customs_hold"),
        (RuleEvent.DOCUMENT_UPLOADED, "hbl", "HBL"),
        (RuleEvent.TASK_OVERDUE, "Customs", "customs"),
        (RuleEvent.ORDER_SUBMITTED, "  ", ""),
    ],
)
def test_an_event_value_is_stored_as_the_code_the_event_carries(db, event, typed, stored):
    made = Rule(name="r", event=event, event_value=typed)
    made.clean()
    assert made.event_value == stored


@pytest.mark.parametrize(
    ("event", "typed", "message"),
    [
        (RuleEvent.MILESTONE_RECORDED, "DEPARTD", "DEPARTD is not a milestone code. Use one of: "),
        (RuleEvent.EXCEPTION_OPENED, "flood", "flood is not an exception kind. Use one of: milestone_overdue"),
        (RuleEvent.TASK_OVERDUE, "ops", "ops is not a team. Use one of: sales, operations"),
        (RuleEvent.DOCUMENT_UPLOADED, "bill of lading", "bill of lading is not a document type"),
        (RuleEvent.ORDER_SUBMITTED, "submitted", "“Order submitted” takes no value: leave it blank."),
    ],
)
def test_an_event_value_the_event_never_carries_is_refused(db, event, typed, message):
    with pytest.raises(ValidationError) as refused:
        Rule(name="r", event=event, event_value=typed).clean()
    assert message in refused.value.message_dict["event_value"][0]


@pytest.mark.parametrize(
    ("field", "operator", "typed", "stored"),
    [
        ("mode", "eq", "Ocean FCL", "ocean_fcl"),
        ("incoterm", "in", "fob, CIF", "FOB, CIF"),
        ("status", "ne", "In transit", "in_transit"),
        ("trade_direction", "eq", "Cross-trade", "cross_trade"),
        ("channel", "not_in", "API, Customer portal", "api, portal"),
        ("service_level", "eq", "EXPRESS", "express"),
        ("origin", "eq", "de ham", "DEHAM"),
        ("destination_country", "in", "cn, us", "CN, US"),
        ("branch", "eq", "ham", "HAM"),
    ],
)
def test_condition_values_are_stored_as_the_codes_the_order_has(branch, locations, field, operator, typed, stored):
    condition = RuleCondition(field=field, operator=operator, value=typed)
    condition.clean()
    assert condition.value == stored


@pytest.mark.parametrize(
    ("field", "operator", "typed", "message"),
    [
        ("mode", "eq", "sea", "No mode is called sea. Use one of: ocean_fcl, ocean_lcl, air"),
        ("incoterm", "in", "FOB, FOX", "No incoterm is called FOX."),
        ("branch", "eq", "HAMB", "No branch has the code HAMB. Branches: HAM."),
        ("customer", "in", "ACME, NORDTRUCK", "No customer has the code NORDTRUCK."),
        ("origin", "eq", "DEHAX", "No place has the UN/LOCODE DEHAX."),
        ("origin_country", "eq", "XX", "XX: use ISO country codes"),
        ("customer", "eq", "ACME, GLOBEX", "“is” and “is not” compare with one value; for several, use “is one of”."),
    ],
)
def test_condition_values_that_can_never_match_are_refused(
    branch, customer_a, carrier, locations, field, operator, typed, message
):
    with pytest.raises(ValidationError) as refused:
        RuleCondition(field=field, operator=operator, value=typed).clean()
    assert message in refused.value.message_dict["value"][0]


@pytest.mark.parametrize("typed", ["NaN", "nan", "sNaN", "Infinity", "-inf", "25 t"])
def test_a_numeric_condition_that_is_not_a_finite_number_is_refused(db, typed):
    """Decimal("NaN") parses, and a rule holding it raised on every order submitted after (review C)."""
    with pytest.raises(ValidationError) as refused:
        RuleCondition(field="gross_weight_kg", operator="gt", value=typed).clean()
    assert refused.value.message_dict["value"] == ["Enter a number, e.g. 25000."]


def test_a_numeric_condition_of_nan_is_refused_in_the_console(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_rule_add"), _rule_form(
        event="order_submitted", event_value="", **_condition("gross_weight_kg", "NaN", "gt")
    ))  # fmt: skip
    assert response.status_code == 200
    assert "Enter a number, e.g. 25000." in _errors(response)
    assert not Rule.objects.exists()


def test_a_rule_for_orders_entering_draft_is_refused(client, admin_user):
    """Review C: "Order enters a state: Draft" saved and never fired: an order is created in draft, never enters it."""
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_rule_add"), _rule_form(event_value="Draft"))
    assert response.status_code == 200
    assert "No order enters draft: orders are created in it. Use one of: submitted, confirmed" in _errors(response)
    assert not Rule.objects.exists()


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("3000", "A due time counted in business hours can be at most 2000 hours"),
        ("-4", "A rule&#x27;s task is due after it is made: enter 0 hours or more."),
    ],
)
def test_a_rule_tasks_due_time_the_engine_cannot_keep_is_refused(client, admin_user, hours, message):
    """Review C: "create a task due in 3000 hours" (business hours: more than 400 days of a five-day week) was saved,
    and every order the rule met then failed its workflow; a negative one is overdue the moment it is made."""
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_rule_add"), _rule_form(**{"actions-0-due_in_hours": hours}))
    assert response.status_code == 200
    assert message in _errors(response)
    assert not Rule.objects.exists()


def test_the_rule_console_says_a_tasks_due_hours_are_business_hours(client, admin_user):
    """Review C: a rule's task always counts the branch's business hours (a template's task has a box for it); the
    console said only "Due in hours: 4", and an admin writing 24 for "within a day" got two and a half days."""
    client.force_login(admin_user)
    page = client.get(reverse("admin:workflows_rule_add")).content.decode()
    start = page.index('id="id_actions-0-due_in_hours"')
    assert "business hours of the order's branch" in page[start : start + 1500]


def _calendar_form(branch, **fields) -> dict:
    return {"branch": branch.pk, "opens_at": "08:00", "closes_at": "18:00", "workdays": "0,1,2,3,4",
            "holidays": "", "country": "DE", **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"closes_at": "07:00"}, "The branch closes after it opens, on the same day."),
        ({"workdays": "0,1,7"}, "Workdays are 0 (Monday) to 6 (Sunday)."),
    ],
)
def test_business_hours_the_constraints_refuse_are_refused_in_words(client, admin_user, branch, fields, message):
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_branchcalendar_add"), _calendar_form(branch, **fields))
    assert response.status_code == 200
    assert "Constraint “" not in response.content.decode()
    assert message in _errors(response)
    assert not BranchCalendar.objects.exists()


def test_business_hours_are_saved_with_their_workdays_in_order(client, admin_user, branch):
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_branchcalendar_add"), _calendar_form(branch, workdays="4,0,2,2"))
    assert response.status_code == 302, _errors(response)
    assert BranchCalendar.objects.get().workdays == [0, 2, 4]


@pytest.mark.parametrize("url", ["admin:workflows_team_add", "admin:workflows_branchcalendar_add"])
def test_a_branch_is_picked_by_typing(client, admin_user, branch, url):
    OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=["branch"])
    client.force_login(admin_user)
    body = client.get(reverse(url)).content.decode()
    field = re.search(r'<select[^>]*id="id_branch"[^>]*>', body)
    assert field is not None
    assert "admin-autocomplete" in field.group(0)
