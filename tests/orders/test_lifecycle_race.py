"""Two people take conflicting transitions on the same order at the same moment (real threads, real
connections, real commits): exactly one wins, the other is told the order changed meanwhile, and only the
winner's effects exist (one history row, one event)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import pytest
from django.db import connection

from orders import events, lifecycle, services
from orders.errors import ConcurrentChange
from orders.models import Channel, Order, OrderStatus, OrderTransition
from partners.scoping import scope_for_user
from tests.workflows.places import create_places

ROUNDS = 8


def _slow_guard(order: Order) -> None:
    # Runs inside apply()'s locked transaction: whoever holds the row lock keeps it a moment, so the other
    # thread is certainly waiting on SELECT … FOR UPDATE when the winner commits.
    time.sleep(0.15)


@pytest.fixture
def locations(db) -> None:
    """Overrides the demo set of 394 places: these tests need two."""
    create_places()


@pytest.fixture
def slow_lifecycle(monkeypatch):
    guards = defaultdict(list, {"confirm": [_slow_guard], "cancel": [_slow_guard]})
    monkeypatch.setattr(lifecycle, "_guards", guards)


@pytest.fixture
def received():
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def receiver(sender: Any, **kwargs: Any) -> None:
        with lock:
            seen.append(kwargs)

    events.order_status_changed.connect(receiver, dispatch_uid="test-race")
    yield seen
    events.order_status_changed.disconnect(dispatch_uid="test-race")


def _race(order_id: int, scope: Any, user: Any) -> dict[str, Any]:
    barrier = threading.Barrier(2)
    outcome: dict[str, Any] = {}

    def attempt(name: str, reason: str) -> None:
        try:
            seen = Order.objects.get(pk=order_id)  # both read "submitted" before either acts
            barrier.wait(timeout=10)
            lifecycle.apply(seen, name, scope=scope, by=user, channel=Channel.SCREEN, reason=reason)
            outcome[name] = "won"
        except ConcurrentChange as exc:
            outcome[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=("confirm", "")),
        threading.Thread(target=attempt, args=("cancel", "Customer changed their mind.")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcome


@pytest.mark.django_db(transaction=True)
def test_conflicting_transitions_at_once_one_wins_and_the_loser_leaves_no_trace(
    order_data, ops_user, slow_lifecycle, received
):
    scope = scope_for_user(ops_user)
    for round_no in range(ROUNDS):
        order = services.order_create(
            data=order_data(customer_reference=f"RACE-{round_no}"), scope=scope, by=ops_user,
            channel=Channel.SCREEN, submit=True,
        )  # fmt: skip
        received.clear()
        outcome = _race(order.pk, scope, ops_user)

        winners = [name for name, result in outcome.items() if result == "won"]
        losers = [result for result in outcome.values() if isinstance(result, ConcurrentChange)]
        assert len(winners) == 1, outcome
        assert len(losers) == 1
        assert "changed meanwhile" in str(losers[0])
        final = Order.objects.get(pk=order.pk)
        assert final.status == {"confirm": OrderStatus.CONFIRMED, "cancel": OrderStatus.CANCELLED}[winners[0]]
        history = list(OrderTransition.objects.filter(order=order).values_list("name", flat=True))
        assert history == ["submit", winners[0]]
        assert [event["transition"] for event in received] == [winners[0]]
        if winners[0] == "confirm":
            assert final.cancel_reason == ""
            assert final.cancelled_at is None
