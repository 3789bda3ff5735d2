"""A key date that moves (the cargo cut-off, the ETD) moves the tasks timed from it that are still to do: a scheduled
task opens and is due by the new date; an open task, which someone may be working, stays open and in their list and
is due by the new date; a task due from that date (`due_anchor`), whatever started it, is due by it. Each says so in
its history; an assignee whose task became due earlier is told. Done and cancelled tasks are left as they are."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order
from partners.scoping import scope_for_user
from workflows import services
from workflows.models import Notification, Task, TaskState
from workflows.services.task_changes import close_tasks

from .conftest import definition, tasks_of

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)
CUTOFF = datetime.datetime(2026, 3, 13, 9, 0, tzinfo=BERLIN)  # Friday
WEDNESDAY_10 = datetime.datetime(2026, 3, 11, 10, 0, tzinfo=BERLIN)  # the VGM task opened at 09:00, due 17:00
VGM = definition("vgm", name="Send the VGM", trigger_kind="date", trigger_state="", date_anchor="cargo_cutoff",
                 date_offset_hours=-48, due_in_hours=Decimal(8))  # fmt: skip


@pytest.fixture
def clock(monkeypatch) -> dict[str, datetime.datetime]:
    """The clock stands where `clock["now"]` says (Monday 2 March 2026, 10:00 in Hamburg to start with)."""
    clock = {"now": MONDAY_10}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"].astimezone(datetime.UTC))
    return clock


def history(task: Task) -> list[tuple[str, str]]:
    return list(Task.objects.get(pk=task.pk).events.order_by("pk").values_list("verb", "detail"))


def move_cutoff(order: Order, at: datetime.datetime) -> list[Task]:
    return services.key_date_record(order_id=order.pk, anchor="cargo_cutoff", at=at)


@pytest.fixture
def vgm_open(make_template, make_order, ops_team, committed, clock) -> tuple[Order, Task]:
    """(order, task): "Send the VGM" opens 48 h before the cargo cut-off (Friday 13 March, 09:00), so on Wednesday
    11 March at 09:00, due 8 business hours later (17:00); it is Wednesday 10:00, and it is open and assigned."""
    make_template("Ocean", [VGM])
    with committed():
        order = make_order(submit=True)
    move_cutoff(order, CUTOFF)
    clock["now"] = WEDNESDAY_10
    with committed():
        assert services.scheduled_tasks_open(now=WEDNESDAY_10) == 1
    task = tasks_of(order)["vgm"]
    assert (task.state, task.due_at) == (TaskState.OPEN, datetime.datetime(2026, 3, 11, 17, 0, tzinfo=BERLIN))
    assert task.assignee is not None
    return order, task


def test_an_open_task_is_due_a_week_later_when_its_cutoff_moves_a_week_later(vgm_open, clock):
    """It stays open, with its assignee and its opening (it opened on Wednesday); its due time follows the date, its
    escalation is cleared (overdue again, it escalates again) and its history says so. Nobody is told: due later,
    nothing is lost by reading it in the history."""
    order, task = vgm_open
    clock["now"] = datetime.datetime(2026, 3, 12, 10, 0, tzinfo=BERLIN)  # Thursday: overdue since Wednesday 17:00
    assert services.overdue_tasks_escalate() == 1
    told = Notification.objects.count()

    moved = move_cutoff(order, CUTOFF + datetime.timedelta(days=7))

    after = Task.objects.get(pk=task.pk)
    assert [t.pk for t in moved] == [task.pk]
    assert (after.state, after.assignee_id, after.available_at) == (TaskState.OPEN, task.assignee_id, task.available_at)
    assert after.due_at == datetime.datetime(2026, 3, 18, 17, 0, tzinfo=BERLIN)  # the new opening + 8 business hours
    assert after.escalated_at is None
    assert history(task)[-1] == (
        "rescheduled",
        "The cargo cut-off moved: it is now due Wed 18 Mar 2026, 17:00 Europe/Berlin, it was due Wed 11 Mar 2026, "
        "17:00 Europe/Berlin.",
    )
    assert Notification.objects.count() == told


def test_an_overdue_task_due_later_but_still_overdue_is_not_escalated_again(vgm_open, clock):
    """The cut-off slips an hour: the task is due an hour later, still in the past. The same overdue episode: the lead
    was told once and is not told again."""
    order, task = vgm_open
    clock["now"] = datetime.datetime(2026, 3, 12, 10, 0, tzinfo=BERLIN)
    assert services.overdue_tasks_escalate() == 1

    move_cutoff(order, CUTOFF + datetime.timedelta(hours=1))

    after = Task.objects.get(pk=task.pk)
    assert after.due_at == datetime.datetime(2026, 3, 11, 18, 0, tzinfo=BERLIN)
    assert after.escalated_at is not None
    assert history(task)[-1] == (
        "rescheduled",
        "The cargo cut-off moved: it is now due Wed 11 Mar 2026, 18:00 Europe/Berlin, it was due Wed 11 Mar 2026, "
        "17:00 Europe/Berlin.",
    )
    assert services.overdue_tasks_escalate() == 0


def test_an_open_task_is_due_earlier_when_its_cutoff_moves_earlier_and_its_assignee_is_told(vgm_open):
    order, task = vgm_open

    move_cutoff(order, CUTOFF - datetime.timedelta(days=1))

    after = Task.objects.get(pk=task.pk)
    assert (after.state, after.available_at) == (TaskState.OPEN, task.available_at)
    assert after.due_at == datetime.datetime(2026, 3, 10, 17, 0, tzinfo=BERLIN)  # Tuesday 09:00 + 8 business hours
    said = (
        "The cargo cut-off moved: it is now due Tue 10 Mar 2026, 17:00 Europe/Berlin, it was due Wed 11 Mar 2026, "
        "17:00 Europe/Berlin."
    )
    assert history(task)[-1] == ("rescheduled", said)
    notice = Notification.objects.filter(task=task).latest("pk")
    assert (notice.recipient_id, notice.kind, notice.title, notice.body) == (
        task.assignee_id, "assigned", f"Due earlier: Send the VGM · {order.reference}", said
    )  # fmt: skip
    assert services.overdue_tasks_escalate(now=WEDNESDAY_10) == 1  # overdue since Tuesday


def test_an_estimate_that_keeps_coming_earlier_leaves_one_unread_notice_brought_up_to_date(vgm_open):
    """Two moves earlier before the assignee reads the first notice: one notice, saying the latest due time; once
    read, the next move earlier is a new notice."""
    order, task = vgm_open

    move_cutoff(order, CUTOFF - datetime.timedelta(hours=2))
    move_cutoff(order, CUTOFF - datetime.timedelta(days=1))

    [notice] = Notification.objects.filter(task=task, title__startswith="Due")
    assert notice.title == f"Due earlier: Send the VGM · {order.reference}"
    first_move = next(detail for verb, detail in history(task) if verb == "rescheduled")
    assert notice.body == f"{first_move} Since then it moved again: it is now due Tue 10 Mar 2026, 17:00 Europe/Berlin."
    assert "it was due Wed 11 Mar 2026, 17:00 Europe/Berlin" in notice.body  # what they knew when first told
    services.notifications_mark_read(user=task.assignee)

    move_cutoff(order, CUTOFF - datetime.timedelta(days=1, hours=1))

    assert Notification.objects.filter(task=task, title__startswith="Due").count() == 2


def test_an_open_task_made_after_its_time_counts_its_hours_from_when_it_was_made(
    make_template, make_order, ops_team, committed, clock
):
    """The cut-off was first known on Monday for Tuesday: its time (Sunday) had passed, so it was made open on
    Monday 10:00, due 8 business hours later. The cut-off moving a day later (its time Monday 09:00, still before it
    was made) leaves it due then, as a task made on Monday would be: not earlier because its time moved later. Moved
    three days, it is due 8 business hours after its new time."""
    make_template("Ocean", [VGM])
    with committed():
        order = make_order(submit=True)
    move_cutoff(order, datetime.datetime(2026, 3, 3, 9, 0, tzinfo=BERLIN))
    task = tasks_of(order)["vgm"]
    assert (task.state, task.due_at) == (TaskState.OPEN, datetime.datetime(2026, 3, 2, 18, 0, tzinfo=BERLIN))

    assert move_cutoff(order, datetime.datetime(2026, 3, 4, 9, 0, tzinfo=BERLIN)) == []
    assert Task.objects.get(pk=task.pk).due_at == task.due_at
    assert [verb for verb, _ in history(task)] == []

    move_cutoff(order, datetime.datetime(2026, 3, 6, 9, 0, tzinfo=BERLIN))
    assert Task.objects.get(pk=task.pk).due_at == datetime.datetime(2026, 3, 4, 17, 0, tzinfo=BERLIN)


def test_a_scheduled_task_opens_by_its_new_date_and_its_history_says_so(
    make_template, make_order, ops_team, committed, clock
):
    make_template("Ocean", [VGM])
    with committed():
        order = make_order(submit=True)
    move_cutoff(order, CUTOFF)

    move_cutoff(order, CUTOFF + datetime.timedelta(days=7))

    task = tasks_of(order)["vgm"]
    assert (task.state, task.available_at, task.due_at) == (
        TaskState.SCHEDULED, datetime.datetime(2026, 3, 18, 9, 0, tzinfo=BERLIN),
        datetime.datetime(2026, 3, 18, 17, 0, tzinfo=BERLIN),
    )  # fmt: skip
    assert history(task) == [
        ("rescheduled", "The cargo cut-off moved: it now opens Wed 18 Mar 2026, 09:00 Europe/Berlin (it was to open "
                        "Wed 11 Mar 2026, 09:00 Europe/Berlin), due Wed 18 Mar 2026, 17:00 Europe/Berlin."),
    ]  # fmt: skip
    assert not Notification.objects.filter(task=task).exists()  # opening it tells its assignee


@pytest.fixture
def booking(make_template, make_order, ops_team, committed, clock) -> tuple[Order, Task]:
    """(order, task): "Book the sailing" opens when the order is submitted and is due 72 h before the cargo cut-off,
    which is not known yet: it is open and assigned, with no due time."""
    make_template("Ocean", [
        definition("book", name="Book the sailing", due_anchor="cargo_cutoff", due_in_hours=Decimal(-72),
                   due_in_business_hours=False),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    task = tasks_of(order)["book"]
    assert (task.state, task.due_at) == (TaskState.OPEN, None)
    assert task.assignee is not None
    return order, task


def test_a_task_due_from_a_date_gets_its_due_time_when_the_date_is_known_and_moves_with_it(booking):
    """The assignee is told when it gets a due time and when that comes earlier, not when it goes later."""
    order, task = booking
    told = Notification.objects.filter(task=task)
    assert told.count() == 1  # assigned

    move_cutoff(order, CUTOFF)
    assert Task.objects.get(pk=task.pk).due_at == datetime.datetime(2026, 3, 10, 9, 0, tzinfo=BERLIN)
    known = "The cargo cut-off is known: it is now due Tue 10 Mar 2026, 09:00 Europe/Berlin, it had no due time."
    assert history(task)[-1] == ("rescheduled", known)
    assert told.latest("pk").title == f"Due time set: Book the sailing · {order.reference}"
    services.notifications_mark_read(user=Task.objects.get(pk=task.pk).assignee)  # else the next is folded into it

    move_cutoff(order, CUTOFF + datetime.timedelta(days=7))
    assert Task.objects.get(pk=task.pk).due_at == datetime.datetime(2026, 3, 17, 9, 0, tzinfo=BERLIN)
    assert history(task)[-1] == (
        "rescheduled",
        "The cargo cut-off moved: it is now due Tue 17 Mar 2026, 09:00 Europe/Berlin, it was due Tue 10 Mar 2026, "
        "09:00 Europe/Berlin.",
    )
    assert told.count() == 2

    move_cutoff(order, CUTOFF + datetime.timedelta(days=2))
    assert Task.objects.get(pk=task.pk).due_at == datetime.datetime(2026, 3, 12, 9, 0, tzinfo=BERLIN)
    assert told.count() == 3
    assert told.latest("pk").title == f"Due earlier: Book the sailing · {order.reference}"
    assert Task.objects.get(pk=task.pk).state == TaskState.OPEN


def test_a_scheduled_task_due_from_another_date_keeps_its_opening_and_moves_its_due_time(
    make_template, make_order, ops_team, committed, clock
):
    """Opens 96 h before the ETD, due 24 h before the cargo cut-off: the cut-off moves its due time only."""
    make_template("Ocean", [
        definition("si", name="Send the shipping instructions", trigger_kind="date", trigger_state="",
                   date_anchor="etd", date_offset_hours=-96, due_anchor="cargo_cutoff", due_in_hours=Decimal(-24),
                   due_in_business_hours=False),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    services.key_date_record(order_id=order.pk, anchor="etd", at=datetime.datetime(2026, 3, 16, 9, 0, tzinfo=BERLIN))
    move_cutoff(order, CUTOFF)
    task = tasks_of(order)["si"]
    opens = datetime.datetime(2026, 3, 12, 9, 0, tzinfo=BERLIN)
    assert (task.state, task.available_at, task.due_at) == (TaskState.SCHEDULED, opens, opens)

    move_cutoff(order, CUTOFF + datetime.timedelta(hours=6))

    after = Task.objects.get(pk=task.pk)
    assert (after.state, after.available_at, after.due_at) == (
        TaskState.SCHEDULED, opens, datetime.datetime(2026, 3, 12, 15, 0, tzinfo=BERLIN)
    )  # fmt: skip
    assert history(task)[-1] == (
        "rescheduled",
        "The cargo cut-off moved: it is now due Thu 12 Mar 2026, 15:00 Europe/Berlin, it was due Thu 12 Mar 2026, "
        "09:00 Europe/Berlin.",
    )


def test_done_and_cancelled_tasks_are_not_moved(make_template, make_order, ops_team, ops_user, committed, clock):
    make_template("Ocean", [
        VGM, definition("seal", name="Check the seal", trigger_kind="date", trigger_state="",
                        date_anchor="cargo_cutoff", date_offset_hours=-48),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    move_cutoff(order, CUTOFF)
    clock["now"] = WEDNESDAY_10
    with committed():
        services.scheduled_tasks_open(now=WEDNESDAY_10)
    done, cancelled = tasks_of(order)["vgm"], tasks_of(order)["seal"]
    services.task_complete(task=done, scope=scope_for_user(ops_user), by=ops_user)
    close_tasks([cancelled], state=TaskState.CANCELLED, by=ops_user, now=WEDNESDAY_10, verb="cancelled")
    before = {t.key: (t.state, t.available_at, t.due_at, history(t)) for t in tasks_of(order).values()}
    assert {key: state for key, (state, *_) in before.items()} == {"vgm": TaskState.DONE, "seal": TaskState.CANCELLED}

    assert move_cutoff(order, CUTOFF - datetime.timedelta(days=1)) == []

    assert {t.key: (t.state, t.available_at, t.due_at, history(t)) for t in tasks_of(order).values()} == before


def test_a_key_date_costs_the_same_queries_however_many_tasks_it_moves(
    make_template, make_order, ops_team, ops_user, committed, clock
):
    """Six open tasks timed from the cut-off on one order, one on the other (its five others done): moving the
    cut-off earlier moves each open one, writes its history and tells its assignee, in as many queries."""
    make_template("Ocean", [
        definition(f"t{n}", name=f"Task {n}", trigger_kind="date", trigger_state="", date_anchor="cargo_cutoff",
                   date_offset_hours=-48) for n in range(6)
    ])  # fmt: skip
    with committed():
        few, many = make_order(submit=True), make_order(submit=True)
    for order in (few, many):
        move_cutoff(order, CUTOFF)
    clock["now"] = WEDNESDAY_10
    with committed():
        assert services.scheduled_tasks_open(now=WEDNESDAY_10) == 12
    services.tasks_bulk_complete(
        tasks=list(Task.objects.filter(order=few).exclude(key="t0")), scope=scope_for_user(ops_user), by=ops_user
    )
    counts = {}
    for order in (few, many):
        with CaptureQueriesContext(connection) as queries:
            moved = move_cutoff(order, CUTOFF - datetime.timedelta(days=1))
        counts[len(moved)] = len(queries)
    assert list(counts) == [1, 6]
    assert counts[1] == counts[6]
    assert Notification.objects.filter(title__startswith="Due earlier").count() == 7
