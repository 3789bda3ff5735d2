"""What publishing a template version refuses (acceptance review C): a task that could never appear, complete or be
done, a due time the engine cannot keep, a named person who is not staff. Each was published, and then silently
never happened, held orders for good, or failed every order's workflow. And a due time the calendar cannot reach
never fails a person's submit."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from orders.models import OrderStatus
from workflows import services
from workflows.errors import WorkflowError
from workflows.models import AssignRule, BranchCalendar, TaskDefinition, WorkflowTemplate

from .conftest import definition, tasks_of


def publish(admin_user: Any, definitions: list[dict[str, Any]]) -> WorkflowTemplate:
    """A template with a draft of these tasks, published as the console publishes it."""
    template = WorkflowTemplate.objects.create(name="NewCo parcels")
    draft = services.version_draft_start(template=template, by=admin_user)
    for position, fields in enumerate(definitions):
        TaskDefinition.objects.create(version=draft, position=position, **fields)
    services.version_publish(version=draft, by=admin_user)
    return template


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"due_in_hours": Decimal(8760)}, "A due time counted in business hours can be at most 2000 hours"),
        ({"due_in_hours": Decimal(-8)}, "Counting back needs a date: pick a due anchor."),
        ({"trigger_kind": "date", "date_anchor": "etd", "date_offset_hours": 80_000_000},
         "A task starts at most 8784 hours (a year) before or after its date."),
    ],
)  # fmt: skip
def test_a_due_time_the_engine_cannot_keep_is_refused(admin_user, fields, message):
    """A yearly review "due in 8760 hours", business hours ticked (its default): about three and a half years of
    working days; the calculator gave up, and every submit of a matching order failed in the workflow. "-8 hours"
    with no date to count back from: due before it appears, overdue and escalated the moment it is made."""
    with pytest.raises(WorkflowError, match=message.replace("(", r"\(").replace(")", r"\)")):
        publish(admin_user, [definition("review", name="Yearly account review", **fields)])


def test_a_long_due_time_in_plain_hours_is_kept(admin_user, make_order, ops_team, committed):
    """Unticked, hours are plain hours: a year is a year, and the order gets its task."""
    publish(admin_user, [definition("review", due_in_hours=Decimal(8760), due_in_business_hours=False)])
    with committed():
        order = make_order(submit=True)
    task = tasks_of(order)["review"]
    assert task.due_at is not None
    assert round((task.due_at - task.created_at).total_seconds() / 3600) == 8760


def test_a_due_time_the_branch_calendar_cannot_reach_is_no_due_time(admin_user, make_order, ops_team, ham, committed):
    """A branch open one hour a week reaches 2000 business hours in 38 years: the task is made, with no due time,
    instead of failing the order's workflow."""
    BranchCalendar.objects.filter(branch=ham).update(
        opens_at=datetime.time(8), closes_at=datetime.time(9), workdays=[0]
    )
    publish(admin_user, [definition("review", due_in_hours=Decimal(2000))])
    with committed():
        order = make_order(submit=True)
    assert tasks_of(order)["review"].due_at is None


@pytest.mark.django_db(transaction=True)
def test_a_submit_on_the_screen_never_fails_because_of_the_workflow(
    client, admin_user, make_order, ops_team, ops_user, monkeypatch
):
    """The yearly review published before these checks: the workflow raised after the order's commit, and the person
    pressing "Submit" got a 500 (the receiver caught database errors only). Now the page answers, and the sweep
    makes the tasks once the cause is gone."""
    publish(admin_user, [definition("review", name="Yearly account review")])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("The calendar has no working time within a year.")

    monkeypatch.setattr("workflows.services.transition_handling._state_tasks", broken)
    order = make_order()
    client.force_login(ops_user)
    client.raise_request_exception = False
    response = client.post(f"/orders/{order.reference}/transition/submit/", {"seen_status": "draft"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, tasks_of(order)) == (OrderStatus.SUBMITTED, {})
    monkeypatch.undo()
    assert services.pending_transitions_process(older_than=datetime.timedelta(0)) == 1
    assert set(tasks_of(order)) == {"review"}


def test_a_dependency_on_a_later_states_task_that_blocks_the_way_there_is_refused(admin_user):
    """The invoice check (on submit, blocks confirm) waited for "Book the courier" (made on entering confirmed): no
    cycle between the keys, so it published, and every order stayed in submitted for good."""
    with pytest.raises(WorkflowError) as refused:
        publish(admin_user, [
            definition("invoice-check", name="Check the commercial invoice", blocks=["confirm"], depends_on=["book"]),
            definition("book", name="Book the courier", trigger_state="confirmed"),
        ])  # fmt: skip
    assert str(refused.value) == (
        "Check the commercial invoice blocks confirm, but waits for Book the courier, which is made only when the "
        "order enters confirmed: the order could never move on. Make the task wait for an earlier one, or block a "
        "later step."
    )


def test_a_wait_through_another_task_is_seen_and_a_wait_that_can_end_is_published(admin_user):
    with pytest.raises(WorkflowError, match="Check the commercial invoice blocks confirm, but waits for Book"):
        publish(admin_user, [
            definition("invoice-check", name="Check the commercial invoice", blocks=["confirm"], depends_on=["docs"]),
            definition("docs", name="Collect the documents", depends_on=["book"]),
            definition("book", name="Book the courier", trigger_state="planned"),
        ])  # fmt: skip
    publish(admin_user, [
        definition("invoice-check", name="Check the commercial invoice", blocks=["depart"], depends_on=["book"]),
        definition("book", name="Book the courier", trigger_state="confirmed"),
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"trigger_state": "draft"}, "No order enters draft: orders are created in it."),
        ({"auto_complete_kind": "state", "auto_complete_value": "on_hold"}, "Use one of: submitted, confirmed"),
        ({"auto_complete_kind": "state", "auto_complete_value": "cancelled"}, "a cancelled or closed order"),
    ],
)  # fmt: skip
def test_a_task_whose_trigger_or_completion_can_never_happen_is_refused(admin_user, fields, message):
    """Made on entering "Draft" (orders are created in it), or completed when the order reaches On hold or Cancelled
    (auto-completion follows the forward path; a cancellation cancels the task): published, and silently never
    happened."""
    with pytest.raises(WorkflowError, match=message):
        publish(admin_user, [definition("task", **fields)])


def test_a_template_task_cannot_name_a_customers_person(admin_user, customer_a_user, ops_user, client):
    """For "a named person" the picker offered the customers' portal users, and the version published with one; at
    run time the task silently went to the team. Rule actions, teams and account owners already refuse them."""
    client.force_login(admin_user)

    def offered(term: str) -> set[str]:
        query = {"app_label": "workflows", "model_name": "taskdefinition", "field_name": "assignee", "term": term}
        return {row["id"] for row in client.get(reverse("admin:autocomplete"), query).json()["results"]}

    assert str(customer_a_user.pk) not in offered("alice@")
    assert str(ops_user.pk) in offered("ops@")
    with pytest.raises(WorkflowError, match=f"{customer_a_user} is not active OMS staff"):
        publish(admin_user, [definition("invoice", assign_rule=AssignRule.NAMED_USER, assignee=customer_a_user)])
