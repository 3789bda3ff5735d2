"""Migration workflows/0010: orders whose carrier booking was confirmed before the confirmation completed the booking
task (the task open, the order confirmed, never planned) get the task done and are planned, by the system, as the
confirmation does since; an order on hold or held back by another task gets the task done only; nothing else is
touched, and a second run changes nothing. Run with the historical models of the migration's own state."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from orders import services as order_services
from orders.models import Order, OrderTransition, QueuedTransition
from tests.tracking.test_booking_workflow import (
    BOOKING_TASK,
    booking_tasks,
    confirm,
    consolidated,
    demo_templates,
    ops_team,
)
from tests.tracking.test_ingest_support import fresh_mapping
from tracking import events as tracking_events
from tracking.ingest import receivers as ingest_receivers
from workflows import receivers as workflow_receivers
from workflows.models import OrderWorkflow, Task, TaskEvent, TaskState, TeamMember
from workflows.services import queued_transitions_drain

__all__ = ["consolidated", "demo_templates", "fresh_mapping", "ops_team"]  # fixtures

MIGRATION = ("workflows", "0010_booked_orders_planned")
BOOKED = "milestone:BOOKING_CONFIRMED"


def repair() -> None:
    """The migration's function with the historical models of the state it runs in."""
    historical = MigrationExecutor(connection).loader.project_state(MIGRATION).apps
    module = importlib.import_module(f"{MIGRATION[0]}.migrations.{MIGRATION[1]}")
    module.repair_booked_orders(historical, None)


@contextlib.contextmanager
def confirmed_before_the_change() -> Iterator[None]:
    """A confirmation as it was recorded before the change: no BOOKING_CONFIRMED on the timeline, nothing for the
    workflow, so its `plan` meets the open booking task."""
    covers, recording = tracking_events.booking_covers_orders, tracking_events.booking_confirmed_recording
    covers.disconnect(dispatch_uid="workflows.booking_covers_orders")
    recording.disconnect(dispatch_uid="tracking.ingest.booking_confirmed")
    try:
        yield
    finally:
        covers.connect(workflow_receivers._booking_covers_orders, dispatch_uid="workflows.booking_covers_orders")
        recording.connect(
            ingest_receivers._booking_confirmed_recording, dispatch_uid="tracking.ingest.booking_confirmed"
        )


def test_orders_booked_before_the_change_get_their_task_done_and_are_planned(
    consolidated, ops_team, ops_user, ops_scope, make_order, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    orders, master, booking = consolidated
    plain, held, blocked = orders
    with capture(execute=True):
        unbooked = make_order()  # confirmed, its booking task open, but on no shipment: rightly not planned
    team, colleague = ops_team
    TeamMember.objects.filter(team=team).update(open_tasks=5)
    Task.objects.filter(order__in=orders, name=BOOKING_TASK).update(team=team, assignee=colleague)
    extra = Task.objects.create(
        order=blocked, name="Credit check", team_function="finance", blocks=["plan"], state=TaskState.OPEN
    )  # another task that holds `plan` back
    with confirmed_before_the_change():
        outcome = confirm(booking, ops_scope, ops_user, capture)
    assert {order.pk for order, _reason in outcome.not_planned} == {o.pk for o in orders}  # the defect
    booking.refresh_from_db()
    with capture(execute=True):
        order_services.order_transition(
            order=Order.objects.get(pk=held.pk), name="hold", scope=ops_scope, by=ops_user, channel="screen",
            reason="Customer asked to wait",
        )  # fmt: skip
    before = OrderTransition.objects.count()

    repair()

    status = dict(Order.objects.filter(pk__in=[o.pk for o in [*orders, unbooked]]).values_list("pk", "status"))
    assert status == {plain.pk: "planned", held.pk: "on_hold", blocked.pk: "confirmed", unbooked.pk: "confirmed"}
    assert [t.state for t in booking_tasks(orders)] == [TaskState.DONE] * 3
    assert booking_tasks([unbooked]).get().state == TaskState.OPEN
    assert Task.objects.get(pk=extra.pk).state == TaskState.OPEN
    for task in booking_tasks(orders):
        assert task.completed_by_id is None
        event = TaskEvent.objects.get(task=task, verb="auto-completed")
        assert event.by_id is None
        assert event.detail.startswith(f"{BOOKED} (")
        assert booking.carrier_reference in event.detail
        assert BOOKED in OrderWorkflow.objects.get(order=task.order).events_seen
    assert TeamMember.objects.get(team=team, user=colleague).open_tasks == 2  # three tasks' load released
    plan = OrderTransition.objects.get(order=plain, name="plan")
    assert (plan.source, plan.target, plan.by_id, plan.channel) == ("confirmed", "planned", None, "system")
    assert plan.reason == f"Carrier booking {booking.carrier_reference} confirmed"
    assert (plan.payload["booking_id"], plan.payload["shipment"]) == (booking.pk, master.reference)
    assert QueuedTransition.objects.filter(transition=plan).exists()  # the workflow worker handles it
    assert OrderTransition.objects.count() == before + 1

    repair()  # idempotent
    assert OrderTransition.objects.count() == before + 1
    assert TaskEvent.objects.filter(task__in=booking_tasks(orders), verb="auto-completed").count() == 3

    with capture(execute=True):
        queued_transitions_drain()
    assert not QueuedTransition.objects.filter(transition=plan).exists()
    with capture(execute=True):
        released = order_services.order_transition(
            order=Order.objects.get(pk=held.pk), name="release", scope=ops_scope, by=ops_user, channel="screen"
        )
    assert released.status == "confirmed"  # "Mark planned" is a person's now: the task no longer holds it back
    with capture(execute=True):
        planned = order_services.order_transition(
            order=released, name="plan", scope=ops_scope, by=ops_user, channel="screen"
        )
    assert planned.status == "planned"


def test_an_order_planned_once_or_whose_task_was_reopened_is_left_to_people(
    consolidated, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    orders, _master, booking = consolidated
    with confirmed_before_the_change():
        confirm(booking, ops_scope, ops_user, capture)
    reopened, planned_once, queued = orders
    task = booking_tasks([reopened]).get()
    TaskEvent.objects.create(task=task, verb="reopened", by=ops_user, detail="Not booked after all")
    OrderTransition.objects.create(
        order=planned_once, name="plan", source="confirmed", target="planned", channel="screen"
    )  # planned, later taken back
    OrderWorkflow.objects.filter(order=queued).update(events_seen=[BOOKED])  # the workflow heard of it
    before = (OrderTransition.objects.count(), TaskEvent.objects.count())

    repair()

    assert (OrderTransition.objects.count(), TaskEvent.objects.count()) == before
    assert [t.state for t in booking_tasks(orders)] == [TaskState.OPEN] * 3
