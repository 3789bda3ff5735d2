"""Orders whose carrier booking was confirmed before the confirmation completed the booking task: that task done and
the orders planned, as the confirmation does since (docs/decisions/0004, "The carrier's confirmation completes the
booking task"; docs/operations.md, "Repairs on upgrade").

Before that change, recording a carrier's confirmation recorded no BOOKING_CONFIRMED milestone and completed no task,
so the booking task blocking `plan` stayed open and the confirmation left its orders confirmed ("not planned yet:
Finish first: Book transport with a carrier"). Migration 0009 gave those tasks their completion, but nothing brings
the confirmation they missed: they wait open, overdue, for a booking the carrier confirmed long ago, and the orders are
never planned unless a person closes the task and presses "Mark planned".

Repaired here, only where it is exactly that state, one order at a time under its row lock:
- the task: open, completed by milestone BOOKING_CONFIRMED, blocking `plan`, never reopened (a reopening is someone's
  say that it is not done); its order's workflow has not heard of the milestone (`events_seen`), and no queued
  tracking record of it waits for the drain (a confirmation since the change whose workflow step failed: the drain
  completes that one);
- the order: confirmed, or on hold since it was confirmed; never planned (a plan taken back is a person's story);
- its cargo: all of it on houses, each on a master whose booking is confirmed (or rolled): what the confirmation
  checks before it plans (tracking's guard).
What is done, as the application does it, by the system (no person):
- the task completed as a milestone completes it (auto_complete): done, its history "auto-completed" with the
  booking named, its assignee's load released, the tasks waiting on it released, and the milestone remembered on
  the order's workflow, so a task made later that it completes is made done;
- a confirmed order with nothing else blocking `plan` is planned as the confirmation plans it: the `plan` transition
  (channel system, reason "Carrier booking <number> confirmed", the booking in its payload) with its queued event,
  which the workflow worker handles like any other (the tasks of `planned`, the rules). An order on hold keeps its
  hold; the task is done, and "Mark planned" passes once it is released. An order another task still holds back
  stays confirmed until that task is done.

Not repaired: the BOOKING_CONFIRMED event those confirmations never put on the timeline (tracking's events are the
carrier's record, not ours to backdate). Idempotent: a repaired order is no longer in that state. Reversing it
does nothing: the work it records was done by the carrier.

Written with the historical models and plain statements, not the live services: they change with the code, and this
must do what it did on the day it shipped.
"""

from django.db import migrations
from django.db.models import F, Func, Sum, Value
from django.db.models.functions import Greatest
from django.utils import timezone

BOOKED = "milestone:BOOKING_CONFIRMED"
CONFIRMED_BOOKINGS = ("confirmed", "rolled")
REPAIR = "workflows/0010"


def _booking_of(apps, order):
    """The confirmed booking that covers all the order's cargo (the first master's), else None."""
    Shipment = apps.get_model("tracking", "Shipment")
    ConsolidatedHouse = apps.get_model("tracking", "ConsolidatedHouse")
    Booking = apps.get_model("tracking", "Booking")
    HouseLine = apps.get_model("tracking", "HouseLine")
    CargoLine = apps.get_model("orders", "CargoLine")
    houses = list(
        Shipment.objects.filter(kind="house", order_id=order.pk)
        .exclude(status="cancelled")
        .values_list("pk", flat=True)
    )
    if not houses:
        return None
    taken = dict(
        HouseLine.objects.filter(house_id__in=houses)
        .values("cargo_line_id")
        .annotate(pieces=Sum("pieces"))
        .values_list("cargo_line_id", "pieces")
    )
    if any(pieces > taken.get(pk, 0) for pk, pieces in CargoLine.objects.filter(order_id=order.pk).values_list(
        "pk", "pieces"
    )):  # fmt: skip
        return None  # part of the cargo is on no shipment: not planned yet, rightly
    bookings = []
    for house_id in sorted(houses):
        link = ConsolidatedHouse.objects.filter(
            house_id=house_id, removed_at__isnull=True, deconsolidated_at__isnull=True
        ).first()
        booking = (
            Booking.objects.filter(shipment_id=link.master_id, status__in=CONFIRMED_BOOKINGS)
            .select_related("carrier", "shipment")
            .first()
            if link is not None
            else None
        )
        if booking is None:
            return None
        bookings.append(booking)
    return bookings[0]


def _waiting_tasks(apps, order):
    """The order's open booking tasks that only the confirmation they missed would complete."""
    Task = apps.get_model("workflows", "Task")
    TaskEvent = apps.get_model("workflows", "TaskEvent")
    reopened = TaskEvent.objects.filter(verb="reopened").values("task_id")
    return list(
        Task.objects.select_for_update()
        .filter(order_id=order.pk, state="open", auto_complete_on=BOOKED, blocks__contains=["plan"])
        .exclude(pk__in=reopened)
        .order_by("pk")
    )


def _complete(apps, tasks, *, booking, now):
    """Done as engine.auto_complete makes them: state, history, load, the tasks that waited on them."""
    Task = apps.get_model("workflows", "Task")
    TaskEvent = apps.get_model("workflows", "TaskEvent")
    TeamMember = apps.get_model("workflows", "TeamMember")
    Task.objects.filter(pk__in=[task.pk for task in tasks]).update(state="done", completed_at=now, completed_by=None)
    when = f"{booking.answered_at:%Y-%m-%d}" if booking.answered_at else "earlier"
    number = f" {booking.carrier_reference}" if booking.carrier_reference else ""
    detail = (
        f"{BOOKED} ({booking.carrier.name} booking{number} on {booking.shipment.reference}, confirmed {when} "
        f"before the confirmation completed this task; repaired by {REPAIR})"
    )
    for task in tasks:
        TaskEvent.objects.create(task_id=task.pk, verb="auto-completed", by=None, detail=detail[:300], at=now)
        if task.team_id and task.assignee_id:
            TeamMember.objects.filter(team_id=task.team_id, user_id=task.assignee_id).update(
                open_tasks=Greatest(F("open_tasks") - 1, 0)
            )
        if task.key:
            for waiting in Task.objects.filter(order_id=task.order_id, waiting_on__contains=[task.key]).exclude(
                state__in=("done", "cancelled")
            ):
                waiting.waiting_on = [key for key in waiting.waiting_on if key != task.key]
                waiting.save(update_fields=["waiting_on"])


def _plan(apps, order, *, booking, now):
    """The `plan` transition as the confirmation takes it (orders.lifecycle.apply: the order, its transition, the
    transition's queued event), by the system."""
    Order = apps.get_model("orders", "Order")
    OrderTransition = apps.get_model("orders", "OrderTransition")
    QueuedTransition = apps.get_model("orders", "QueuedTransition")
    Order.objects.filter(pk=order.pk, status="confirmed").update(status="planned", updated_at=now)
    transition = OrderTransition.objects.create(
        order_id=order.pk,
        name="plan",
        source="confirmed",
        target="planned",
        by=None,
        api_key=None,
        channel="system",
        reason=f"Carrier booking {booking.carrier_reference} confirmed"[:300],
        payload={"booking_id": booking.pk, "shipment": booking.shipment.reference, "repaired_by": REPAIR},
    )
    OrderTransition.objects.filter(pk=transition.pk).update(at=now)  # `at` is auto_now_add: the same moment
    QueuedTransition.objects.create(transition_id=transition.pk, queued_at=now)


def repair_booked_orders(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderTransition = apps.get_model("orders", "OrderTransition")
    OrderWorkflow = apps.get_model("workflows", "OrderWorkflow")
    QueuedTrackingRecord = apps.get_model("workflows", "QueuedTrackingRecord")
    Task = apps.get_model("workflows", "Task")
    order_ids = sorted(
        set(
            Task.objects.filter(
                state="open",
                auto_complete_on=BOOKED,
                blocks__contains=["plan"],
                order__status__in=["confirmed", "on_hold"],
            ).values_list("order_id", flat=True)
        )
    )
    for order_id in order_ids:
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            continue
        if order.status != "confirmed" and not (order.status == "on_hold" and order.status_before_hold == "confirmed"):
            continue
        if OrderTransition.objects.filter(order_id=order.pk, target="planned").exists():
            continue
        if OrderWorkflow.objects.filter(order_id=order.pk, events_seen__contains=[BOOKED]).exists():
            continue
        if QueuedTrackingRecord.objects.filter(order_id=order.pk, kind="milestone", code="BOOKING_CONFIRMED").exists():
            continue
        booking = _booking_of(apps, order)
        if booking is None:
            continue
        tasks = _waiting_tasks(apps, order)
        if not tasks:
            continue
        now = timezone.now()
        _complete(apps, tasks, booking=booking, now=now)
        OrderWorkflow.objects.filter(order_id=order.pk).exclude(events_seen__contains=[BOOKED]).update(
            events_seen=Func(F("events_seen"), Value(BOOKED), function="array_append")
        )
        still_blocked = Task.objects.filter(
            order_id=order.pk, state__in=("open", "scheduled"), blocks__contains=["plan"]
        ).exists()
        if order.status == "confirmed" and not still_blocked:
            _plan(apps, order, booking=booking, now=now)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0009_booking_steps_complete_on_confirmation"),
        ("orders", "0013_drafts_may_lack_parties"),
        ("tracking", "0013_legs_in_role_order"),
    ]

    operations = [
        migrations.RunPython(repair_booked_orders, migrations.RunPython.noop),
    ]
