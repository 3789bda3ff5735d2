"""What people do with tasks: claim, complete, reopen, reassign, comment with @mentions, in bulk; who may
do it; and the team load that least-loaded assignment counts on."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from orders import lifecycle
from partners.scoping import scope_for_user
from workflows import services
from workflows.errors import TaskChangedMeanwhile, TaskNotAllowed, TaskPermissionDenied
from workflows.models import AssignRule, Notification, NotificationPreference, Task, TaskState, TeamMember

from .conftest import definition, force_status, staff, tasks_of


@pytest.fixture
def order(make_template, make_order, ops_team, committed):
    make_template("Ocean", [
        definition("queue", assign_rule=AssignRule.TEAM_QUEUE), definition("mine"), definition("other"),
    ])  # fmt: skip
    with committed():
        return make_order(submit=True)


def load(user) -> int:
    return TeamMember.objects.get(user=user).open_tasks


def test_claiming_takes_a_queued_task_and_counts_it(order, ops2_user):
    task = tasks_of(order)["queue"]
    before = load(ops2_user)
    services.task_claim(task=task, scope=scope_for_user(ops2_user), by=ops2_user)
    task.refresh_from_db()
    assert task.assignee == ops2_user
    assert load(ops2_user) == before + 1
    assert task.events.get().verb == "claimed"


def test_a_task_someone_has_cannot_be_claimed(order, ops_user, ops2_user):
    task = tasks_of(order)["queue"]
    services.task_claim(task=task, scope=scope_for_user(ops_user), by=ops_user)
    with pytest.raises(TaskChangedMeanwhile, match="already has this task"):
        services.task_claim(task=task, scope=scope_for_user(ops2_user), by=ops2_user)


def test_completing_closes_the_task_and_frees_the_load(order, ops_user):
    task = tasks_of(order)["mine"]
    owner = task.assignee
    before = load(owner)
    services.task_complete(task=task, scope=scope_for_user(ops_user), by=ops_user, note="Booked with MSC.")
    task.refresh_from_db()
    assert (task.state, task.completed_by, load(owner)) == (TaskState.DONE, ops_user, before - 1)
    assert task.events.get().detail == "Booked with MSC."


def test_a_stale_page_cannot_complete_a_task_twice(order, ops_user):
    task = tasks_of(order)["mine"]
    scope = scope_for_user(ops_user)
    services.task_complete(task=task, scope=scope, by=ops_user)
    with pytest.raises(TaskChangedMeanwhile):
        services.task_complete(task=task, scope=scope, by=ops_user)  # `task` still says open


def test_reopening_puts_the_task_back_on_its_assignee(order, ops_user):
    task = tasks_of(order)["mine"]
    owner = task.assignee
    scope = scope_for_user(ops_user)
    services.task_complete(task=task, scope=scope, by=ops_user)
    before = load(owner)
    services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user, reason="Wrong booking.")
    task.refresh_from_db()
    assert (task.state, task.completed_at, load(owner)) == (TaskState.OPEN, None, before + 1)


def test_reassigning_moves_the_load_and_tells_the_new_assignee(order, ops_user, ops2_user):
    task = tasks_of(order)["mine"]
    old, new = task.assignee, (ops2_user if task.assignee == ops_user else ops_user)
    old_load, new_load = load(old), load(new)
    services.task_reassign(task=task, scope=scope_for_user(ops_user), by=ops_user, assignee_id=new.pk)
    task.refresh_from_db()
    assert task.assignee == new
    assert (load(old), load(new)) == (old_load - 1, new_load + 1)
    assert Notification.objects.filter(recipient=new, task=task, kind="assigned").exists() == (new != ops_user)


def test_back_to_the_queue_and_only_to_staff(order, ops_user, customer_a_user):
    task = tasks_of(order)["mine"]
    scope = scope_for_user(ops_user)
    services.task_reassign(task=task, scope=scope, by=ops_user, assignee_id=None)
    assert Task.objects.get(pk=task.pk).assignee is None
    with pytest.raises(TaskNotAllowed, match="active OMS staff"):
        services.task_reassign(task=task, scope=scope, by=ops_user, assignee_id=customer_a_user.pk)


def test_only_the_assignee_the_team_its_lead_or_an_admin_may_work_a_task(order, ham, admin_user, finance_user):
    task = tasks_of(order)["mine"]
    with pytest.raises(TaskPermissionDenied, match="Only the assignee, the team and its lead"):
        services.task_complete(task=task, scope=scope_for_user(finance_user), by=finance_user)
    services.task_complete(task=task, scope=scope_for_user(admin_user), by=admin_user)
    assert Task.objects.get(pk=task.pk).state == TaskState.DONE


def test_customers_cannot_work_tasks(order, customer_a_user):
    with pytest.raises(TaskPermissionDenied):
        services.task_complete(task=tasks_of(order)["mine"], scope=scope_for_user(customer_a_user), by=customer_a_user)


def test_a_mention_notifies_the_person_and_emails_them(order, ops_user, ops2_user, ham, committed):
    NotificationPreference.objects.create(user=ops2_user, email_mentioned=True)
    task = tasks_of(order)["mine"]
    mail.outbox.clear()
    with committed():
        services.task_comment(
            task=task, scope=scope_for_user(ops_user), by=ops_user,
            body="@ops2 can you call the shipper? cc @ops@oms.test and @nobody",
        )  # fmt: skip
    mentions = Notification.objects.filter(kind="mentioned")
    assert [n.recipient for n in mentions] == [ops2_user]  # the author is not told about their own mention
    assert "call the shipper" in mentions[0].body
    assert [m.to for m in mail.outbox] == [["ops2@oms.test"]]


def test_an_ambiguous_mention_names_nobody(order, ops_user, ham):
    staff("ops2@other.test", ham)
    services.task_comment(task=tasks_of(order)["mine"], scope=scope_for_user(ops_user), by=ops_user, body="@ops2 ?")
    assert not Notification.objects.filter(kind="mentioned").exists()


def test_mentions_only_reach_staff(order, ops_user, customer_a_user):
    found = services.mentioned_users(f"@{customer_a_user.email} @alice", exclude_id=ops_user.pk)
    assert found == []


def test_an_empty_comment_is_refused(order, ops_user):
    with pytest.raises(TaskNotAllowed, match="Write something"):
        services.task_comment(task=tasks_of(order)["mine"], scope=scope_for_user(ops_user), by=ops_user, body="  ")


def test_bulk_complete_does_what_it_can_and_says_why_for_the_rest(order, ops_user, finance_user):
    tasks = list(tasks_of(order).values())
    services.task_complete(task=tasks[0], scope=scope_for_user(ops_user), by=ops_user)
    result = services.tasks_bulk_complete(tasks=tasks, scope=scope_for_user(ops_user), by=ops_user)
    assert len(result.done) == 2
    assert len(result.problems) == 1
    assert order.reference in result.problems[0]
    assert set(Task.objects.values_list("state", flat=True)) == {TaskState.DONE}


def test_bulk_reassign(order, ops_user, ops2_user):
    tasks = list(tasks_of(order).values())
    result = services.tasks_bulk_reassign(tasks=tasks, scope=scope_for_user(ops_user), by=ops_user,
                                          assignee_id=ops2_user.pk)  # fmt: skip
    assert (len(result.done), result.problems) == (3, [])
    assert set(Task.objects.values_list("assignee", flat=True)) == {ops2_user.pk}
    assert load(ops2_user) == 3


def test_loads_can_be_recounted_from_the_tasks(order, ops_team):
    expected = dict(TeamMember.objects.values_list("user_id", "open_tasks"))
    TeamMember.objects.update(open_tasks=42)
    services.team_loads_recount(team_ids=[ops_team.pk])
    assert dict(TeamMember.objects.values_list("user_id", "open_tasks")) == expected


def test_a_send_stopped_by_the_time_limit_leaves_the_email_to_send_again(ops_user, settings):
    """The claim on a notification's email is undone whatever stops the send (a refused or hung server, the
    task's time limit), so a later run sends it; and a mail server that stops answering times out."""
    from unittest import mock

    from billiard.exceptions import SoftTimeLimitExceeded
    from django.core import mail

    from workflows import tasks
    from workflows.models import Notification, NotificationKind

    assert settings.EMAIL_TIMEOUT == 30
    notification = Notification.objects.create(
        recipient=ops_user, kind=NotificationKind.RULE, title="Customs hold", email_wanted=True
    )
    with (
        mock.patch.object(tasks, "send_mail", side_effect=SoftTimeLimitExceeded()),
        pytest.raises(SoftTimeLimitExceeded),
    ):
        tasks.send_notification_email.apply(args=[notification.pk], throw=True)
    notification.refresh_from_db()
    assert notification.emailed_at is None
    mail.outbox.clear()
    tasks.send_notification_email.apply(args=[notification.pk])  # the message again, or a re-queue
    assert len(mail.outbox) == 1


def test_a_notification_email_links_to_the_site(ops_user, settings):
    """The mail ends with the full address of what it is about (OMS_SITE_URL, as the exception notices), which a
    mail client can open; a bare path ("/tasks/42/") it cannot."""
    from workflows.tasks import send_notification_email

    settings.OMS_SITE_URL = "https://oms.example.com"
    note = Notification.objects.create(
        recipient=ops_user, kind="mentioned", title="Olga mentioned you", body="@ops look", url="/tasks/42/",
        email_wanted=True,
    )  # fmt: skip
    mail.outbox.clear()
    send_notification_email(note.pk)
    (message,) = mail.outbox
    assert message.body == "@ops look\n\nhttps://oms.example.com/tasks/42/"


def test_without_a_site_address_the_email_carries_no_bare_path(ops_user, settings):
    from workflows.tasks import send_notification_email

    settings.OMS_SITE_URL = ""
    note = Notification.objects.create(
        recipient=ops_user, kind="mentioned", title="Olga mentioned you", body="@ops look", url="/tasks/42/",
        email_wanted=True,
    )  # fmt: skip
    mail.outbox.clear()
    send_notification_email(note.pk)
    (message,) = mail.outbox
    assert message.body == "@ops look"


def test_a_scheduled_task_reassigned_before_it_opens_counts_in_the_assignees_load(
    make_template, make_order, ops_team, ops_user, ops2_user, committed
):
    pickup = timezone.localdate() + datetime.timedelta(days=30)
    make_template("Ocean", [
        definition("ready", trigger_kind="date", trigger_state="", date_anchor="requested_pickup",
                   date_offset_hours=-24, due_in_hours=Decimal(4)),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True, requested_pickup_on=pickup.isoformat())
    task = tasks_of(order)["ready"]
    assert task.state == TaskState.SCHEDULED
    services.task_reassign(task=task, scope=scope_for_user(ops_user), by=ops_user, assignee_id=ops2_user.pk)
    before = load(ops2_user)
    with committed():
        assert services.scheduled_tasks_open(now=task.available_at) == 1
    task = tasks_of(order)["ready"]
    assert (task.state, task.assignee) == (TaskState.OPEN, ops2_user)
    assert load(ops2_user) == before + 1


def test_a_scheduled_task_that_blocks_a_step_can_be_done_early(scheduled_blocker, ops_user, ops2_user):
    """Review B, defect 3: the goods left on an earlier sailing than the requested pickup; "Mark departed" said
    "Finish first: Collect shipping instructions and VGM", and that task, scheduled to open in weeks, could not be
    done ("This task is scheduled."): the order was stuck behind work nobody could finish. Those who may work it can
    now do it early; it keeps blocking until then, and its history says it was done before it opened."""
    order, task = scheduled_blocker
    scope = scope_for_user(ops_user)
    assert "Collect shipping instructions and VGM" in (lifecycle.blocked_reason(order, "depart", scope) or "")
    loads = load(ops_user), load(ops2_user)

    services.task_complete(task=task, scope=scope, by=ops_user, note="SI and VGM sent to the line.")

    task.refresh_from_db()
    assert (task.state, task.completed_by, task.done_before_opening) == (TaskState.DONE, ops_user, True)
    [history] = task.events.all()
    assert (history.verb, history.detail) == ("done before opening", "SI and VGM sent to the line.")
    assert lifecycle.blocked_reason(order, "depart", scope) is None
    assert (load(ops_user), load(ops2_user)) == loads  # a scheduled task was in nobody's load
    assert services.scheduled_tasks_open(now=task.available_at) == 0  # it never opens now


def test_a_scheduled_task_done_early_without_a_note_says_when_it_was_to_open(scheduled_blocker, ops_user):
    _, task = scheduled_blocker
    services.task_complete(task=task, scope=scope_for_user(ops_user), by=ops_user)
    berlin = task.available_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    opens = f"{berlin:%a} {berlin.day} {berlin:%b %Y, %H:%M} Europe/Berlin"
    assert task.events.get().detail == f"It was to open {opens}."


def test_a_task_done_early_and_reopened_before_its_time_is_scheduled_again_and_opens_on_time(
    scheduled_blocker, ops_user, ops2_user, committed
):
    """Sixteenth session: a task done before it opened and then reopened went back to open, weeks before its
    time, into the team's queue and the overdue lists as if it had opened. It is scheduled again: out of everyone's
    load, blocking its step again, and the clock opens it when its time comes (to the person it was given to)."""
    order, task = scheduled_blocker
    scope = scope_for_user(ops_user)
    services.task_reassign(task=task, scope=scope, by=ops_user, assignee_id=ops2_user.pk)
    services.task_complete(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user, note="SI sent.")
    loads = load(ops_user), load(ops2_user)

    services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user, reason="Wrong VGM.")

    reopened = Task.objects.get(pk=task.pk)
    assert (reopened.state, reopened.available_at, reopened.assignee) == (TaskState.SCHEDULED, task.available_at,
                                                                          ops2_user)  # fmt: skip
    assert (reopened.completed_at, reopened.completed_by) == (None, None)
    assert (load(ops_user), load(ops2_user)) == loads  # a scheduled task is in nobody's load
    assert "Collect shipping instructions and VGM" in (lifecycle.blocked_reason(order, "depart", scope) or "")
    assert services.scheduled_tasks_open(now=task.available_at - datetime.timedelta(minutes=1)) == 0
    with committed():
        assert services.scheduled_tasks_open(now=task.available_at) == 1
    opened = Task.objects.get(pk=task.pk)
    assert (opened.state, opened.assignee) == (TaskState.OPEN, ops2_user)
    assert load(ops2_user) == loads[1] + 1
    assert list(opened.events.values_list("verb", "detail").order_by("pk"))[-3:] == [
        ("done before opening", "SI sent."), ("reopened", "Wrong VGM."), ("opened", ""),
    ]  # fmt: skip


def test_a_task_done_early_and_reopened_once_its_time_has_passed_is_open(scheduled_blocker, ops_user, monkeypatch):
    _, task = scheduled_blocker
    scope = scope_for_user(ops_user)
    services.task_complete(task=task, scope=scope, by=ops_user)
    later = task.available_at + datetime.timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: later)  # its time has passed (its date stays: it is timed as before)

    services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user)

    assert Task.objects.get(pk=task.pk).state == TaskState.OPEN


def test_a_scheduled_task_reopened_after_its_assignee_left_waits_unassigned_for_its_opening(
    scheduled_blocker, ops_user, ops2_user, committed
):
    """The person it was given to left before it opens: it is not kept for them, and opening assigns it as any."""
    _, task = scheduled_blocker
    scope = scope_for_user(ops_user)
    services.task_reassign(task=task, scope=scope, by=ops_user, assignee_id=ops2_user.pk)
    services.task_complete(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user)
    ops2_user.is_active = False
    ops2_user.save(update_fields=["is_active"])

    services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user)

    reopened = Task.objects.get(pk=task.pk)
    assert (reopened.state, reopened.assignee) == (TaskState.SCHEDULED, None)
    assert reopened.events.order_by("pk").last().detail == (
        "Otto Two is no longer active OMS staff: it is assigned when it opens."
    )
    assert load(ops2_user) == 0
    with committed():
        services.scheduled_tasks_open(now=task.available_at)
    assert Task.objects.get(pk=task.pk).assignee == ops_user  # the team's only active member


def test_only_those_who_may_work_a_scheduled_task_can_do_it_early_and_bulk_complete_agrees(
    scheduled_blocker, ops_user, finance_user
):
    _, task = scheduled_blocker
    refused = services.tasks_bulk_complete(tasks=[task], scope=scope_for_user(finance_user), by=finance_user)
    assert (refused.done, Task.objects.get(pk=task.pk).state) == ([], TaskState.SCHEDULED)
    assert "Only the assignee, the team and its lead" in refused.problems[0]
    done = services.tasks_bulk_complete(tasks=[task], scope=scope_for_user(ops_user), by=ops_user)
    assert (len(done.done), done.problems) == (1, [])
    assert Task.objects.get(pk=task.pk).events.get().verb == "done before opening"


def test_a_task_of_a_closed_order_cannot_be_reopened(order, ops_user):
    scope = scope_for_user(ops_user)
    task = tasks_of(order)["mine"]
    services.task_complete(task=task, scope=scope, by=ops_user)
    force_status(order, "closed")
    # like a cancelled order, a closed one is final (transition_handling._FINAL): nothing reacts to its tasks any more
    with pytest.raises(TaskNotAllowed, match="closed"):
        services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope, by=ops_user, reason="oops")
    assert Task.objects.get(pk=task.pk).state == TaskState.DONE


def test_reopening_someone_elses_task_tells_them_why(order, ops_user, ops2_user):
    """Otto completed his task; the lead reopened it ("the total was wrong"): it was Otto's open task again, in his
    load and his badge, but nobody told him (a cancelled booking that reopens a task does tell its assignee)."""
    task = tasks_of(order)["mine"]
    services.task_reassign(task=task, scope=scope_for_user(ops_user), by=ops_user, assignee_id=ops2_user.pk)
    services.task_complete(task=Task.objects.get(pk=task.pk), scope=scope_for_user(ops2_user), by=ops2_user)
    before = Notification.objects.filter(recipient=ops2_user).count()

    services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope_for_user(ops_user), by=ops_user,
                         reason="The total was wrong.")  # fmt: skip
    task.refresh_from_db()
    assert (task.state, task.assignee) == (TaskState.OPEN, ops2_user)
    assert Notification.objects.filter(recipient=ops2_user).count() == before + 1
    notice = Notification.objects.filter(recipient=ops2_user).first()
    assert (notice.kind, notice.task_id) == ("assigned", task.pk)
    assert notice.body == f"{ops_user} reopened it: The total was wrong."


def test_reopening_ones_own_task_tells_nobody(order, ops_user):
    task = tasks_of(order)["mine"]
    scope = scope_for_user(task.assignee)
    services.task_complete(task=task, scope=scope, by=task.assignee)
    before = Notification.objects.count()
    services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope, by=task.assignee, reason="Not yet.")
    assert Notification.objects.count() == before
