"""Exceptions feed the workflow: an "exception opened" rule creates a task for the right team with its SLA,
the owner is picked by workflows' assignment and written back, and is alerted in the app and by email;
customers are emailed only where a rule says so, and only about their own orders."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from tracking.exceptions.models import ExceptionKind, ExceptionRule, ShipmentException
from workflows.models import AccountOwner, Notification, Rule, RuleAction, RuleEvent, RuleRun, Task, TeamFunction

from .conftest import detect, ingest
from .test_consolidation import consolidated

__all__ = ["consolidated"]


@pytest.fixture
def exception_rule(db):
    rule = Rule.objects.create(name="Exception: task for operations", event=RuleEvent.EXCEPTION_OPENED)
    RuleAction.objects.create(rule=rule, kind="create_task", task_name="Handle the exception",
                              team_function=TeamFunction.OPERATIONS, due_in_hours=Decimal(4))  # fmt: skip
    return rule


def test_an_exception_opened_rule_creates_a_task_and_its_assignee_owns_the_exception(
    booked_fcl, ops_team, ops_user, exception_rule, django_capture_on_commit_callbacks
):
    order, master = booked_fcl
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    exception = ShipmentException.objects.get()
    task = Task.objects.get(rule=exception_rule)
    assert task.order == order
    assert task.team == ops_team
    assert task.assignee == ops_user
    assert task.due_at
    assert f":exception:{exception.pk}:{order.pk}:" in task.source_key
    assert exception.owner == ops_user
    assert exception.announced_at
    assert "assignee of the task" in exception.entries.get(verb="assigned").text
    notice = Notification.objects.get(recipient=ops_user, title__startswith="Exception:")
    assert notice.url == exception.get_absolute_url()
    assert [m.to for m in mail.outbox] == [[ops_user.email]]


def test_an_exception_is_announced_once(booked_fcl, ops_team, exception_rule, django_capture_on_commit_callbacks):
    from tracking.exceptions.services import announcing

    _, master = booked_fcl
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    exception = ShipmentException.objects.get()
    assert announcing.exception_announce(exception_id=exception.pk) is False
    assert RuleRun.objects.count() == 1
    assert Task.objects.count() == 1


def test_without_a_rule_the_customers_operations_account_owner_owns_it(
    booked_fcl, ops_team, admin_user, django_capture_on_commit_callbacks
):
    order, master = booked_fcl
    AccountOwner.objects.create(customer=order.customer, function=TeamFunction.OPERATIONS, user=admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    assert ShipmentException.objects.get().owner == admin_user
    assert not Task.objects.exists()


def test_an_account_owner_who_left_the_staff_does_not_own_it(
    booked_fcl, ops_team, ops_user, admin_user, django_capture_on_commit_callbacks
):
    """Set up while on the staff, since left (their membership ended): the lead owns it, not a person who no longer
    reads our orders."""
    order, master = booked_fcl
    AccountOwner.objects.create(customer=order.customer, function=TeamFunction.OPERATIONS, user=admin_user)
    admin_user.memberships.update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    assert ShipmentException.objects.get().owner == ops_user


def test_without_rule_or_account_owner_the_operations_lead_owns_it(
    booked_fcl, ops_team, ops_user, django_capture_on_commit_callbacks
):
    _, master = booked_fcl
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    exception = ShipmentException.objects.get()
    assert exception.owner == ops_user
    assert "lead" in exception.entries.get(verb="assigned").text


def test_the_owner_is_told_when_it_resolves_itself(booked_fcl, ops_team, ops_user, django_capture_on_commit_callbacks):
    from tests.tracking.test_ingest_support import ETD, dcsa_event

    _, master = booked_fcl
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)  # announced (owner picked) after its own commit, before it resolves
    with django_capture_on_commit_callbacks(execute=True):
        ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"))
        detect(master)
    notice = Notification.objects.get(recipient=ops_user, title__startswith="Resolved itself")
    assert notice.body.startswith("Departure recorded")


def test_the_exceptions_task_completes_when_the_exception_resolves_itself(
    booked_fcl, ops_team, ops_user, exception_rule, django_capture_on_commit_callbacks
):
    from tests.tracking.test_ingest_support import ETD, dcsa_event
    from workflows.models import TaskEvent, TaskState

    _, master = booked_fcl
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    task = Task.objects.get(rule=exception_rule)
    assert task.state == TaskState.OPEN
    with django_capture_on_commit_callbacks(execute=True):
        ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"))
        detect(master)

    task.refresh_from_db()
    assert ShipmentException.objects.get().is_auto_resolved
    assert (task.state, task.completed_by) == (TaskState.DONE, None)
    event = TaskEvent.objects.get(task=task, verb="completed")
    assert event.detail.startswith("The exception resolved itself: Departure recorded")
    assert ops_user.team_memberships.get(team=ops_team).open_tasks == 0  # the assignee's load is released


def test_the_exceptions_task_completes_when_a_person_resolves_it_and_a_done_task_is_left_alone(
    booked_fcl, ops_team, ops_user, exception_rule, django_capture_on_commit_callbacks
):
    from tracking.exceptions.models import RootCause
    from tracking.exceptions.services import announcing, handling
    from workflows.models import TaskEvent, TaskState

    _, master = booked_fcl
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    exception = ShipmentException.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        handling.exception_resolve(exception=exception, by=ops_user, root_cause=RootCause.CARRIER)
    task = Task.objects.get(rule=exception_rule)
    assert task.state == TaskState.DONE
    assert TaskEvent.objects.get(task=task, verb="completed").detail == "The exception was resolved."

    with django_capture_on_commit_callbacks(execute=True):  # announced again: nothing more happens
        announcing.exception_resolved_announce(exception_id=exception.pk)
    assert TaskEvent.objects.filter(task=task, verb="completed").count() == 1


@pytest.fixture
def globex_late(make_order, order_data, ocean_carriers, ops_user, ops_scope, customer_b):
    from tests.tracking.test_ingest_support import book

    order = make_order(mode="ocean_fcl", lines=order_data()["lines"], customer_code="GLOBEX", customer_reference="G-1")
    return book(order=order, carrier=ocean_carriers[0], ops_user=ops_user, ops_scope=ops_scope, bill="MAEU26999")


def test_a_customer_rule_emails_that_customer_only(
    booked_fcl, globex_late, customer_a, customer_b, django_capture_on_commit_callbacks
):
    customer_a.email, customer_b.email = "ops@acme.test", "ops@globex.test"
    customer_a.save(), customer_b.save()
    ExceptionRule.objects.create(kind=ExceptionKind.MILESTONE_OVERDUE, mode="ocean_fcl", customer=customer_a,
                                 threshold_hours=Decimal(24), notify_customer=True)  # fmt: skip
    order, master = booked_fcl
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
        detect(globex_late)
    assert ShipmentException.objects.count() == 2
    [message] = mail.outbox
    assert message.to == ["ops@acme.test"]
    assert order.reference in message.subject
    assert order.reference in message.body
    assert "GLOBEX" not in message.body
    assert "dcsa" not in message.body
    assert ShipmentException.objects.get(customer=customer_a).entries.filter(verb="notified").exists()


def test_the_dry_run_of_an_exception_rule_lists_the_orders_an_exception_of_that_kind_concerned(
    booked_fcl, consolidated, make_order, django_capture_on_commit_callbacks
):
    """Review B, defect 2: the dry run of "Exception opened" rules listed every order. It lists the orders an
    exception of the rule's kind concerned: the one it names (a direct shipment's), or, naming none, every order on
    the consolidation it lies on."""
    from tests.tracking.test_ingest_support import NOW, oms_event
    from workflows import services

    from .conftest import H

    direct, late_master = booked_fcl
    master, acme_house, globex_house = consolidated
    make_order()  # on no shipment
    with django_capture_on_commit_callbacks(execute=True):
        detect(late_master)  # its departure is overdue: "Milestone overdue" naming its order
        ingest(oms_event("CUSTOMS_HOLD", NOW - 5 * H, subject=("shipment", master.reference)))
        detect(master)  # a hold on the master: it names no order, and concerns both
    assert ShipmentException.objects.get(kind=ExceptionKind.CUSTOMS_HOLD).order_id is None

    def matched(kind: str) -> list[int]:
        made = Rule.objects.create(name=f"On {kind}", event=RuleEvent.EXCEPTION_OPENED, event_value=kind)
        return sorted(order.pk for order in services.rule_dry_run(rule=made).matched)

    assert matched("customs_hold") == sorted([acme_house.order_id, globex_house.order_id])
    assert matched("milestone_overdue") == [direct.pk]
    assert matched("") == sorted([direct.pk, acme_house.order_id, globex_house.order_id])
    assert matched("damage") == []
