"""Tasks opened for exceptions can be told apart (their name says the kind and the order, their page links to the
exception), one shipment's open exceptions stay with one owner instead of alternating by load, and the customer's
account owner for the task's team gets the task (and so the exception) first."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.tracking.test_ingest_support import NOW, dcsa_event
from tests.workflows.conftest import staff
from tracking.exceptions.models import ExceptionKind, ShipmentException
from workflows.models import AccountOwner, Rule, RuleAction, RuleEvent, Task, TeamFunction, TeamMember

from .conftest import H, detect, ingest

K = ExceptionKind


@pytest.fixture
def exception_rule(db):
    rule = Rule.objects.create(name="Exception: task for operations", event=RuleEvent.EXCEPTION_OPENED)
    RuleAction.objects.create(
        rule=rule, kind="create_task", task_name="Handle the exception", team_function=TeamFunction.OPERATIONS,
        due_in_hours=Decimal(4), message="Acknowledge it, call the carrier, note what was done.",
    )  # fmt: skip
    return rule


@pytest.fixture
def two_in_ops(ops_team, branch):
    """HAM operations with a second member, so least-loaded assignment would alternate between them."""
    other = staff("olga@oms.test", branch, full_name="Olga Ops")
    TeamMember.objects.create(team=ops_team, user=other)
    return other


def customs_hold():
    return dcsa_event("SHIPMENT", "HOLD", NOW - 3 * H, document="CUS", created=NOW - 3 * H)


def test_an_exceptions_task_names_the_kind_and_the_order_and_links_to_it(
    booked_fcl, ops_team, exception_rule, django_capture_on_commit_callbacks, client, ops_user
):
    order, master = booked_fcl
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)  # the departure is overdue
    exception = ShipmentException.objects.get()
    task = Task.objects.get(rule=exception_rule)
    assert task.name == f"Handle the exception: Milestone overdue on {order.reference}"
    assert task.instructions == (
        f"Acknowledge it, call the carrier, note what was done.\n\nThe exception: {exception.get_absolute_url()}"
    )
    assert task.exception_url == exception.get_absolute_url()
    client.force_login(ops_user)
    page = client.get(task.get_absolute_url()).content.decode()
    assert f'href="{exception.get_absolute_url()}" id="task-exception"' in page


def test_one_shipments_open_exceptions_keep_one_owner(
    booked_fcl, ops_team, ops_user, two_in_ops, exception_rule, django_capture_on_commit_callbacks
):
    _, master = booked_fcl
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)  # the departure is overdue
    first = ShipmentException.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        ingest(customs_hold())
        detect(master)
    second = ShipmentException.objects.get(kind=K.CUSTOMS_HOLD)
    assert first.owner is not None
    assert second.owner == first.owner  # least-loaded would have given it to the other member
    assert "owner of the shipment's other open exceptions" in second.entries.get(verb="assigned").text
    tasks = Task.objects.filter(rule=exception_rule).order_by("pk")
    assert [task.assignee_id for task in tasks] == [first.owner_id, first.owner_id]
    assert tasks[1].name.startswith("Handle the exception: Customs hold on ")


def test_the_customers_account_owner_gets_the_exceptions_task_and_owns_it(
    booked_fcl, ops_team, two_in_ops, exception_rule, django_capture_on_commit_callbacks, branch
):
    order, master = booked_fcl
    owner = staff("li.wei@oms.test", branch, full_name="Li Wei")  # not in the HAM team: the account's person
    AccountOwner.objects.create(customer=order.customer, function=TeamFunction.OPERATIONS, user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    exception = ShipmentException.objects.get()
    assert Task.objects.get(rule=exception_rule).assignee == owner
    assert exception.owner == owner
