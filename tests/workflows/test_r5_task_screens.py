"""The task screens as operations people met them in the sixteenth session's walk (1280 px, ops@, docs@, sales@):
words a person reads at a glance, and every time there on a named clock."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import datetime_text
from workflows.models import Notification, Task

from .conftest import definition


@pytest.fixture
def order(make_template, make_order, ops_team, committed):
    """A submitted order with one open task, "Book container space", in the Hamburg operations team."""
    make_template("Ocean", [definition("book", name="Book container space", blocks=["confirm"])])
    with committed():
        return make_order(submit=True)


def test_a_notice_that_came_this_minute_says_just_now_not_zero_minutes_ago(login, ops_user):
    """Walk: a "Due earlier" notice brought up to date a moment ago read "0 minutes ago", which looks like a fault."""
    Notification.objects.create(recipient=ops_user, kind="assigned", title="Due earlier: Send the VGM", url="/tasks/")
    older = Notification.objects.create(recipient=ops_user, kind="mentioned", title="Someone mentioned you", url="/")
    Notification.objects.filter(pk=older.pk).update(created_at=timezone.now() - datetime.timedelta(hours=3))

    page = " ".join(login(ops_user).get(reverse("workflows:notifications")).content.decode().split())

    assert "just now · Task assigned to you" in page
    assert "3 hours ago · You were mentioned" in page
    assert "0 minutes" not in page


def test_the_order_panel_gives_a_scheduled_tasks_exact_opening_on_the_branchs_clock(login, scheduled_blocker, ops_user):
    """Walk: on the order page's Tasks card a scheduled task said only "opens in 25 d", with no exact time even on
    hover, where an open one gives its due time so; it now gives its opening, on the branch's named clock."""
    order, task = scheduled_blocker
    berlin = task.available_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))

    panel = login(ops_user).get(reverse("workflows:order_tasks", args=[order.reference]), HTTP_HX_REQUEST="true")

    assert f'title="Opens {datetime_text(berlin, "weekday")} Europe/Berlin">opens in ' in panel.content.decode()


def test_the_order_panel_leaves_no_empty_gap_for_a_task_nobody_holds(login, scheduled_blocker, ops_user):
    """Walk: a scheduled task of no one read "Documentation   opens in 25 d", an empty slot for its assignee
    widening the gap between its facts; a task's facts are now only those it has."""
    order, _ = scheduled_blocker

    panel = login(ops_user).get(reverse("workflows:order_tasks", args=[order.reference]), HTTP_HX_REQUEST="true")

    assert "<span></span>" not in panel.content.decode()


def test_bulk_complete_with_nothing_ticked_says_to_tick_a_task(login, order, ops_user):
    """Walk: Complete clicked with no task ticked answered "This field is required." (which field?); the form's own
    "Tick at least one task" never showed, as Django refused the empty list before asking it."""
    answer = login(ops_user).post(
        reverse("workflows:bulk"), {"action": "complete", "next": reverse("workflows:team_tasks")}, follow=True
    )

    said = [str(message) for message in answer.context["messages"]]
    assert said == ["Tick at least one task, then choose Complete or Reassign."]
    assert answer.redirect_chain[-1][0] == reverse("workflows:team_tasks")


def test_bulk_reassign_to_someone_no_longer_in_the_list_says_to_pick_again(login, order, ops_user):
    """A list left open while a colleague left the company: "Select a valid choice. 9 is not one of the available
    choices." said nothing a person could act on."""
    task = Task.objects.filter(order=order).first()
    answer = login(ops_user).post(
        reverse("workflows:bulk"), {"action": "reassign", "ids": [task.pk], "assignee": "999999"}, follow=True
    )

    said = [str(message) for message in answer.context["messages"]]
    assert said == ["The person picked cannot take tasks here now; pick someone from the list, or the team queue."]


def test_a_waiting_task_names_what_it_waits_for_without_a_stray_comma(
    login, make_template, make_order, ops_team, committed, ops_user
):
    """Walk (docs@, "Send the pre-alert"): "Waits for Issue the house bill of lading, to be done first." The comma
    came from the order's task list, which had tasks after the one waited for; it now lists only those."""
    make_template("Ocean", [
        definition("hbl", name="Issue the house bill of lading"),
        definition("pre-alert", name="Send the pre-alert", depends_on=["hbl"]),
        definition("later", name="A task after them"),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    waiting = Task.objects.get(order=order, key="pre-alert")
    assert waiting.waiting_on == ["hbl"]
    hbl = Task.objects.get(order=order, key="hbl")

    page = " ".join(login(ops_user).get(reverse("workflows:task_detail", args=[waiting.pk])).content.decode().split())

    link = reverse("workflows:task_detail", args=[hbl.pk])
    assert f'Waits for <a href="{link}">Issue the house bill of lading</a> to be done first.' in page
