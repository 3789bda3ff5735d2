"""What an administrator setting OMS up for the first time types into the console is kept the way the rest of OMS
reads it, or refused in words that say how to write it (review R4: a walk through the console at 1280 px)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib import admin
from django.test import RequestFactory

from partners.models import Address, Organisation, OrganisationKind
from tests.factories import OrganisationFactory
from workflows.admin import RuleConditionForm, TaskDefinitionForm
from workflows.models import BranchCalendar, Team
from workflows.services.profiles import profile_from, trade_direction


def _organisation_post(**overrides: str) -> dict[str, str]:
    data = {
        "code": "newco", "name": "NewCo Trading", "kinds": "customer", "default_currency": "usd",
        "time_zone": "Europe/Berlin", "is_active": "on", "may_place_orders": "on",
        "addresses-TOTAL_FORMS": "1", "addresses-INITIAL_FORMS": "0",
        "addresses-0-kind": "registered", "addresses-0-line1": "Hafenstr. 1", "addresses-0-city": "Hamburg",
        "addresses-0-country": "de",
        "contacts-TOTAL_FORMS": "0", "contacts-INITIAL_FORMS": "0",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
    }  # fmt: skip
    return {**data, **overrides}


def test_an_organisations_currency_and_address_country_typed_in_lower_case_are_saved_in_capitals(admin_user, login):
    response = login(admin_user).post("/admin/partners/organisation/add/", _organisation_post())

    assert response.status_code == 302, response.context["adminform"].form.errors
    organisation = Organisation.objects.get(code="NEWCO")
    assert organisation.default_currency == "USD"
    assert Address.objects.get(organisation=organisation).country == "DE"


def test_what_is_no_country_code_is_still_refused_and_nothing_is_saved(admin_user, login):
    response = login(admin_user).post(
        "/admin/partners/organisation/add/", _organisation_post(**{"addresses-0-country": "d1"})
    )

    assert response.status_code == 200
    assert "Use the ISO 3166 two-letter country code, e.g. DE." in response.content.decode()
    assert not Organisation.objects.filter(code="NEWCO").exists()


def _calendar_post(branch: Organisation, **overrides: str) -> dict[str, str]:
    data = {"branch": str(branch.pk), "opens_at": "08:00", "closes_at": "18:00", "workdays": "0,1,2,3,4",
            "holidays": "", "country": ""}  # fmt: skip
    return {**data, **overrides}


def test_a_branch_calendars_country_in_lower_case_is_saved_in_capitals_so_trade_directions_match(
    admin_user, branch, login
):
    response = login(admin_user).post("/admin/workflows/branchcalendar/add/", _calendar_post(branch, country="de"))

    assert response.status_code == 302
    calendar = BranchCalendar.objects.get(branch=branch)
    assert calendar.country == "DE"
    profile = profile_from(time_zone="Europe/Berlin", calendar=calendar, address_country=None)
    assert trade_direction(origin_country="DE", destination_country="US", branch_country=profile.country) == "export"


@pytest.mark.parametrize("typed", ["d", "d1", "1D"])
def test_a_branch_calendars_country_that_is_no_code_is_refused_in_words(admin_user, branch, login, typed):
    response = login(admin_user).post("/admin/workflows/branchcalendar/add/", _calendar_post(branch, country=typed))

    assert response.status_code == 200
    assert "Use the ISO 3166 two-letter country code, e.g. DE" in response.content.decode()
    assert not BranchCalendar.objects.filter(branch=branch).exists()


def test_a_mistyped_holiday_is_named_with_how_to_write_it(admin_user, branch, login):
    response = login(admin_user).post(
        "/admin/workflows/branchcalendar/add/", _calendar_post(branch, holidays="2026-12-25, 24.12.2026")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["holidays"]
    assert errors == [
        "Not a date: 24.12.2026. Write each holiday as YYYY-MM-DD, separated by commas, e.g. 2026-12-24, 2026-12-25."
    ]
    assert not BranchCalendar.objects.filter(branch=branch).exists()


def test_holidays_are_saved_in_order_once_each_and_a_trailing_comma_is_no_error(admin_user, branch, login):
    holidays = "2026-12-26, 2026-12-25, 2026-12-25,"
    response = login(admin_user).post("/admin/workflows/branchcalendar/add/", _calendar_post(branch, holidays=holidays))

    assert response.status_code == 302
    assert BranchCalendar.objects.get(branch=branch).holidays == [
        datetime.date(2026, 12, 25),
        datetime.date(2026, 12, 26),
    ]


def test_a_branchs_calendar_shows_its_holidays_on_its_page(admin_user, branch, login):
    calendar = BranchCalendar.objects.create(branch=branch, holidays=[datetime.date(2026, 12, 25)])

    response = login(admin_user).get(f"/admin/workflows/branchcalendar/{calendar.pk}/change/")

    assert 'value="2026-12-25"' in response.content.decode()


def test_a_second_calendar_for_a_branch_is_refused_in_words(admin_user, branch, login):
    BranchCalendar.objects.create(branch=branch)

    response = login(admin_user).post("/admin/workflows/branchcalendar/add/", _calendar_post(branch))

    assert response.context["adminform"].form.errors["branch"] == [
        "This branch has its business hours already: change them in the list instead."
    ]


def test_a_second_team_for_a_branch_and_function_is_refused_in_words(admin_user, branch, login):
    Team.objects.create(name="Ops HAM", branch=branch, function="operations")
    data = {"name": "Air export HAM", "branch": str(branch.pk), "function": "operations", "is_active": "on",
            "members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0"}  # fmt: skip

    response = login(admin_user).post("/admin/workflows/team/add/", data)

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "This branch has a team for this function already: add the people to that team instead."
    ]
    assert Team.objects.filter(branch=branch).count() == 1


def _admin_field_help(admin_user, model: type, field: str) -> str:
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    return str(admin.site._registry[model].get_form(request)().fields[field].help_text)


@pytest.mark.parametrize(
    ("label", "field", "says"),
    [
        ("partners.Membership", "role", "the customer role in a customer"),
        ("partners.Membership", "is_active", "Untick to end the role"),
        ("workflows.Team", "function", "the order's branch decides which team gets it"),
        ("workflows.BranchCalendar", "holidays", "YYYY-MM-DD"),
        ("workflows.BranchCalendar", "branch", "a branch without one works Monday to Friday"),
        ("tracking.Milestone", "definition", "What has happened when this milestone is recorded"),
        ("tracking.MappingRule", "scheme", "The code list the code comes from"),
        ("tracking.MappingRule", "location_role", "Anywhere: wherever the event happened"),
        ("tracking.CarrierService", "transit_days", "Days from departure to arrival"),
    ],
)
def test_console_fields_a_newcomer_must_interpret_say_how(admin_user, label, field, says):
    from django.apps import apps

    assert says in _admin_field_help(admin_user, apps.get_model(label), field)


@pytest.mark.parametrize(
    ("form", "field", "says"),
    [
        (RuleConditionForm, "value", "several, separated by commas, for 'is one of'"),
        (TaskDefinitionForm, "position", "lowest first"),
        (TaskDefinitionForm, "team_function", "the order's branch decides which team"),
        (TaskDefinitionForm, "trigger_kind", "What makes the task appear"),
        (TaskDefinitionForm, "date_anchor", "the order's date the task is timed from"),
        (TaskDefinitionForm, "assign_rule", "Who gets the task"),
        (TaskDefinitionForm, "auto_complete_kind", "completes by itself"),
    ],
)
def test_the_rule_and_task_fields_of_the_inlines_say_how(db, form, field, says):
    assert says in str(form().fields[field].help_text)


def test_the_memberships_role_help_is_on_the_persons_page_too(admin_user, login):
    response = login(admin_user).get(f"/admin/partners/user/{admin_user.pk}/change/")

    assert "the customer role in a customer" in response.content.decode()


def test_the_console_starts_its_sidebar_closed_below_1600_px_before_djangos_script_reads_it(admin_user, login):
    page = login(admin_user).get("/admin/workflows/orderworkflow/").content.decode()

    default = page.index('id="console-sidebar-default"')
    assert "window.innerWidth < 1600" in page[default:]
    assert 'localStorage.setItem("django.admin.navSidebarIsOpen", "false")' in page[default:]
    # Django's script comes first in the page but is deferred: it reads the choice after this one has run.
    assert page.index('admin/js/nav_sidebar.js" defer') < default


def _kept_record(customer: Organisation) -> None:
    """A row that keeps its organisation on file (on_delete=PROTECT), as orders do."""
    from orders.models import Integration

    Integration.objects.create(customer=customer, kind="generic", name="shop", secret="whsec_x")


def test_deleting_an_organisation_that_has_records_says_to_close_it_instead(admin_user, customer_a, login):
    _kept_record(customer_a)

    response = login(admin_user).get(f"/admin/partners/organisation/{customer_a.pk}/delete/")

    page = response.content.decode()
    assert "close it instead: open it and untick <strong>Is active</strong>" in page
    assert Organisation.objects.filter(pk=customer_a.pk).exists()


def test_deleting_organisations_from_the_list_says_to_close_them_instead(admin_user, customer_a, login):
    _kept_record(customer_a)

    response = login(admin_user).post(
        "/admin/partners/organisation/", {"action": "delete_selected", "_selected_action": [customer_a.pk]}
    )

    assert "close it instead" in response.content.decode()
    assert Organisation.objects.filter(pk=customer_a.pk).exists()


def test_an_organisation_without_records_is_deleted_without_the_hint(admin_user, customer_a, login):
    response = login(admin_user).get(f"/admin/partners/organisation/{customer_a.pk}/delete/")

    assert "close it instead" not in response.content.decode()
    assert "Yes, I’m sure" in response.content.decode()


def test_branch_calendars_and_customer_settings_are_listed_by_code(admin_user, login):
    from workflows.models import CustomerSettings

    for code in ("AMS", "ZRH"):  # Django lists the newest first without an ordering
        branch = OrganisationFactory(code=code, kinds=[OrganisationKind.BRANCH])
        BranchCalendar.objects.create(branch=branch)
    for code in ("ALPHA", "ZETA"):
        CustomerSettings.objects.create(customer=OrganisationFactory(code=code))
    client = login(admin_user)

    calendars = client.get("/admin/workflows/branchcalendar/").context["cl"].result_list
    settings = client.get("/admin/workflows/customersettings/").context["cl"].result_list

    assert [calendar.branch.code for calendar in calendars] == ["AMS", "ZRH"]
    assert [row.customer.code for row in settings] == ["ALPHA", "ZETA"]
