"""Issue 6's "Done when": consolidate, book, record the confirmation, "and the order moves to `planned` through the
workflow", with the workflow templates the demo ships. The confirmation puts BOOKING_CONFIRMED on the orders'
timelines and the workflow completes the booking task that blocks `plan` (its completion, milestone
BOOKING_CONFIRMED) before the confirmation plans the orders; a cancelled confirmed booking takes them back to
`confirmed`, reopens that task and tells its people (acceptance review B, defects 1, 5 and 6)."""

from __future__ import annotations

import datetime

import pytest

from orders.models import Order, OrderTransition
from tests.tracking.conftest import PICKUP
from tests.tracking.test_ingest_support import fresh_mapping
from tracking.ingest import recording
from tracking.ingest import services as ingest_services
from tracking.ingest.models import TrackingEvent
from tracking.ingest.selectors import order_timeline
from tracking.services import booking as booking_services
from tracking.services import consolidation, ranking
from workflows.demo import seed_templates
from workflows.models import (
    Notification,
    OrderWorkflow,
    QueuedTrackingRecord,
    Task,
    TaskState,
    Team,
    TeamFunction,
    TeamMember,
)

__all__ = ["fresh_mapping"]  # fixture

ETD = datetime.datetime.combine(PICKUP + datetime.timedelta(days=5), datetime.time(12), tzinfo=datetime.UTC)
ETA = ETD + datetime.timedelta(days=30)
BOOKING_TASK = "Book transport with a carrier"  # the general template's step (the demo's LCL orders match it)


@pytest.fixture
def demo_templates(admin_user, fresh_mapping):
    seed_templates(admin_user)


@pytest.fixture
def ops_team(branch, ops_user):
    """The branch's operations team, led by ops@ (who books), with a second member who gets the tasks."""
    from tests.factories import UserFactory

    team = Team.objects.create(branch=branch, function=TeamFunction.OPERATIONS, name="HAM Operations", lead=ops_user)
    colleague = UserFactory(email="ops.colleague@oms.test", full_name="Olga Colleague")
    from partners import services as partner_services
    from partners.models import Role

    partner_services.membership_grant(user=colleague, organisation=branch, role=Role.OPERATIONS)
    TeamMember.objects.create(team=team, user=colleague)
    return team, colleague


@pytest.fixture
def consolidated(demo_templates, make_order, ops_user, ocean_carriers, django_capture_on_commit_callbacks):
    """Three LCL orders confirmed on the screen (their workflow made the booking task), consolidated into one 20'
    box, and a booking with the best-ranked carrier sent."""
    with django_capture_on_commit_callbacks(execute=True):
        orders = [make_order(requested_pickup_on=PICKUP) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
        booking = booking_services.booking_request(
            shipment=master, option=ranking.ranking_for_shipment(shipment=master).best, by=ops_user
        )
        booking_services.booking_send(booking=booking, by=ops_user)
    return orders, master, booking


def confirm(booking, ops_scope, ops_user, capture):
    with capture(execute=True):
        return booking_services.booking_confirm(
            booking=booking, scope=ops_scope, by=ops_user, carrier_reference="MAEU1", departure_at=ETD, arrival_at=ETA
        )


def booking_tasks(orders):
    return Task.objects.filter(order__in=orders, name=BOOKING_TASK).order_by("order_id")


def test_recording_the_carrier_confirmation_plans_the_orders_through_the_workflow(
    consolidated, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    orders, _master, booking = consolidated
    tasks = booking_tasks(orders)
    assert [t.state for t in tasks] == [TaskState.OPEN] * 3  # made by the workflow, blocking plan
    assert all(t.blocks == ["plan"] and t.auto_complete_on == "milestone:BOOKING_CONFIRMED" for t in tasks)

    outcome = confirm(booking, ops_scope, ops_user, django_capture_on_commit_callbacks)

    assert outcome.not_planned == [], outcome.not_planned
    assert {Order.objects.get(pk=o.pk).status for o in orders} == {"planned"}
    assert [t.state for t in booking_tasks(orders)] == [TaskState.DONE] * 3
    # the task completed first, by the milestone, then the order was planned through the lifecycle
    for order in orders:
        plan = OrderTransition.objects.get(order=order, name="plan")
        assert plan.payload["booking_id"] == booking.pk
        event = booking_tasks([order]).get().events.get(verb="auto-completed")
        assert event.detail == "milestone:BOOKING_CONFIRMED"
        assert event.at <= plan.at
        assert "milestone:BOOKING_CONFIRMED" in OrderWorkflow.objects.get(order=order).events_seen
    # the workflow acted on ingest's queued records in the confirmation itself: nothing is left for the drain
    assert not QueuedTrackingRecord.objects.filter(code="BOOKING_CONFIRMED").exists()


def test_a_house_joining_a_confirmed_master_is_planned_through_the_workflow_too(
    consolidated, make_order, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    _orders, master, booking = consolidated
    confirm(booking, ops_scope, ops_user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        late = make_order(requested_pickup_on=PICKUP)
    assert booking_tasks([late]).get().state == TaskState.OPEN

    with django_capture_on_commit_callbacks(execute=True):
        consolidation.order_add_to_master(order=late, master=master, by=ops_user)

    assert Order.objects.get(pk=late.pk).status == "planned"
    assert booking_tasks([late]).get().state == TaskState.DONE


def test_the_confirmation_is_on_the_order_timeline_for_staff_customers_and_the_tracking_link(
    consolidated, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    orders, master, booking = consolidated
    confirm(booking, ops_scope, ops_user, django_capture_on_commit_callbacks)

    event = TrackingEvent.objects.get(shipment=master, milestone_id="BOOKING_CONFIRMED")
    assert event.classifier == "ACT"
    assert event.source_kind == "planning"
    for customer_safe in (False, True):  # staff; customers, partners and the public link (customer-safe)
        timeline = order_timeline(order=Order.objects.get(pk=orders[0].pk), customer_safe=customer_safe)
        row = next(row for row in timeline.milestones if row.code == "BOOKING_CONFIRMED")
        assert row.actual_at == event.event_at
        assert row.location == ""  # a booking is made at no port
    # a second confirmation of the same moment is not recorded twice, and a failing record never fails the booking
    with pytest.raises(ingest_services.TrackingError, match="already recorded"):
        recording.event_record(
            milestone="BOOKING_CONFIRMED",
            occurred_at=event.event_at,
            source=ingest_services.Source(kind="planning", name=ops_user.email),
            subject=("shipment", master.reference),
        )


def test_a_workflow_failure_leaves_the_order_not_planned_and_the_record_queued(
    consolidated, ops_user, ops_scope, django_capture_on_commit_callbacks, monkeypatch
):
    from workflows.services import bookings

    orders, _master, booking = consolidated

    def broken(**kwargs):
        raise RuntimeError("a rule's bug")

    monkeypatch.setattr(bookings, "milestone_record", broken)
    outcome = confirm(booking, ops_scope, ops_user, django_capture_on_commit_callbacks)

    booking.refresh_from_db()
    assert booking.status == "confirmed"  # the confirmation stands
    assert [order.reference for order, _ in outcome.not_planned] == [o.reference for o in orders]
    assert "Book transport with a carrier" in outcome.not_planned[0][1]
    # ingest's records stay for the drain, which completes the tasks once the bug is fixed
    assert QueuedTrackingRecord.objects.filter(code="BOOKING_CONFIRMED").count() == 3


def test_cancelling_the_confirmed_booking_takes_the_orders_back_reopens_the_task_and_tells_its_people(
    consolidated, ops_team, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    orders, master, booking = consolidated
    _team, colleague = ops_team
    confirm(booking, ops_scope, ops_user, django_capture_on_commit_callbacks)
    Task.objects.filter(pk__in=booking_tasks(orders).values("pk")).update(assignee=colleague)
    Notification.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = booking_services.booking_cancel(
            booking=booking, reason="Shipper postponed by a week", by=ops_user, scope=ops_scope
        )

    assert [o.pk for o in outcome.unplanned] == [o.pk for o in orders]
    assert {Order.objects.get(pk=o.pk).status for o in orders} == {"confirmed"}
    back = OrderTransition.objects.get(order=orders[0], name="unplan")
    assert back.reason == "Carrier booking MAEU1 with Maersk cancelled: Shipper postponed by a week"
    assert [t.state for t in booking_tasks(orders)] == [TaskState.OPEN] * 3
    reopened = booking_tasks(orders).first().events.get(verb="reopened")
    assert "Shipper postponed by a week" in reopened.detail
    assert not any(
        "milestone:BOOKING_CONFIRMED" in w.events_seen for w in OrderWorkflow.objects.filter(order__in=orders)
    )
    notices = Notification.objects.filter(recipient=colleague).order_by("pk")
    assert [n.title for n in notices] == [f"Booking cancelled · {o.reference}" for o in orders]
    assert "back to confirmed: book its cargo again" in notices[0].body
    assert not Notification.objects.filter(recipient=ops_user).exists()  # who cancelled knows
    # the order page offers no "Mark departed" any more: the order is confirmed, and planning waits for a booking
    from orders import lifecycle

    offered = {t["name"]: t for t in lifecycle.available_transitions(Order.objects.get(pk=orders[0].pk), ops_scope)}
    assert "depart" not in offered
    assert not offered["plan"]["allowed"]
    # nor does its timeline say "Booking confirmed" any more, to staff or customers (the event stays on record)
    for customer_safe in (False, True):
        timeline = order_timeline(order=Order.objects.get(pk=orders[0].pk), customer_safe=customer_safe)
        assert next(row for row in timeline.milestones if row.code == "BOOKING_CONFIRMED").actual_at is None
    assert TrackingEvent.objects.filter(shipment=master, milestone_id="BOOKING_CONFIRMED").exists()


def test_a_new_confirmation_after_a_cancellation_completes_the_reopened_task_again(
    consolidated, ocean_carriers, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    orders, master, booking = consolidated
    confirm(booking, ops_scope, ops_user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_cancel(booking=booking, reason="Blank sailing", by=ops_user, scope=ops_scope)
    # a drain that comes late has nothing left to complete the reopened tasks with
    from workflows.services import milestones

    milestones.tracking_records_drain()
    assert [t.state for t in booking_tasks(orders)] == [TaskState.OPEN] * 3

    _, hapag = ocean_carriers
    second = booking_services.booking_request(shipment=master, carrier=hapag, by=ops_user)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = booking_services.booking_confirm(
            booking=second, scope=ops_scope, by=ops_user, carrier_reference="HLCU9",
            departure_at=ETD + datetime.timedelta(days=7), arrival_at=ETA + datetime.timedelta(days=7),
        )  # fmt: skip

    assert outcome.not_planned == []
    assert {Order.objects.get(pk=o.pk).status for o in orders} == {"planned"}
    assert [t.state for t in booking_tasks(orders)] == [TaskState.DONE] * 3
    timeline = order_timeline(order=Order.objects.get(pk=orders[0].pk), customer_safe=True)
    row = next(row for row in timeline.milestones if row.code == "BOOKING_CONFIRMED")
    assert row.actual_at == TrackingEvent.objects.filter(milestone_id="BOOKING_CONFIRMED").latest("event_at").event_at


def test_an_order_on_hold_is_reported_not_forced_back(
    consolidated, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    from orders import services as order_services

    orders, _master, booking = consolidated
    confirm(booking, ops_scope, ops_user, django_capture_on_commit_callbacks)
    held = order_services.order_transition(
        order=Order.objects.get(pk=orders[0].pk), name="hold", scope=ops_scope, channel="screen", by=ops_user,
        reason="Credit check",
    )  # fmt: skip

    outcome = booking_services.booking_cancel(booking=booking, reason="Blank sailing", by=ops_user)

    assert [o.pk for o in outcome.unplanned] == [orders[1].pk, orders[2].pk]
    assert outcome.not_unplanned == [(held, "it is on hold; it goes back to confirmed when it is released")]

    with django_capture_on_commit_callbacks(execute=True):  # the release's event (tracking.receivers)
        released = order_services.order_transition(
            order=Order.objects.get(pk=held.pk), name="release", scope=ops_scope, channel="screen", by=ops_user,
            reason="Credit cleared",
        )  # fmt: skip
    assert released.status == "planned"  # where the hold was taken
    unplanned = Order.objects.get(pk=held.pk)
    assert unplanned.status == "confirmed"
    last = unplanned.transitions.order_by("-at", "-pk").first()
    assert (last.name, last.by, last.channel) == ("unplan", None, "system")
    assert last.reason.startswith("Released with its cargo booked no more: ")
