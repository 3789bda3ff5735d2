"""An order that joins the shipment of an open exception gets what the "exception opened" rules gave every other order
on it (review A, defect 1, the workflow part): its task and its hold, once, through tracking's
`exception_orders_added` event. The exception keeps its owner, who is not alerted again (sending exception_opened
again would pick an owner anew and could take the exception from the person who took it); a repeated widening, a
redelivered event, and an order taken off the shipment and put back run nothing twice. The mirror (decision 0004): an
order taken off the shipment while the exception is open loses the task its rules gave it, and gets that same task
back when it is put back."""

from __future__ import annotations

import pytest

from orders.models import Order, OrderStatus
from tracking import events as tracking_events
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.exceptions.services import announcing, handling
from tracking.services import consolidation
from workflows.models import Notification, RuleRun, Task, TaskEvent, TaskState

from .conftest import detect, open_exceptions
from .test_consolidation import book_with_cutoff_passed
from .test_consolidation_parties import acme_alone
from .test_holds_released import holding_rule, run
from .test_one_owner import otto
from .test_workflow import exception_rule

__all__ = ["acme_alone", "exception_rule", "otto", "run"]
K = ExceptionKind


def _owner_alerts() -> int:
    """The alerts exception_opened_handle sends the owner ("Exception: <kind> · <subject>")."""
    return Notification.objects.filter(title__startswith="Exception:").count()


def _cutoff_missed(master, ocean_carriers, ops_user, ops_scope, run) -> ShipmentException:
    book_with_cutoff_passed(master, ocean_carriers, ops_user, ops_scope)
    with run():
        detect(master)
    [missed] = open_exceptions(master, K.MISSED_CUTOFF)
    return missed


@pytest.fixture
def hold_rule(db):
    return holding_rule("Exception stops the order")


def test_an_order_joining_gets_the_rules_task_and_hold_once_and_the_owner_keeps_the_exception(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, otto, hold_rule, run
):
    master, acme_order, globex_order = acme_alone
    missed = _cutoff_missed(master, ocean_carriers, ops_user, ops_scope, run)
    assert Order.objects.get(pk=acme_order.pk).status == OrderStatus.ON_HOLD
    assert list(Task.objects.filter(rule=hold_rule).values_list("order_id", flat=True)) == [acme_order.pk]
    handling.exception_assign_owner(exception_id=missed.pk, owner=otto, by=otto)  # Otto takes it
    alerts, assigned = _owner_alerts(), missed.entries.filter(verb="assigned").count()

    consolidation.order_add_to_master(order=globex_order, master=master, by=ops_user)
    with run():
        outcome = detect(master)
    assert outcome.widened == [missed.pk]

    globex = Order.objects.get(pk=globex_order.pk)
    assert globex.status == OrderStatus.ON_HOLD  # the rule's hold, as for ACME's order
    [task] = Task.objects.filter(rule=hold_rule, order=globex)  # the rule's task, once
    assert task.assignee_id == otto.pk  # the owner's, who can take operations' work
    assert RuleRun.objects.filter(rule=hold_rule, order=acme_order).count() == 1  # ACME's rules did not run again
    missed.refresh_from_db()
    assert missed.owner_id == otto.pk  # not picked again …
    assert missed.entries.filter(verb="assigned").count() == assigned
    assert _owner_alerts() == alerts  # … nor alerted again

    # A repeated widening (the next detection, a second message) and a redelivered event run nothing twice.
    with run():
        assert detect(master).widened == []
        assert announcing.exception_orders_changed_announce(exception_id=missed.pk) is False
        for _ in range(2):
            tracking_events.exception_orders_added.send(
                sender=ShipmentException, exception_id=missed.pk, kind=missed.kind, shipment_id=master.pk,
                order_ids=[globex.pk],
            )  # fmt: skip
    assert Task.objects.filter(rule=hold_rule).count() == 2
    assert RuleRun.objects.filter(rule=hold_rule, order=globex).count() == 1
    assert Order.objects.get(pk=globex.pk).status == OrderStatus.ON_HOLD
    missed.refresh_from_db()
    assert (missed.owner_id, _owner_alerts()) == (otto.pk, alerts)

    # The exception's end releases the joined order too: its rule's run names the exception.
    with run():
        handling.exception_resolve(exception=missed, by=otto, root_cause="carrier")
    assert Order.objects.get(pk=globex.pk).status != OrderStatus.ON_HOLD
    assert set(Task.objects.filter(rule=hold_rule).values_list("state", flat=True)) == {"done"}


def test_an_order_taken_off_loses_the_exceptions_task_and_gets_the_same_task_back_when_put_back(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, exception_rule, run
):
    """Decision 0004, "An order that leaves an open exception's shipment": planning takes the house off the master,
    detection notices the order left, tracking tells workflows (exception_orders_removed) and the order's open task
    of the exception is cancelled, the reason in its history; the order that stays keeps its own. Put back while the
    exception is open, the order is told again and that same task is reopened: its rules ran once."""
    master, acme_order, globex_order = acme_alone
    missed = _cutoff_missed(master, ocean_carriers, ops_user, ops_scope, run)
    owner_id = missed.owner_id
    assert owner_id is not None
    alerts = _owner_alerts()

    house = consolidation.order_add_to_master(order=globex_order, master=master, by=ops_user)
    with run():
        detect(master)
    task = Task.objects.get(rule=exception_rule, order=globex_order)
    assert task.state == TaskState.OPEN

    consolidation.house_remove(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).narrowed == [missed.pk]

    task.refresh_from_db()
    assert task.state == TaskState.CANCELLED
    assert TaskEvent.objects.get(task=task, verb="cancelled").detail == (
        f"Taken off {master.reference}: the exception “Missed cut-off” no longer concerns this order."
    )
    assert Task.objects.get(rule=exception_rule, order=acme_order).state == TaskState.OPEN
    globex = Order.objects.select_related("customer").get(pk=globex_order.pk)
    assert missed.entries.filter(
        verb="updated", text=f"No longer concerns {globex.reference} (GLOBEX): taken off the shipment."
    ).exists()
    # A repeated detection, a second message and a redelivered event cancel nothing twice.
    with run():
        assert detect(master).narrowed == []
        assert announcing.exception_orders_changed_announce(exception_id=missed.pk) is False
        tracking_events.exception_orders_removed.send(
            sender=ShipmentException, exception_id=missed.pk, kind=missed.kind, shipment_id=master.pk,
            order_ids=[globex.pk],
        )  # fmt: skip
    assert TaskEvent.objects.filter(task=task, verb="cancelled").count() == 1

    consolidation.house_add(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).widened == [missed.pk]  # told again that it concerns Globex's order …
    said = missed.entries.filter(verb="updated", text__startswith="Now also concerns").count()
    assert said == 2
    # … and its task is back, the same one: its rules ran once
    task.refresh_from_db()
    assert task.state == TaskState.OPEN
    assert TaskEvent.objects.get(task=task, verb="reopened").detail == (
        f"Back on {master.reference}: the exception “Missed cut-off” concerns this order again."
    )
    assert RuleRun.objects.filter(rule=exception_rule, order=globex_order).count() == 1
    assert Task.objects.filter(rule=exception_rule, order=globex_order).count() == 1
    assert Task.objects.filter(rule=exception_rule, order=acme_order).count() == 1
    with run():  # a redelivered event reopens nothing twice
        tracking_events.exception_orders_added.send(
            sender=ShipmentException, exception_id=missed.pk, kind=missed.kind, shipment_id=master.pk,
            order_ids=[globex.pk],
        )  # fmt: skip
    assert TaskEvent.objects.filter(task=task, verb="reopened").count() == 1
    missed.refresh_from_db()
    assert (missed.owner_id, _owner_alerts()) == (owner_id, alerts)

    # The exception's end completes both orders' tasks, as before.
    with run():
        handling.exception_resolve(exception=missed, by=ops_user, root_cause="carrier")
    assert set(Task.objects.filter(rule=exception_rule).values_list("state", flat=True)) == {"done"}


def test_an_order_that_joined_and_left_before_it_was_told_is_told_nothing(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, exception_rule, run
):
    master, _acme_order, globex_order = acme_alone
    missed = _cutoff_missed(master, ocean_carriers, ops_user, ops_scope, run)
    house = consolidation.order_add_to_master(order=globex_order, master=master, by=ops_user)
    consolidation.house_remove(master=master, house=house, by=ops_user)  # before any detection saw it

    with run():
        outcome = detect(master)

    assert outcome.widened == []
    assert not missed.entries.filter(verb="updated").exists()  # neither "Now also" nor "No longer concerns"
    assert not Task.objects.filter(rule=exception_rule, order=globex_order).exists()
