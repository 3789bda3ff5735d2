"""The first administrator of a fresh installation (`createsuperuser`, docs/operations.md) belongs to no organisation:
`/` takes them to the console, which says what to set up, instead of the portal's 403 "ask your administrator",
whose "home page" link led back to the same refusal (review H)."""

from __future__ import annotations

import re

from django.core.management import call_command

from partners.models import User
from tests.conftest import _member


def _superuser(monkeypatch) -> User:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long admin password 123")
    call_command("createsuperuser", interactive=False, email="root@3pl.example", verbosity=0)
    return User.objects.get(email="root@3pl.example")


def _lead(response) -> str:
    match = re.search(r'<p class="oms-auth-lead">(.*?)</p>', response.content.decode(), re.S)
    assert match is not None
    return match.group(1)


def test_the_superuser_made_as_operations_md_says_lands_in_the_console_told_what_to_set_up(db, client, monkeypatch):
    client.force_login(_superuser(monkeypatch))

    response = client.get("/", follow=True)

    assert response.status_code == 200
    assert response.redirect_chain == [("/admin/", 302)]
    body = response.content.decode()  # the console's index shows the message
    assert "Your account has no role in an active organisation" in body
    assert "open our company (kind &quot;Our company&quot;; on a new installation, add it first)" in body
    assert "First production setup" in body


def test_a_console_user_in_no_organisation_is_told_to_ask_an_administrator(db, client):
    client.force_login(User.objects.create_user(email="clerk@3pl.example", password="x" * 20, is_staff=True))

    response = client.get("/", follow=True)

    assert response.redirect_chain == [("/admin/", 302)]
    body = response.content.decode()
    assert "Ask an administrator for a role in our company or a branch." in body
    assert "First production setup" not in body


def test_someone_in_no_organisation_without_the_console_still_reads_the_portals_reason(client, outsider):
    client.force_login(outsider)

    response = client.get("/", follow=True)

    assert response.redirect_chain == [("/portal/", 302)]
    assert response.status_code == 403
    assert _lead(response).startswith("Your account does not belong to any organisation yet.")
    assert 'href="/admin/' not in response.content.decode()


def test_staff_and_customers_land_where_they_did(client, ops_user, customer_a_user):
    client.force_login(ops_user)
    assert client.get("/").status_code == 200
    client.force_login(customer_a_user)
    assert client.get("/")["Location"] == "/portal/"


def test_a_superuser_refused_a_screen_is_pointed_to_the_console_not_to_an_administrator(db, client, monkeypatch):
    client.force_login(_superuser(monkeypatch))

    response = client.get("/orders/")

    assert response.status_code == 403
    lead = _lead(response)
    assert lead.startswith("This screen is for OMS staff.")
    assert "ask your administrator" not in lead
    assert "As a superuser, you give your account the role it needs in the console" in lead
    assert 'href="/admin/"' in response.content.decode()


def test_a_console_user_refused_a_screen_gets_a_link_to_the_console(client, branch):
    client.force_login(_member("clerk@oms.test", branch, "sales", is_staff=True))

    response = client.get("/admin/orders/location/add/")

    assert response.status_code == 403
    assert "ask your administrator" in _lead(response)
    assert 'href="/admin/"' in response.content.decode()
