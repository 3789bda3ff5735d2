"""Transitions made through the API, webhooks and files are queued (orders.QueuedTransition) and a worker
handles them in batches: the same tasks, assignees, due times, notifications and rules as one at a time,
in a handful of statements for a whole batch, each exactly once, and a failure holds nothing up."""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import IntegrityError
from django.utils import timezone

from orders import services as order_services
from orders.models import Channel, OrderStatus, OrderTransition, QueuedTransition
from partners.scoping import scope_for_user
from workflows import services
from workflows.models import (
    ActionKind,
    CustomerSettings,
    Notification,
    OrderWorkflow,
    ProcessedTransition,
    Rule,
    RuleAction,
    RuleCondition,
    RuleEvent,
    Task,
    TaskState,
    TeamMember,
)
from workflows.services import transition_handling, transition_queue

from .conftest import definition, tasks_of


@pytest.fixture
def quiet_wake(monkeypatch) -> mock.Mock:
    """The receiver's request for a worker, recorded instead of sent: transitions stay queued."""
    wake = mock.Mock()
    monkeypatch.setattr(transition_queue, "_wake_worker", wake)
    return wake


def submit(order, user, channel=Channel.API):
    return order_services.order_transition(
        order=order, name="submit", scope=scope_for_user(user), by=user, channel=channel
    )


@pytest.fixture
def queued_orders(make_template, make_order, ops_team, docs_team, ops_user, committed, quiet_wake):
    """`queued_orders(n)`: n orders submitted through the API, their transitions left on the queue."""
    make_template(
        "Ocean",
        [
            definition("check", due_in_hours=Decimal(4)),
            definition("docs", team_function="documentation", depends_on=["check"]),
            definition("later", trigger_state="confirmed"),
        ],
    )

    def make(count: int):
        orders = [make_order() for _ in range(count)]
        with committed():
            orders = [submit(order, ops_user) for order in orders]
        return orders

    return make


def test_an_api_submit_is_queued_and_a_worker_is_asked_for(queued_orders, quiet_wake):
    (order,) = queued_orders(1)
    assert quiet_wake.call_count == 1
    record = OrderTransition.objects.get(order=order, name="submit")
    assert QueuedTransition.objects.filter(transition=record).exists()
    assert not Task.objects.filter(order=order).exists()
    assert services.queued_transitions_handle() == 1
    assert not QueuedTransition.objects.exists()
    assert ProcessedTransition.objects.filter(transition=record).exists()
    assert set(tasks_of(order)) == {"check", "docs"}


def test_a_screen_submit_is_handled_at_once_and_leaves_nothing_queued(
    make_template, make_order, ops_team, ops_user, committed, quiet_wake
):
    make_template("Ocean", [definition("check")])
    order = make_order()
    with committed():
        submit(order, ops_user, channel=Channel.SCREEN)
    assert set(tasks_of(order)) == {"check"}
    assert not QueuedTransition.objects.exists()
    assert quiet_wake.call_count == 0


def test_run_eagerly_the_api_submit_is_handled_before_the_call_returns(
    make_template, make_order, ops_team, ops_user, committed
):
    make_template("Ocean", [definition("check")])
    order = make_order()
    with committed():
        submit(order, ops_user)
    assert set(tasks_of(order)) == {"check"}
    assert not QueuedTransition.objects.exists()


def _outcome(orders):
    tasks = Task.objects.filter(order__in=orders).order_by("order_id", "key")
    return [
        (t.order.reference, t.key, t.team_id, t.state, t.due_at, sorted(t.waiting_on), bool(t.assignee_id))
        for t in tasks.select_related("order")
    ]


def test_a_batch_makes_what_one_at_a_time_makes(queued_orders, monkeypatch, django_assert_max_num_queries):
    monday_10 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    monkeypatch.setattr(timezone, "now", lambda: monday_10)  # the same due times whenever each is handled
    queued_orders(1)
    services.queued_transitions_handle()  # the process reads the configuration it keeps (services.config)
    batched = queued_orders(30)
    # One transaction: claim and load, bind, people, tasks, the preferences of people the process had not
    # told anything yet, notifications, loads; none of them per order.
    with django_assert_max_num_queries(9):
        assert services.queued_transitions_handle(limit=100) == 30
    one_by_one = queued_orders(30)
    for order in one_by_one:
        services.transition_handle(transition_id=OrderTransition.objects.get(order=order, name="submit").pk)
    assert [row[1:] for row in _outcome(batched)] == [row[1:] for row in _outcome(one_by_one)]
    assert OrderWorkflow.objects.filter(order__in=batched, version__isnull=False).count() == 30
    assert Notification.objects.filter(task__order__in=batched, kind="assigned").count() == 60


def test_a_batch_spreads_the_work_over_the_team_and_counts_it(queued_orders, ops_user, ops2_user):
    queued_orders(20)
    services.queued_transitions_handle(limit=100)
    checks = Task.objects.filter(key="check")
    assert Counter(checks.values_list("assignee_id", flat=True)) == {ops_user.pk: 10, ops2_user.pk: 10}
    loads = dict(TeamMember.objects.filter(team__function="operations").values_list("user_id", "open_tasks"))
    assert loads == {ops_user.pk: 10, ops2_user.pk: 10}
    services.team_loads_recount()
    assert dict(TeamMember.objects.filter(team__function="operations").values_list("user_id", "open_tasks")) == loads


def test_two_events_of_one_order_in_a_batch_see_each_other(queued_orders, ops_user):
    (order,) = queued_orders(1)
    order_services.order_transition(
        order=order, name="cancel", scope=scope_for_user(ops_user), by=ops_user, channel=Channel.API,
        reason="Customer changed their mind.",
    )  # fmt: skip
    assert QueuedTransition.objects.count() == 2
    assert services.queued_transitions_handle(limit=100) == 2
    states = {key: task.state for key, task in tasks_of(order).items()}
    assert states == {"check": TaskState.CANCELLED, "docs": TaskState.CANCELLED}
    loads = TeamMember.objects.values_list("open_tasks", flat=True)
    assert set(loads) == {0}


def test_automation_a_batch_sets_off_is_handled_by_the_next_batch_of_the_drain(queued_orders, customer_a, committed):
    CustomerSettings.objects.create(customer=customer_a, auto_accept=True)
    rule = Rule.objects.create(name="Auto-accept", event=RuleEvent.ORDER_SUBMITTED)
    RuleCondition.objects.create(rule=rule, field="customer_auto_accept", operator="true")
    RuleAction.objects.create(rule=rule, kind=ActionKind.TRANSITION, transition="confirm")
    orders = queued_orders(5)
    with committed():
        assert services.queued_transitions_drain() == 10  # five submits, then their five confirmations
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.CONFIRMED
        assert set(tasks_of(order)) == {"check", "docs", "later"}
    assert not QueuedTransition.objects.exists()
    assert ProcessedTransition.objects.count() == OrderTransition.objects.count()


def test_a_failing_batch_is_retried_one_by_one_and_the_bad_transition_left_to_the_sweep(queued_orders):
    orders = queued_orders(4)
    bad = OrderTransition.objects.get(order=orders[2], name="submit").pk
    real = transition_handling._state_tasks

    def handle(record, run, batch):
        if record.pk == bad:
            raise IntegrityError("a task row made meanwhile")
        real(record, run, batch)

    with mock.patch.object(transition_handling, "_state_tasks", handle):
        assert services.queued_transitions_drain() == 3
    assert not QueuedTransition.objects.exists()
    assert [bool(tasks_of(order)) for order in orders] == [True, True, False, True]
    assert not ProcessedTransition.objects.filter(pk=bad).exists()
    assert services.pending_transitions_process(older_than=datetime.timedelta(0)) == 1
    assert set(tasks_of(orders[2])) == {"check", "docs"}


def test_a_process_asks_for_a_worker_at_most_every_quarter_second(monkeypatch):
    from oms.celery import app
    from workflows.tasks import handle_queued_transitions

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    delay = mock.Mock()
    monkeypatch.setattr(handle_queued_transitions, "delay", delay)
    clock = iter([100.0, 100.1, 100.2, 100.3, 100.6])
    monkeypatch.setattr(transition_queue.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(transition_queue, "_last_wake", -1.0)
    for _ in range(5):
        transition_queue._wake_worker()
    assert delay.call_count == 3  # at 100.0, 100.3 and 100.6
    assert {call.kwargs["linger_seconds"] for call in delay.call_args_list} == {transition_queue.LINGER}
    assert transition_queue.WAKE_EVERY < transition_queue.LINGER


def test_one_drain_at_a_time_and_the_running_one_sees_what_came_meanwhile(queued_orders, settings):
    import psycopg

    queued_orders(3)
    database = settings.DATABASES["default"]
    dsn = f"host={database['HOST']} port={database['PORT']} user={database['USER']} dbname={database['NAME']}"
    with psycopg.connect(dsn, autocommit=True) as other:  # another worker's drain holds the lock
        other.execute("SELECT pg_advisory_lock(%s)", [transition_queue.DRAIN_LOCK])
        assert services.queued_transitions_drain() == 0
        assert QueuedTransition.objects.count() == 3  # left to the running drain
        other.execute("SELECT pg_advisory_unlock(%s)", [transition_queue.DRAIN_LOCK])
    assert services.queued_transitions_drain() == 3
    with psycopg.connect(dsn, autocommit=True) as other:  # and this one let go of it
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [transition_queue.DRAIN_LOCK]).fetchone() == (True,)


def test_a_drain_about_to_stop_takes_what_was_queued_after_its_last_look(queued_orders, monkeypatch):
    (first,) = queued_orders(1)
    late: list[Any] = []
    real = transition_queue._drain_until_idle

    def then_another_arrives(**kwargs):
        done = real(**kwargs)
        if not late:  # queued after the drain's last look, while it still held the lock
            late.extend(queued_orders(1))
        return done

    monkeypatch.setattr(transition_queue, "_drain_until_idle", then_another_arrives)
    assert services.queued_transitions_drain() == 2
    assert set(tasks_of(first)) == {"check", "docs"}
    assert set(tasks_of(late[0])) == {"check", "docs"}


def test_the_periodic_sweep_drains_a_queue_nobody_asked_a_worker_for(queued_orders, quiet_wake):
    orders = queued_orders(3)  # their worker was killed, say: the request's message is gone for hours
    assert quiet_wake.called
    assert services.pending_transitions_process(older_than=datetime.timedelta(seconds=30)) == 3
    assert all(set(tasks_of(order)) == {"check", "docs"} for order in orders)
    assert not QueuedTransition.objects.exists()


def test_the_order_page_says_tasks_are_coming_and_reloads_until_they_are_there(
    queued_orders, login, ops_user, django_assert_max_num_queries
):
    from django.urls import reverse

    (order,) = queued_orders(1)
    client = login(ops_user)
    url = reverse("workflows:order_tasks", args=[order.reference])
    with django_assert_max_num_queries(8):
        waiting = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Making the tasks of 1 change made through the API or a file" in waiting
    assert "every 2s" in waiting
    services.queued_transitions_handle()
    done = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Making the tasks" not in done
    assert "every 2s" not in done
    assert "Check" in done


def test_an_imports_submits_are_queued_and_drained_in_batches(
    make_template, order_data, ops_team, docs_team, ops_user, committed, quiet_wake
):
    from orders import bulk
    from orders.intake import validate_order

    make_template("Ocean", [definition("check"), definition("docs", team_function="documentation")])
    scope = scope_for_user(ops_user)
    cleans = []
    for n in range(5):
        clean, errors = validate_order(order_data(customer_reference=f"FILE-{n}"), scope=scope)
        assert not errors
        cleans.append(clean)
    with committed():  # the import's commit queues the chunk task, run eagerly here: it asks for a worker
        result = bulk.orders_bulk_create(orders=cleans, scope=scope, channel=Channel.FILE, by=ops_user)
    assert QueuedTransition.objects.count() == 5
    assert quiet_wake.called
    assert not Task.objects.exists()
    assert services.queued_transitions_drain() == 5
    for created in result.created:
        assert Task.objects.filter(order_id=created.order_id).count() == 2


def test_a_drain_out_of_time_hands_over_to_a_new_task_between_batches(queued_orders, monkeypatch):
    from workflows.tasks import handle_queued_transitions

    queued_orders(3)
    handed = mock.Mock()
    monkeypatch.setattr(handle_queued_transitions, "apply_async", handed)
    assert services.queued_transitions_drain(batch=2, budget=0) == 0  # the budget is spent before a batch
    handed.assert_called_once_with(kwargs={"linger_seconds": 0.0, "retry": False}, countdown=0.0)
    assert QueuedTransition.objects.count() == 3
    assert services.queued_transitions_drain(batch=2) == 3  # the next drain takes it all
    assert handed.call_count == 1


def test_a_batch_whose_rules_take_transitions_still_saves_its_tasks_in_one_insert(queued_orders, customer_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CustomerSettings.objects.create(customer=customer_a, auto_accept=True)
    rule = Rule.objects.create(name="Auto-accept", event=RuleEvent.ORDER_SUBMITTED)
    RuleCondition.objects.create(rule=rule, field="customer_auto_accept", operator="true")
    RuleAction.objects.create(rule=rule, kind=ActionKind.TRANSITION, transition="confirm")
    orders = queued_orders(10)
    with CaptureQueriesContext(connection) as queries:
        assert services.queued_transitions_handle(limit=100) == 10
    task_inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "workflows_task"')]
    assert len(task_inserts) == 1  # not one before each rule's transition
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.CONFIRMED
        assert set(tasks_of(order)) == {"check", "docs"}  # the confirmation's own tasks come with its batch


def test_a_request_that_finds_a_drain_running_asks_once_more_a_linger_later(queued_orders, settings, monkeypatch):
    import psycopg

    from workflows.tasks import handle_queued_transitions

    queued_orders(1)
    again = mock.Mock()
    monkeypatch.setattr(handle_queued_transitions, "apply_async", again)
    database = settings.DATABASES["default"]
    dsn = f"host={database['HOST']} port={database['PORT']} user={database['USER']} dbname={database['NAME']}"
    with psycopg.connect(dsn, autocommit=True) as other:  # the running drain, about to stop, say
        other.execute("SELECT pg_advisory_lock(%s)", [transition_queue.DRAIN_LOCK])
        assert handle_queued_transitions.run(linger_seconds=transition_queue.LINGER) == 0
        again.assert_called_once_with(kwargs={"linger_seconds": transition_queue.LINGER, "retry": False},
                                      countdown=transition_queue.LINGER)  # fmt: skip
        assert handle_queued_transitions.run(linger_seconds=transition_queue.LINGER, retry=False) == 0
        assert again.call_count == 1  # once only: a retry does not ask again
