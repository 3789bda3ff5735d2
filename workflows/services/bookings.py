"""What the workflow does when planning books an order's cargo or cancels its booking (tracking.events).

- booking_covers_orders, sent inside the transaction that records a carrier's confirmation (or puts a house on a
  master whose booking is confirmed), just before the orders are taken to `planned` → `booking_confirmed_record`:
  BOOKING_CONFIRMED is acted on at once for each order (services.milestone_record: remembered on the binding, the
  tasks it completes completed, the tasks it triggers made, its rules run). That is what completes the shipped
  templates' booking task ("Book transport with a carrier", which blocks `plan`), so the plan the confirmation
  takes next passes the blocking-tasks guard: issue 6's "the order moves to planned through the workflow".
  Tracking ingest queued the same milestone for the worker (QueuedTrackingRecord) when it put it on the timeline
  in this transaction: those records are taken off the queue here and acted on with their own event ids, so a
  rule runs once per event, and a drain coming later cannot complete again a task a cancellation has reopened
  meanwhile. Each order in a savepoint of its own: a failure is logged, leaves that order's records queued (the
  drain tries again) and the order not planned (the confirmation reports it), and never fails the confirmation.
- booking_cancelled, after the cancellation's commit → `booking_cancelled_handle`: for each order on the master
  that has not moved, the milestone is forgotten (OrderWorkflow.events_seen: a task made later is not made done by
  a confirmation that no longer holds) and the tasks it completes that are done are reopened, saying why. Their
  assignee (else their team's lead) is told; for an order with no such task, the operations account owner of the
  customer, else the lead of the branch's operations team (as exceptions find their owner). The person who
  cancelled is not told what they did.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F, Func, QuerySet, Value
from django.utils import timezone

from orders.models import Order, OrderStatus
from partners.models import User
from tracking.ingest.models import Classifier, TrackingEvent
from tracking.models import Booking, Shipment
from workflows.models import (
    AccountOwner,
    NotificationKind,
    OrderWorkflow,
    Task,
    TaskState,
    Team,
    TeamFunction,
    TrackingRecordKind,
    active_staff,
)
from workflows.models.teams import is_active_staff
from workflows.services.event_records import milestone_record
from workflows.services.notify import Notice, notify
from workflows.services.task_changes import reopen_task

logger = logging.getLogger(__name__)

BOOKING_CONFIRMED = "BOOKING_CONFIRMED"
COMPLETED_BY = f"milestone:{BOOKING_CONFIRMED}"
# Orders whose cargo has not moved: a cancelled booking concerns their plan (a moved order's booking stays).
_BEFORE_MOVING = (OrderStatus.SUBMITTED, OrderStatus.CONFIRMED, OrderStatus.PLANNED, OrderStatus.ON_HOLD)

# This order's queued BOOKING_CONFIRMED records (ingest's, from this transaction or still waiting for a drain),
# taken off the queue; one a drain holds right now is left to it.
_TAKE = """
    DELETE FROM workflows_queuedtrackingrecord WHERE id IN (
        SELECT id FROM workflows_queuedtrackingrecord
        WHERE kind = %s AND order_id = %s AND code = %s AND given_up_at IS NULL
        FOR UPDATE SKIP LOCKED
    )
    RETURNING event_id
"""


def _staff() -> QuerySet[User]:
    """The people work may go to (workflows.models.active_staff): a customer's person or a leaver owns nothing."""
    return User.objects.filter(active_staff())


def _confirmation_event(shipment_id: int) -> int | str:
    """The id of the master's newest BOOKING_CONFIRMED event (the rule runs' key), else a key of the shipment."""
    event_id = (
        TrackingEvent.objects.filter(
            shipment_id=shipment_id, milestone_id=BOOKING_CONFIRMED, classifier=Classifier.ACTUAL
        )
        .order_by("-event_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    return event_id if event_id is not None else f"shipment-{shipment_id}"


def booking_confirmed_record(*, order_ids: Iterable[int], shipment_id: int) -> list[int]:
    """BOOKING_CONFIRMED acted on now for each order (see the module docstring); the orders that failed."""
    fallback: int | str | None = None
    failed: list[int] = []
    for order_id in sorted(set(order_ids)):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(_TAKE, [TrackingRecordKind.MILESTONE, order_id, BOOKING_CONFIRMED])
                    event_ids = sorted({row[0] for row in cursor.fetchall() if row[0] is not None})
                if not event_ids:  # not queued (a house joining a confirmed master; the event refused)
                    fallback = _confirmation_event(shipment_id) if fallback is None else fallback
                    event_ids = [fallback]
                for event_id in event_ids:
                    milestone_record(order_id=order_id, code=BOOKING_CONFIRMED, event_id=event_id)
        except Order.DoesNotExist:
            continue
        except Exception:  # one order's failure must not fail the confirmation (the drain retries it)
            logger.exception("Workflow handling of the booking confirmation of order %s failed", order_id)
            failed.append(order_id)
    return failed


def _forget_confirmation(order_id: int) -> None:
    """Take BOOKING_CONFIRMED out of what the order's binding remembers (auto_completion.event_remember)."""
    OrderWorkflow.objects.filter(order_id=order_id, events_seen__contains=[COMPLETED_BY]).update(
        events_seen=Func(F("events_seen"), Value(COMPLETED_BY), function="array_remove")
    )


def _owner(order: Order) -> int | None:
    """Who answers for the order's operations: the customer's operations account owner, else the lead of the
    operations team of its branch."""
    owner = (
        AccountOwner.objects.filter(customer_id=order.customer_id, function=TeamFunction.OPERATIONS, user__in=_staff())
        .values_list("user_id", flat=True)
        .first()
    )
    if owner is not None:
        return owner
    return (
        Team.objects.filter(branch_id=order.branch_id, function=TeamFunction.OPERATIONS, is_active=True)
        .filter(lead__in=_staff())
        .values_list("lead_id", flat=True)
        .first()
    )


def booking_cancelled_handle(
    *, booking_id: int, order_ids: Iterable[int], unplanned_ids: Iterable[int], reason: str, by_id: int | None = None
) -> list[Task]:
    """Reopen the tasks the cancelled booking's confirmation completed and tell their people (see the module
    docstring); the tasks reopened."""
    booking = Booking.objects.select_related("carrier", "shipment").filter(pk=booking_id).first()
    if booking is None:
        return []
    master: Shipment = booking.shipment
    number = f" {booking.carrier_reference}" if booking.carrier_reference else ""
    what = f"{booking.carrier.name} booking{number} on {master.reference} cancelled: {reason}"
    unplanned = set(unplanned_ids)
    reopened: list[Task] = []
    notices: list[Notice] = []
    now = timezone.now()
    for order in Order.objects.filter(pk__in=set(order_ids), status__in=_BEFORE_MOVING).order_by("pk"):
        with transaction.atomic():
            _forget_confirmation(order.pk)
            tasks = list(
                Task.objects.select_for_update(of=("self",))
                .filter(order=order, state=TaskState.DONE, auto_complete_on=COMPLETED_BY)
                .select_related("team")
                .order_by("pk")
            )
            for task in tasks:
                reopen_task(task, by=None, now=now, detail=what, announce=False)  # told below, with the why
            reopened += tasks
            now_in = "is back to confirmed" if order.pk in unplanned else f"is {order.get_status_display().lower()}"
            body = f"{what}. {order.reference} {now_in}: book its cargo again."
            recipients: dict[int, Task | None] = {}
            for task in tasks:
                # reopen_task gave a leaver's task to active staff; a lead who left is told nothing (as _escalate)
                lead = task.team.lead_id if task.team else None
                person = task.assignee_id or (lead if lead is not None and is_active_staff(lead) else None)
                if person is not None:
                    recipients.setdefault(person, task)
            if not recipients and (owner := _owner(order)) is not None:
                recipients[owner] = None
            url = order.get_absolute_url()
            for person, reopened_task in recipients.items():
                if person == by_id:
                    continue
                kind = NotificationKind.ASSIGNED if reopened_task else NotificationKind.RULE
                link = reopened_task.get_absolute_url() if reopened_task else url
                title = f"Booking cancelled · {order.reference}"
                notices.append(Notice(person, kind, title, body=body, url=link, task=reopened_task))
    notify(notices)
    return reopened
