"""The order page links the tasks each blocked step waits for (`{% blocked_reason order t %}`) at a cost that does not
grow with the steps tasks block: one query for all of them, none when no task blocks a step."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from workflows.models import Task

from .conftest import definition, tasks_of

STEPS = {"confirm": "Check the credit", "hold": "Call the shipper", "cancel": "Ask sales"}


@pytest.fixture
def order(make_template, make_order, ops_team, committed) -> Order:
    """A submitted order whose three steps (confirm, put on hold, cancel) each wait for a task of their own."""
    make_template("Ocean", [
        definition(step, name=name, blocks=[step]) for step, name in STEPS.items()
    ])  # fmt: skip
    with committed():
        return make_order(submit=True)


def blocking_only(order: Order, steps: list[str]) -> None:
    """Leave only the tasks of `steps` blocking."""
    Task.objects.filter(order=order).exclude(key__in=steps).update(blocks=[])


def page(client, order: Order) -> str:
    return " ".join(client.get(reverse("orders:detail", args=[order.reference])).content.decode().split())


def test_the_order_page_costs_the_same_queries_for_one_blocked_step_as_for_three(
    login, order, ops_user, django_assert_max_num_queries
):
    """Sixteenth session's tag read the blocking tasks once per blocked step; the page now reads them once."""
    client = login(ops_user)
    tasks = tasks_of(order)
    page(client, order)  # warm the session and caches
    with django_assert_max_num_queries(20) as three:  # the page as it is; what matters is that it does not grow
        said = page(client, order)
    for step, name in STEPS.items():  # each step links its own task, and only that one
        link = reverse("workflows:task_detail", args=[tasks[step].pk])
        lock = f'id="why-{step}"><i class="bi bi-lock" aria-hidden="true"></i>'
        assert f'{lock} Finish first: <a href="{link}">{name}</a>.' in said

    blocking_only(order, ["confirm"])
    with django_assert_max_num_queries(len(three.captured_queries)) as one:
        said = page(client, order)
    assert said.count("Finish first") == 1
    assert len(one.captured_queries) == len(three.captured_queries)

    blocking_only(order, [])
    with django_assert_max_num_queries(len(one.captured_queries) - 1):  # no task blocks a step: no query for them
        said = page(client, order)
    assert "Finish first" not in said


def test_a_step_many_tasks_block_links_the_three_due_soonest_and_more_as_the_guard_names_them(
    login, make_template, make_order, ops_team, ops_user, committed
):
    """The tag's one read gives each step the tasks the guard names, in its order (soonest due, no due time last) and
    as many: else the "Finish first" it takes out of the reason would not match, and the names would not be links."""
    make_template("Ocean", [definition(f"check-{n}", name=f"Check {n}", blocks=["confirm"]) for n in range(5)])
    with committed():
        order = make_order(submit=True)
    tasks = tasks_of(order)
    soon = timezone.now() + datetime.timedelta(hours=1)
    for n, hours in ((0, None), (1, 4), (2, 1), (3, 3), (4, 2)):
        due = soon + datetime.timedelta(hours=hours) if hours is not None else None
        Task.objects.filter(pk=tasks[f"check-{n}"].pk).update(due_at=due)

    said = page(login(ops_user), order)

    links = ", ".join(
        f'<a href="{reverse("workflows:task_detail", args=[tasks[f"check-{n}"].pk])}">Check {n}</a>' for n in (2, 4, 3)
    )
    assert f"Finish first: {links} and more." in said
