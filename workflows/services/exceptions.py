"""Exceptions opened and resolved by tracking (tracking/exceptions), as workflows handles them.

`exception_opened_handle` runs the "exception opened" automation rules for each order on the exception
(a task for a team, with its SLA; on a consolidation each order's task goes to the exception's one owner where
they can take that team's work), picks the owner by the workflow's assignment and writes it back through
tracking's service (workflows sits above tracking), then alerts the owner. `exception_orders_added_handle` runs
those rules for the orders that joined the exception's shipment after it opened (a house added to the
consolidation), with the exception's owner kept: no new pick, no alert, and reopens the tasks an order had when it
was taken off and is put back. `exception_orders_removed_handle` cancels the open tasks the exception's rules gave the
orders taken off its shipment (their house off the consolidation). `exception_resolved_handle` completes the
tasks the exception's rules created that are still open or scheduled — whoever resolved it,
a person or the exception's own condition clearing, there is nothing left for them to do —, releases each
order one of its rules put on hold when nothing else holds it any more (services.holds.held_order_release, as
for a carrier's hold that clears), and tells the owner when it resolved itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from orders.models import Order, OrderStatus
from partners.models import User
from tracking.exceptions.models import UNRESOLVED_STATUSES, ExceptionKind
from tracking.exceptions.services import handling as exception_handling
from tracking.models import ShipmentException
from workflows.models import (
    AccountOwner,
    NotificationKind,
    Task,
    TaskEvent,
    TaskState,
    Team,
    TeamFunction,
    active_staff,
)
from workflows.services import holds
from workflows.services.binding import order_run
from workflows.services.event_records import exception_record
from workflows.services.notify import Notice, notify
from workflows.services.runs import order_for_event
from workflows.services.task_changes import close_tasks, reopen_task
from workflows.services.task_creation import create_tasks


def _staff() -> QuerySet[User]:
    """The people work may go to (workflows.models.active_staff): a customer's person or a leaver owns nothing."""
    return User.objects.filter(active_staff())


def _exception_tasks(exception_id: int) -> QuerySet[Task]:
    # A rule's task has source key "rule:<rule>:exception:<exception>:<order>:<action>" (services.rules).
    return Task.objects.filter(source_key__contains=f":exception:{exception_id}:")


@dataclass(frozen=True)
class ShipmentOwner:
    """Who handles the shipment's cargo now (shipment_owner), and why, as the exception's history says it."""

    user_id: int
    how: str


def shipment_owner(exception: ShipmentException) -> ShipmentOwner | None:
    """Who handles the shipment's cargo that the exception is about (the same order, or none), when they are still
    active: the owner of its other open exceptions (the oldest one's), else the owner of the one that resolved itself
    in the detection batch that opened this one (its `resolved_at` is this one's `opened_at`: detection stamps both
    with the batch's time). So one shipment's exceptions stay with one person while any is open, and when one turns
    into the next (the departure recorded late while the arrival is overdue too: "departure overdue" resolves, and
    "arrival overdue" opens in the same batch) the late vessel stays with whoever was handling it. One opened in a
    later batch, with nothing open any more, is assigned afresh: that person was told it was over."""
    same_cargo = ShipmentException.objects.filter(shipment_id=exception.shipment_id, owner__in=_staff()).exclude(
        pk=exception.pk
    )
    if exception.order_id is None:
        same_cargo = same_cargo.filter(order__isnull=True)
    else:
        same_cargo = same_cargo.filter(order_id=exception.order_id)
    unresolved = Q(status__in=UNRESOLVED_STATUSES)
    continued = Q(is_auto_resolved=True, resolved_at=exception.opened_at)
    row = (
        same_cargo.filter(unresolved | continued)
        .annotate(still_open=ExpressionWrapper(unresolved, output_field=BooleanField()))
        .order_by("-still_open", "opened_at", "pk")
        .values_list("owner_id", "still_open", "kind")
        .first()
    )
    if row is None:
        return None
    owner_id, still_open, kind = row
    if still_open:
        return ShipmentOwner(owner_id, "owner of the shipment's other open exceptions")
    return ShipmentOwner(owner_id, f"owner of “{ExceptionKind(kind).label}”, which resolved itself as this one opened")


def exception_owner(
    exception: ShipmentException, order_ids: list[int], *, sticky: ShipmentOwner | None = None
) -> tuple[int | None, str]:
    """Who owns an exception, by the workflow's assignment: who handles the shipment's cargo (`sticky`:
    shipment_owner), the person a rule gave its task to (the customer's account owner for the task's team
    when there is one, else the least-loaded member), the customer's operations account owner, else the lead of
    the operations team of the order's (or shipment's) branch."""
    if sticky is not None:
        return sticky.user_id, sticky.how
    task = (
        _exception_tasks(exception.pk)
        .filter(assignee__isnull=False)
        .order_by("pk")
        .values_list("assignee_id", "name")
        .first()
    )
    if task:
        return task[0], f"assignee of the task “{task[1]}”"
    order = Order.objects.filter(pk__in=order_ids).order_by("pk").values("customer_id", "branch_id").first()
    if order:
        owner = AccountOwner.objects.filter(
            customer_id=order["customer_id"], function=TeamFunction.OPERATIONS, user__in=_staff()
        ).values_list("user_id", flat=True)
        if owner:
            return owner[0], "operations account owner of the customer"
    branch_id = order["branch_id"] if order else exception.shipment.branch_id
    lead = Team.objects.filter(branch_id=branch_id, function=TeamFunction.OPERATIONS, is_active=True)
    lead_id = lead.filter(lead__in=_staff()).values_list("lead_id", flat=True).first()
    return lead_id, "lead of the branch's operations team"


def _first_assignee(exception_id: int) -> int | None:
    """Who the exception's first assigned task went to (exception_owner makes that person its owner)."""
    tasks = _exception_tasks(exception_id).filter(assignee__isnull=False).order_by("pk")
    return tasks.values_list("assignee_id", flat=True).first()


def exception_opened_handle(*, exception_id: int, kind: str, order_ids: list[int]) -> None:
    """Run the exception's rules on each of its orders, give it its owner and tell them. An exception on a
    consolidation concerns every order on it, and its rules run once per order (each order's history keeps its
    own run and task), but it has one owner: each order's tasks go first to the shipment's owner, else to whoever
    the first order's task went to, so the tasks of one exception are that one person's wherever they can take the
    team's work (assignment.assign_drafts; a task for another team, or another branch's, goes by its own team)."""
    exception = ShipmentException.objects.select_related("shipment", "order").get(pk=exception_id)
    sticky = shipment_owner(exception)
    subject = exception.order.reference if exception.order else exception.shipment.reference
    preferred = sticky.user_id if sticky else None
    for position, order_id in enumerate(order_ids):
        if preferred is None and position:
            preferred = _first_assignee(exception_id)  # one query, and only on a consolidation until someone has it
        exception_record(
            order_id=order_id, kind=kind, exception_id=f"{exception_id}:{order_id}",
            subject=f"{exception.get_kind_display()} on {subject}", link=exception.get_absolute_url(),
            prefer_user_id=preferred,
        )  # fmt: skip
    owner_id, how = exception_owner(exception, order_ids, sticky=sticky)
    if owner_id is None:
        return  # unowned: it waits in the inbox for whoever acknowledges it first
    exception_handling.exception_assign_owner(exception_id=exception_id, owner=User.objects.get(pk=owner_id), how=how)
    notify([Notice(owner_id, NotificationKind.RULE, f"Exception: {exception.get_kind_display()} · {subject}",
                   body=exception.detail, url=exception.get_absolute_url())])  # fmt: skip


def exception_orders_added_handle(*, exception_id: int, kind: str, order_ids: list[int]) -> None:
    """Run the exception's "exception opened" rules on orders that joined its shipment while it was open, as they ran
    on the orders it concerned when it opened (a task, a hold): once per order, as the rules' runs are unique per
    "exception:<exception>:<order>", so an order named again (a redelivered message) gets nothing twice. An order put
    back after it was taken off gets back the tasks its leaving cancelled (_tasks_back), the same tasks. The exception
    keeps its owner, who is not alerted again (exception_opened_handle's pick could take it from the person who took
    it); the new orders' tasks go first to that owner where they can take the team's work, else to the shipment's
    owner or whoever the exception's first task went to, as on opening."""
    exception = ShipmentException.objects.select_related("shipment", "order").get(pk=exception_id)
    if exception.status not in UNRESOLVED_STATUSES:
        return  # resolved meanwhile: nothing left to do for anyone
    owner_id = exception.owner_id
    preferred = owner_id if owner_id and _staff().filter(pk=owner_id).exists() else None
    sticky = None if preferred else shipment_owner(exception)
    preferred = preferred or (sticky.user_id if sticky else None) or _first_assignee(exception_id)
    subject = exception.order.reference if exception.order else exception.shipment.reference
    for order_id in order_ids:
        exception_record(
            order_id=order_id, kind=kind, exception_id=f"{exception_id}:{order_id}",
            subject=f"{exception.get_kind_display()} on {subject}", link=exception.get_absolute_url(),
            prefer_user_id=preferred,
        )  # fmt: skip
    _tasks_back(exception, order_ids)
    _holds_back(exception, order_ids)


# How the history of an exception's task says its order was taken off the exception's shipment; the task is given back
# when the order is put back (_tasks_back) only when this is the last thing that happened to it.
_TAKEN_OFF = "no longer concerns this order."


def exception_orders_removed_handle(*, exception_id: int, order_ids: list[int]) -> None:
    """Cancel the open and scheduled tasks the exception's rules gave orders taken off its shipment (their house off
    the consolidation while it was open): there is nothing left for them to do about it. The reason is in each task's
    history; the exception, its owner and the other orders' tasks stay. The hold one of its rules put on such an
    order is released, saying why, unless something else still holds the order (holds.exception_hold_release); a
    hold a person put on, or another exception's, stays (decision 0004). A redelivered message finds nothing open and
    nothing of this exception's held."""
    exception = ShipmentException.objects.select_related("shipment").get(pk=exception_id)
    taken_off = f"taken off {exception.shipment.reference}: the exception “{exception.get_kind_display()}” {_TAKEN_OFF}"
    with transaction.atomic():
        open_tasks = list(
            _exception_tasks(exception_id)
            .select_for_update()
            .filter(order_id__in=order_ids, state__in=[TaskState.OPEN, TaskState.SCHEDULED])
            .order_by("pk")
        )
        why = taken_off[0].upper() + taken_off[1:]
        close_tasks(open_tasks, state=TaskState.CANCELLED, by=None, now=timezone.now(), verb="cancelled", detail=why)
        for order_id in order_ids:
            order = order_for_event(order_id)
            if order.status != OrderStatus.ON_HOLD:
                continue
            run = order_run(order=order, now=timezone.now())
            holds.exception_hold_release(run, exception_id=exception_id, reason=f"Hold released: {taken_off}")
            create_tasks(run, [])  # the date-triggered tasks, if this event bound the order


def _tasks_back(exception: ShipmentException, order_ids: list[int]) -> None:
    """Reopen the orders' tasks of the exception that were cancelled because the order was taken off its shipment
    (their last history entry says so): the order is back on it while it is open. Their assignee is told, with why.
    Once: a reopened task is open, and a second message finds nothing cancelled."""
    last = TaskEvent.objects.filter(task=OuterRef("pk")).order_by("-at", "-pk")
    with transaction.atomic():
        cancelled = (
            _exception_tasks(exception.pk)
            .select_for_update(of=("self",))
            .select_related("order")
            .filter(order_id__in=order_ids, state=TaskState.CANCELLED)
            .annotate(last_verb=Subquery(last.values("verb")[:1]), last_detail=Subquery(last.values("detail")[:1]))
            .filter(last_verb="cancelled", last_detail__endswith=_TAKEN_OFF)
            .order_by("pk")
        )
        kind = exception.get_kind_display()
        why = f"Back on {exception.shipment.reference}: the exception “{kind}” concerns this order again."
        now = timezone.now()
        for task in cancelled:
            reopen_task(task, by=None, now=now, detail=why)


def _holds_back(exception: ShipmentException, order_ids: list[int]) -> None:
    """Hold again the orders the exception's rule holds whose last release was the automation's while they were off
    its shipment (their leaving, or another exception or hold ending meanwhile: holds.exception_hold_again): back on
    it while it is open, they are concerned again, as their tasks are reopened. Once: an order held again is on hold,
    and a second message finds nothing to do."""
    kind = exception.get_kind_display()
    why = f"Back on {exception.shipment.reference}: the exception “{kind}” concerns this order again."
    with transaction.atomic():
        for order_id in order_ids:
            order = order_for_event(order_id)
            if order.status == OrderStatus.ON_HOLD:
                continue
            run = order_run(order=order, now=timezone.now())
            holds.exception_hold_again(run, exception_id=exception.pk, reason=why)


def _release_reason(exception: ShipmentException) -> str:
    """ "Hold released: the exception “Customs hold” resolved itself: Import cleared on 6 Dec 2026, 10:00 UTC." """
    said = f"the exception “{exception.get_kind_display()}”"
    if exception.is_auto_resolved:
        note = exception.resolution_note.rstrip(". ")
        return f"Hold released: {said} resolved itself" + (f": {note}." if note else ".")
    by = exception.resolved_by
    return f"Hold released: {said} was resolved" + (f" by {by.get_full_name() or by.email}." if by else ".")


def _release_held_orders(exception: ShipmentException) -> None:
    """Release the orders an "exception opened" rule put on hold for this exception, each when nothing else holds
    it any more (another unresolved exception one of whose rules holds it, a carrier's hold still standing that a
    hold rule acted on) and a rule, not a person, held it: holds.held_order_release."""
    for order_id in holds.orders_held_for_exception(exception.pk):
        order = order_for_event(order_id)
        if order.status != OrderStatus.ON_HOLD:
            continue
        run = order_run(order=order, now=timezone.now())
        holds.held_order_release(run, reason=_release_reason(exception), cause={"released_by_exception": exception.pk})
        create_tasks(run, [])  # the date-triggered tasks, if this event bound the order


def exception_resolved_handle(*, exception_id: int, owner_id: int | None, automatic: bool) -> None:
    exception = ShipmentException.objects.select_related("shipment", "order", "resolved_by").get(pk=exception_id)
    with transaction.atomic():
        open_tasks = list(
            _exception_tasks(exception_id)
            .select_for_update()
            .filter(state__in=[TaskState.OPEN, TaskState.SCHEDULED])
            .order_by("pk")
        )
        why = f"The exception {'resolved itself' if automatic else 'was resolved'}"
        why += f": {exception.resolution_note}" if exception.resolution_note else "."
        close_tasks(open_tasks, state=TaskState.DONE, by=None, now=timezone.now(), verb="completed", detail=why)
        _release_held_orders(exception)
    if not (automatic and owner_id):
        return
    subject = exception.order.reference if exception.order else exception.shipment.reference
    notify([Notice(owner_id, NotificationKind.RULE, f"Resolved itself: {exception.get_kind_display()} · {subject}",
                   body=exception.resolution_note, url=exception.get_absolute_url())])  # fmt: skip
