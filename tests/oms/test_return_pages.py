"""Where an action returns (oms.http.page_to_return_to): the `next` it was given when that is a path of ours, else
its own page. A bare word (`tasks`, `today`: a hand-made or cut-off link) passed Django's host check as a relative
address and redirect() then read it as a view name: a 500 after the action was saved (review A)."""

from __future__ import annotations

import pytest

from tests.tracking.conftest import *  # noqa: F403 - make_order
from tracking.services import planning


@pytest.mark.parametrize(
    ("given", "returns_to"),
    [
        ("tasks", "/tasks/"),
        ("0", "/tasks/"),
        ("https://elsewhere.example/tasks/", "/tasks/"),
        ("//elsewhere.example/tasks/", "/tasks/"),
        ("/tasks/team/?state=open", "/tasks/team/?state=open"),
    ],
)
def test_the_tasks_bulk_form_returns_to_a_page_of_ours_or_to_my_tasks(login, ops_user, given, returns_to):
    response = login(ops_user).post("/tasks/bulk/", {"action": "complete", "next": given})

    assert response.status_code == 302
    assert response["Location"] == returns_to


@pytest.mark.parametrize(("given", "returns_to"), [("today", "/planning/today/"), ("/planning/", "/planning/")])
def test_recording_a_departure_returns_to_a_page_of_ours_or_to_today(login, ops_user, make_order, given, returns_to):
    leg = planning.shipment_plan_direct(order=make_order(), by=ops_user).legs.get()

    response = login(ops_user).post(f"/planning/legs/{leg.pk}/actual/", {"kind": "departure", "next": given})

    assert response.status_code == 302
    assert response["Location"] == returns_to
    leg.refresh_from_db()
    assert leg.actual_departure_at is not None  # the action was saved before it returned
