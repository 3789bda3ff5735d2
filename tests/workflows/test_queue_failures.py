"""Review G (defects 1, 2): one transition whose workflow handling fails for good must not hold up every other order's.

transition_queue.queued_transitions_drain says "one bad transition cannot hold up the queue", and the catch-up sweep
(pending_transitions_process, beat every minute) is where a failed transition is retried. Both only hold for
database errors, and the sweep stops at the first failure."""

from __future__ import annotations

import contextlib
import datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError

from orders import services as order_services
from orders.models import Channel, OrderTransition, QueuedTransition
from partners.scoping import scope_for_user
from workflows import services
from workflows.services import transition_handling, transition_queue

from .conftest import definition, tasks_of


@pytest.fixture
def quiet_wake(monkeypatch) -> mock.Mock:
    wake = mock.Mock()
    monkeypatch.setattr(transition_queue, "_wake_worker", wake)
    return wake


@pytest.fixture
def queued_orders(make_template, make_order, ops_team, docs_team, ops_user, committed, quiet_wake):
    make_template("Ocean", [definition("check", due_in_hours=Decimal(4))])

    def make(count: int):
        orders = [make_order() for _ in range(count)]
        with committed():
            orders = [
                order_services.order_transition(
                    order=o, name="submit", scope=scope_for_user(ops_user), by=ops_user, channel=Channel.API
                )
                for o in orders
            ]
        return orders

    return make


def _failing_for(bad_pks: set[int], error: Exception):
    real = transition_handling._state_tasks

    def handle(record, run, batch):
        if record.pk in bad_pks:
            raise error
        real(record, run, batch)

    return handle


def test_one_transition_that_cannot_be_handled_does_not_block_the_workflow_queue(queued_orders):
    """A transition whose handling raises anything but a DatabaseError (a bug in a rule, a template, data
    nobody foresaw) fails its whole batch, is not taken out of the queue, and fails every later batch and
    every sweep (the sweep drains the queue first): no API, webhook or file order gets its tasks again."""
    orders = queued_orders(3)
    bad = OrderTransition.objects.get(order=orders[0], name="submit").pk
    with mock.patch.object(transition_handling, "_state_tasks", _failing_for({bad}, ValueError("a rule's bug"))):
        for _ in range(3):  # three drains / beat sweeps, as a worker would run them over three minutes
            with contextlib.suppress(ValueError):
                services.queued_transitions_drain()
            with contextlib.suppress(ValueError):
                services.pending_transitions_process(older_than=datetime.timedelta(0))
    # The two good orders should have their tasks; the bad one is left aside (and someone told).
    assert [bool(tasks_of(order)) for order in orders] == [False, True, True]
    assert not QueuedTransition.objects.exclude(transition_id=bad).exists()


def test_the_catch_up_sweep_does_not_stop_at_the_first_transition_that_fails(queued_orders):
    """The drain hands a transition that fails on the database to the sweep. The sweep handles them in id order
    and raises at the first that fails again: every failed transition after it waits behind it for ever
    (IntegrityError is not in the task's autoretry_for; the next beat meets the same one first)."""
    orders = queued_orders(2)
    first, second = (OrderTransition.objects.get(order=o, name="submit").pk for o in orders)
    # In the drain both fail (a deadlock, a task row made meanwhile): both are left to the sweep.
    with mock.patch.object(
        transition_handling, "_state_tasks", _failing_for({first, second}, IntegrityError("meanwhile"))
    ):
        services.queued_transitions_drain()
    assert not QueuedTransition.objects.exists()
    # From then on the first fails for good, the second would succeed.
    with mock.patch.object(transition_handling, "_state_tasks", _failing_for({first}, IntegrityError("for good"))):
        for _ in range(3):  # three beat runs
            with contextlib.suppress(IntegrityError):
                services.pending_transitions_process(older_than=datetime.timedelta(0))
    assert bool(tasks_of(orders[1])), "the second order never gets its tasks: the sweep stops at the first"


def test_a_transition_that_keeps_failing_is_given_up_and_kept_for_support(queued_orders, caplog):
    """Counted at each failure, tried again by the sweep after a growing wait, given up after MAX_ATTEMPTS (logged
    at ERROR, kept with its error); handled at last, its record goes."""
    from django.utils import timezone

    from workflows.models import FailedTransition

    (order,) = queued_orders(1)
    bad = OrderTransition.objects.get(order=order, name="submit").pk
    with mock.patch.object(transition_handling, "_state_tasks", _failing_for({bad}, KeyError("cargo"))):
        services.queued_transitions_drain()
        failed = FailedTransition.objects.get(transition_id=bad)
        assert failed.attempts == 1
        assert failed.given_up_at is None
        assert "KeyError" in failed.last_error
        services.pending_transitions_process(older_than=datetime.timedelta(0))
        failed.refresh_from_db()
        assert failed.attempts == 2
        assert failed.next_attempt_at > timezone.now()
        services.pending_transitions_process(older_than=datetime.timedelta(0))
        failed.refresh_from_db()
        assert failed.attempts == 2  # not yet due
        for _ in range(FailedTransition.MAX_ATTEMPTS):
            FailedTransition.objects.filter(pk=bad).update(next_attempt_at=timezone.now())
            services.pending_transitions_process(older_than=datetime.timedelta(0))
    failed.refresh_from_db()
    assert failed.attempts == FailedTransition.MAX_ATTEMPTS
    assert failed.given_up_at is not None
    assert any(r.levelname == "ERROR" and "given up" in r.getMessage() for r in caplog.records)
    assert not tasks_of(order)
    # Support fixes the cause and deletes the record: the sweep handles it, and nothing is left failing.
    FailedTransition.objects.filter(pk=bad).delete()
    services.pending_transitions_process(older_than=datetime.timedelta(0))
    assert tasks_of(order)
    assert not FailedTransition.objects.exists()
