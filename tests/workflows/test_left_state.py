"""Tasks for a state the order has already left: the workflow handles "entered confirmed" after the order
moved on (an API confirmation still queued for the worker when a carrier booking planned the order; a
confirmation and a plan in one transaction, handled after its commit). A task whose blocked transition has
been taken since is made closed ("skipped", saying why), not open, blocking a step already behind the order;
the state's other tasks are made as ever; a cancelled order gets nothing open. Nothing is left out: every
task is made, and its history says what happened (docs/decisions/0004, eighth session)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import transaction
from django.urls import reverse

from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import Channel, OrderStatus, QueuedTransition
from partners.scoping import scope_for_user
from workflows import services
from workflows.guards import open_blocking_tasks
from workflows.models import Notification, TaskState, TeamMember
from workflows.services import transition_queue

from .conftest import definition, tasks_of

BOOKED = "Carrier booking NORDTRUCK00000028 confirmed"


@pytest.fixture
def quiet_wake(monkeypatch) -> mock.Mock:
    """The receiver's request for a worker, recorded instead of sent: API transitions stay queued until the
    test drains them, as they do for the moment a real worker takes to get to them."""
    wake = mock.Mock()
    monkeypatch.setattr(transition_queue, "_wake_worker", wake)
    return wake


@pytest.fixture
def submitted(make_template, make_order, ops_team, committed):
    """A submitted order (handled on the screen) whose template has tasks on confirmed and planned."""
    make_template(
        "Ocean",
        [
            definition("review", auto_complete_kind="state", auto_complete_value="confirmed"),
            definition("book", name="Book transport with a carrier", trigger_state="confirmed", blocks=["plan"]),
            definition("insure", name="Arrange cargo insurance", trigger_state="confirmed"),
            definition("customs", name="File the export declaration", trigger_state="confirmed", blocks=["depart"]),
            definition("release", name="Release the empty container", trigger_state="planned", depends_on=["book"]),
        ],
    )
    with committed():
        return make_order(submit=True)


def take(order, name, user, channel, **extra):
    return order_services.order_transition(
        order=order, name=name, scope=scope_for_user(user), by=user, channel=channel, **extra
    )


def assert_left_behind_book_skipped(order) -> None:
    tasks = tasks_of(order)
    book = tasks["book"]
    assert (book.state, book.assignee_id) == (TaskState.CANCELLED, None)
    assert book.completed_at is not None
    (event,) = book.events.all()
    assert event.verb == "skipped"
    assert event.detail == f"Not needed: the order was already planned when the workflow made this task ({BOOKED})."
    assert not Notification.objects.filter(task=book).exists()
    # What is still to do stays: a task without blocks, and one blocking a step the order has not taken.
    assert tasks["insure"].state == tasks["customs"].state == TaskState.OPEN
    assert None not in (tasks["insure"].assignee_id, tasks["customs"].assignee_id)
    assert open_blocking_tasks(order, "depart") == "Finish first: File the export declaration."
    assert tasks["review"].state == TaskState.DONE
    # The planned state's task does not wait for a task that will never be done.
    assert (tasks["release"].state, tasks["release"].waiting_on) == (TaskState.OPEN, [])
    # The members carry exactly the open tasks given to them.
    loads = dict(TeamMember.objects.values_list("pk", "open_tasks"))
    services.team_loads_recount()
    assert dict(TeamMember.objects.values_list("pk", "open_tasks")) == loads
    assert sum(loads.values()) == 3  # insure, customs, release


def test_an_api_confirmation_drained_after_a_booking_planned_the_order_opens_no_task_blocking_plan(
    submitted, ops_user, committed, quiet_wake
):
    """The reviewer's case in the real world: the customer's system confirms through the API (queued for the
    worker), the carrier's booking confirmation plans the order a moment later, before the worker got to
    the confirmation; the plan's guard found no open task, as none had been made yet. Then the drain runs."""
    with committed():
        order = take(submitted, "confirm", ops_user, Channel.API)
    assert (quiet_wake.call_count, QueuedTransition.objects.count()) == (1, 1)
    with committed():
        order = take(order, "plan", ops_user, Channel.SCREEN, reason=BOOKED)
    assert order.status == OrderStatus.PLANNED
    assert services.queued_transitions_drain() == 1
    assert_left_behind_book_skipped(order)


def test_a_confirmation_and_a_plan_in_one_transaction_open_no_task_blocking_plan(submitted, ops_user, committed):
    """As a service that confirms and books in one transaction does (the tracking demo): both events are
    handled after the commit, the confirmation's when the order is planned already."""
    with committed(), transaction.atomic():
        order = take(submitted, "confirm", ops_user, Channel.SCREEN)
        order = take(order, "plan", ops_user, Channel.SCREEN, reason=BOOKED)
    assert_left_behind_book_skipped(order)


def test_a_confirmation_and_a_plan_in_one_batch_open_no_task_blocking_plan(submitted, ops_user, committed, quiet_wake):
    with committed():
        order = take(submitted, "confirm", ops_user, Channel.API)
        order = take(order, "plan", ops_user, Channel.WEBHOOK, reason=BOOKED)
    assert services.queued_transitions_handle(limit=100) == 2
    assert_left_behind_book_skipped(order)


def test_an_order_cancelled_before_its_confirmation_was_handled_gets_nothing_open(
    submitted, ops_user, committed, quiet_wake
):
    with committed():
        order = take(submitted, "confirm", ops_user, Channel.API)
    with committed():
        order = take(order, "cancel", ops_user, Channel.SCREEN, reason="Customer withdrew.")
    assert services.queued_transitions_drain() == 1
    tasks = tasks_of(order)
    assert {key: task.state for key, task in tasks.items()} == {
        "review": TaskState.CANCELLED,  # open when the cancellation was handled: cancelled with the order
        "book": TaskState.CANCELLED, "insure": TaskState.CANCELLED, "customs": TaskState.CANCELLED,
    }  # fmt: skip
    assert [(e.verb, e.detail) for e in tasks["insure"].events.all()] == [
        ("cancelled", "Order cancelled before the workflow made this task")
    ]
    assert not Notification.objects.filter(task__key__in=["book", "insure", "customs"]).exists()
    assert set(TeamMember.objects.values_list("open_tasks", flat=True)) == {0}


def test_an_order_held_in_the_state_keeps_the_tasks_that_block_its_next_step(
    submitted, ops_user, committed, quiet_wake
):
    """Held where it was confirmed, the order has not left the state: its tasks are made open, and block."""
    with committed():
        order = take(submitted, "confirm", ops_user, Channel.API)
    with committed():
        order = take(order, "hold", ops_user, Channel.SCREEN, reason="Credit check.")
    services.queued_transitions_drain()
    assert tasks_of(order)["book"].state == TaskState.OPEN
    with committed():
        order = take(order, "release", ops_user, Channel.SCREEN)
    with pytest.raises(TransitionNotAllowed, match="Finish first: Book transport with a carrier"):
        take(order, "plan", ops_user, Channel.SCREEN, reason=BOOKED)


def test_handled_in_time_the_task_blocks_the_plan_as_before(submitted, ops_user, committed):
    with committed():
        order = take(submitted, "confirm", ops_user, Channel.SCREEN)
    assert tasks_of(order)["book"].state == TaskState.OPEN
    with pytest.raises(TransitionNotAllowed, match="Finish first: Book transport with a carrier"):
        take(order, "plan", ops_user, Channel.SCREEN, reason=BOOKED)


def test_the_skipped_task_says_so_on_its_page_and_blocks_nothing_on_the_order(submitted, ops_user, committed, login):
    with committed(), transaction.atomic():
        order = take(submitted, "confirm", ops_user, Channel.SCREEN)
        order = take(order, "plan", ops_user, Channel.SCREEN, reason=BOOKED)
    book = tasks_of(order)["book"]
    client = login(ops_user)
    page = client.get(reverse("workflows:task_detail", args=[book.pk])).content.decode()
    assert "Cancelled" in page
    assert 'Skipped <span class="text-secondary">— Not needed: the order was already planned' in page
    url = reverse("workflows:order_tasks", args=[order.reference])
    panel = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Book transport with a carrier" in panel  # listed: nothing disappears
    assert "blocks depart" in panel  # the export declaration still holds departure back
    assert "blocks plan" not in panel
