"""The console shows the background work that failed (docs/operations.md, "What background work retries"): order
transitions whose workflow handling failed (workflows.FailedTransition) with "Retry now" once the cause is fixed,
and the messages dropped because their runs killed their worker (workflows.DeadLetter), read-only."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import services as order_services
from orders.models import Channel, Order, OrderTransition
from partners.scoping import scope_for_user
from workflows import services
from workflows.models import DeadLetter, FailedTransition, ProcessedTransition
from workflows.services import transition_handling, transition_queue

from .conftest import definition, tasks_of
from .test_queue_failures import _failing_for

CHANGELIST = "admin:workflows_failedtransition_changelist"
SWEEP_AGE = datetime.timedelta(0)


@pytest.fixture
def queued_orders(
    make_template, make_order, ops_team, ops_user, committed, monkeypatch
) -> Callable[[int], list[Order]]:
    """`queued_orders(n)`: n orders submitted through the API, their transitions queued for the workflow's drain."""
    monkeypatch.setattr(transition_queue, "_wake_worker", mock.Mock())
    make_template("Ocean", [definition("check", due_in_hours=Decimal(4))])

    def make(count: int) -> list[Order]:
        orders = [make_order() for _ in range(count)]
        with committed():
            return [
                order_services.order_transition(
                    order=o, name="submit", scope=scope_for_user(ops_user), by=ops_user, channel=Channel.API
                )
                for o in orders
            ]

    return make


def _given_up(transition_id: int, error: str = "KeyError: 'cargo'") -> None:
    FailedTransition.objects.update_or_create(
        transition_id=transition_id,
        defaults={"attempts": FailedTransition.MAX_ATTEMPTS, "last_error": error, "given_up_at": timezone.now()},
    )


def _list_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_a_given_up_transition_is_listed_with_its_order_attempts_and_error(client, admin_user, queued_orders):
    (order,) = queued_orders(1)
    transition = OrderTransition.objects.get(order=order, name="submit")
    _given_up(transition.pk, "KeyError: 'cargo'\nsecond line of the message")
    client.force_login(admin_user)

    page = client.get(reverse(CHANGELIST)).content.decode()

    assert order.reference in page
    assert reverse("orders:detail", args=[order.reference]) in page
    assert f"submit: {transition.source} → {transition.target} (#{transition.pk})" in page
    assert "KeyError: &#x27;cargo&#x27;" in page
    assert "second line" not in page  # the list shows the error's first line; the detail shows it whole
    assert "Retry now" in page
    detail = client.get(reverse("admin:workflows_failedtransition_change", args=[transition.pk])).content.decode()
    assert "second line of the message" in detail
    assert "“Retry now” has the next sweep try it once more" in detail  # given_up_at's help text


def test_the_failed_transitions_list_costs_the_same_queries_for_many_rows(
    client, admin_user, queued_orders, django_assert_max_num_queries
):
    orders = queued_orders(6)
    ids = list(OrderTransition.objects.filter(order__in=orders, name="submit").values_list("pk", flat=True))
    client.force_login(admin_user)
    _given_up(ids[0])
    one = _list_queries(client, reverse(CHANGELIST))
    for pk in ids[1:]:
        _given_up(pk)

    assert _list_queries(client, reverse(CHANGELIST)) == one
    with django_assert_max_num_queries(one):
        assert "6 failed transitions" in client.get(reverse(CHANGELIST) + "?state=given_up").content.decode()


def test_retry_now_has_the_sweep_handle_a_given_up_transition_of_any_age(client, admin_user, queued_orders):
    """The sweep looks for unhandled transitions only above a floor (the last one handled over a day ago): deleting
    the row of a transition given up before that would leave it unhandled for good. "Retry now" works at any age."""
    bad_order, good_order = queued_orders(2)
    bad = OrderTransition.objects.get(order=bad_order, name="submit").pk
    with mock.patch.object(transition_handling, "_state_tasks", _failing_for({bad}, KeyError("cargo"))):
        services.queued_transitions_drain()  # the good one is handled, the bad one fails
    _given_up(bad)
    ProcessedTransition.objects.update(processed_at=timezone.now() - datetime.timedelta(days=2))  # a while ago
    services.pending_transitions_process(older_than=SWEEP_AGE)
    assert not tasks_of(bad_order)  # given up: passed by
    assert tasks_of(good_order)
    client.force_login(admin_user)

    response = client.post(
        reverse(CHANGELIST), {"action": "retry_now", ACTION_CHECKBOX_NAME: [bad]}, follow=True
    )  # the cause is fixed (the rule is no longer patched to fail)

    assert "1 transition(s) will be tried again by the catch-up sweep within a minute" in response.content.decode()
    failed = FailedTransition.objects.get(pk=bad)
    assert failed.given_up_at is None
    assert failed.next_attempt_at <= timezone.now()
    services.pending_transitions_process(older_than=SWEEP_AGE)  # the next beat
    assert tasks_of(bad_order)
    assert not FailedTransition.objects.exists()


def test_a_retried_transition_that_fails_again_is_given_up_again_at_once(client, admin_user, queued_orders):
    (order,) = queued_orders(1)
    bad = OrderTransition.objects.get(order=order, name="submit").pk
    _given_up(bad)
    client.force_login(admin_user)
    client.post(reverse(CHANGELIST), {"action": "retry_now", ACTION_CHECKBOX_NAME: [bad]})

    with mock.patch.object(transition_handling, "_state_tasks", _failing_for({bad}, KeyError("still"))):
        services.pending_transitions_process(older_than=SWEEP_AGE)

    failed = FailedTransition.objects.get(pk=bad)
    assert failed.given_up_at is not None
    assert failed.attempts == FailedTransition.MAX_ATTEMPTS + 1
    assert "still" in failed.last_error


def test_failed_transitions_are_not_added_or_deleted_in_the_console(client, admin_user, queued_orders):
    (order,) = queued_orders(1)
    bad = OrderTransition.objects.get(order=order, name="submit").pk
    _given_up(bad)
    client.force_login(admin_user)

    assert client.get(reverse("admin:workflows_failedtransition_add")).status_code == 403
    assert (
        client.post(reverse("admin:workflows_failedtransition_delete", args=[bad]), {"post": "yes"}).status_code == 403
    )
    assert FailedTransition.objects.filter(pk=bad).exists()


def _dead_letter(n: int) -> DeadLetter:
    return DeadLetter.objects.create(
        task_name="tracking.exceptions.tasks.detect_exceptions", task_id=f"task-{n}",
        args=f"args=() kwargs={{'order_ids': [{n}]}}", runs=3,
    )  # fmt: skip


def test_dead_letters_are_listed_and_read_but_not_changed(client, admin_user, django_assert_max_num_queries):
    letter = _dead_letter(1)
    client.force_login(admin_user)
    changelist = reverse("admin:workflows_deadletter_changelist")
    one = _list_queries(client, changelist)
    for n in range(2, 8):
        _dead_letter(n)

    page = client.get(changelist).content.decode()
    assert "tracking.exceptions.tasks.detect_exceptions" in page
    assert "task-7" in page
    with django_assert_max_num_queries(one):
        client.get(changelist)
    detail_url = reverse("admin:workflows_deadletter_change", args=[letter.pk])
    detail = client.get(detail_url).content.decode()
    assert "order_ids" in detail
    assert "How many runs of it died with their worker process." in detail
    assert 'name="_save"' not in detail
    client.post(detail_url, {"task_name": "changed", "task_id": "x", "args": "", "runs": 1})
    assert DeadLetter.objects.get(pk=letter.pk).task_name == "tracking.exceptions.tasks.detect_exceptions"
    assert client.get(reverse("admin:workflows_deadletter_add")).status_code == 403
    assert (
        client.post(reverse("admin:workflows_deadletter_delete", args=[letter.pk]), {"post": "yes"}).status_code == 403
    )
