"""An order that joins the shipment of an open exception gets what the "exception opened" rules gave every other order
on it (review A, defect 1, the workflow part): its task and its hold, once, through tracking's
`exception_orders_added` event. The exception keeps its owner, who is not alerted again (sending exception_opened
again would pick an owner anew and could take the exception from the person who took it); a repeated widening, a
redelivered event, and an order taken off the shipment and put back run nothing twice."""

from __future__ import annotations

import pytest

from orders.models import Order, OrderStatus
from tracking import events as tracking_events
from tracking.exceptions import services
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.services import consolidation
from workflows.models import Notification, RuleRun, Task

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
    services.exception_assign_owner(exception_id=missed.pk, owner=otto, by=otto)  # Otto takes it
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
        assert services.exception_widen_announce(exception_id=missed.pk) is False
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
        services.exception_resolve(exception=missed, by=otto, root_cause="carrier")
    assert Order.objects.get(pk=globex.pk).status != OrderStatus.ON_HOLD
    assert set(Task.objects.filter(rule=hold_rule).values_list("state", flat=True)) == {"done"}


def test_an_order_taken_off_and_put_back_gets_its_task_once(
    acme_alone, ocean_carriers, ops_user, ops_scope, ops_team, exception_rule, run
):
    master, acme_order, globex_order = acme_alone
    missed = _cutoff_missed(master, ocean_carriers, ops_user, ops_scope, run)
    owner_id = missed.owner_id
    assert owner_id is not None
    alerts = _owner_alerts()

    house = consolidation.order_add_to_master(order=globex_order, master=master, by=ops_user)
    with run():
        detect(master)
    assert Task.objects.filter(rule=exception_rule, order=globex_order).count() == 1

    consolidation.house_remove(master=master, house=house, by=ops_user)
    with run():
        detect(master)
    consolidation.house_add(master=master, house=house, by=ops_user)
    with run():
        assert detect(master).widened == [missed.pk]  # told again that it concerns Globex's order …
    said = missed.entries.filter(verb="updated", text__startswith="Now also concerns").count()
    assert said == 2
    # … but its rules ran once: one run, one task
    assert RuleRun.objects.filter(rule=exception_rule, order=globex_order).count() == 1
    assert Task.objects.filter(rule=exception_rule, order=globex_order).count() == 1
    assert Task.objects.filter(rule=exception_rule, order=acme_order).count() == 1
    missed.refresh_from_db()
    assert (missed.owner_id, _owner_alerts()) == (owner_id, alerts)
