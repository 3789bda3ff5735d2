"""SLA escalation: an overdue task tells its team lead once, however often (or how concurrently) the
periodic job runs, and fires the "task overdue" rules once."""

from __future__ import annotations

import datetime
import threading
import zoneinfo

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from oms.templatetags.oms_dates import datetime_text
from workflows import services
from workflows.models import Notification, Rule, RuleAction, RuleEvent, RuleRun, Task, TaskState

from .conftest import definition, tasks_of

LATER = datetime.timedelta(days=30)


@pytest.fixture
def overdue_order(make_template, make_order, ops_team, committed):
    make_template("Ocean", [definition("late"), definition("done"), definition("queue", assign_rule="team_queue")])
    with committed():
        order = make_order(submit=True)
    Task.objects.filter(order=order, key="done").update(state=TaskState.DONE)
    return order


def test_an_overdue_task_tells_the_team_lead_once(overdue_order, ops_user, committed):
    mail.outbox.clear()
    with committed():
        assert services.overdue_tasks_escalate(now=timezone.now() + LATER) == 2  # late and queue; done is done
        assert services.overdue_tasks_escalate(now=timezone.now() + LATER) == 0
    escalations = Notification.objects.filter(kind="escalated")
    assert sorted(n.task.key for n in escalations) == ["late", "queue"]
    assert {n.recipient for n in escalations} == {ops_user}
    assert all(task.escalated_at for task in Task.objects.filter(key__in=["late", "queue"]))
    assert len(mail.outbox) == 2  # leads get escalations by email unless they opt out
    assert "Overdue" in mail.outbox[0].subject


def test_tasks_not_yet_due_are_left_alone(overdue_order):
    assert services.overdue_tasks_escalate(now=timezone.now()) == 0
    assert not Notification.objects.filter(kind="escalated").exists()


def test_a_team_without_a_lead_still_records_the_escalation(overdue_order, ops_team):
    ops_team.lead = None
    ops_team.save()
    assert services.overdue_tasks_escalate(now=timezone.now() + LATER) == 2
    assert not Notification.objects.filter(kind="escalated").exists()
    assert Task.objects.filter(escalated_at__isnull=False).count() == 2


def test_a_lead_who_is_no_longer_staff_is_told_nothing(overdue_order, ops_team, ops_user):
    """A lead who left our staff (here: their membership ended) gets no notice naming our customers' orders; the
    escalation is still recorded."""
    ops_user.memberships.update(is_active=False)
    mail.outbox.clear()
    assert services.overdue_tasks_escalate(now=timezone.now() + LATER) == 2
    assert not Notification.objects.filter(kind="escalated").exists()
    assert mail.outbox == []


def test_task_overdue_rules_fire_once_per_task(overdue_order, docs_user):
    overdue_rule = Rule.objects.create(name="Tell docs", event=RuleEvent.TASK_OVERDUE, event_value="operations")
    RuleAction.objects.create(rule=overdue_rule, kind="notify", user=docs_user, message="Ops is late.")
    services.overdue_tasks_escalate(now=timezone.now() + LATER)
    services.overdue_tasks_escalate(now=timezone.now() + LATER)
    assert RuleRun.objects.filter(rule=overdue_rule).count() == 2
    assert Notification.objects.filter(recipient=docs_user, kind="rule").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_escalation_runs_at_once_escalate_each_task_once(overdue_order):
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            counts.append(services.overdue_tasks_escalate(now=timezone.now() + LATER))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(counts) == 2
    assert Notification.objects.filter(kind="escalated").count() == 2
    assert sorted(tasks_of(overdue_order)) == ["done", "late", "queue"]


def test_escalation_does_not_notify_or_email_a_deactivated_team_lead(make_template, ops_team, make_order, committed):
    make_template("Ocean", [definition("book", name="Book container space")])
    with committed():
        order = make_order(submit=True)
    lead = ops_team.lead
    lead.is_active = False
    lead.save(update_fields=["is_active"])
    Task.objects.filter(pk=tasks_of(order)["book"].pk).update(due_at=timezone.now() - datetime.timedelta(hours=1))
    mail.outbox.clear()
    assert services.overdue_tasks_escalate() == 1  # still escalated (its history says so), but nobody is told
    assert not Notification.objects.filter(kind="escalated", recipient=lead).exists()
    assert [m for m in mail.outbox if lead.email in m.to] == []


def test_the_escalation_gives_the_due_time_in_the_branchs_zone_and_links_to_the_task(
    make_template, ops_team, make_order, ham, committed, settings
):
    """Like the assignment notice ("Due Fri 14 Mar 16:00 (Europe/Berlin)."), not in UTC; the email's link is a
    full address (OMS_SITE_URL), not a bare path."""
    settings.OMS_SITE_URL = "https://oms.example.com"
    make_template("Ocean", [definition("book", name="Book container space")])
    with committed():
        order = make_order(submit=True)
    task = tasks_of(order)["book"]
    Task.objects.filter(pk=task.pk).update(due_at=datetime.datetime(2026, 12, 4, 15, 0, tzinfo=datetime.UTC))
    mail.outbox.clear()
    with committed():
        assert services.overdue_tasks_escalate() == 1
    notice = Notification.objects.get(kind="escalated")
    due = datetime_text(datetime.datetime(2026, 12, 4, 16, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin")), "weekday")
    assert due.startswith("Fri 4 Dec")  # the house style; the year once it is not 2026
    assert due.endswith(", 16:00")
    assert notice.body == f"Assigned to {task.assignee}; it was due {due} (Europe/Berlin)."
    (message,) = mail.outbox
    assert f"https://oms.example.com/tasks/{task.pk}/" in message.body


@pytest.fixture
def customs_task(make_template, make_order, ops_team, committed):
    """HAM has no customs team: the overdue customs task has no team and no assignee."""
    make_template("Ocean", [definition("customs", name="File the export declaration", team_function="customs")])
    with committed():
        order = make_order(submit=True)
    task = tasks_of(order)["customs"]
    assert (task.team_id, task.assignee_id) == (None, None)
    Task.objects.filter(pk=task.pk).update(due_at=timezone.now() - datetime.timedelta(hours=1))
    return task


def test_a_task_of_no_team_escalates_to_the_branchs_operations_lead(customs_task, ops_user, admin_user):
    """Its escalation looked for its team's lead, found no team, and told nobody: the task was in nobody's list
    either."""
    assert services.overdue_tasks_escalate() == 1
    (notice,) = Notification.objects.filter(kind="escalated")
    assert (notice.recipient, notice.task_id) == (ops_user, customs_task.pk)
    assert "No team in HAM does Customs." in notice.body


def test_a_task_of_no_team_escalates_to_the_admins_when_the_branch_has_no_operations_lead(
    customs_task, ops_team, admin_user
):
    ops_team.lead = None
    ops_team.save(update_fields=["lead"])
    assert services.overdue_tasks_escalate() == 1
    assert [n.recipient for n in Notification.objects.filter(kind="escalated")] == [admin_user]
