"""Login, logout, password change and reset through the real screens."""

import re

from django.core import mail
from django.urls import reverse

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
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
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
