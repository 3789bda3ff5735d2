"""The race with the workflow attached: two people confirm and cancel the same order at once (threads, own
connections, real commits). Only the winner's workflow effects exist: its tasks, its notifications."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest
from django.db import connection

from orders import lifecycle
from orders import services as order_services
from orders.errors import ConcurrentChange
from orders.models import Channel, Order, OrderStatus
from partners.models import User
from partners.scoping import Scope, scope_for_user
from workflows import services
from workflows.guards import _GUARDS
from workflows.models import Notification, Task, TaskState
from workflows.services import task_creation

from .conftest import definition

ROUNDS = 5


def _slow(order: Order) -> None:
    time.sleep(0.15)  # inside the locked transaction: the other person is surely waiting on the row lock


@pytest.fixture
def slow_guards(monkeypatch):
    guards = defaultdict(list, {name: [guard] for name, guard in _GUARDS.items()})
    guards["confirm"].append(_slow)
    guards["cancel"].append(_slow)
    monkeypatch.setattr(lifecycle, "_guards", guards)


def _race(order_id: int, scope: Scope, user: User) -> dict[str, object]:
    """Confirm and cancel the order from two threads released at the same instant; each one's result."""
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def attempt(name: str, reason: str) -> None:
        try:
            seen = Order.objects.get(pk=order_id)
            barrier.wait(timeout=10)
            order_services.order_transition(
                order=seen, name=name, scope=scope, by=user, channel=Channel.SCREEN, reason=reason
            )
            outcome[name] = "won"
        except ConcurrentChange as exc:
            outcome[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=("confirm", "")),
        threading.Thread(target=attempt, args=("cancel", "Changed their mind.")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcome


@pytest.mark.django_db(transaction=True)
def test_only_the_winners_tasks_and_notifications_exist(make_template, make_order, ops_team, ops_user, slow_guards):
    make_template("Ocean", [definition("check"), definition("book", trigger_state="confirmed")])
    scope = scope_for_user(ops_user)
    for _ in range(ROUNDS):
        order = make_order(submit=True)
        outcome = _race(order.pk, scope, ops_user)

        (winner,) = [name for name, result in outcome.items() if result == "won"]
        assert sum(isinstance(result, ConcurrentChange) for result in outcome.values()) == 1
        tasks = {task.key: task.state for task in Task.objects.filter(order=order)}
        booking_notes = Notification.objects.filter(task__order=order, task__key="book").count()
        if winner == "confirm":
            assert Order.objects.get(pk=order.pk).status == OrderStatus.CONFIRMED
            assert tasks == {"check": TaskState.OPEN, "book": TaskState.OPEN}
            assert booking_notes == 1
        else:
            assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
            assert tasks == {"check": TaskState.CANCELLED}  # no booking task: confirm never happened
            assert booking_notes == 0


@pytest.mark.django_db(transaction=True)
def test_a_milestone_recorded_while_its_task_is_being_made_completes_it(
    make_template, make_order, ops_team, ops_user, monkeypatch
):
    """The task's maker has found no DEPARTED yet and not committed; the milestone arriving meanwhile must not
    miss the task (it waits for the maker's commit on the order's binding, then completes it)."""
    make_template("Ocean", [
        definition("departure", trigger_state="confirmed", auto_complete_kind="milestone",
                   auto_complete_value="DEPARTED"),
    ])  # fmt: skip
    order = make_order(submit=True)
    deciding, assign = threading.Event(), task_creation.assign_drafts

    def slow_assign(drafts, **kwargs):
        if threading.current_thread().name == "maker":
            deciding.set()
            time.sleep(0.3)  # made open (no DEPARTED seen), not committed yet
        return assign(drafts, **kwargs)

    monkeypatch.setattr(task_creation, "assign_drafts", slow_assign)

    def confirm() -> None:
        try:
            order_services.order_transition(
                order=order, name="confirm", scope=scope_for_user(ops_user), by=ops_user, channel=Channel.SCREEN
            )  # handled at once, after its commit, in this thread
        finally:
            connection.close()

    maker = threading.Thread(target=confirm, name="maker")
    maker.start()
    assert deciding.wait(timeout=10)
    try:
        services.milestone_record(order_id=order.pk, code="DEPARTED", event_id=1)
    finally:
        maker.join(timeout=30)
    assert Task.objects.get(order=order, key="departure").state == TaskState.DONE
