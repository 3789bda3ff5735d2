"""A shipment whose orders are all finished (delivered or later, or cancelled) is finished for detection, even
when its own status still says "booked". The lifecycle now refuses to cancel an order whose cargo is on a booked
master (tracking.guards.order_cancel_problem), but such masters exist: orders cancelled before that guard, and a
booking confirmed between the cancel and the clean-up of its house. `cancel` makes one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import lifecycle
from orders.errors import TransitionNotAllowed
from orders.models import Channel, Order, OrderStatus
from tests.tracking.test_ingest_support import book
from tracking.exceptions import rules
from tracking.exceptions.facts import shipment_facts
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.exceptions.services import detection

from .conftest import detect


def cancel(order, *, scope, by):
    """The order cancelled with its house left on the booked master, as the guard no longer lets a person do."""
    with pytest.raises(TransitionNotAllowed):
        lifecycle.apply(order, "cancel", scope=scope, by=by, channel=Channel.SCREEN, reason="customer withdrew")
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED, cancelled_at=timezone.now())


def test_the_facts_carry_the_orders_statuses(booked_fcl, ops_user, ops_scope):
    order, master = booked_fcl
    facts = shipment_facts([master.pk])[master.pk]
    assert facts.order_statuses == [OrderStatus.PLANNED]
    assert not facts.orders_finished
    cancel(order, scope=ops_scope, by=ops_user)
    facts = shipment_facts([master.pk])[master.pk]
    assert facts.status == "booked"  # the master is left as it was
    assert facts.orders_finished


def test_a_booked_shipment_of_a_cancelled_order_opens_nothing(booked_fcl, ops_user, ops_scope):
    order, master = booked_fcl
    cancel(order, scope=ops_scope, by=ops_user)
    outcome = detect(master)  # its departure is six days overdue: it would open MILESTONE_OVERDUE
    assert outcome.opened == []
    assert not ShipmentException.objects.exists()


def test_its_open_exceptions_resolve_themselves_on_the_next_scan(booked_fcl, ops_user, ops_scope):
    order, master = booked_fcl
    detect(master)
    exception = ShipmentException.objects.get(kind=ExceptionKind.MILESTONE_OVERDUE)
    cancel(order, scope=ops_scope, by=ops_user)
    detection.exceptions_scan()
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert exception.is_auto_resolved
    assert "cancelled" in exception.resolution_note
    assert detection.exceptions_scan().opened == 0  # and nothing opens again


@pytest.mark.parametrize(
    ("statuses", "finished"),
    [
        ([], False),  # no order known: followed by its own status
        (["planned"], False),
        (["cancelled", "in_transit"], False),
        (["cancelled", "delivered", "completed", "invoiced", "closed"], True),
    ],
)
def test_only_a_shipment_whose_every_order_is_finished_is_finished(booked_fcl, statuses, finished):
    _, master = booked_fcl
    facts = shipment_facts([master.pk])[master.pk]
    facts.order_statuses = statuses
    assert facts.orders_finished is finished
    findings = rules.evaluate(facts, rules.rulebook(), timezone.now())  # its departure is six days overdue
    assert bool(findings) is not finished


def test_a_batch_with_finished_shipments_costs_the_same_queries(
    make_order, order_data, ocean_carriers, ops_user, ops_scope, fresh_mapping
):
    maersk, _ = ocean_carriers
    masters, orders = [], []
    for n in range(4):
        order = make_order(mode="ocean_fcl", lines=order_data()["lines"], customer_reference=f"FIN-{n}")
        masters.append(book(order=order, carrier=maersk, ops_user=ops_user, ops_scope=ops_scope, bill=f"MAEU2630{n}"))
        orders.append(order)
    book_ = rules.rulebook()
    detection.exceptions_detect(shipment_ids=[m.pk for m in masters], book=book_)  # four open
    for order in orders[1:]:
        cancel(Order.objects.get(pk=order.pk), scope=ops_scope, by=ops_user)

    def queries(ids):
        with CaptureQueriesContext(connection) as captured:
            outcome = detection.exceptions_detect(shipment_ids=ids, book=book_)
        return outcome, [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]

    small, one = queries([masters[1].pk])
    large, three = queries([m.pk for m in masters])
    assert len(small.resolved) == 1
    assert len(large.resolved) == 2
    assert len(one) == len(three) == 5  # jit off, facts (2), existing, resolve with its history
