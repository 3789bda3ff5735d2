"""Tasks appear when their trigger fires: the order's state changes (via the on-commit receiver), a
milestone or document is recorded, a date comes near. They get a team, an owner and a business-hours due
time; they block transitions, wait for each other, complete themselves, and are never created twice."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from orders import lifecycle
from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import Channel, OrderStatus, OrderTransition
from partners import services as partner_services
from partners.scoping import scope_for_user
from workflows import services
from workflows.business_hours import BusinessCalendar
from workflows.errors import TaskNotAllowed
from workflows.models import (
    AccountOwner,
    AssignRule,
    Notification,
    NotificationPreference,
    OrderWorkflow,
    ProcessedTransition,
    Task,
    TaskState,
    TeamMember,
)
from workflows.receivers import _order_status_changed

from .conftest import definition, force_status, tasks_of

MONDAY_10 = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
HAMBURG = BusinessCalendar(ZoneInfo("Europe/Berlin"))


@pytest.fixture
def frozen(monkeypatch):
    """The clock stops at Monday 2 March 2026, 10:00 in Hamburg."""
    monkeypatch.setattr(timezone, "now", lambda: MONDAY_10.astimezone(datetime.UTC))
    return MONDAY_10


def transition(order, name, user, committed, **extra):
    with committed():
        return order_services.order_transition(
            order=order, name=name, scope=scope_for_user(user), by=user, channel=Channel.SCREEN, **extra
        )


def test_submitting_creates_the_templates_tasks_with_a_business_hours_due_time(
    make_template, make_order, ops_team, committed, frozen
):
    make_template(
        "Ocean", [definition("check", due_in_hours=Decimal(10)), definition("later", trigger_state="confirmed")]
    )
    with committed():
        order = make_order(submit=True)
    tasks = tasks_of(order)
    assert set(tasks) == {"check"}
    check = tasks["check"]
    assert (check.state, check.team, check.name) == (TaskState.OPEN, ops_team, "Check")
    assert check.due_at == HAMBURG.add(frozen, 10)  # Monday 10:00 + 10 business hours = Tuesday 10:00
    assert check.due_at.astimezone(frozen.tzinfo) == datetime.datetime(2026, 3, 3, 10, 0, tzinfo=frozen.tzinfo)
    assert OrderWorkflow.objects.get(order=order).trade_direction == "import"  # CNSHA → DEHAM, seen from HAM


def test_calendar_hours_when_the_definition_says_so(make_template, make_order, ops_team, committed, frozen):
    make_template("Ocean", [definition("check", due_in_hours=Decimal(10), due_in_business_hours=False)])
    with committed():
        order = make_order(submit=True)
    assert tasks_of(order)["check"].due_at == frozen + datetime.timedelta(hours=10)


def test_due_can_count_back_from_a_date_on_the_order(make_template, make_order, ops_team, committed, frozen):
    make_template("Ocean", [definition("vgm", due_in_hours=Decimal(-8), due_anchor="requested_pickup")])
    with committed():
        order = make_order(submit=True, requested_pickup_on="2026-03-10")  # a Tuesday
    due = tasks_of(order)["vgm"].due_at.astimezone(frozen.tzinfo)
    assert due == datetime.datetime(2026, 3, 9, 10, 0, tzinfo=frozen.tzinfo)  # 8 business hours before 08:00


def test_least_loaded_member_gets_the_task_and_ties_go_round(make_template, make_order, ops_team, committed):
    make_template("Ocean", [definition("check")])
    with committed():
        orders = [make_order(submit=True) for _ in range(4)]
    assignees = [tasks_of(order)["check"].assignee.email for order in orders]
    assert assignees == ["ops@oms.test", "ops2@oms.test", "ops@oms.test", "ops2@oms.test"]
    loads = dict(TeamMember.objects.values_list("user__email", "open_tasks"))
    assert loads == {"ops@oms.test": 2, "ops2@oms.test": 2}


def test_the_member_with_fewer_open_tasks_is_chosen(make_template, make_order, ops_team, ops2_user, committed):
    TeamMember.objects.filter(team=ops_team, user=ops2_user).update(open_tasks=5)
    make_template("Ocean", [definition("a"), definition("b"), definition("c")])
    with committed():
        order = make_order(submit=True)
    assert {task.assignee.email for task in tasks_of(order).values()} == {"ops@oms.test"}


def test_inactive_members_get_no_new_tasks(make_template, make_order, ops_team, ops_user, committed):
    TeamMember.objects.filter(user=ops_user).update(is_active=False)
    make_template("Ocean", [definition("a"), definition("b")])
    with committed():
        order = make_order(submit=True)
    assert {task.assignee.email for task in tasks_of(order).values()} == {"ops2@oms.test"}


def test_the_customers_account_owner_gets_the_task_else_the_least_loaded(
    make_template, make_order, ops_team, sales_team, customer_a, ops2_user, committed
):
    AccountOwner.objects.create(customer=customer_a, function="operations", user=ops2_user)
    make_template("Ocean", [
        definition("ops", assign_rule=AssignRule.ACCOUNT_OWNER),
        definition("sales", team_function="sales", assign_rule=AssignRule.ACCOUNT_OWNER),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    tasks = tasks_of(order)
    assert tasks["ops"].assignee == ops2_user
    assert tasks["sales"].assignee.email == "sales@oms.test"  # no owner for sales: its team's only member


def test_a_customers_person_put_in_our_team_gets_no_task(
    make_template, make_order, ops_team, customer_b_user, committed
):
    """Written past the console's check (by code, or before it): ACME's tasks never go to GLOBEX's person."""
    TeamMember.objects.filter(team=ops_team).update(open_tasks=3)
    TeamMember.objects.create(team=ops_team, user=customer_b_user)
    make_template("Ocean", [definition("check-docs")])
    with committed():
        order = make_order(submit=True)
    assert tasks_of(order)["check-docs"].assignee.email in {"ops@oms.test", "ops2@oms.test"}
    assert not Notification.objects.filter(recipient=customer_b_user).exists()


def test_a_member_or_account_owner_who_left_the_staff_gets_no_new_task(
    make_template, make_order, ops_team, customer_a, ops_user, ops2_user, committed
):
    AccountOwner.objects.create(customer=customer_a, function="operations", user=ops2_user)
    TeamMember.objects.filter(team=ops_team, user=ops_user).update(open_tasks=3)  # ops2 would be the least loaded
    partner_services.membership_revoke(membership=ops2_user.memberships.get())  # the account stays active
    make_template("Ocean", [
        definition("owned", assign_rule=AssignRule.ACCOUNT_OWNER), definition("anyone"),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    assert {task.assignee for task in tasks_of(order).values()} == {ops_user}


def test_a_named_person_or_the_team_queue(make_template, make_order, ops_team, docs_user, committed):
    make_template("Ocean", [
        definition("named", assign_rule=AssignRule.NAMED_USER, assignee=docs_user),
        definition("queue", assign_rule=AssignRule.TEAM_QUEUE),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    tasks = tasks_of(order)
    assert tasks["named"].assignee == docs_user
    assert (tasks["queue"].assignee, tasks["queue"].team) == (None, ops_team)


def test_a_branch_without_the_team_still_gets_the_task_unassigned(make_template, make_order, ops_team, committed):
    make_template("Ocean", [definition("customs", team_function="customs")])
    with committed():
        order = make_order(submit=True)
    task = tasks_of(order)["customs"]
    assert (task.team, task.assignee, task.state) == (None, None, TaskState.OPEN)


def test_an_open_task_blocks_its_transition_with_its_name_until_done(
    make_template, make_order, ops_team, ops_user, committed
):
    make_template("Ocean", [definition("book", name="Book container space", blocks=["confirm"])])
    with committed():
        order = make_order(submit=True)
    scope = scope_for_user(ops_user)
    confirm = next(t for t in lifecycle.available_transitions(order, scope) if t["name"] == "confirm")
    assert (confirm["allowed"], confirm["reason"]) == (False, "Finish first: Book container space.")
    with pytest.raises(TransitionNotAllowed, match="Finish first: Book container space"):
        transition(order, "confirm", ops_user, committed)
    services.task_complete(task=tasks_of(order)["book"], scope=scope, by=ops_user)
    assert transition(order, "confirm", ops_user, committed).status == OrderStatus.CONFIRMED


def test_a_customer_is_told_that_work_is_in_the_way_not_which_task(
    make_template, make_order, ops_team, customer_a_user, committed
):
    """Task names are our internal work ("Credit check"): a customer sees a neutral reason."""
    make_template("Ocean", [definition("credit", name="Credit check", blocks=["cancel"])])
    with committed():
        order = make_order(submit=True)
    cancel = next(
        t for t in lifecycle.available_transitions(order, scope_for_user(customer_a_user)) if t["name"] == "cancel"
    )
    assert (cancel["allowed"], cancel["reason"]) == (False, lifecycle.GUARDED_FOR_OUTSIDERS)
    assert "Credit check" not in lifecycle.GUARDED_FOR_OUTSIDERS


def test_a_task_waits_for_the_tasks_it_depends_on(make_template, make_order, ops_team, ops_user, committed):
    make_template("Ocean", [definition("hbl"), definition("prealert", depends_on=["hbl"])])
    with committed():
        order = make_order(submit=True)
    scope = scope_for_user(ops_user)
    tasks = tasks_of(order)
    assert tasks["prealert"].waiting_on == ["hbl"]
    with pytest.raises(TaskNotAllowed, match="waits for Hbl to be done"):  # the task's name, not its key
        services.task_complete(task=tasks["prealert"], scope=scope, by=ops_user)
    services.task_complete(task=tasks["hbl"], scope=scope, by=ops_user)
    assert tasks_of(order)["prealert"].waiting_on == []
    services.task_reopen(task=tasks_of(order)["hbl"], scope=scope, by=ops_user)
    assert tasks_of(order)["prealert"].waiting_on == ["hbl"]


def test_tasks_complete_themselves_when_the_order_reaches_their_state(
    make_template, make_order, ops_team, ops_user, committed
):
    make_template("Ocean", [definition("review", auto_complete_kind="state", auto_complete_value="confirmed")])
    with committed():
        order = make_order(submit=True)
    transition(order, "confirm", ops_user, committed)
    review = tasks_of(order)["review"]
    assert (review.state, review.completed_by) == (TaskState.DONE, None)
    assert TeamMember.objects.get(user=review.assignee).open_tasks == 0
    assert review.events.get().verb == "auto-completed"


def test_cancelling_the_order_cancels_its_open_tasks_and_frees_the_load(
    make_template, make_order, ops_team, ops_user, committed
):
    make_template("Ocean", [definition("a"), definition("b")])
    with committed():
        order = make_order(submit=True)
    transition(order, "cancel", ops_user, committed, reason="Customer withdrew.")
    assert {task.state for task in tasks_of(order).values()} == {TaskState.CANCELLED}
    assert sum(TeamMember.objects.values_list("open_tasks", flat=True)) == 0


def test_closing_the_order_cancels_what_is_still_open(make_template, make_order, ops_team, finance_user, committed):
    make_template("Ocean", [definition("a"), definition("b", trigger_state="invoiced")])
    with committed():
        order = make_order(submit=True)
    order = force_status(order, OrderStatus.INVOICED)
    transition(order, "close", finance_user, committed)
    task = tasks_of(order)["a"]
    assert (task.state, task.events.get().detail) == (TaskState.CANCELLED, "Order closed")


def test_hold_creates_its_tasks_each_time_and_release_creates_nothing_twice(
    make_template, make_order, ops_team, ops_user, committed
):
    make_template("Ocean", [definition("check"), definition("resolve", trigger_state="on_hold")])
    with committed():
        order = make_order(submit=True)
    order = transition(order, "hold", ops_user, committed, reason="Credit check.")
    order = transition(order, "release", ops_user, committed)
    order = transition(order, "hold", ops_user, committed, reason="Customs query.")
    names = list(Task.objects.filter(order=order).order_by("pk").values_list("key", flat=True))
    assert names == ["check", "resolve", "resolve"]  # one check despite re-entering submitted


def test_handling_a_transition_twice_creates_nothing_twice(make_template, make_order, ops_team, committed):
    make_template("Ocean", [definition("check")])
    with committed():
        order = make_order(submit=True)
    record = OrderTransition.objects.get(order=order, name="submit")
    assert services.transition_handle(transition_id=record.pk) is False
    ProcessedTransition.objects.filter(pk=record.pk).delete()  # as if the marker were lost: the key still holds
    assert services.transition_handle(transition_id=record.pk) is True
    assert Task.objects.filter(order=order).count() == 1
    assert Notification.objects.filter(task__order=order).count() == 1


def test_the_sweep_handles_transitions_whose_receiver_never_ran(make_template, make_order, ops_team, committed):
    make_template("Ocean", [definition("check")])
    from orders import events

    events.order_status_changed.disconnect(_order_status_changed, dispatch_uid="workflows.order_status_changed")
    try:
        with committed():
            order = make_order(submit=True)  # the process "dies" before the workflow hears of it
    finally:
        events.order_status_changed.connect(_order_status_changed, dispatch_uid="workflows.order_status_changed")
    assert not Task.objects.filter(order=order).exists()
    assert services.pending_transitions_process(older_than=datetime.timedelta(0)) == 1
    assert set(tasks_of(order)) == {"check"}
    assert services.pending_transitions_process(older_than=datetime.timedelta(0)) == 0


def test_milestones_complete_and_create_tasks_once(make_template, make_order, ops_team, committed):
    make_template("Air", [
        definition("departure", auto_complete_kind="milestone", auto_complete_value="DEPARTED"),
        definition("track", trigger_kind="milestone", trigger_code="DEPARTED", trigger_state=""),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    services.milestone_record(order_id=order.pk, code="departed", event_id="e1")
    services.milestone_record(order_id=order.pk, code="DEPARTED", event_id="e1")
    tasks = tasks_of(order)
    assert tasks["departure"].state == TaskState.DONE
    assert Task.objects.filter(order=order, key="track").count() == 1


def test_a_document_completes_the_task_waiting_for_it(make_template, make_order, ops_team, committed):
    make_template("Ocean", [
        definition("hbl", auto_complete_kind="document", auto_complete_value="HBL"),
        definition("send", trigger_kind="document", trigger_code="HBL", trigger_state=""),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    services.document_record(order_id=order.pk, document_type="HBL", document_id="doc-1")
    tasks = tasks_of(order)
    assert (tasks["hbl"].state, tasks["send"].state) == (TaskState.DONE, TaskState.OPEN)


@pytest.mark.parametrize(
    ("kind", "value", "record"),
    [
        ("document", "HBL", lambda order: services.document_record(order_id=order.pk, document_type="HBL",
                                                                    document_id="d1")),
        ("milestone", "DEPARTED", lambda order: services.milestone_record(order_id=order.pk, code="departed",
                                                                          event_id=1)),
    ],
)  # fmt: skip
def test_task_whose_completion_condition_already_holds_is_created_done(
    make_template, make_order, ops_team, ops_user, committed, kind, value, record
):
    make_template("Ocean", [
        definition("check", auto_complete_kind="state", auto_complete_value="confirmed"),
        definition("hbl", trigger_state="confirmed", auto_complete_kind=kind, auto_complete_value=value),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    record(order)  # the HBL is uploaded / the DEPARTED milestone is recorded before the order is confirmed
    transition(order, "confirm", ops_user, committed)
    task = tasks_of(order)["hbl"]
    assert (task.state, task.assignee) == (TaskState.DONE, None)
    assert list(task.events.values_list("verb", "detail")) == [
        ("auto-completed", f"{kind}:{value} (before this task was made)")
    ]
    assert sum(TeamMember.objects.filter(team=ops_team).values_list("open_tasks", flat=True)) == 0  # "check" done too


def test_a_task_made_before_its_milestone_still_waits_for_it(make_template, make_order, ops_team, ops_user, committed):
    departure = definition(
        "departure", trigger_state="confirmed", auto_complete_kind="milestone", auto_complete_value="DEPARTED"
    )
    make_template("Ocean", [departure])
    with committed():
        order = make_order(submit=True)
    services.milestone_record(order_id=order.pk, code="ARRIVED", event_id=1)  # another milestone
    transition(order, "confirm", ops_user, committed)
    assert tasks_of(order)["departure"].state == TaskState.OPEN
    services.milestone_record(order_id=order.pk, code="DEPARTED", event_id=2)
    services.milestone_record(order_id=order.pk, code="DEPARTED", event_id=3)  # remembered once
    assert tasks_of(order)["departure"].state == TaskState.DONE
    assert OrderWorkflow.objects.get(order=order).events_seen == ["milestone:ARRIVED", "milestone:DEPARTED"]


def test_date_triggered_tasks_wait_scheduled_then_open_and_are_assigned(
    make_template, make_order, ops_team, committed, frozen, monkeypatch
):
    make_template("Ocean", [
        definition("ready", trigger_kind="date", trigger_state="", date_anchor="requested_pickup",
                   date_offset_hours=-24, due_in_hours=Decimal(4)),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True, requested_pickup_on="2026-03-06")  # Friday
    task = tasks_of(order)["ready"]
    opens = datetime.datetime(2026, 3, 5, 8, 0, tzinfo=frozen.tzinfo)  # Thursday 08:00 = Friday 08:00 − 24 h
    assert (task.state, task.available_at, task.assignee) == (TaskState.SCHEDULED, opens, None)
    assert services.scheduled_tasks_open(now=opens - datetime.timedelta(minutes=1)) == 0
    with committed():
        assert services.scheduled_tasks_open(now=opens) == 1
        assert services.scheduled_tasks_open(now=opens) == 0
    task = tasks_of(order)["ready"]
    assert task.state == TaskState.OPEN
    assert task.assignee is not None
    assert Notification.objects.filter(task=task, recipient=task.assignee).count() == 1


def test_a_key_date_from_tracking_schedules_and_moves_tasks(make_template, make_order, ops_team, committed, frozen):
    make_template("Ocean", [
        definition("vgm", trigger_kind="date", trigger_state="", date_anchor="cargo_cutoff", date_offset_hours=-48),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    assert "vgm" not in tasks_of(order)  # the cut-off is not known yet
    cutoff = frozen + datetime.timedelta(days=5)
    services.key_date_record(order_id=order.pk, anchor="cargo_cutoff", at=cutoff)
    assert tasks_of(order)["vgm"].available_at == cutoff - datetime.timedelta(hours=48)
    services.key_date_record(order_id=order.pk, anchor="cargo_cutoff", at=cutoff + datetime.timedelta(days=1))
    assert tasks_of(order)["vgm"].available_at == cutoff + datetime.timedelta(hours=-24)
    assert Task.objects.filter(order=order, key="vgm").count() == 1


def test_assignees_are_notified_and_emailed_only_if_they_asked(
    make_template, make_order, ops_team, ops_user, ops2_user, committed
):
    NotificationPreference.objects.create(user=ops2_user, email_assigned=True)
    make_template("Ocean", [definition("a"), definition("b")])
    with committed():
        order = make_order(submit=True)
    assigned = {n.recipient.email for n in Notification.objects.filter(kind="assigned")}
    assert assigned == {"ops@oms.test", "ops2@oms.test"}
    assert [message.to for message in mail.outbox] == [["ops2@oms.test"]]
    assert order.reference in mail.outbox[0].subject


def test_an_order_matching_no_template_gets_no_tasks(make_order, ops_team, committed):
    with committed():
        order = make_order(submit=True)
    assert not Task.objects.filter(order=order).exists()
    assert OrderWorkflow.objects.get(order=order).version is None
