"""The configuration each process keeps between events (services.config) is dropped as soon as the database
says it changed: any write to a configuration table moves the token, whoever makes it and however, and the
next event reads the configuration afresh. Also: handling a submit costs a fixed number of queries."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from orders.models import OrderStatus, OrderTransition
from workflows import services
from workflows.models import (
    BranchCalendar,
    ConfigStamp,
    CustomerSettings,
    NotificationPreference,
    Rule,
    RuleAction,
    RuleCondition,
    RuleEvent,
    Task,
    Team,
    TeamFunction,
    WorkflowTemplate,
    WorkflowVersion,
)
from workflows.services.config import config_token, workflow_config

from .conftest import definition, tasks_of

MONDAY_10 = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: MONDAY_10.astimezone(datetime.UTC))
    return MONDAY_10


@pytest.fixture
def high_value_rule(ops_team):
    rule = Rule.objects.create(name="High value", event=RuleEvent.ORDER_SUBMITTED)
    RuleCondition.objects.create(rule=rule, field="declared_value_amount", operator="gt", value="75000")
    RuleAction.objects.create(rule=rule, kind="notify", team_function=TeamFunction.OPERATIONS, message="Check it")
    return rule


def _change_rule(rule: Rule) -> None:
    Rule.objects.filter(pk=rule.pk).update(event_value="")


def _change_condition(rule: Rule) -> None:
    RuleCondition.objects.filter(rule=rule).update(value="1")


def _change_action(rule: Rule) -> None:
    RuleAction.objects.filter(rule=rule).update(message="Changed")


CHANGES = {
    "template": lambda ctx: WorkflowTemplate.objects.update(is_active=False),
    "version": lambda ctx: WorkflowVersion.objects.update(note="Changed"),
    "rule": lambda ctx: _change_rule(ctx["rule"]),
    "rule condition": lambda ctx: _change_condition(ctx["rule"]),
    "rule action": lambda ctx: _change_action(ctx["rule"]),
    "customer settings": lambda ctx: CustomerSettings.objects.create(customer=ctx["customer"], auto_accept=True),
    "team": lambda ctx: Team.objects.update(lead=None),
    "branch calendar": lambda ctx: BranchCalendar.objects.update(opens_at=datetime.time(9)),
    "notification preference": lambda ctx: NotificationPreference.objects.create(user=ctx["user"]),
    "deleted rule": lambda ctx: ctx["rule"].delete(),
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_kind_of_configuration_change_moves_the_token(
    change, high_value_rule, make_template, customer_a, sales_user
):
    make_template("Ocean", [definition("check")])
    before = config_token()
    CHANGES[change]({"rule": high_value_rule, "customer": customer_a, "user": sales_user})
    assert config_token() not in (None, before)


def test_the_kept_configuration_serves_events_until_the_token_moves(high_value_rule):
    token = config_token()
    kept = workflow_config(token)
    assert workflow_config(token) is kept
    RuleCondition.objects.filter(rule=high_value_rule).update(value="1")
    assert workflow_config(config_token()) is not kept


def test_an_edited_rule_condition_applies_from_the_next_event(high_value_rule, make_order, committed, ops_user):
    with committed():
        make_order(submit=True, declared_value=Decimal(5000), currency="EUR")  # the rules are now kept
    assert not ops_user.notifications.exists()
    # Only the condition row changes (the rule itself is not saved): the trigger on its table still tells.
    RuleCondition.objects.filter(rule=high_value_rule).update(value="1000")
    with committed():
        make_order(submit=True, declared_value=Decimal(5000), currency="EUR")
    assert ops_user.notifications.filter(kind="rule").count() == 1


def test_a_customer_flagged_auto_accept_later_is_auto_accepted_from_the_next_order(
    make_order, customer_a, ops_team, committed
):
    Rule.objects.create(name="Auto-accept", event=RuleEvent.ORDER_SUBMITTED)
    rule = Rule.objects.get()
    RuleCondition.objects.create(rule=rule, field="customer_auto_accept", operator="true")
    RuleAction.objects.create(rule=rule, kind="transition", transition="confirm")
    with committed():
        first = make_order(submit=True)
    CustomerSettings.objects.create(customer=customer_a, auto_accept=True)
    with committed():
        second = make_order(submit=True)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (OrderStatus.SUBMITTED, OrderStatus.CONFIRMED)


def test_a_deactivated_template_binds_no_new_order(make_template, make_order, ops_team, committed):
    specific = make_template("Ocean FCL", [definition("fcl")], mode="ocean_fcl")
    make_template("General", [definition("general")])
    with committed():
        first = make_order(submit=True)
    WorkflowTemplate.objects.filter(pk=specific.pk).update(is_active=False)
    with committed():
        second = make_order(submit=True)
    assert (set(tasks_of(first)), set(tasks_of(second))) == ({"fcl"}, {"general"})


def test_new_business_hours_count_from_the_next_event(make_template, make_order, ops_team, committed, frozen):
    make_template("Ocean", [definition("check", due_in_hours=Decimal(8))])
    with committed():
        first = make_order(submit=True)
    BranchCalendar.objects.update(closes_at=datetime.time(14))
    with committed():
        second = make_order(submit=True)
    berlin = ZoneInfo("Europe/Berlin")
    assert tasks_of(first)["check"].due_at == datetime.datetime(2026, 3, 2, 18, 0, tzinfo=berlin)  # 10:00 + 8 h
    assert tasks_of(second)["check"].due_at == datetime.datetime(2026, 3, 3, 12, 0, tzinfo=berlin)  # 4 h + 4 h


def test_without_the_stamp_row_nothing_is_kept_and_events_still_work(make_template, make_order, ops_team, committed):
    make_template("Ocean", [definition("check")])
    ConfigStamp.objects.all().delete()
    assert workflow_config(None) is not workflow_config(None)
    with committed():
        order = make_order(submit=True)
    assert set(tasks_of(order)) == {"check"}


def test_a_submit_is_handled_in_a_fixed_number_of_queries(
    make_template, make_order, ops_team, sales_team, high_value_rule, django_assert_num_queries
):
    make_template("Ocean", [definition("check"), definition("sell", team_function=TeamFunction.SALES)])
    for _ in range(2):  # the first events read the configuration and both operations members' preferences
        warm = make_order(submit=True)
        services.transition_handle(transition_id=OrderTransition.objects.get(order=warm).pk)
    order = make_order(submit=True)
    transition_id = OrderTransition.objects.get(order=order).pk
    # savepoint, claim and order, binding, teams and load, load update, tasks, notifications, rule runs
    # (nothing: the rule's condition does not hold), release
    with django_assert_num_queries(8):
        assert services.transition_handle(transition_id=transition_id)
    assert Task.objects.filter(order=order).count() == 2
