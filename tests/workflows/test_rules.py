"""Automation rules: conditions on the order, each action, once per event, never in a loop, and the dry run
that shows which existing orders a rule would have matched."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from finance.models import ExchangeRate
from orders.models import OrderStatus, OrderTransition
from workflows import services
from workflows.models import (
    CustomerSettings,
    Notification,
    Rule,
    RuleAction,
    RuleCondition,
    RuleEvent,
    RuleRun,
    Task,
    TaskState,
)
from workflows.services.binding import order_run
from workflows.services.rules import OrderFacts, RuleTrigger, condition_holds, rules_fire

from .conftest import definition, force_status, tasks_of


def rule(name, event, *, value="", conditions=(), actions=()):
    made = Rule.objects.create(name=name, event=event, event_value=value)
    for field, operator, expected in conditions:
        RuleCondition.objects.create(rule=made, field=field, operator=operator, value=expected)
    for position, action in enumerate(actions):
        RuleAction.objects.create(rule=made, position=position, **action)
    return made


@pytest.fixture
def auto_accept(customer_a):
    CustomerSettings.objects.create(customer=customer_a, auto_accept=True)
    return rule(
        "Auto-accept", RuleEvent.ORDER_SUBMITTED, conditions=[("customer_auto_accept", "true", "")],
        actions=[{"kind": "transition", "transition": "confirm", "message": "Customer is set to auto-accept."}],
    )  # fmt: skip


def test_orders_of_an_auto_accept_customer_are_confirmed_on_submit(auto_accept, make_order, ops_team, committed):
    with committed():
        order = make_order(submit=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    confirm = OrderTransition.objects.get(order=order, name="confirm")
    assert (confirm.channel, confirm.by, confirm.reason) == ("system", None, "Customer is set to auto-accept.")
    ran = RuleRun.objects.get(rule=auto_accept)
    assert ran.outcome == "done"
    # the transition names the rule's run it came from (a hold: which exception's rule put it on, services.holds)
    automation = {"rule": auto_accept.pk, "chain": [auto_accept.pk], "event": ran.event_key}
    assert confirm.payload == {"automation": automation}


def test_other_customers_orders_wait_for_a_person(auto_accept, make_order, customer_b, ops_team, committed):
    CustomerSettings.objects.filter(customer__code="ACME").update(auto_accept=False)
    with committed():
        order = make_order(submit=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert not RuleRun.objects.exists()


def test_a_blocking_task_stops_the_automatic_confirmation_and_the_run_says_why(
    auto_accept, make_template, make_order, ops_team, committed
):
    make_template("Ocean", [definition("credit", name="Credit check", blocks=["confirm"])])
    with committed():
        order = make_order(submit=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    run = RuleRun.objects.get(rule=auto_accept)
    assert run.outcome == "skipped"
    assert "Finish first: Credit check" in run.detail


def test_rules_never_loop_on_themselves(make_order, ops_team, admin_user, committed):
    # confirmed → hold; on hold → release (back to confirmed, where the order already was: not entered again).
    holder = rule("Hold confirmed orders", RuleEvent.ORDER_ENTERED_STATE, value="confirmed",
                  actions=[{"kind": "hold", "message": "Check the paperwork."}])  # fmt: skip
    releaser = rule("Release held orders", RuleEvent.ORDER_ENTERED_STATE, value="on_hold",
                    actions=[{"kind": "transition", "transition": "release"}])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    from orders import services as order_services
    from workflows.services.rules import AUTOMATION_SCOPE

    with committed():
        order_services.order_transition(order=order, name="confirm", scope=AUTOMATION_SCOPE, channel="screen")
    history = list(OrderTransition.objects.filter(order=order).values_list("name", flat=True))
    assert history == ["submit", "confirm", "hold", "release"]
    assert list(RuleRun.objects.values_list("rule", "outcome")) == [(releaser.pk, "done"), (holder.pk, "done")]
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    # and a rule reached again by its own actions' effects is skipped, whatever the event
    run = order_run(order=order, now=timezone.now())
    trigger = RuleTrigger(RuleEvent.ORDER_ENTERED_STATE, "test:again", "confirmed")
    (skipped,) = rules_fire(run=run, triggers=[trigger], chain=(holder.pk,))
    assert (skipped.rule, skipped.outcome, "would loop" in skipped.detail) == (holder, "skipped", True)


def _take(order, name, user, committed, **extra):
    from orders import services as order_services
    from orders.models import Channel
    from partners.scoping import scope_for_user

    with committed():
        return order_services.order_transition(
            order=order, name=name, scope=scope_for_user(user), by=user, channel=Channel.SCREEN, **extra
        )


def test_a_person_can_release_an_order_a_state_rule_held(make_order, ops_team, ops_user, committed):
    """Review C: "Order enters submitted, declared value more than 150 → hold: check the customs entry". The release
    took the order back to submitted, which the rule read as entering it again: held again, at every release."""
    holder = rule(
        "Formal customs entry", RuleEvent.ORDER_ENTERED_STATE, value="submitted",
        conditions=[("declared_value_amount", "gt", "150")],
        actions=[{"kind": "hold", "message": "Above 150 EUR: check the formal customs entry."}],
    )  # fmt: skip
    with committed():
        order = make_order(submit=True, declared_value="900", currency="EUR")
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    order = _take(order, "release", ops_user, committed)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert RuleRun.objects.filter(rule=holder).count() == 1


def test_a_state_rule_runs_once_however_often_the_order_comes_back_to_the_state(
    make_order, ops_team, ops_user, committed
):
    """Review C: "Order enters confirmed → create task 'Book the customs broker'"; a hold and its release (back to
    confirmed) made a second task, which the template's own tasks never do. Nor does taking it back from planned."""
    rule(
        "Customs broker", RuleEvent.ORDER_ENTERED_STATE, value="confirmed",
        actions=[{"kind": "create_task", "task_name": "Book the customs broker", "team_function": "operations",
                  "due_in_hours": Decimal(4)}],
    )  # fmt: skip
    held = rule("Every hold", RuleEvent.ORDER_ENTERED_STATE, value="on_hold",
                actions=[{"kind": "notify", "team_function": "operations", "message": "Held."}])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    order = _take(order, "confirm", ops_user, committed)
    order = _take(order, "hold", ops_user, committed, reason="Customer query.")
    order = _take(order, "release", ops_user, committed)
    order = _take(order, "plan", ops_user, committed)
    order = _take(order, "unplan", ops_user, committed, reason="The carrier cancelled the booking.")
    order = _take(order, "hold", ops_user, committed, reason="Another query.")
    names = list(Task.objects.filter(order=order).values_list("name", flat=True))
    assert names == ["Book the customs broker"]
    assert RuleRun.objects.filter(rule=held, outcome="done").count() == 2  # each hold is a state entered anew


def test_a_rule_runs_once_per_event(auto_accept, make_order, ops_team, committed):
    with committed():
        order = make_order()
    run = order_run(order=order, now=order.created_at)
    trigger = RuleTrigger(RuleEvent.ORDER_SUBMITTED, "transition:test")
    first = rules_fire(run=run, triggers=[trigger])
    second = rules_fire(run=run, triggers=[trigger])
    assert (len(first), second) == (1, [])


def test_a_milestone_rule_holds_the_order_and_creates_a_task(make_order, ops_team, committed):
    rule("Customs hold", RuleEvent.MILESTONE_RECORDED, value="CUSTOMS_HOLD", actions=[
        {"kind": "hold", "message": "Customs hold reported by the carrier."},
        {"kind": "create_task", "task_name": "Resolve the customs hold", "team_function": "operations",
         "due_in_hours": Decimal(4)},
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    with committed():
        services.milestone_record(order_id=order.pk, code="CUSTOMS_HOLD", event_id="m1")
        services.milestone_record(order_id=order.pk, code="CUSTOMS_HOLD", event_id="m1")  # redelivered
    order.refresh_from_db()
    assert (order.status, order.status_before_hold) == (OrderStatus.ON_HOLD, OrderStatus.SUBMITTED)
    (task,) = Task.objects.filter(order=order)
    assert (task.name, task.state, task.assignee is not None, task.rule is not None) == (
        "Resolve the customs hold", TaskState.OPEN, True, True)  # fmt: skip


def test_assign_and_notify_actions(make_template, make_order, ops_team, ops2_user, docs_user, committed):
    make_template("Ocean", [definition("a"), definition("b")])
    rule("Big orders go to Otto", RuleEvent.ORDER_SUBMITTED, conditions=[("declared_value_amount", "gt", "1000")],
         actions=[{"kind": "assign", "team_function": "operations", "user": ops2_user},
                  {"kind": "notify", "user": docs_user, "message": "Check insurance."},
                  {"kind": "notify", "team_function": "operations", "message": "Big one."}])  # fmt: skip
    with committed():
        order = make_order(submit=True, declared_value="25000", currency="EUR")
    assert {task.assignee for task in tasks_of(order).values()} == {ops2_user}
    rule_notes = Notification.objects.filter(kind="rule").order_by("pk")
    assert [(n.recipient.email, n.body) for n in rule_notes] == [
        ("docs@oms.test", "Check insurance."), ("ops@oms.test", "Big one."),  # ops@ leads HAM operations
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("field", "operator", "value", "holds"),
    [
        ("customer", "eq", "acme", True), ("customer", "ne", "ACME", False), ("customer", "in", "GLOBEX, ACME", True),
        ("customer", "not_in", "GLOBEX", True), ("mode", "eq", "ocean_fcl", True), ("branch", "eq", "HAM", True),
        ("origin_country", "eq", "CN", True), ("destination", "in", "DEHAM,NLRTM", True),
        ("trade_direction", "eq", "import", True), ("trade_direction", "eq", "export", False),
        ("declared_value_amount", "gt", "1000", True), ("declared_value_amount", "lt", "1000", False),
        ("gross_weight_kg", "gt", "4000", True), ("channel", "eq", "screen", True), ("status", "eq", "draft", True),
        ("customer_auto_accept", "true", "", False), ("customer_auto_accept", "false", "", True),
    ],
)  # fmt: skip
def test_conditions(make_order, field, operator, value, holds):
    order = make_order(declared_value="5000", currency="EUR")
    facts = OrderFacts(order, direction="import")
    assert condition_holds(RuleCondition(field=field, operator=operator, value=value), facts) is holds


def test_a_number_condition_on_a_missing_value_does_not_hold(make_order):
    order = make_order()  # no declared value
    facts = OrderFacts(order, direction="import")
    assert condition_holds(RuleCondition(field="declared_value_amount", operator="lt", value="1"), facts) is False


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"field": "customer_auto_accept", "operator": "eq", "value": "x"}, "yes/no field"),
        ({"field": "mode", "operator": "true", "value": ""}, "for yes/no fields"),
        ({"field": "declared_value_amount", "operator": "gt", "value": "lots"}, "Enter a number"),
        ({"field": "declared_value_amount", "operator": "in", "value": "1,2"}, "Compare numbers"),
        ({"field": "mode", "operator": "gt", "value": "air"}, "are for numbers"),
        ({"field": "mode", "operator": "eq", "value": " "}, "Enter the value"),
    ],
)
def test_conditions_that_cannot_work_are_refused_in_the_console(fields, message):
    with pytest.raises(ValidationError, match=message):
        RuleCondition(**fields).clean()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "transition"}, "Pick the transition"),
        ({"kind": "create_task", "task_name": "x"}, "Pick the team"),
        ({"kind": "assign"}, "Pick the person"),
        ({"kind": "hold"}, "Say why"),
        ({"kind": "notify"}, "Pick a person, or a team"),
    ],
)
def test_actions_missing_what_they_need_are_refused_in_the_console(fields, message):
    with pytest.raises(ValidationError, match=message):
        RuleAction(**fields).clean()


def test_the_dry_run_lists_the_submitted_orders_the_rule_would_match(make_order, customer_b, ops_team, committed):
    with committed():
        big = make_order(submit=True, declared_value="90000", currency="EUR")
        make_order(submit=True, declared_value="100", currency="EUR")
        make_order(declared_value="95000", currency="EUR")  # a draft: never submitted, so never an event
    high_value = rule("High value", RuleEvent.ORDER_SUBMITTED, conditions=[("declared_value_amount", "gt", "75000")])
    result = services.rule_dry_run(rule=high_value)
    assert (result.checked, [order.reference for order in result.matched]) == (2, [big.reference])


def test_the_dry_run_of_a_state_rule_looks_at_orders_that_entered_the_state(make_order, ops_team, committed):
    with committed():
        held = make_order(submit=True)
        make_order(submit=True)
    force_status(held, OrderStatus.SUBMITTED)
    OrderTransition.objects.create(order=held, name="hold", source="submitted", target="on_hold", channel="screen")
    on_hold = rule("Held", RuleEvent.ORDER_ENTERED_STATE, value="on_hold")
    assert [order.pk for order in services.rule_dry_run(rule=on_hold).matched] == [held.pk]


def _matched(made):
    return [order.reference for order in services.rule_dry_run(rule=made).matched]


def test_the_dry_run_of_a_milestone_rule_lists_only_orders_that_had_the_milestone(make_order, ops_team, committed):
    """Review B, defect 2: the dry run of "Customs hold stops the order" listed every submitted order (it would have
    held them all). It lists the orders on which CUSTOMS_HOLD was recorded, as their workflow met it."""
    with committed():
        held = make_order(submit=True)
        departed = make_order(submit=True)
        make_order(submit=True)  # nothing recorded
    with committed():
        services.milestone_record(order_id=held.pk, code="CUSTOMS_HOLD", event_id="hold-1")
        services.milestone_record(order_id=departed.pk, code="DEPARTED", event_id="dep-1")
    stops = rule("Customs hold stops the order", RuleEvent.MILESTONE_RECORDED, value="CUSTOMS_HOLD",
                 actions=[{"kind": "hold", "message": "Customs hold reported by the carrier."}])  # fmt: skip
    any_milestone = rule("Any milestone", RuleEvent.MILESTONE_RECORDED)

    result = services.rule_dry_run(rule=stops)

    assert (result.checked, [order.reference for order in result.matched]) == (1, [held.reference])
    assert (result.among, result.event_checked) == ("orders on which milestone CUSTOMS_HOLD was recorded", True)
    assert _matched(any_milestone) == [departed.reference, held.reference]  # newest first


def test_the_dry_run_of_a_document_rule_lists_the_orders_with_that_document(make_order, ops_team, committed):
    with committed():
        with_bill = make_order(submit=True)
        with_pod = make_order(submit=True)
    with committed():
        services.document_record(order_id=with_bill.pk, document_type="HBL")
        services.document_record(order_id=with_pod.pk, document_type="POD")
    assert _matched(rule("Bill", RuleEvent.DOCUMENT_UPLOADED, value="HBL")) == [with_bill.reference]
    assert _matched(rule("Any document", RuleEvent.DOCUMENT_UPLOADED)) == [with_pod.reference, with_bill.reference]
    assert _matched(rule("Any milestone", RuleEvent.MILESTONE_RECORDED)) == []  # a document is no milestone


def test_the_dry_run_of_a_task_overdue_rule_lists_the_orders_whose_task_of_that_team_went_overdue(
    make_template, make_order, ops_team, committed
):
    make_template("Ocean", [definition("check")])  # an operations task on submit
    with committed():
        escalated = make_order(submit=True)
        overdue_now = make_order(submit=True)
        on_time = make_order(submit=True)
    Task.objects.filter(order=escalated).update(due_at=timezone.now() - datetime.timedelta(hours=2))
    services.overdue_tasks_escalate()
    Task.objects.filter(order=escalated).update(state=TaskState.DONE)  # done late: it went overdue all the same
    Task.objects.filter(order=overdue_now).update(due_at=timezone.now() - datetime.timedelta(minutes=1))
    assert Task.objects.get(order=on_time).due_at > timezone.now()

    operations = rule("Overdue work", RuleEvent.TASK_OVERDUE, value="operations")
    assert _matched(operations) == [overdue_now.reference, escalated.reference]
    assert services.rule_dry_run(rule=operations).among == "orders with a task of Operations that went overdue"
    assert _matched(rule("Overdue customs work", RuleEvent.TASK_OVERDUE, value="customs")) == []


def test_a_dry_run_that_cannot_look_up_its_event_says_so(make_order, ops_team, committed):
    """An event the dry run does not know how to look up lists the orders whose conditions hold, and says the event
    was not checked (the console page prints it), rather than claiming they match."""
    with committed():
        order = make_order(submit=True)
    unknown = Rule.objects.create(name="Some future event", event="customs_cleared")
    result = services.rule_dry_run(rule=unknown)
    assert ([o.reference for o in result.matched], result.event_checked) == ([order.reference], False)


# ---- Who a rule may name: active OMS staff only -------------------------------------------------


def test_rule_notify_skips_a_deactivated_team_lead(make_order, ops_team, committed):
    lead = ops_team.lead
    lead.is_active = False
    lead.save(update_fields=["is_active"])
    told = rule("Tell ops lead", RuleEvent.ORDER_SUBMITTED,
                actions=[{"kind": "notify", "team_function": "operations", "message": "New order."}])  # fmt: skip
    with committed():
        make_order(submit=True)
    assert not Notification.objects.filter(kind="rule", recipient=lead).exists()
    assert RuleRun.objects.get(rule=told).outcome == "skipped"


def test_rule_assign_does_not_give_tasks_to_a_deactivated_user(make_template, make_order, ops_team, ops2_user,
                                                               committed):  # fmt: skip
    make_template("Ocean", [definition("a")])
    rule("All to Otto", RuleEvent.ORDER_SUBMITTED,
         actions=[{"kind": "assign", "team_function": "operations", "user": ops2_user}])  # fmt: skip
    ops2_user.is_active = False
    ops2_user.save(update_fields=["is_active"])
    with committed():
        order = make_order(submit=True)
    # task_reassign refuses this person ("Tasks can only go to active OMS staff"); a rule must not do it either
    assert tasks_of(order)["a"].assignee != ops2_user
    assert not Notification.objects.filter(recipient=ops2_user).exists()


def test_rule_create_task_for_a_customer_user_gives_it_to_the_team(make_order, ops_team, customer_a_user, committed):
    rule("Task for someone", RuleEvent.ORDER_SUBMITTED,
         actions=[{"kind": "create_task", "task_name": "Check", "team_function": "operations",
                   "user": customer_a_user}])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    task = Task.objects.get(order=order, name="Check")
    assert task.assignee_id != customer_a_user.pk


def test_rule_notify_never_emails_another_customers_user(make_order, ops_team, customer_b_user, committed):
    rule("Tell someone", RuleEvent.ORDER_SUBMITTED,
         actions=[{"kind": "notify", "user": customer_b_user, "message": "Order in."}])  # fmt: skip
    mail.outbox.clear()
    with committed():
        make_order(submit=True)  # an ACME order
    assert not Notification.objects.filter(recipient=customer_b_user).exists()
    assert [m for m in mail.outbox if customer_b_user.email in m.to] == []


def test_a_rule_action_naming_a_customer_user_does_not_validate(customer_b_user, ops_user):
    made = Rule.objects.create(name="Tell someone", event=RuleEvent.ORDER_SUBMITTED)
    with pytest.raises(ValidationError, match="active OMS staff"):
        RuleAction(rule=made, kind="notify", user=customer_b_user, message="Order in.").clean()
    RuleAction(rule=made, kind="notify", user=ops_user, message="Order in.").clean()


# ---- Numbers that are no numbers -----------------------------------------------------------------


@pytest.mark.parametrize(("operator", "stored"), [("gt", "NaN"), ("ne", "nan"), ("lt", "Infinity"), ("gt", "-inf")])
def test_a_numeric_condition_saved_as_nan_or_infinity_matches_nothing(make_order, operator, stored):
    order = make_order()
    condition = RuleCondition(field="gross_weight_kg", operator=operator, value=stored)
    assert condition_holds(condition, OrderFacts(order, direction="export")) is False


def test_orders_still_submit_under_a_rule_saved_with_nan(make_order, ops_team, committed):
    """Saved before RuleCondition.clean refused it (or by code): every submit raised InvalidOperation (review C)."""
    check = {"kind": "create_task", "task_name": "Check heavy cargo", "team_function": "operations"}
    rule("Heavy cargo", RuleEvent.ORDER_SUBMITTED, conditions=[("gross_weight_kg", "gt", "NaN")], actions=[check])
    with committed():
        order = make_order(submit=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert not Task.objects.filter(order=order, name="Check heavy cargo").exists()


# ---- Declared value: compared in the base currency ----------------------------------------------


def test_declared_value_condition_does_not_compare_yen_with_euros(make_order):
    order = make_order(declared_value="20000", currency="JPY")  # about 120 EUR; no JPY rate is known
    facts = OrderFacts(order, direction="import")
    high_value = RuleCondition(field="declared_value_amount", operator="gt", value="10000")
    assert condition_holds(high_value, facts) is False


def test_declared_value_condition_converts_at_the_latest_rate(make_order, settings):
    settings.OMS_BASE_CURRENCY = "EUR"
    ExchangeRate.objects.create(
        base_currency="EUR", quote_currency="JPY", rate=Decimal(160), rate_on=timezone.localdate()
    )
    order = make_order(declared_value="3200000", currency="JPY")  # 20000 EUR
    facts = OrderFacts(order, direction="import")
    assert condition_holds(RuleCondition(field="declared_value_amount", operator="gt", value="10000"), facts)
    assert not condition_holds(RuleCondition(field="declared_value_amount", operator="gt", value="30000"), facts)
