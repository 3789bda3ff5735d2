"""Demo workflows (seed_demo): teams per branch, account owners, business hours, five templates (ocean FCL
export, ocean LCL import, air export, road FTL domestic, parcel eCommerce) plus a general fallback, and
automation rules including "auto-accept" for Globex. Idempotent: a second run changes nothing.

After the set-up, the demo orders already submitted get their workflow, and most are confirmed through the
real lifecycle (by the account's sales desk: every order whose pickup is due within three days, and most of the
later ones), so every screen has something to show. Nothing goes further here: `plan` needs a confirmed carrier
booking (tracking's guard), which the planning and tracking demos make, and the carrier's confirmation completes
the booking task. Once they have booked, `seed_work_done` completes, as their people would, the tasks a team has
finished by the time the goods reach each point (through the task screens' own service):

- before departure (export declaration, shipping instructions, house air waybill, empties released …), for every
  order whose carrier takes the goods by tomorrow: when the simulated carrier reports the departure, nothing holds
  the order back, and no order page says "the milestones are ahead of the order";
- while the goods travel (house bill, pre-alert), once they arrived;
- on arrival (arrival notice, import customs, delivery from the CFS), once they arrived 12 hours ago;
- after delivery: the proof of delivery, for goods that arrived three days ago or more, and then operations
  completes the order ("Complete"), which leaves it to finance's "Invoice the customer" task. The app records
  invoices made elsewhere ("Mark invoiced") but makes none, so the demo leaves every order uninvoiced.

Orders further from departure keep their tasks open in the inbox.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import Channel, Order, OrderStatus
from partners import services as partner_services
from partners.models import Organisation, Role, User
from partners.scoping import Scope, scope_for_user
from tracking.models import ConsolidatedHouse, Leg, LegRole
from workflows import services
from workflows.errors import TaskNotAllowed
from workflows.models import (
    AccountOwner,
    ActionKind,
    AssignRule,
    BranchCalendar,
    ConditionField,
    CustomerSettings,
    DateAnchor,
    Notification,
    Operator,
    Rule,
    RuleAction,
    RuleCondition,
    RuleEvent,
    Task,
    TaskDefinition,
    TaskState,
    Team,
    TeamFunction,
    TeamMember,
    TradeDirection,
    TriggerKind,
    WorkflowTemplate,
)

F = TeamFunction


@dataclass(frozen=True)
class Step:
    key: str
    name: str
    team: str
    on: str  # a state, or "date:<anchor>:<offset h>", "milestone:<code>", "document:<type>"
    due: float = 8
    blocks: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    done_when: str = ""  # "state:invoiced", "document:POD", "milestone:DEPARTED"
    assign: str = AssignRule.LEAST_LOADED
    due_anchor: str = ""
    instructions: str = ""


PICKUP = DateAnchor.REQUESTED_PICKUP
REVIEW = Step(
    "review", "Review and confirm the order", F.SALES, "submitted", due=4, done_when="state:confirmed",
    assign=AssignRule.ACCOUNT_OWNER, instructions="Check rates, lane and dates; confirm or call the customer.",
)  # fmt: skip
POD = Step(
    "pod", "Obtain proof of delivery", F.OPERATIONS, "delivered", due=16, blocks=("complete",), done_when="document:POD"
)
INVOICE = Step("invoice", "Invoice the customer", F.FINANCE, "completed", due=16, done_when="state:invoiced")
# The booking steps that block `plan` are done when the carrier's confirmation is recorded (planning records
# BOOKING_CONFIRMED for the master's orders and the confirmation then plans them: tracking/services/booking.py).
# Installations seeded before this carry it through migration workflows/0009 (docs/decisions/0004).
BOOKED = "milestone:BOOKING_CONFIRMED"
BOOKING_STEPS = ("book", "book-space", "agent-booking", "book-flight", "book-truck", "label")

# name, criteria, steps
TEMPLATES: tuple[tuple[str, dict[str, str], tuple[Step, ...]], ...] = (
    ("General order handling", {}, (
        REVIEW,
        Step("book", "Book transport with a carrier", F.OPERATIONS, "confirmed", blocks=("plan",), due=-16,
             due_anchor=PICKUP, done_when=BOOKED),
        Step("pickup-check", "Check the goods are ready for pickup", F.OPERATIONS,
             f"date:{DateAnchor.REQUESTED_PICKUP}:-24", due=4),
        POD, INVOICE,
    )),
    ("Ocean FCL export", {"mode": "ocean_fcl", "trade_direction": TradeDirection.EXPORT}, (
        REVIEW,
        Step("book-space", "Book container space with the shipping line", F.OPERATIONS, "confirmed", blocks=("plan",),
             due=-24, due_anchor=PICKUP, done_when=BOOKED),
        Step("release-empties", "Send the empty container release to the haulier", F.OPERATIONS, "planned", due=8,
             after=("book-space",)),
        Step("si-vgm", "Collect shipping instructions and VGM", F.DOCUMENTATION,
             f"date:{DateAnchor.REQUESTED_PICKUP}:-72", due=-8, due_anchor=DateAnchor.REQUESTED_PICKUP,
             blocks=("depart",)),
        Step("export-customs", "File the export declaration", F.CUSTOMS, "planned", due=16, blocks=("depart",)),
        Step("hbl", "Issue the house bill of lading", F.DOCUMENTATION, "in_transit", due=8, done_when="document:HBL"),
        Step("prealert", "Send the pre-alert to the destination agent", F.DOCUMENTATION, "in_transit", due=12,
             after=("hbl",)),
        POD, INVOICE,
    )),
    ("Ocean LCL import", {"mode": "ocean_lcl", "trade_direction": TradeDirection.IMPORT}, (
        REVIEW,
        Step("agent-booking", "Confirm the origin agent booked the consolidation", F.OPERATIONS, "confirmed", due=16,
             blocks=("plan",), done_when=BOOKED),
        Step("arrival-notice", "Send the arrival notice to the consignee", F.DOCUMENTATION, "arrived", due=4),
        Step("import-customs", "Clear import customs", F.CUSTOMS, "arrived", due=8, blocks=("deliver",)),
        Step("cfs-delivery", "Book delivery from the CFS", F.OPERATIONS, "arrived", due=8, blocks=("deliver",),
             after=("import-customs",)),
        POD, INVOICE,
    )),
    ("Air export", {"mode": "air", "trade_direction": TradeDirection.EXPORT}, (
        Step(REVIEW.key, REVIEW.name, F.SALES, "submitted", due=2, done_when="state:confirmed",
             assign=AssignRule.ACCOUNT_OWNER),
        Step("book-flight", "Book the flight with the airline", F.OPERATIONS, "confirmed", blocks=("plan",), due=-8,
             due_anchor=PICKUP, done_when=BOOKED),
        Step("hawb", "Issue the house air waybill", F.DOCUMENTATION, "planned", due=4, blocks=("depart",)),
        Step("export-customs", "File the export declaration", F.CUSTOMS, "planned", due=4, blocks=("depart",)),
        Step("departure", "Confirm the flight departed", F.OPERATIONS, "in_transit", due=8,
             done_when="milestone:DEPARTED"),
        Step("prealert", "Send the pre-alert to the destination agent", F.DOCUMENTATION, "in_transit", due=4,
             after=("hawb",)),
        POD, INVOICE,
    )),
    ("Road FTL domestic", {"mode": "road_ftl", "trade_direction": TradeDirection.DOMESTIC}, (
        Step("book-truck", "Assign a truck and driver", F.OPERATIONS, "confirmed", due=4, blocks=("plan",),
             done_when=BOOKED),
        Step("cmr", "Prepare the CMR consignment note", F.DOCUMENTATION, "planned", due=4, blocks=("depart",)),
        POD, INVOICE,
    )),
    ("Parcel eCommerce", {"mode": "parcel"}, (
        Step("label", "Create the courier label", F.OPERATIONS, "confirmed", due=2, blocks=("plan",),
             done_when=BOOKED),
        Step("handover", "Hand the parcel to the courier", F.OPERATIONS, "planned", due=4,
             done_when="state:in_transit"),
        Step("invoice", "Add to the monthly invoice", F.FINANCE, "completed", due=40, done_when="state:invoiced"),
    )),
)  # fmt: skip

# email, full name, branch, role: extra staff so that teams have more than one person
EXTRA_STAFF = (
    ("ops2@oms.example", "Otto Operations", "HAM", Role.OPERATIONS),
    ("customs@oms.example", "Cem Customs", "HAM", Role.DOCUMENTATION),
)
# branch, function, lead, members
TEAMS = (
    ("HAM", F.SALES, "sales@oms.example", ("sales@oms.example",)),
    ("HAM", F.OPERATIONS, "ops@oms.example", ("ops@oms.example", "ops2@oms.example")),
    ("HAM", F.DOCUMENTATION, "docs@oms.example", ("docs@oms.example",)),
    ("HAM", F.CUSTOMS, "customs@oms.example", ("customs@oms.example", "docs@oms.example")),
    ("HAM", F.FINANCE, "finance@oms.example", ("finance@oms.example",)),
    ("SHA", F.SALES, "sales@oms.example", ("sales@oms.example",)),
    ("SHA", F.OPERATIONS, "ops.sha@oms.example", ("ops.sha@oms.example",)),
    ("SHA", F.DOCUMENTATION, "ops.sha@oms.example", ("ops.sha@oms.example",)),
    ("SHA", F.CUSTOMS, "ops.sha@oms.example", ("ops.sha@oms.example",)),
    ("SHA", F.FINANCE, "finance@oms.example", ("finance@oms.example",)),
)


def _definition(version_id: int, position: int, step: Step) -> TaskDefinition:
    definition = TaskDefinition(
        version_id=version_id, position=position, key=step.key, name=step.name, team_function=step.team,
        instructions=step.instructions, due_in_hours=Decimal(str(step.due)), due_anchor=step.due_anchor,
        assign_rule=step.assign, depends_on=list(step.after), blocks=list(step.blocks),
    )  # fmt: skip
    kind, _, rest = step.on.partition(":")
    if kind == "date":
        anchor, _, offset = rest.partition(":")
        definition.trigger_kind, definition.date_anchor, definition.date_offset_hours = (
            TriggerKind.DATE,
            anchor,
            int(offset),
        )
    elif kind in (TriggerKind.MILESTONE, TriggerKind.DOCUMENT):
        definition.trigger_kind, definition.trigger_code = kind, rest
    else:
        definition.trigger_kind, definition.trigger_state = TriggerKind.STATE, step.on
    if step.done_when:
        definition.auto_complete_kind, _, definition.auto_complete_value = step.done_when.partition(":")
    return definition


def seed_people(password: str) -> dict[str, User]:
    branches = {o.code: o for o in Organisation.objects.branches()}
    for email, full_name, code, role in EXTRA_STAFF:
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email=email, password=password, full_name=full_name
        )
        partner_services.membership_grant(user=user, organisation=branches[code], role=role)
    people = {u.email: u for u in User.objects.filter(email__endswith="@oms.example")}
    for code, function, lead, members in TEAMS:
        team, _ = Team.objects.get_or_create(
            branch=branches[code], function=function,
            defaults={"name": f"{code} {F(function).label}", "lead": people[lead]},
        )  # fmt: skip
        for email in members:
            TeamMember.objects.get_or_create(team=team, user=people[email])
    BranchCalendar.objects.get_or_create(branch=branches["HAM"])
    BranchCalendar.objects.get_or_create(branch=branches["SHA"], defaults={"opens_at": "09:00", "closes_at": "18:00"})
    customers = {o.code: o for o in Organisation.objects.customers()}
    AccountOwner.objects.get_or_create(
        customer=customers["ACME"], function=F.SALES, defaults={"user": people["sales@oms.example"]}
    )
    AccountOwner.objects.get_or_create(
        customer=customers["GLOBEX"], function=F.OPERATIONS, defaults={"user": people["ops.sha@oms.example"]}
    )
    CustomerSettings.objects.update_or_create(customer=customers["GLOBEX"], defaults={"auto_accept": True})
    return people


def seed_templates(admin: User) -> int:
    created = 0
    for name, criteria, steps in TEMPLATES:
        template, is_new = WorkflowTemplate.objects.get_or_create(name=name, defaults=criteria)
        if not is_new:
            continue
        draft = services.version_draft_start(template=template, by=admin, note="First version (demo data).")
        TaskDefinition.objects.bulk_create(_definition(draft.pk, n, step) for n, step in enumerate(steps))
        services.version_publish(version=draft, by=admin)
        created += 1
    return created


def _rule(name: str, event: str, value: str, conditions: list[tuple[str, str, str]], actions: list[dict]) -> None:
    rule, is_new = Rule.objects.get_or_create(name=name, defaults={"event": event, "event_value": value})
    if not is_new:
        return
    for field, operator, expected in conditions:
        RuleCondition.objects.create(rule=rule, field=field, operator=operator, value=expected)
    for position, action in enumerate(actions):
        RuleAction.objects.create(rule=rule, position=position, **action)


def seed_rules(people: dict[str, User]) -> None:
    _rule(
        "Auto-accept orders from trusted customers", RuleEvent.ORDER_SUBMITTED, "",
        [(ConditionField.CUSTOMER_AUTO_ACCEPT, Operator.IS_TRUE, "")],
        [{"kind": ActionKind.TRANSITION, "transition": "confirm", "message": "Customer is set to auto-accept."}],
    )  # fmt: skip
    _rule(
        "High-value orders: tell the operations lead", RuleEvent.ORDER_SUBMITTED, "",
        [(ConditionField.DECLARED_VALUE, Operator.GREATER, "75000")],
        [{"kind": ActionKind.NOTIFY, "team_function": F.OPERATIONS,
          "message": "Declared value above 75,000: check insurance and the carrier's liability."}],
    )  # fmt: skip
    _rule(
        "Customs hold stops the order", RuleEvent.MILESTONE_RECORDED, "CUSTOMS_HOLD", [],
        [{"kind": ActionKind.HOLD, "message": "Customs hold reported by the carrier."},
         {"kind": ActionKind.CREATE_TASK, "task_name": "Resolve the customs hold", "team_function": F.CUSTOMS,
          "due_in_hours": Decimal(4)}],
    )  # fmt: skip
    _rule(
        "Overdue customs work: tell the operations lead", RuleEvent.TASK_OVERDUE, F.CUSTOMS, [],
        [{"kind": ActionKind.NOTIFY, "team_function": F.OPERATIONS,
          "message": "A customs task is overdue; the shipment may miss its departure."}],
    )  # fmt: skip


def _complete_as_owner(task: Task, scope_by: dict[int, tuple[Scope, User]]) -> bool:
    """Complete the task as its assignee (else its team's lead) would on the task screen; False when nobody may."""
    user = task.assignee or (task.team.lead if task.team else None)
    if user is None:
        return False
    scope, person = scope_by.setdefault(user.pk, (scope_for_user(user), user))
    try:
        services.task_complete(task=task, scope=scope, by=person)
    except TaskNotAllowed:
        return False
    return True


# The sales desk confirms every order whose pickup is this close; of the later ones it leaves some for its inbox.
CONFIRMED_BY = datetime.timedelta(days=3)


def _walk_orders(people: dict[str, User]) -> int:
    """Confirm most submitted demo orders, as their sales desk would (the review task completes on the state): all
    that are due to be picked up within three days, four in five of the later ones. Planning them needs a confirmed
    carrier booking: the planning and tracking demos make those."""
    rnd = random.Random(5)  # noqa: S311 - demo data, not security
    admin = people["admin@oms.example"]
    scope = scope_for_user(admin)
    soon = timezone.localdate() + CONFIRMED_BY
    moved = 0
    for order in Order.objects.filter(status=OrderStatus.SUBMITTED).order_by("pk"):
        if rnd.random() < 0.2 and order.requested_pickup_on >= soon:
            continue  # left for the sales desk's inbox
        try:
            order_services.order_transition(order=order, name="confirm", scope=scope, by=admin, channel=Channel.SCREEN)
        except TransitionNotAllowed:
            continue
        moved += 1
    return moved


# A team has finished an order's pre-departure work (export declaration, shipping instructions, house waybill,
# empties released, goods checked for pickup) by the time its carrier takes the goods: for the demo, orders whose
# goods leave by tomorrow. The work while the goods travel is done by their arrival, the arrival's (customs,
# arrival notice, delivery booked) half a day after it, and the proof of delivery is in three days after it.
DEPARTS_WITHIN = datetime.timedelta(days=1)
BEFORE_DEPARTURE = (OrderStatus.SUBMITTED, OrderStatus.CONFIRMED, OrderStatus.PLANNED)
ARRIVAL_WORK_AFTER = datetime.timedelta(hours=12)
COMPLETED_AFTER = datetime.timedelta(days=3)


def _orders_on(legs: Any) -> Any:
    """The ids of the orders whose cargo is on the masters of these main legs."""
    return ConsolidatedHouse.objects.filter(
        master_id__in=legs.values("shipment_id"), removed_at__isnull=True, house__order__isnull=False
    ).values("house__order_id")


def _complete_all(pending: Any, scope_by: dict[int, tuple[Scope, User]]) -> int:
    done, progress = 0, True
    while progress:  # a task that waited on one completed in the pass before is completed in the next
        tasks = pending.filter(waiting_on=[]).select_related("assignee", "team__lead").order_by("order_id", "due_at")
        completed = sum(_complete_as_owner(task, scope_by) for task in tasks)
        done += completed
        progress = completed > 0
    return done


def _orders_complete(order_ids: Any) -> int:
    """Operations completes the delivered orders whose proof of delivery is in (nothing blocks "Complete" any
    more), as its branch's operations lead would on the order page."""
    completed = 0
    for order in Order.objects.filter(pk__in=order_ids, status=OrderStatus.DELIVERED).order_by("pk"):
        team = Team.objects.filter(branch_id=order.branch_id, function=F.OPERATIONS).select_related("lead").first()
        if team is None or team.lead is None:
            continue
        try:
            order_services.order_transition(
                order=order, name="complete", scope=scope_for_user(team.lead), by=team.lead, channel=Channel.SCREEN
            )
        except TransitionNotAllowed:
            continue
        completed += 1
    return completed


def seed_work_done() -> int:
    """Complete, as their people would, the open tasks a team has done by now (the module's docstring): made
    before departure on the demo orders whose main carriage leaves by tomorrow or has left; made in transit on
    those whose goods arrived; made on arrival on those that arrived 12 hours ago; and the proof of delivery on
    those delivered that arrived three days ago, which operations then completes. Returns how many tasks and
    orders were completed. Through the task screens' own service (task_complete: the history says who) and the
    lifecycle, never the rows. Idempotent; run again after the carrier moved the orders on."""
    now = timezone.now()
    main = Leg.objects.filter(role=LegRole.MAIN)
    leaving = _orders_on(
        main.filter(Q(planned_departure_at__lte=now + DEPARTS_WITHIN) | Q(actual_departure_at__isnull=False))
    )
    arrived = _orders_on(main.filter(actual_arrival_at__isnull=False))
    landed = _orders_on(main.filter(actual_arrival_at__lte=now - ARRIVAL_WORK_AFTER))
    delivered = _orders_on(main.filter(actual_arrival_at__lte=now - COMPLETED_AFTER))
    before = Q(definition__trigger_kind=TriggerKind.DATE) | Q(definition__trigger_state__in=BEFORE_DEPARTURE)
    live = Task.objects.filter(state=TaskState.OPEN).exclude(
        order__status__in=(*BEFORE_DEPARTURE[:2], OrderStatus.CANCELLED, OrderStatus.ON_HOLD)
    )
    pending = live.filter(
        before & Q(order_id__in=leaving)
        | Q(definition__trigger_state=OrderStatus.IN_TRANSIT, order_id__in=arrived)
        | Q(definition__trigger_state=OrderStatus.ARRIVED, order_id__in=landed)
        | Q(definition__trigger_state=OrderStatus.DELIVERED, order_id__in=delivered)
    )
    scope_by: dict[int, tuple[Scope, User]] = {}
    return _complete_all(pending, scope_by) + _orders_complete(delivered)


def seed_workflows(*, password: str) -> dict[str, int]:
    """Create the demo workflow set-up and give the demo orders their workflows (idempotent)."""
    with transaction.atomic():
        people = seed_people(password)
        created = seed_templates(people["admin@oms.example"])
        seed_rules(people)
    attached = services.orders_attach_workflows()
    moved = _walk_orders(people) if created else 0
    return {"templates": created, "orders_attached": attached, "orders_moved": moved}


# A person who has worked with OMS has read yesterday's notifications: these are the newest left unread each.
UNREAD_KEPT = 5


def seed_notifications_read(*, since: datetime.datetime) -> int:
    """Mark read the notifications this seeding made (created from `since`), but each person's newest few. Every task
    the seeding assigned notified its assignee, as it should in use, so a first login showed 218 unread for sales: a
    backlog no team has. Notifications from before the seeding (a second `make run`) stay as they are."""
    made = Notification.objects.filter(created_at__gte=since, read_at__isnull=True)
    newest = Window(RowNumber(), partition_by="recipient_id", order_by=("-created_at", "-pk"))
    keep = made.annotate(rank=newest).filter(rank__lte=UNREAD_KEPT).values_list("pk", flat=True)
    return made.exclude(pk__in=list(keep)).update(read_at=timezone.now())
