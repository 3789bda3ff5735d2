"""An "exception opened" rule that puts the order on hold, and the exception's end (docs/exceptions.md, "Holds and
the order"): when the exception resolves, by itself or by a person, the order that rule held is released (one
transition, naming the exception) and the rule's task is done, unless another unresolved exception one of whose
rules holds the order, or a carrier's hold a hold rule acted on, still holds it; a hold a person put on stays.
A resolved exception is never reopened: the same cause does not hold the order again, a new one (a new hold after
a release) opens a new exception, which holds it again and releases it when it ends."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders import services as order_services
from orders.models import Channel, Order, OrderStatus, OrderTransition
from partners.scoping import scope_for_user
from tests.tracking.test_ingest_support import ETD, NOW, dcsa_event, oms_event
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.exceptions.services import announcing, handling
from workflows import tasks
from workflows.models import Rule, RuleAction, RuleEvent, RuleOutcome, RuleRun, Task, TaskState, TeamFunction

from .conftest import H, detect, ingest

K = ExceptionKind


def holding_rule(name: str, *, kind: str = "") -> Rule:
    """ "When an exception (of `kind`) opens, put the order on hold and create a task for operations." """
    rule = Rule.objects.create(name=name, event=RuleEvent.EXCEPTION_OPENED, event_value=kind)
    RuleAction.objects.create(rule=rule, position=0, kind="hold", message="The exception stops the order.")
    RuleAction.objects.create(rule=rule, position=1, kind="create_task", task_name="Handle the exception",
                              team_function=TeamFunction.OPERATIONS, due_in_hours=Decimal(4))  # fmt: skip
    return rule


@pytest.fixture
def hold_rule(db) -> Rule:
    return holding_rule("Exception stops the order")


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """`with run(): ...`: what the block queued on commit (announcements, workflow drains) runs at its end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def departed():
    return dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA")


def releases(order) -> list[OrderTransition]:
    return list(OrderTransition.objects.filter(order=order, name="release").order_by("at", "pk"))


@pytest.fixture
def olga(ops_user):
    """The operations user, named: a release's reason names who resolved the exception."""
    ops_user.full_name = "Olga Ops"
    ops_user.save(update_fields=["full_name"])
    return ops_user


def resolve(exception, by, root_cause="carrier") -> None:
    handling.exception_resolve(exception=ShipmentException.objects.get(pk=exception.pk), by=by, root_cause=root_cause)


def test_the_rule_holds_the_order_and_the_exception_resolving_itself_releases_it(booked_fcl, ops_team, hold_rule, run):
    order, master = booked_fcl
    before = order.status
    with run():
        detect(master)  # the departure is six days overdue
    exception = ShipmentException.objects.get()
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.status_before_hold) == (OrderStatus.ON_HOLD, before)
    task = Task.objects.get(rule=hold_rule)
    assert task.state == TaskState.OPEN

    with run():
        ingest(departed())
        detect(master)
    exception.refresh_from_db()
    assert exception.is_auto_resolved
    [release] = releases(order)
    assert (release.source, release.target, release.channel, release.by) == ("on_hold", before, "system", None)
    assert release.reason.startswith("Hold released: the exception “Milestone overdue” resolved itself: Departure ")
    assert release.payload["released_by_exception"] == exception.pk
    assert release.payload["automation"]["rule"] == hold_rule.pk
    assert Order.objects.get(pk=order.pk).status != OrderStatus.ON_HOLD
    task.refresh_from_db()
    assert (task.state, task.completed_by) == (TaskState.DONE, None)

    with run():  # announced again: nothing more happens
        announcing.exception_resolved_announce(exception_id=exception.pk)
    assert len(releases(order)) == 1


def test_a_second_open_exception_keeps_the_order_held_until_it_resolves(booked_fcl, ops_team, olga, hold_rule, run):
    order, master = booked_fcl
    with run():
        detect(master)  # the departure is overdue: the rule holds the order
    with run():
        ingest(oms_event("CUSTOMS_HOLD", NOW - 3 * H))
        detect(master)  # a customs hold too: the rule runs again, finds the order held
    overdue = ShipmentException.objects.get(kind=K.MILESTONE_OVERDUE)
    customs = ShipmentException.objects.get(kind=K.CUSTOMS_HOLD)
    second = RuleRun.objects.get(rule=hold_rule, event_key=f"exception:{customs.pk}:{order.pk}")
    assert second.outcome == RuleOutcome.PARTLY  # the task made, the hold not taken: it was held already

    with run():
        resolve(customs, olga, "customs")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD  # the overdue departure still holds it
    assert not releases(order)
    assert Task.objects.get(source_key__contains=f":exception:{customs.pk}:").state == TaskState.DONE

    with run():
        resolve(overdue, olga)
    [release] = releases(order)
    assert release.reason == "Hold released: the exception “Milestone overdue” was resolved by Olga Ops."
    assert Order.objects.get(pk=order.pk).status != OrderStatus.ON_HOLD


def test_a_hold_a_person_put_on_stays_when_the_exception_resolves(booked_fcl, ops_team, ops_user, hold_rule, run):
    order, master = booked_fcl
    with run():
        order_services.order_transition(
            order=order, name="hold", scope=scope_for_user(ops_user), channel=Channel.SCREEN, by=ops_user,
            reason="Customer has not paid.",
        )  # fmt: skip
    with run():
        detect(master)  # the rule finds the order held already
    assert RuleRun.objects.get(rule=hold_rule).outcome == RuleOutcome.PARTLY
    with run():
        resolve(ShipmentException.objects.get(), ops_user)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD
    assert not releases(order)
    assert Task.objects.get(rule=hold_rule).state == TaskState.DONE  # the exception itself is over


def test_a_person_who_released_and_held_the_order_again_keeps_their_hold(
    booked_fcl, ops_team, ops_user, hold_rule, run
):
    order, master = booked_fcl
    with run():
        detect(master)  # the rule holds the order
    scope = scope_for_user(ops_user)
    for name, reason in (("release", "Carrier confirmed a new sailing."), ("hold", "Customer asked us to wait.")):
        with run():
            order_services.order_transition(
                order=Order.objects.get(pk=order.pk), name=name, scope=scope, channel=Channel.SCREEN, by=ops_user,
                reason=reason,
            )  # fmt: skip
    with run():
        resolve(ShipmentException.objects.get(), ops_user)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD
    assert [t.channel for t in releases(order)] == ["screen"]  # the person's own release only


def test_a_resolved_exception_is_not_reopened_and_a_new_hold_holds_and_releases_the_order_again(
    booked_fcl, ops_team, ops_user, run
):
    rule = holding_rule("Customs hold stops the order", kind=K.CUSTOMS_HOLD)
    order, master = booked_fcl
    with run():
        ingest(departed(), oms_event("CUSTOMS_HOLD", NOW - 9 * H))
        detect(master)
    first = ShipmentException.objects.get(kind=K.CUSTOMS_HOLD)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD
    with run():
        resolve(first, ops_user, "customs")  # the broker has it in hand: released, though the hold still stands
    assert len(releases(order)) == 1

    with run():
        ingest(oms_event("CUSTOMS_HOLD", NOW - 5 * H))  # the carrier repeats the status: the same hold
        detect(master)
    assert ShipmentException.objects.filter(kind=K.CUSTOMS_HOLD).count() == 1
    assert Order.objects.get(pk=order.pk).status != OrderStatus.ON_HOLD  # a person's resolution stands

    with run():
        ingest(oms_event("IMPORT_CLEARED", NOW - 4 * H), oms_event("CUSTOMS_HOLD", NOW - 2 * H))  # a new hold
        detect(master)
    second = ShipmentException.objects.get(kind=K.CUSTOMS_HOLD, status="open")
    assert second.pk != first.pk
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD
    assert OrderTransition.objects.filter(order=order, name="hold").count() == 2

    with run():
        ingest(oms_event("IMPORT_CLEARED", NOW - H))
        detect(master)
    assert ShipmentException.objects.get(pk=second.pk).is_auto_resolved
    assert [t.payload.get("released_by_exception") for t in releases(order)] == [first.pk, second.pk]
    assert Order.objects.get(pk=order.pk).status != OrderStatus.ON_HOLD
    assert not Task.objects.filter(rule=rule, state=TaskState.OPEN).exists()


@pytest.fixture
def both_hold(db) -> tuple[Rule, Rule]:
    """The carrier's hold report holds the order ("milestone recorded" rule), and so does its exception."""
    report_rule = Rule.objects.create(
        name="Customs hold report stops the order", event=RuleEvent.MILESTONE_RECORDED, event_value="CUSTOMS_HOLD"
    )
    RuleAction.objects.create(rule=report_rule, position=0, kind="hold", message="Customs hold reported.")
    RuleAction.objects.create(rule=report_rule, position=1, kind="create_task", task_name="Resolve the customs hold",
                              team_function=TeamFunction.OPERATIONS, due_in_hours=Decimal(4))  # fmt: skip
    return report_rule, holding_rule("Customs hold exception stops the order", kind=K.CUSTOMS_HOLD)


def held_by_both(order, master, run) -> ShipmentException:
    with run():
        ingest(departed(), oms_event("CUSTOMS_HOLD", NOW - 9 * H))
        tasks.handle_tracking_records()  # the workflow's drain: the report's rule holds the order
        detect(master)  # the exception opens: its rule finds the order held
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD
    assert OrderTransition.objects.filter(order=order, name="hold").count() == 1
    return ShipmentException.objects.get(kind=K.CUSTOMS_HOLD)


def test_while_the_holds_exception_is_open_its_release_keeps_the_order_until_the_exception_resolves(
    booked_fcl, ops_team, both_hold, run
):
    report_rule, exception_rule = both_hold
    order, master = booked_fcl
    exception = held_by_both(order, master, run)
    with run():
        ingest(oms_event("IMPORT_CLEARED", NOW - 4 * H))
        tasks.handle_tracking_records()  # the hold clears, but its exception is still open
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD
    assert Task.objects.get(rule=report_rule).state == TaskState.DONE
    assert not releases(order)

    with run():
        detect(master)  # the exception resolves itself: nothing holds the order any more
    [release] = releases(order)
    assert release.reason.startswith("Hold released: the exception “Customs hold” resolved itself: Import cleared")
    assert release.payload["released_by_exception"] == exception.pk
    assert Task.objects.get(rule=exception_rule).state == TaskState.DONE


def test_an_exception_a_person_resolves_while_its_hold_stands_leaves_the_order_to_the_holds_release(
    booked_fcl, ops_team, ops_user, both_hold, run
):
    order, master = booked_fcl
    exception = held_by_both(order, master, run)
    with run():
        resolve(exception, ops_user, "customs")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD  # the carrier's hold still stands
    assert not releases(order)

    with run():
        ingest(oms_event("IMPORT_CLEARED", NOW - 4 * H))
        tasks.handle_tracking_records()
    [release] = releases(order)
    assert release.reason.startswith("Hold released: Import cleared on ")
    assert Order.objects.get(pk=order.pk).status != OrderStatus.ON_HOLD
