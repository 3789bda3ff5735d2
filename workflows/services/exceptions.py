"""Exceptions opened and resolved by tracking (tracking/exceptions), as workflows handles them.

`exception_opened_handle` runs the "exception opened" automation rules for each order on the exception
(a task for a team, with its SLA), picks the owner by the workflow's assignment and writes it back through
tracking's service (workflows sits above tracking), then alerts the owner. `exception_resolved_handle` tells
the owner when an exception resolved itself.
"""

from __future__ import annotations

from orders.models import Order
from partners.models import User
from tracking.exceptions import services as exception_services
from tracking.models import ShipmentException
from workflows.models import AccountOwner, NotificationKind, Task, Team, TeamFunction
from workflows.services.notify import Notice, notify
from workflows.services.triggers import exception_record


def exception_owner(exception: ShipmentException, order_ids: list[int]) -> tuple[int | None, str]:
    """Who owns an exception, by the workflow's assignment: the person a rule gave its task to, the customer's
    operations account owner, else the lead of the operations team of the order's (or shipment's) branch."""
    task = (
        Task.objects.filter(source_key__contains=f":exception:{exception.pk}:", assignee__isnull=False)
        .order_by("pk")
        .values_list("assignee_id", "name")
        .first()
    )
    if task:
        return task[0], f"assignee of the task “{task[1]}”"
    order = Order.objects.filter(pk__in=order_ids).order_by("pk").values("customer_id", "branch_id").first()
    if order:
        owner = AccountOwner.objects.filter(
            customer_id=order["customer_id"], function=TeamFunction.OPERATIONS, user__is_active=True
        ).values_list("user_id", flat=True)
        if owner:
            return owner[0], "operations account owner of the customer"
    branch_id = order["branch_id"] if order else exception.shipment.branch_id
    lead = Team.objects.filter(branch_id=branch_id, function=TeamFunction.OPERATIONS, is_active=True)
    lead_id = lead.values_list("lead_id", flat=True).first()
    return lead_id, "lead of the branch's operations team"


def exception_opened_handle(*, exception_id: int, kind: str, order_ids: list[int]) -> None:
    for order_id in order_ids:
        exception_record(order_id=order_id, kind=kind, exception_id=f"{exception_id}:{order_id}")
    exception = ShipmentException.objects.select_related("shipment", "order").get(pk=exception_id)
    owner_id, how = exception_owner(exception, order_ids)
    if owner_id is None:
        return  # unowned: it waits in the inbox for whoever acknowledges it first
    exception_services.exception_assign_owner(exception_id=exception_id, owner=User.objects.get(pk=owner_id), how=how)
    subject = exception.order.reference if exception.order else exception.shipment.reference
    notify([Notice(owner_id, NotificationKind.RULE, f"Exception: {exception.get_kind_display()} · {subject}",
                   body=exception.detail, url=exception.get_absolute_url())])  # fmt: skip


def exception_resolved_handle(*, exception_id: int, owner_id: int | None, automatic: bool) -> None:
    if not (automatic and owner_id):
        return
    exception = ShipmentException.objects.select_related("shipment", "order").get(pk=exception_id)
    subject = exception.order.reference if exception.order else exception.shipment.reference
    notify([Notice(owner_id, NotificationKind.RULE, f"Resolved itself: {exception.get_kind_display()} · {subject}",
                   body=exception.resolution_note, url=exception.get_absolute_url())])  # fmt: skip
