"""/readyz names background work that failed for good (docs/operations.md, "Health endpoints"): an order transition
the workflow gave up (workflows.FailedTransition) until someone retries it, and a message dropped because its runs
killed their worker (workflows.DeadLetter) for DEAD_LETTER_WINDOW after the drop. One cheap query each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oms.health import DEAD_LETTER_WINDOW, record_heartbeat
from orders.models import Channel, OrderTransition
from workflows.models import DeadLetter, FailedTransition


@pytest.fixture
def transition(order_data, ops_user) -> OrderTransition:
    from orders import services
    from partners.scoping import scope_for_user

    order = services.order_create(data=order_data(), scope=scope_for_user(ops_user), by=ops_user,
                                  channel=Channel.SCREEN, submit=True)  # fmt: skip
    return OrderTransition.objects.filter(order=order).latest("pk")


@pytest.fixture
def heartbeat(db) -> None:
    record_heartbeat(name="celery@test")


def _checks(client) -> tuple[int, dict[str, str]]:
    response = client.get(reverse("readyz"))
    return response.status_code, response.json()["checks"]


def test_readyz_is_red_while_an_order_transition_is_given_up_and_green_once_it_is_retried(
    client, heartbeat, transition
):
    failed = FailedTransition.objects.create(transition=transition, attempts=3, last_error="KeyError: 'cargo'")
    assert _checks(client) == (200, {"database": "ok", "broker": "ok", "worker": "ok", "workflow_queue": "ok"})
    # still being retried by the sweep: not yet a problem

    FailedTransition.objects.filter(pk=failed.pk).update(
        attempts=FailedTransition.MAX_ATTEMPTS, given_up_at=timezone.now() - timedelta(hours=3)
    )
    status, checks = _checks(client)

    assert status == 503
    assert checks["workflow_queue"] == (
        "an order transition was given up after 8 failed workflow handlings (3 h ago), so its tasks are missing: fix "
        "the cause, then retry it under Workflows › Failed transitions"
    )
    FailedTransition.objects.filter(pk=failed.pk).update(given_up_at=None, next_attempt_at=timezone.now())  # retried
    assert _checks(client)[0] == 200


def test_readyz_counts_the_given_up_transitions(client, heartbeat, order_data, ops_user, transition):
    other = OrderTransition.objects.create(
        order=transition.order, name="hold", source="submitted", target="on_hold", channel=Channel.SCREEN
    )
    for row in (transition, other):
        FailedTransition.objects.create(transition=row, attempts=8, given_up_at=timezone.now())

    assert _checks(client)[1]["workflow_queue"].startswith(
        "2 order transitions were given up after 8 failed workflow handlings (the first "
    )


def test_readyz_is_red_for_a_day_after_a_message_is_dropped(client, heartbeat):
    letter = DeadLetter.objects.create(
        task_name="orders.tasks.import_orders", task_id="abc", runs=3, dropped_at=timezone.now() - timedelta(hours=5)
    )
    status, checks = _checks(client)

    assert status == 503
    assert checks["worker"] == (
        "a message of orders.tasks.import_orders was dropped 5 h ago after 3 runs died with their worker process (out "
        "of memory, a crash, the time limit): read it under Workflows › Dead letters and the worker's log; this check "
        "clears 24 h after the last drop"
    )
    DeadLetter.objects.filter(pk=letter.pk).update(dropped_at=timezone.now() - DEAD_LETTER_WINDOW - timedelta(1))
    assert _checks(client) == (200, {"database": "ok", "broker": "ok", "worker": "ok", "workflow_queue": "ok"})


def test_a_stopped_worker_is_named_before_a_dead_letter(client, db):
    DeadLetter.objects.create(task_name="orders.tasks.import_orders", task_id="abc", runs=3)
    assert _checks(client)[1]["worker"] == "no worker heartbeat recorded yet"


def test_each_failed_work_check_is_one_query(client, heartbeat, transition, django_assert_num_queries):
    FailedTransition.objects.create(transition=transition, attempts=8, given_up_at=timezone.now())
    for n in range(5):
        DeadLetter.objects.create(task_name="orders.tasks.import_orders", task_id=f"t{n}", runs=3)

    # SELECT 1, the heartbeat, the oldest queued transition, the oldest tracking record, then one each
    with django_assert_num_queries(6) as captured:
        client.get(reverse("readyz"))

    sql = [query["sql"] for query in captured.captured_queries]
    assert sum("workflows_failedtransition" in s for s in sql) == 1
    assert sum("workflows_deadletter" in s for s in sql) == 1
