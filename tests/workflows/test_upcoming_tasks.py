"""Upcoming (due=upcoming on My tasks and My teams): the scheduled tasks, which the open lists leave out, soonest
opening first, each saying when it opens on its branch's named clock; read-only, scoped as its list, paged, and as
many queries for many rows as for a few (decision 0004, "Upcoming")."""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone

from workflows import services
from workflows.models import Task, TaskState

HX = {"HTTP_HX_REQUEST": "true"}
# What the list ran when this guard was written, for a few rows and for many alike.
CEILING = 12


def listed(client, name: str, **query: str) -> list[int]:
    return [task.pk for task in client.get(reverse(name), query).context["page"]]


def scheduled_like(task: Task, *, name: str, opens_in: datetime.timedelta, **fields) -> Task:
    """Another scheduled task on the same order and team, opening `opens_in` from now."""
    opens = timezone.now() + opens_in
    return Task.objects.create(
        order=task.order, name=name, team=task.team, team_function=task.team_function, state=TaskState.SCHEDULED,
        available_at=opens, due_at=opens + datetime.timedelta(hours=8), **fields,
    )  # fmt: skip


def test_upcoming_lists_my_teams_scheduled_tasks_soonest_first_saying_when_each_opens(
    login, scheduled_blocker, ops2_user
):
    """A task timed from a date was in none of the lists: found only from its order."""
    order, later = scheduled_blocker
    sooner = scheduled_like(later, name="Check the booking", opens_in=datetime.timedelta(days=3))
    member = login(ops2_user)
    assert later.pk not in listed(member, "workflows:team_tasks")  # the open list stays open tasks

    response = member.get(reverse("workflows:team_tasks"), {"due": "upcoming"})

    assert [task.pk for task in response.context["page"]] == [sooner.pk, later.pk]
    body = response.content.decode()
    assert services.task_opening_text(Task.objects.select_related("order__branch").get(pk=later.pk)) in body
    assert "opens in 3 d" in body
    assert order.reference in body
    assert "Not assigned yet" in body
    assert "blocks depart" in body


def test_upcoming_is_read_only(login, scheduled_blocker, ops2_user):
    """No tick boxes, no Complete or Reassign, no Claim: a scheduled task is done early from its page only, where
    the history says it was done before it opened."""
    _, task = scheduled_blocker
    body = login(ops2_user).get(reverse("workflows:team_tasks"), {"due": "upcoming"}).content.decode()
    assert f"/tasks/{task.pk}/" in body
    assert 'id="bulk-form"' not in body
    assert 'name="ids"' not in body
    assert "Claim" not in body
    assert "Mark it done from its page" in body


def test_a_task_done_early_and_reopened_is_in_its_assignees_upcoming(login, scheduled_blocker, ops_user, ops2_user):
    """Done early, then reopened before its time: scheduled again, still the assignee's, and in no open list."""
    _, task = scheduled_blocker
    lead = login(ops_user)
    lead.post(reverse("workflows:task_reassign", args=[task.pk]), {"assignee": ops2_user.pk})
    lead.post(reverse("workflows:task_complete", args=[task.pk]))
    lead.post(reverse("workflows:task_reopen", args=[task.pk]), {"note": "The VGM was wrong"})
    task.refresh_from_db()
    assert (task.state, task.assignee_id) == (TaskState.SCHEDULED, ops2_user.pk)

    person = login(ops2_user)
    assert listed(person, "workflows:my_tasks") == []
    assert listed(person, "workflows:my_tasks", due="upcoming") == [task.pk]
    body = person.get(reverse("workflows:my_tasks"), {"due": "upcoming"}).content.decode()
    assert ops2_user.get_full_name() in body


def test_upcoming_is_scoped_as_its_list(login, scheduled_blocker, sales_team, sales_user, docs_user, ops_user):
    """A sales person does not see the operations team's scheduled work, as they do not see its open work; Mine
    holds only the person's own."""
    _, task = scheduled_blocker
    sales = login(sales_user)
    assert task.pk not in listed(sales, "workflows:team_tasks")
    assert listed(sales, "workflows:team_tasks", due="upcoming") == []
    assert (
        "Nothing scheduled in your teams"
        in sales.get(reverse("workflows:team_tasks"), {"due": "upcoming"}).content.decode()
    )
    assert listed(login(ops_user), "workflows:my_tasks", due="upcoming") == []
    assert listed(login(docs_user), "workflows:team_tasks", due="upcoming") == []


def test_upcoming_filters_and_htmx_fragment(login, scheduled_blocker, ops2_user):
    order, task = scheduled_blocker
    member = login(ops2_user)
    assert listed(member, "workflows:team_tasks", due="upcoming", order=order.reference[-4:]) == [task.pk]
    assert listed(member, "workflows:team_tasks", due="upcoming", order="NO-SUCH") == []
    assert listed(member, "workflows:team_tasks", due="upcoming", assignee="none") == [task.pk]
    response = member.get(reverse("workflows:team_tasks"), {"due": "upcoming"}, **HX)
    body = response.content.decode()
    assert 'id="task-results"' in body
    assert "<html" not in body
    assert services.task_opening_text(Task.objects.select_related("order__branch").get(pk=task.pk)) in body


def test_upcoming_is_paged(login, scheduled_blocker, ops2_user):
    _, task = scheduled_blocker
    for k in range(55):
        scheduled_like(task, name=f"Later task {k}", opens_in=datetime.timedelta(days=1, hours=k))
    member = login(ops2_user)
    first = member.get(reverse("workflows:team_tasks"), {"due": "upcoming"})
    second = member.get(reverse("workflows:team_tasks"), {"due": "upcoming", "page": "2"})
    assert first.context["page"].paginator.count == 56
    assert [t.name for t in first.context["page"]][:2] == ["Later task 0", "Later task 1"]
    assert [t.pk for t in second.context["page"]][-1] == task.pk  # 40 days ahead: the last to open
    assert "?due=upcoming&page=2" in first.content.decode()


def test_upcoming_costs_the_same_queries_for_few_and_many_tasks(
    login, scheduled_blocker, ops2_user, ops_user, django_assert_max_num_queries
):
    _, task = scheduled_blocker
    member = login(ops2_user)

    def grow(n: int, start: int) -> None:
        for k in range(start, start + n):
            scheduled_like(task, name=f"Hand task {k}", opens_in=datetime.timedelta(hours=k + 1),
                           assignee=ops_user if k % 2 else None, blocks=["depart"] if k % 3 else [])  # fmt: skip

    grow(3, 0)
    member.get(reverse("workflows:team_tasks"), {"due": "upcoming"})  # warm the session
    counts = []
    for n, start in ((0, 0), (12, 3)):
        grow(n, start)
        with django_assert_max_num_queries(CEILING) as queries:
            response = member.get(reverse("workflows:team_tasks"), {"due": "upcoming"})
        counts.append(len(queries))
    assert response.content.decode().count("Hand task ") == 15
    assert counts[0] == counts[1]
