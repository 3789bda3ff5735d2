"""The demo's history reads as if it happened (oms.demo_clock): for every demo order whose goods moved, what the
team did (taken, submitted, confirmed, planned, booked) comes in order and before the goods were first picked up,
what the carrier's events made follows them, and no booking was answered after its leg departed. Before, every
service's time was the seed's own: "Booking confirmed" a minute ago on goods picked up yesterday."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from orders.history_entries import order_history_for
from orders.models import Order, OrderEvent, OrderTransition
from tracking.ingest import mapping
from tracking.ingest.models import Classifier, MappingRule, Milestone, TrackingEvent
from tracking.ingest.standards import seed_reference_data
from tracking.models import Booking, Leg, LegRole, Shipment
from workflows.models import Task, TriggerKind

pytestmark = pytest.mark.django_db(transaction=True)

PHYSICAL_RANK = 25  # EMPTY_PICKED_UP onwards: something moved
BEFORE_THE_GOODS_MOVE = {"submitted", "confirmed", "planned", "draft"}


def _shipment_ids(order: Order) -> set[int]:
    houses = set(Shipment.objects.filter(order=order).values_list("pk", flat=True))
    masters = set(Shipment.objects.filter(consolidated_houses__house__order=order).values_list("pk", flat=True))
    return houses | masters


def _events(order: Order) -> list[TrackingEvent]:
    ids = _shipment_ids(order)
    return list(
        TrackingEvent.objects.filter(shipment_id__in=ids).select_related("milestone").order_by("event_at", "pk")
    ) + list(TrackingEvent.objects.filter(order=order).exclude(shipment_id__in=ids).select_related("milestone"))


def _first_physical(order: Order) -> datetime.datetime | None:
    moved = [
        event.event_at
        for event in _events(order)
        if event.classifier == Classifier.ACTUAL and event.milestone and event.milestone.rank >= PHYSICAL_RANK
    ]
    return min(moved, default=None)


def _order_problems(order: Order, now: datetime.datetime) -> list[str]:
    first = _first_physical(order)
    assert first is not None
    problems = []
    transitions = list(OrderTransition.objects.filter(order=order).order_by("pk"))
    times = [t.at for t in transitions]
    if times != sorted(times):
        problems.append(f"transitions out of order: {[(t.name, t.at.isoformat()) for t in transitions]}")
    for transition in transitions:
        if transition.target in BEFORE_THE_GOODS_MOVE and transition.at >= first:
            problems.append(f"{transition.name} at {transition.at:%d %b %H:%M}, goods moved {first:%d %b %H:%M}")
    history = list(OrderEvent.objects.filter(pgh_obj_id=order.pk).order_by("pgh_id"))
    stamps = [event.pgh_created_at for event in history]
    if stamps != sorted(stamps):
        problems.append("history out of order")
    if not history or history[0].pgh_created_at >= first or order.created_at >= first:
        problems.append(f"order taken after its goods moved ({order.created_at:%d %b %H:%M})")
    for event in history:
        if event.status in BEFORE_THE_GOODS_MOVE and event.pgh_created_at >= first:
            problems.append(f"history '{event.status}' at {event.pgh_created_at:%d %b %H:%M} after the goods moved")
    # the order page folds each transition into the history written with it (a minute apart at most): a status
    # changed in an entry of its own ("Edited") is a transition and its history stretched apart
    for entry in order_history_for(order=order):
        if entry.title == "Edited" and any(change.label == "Status" for change in entry.changes):
            problems.append(f"status changed by an edit at {entry.at:%d %b %H:%M}, apart from its transition")
    for event in _events(order):
        if event.milestone_id == "BOOKING_CONFIRMED" and event.event_at >= first:
            problems.append(f"booking confirmed {event.event_at:%d %b %H:%M}, goods moved {first:%d %b %H:%M}")
    for task in Task.objects.filter(order=order).select_related("definition"):
        definition = task.definition
        before = definition is not None and (
            definition.trigger_kind == TriggerKind.DATE or definition.trigger_state in BEFORE_THE_GOODS_MOVE
        )
        if before and task.completed_at and task.completed_at >= first:
            problems.append(f"'{task.name}' done {task.completed_at:%d %b %H:%M}, goods moved {first:%d %b %H:%M}")
        if task.completed_at and task.completed_at < task.created_at:
            problems.append(f"task '{task.name}' completed before it was made")
        if task.created_at > now or (task.completed_at and task.completed_at > now):
            problems.append(f"task '{task.name}' in the future")
    return problems


def _bookings_answered_late() -> list[str]:
    late = []
    for booking in Booking.objects.filter(answered_at__isnull=False).select_related("shipment"):
        leg = Leg.objects.filter(shipment=booking.shipment, role=LegRole.MAIN).first()
        if booking.requested_at > booking.answered_at:
            late.append(f"{booking.shipment.reference}: answered before it was requested")
        if leg and leg.actual_departure_at and booking.answered_at >= leg.actual_departure_at:
            late.append(f"{booking.shipment.reference}: answered {booking.answered_at:%d %b %H:%M}, departed "
                        f"{leg.actual_departure_at:%d %b %H:%M}")  # fmt: skip
    return late


def test_each_demo_order_reads_as_a_sequence_before_its_goods_moved():
    """One seed (the better part of a minute); the milestones and mapping rules of the data migration first, as in
    a database in service (a truncating test took them)."""
    seed_reference_data(Milestone, MappingRule)
    mapping.invalidate()
    try:
        call_command("seed_demo", password="demo-password-for-tests", stdout=StringIO())
    finally:
        mapping.invalidate()
    now = timezone.now()
    moved = [order for order in Order.objects.order_by("pk") if _first_physical(order) is not None]
    assert len(moved) >= 12, moved  # the planning and tracking demos' shipments that left
    problems = {order.reference: _order_problems(order, now) for order in moved}
    assert {reference: found for reference, found in problems.items() if found} == {}
    assert _bookings_answered_late() == []
