"""A task timed from a date, done before it opened and reopened after its date moved, takes the timing a task of
its definition would have now (task_creation.date_timing), not the one it had when it was done: scheduled for the
new time while that is ahead, open once it has passed, and its history says what moved."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from orders import lifecycle
from orders.models import Order
from partners.scoping import scope_for_user
from workflows import services
from workflows.models import Task, TaskState

from .conftest import definition, tasks_of

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)
CUTOFF = datetime.datetime(2026, 3, 13, 9, 0, tzinfo=BERLIN)  # Friday: the task opens Wednesday 11 March, 09:00


@pytest.fixture
def clock(monkeypatch) -> dict[str, datetime.datetime]:
    """The clock stands where `clock["now"]` says (Monday 2 March 2026, 10:00 in Hamburg to start with)."""
    clock = {"now": MONDAY_10}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"].astimezone(datetime.UTC))
    return clock


@pytest.fixture
def done_early(make_template, make_order, ops_team, ops_user, committed, clock) -> tuple[Order, Task]:
    """(order, task): "Send the VGM" opens 48 h before the cargo cut-off (due 8 business hours after it opens) and
    blocks "confirm"; the cut-off is known, so it is scheduled, and it was done before it opened."""
    make_template("Ocean", [
        definition("vgm", name="Send the VGM", trigger_kind="date", trigger_state="", date_anchor="cargo_cutoff",
                   date_offset_hours=-48, due_in_hours=Decimal(8), blocks=["confirm"]),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    services.key_date_record(order_id=order.pk, anchor="cargo_cutoff", at=CUTOFF)
    task = tasks_of(order)["vgm"]
    assert (task.state, task.available_at) == (TaskState.SCHEDULED, CUTOFF - datetime.timedelta(hours=48))
    services.task_complete(task=task, scope=scope_for_user(ops_user), by=ops_user, note="VGM sent.")
    return order, Task.objects.get(pk=task.pk)


def history(task: Task) -> list[tuple[str, str]]:
    return list(Task.objects.get(pk=task.pk).events.order_by("pk").values_list("verb", "detail"))


def reopen(task: Task, user: Any) -> Task:
    services.task_reopen(task=Task.objects.get(pk=task.pk), scope=scope_for_user(user), by=user, reason="Wrong VGM.")
    return Task.objects.get(pk=task.pk)


def test_a_task_done_early_whose_date_moved_later_is_scheduled_for_the_new_time_when_reopened(
    done_early, ops_user, committed
):
    """The cut-off moved a week later while the task was done: re-timing moves scheduled tasks only, so the done task
    kept Wednesday 11 March, and reopened it waited for that stale time. It is scheduled for the new one, due 8
    business hours after it, as a task made now would be, and the clock opens it then, not before."""
    order, task = done_early
    services.key_date_record(order_id=order.pk, anchor="cargo_cutoff", at=CUTOFF + datetime.timedelta(days=7))
    assert Task.objects.get(pk=task.pk).available_at == task.available_at  # a done task is not moved with its date

    reopened = reopen(task, ops_user)

    opens = datetime.datetime(2026, 3, 18, 9, 0, tzinfo=BERLIN)  # Wednesday 18 March: the new cut-off − 48 h
    due = datetime.datetime(2026, 3, 18, 17, 0, tzinfo=BERLIN)  # 8 business hours later
    assert (reopened.state, reopened.available_at, reopened.due_at) == (TaskState.SCHEDULED, opens, due)
    assert history(task)[-2:] == [
        ("reopened", "Wrong VGM."),
        ("rescheduled", "The cargo cut-off moved while it was done: it now opens Wed 18 Mar 2026, 09:00 Europe/Berlin "
                        "(it was to open Wed 11 Mar 2026, 09:00 Europe/Berlin), due Wed 18 Mar 2026, 17:00 "
                        "Europe/Berlin."),
    ]  # fmt: skip
    assert "Send the VGM" in (lifecycle.blocked_reason(order, "confirm", scope_for_user(ops_user)) or "")
    assert services.scheduled_tasks_open(now=task.available_at) == 0  # the old time opens nothing
    with committed():
        assert services.scheduled_tasks_open(now=opens) == 1
    assert Task.objects.get(pk=task.pk).state == TaskState.OPEN


def test_a_task_done_early_whose_date_moved_later_is_scheduled_again_though_its_old_time_has_passed(
    done_early, ops_user, clock
):
    """Its old opening (Wednesday 11 March) passed while it was done, and the cut-off moved to the 20th: it was
    reopened as open, nine days before a task of its kind opens. It is scheduled for the new time."""
    order, task = done_early
    clock["now"] = datetime.datetime(2026, 3, 12, 10, 0, tzinfo=BERLIN)
    services.key_date_record(order_id=order.pk, anchor="cargo_cutoff", at=CUTOFF + datetime.timedelta(days=7))

    reopened = reopen(task, ops_user)

    assert (reopened.state, reopened.available_at) == (
        TaskState.SCHEDULED, datetime.datetime(2026, 3, 18, 9, 0, tzinfo=BERLIN)
    )  # fmt: skip
    assert history(task)[-1][0] == "rescheduled"


def test_a_task_done_early_whose_date_moved_earlier_into_the_past_is_open_when_reopened(done_early, ops_user):
    """The cut-off came forward to tomorrow: a task of its kind would have opened yesterday, so the reopened task is
    open now, due 8 business hours from now (as a task that opens now), not scheduled for its old Wednesday; its
    history says when its time came. Open, it is in the team's queue, as any task done early and reopened."""
    order, task = done_early
    services.key_date_record(order_id=order.pk, anchor="cargo_cutoff", at=datetime.datetime(2026, 3, 3, 9, 0,
                                                                                           tzinfo=BERLIN))  # fmt: skip

    reopened = reopen(task, ops_user)

    came = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=BERLIN)  # Sunday 1 March: Tuesday's cut-off − 48 h
    due = datetime.datetime(2026, 3, 2, 18, 0, tzinfo=BERLIN)  # now (Monday 10:00) + 8 business hours
    assert (reopened.state, reopened.available_at, reopened.due_at) == (TaskState.OPEN, came, due)
    assert history(task)[-1] == (
        "rescheduled",
        "The cargo cut-off moved while it was done: its time came Sun 1 Mar 2026, 09:00 Europe/Berlin (it was to open "
        "Wed 11 Mar 2026, 09:00 Europe/Berlin), so it is open now, due Mon 2 Mar 2026, 18:00 Europe/Berlin.",
    )
    assert services.task_opening_text(reopened) == "Sun 1 Mar 2026, 09:00 Europe/Berlin"
    services.task_complete(task=reopened, scope=scope_for_user(ops_user), by=ops_user)
    assert Task.objects.get(pk=task.pk).done_before_opening is False  # done after its time came: not "early"


def test_a_task_done_early_whose_date_did_not_move_keeps_its_time_and_says_nothing_more(done_early, ops_user):
    _, task = done_early

    reopened = reopen(task, ops_user)

    assert (reopened.state, reopened.available_at, reopened.due_at) == (
        TaskState.SCHEDULED, task.available_at, task.due_at
    )  # fmt: skip
    assert history(task)[-1] == ("reopened", "Wrong VGM.")
