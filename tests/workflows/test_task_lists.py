"""Which task list shows a task: a task of no team (its branch has no team for that work) in My teams of the
branch's staff and in the Overdue list of the branch's operations lead and the admins; what the Done list offers;
and what bulk complete says when it cannot."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from partners.models import OrganisationKind, Role
from tests.factories import OrganisationFactory
from workflows.models import AssignRule, Task, TaskState, TeamFunction

from .conftest import definition, staff, tasks_of


@pytest.fixture
def customs_order(make_template, make_order, ops_team, committed):
    """HAM has an operations team and no customs team: the customs task is made with no team."""
    make_template("Ocean", [
        definition("book", name="Book container space"),
        definition("customs", name="File the export declaration", team_function=TeamFunction.CUSTOMS),
    ])  # fmt: skip
    with committed():
        return make_order(submit=True)


@pytest.fixture
def order(make_template, make_order, ops_team, committed):
    make_template("Ocean", [
        definition("book", name="Book container space", blocks=["confirm"]),
        definition("queue", name="Check the cargo list", assign_rule=AssignRule.TEAM_QUEUE),
        definition("prealert", name="Send the pre-alert", depends_on=["book"]),
    ])  # fmt: skip
    with committed():
        return make_order(submit=True)


def listed(client, name: str, **query: str) -> list[int]:
    return [task.pk for task in client.get(reverse(name), query).context["page"]]


def test_a_task_of_no_team_is_in_my_teams_of_the_branchs_staff_and_overdue_for_its_lead_and_admins(
    login, customs_order, ops_user, ops2_user, admin_user
):
    """The customs task has no team and no assignee. Mine, My teams and Overdue all filtered on the team, so it was in
    nobody's list, overdue or not, admins' included: it was found only by opening the order."""
    task = tasks_of(customs_order)["customs"]
    assert (task.team_id, task.assignee_id, task.state) == (None, None, TaskState.OPEN)
    Task.objects.filter(pk=task.pk).update(due_at=timezone.now() - datetime.timedelta(hours=5))

    member = login(ops2_user)
    assert task.pk in listed(member, "workflows:team_tasks")
    assert listed(member, "workflows:team_tasks", team="none") == [task.pk]
    assert task.pk not in listed(member, "workflows:overdue_tasks")
    lead = login(ops_user)  # the lead of HAM's operations team
    assert task.pk in listed(lead, "workflows:team_tasks")
    assert task.pk in listed(lead, "workflows:overdue_tasks")
    tabs = {tab["key"]: tab["count"] for tab in lead.get(reverse("workflows:team_tasks")).context["tabs"]}
    assert tabs["team"] == Task.objects.filter(state=TaskState.OPEN).count()  # the count is the list's
    assert task.pk in listed(login(admin_user), "workflows:overdue_tasks")


def test_a_task_of_no_team_stays_out_of_the_lists_of_another_branchs_staff(login, customs_order, company):
    shanghai = OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH], parent=company)
    li = staff("li@oms.test", shanghai, Role.OPERATIONS, full_name="Li Wei")
    assert tasks_of(customs_order)["customs"].pk not in listed(login(li), "workflows:team_tasks")


def test_the_done_list_offers_no_claim_button_on_a_finished_task(login, order, ops_user):
    """A queue task completed without being claimed stays unassigned: the Done list showed it as "Team queue" with
    a Claim button, which could only answer "This task is done.", and still said it "blocks confirm"."""
    queue, book = tasks_of(order)["queue"], tasks_of(order)["book"]
    client = login(ops_user)
    client.post(reverse("workflows:task_complete", args=[queue.pk]))
    client.post(reverse("workflows:task_complete", args=[book.pk]))
    assert Task.objects.get(pk=queue.pk).state == TaskState.DONE

    page = client.get(reverse("workflows:team_tasks"), {"due": "done"})
    body = page.content.decode()
    assert queue in list(page.context["page"])
    assert reverse("workflows:task_claim", args=[queue.pk]) not in body
    assert "Team queue" not in body
    assert "blocks confirm" not in body
    assert ops_user.get_full_name() in body  # who did it


def test_bulk_complete_names_the_tasks_a_task_waits_for(login, order, ops_user):
    """Ticking "Send the pre-alert" (waits for "Book container space") and pressing Complete answered "…: This task
    waits for book to be done first.": the definition's key, not the task's name."""
    prealert = tasks_of(order)["prealert"]
    response = login(ops_user).post(
        reverse("workflows:bulk"), {"action": "complete", "ids": [prealert.pk]}, follow=True
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert "This task waits for Book container space to be done first." in text
    assert Task.objects.get(pk=prealert.pk).state == TaskState.OPEN
