"""Query guards: a task's page, an order's tasks (page and panel), the notifications and the order in the API cost
as many queries with many tasks, comments, events and notifications as with a few. Each is read with a few rows of
varied content, then with several times more, and must run the same number of queries, under a fixed ceiling for the
larger case (STYLE.md, Tests).

The order and its first tasks come from a published template through the real intake and workflow; the tasks added
after them are written in bulk, in every state, team and assignee mix a desk sees."""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.test import Client
from django.utils import timezone

from partners import services as partner_services
from partners.models import ApiKey, Membership, Role, User
from workflows.models import (
    Notification,
    NotificationKind,
    Task,
    TaskComment,
    TaskEvent,
    TaskState,
    TeamFunction,
)

from .conftest import definition, tasks_of

serial = itertools.count(1)
HX = {"HTTP_HX_REQUEST": "true"}
STATES = [TaskState.OPEN, TaskState.DONE, TaskState.SCHEDULED, TaskState.CANCELLED]
# Each page's ceiling for the larger case: what it ran when these guards were written (it runs the same for the
# few). A page that needs more must say why; more rows never may.
CEILINGS = {
    "task": 14, "order's tasks": 10, "order's tasks panel": 7, "notifications": 5, "API order": 15,
    "API transitions": 13,
}  # fmt: skip


@pytest.fixture
def desk(make_template, make_order, committed, ops_team, docs_team, ham, ops_user):
    """(order, the task whose page is read, `grow(n)`): an order on a two-step template; each step of `grow` adds
    n tasks to the order (every state; the ops or documentation team or none; a person of the branch or nobody;
    some blocking a transition), n comments and events on the task read, and n notifications for the ops person."""
    make_template("Ocean", [
        definition("book", name="Book container space", blocks=["confirm"]),
        definition("docs", name="Check the documents", team_function=TeamFunction.DOCUMENTATION),
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    watched = tasks_of(order)["book"]
    teams = [ops_team, docs_team, None]

    def grow(n: int) -> None:
        numbers = [next(serial) for _ in range(n)]
        people = User.objects.bulk_create(User(email=f"desk{k}@oms.test", full_name=f"Desk {k}") for k in numbers)
        Membership.objects.bulk_create(Membership(user=user, organisation=ham, role=Role.OPERATIONS) for user in people)
        now = timezone.now()
        tasks = Task.objects.bulk_create(
            Task(
                order=order, name=f"Hand task {k}", key=f"hand-{k}", team=teams[k % 3],
                team_function=(TeamFunction.OPERATIONS, TeamFunction.DOCUMENTATION)[k % 2],
                assignee=person if k % 3 else None, state=STATES[k % 4],
                completed_by=person if STATES[k % 4] == TaskState.DONE else None,
                completed_at=now if STATES[k % 4] == TaskState.DONE else None,
                due_at=now + datetime.timedelta(hours=k), available_at=now + datetime.timedelta(hours=k),
                blocks=["plan"] if k % 5 == 0 else [], depends_on=["book"] if k % 2 else [],
                waiting_on=["book"] if k % 2 and STATES[k % 4] == TaskState.OPEN else [],
            )
            for k, person in zip(numbers, people, strict=True)
        )  # fmt: skip
        TaskComment.objects.bulk_create(
            TaskComment(task=watched, author=person, body=f"Comment {k}")
            for k, person in zip(numbers, people, strict=True)
        )
        TaskEvent.objects.bulk_create(
            TaskEvent(task=watched, verb="reassigned", by=person, detail=f"to Desk {k}")
            for k, person in zip(numbers, people, strict=True)
        )
        Notification.objects.bulk_create(
            Notification(recipient=ops_user, kind=NotificationKind.ASSIGNED, title=f"{task.name} on {order.reference}",
                         url=task.get_absolute_url(), task=task, read_at=now if k % 2 else None)
            for k, task in zip(numbers, tasks, strict=True)
        )  # fmt: skip

    return order, watched, grow


def test_the_task_screens_and_the_order_in_the_api_cost_the_same_queries_for_few_and_many_tasks(
    desk, login, ops_user, ham, django_assert_max_num_queries
):
    order, watched, grow = desk
    key, raw = partner_services.api_key_create(organisation=ham, name="BI")
    # The key's note of its last use, written once a minute, is put ahead: a slow run crossing the minute would
    # count that write in one read and not the other, whatever the rows.
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() + datetime.timedelta(hours=1))
    staff, api = login(ops_user), Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    pages = {
        "task": (staff, f"/tasks/{watched.pk}/", {}),
        "order's tasks": (staff, f"/tasks/orders/{order.reference}/", {}),
        "order's tasks panel": (staff, f"/tasks/orders/{order.reference}/", HX),
        "notifications": (staff, "/tasks/notifications/", {}),
        "API order": (api, f"/api/v1/orders/{order.reference}/", {}),
        "API transitions": (api, f"/api/v1/orders/{order.reference}/transitions/", {}),
    }
    grow(3)
    staff.get(f"/tasks/{watched.pk}/")  # warm the session
    api.get(f"/api/v1/orders/{order.reference}/")  # and the key's rate window
    few, many, bodies = {}, {}, {}
    for name, (client, url, headers) in pages.items():
        with django_assert_max_num_queries(CEILINGS[name]) as queries:
            assert client.get(url, **headers).status_code == 200
        few[name] = len(queries)
    grow(9)

    for name, (client, url, headers) in pages.items():
        with django_assert_max_num_queries(CEILINGS[name]) as queries:
            response = client.get(url, **headers)
        many[name], bodies[name] = len(queries), response.content.decode()

    assert many == few
    assert bodies["order's tasks panel"].count("Hand task ") >= 12
    assert bodies["task"].count("Comment ") >= 12
    assert bodies["notifications"].count("Hand task ") >= 12
