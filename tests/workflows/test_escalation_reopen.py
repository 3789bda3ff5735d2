"""Escalation happens once per overdue episode: a reopened task that goes overdue again tells the lead again."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from partners.scoping import scope_for_user
from workflows import services
from workflows.models import Notification, Rule, RuleAction, RuleEvent, RuleRun, Task

from .conftest import definition, tasks_of


@pytest.fixture
def order(make_template, ops_team, make_order, committed):
    make_template("Ocean", [definition("book", name="Book container space")])
    with committed():
        return make_order(submit=True)


def _overdue(task: Task) -> None:
    Task.objects.filter(pk=task.pk).update(due_at=timezone.now() - datetime.timedelta(hours=1))


def test_a_reopened_task_that_is_overdue_again_escalates_again(order, ops_user):
    # given a task escalated once, then completed
    task = tasks_of(order)["book"]
    _overdue(task)
    assert services.overdue_tasks_escalate() == 1
    scope = scope_for_user(ops_user)
    services.task_complete(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user)
    # when it is reopened, its escalation is cleared
    services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user, reason="not really done")
    assert Task.objects.get(pk=task.pk).escalated_at is None
    # then going overdue again escalates it once more, and only once
    _overdue(task)
    assert services.overdue_tasks_escalate() == 1
    assert services.overdue_tasks_escalate() == 0
    assert Notification.objects.filter(kind="escalated", task_id=task.pk).count() == 2


def test_an_escalated_task_is_not_escalated_again_without_a_new_episode(order):
    task = tasks_of(order)["book"]
    _overdue(task)
    assert services.overdue_tasks_escalate() == 1
    assert services.overdue_tasks_escalate(now=timezone.now() + datetime.timedelta(days=3)) == 0


def test_the_task_overdue_rule_runs_again_for_a_new_overdue_episode(order, ops_user):
    overdue_rule = Rule.objects.create(name="Overdue ops", event=RuleEvent.TASK_OVERDUE, event_value="operations")
    RuleAction.objects.create(rule=overdue_rule, kind="notify", team_function="operations", message="Late.")
    task = tasks_of(order)["book"]
    scope = scope_for_user(ops_user)
    _overdue(task)
    services.overdue_tasks_escalate()
    services.task_complete(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user)
    services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user, reason="not done")
    _overdue(task)
    services.overdue_tasks_escalate()
    # the lead was escalated to twice (two episodes); the overdue rule runs for both too
    assert Notification.objects.filter(kind="escalated", task_id=task.pk).count() == 2
    assert RuleRun.objects.filter(rule=overdue_rule).count() == 2
