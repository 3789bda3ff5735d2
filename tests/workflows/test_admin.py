"""The workflow console: an admin creates a template, adds its tasks to a draft, publishes it and the next
order gets those tasks; published versions are read-only; rules have a dry run; loads can be recounted. A team's
members, a rule's actions and a draft's tasks cost the same queries however many rows the page shows (review D)."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape

from orders.models import Order
from partners import services as partner_services
from tests.partners.test_admin import queries_with_3_rows
from workflows import services
from workflows.models import (
    AccountOwner,
    ActionKind,
    Rule,
    RuleAction,
    RuleCondition,
    RuleEvent,
    TaskDefinition,
    Team,
    TeamFunction,
    TeamMember,
    VersionStatus,
    WorkflowTemplate,
    WorkflowVersion,
)

from .conftest import definition, staff, tasks_of


def inline_data(definitions: list[dict], initial: int = 0) -> dict:
    data: dict[str, Any] = {
        "definitions-TOTAL_FORMS": str(len(definitions)), "definitions-INITIAL_FORMS": str(initial),
        "definitions-MIN_NUM_FORMS": "0", "definitions-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for n, fields in enumerate(definitions):
        values = {
            "position": n, "key": "", "name": "", "team_function": "operations", "instructions": "",
            "trigger_kind": "state", "trigger_state": "submitted", "trigger_code": "", "date_anchor": "",
            "date_offset_hours": "0", "due_in_hours": "8", "due_in_business_hours": "on", "due_anchor": "",
            "assign_rule": "least_loaded", "assignee": "", "depends_on": "", "auto_complete_kind": "",
            "auto_complete_value": "",
        }  # fmt: skip
        values.update(fields)
        for name, value in values.items():
            data[f"definitions-{n}-{name}"] = value
    return data


def test_an_admin_builds_a_template_in_the_console_and_the_next_order_gets_its_tasks(
    client, admin_user, make_order, ops_team, committed
):
    client.force_login(admin_user)
    created = client.post(reverse("admin:workflows_workflowtemplate_add"), {
        "name": "Ocean imports", "description": "", "is_active": "on", "mode": "ocean_fcl", "service_level": "",
        "trade_direction": "import", "customer": "", "branch": "",
    })  # fmt: skip
    draft = WorkflowVersion.objects.get(template__name="Ocean imports")
    assert created.url == reverse("admin:workflows_workflowversion_change", args=[draft.pk])
    data = {"note": "First cut", "_publish": "Save and publish"}
    data.update(inline_data([
        {"key": "customs", "name": "Clear import customs", "blocks": ["deliver"]},
        {"key": "notify", "name": "Send the arrival notice", "depends_on": "customs", "team_function": "documentation"},
    ]))  # fmt: skip
    response = client.post(reverse("admin:workflows_workflowversion_change", args=[draft.pk]), data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    draft.refresh_from_db()
    assert draft.status == VersionStatus.PUBLISHED
    with committed():
        order = make_order(submit=True)
    tasks = tasks_of(order)
    assert set(tasks) == {"customs", "notify"}
    assert (tasks["customs"].blocks, tasks["notify"].waiting_on) == (["deliver"], ["customs"])


def test_a_version_that_does_not_make_sense_is_not_published_from_the_console(client, admin_user, make_template):
    template = make_template("Ocean", [definition("a")])
    client.force_login(admin_user)
    client.post(reverse("admin:workflows_workflowtemplate_changelist"),
                {"action": "edit_tasks", "_selected_action": [template.pk]})  # fmt: skip
    draft = WorkflowVersion.objects.get(template=template, status=VersionStatus.DRAFT)
    existing = draft.definitions.get()
    data = {"note": "", "_publish": "1"}
    data.update(inline_data([{"id": existing.pk, "version": draft.pk, "key": "a", "name": "A", "depends_on": "ghost"}],
                            initial=1))  # fmt: skip
    response = client.post(reverse("admin:workflows_workflowversion_change", args=[draft.pk]), data, follow=True)
    assert "unknown task keys: ghost" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT


def test_published_versions_are_read_only(client, admin_user, make_template):
    template = make_template("Ocean", [definition("a")])
    client.force_login(admin_user)
    page = client.get(reverse("admin:workflows_workflowversion_change", args=[template.current_version.pk]))
    body = page.content.decode()
    assert "orders run on it, so its tasks cannot change" in body
    assert "Save and publish" not in body
    assert not page.context["inline_admin_formsets"][0].has_add_permission


def test_the_dry_run_action_shows_matching_orders(client, admin_user, make_order, ops_team, committed):
    with committed():
        big = make_order(submit=True, declared_value="90000", currency="EUR")
    rule = Rule.objects.create(name="High value", event=RuleEvent.ORDER_SUBMITTED)
    RuleCondition.objects.create(rule=rule, field="declared_value_amount", operator="gt", value="75000")
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_rule_changelist"),
                           {"action": "dry_run", "_selected_action": [rule.pk]})  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200
    assert big.reference in body
    assert "1 match" in body


def test_the_dry_run_page_says_which_orders_it_checked_and_when_it_could_not_check_the_event(
    client, admin_user, make_order, ops_team, committed
):
    with committed():
        make_order(submit=True)
    held = Rule.objects.create(name="Customs hold stops the order", event=RuleEvent.MILESTONE_RECORDED,
                               event_value="CUSTOMS_HOLD")  # fmt: skip
    unknown = Rule.objects.create(name="A later event", event="customs_cleared")  # a kind the dry run cannot look up
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_rule_changelist"),
                           {"action": "dry_run", "_selected_action": [held.pk, unknown.pk]})  # fmt: skip
    body = " ".join(response.content.decode().split())
    assert "Checked the 0 most recent orders on which milestone CUSTOMS_HOLD was recorded" in body
    assert body.count("The event is not checked:") == 1
    assert "Checked the 1 most recent submitted orders" in body


_serial = itertools.count(1)
ROW = re.compile(r'<tr><td><a href="/orders/([A-Z0-9-]+)/">')


def _copies(order: Order, n: int) -> None:
    """n more orders like `order` (submitted, the same value), written in bulk: the dry run reads orders as they are,
    not how they came."""
    base = Order.objects.get(pk=order.pk)
    fields = {field.attname: getattr(base, field.attname) for field in Order._meta.concrete_fields}
    Order.objects.bulk_create(
        Order(**{**fields, "id": None, "reference": f"HAM-26-9{k:05d}", "customer_reference": f"COPY-{k:05d}"})
        for k in (next(_serial) for _ in range(n))
    )


def test_the_dry_run_shows_the_newest_matches_and_how_many_more_in_the_same_queries(
    client, admin_user, make_order, ops_team, committed, django_assert_max_num_queries
):
    """Sixteenth session: the dry run listed every match (up to 200), a page of hundreds of rows. It gives the
    count, the 50 newest, and one line for the rest; a page of 3 matches costs the queries of one of 63."""
    with committed():
        oldest = make_order(submit=True, declared_value="90000", currency="EUR")
        make_order(submit=True, declared_value="100", currency="EUR")  # checked, not matched
    rule = Rule.objects.create(name="High value", event=RuleEvent.ORDER_SUBMITTED)
    RuleCondition.objects.create(rule=rule, field="declared_value_amount", operator="gt", value="75000")
    client.force_login(admin_user)

    def dry_run() -> str:
        response = client.post(reverse("admin:workflows_rule_changelist"),
                               {"action": "dry_run", "_selected_action": [rule.pk]})  # fmt: skip
        assert response.status_code == 200
        return " ".join(response.content.decode().split())

    _copies(oldest, 2)
    dry_run()  # warm the session
    with django_assert_max_num_queries(11) as few:
        body = dry_run()
    assert "<strong>3 match</strong>" in body
    assert len(ROW.findall(body)) == 3
    assert "more matching" not in body

    _copies(oldest, 60)
    with django_assert_max_num_queries(11) as many:
        body = dry_run()
    assert len(many) == len(few)
    assert "<strong>63 match</strong>" in body
    listed = ROW.findall(body)
    assert listed == list(
        Order.objects.exclude(declared_value_amount=100)
        .order_by("-created_at", "-id")
        .values_list("reference", flat=True)[:50]
    )  # the newest first
    assert oldest.reference not in listed  # among the 13 not listed
    assert "And 13 more matching orders, older than these 50." in body


def test_the_migrate_action_moves_orders_onto_the_new_version(
    client, admin_user, make_template, make_order, ops_team, committed
):
    template = make_template("Ocean", [definition("a")])
    with committed():
        order = make_order(submit=True)
    client.force_login(admin_user)
    client.post(reverse("admin:workflows_workflowtemplate_changelist"),
                {"action": "edit_tasks", "_selected_action": [template.pk]})  # fmt: skip
    draft = WorkflowVersion.objects.get(template=template, status=VersionStatus.DRAFT)
    TaskDefinition.objects.create(version=draft, **definition("b"))
    client.post(reverse("admin:workflows_workflowversion_changelist"),
                {"action": "publish", "_selected_action": [draft.pk], "post": "yes"})  # fmt: skip
    response = client.post(reverse("admin:workflows_workflowversion_changelist"),
                           {"action": "migrate_orders", "_selected_action": [draft.pk], "post": "yes"},
                           follow=True)  # fmt: skip
    assert "1 orders moved" in response.content.decode()
    assert set(tasks_of(order)) == {"a", "b"}


@pytest.mark.parametrize(
    "url",
    ["admin:workflows_team_changelist", "admin:workflows_rule_changelist", "admin:workflows_task_changelist",
     "admin:workflows_notification_changelist", "admin:workflows_orderworkflow_changelist",
     "admin:workflows_accountowner_changelist", "admin:workflows_branchcalendar_changelist",
     "admin:workflows_customersettings_changelist", "admin:workflows_rulerun_changelist"],
)  # fmt: skip
def test_every_console_list_opens(client, admin_user, url):
    client.force_login(admin_user)
    assert client.get(reverse(url)).status_code == 200


def test_staff_without_console_access_are_sent_to_log_in(client, ops_user):
    client.force_login(ops_user)
    assert client.get(reverse("admin:workflows_rule_changelist")).status_code == 302


# ---- People: active OMS staff only (review C) -------------------------------------------------------------------


def _team_form(ham, *members, lead: Any = "") -> dict[str, Any]:
    data = {
        "name": "Hamburg operations", "function": "operations", "branch": ham.pk, "lead": getattr(lead, "pk", lead),
        "is_active": "on", "members-TOTAL_FORMS": str(len(members)), "members-INITIAL_FORMS": "0",
    }  # fmt: skip
    for n, user in enumerate(members):
        data |= {f"members-{n}-user": user.pk, f"members-{n}-is_active": "on"}
    return data


def test_another_customers_person_cannot_be_put_in_our_team(client, admin_user, ham, ops_user, customer_b_user):
    """GLOBEX's portal user in our HAM team got ACME's tasks, with notifications and emails naming the orders."""
    client.force_login(admin_user)
    response = client.post(reverse("admin:workflows_team_add"), _team_form(ham, ops_user, customer_b_user))
    assert response.status_code == 200
    assert f"{customer_b_user} is not active OMS staff" in response.content.decode()
    assert not Team.objects.exists()
    assert not TeamMember.objects.exists()


def test_a_team_lead_is_active_oms_staff(client, admin_user, ham, ops_user, customer_a_user):
    client.force_login(admin_user)
    refused = client.post(reverse("admin:workflows_team_add"), _team_form(ham, ops_user, lead=customer_a_user))
    assert refused.status_code == 200
    assert "only active OMS staff lead a team" in refused.content.decode()
    saved = client.post(reverse("admin:workflows_team_add"), _team_form(ham, ops_user, lead=ops_user))
    assert saved.status_code == 302
    assert Team.objects.get().lead == ops_user


def test_an_account_owner_is_active_oms_staff(client, admin_user, customer_a, ops_user, customer_a_user):
    client.force_login(admin_user)
    url = reverse("admin:workflows_accountowner_add")
    refused = client.post(url, {"customer": customer_a.pk, "function": "operations", "user": customer_a_user.pk})
    assert refused.status_code == 200
    assert "only active OMS staff own a customer&#x27;s account" in refused.content.decode()
    assert (
        client.post(url, {"customer": customer_a.pk, "function": "operations", "user": ops_user.pk}).status_code == 302
    )
    assert AccountOwner.objects.get().user == ops_user


def test_a_leavers_row_may_stay_in_the_team_unticked(ops_team, ops2_user):
    partner_services.membership_revoke(membership=ops2_user.memberships.get())
    member = TeamMember.objects.get(team=ops_team, user=ops2_user)
    with pytest.raises(ValidationError, match="not active OMS staff"):
        member.full_clean()
    member.is_active = False
    member.full_clean()


@pytest.mark.parametrize(("model_name", "field_name"), [("teammember", "user"), ("team", "lead"),
                                                        ("accountowner", "user")])  # fmt: skip
def test_the_person_pickers_offer_active_staff_only(
    client, admin_user, ops_user, customer_b_user, carrier_user, model_name, field_name
):
    client.force_login(admin_user)
    query = {"app_label": "workflows", "model_name": model_name, "field_name": field_name, "term": ""}
    offered = {int(row["id"]) for row in client.get("/admin/autocomplete/", query).json()["results"]}
    assert ops_user.pk in offered
    assert admin_user.pk in offered
    assert not offered & {customer_b_user.pk, carrier_user.pk}


# ---- Pages that show rows inline (review D) ---------------------------------------------------------------------

serial = itertools.count(1)


def _named_person(ham) -> Any:
    n = next(serial)
    return staff(f"desk{n}@oms.test", ham, full_name=f"Desk Person {n}")


def _names_each_person(body: str, people: list[Any]) -> None:
    for person in people:
        assert f'<option value="{person.pk}" selected>{escape(person)}</option>' in body  # the row's person box


def test_a_teams_console_page_costs_the_same_queries_for_3_and_12_members(
    ham, admin_user, login, django_assert_num_queries
):
    """Each member row's person box and its title ("<person> in <team>") read the person and the team again: 15
    queries with 3 members, 42 with 12."""
    client = login(admin_user)
    team = Team.objects.create(branch=ham, function=TeamFunction.OPERATIONS, name="HAM Operations")
    path = reverse("admin:workflows_team_change", args=[team.pk])

    def add_members(n: int) -> None:
        for _ in range(n):
            TeamMember.objects.create(team=team, user=_named_person(ham))

    few = queries_with_3_rows(client, path, add_members)

    with django_assert_num_queries(few):
        body = client.get(path).content.decode()

    members = [member.user for member in team.members.select_related("user")]
    _names_each_person(body, members)
    assert all(f"{escape(person)} in HAM Operations" in body for person in members)  # the rows' titles


def test_a_rules_console_page_costs_the_same_queries_for_3_and_12_actions_naming_a_person(
    ham, admin_user, login, django_assert_num_queries
):
    """Each action's person box read its person again: 11 queries with 3 actions naming one, 20 with 12."""
    client = login(admin_user)
    rule = Rule.objects.create(name="Tell the desk", event=RuleEvent.ORDER_SUBMITTED)
    path = reverse("admin:workflows_rule_change", args=[rule.pk])

    def add_actions(n: int) -> None:
        for _ in range(n):
            RuleAction.objects.create(
                rule=rule, position=next(serial), kind=ActionKind.NOTIFY, user=_named_person(ham), message="New order"
            )

    few = queries_with_3_rows(client, path, add_actions)

    with django_assert_num_queries(few):
        body = client.get(path).content.decode()

    _names_each_person(body, [action.user for action in rule.actions.select_related("user")])


def test_a_draft_workflows_console_page_costs_the_same_queries_for_3_and_12_tasks_with_a_named_person(
    ham, admin_user, login, django_assert_num_queries
):
    """Each task's assignee box read its person again: 9 queries with 3 tasks naming one, 18 with 12."""
    client = login(admin_user)
    draft = services.version_draft_start(template=WorkflowTemplate.objects.create(name="Ocean"), by=admin_user)
    path = reverse("admin:workflows_workflowversion_change", args=[draft.pk])

    def add_tasks(n: int) -> None:
        for _ in range(n):
            position = next(serial)
            TaskDefinition.objects.create(
                version=draft, position=position, assignee=_named_person(ham), **definition(f"step-{position}")
            )

    few = queries_with_3_rows(client, path, add_tasks)

    with django_assert_num_queries(few):
        body = client.get(path).content.decode()

    _names_each_person(body, [task.assignee for task in draft.definitions.select_related("assignee")])


def test_an_action_naming_a_leaver_shows_them_and_is_saved_once_someone_else_is_picked(
    client, admin_user, ops_user, ops2_user
):
    """The box names the action's saved person from the row even when the picker no longer offers them (Django's
    box showed an empty box), and saving says why it refuses them."""
    rule = Rule.objects.create(name="Tell the desk", event=RuleEvent.ORDER_SUBMITTED)
    action = RuleAction.objects.create(rule=rule, kind=ActionKind.NOTIFY, user=ops2_user, message="New order")
    partner_services.membership_revoke(membership=ops2_user.memberships.get())
    client.force_login(admin_user)
    path = reverse("admin:workflows_rule_change", args=[rule.pk])
    _names_each_person(client.get(path).content.decode(), [ops2_user])
    data = {
        "name": rule.name, "event": rule.event, "event_value": "", "is_active": "on", "position": "0",
        "conditions-TOTAL_FORMS": "0", "conditions-INITIAL_FORMS": "0",
        "actions-TOTAL_FORMS": "1", "actions-INITIAL_FORMS": "1", "actions-0-id": action.pk, "actions-0-rule": rule.pk,
        "actions-0-position": "0", "actions-0-kind": "notify", "actions-0-due_in_hours": "4",
        "actions-0-user": ops2_user.pk, "actions-0-message": "New order",
    }  # fmt: skip

    refused = client.post(path, data)

    assert refused.status_code == 200
    assert "Rules can only name active OMS staff." in refused.content.decode()
    assert client.post(path, data | {"actions-0-user": ops_user.pk}).status_code == 302
    action.refresh_from_db()
    assert action.user == ops_user
