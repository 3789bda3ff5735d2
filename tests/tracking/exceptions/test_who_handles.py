"""Who may acknowledge, take and resolve an exception: operations and admin always, its owner (workflows can
make a sales, documentation or finance person the owner) and the owner's colleagues in the same role; any
staff member may add a note. Others get 403 and the page does not offer them the actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from partners.models import Role
from tests.conftest import _member
from tracking.exceptions.models import ExceptionEntry, ShipmentException
from tracking.exceptions.services import handling

from .conftest import detect

ACTIONS = {"acknowledge": {}, "take": {}, "resolve": {"root_cause": "carrier"}}


@pytest.fixture
def exception(booked_fcl):
    _, master = booked_fcl
    detect(master)
    return ShipmentException.objects.get()


@pytest.fixture
def sales2_user(branch):
    return _member("sales2@oms.test", branch, Role.SALES)


def url(name, exception):
    return reverse(f"tracking_exceptions:{name}", args=[exception.pk])


def own(exception, user):
    handling.exception_assign_owner(exception_id=exception.pk, owner=user)


@pytest.mark.parametrize("name", list(ACTIONS))
@pytest.mark.parametrize("persona", ["sales_user", "finance_user"])
def test_staff_outside_operations_may_not_handle_an_unowned_exception(request, login, exception, persona, name):
    response = login(request.getfixturevalue(persona)).post(url(name, exception), ACTIONS[name])
    assert response.status_code == 403
    exception.refresh_from_db()
    assert exception.status == "open"
    assert exception.owner_id is None


@pytest.mark.parametrize("name", list(ACTIONS))
def test_another_roles_staff_may_not_handle_someone_elses_exception(login, exception, sales_user, finance_user, name):
    own(exception, sales_user)
    assert login(finance_user).post(url(name, exception), ACTIONS[name]).status_code == 403
    exception.refresh_from_db()
    assert exception.status == "open"
    assert exception.owner == sales_user


@pytest.mark.parametrize("persona", ["sales_user", "sales2_user"])
def test_the_owner_and_the_owners_team_may_resolve(request, login, exception, sales_user, persona):
    own(exception, sales_user)
    response = login(request.getfixturevalue(persona)).post(url("resolve", exception), ACTIONS["resolve"])
    assert response.status_code == 302
    exception.refresh_from_db()
    assert exception.status == "resolved"


@pytest.mark.parametrize("persona", ["ops_user", "admin_user"])
def test_operations_and_admin_handle_any_exception(request, login, exception, sales_user, persona):
    own(exception, sales_user)
    client = login(request.getfixturevalue(persona))
    assert client.post(url("acknowledge", exception)).status_code == 302
    assert client.post(url("resolve", exception), ACTIONS["resolve"]).status_code == 302
    exception.refresh_from_db()
    assert exception.status == "resolved"


def test_any_staff_member_may_add_a_note(login, exception, finance_user):
    response = login(finance_user).post(url("note_add", exception), {"text": "Payment received today."})
    assert response.status_code == 302
    assert ExceptionEntry.objects.get(verb="noted").text == "Payment received today."


def test_the_page_offers_the_actions_only_to_who_may_take_them(login, exception, sales_user, finance_user, ops_user):
    own(exception, sales_user)
    refused = login(finance_user).get(url("detail", exception))
    assert refused.context["may_handle"] is False
    for action in ("acknowledge", "take", "resolve"):
        assert url(action, exception) not in refused.text
    assert url("note_add", exception) in refused.text
    for user in (sales_user, ops_user):
        page = login(user).get(url("detail", exception))
        assert page.context["may_handle"] is True
        assert url("resolve", exception) in page.text
        assert url("acknowledge", exception) in page.text
