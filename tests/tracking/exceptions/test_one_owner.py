"""An exception has one owner (docs/exceptions.md, "Owner, workflow and alerts"), also on a consolidation
(review I, defect 4): one exception on a master carrying several orders runs its rules once per order, so each
order's history keeps its own run and task, and those tasks went to whoever was least loaded in turn (Olga for
one order, Otto for the other) while the exception named one of them its owner. Each order's task now goes to
the exception's owner where they can take the team's work.

One shipment's exceptions stay with one person (review B, defect 1): also the exception that opens in the batch in
which another of the same cargo resolved itself ("departure overdue" becoming "arrival overdue")."""

from __future__ import annotations

import datetime

import pytest

from partners.models import Role
from tests.conftest import _member
from tests.tracking.test_ingest_support import NOW, oms_event
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.models import Leg
from workflows.models import RuleRun, Task, TeamMember

from .conftest import H, detect, ingest, open_exceptions
from .test_consolidation import consolidated
from .test_workflow import exception_rule

__all__ = ["consolidated", "exception_rule"]


@pytest.fixture
def otto(branch, ops_team):
    """A second member of HAM Operations, as loaded as ops_user (no task yet): least-loaded alternates."""
    user = _member("otto@oms.test", branch, Role.OPERATIONS)
    TeamMember.objects.create(team=ops_team, user=user)
    return user


def _hold_on_the_master(master) -> ShipmentException:
    ingest(oms_event("CUSTOMS_HOLD", NOW - 5 * H, subject=("shipment", master.reference)))
    detect(master)
    return ShipmentException.objects.get(shipment=master, kind=ExceptionKind.CUSTOMS_HOLD)


def test_an_exception_on_a_consolidation_has_one_owner_and_each_orders_task_is_theirs(
    consolidated, ops_user, otto, exception_rule, django_capture_on_commit_callbacks
):
    master, acme_house, globex_house = consolidated
    with django_capture_on_commit_callbacks(execute=True):
        exception = _hold_on_the_master(master)
    exception.refresh_from_db()
    assert exception.order_id is None  # it concerns every order on the master

    tasks = list(Task.objects.filter(rule=exception_rule).order_by("order_id"))
    orders = sorted([acme_house.order_id, globex_house.order_id])
    assert [task.order_id for task in tasks] == orders  # each order's history keeps its own task …
    assert sorted(RuleRun.objects.filter(rule=exception_rule).values_list("order_id", flat=True)) == orders  # … run
    assert exception.owner_id in (ops_user.pk, otto.pk)
    assert {task.assignee_id for task in tasks} == {exception.owner_id}, "two people for one exception"
    assert exception.entries.filter(verb="assigned").count() == 1


def test_the_shipments_owner_keeps_every_orders_task(
    consolidated, ops_user, otto, exception_rule, django_capture_on_commit_callbacks
):
    """Otto already owns the master's open exception: the next one, and its tasks for both orders, are his."""
    from tracking.exceptions.services import handling

    master, *_ = consolidated
    first = ShipmentException.objects.create(kind=ExceptionKind.DAMAGE, shipment=master, mode=master.mode,
                                             detail="Carton crushed.", announced_at=NOW)  # fmt: skip
    handling.exception_assign_owner(exception_id=first.pk, owner=otto)
    with django_capture_on_commit_callbacks(execute=True):
        exception = _hold_on_the_master(master)
    exception.refresh_from_db()
    assert exception.owner == otto
    assert set(Task.objects.filter(rule=exception_rule).values_list("assignee_id", flat=True)) == {otto.pk}


def test_the_late_vessel_stays_with_its_owner_when_the_overdue_moves_from_departure_to_arrival(
    booked_fcl, ops_user, otto, exception_rule, django_capture_on_commit_callbacks
):
    """Review B, defect 1: the departure is reported late while the arrival is overdue too, so one detection batch
    resolves "departure overdue" and opens "arrival overdue". The new one continues the one that just resolved: it
    and its task stay with that exception's owner, instead of going to the other member by load."""
    _, master = booked_fcl
    main = Leg.objects.get(shipment=master)
    Leg.objects.filter(pk=main.pk).update(planned_arrival_at=NOW - 2 * datetime.timedelta(days=1))  # a short leg
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    [departure] = open_exceptions(master, ExceptionKind.MILESTONE_OVERDUE)
    departure.refresh_from_db()
    assert departure.milestone == "DEPARTED"
    first_owner = departure.owner_id
    assert first_owner in (ops_user.pk, otto.pk)

    Leg.objects.filter(pk=main.pk).update(actual_departure_at=NOW - 5 * datetime.timedelta(days=1))  # reported late
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)

    departure.refresh_from_db()
    assert (departure.status, departure.is_auto_resolved) == ("resolved", True)
    [arrival] = open_exceptions(master, ExceptionKind.MILESTONE_OVERDUE)
    arrival.refresh_from_db()
    assert arrival.milestone == "ARRIVED"
    task = Task.objects.get(source_key__contains=f":exception:{arrival.pk}:")
    assert (arrival.owner_id, task.assignee_id) == (first_owner, first_owner), "the late vessel changed hands"
    assert "resolved itself as this one opened" in arrival.entries.get(verb="assigned").text


def test_an_exception_opened_after_the_shipments_last_one_resolved_goes_by_the_workflows_assignment(
    booked_fcl, ops_user, otto, exception_rule, django_capture_on_commit_callbacks
):
    """The shipment's owner is kept while one of its exceptions is open, or for the one that continues an exception
    resolved in the same batch; one opened later, with nothing open, is assigned afresh (the least-loaded member)."""
    from tracking.exceptions.services import handling

    _, master = booked_fcl
    earlier = ShipmentException.objects.create(kind=ExceptionKind.DAMAGE, shipment=master, mode=master.mode,
                                               detail="Carton crushed.", announced_at=NOW)  # fmt: skip
    handling.exception_assign_owner(exception_id=earlier.pk, owner=otto)
    ShipmentException.objects.filter(pk=earlier.pk).update(status="resolved", resolved_at=NOW - H,
                                                           is_auto_resolved=True)  # fmt: skip
    TeamMember.objects.filter(user=otto).update(open_tasks=5)  # Otto is the busier one: load picks Olga
    with django_capture_on_commit_callbacks(execute=True):
        detect(master)
    [overdue] = open_exceptions(master, ExceptionKind.MILESTONE_OVERDUE)
    overdue.refresh_from_db()
    assert overdue.owner == ops_user
