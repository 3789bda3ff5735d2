"""Odd input on the task screens is refused or ignored, never a server error: a Unicode digit in a list
filter, a NUL in a reopen note."""

from __future__ import annotations

import pytest
from django.urls import reverse

from workflows.models import AssignRule, Task, TaskEvent, TaskState

from .conftest import definition, tasks_of


@pytest.fixture
def order(make_template, ops_team, make_order, committed):
    make_template("Ocean", [
        definition("book", name="Book container space"),
        definition("queue", name="Check the cargo list", assign_rule=AssignRule.TEAM_QUEUE),
    ])  # fmt: skip
    with committed():
        return make_order(submit=True)


@pytest.mark.parametrize("name", ["workflows:my_tasks", "workflows:team_tasks"])
@pytest.mark.parametrize("query", [{"assignee": "²"}, {"team": "²"}, {"assignee": "9" * 30}, {"team": "٣"}])
def test_a_non_ascii_or_huge_id_filter_is_ignored(login, order, ops_user, name, query):
    client = login(ops_user)
    unfiltered = list(client.get(reverse(name)).context["page"])
    response = client.get(reverse(name), query)
    assert response.status_code == 200
    assert list(response.context["page"]) == unfiltered


def test_an_ascii_id_filter_still_filters(login, order, ops_user, ops2_user):
    response = login(ops_user).get(reverse("workflows:team_tasks"), {"assignee": str(ops2_user.pk)})
    assert response.status_code == 200
    assert list(response.context["page"]) == []


def test_reopen_with_a_nul_in_the_note_says_why_and_leaves_the_task_done(login, order, ops_user):
    task = tasks_of(order)["book"]
    client = login(ops_user)
    assert client.post(reverse("workflows:task_complete", args=[task.pk])).status_code == 302
    response = client.post(reverse("workflows:task_reopen", args=[task.pk]), {"note": "oops\x00"}, follow=True)
    assert response.status_code == 200
    assert "Null characters are not allowed" in response.content.decode()
    assert Task.objects.get(pk=task.pk).state == TaskState.DONE


def test_reopen_keeps_a_valid_note(login, order, ops_user):
    task = tasks_of(order)["book"]
    client = login(ops_user)
    client.post(reverse("workflows:task_complete", args=[task.pk]))
    client.post(reverse("workflows:task_reopen", args=[task.pk]), {"note": "  missed a document  "})
    assert Task.objects.get(pk=task.pk).state == TaskState.OPEN
    assert TaskEvent.objects.get(task=task, verb="reopened").detail == "missed a document"


@pytest.mark.parametrize("name", ["order", "customer"])
def test_a_task_list_filter_with_a_nul_byte_is_not_a_server_error(login, order, ops_user, name):
    client = login(ops_user)
    client.raise_request_exception = False
    response = client.get(reverse("workflows:my_tasks"), {name: "HAM\x00"})
    assert response.status_code == 200
