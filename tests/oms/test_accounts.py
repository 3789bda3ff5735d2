"""Login, logout, password change and reset through the real screens."""

import logging
import re
from typing import cast

import pytest
from django.conf import settings
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse

from oms.signin import lockout_address
from tests.conftest import PASSWORD


def test_login_page_renders(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


def test_staff_log_in_with_email_and_land_on_the_staff_home(client, ops_user):
    response = client.post(reverse("login"), {"username": "OPS@oms.test", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert response.templates[0].name == "oms/home.html"
    assert any(item["label"] == "Organisations" for item in response.context["nav_items"])


def test_customer_logs_in_and_lands_on_the_portal(client, customer_a_user):
    response = client.post(reverse("login"), {"username": "alice@acme.test", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:home")
    assert response.context["portal_organisation"].code == "ACME"


def test_wrong_password_is_refused_with_a_message(client, ops_user):
    response = client.post(reverse("login"), {"username": "ops@oms.test", "password": "wrong"})
    assert response.status_code == 200
    assert "correct email address and password" in response.content.decode()


def test_login_rotates_the_session_key(client, ops_user):
    client.get(reverse("login"))
    client.cookies["sessionid"] = "attacker-chosen"
    client.post(reverse("login"), {"username": "ops@oms.test", "password": PASSWORD})
    assert client.cookies["sessionid"].value != "attacker-chosen"


def test_logout_is_a_post_and_ends_the_session(client, ops_user):
    client.force_login(ops_user)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert client.get(reverse("partners:organisation_list")).status_code == 302


def test_password_change(client, ops_user):
    client.force_login(ops_user)
    new_password = "a much better passphrase 42"
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302
    ops_user.refresh_from_db()
    assert ops_user.check_password(new_password)


def test_password_reset_sends_a_working_link(client, customer_a_user):
    client.post(reverse("password_reset"), {"email": "alice@acme.test"})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", cast(str, mail.outbox[0].body)).group(1)
    form_url = client.get(link).url
    new_password = "another fine passphrase 7"
    client.post(form_url, {"new_password1": new_password, "new_password2": new_password})
    customer_a_user.refresh_from_db()
    assert customer_a_user.check_password(new_password)


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@nowhere.test"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_admin_console_is_branded(client, admin_user):
    client.force_login(admin_user)
    assert "OMS configuration console" in client.get(reverse("admin:index")).content.decode()


def test_staff_home_shows_order_counts_and_newest_orders(client, ops_user, order_data, django_assert_max_num_queries):
    from orders import services
    from partners.scoping import scope_for_user

    order = services.order_create(data=order_data(), scope=scope_for_user(ops_user), by=ops_user, channel="screen")
    client.force_login(ops_user)
    client.get(reverse("home"))
    with django_assert_max_num_queries(12):
        response = client.get(reverse("home"))
    assert order.reference in response.content.decode()
    assert ("draft", "Draft", 1) in response.context["status_counts"]


# --- The sign-in lockout cannot be escaped by another spelling or another address of the same client -----------
# (reviewer's proofs first; the lockout itself is tested in test_relplan_a.py, A4)

ATTACKER = "203.0.113.9"


def _sign_in(client, username, password, address=ATTACKER):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_dotless_i_spelling_of_the_email_does_not_escape_the_lockout(client, customer_a_user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "alice@acme.test", "wrong")
    assert _sign_in(client, "alice@acme.test", PASSWORD).status_code == 429  # locked, as designed

    # PostgreSQL's UPPER() makes "ı" (U+0131) an "I", so email__iexact found alice under "alıce@acme.test" while
    # django-axes (Python's lower() keeps "ı") counted another person with a fresh allowance. Sign-in now matches
    # the lower-cased address exactly, as the lockout counts it: "alıce@acme.test" is nobody, not alice.
    response = _sign_in(client, "al\u0131ce@acme.test", PASSWORD)
    assert response.status_code == 200, "the locked-out account signed in through a Unicode variant of its email"
    assert "correct email address and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_upper_case_spelling_of_the_email_signs_in_and_counts_as_the_same_person(client, customer_a_user):
    assert _sign_in(client, "ALICE@Acme.TEST", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "alice@acme.test", "wrong")
    assert _sign_in(client, "Alice@ACME.test", PASSWORD).status_code == 429


def test_ipv6_addresses_of_one_subnet_share_the_lockout(client, customer_a_user):
    # One IPv6 customer line is a /64 (2^64 addresses): each address of it may not start a fresh allowance.
    for n in range(1, settings.AXES_FAILURE_LIMIT + 1):
        client.post(
            reverse("login"), {"username": "alice@acme.test", "password": "wrong"}, REMOTE_ADDR=f"2001:db8:1:2::{n:x}"
        )
    response = client.post(
        reverse("login"), {"username": "alice@acme.test", "password": PASSWORD}, REMOTE_ADDR="2001:db8:1:2::ff"
    )
    assert response.status_code == 429, "a guesser rotating addresses within one /64 is never locked out"
    assert "_auth_user_id" not in client.session


def test_another_ipv6_subnet_is_not_locked_out(client, customer_a_user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "alice@acme.test", "wrong", "2001:db8:1:2::1")
    assert _sign_in(client, "alice@acme.test", PASSWORD, "2001:db8:1:3::1").status_code == 302


@pytest.mark.parametrize(
    ("remote_addr", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),  # IPv4: the address itself
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # IPv4 written as IPv6 is that IPv4 client, not the ::/64
    ],
)
def test_the_lockout_counts_ipv6_clients_by_their_64_network(remote_addr, counted_as):
    assert lockout_address(RequestFactory().get("/", REMOTE_ADDR=remote_addr)) == counted_as


def test_a_failed_sign_in_from_ipv6_is_logged_with_the_full_address(client, customer_a_user, caplog):
    caplog.set_level(logging.WARNING, logger="oms.signin")
    _sign_in(client, "alice@acme.test", "wrong", "2001:db8:1:2::9")
    [message] = [record.getMessage() for record in caplog.records if record.name == "oms.signin"]
    assert " from 2001:db8:1:2::9 at " in message
