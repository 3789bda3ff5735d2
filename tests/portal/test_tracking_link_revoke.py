"""Revoking a tracking link asks first (review D): whoever has the link loses it for good, and one click in the
list revoked it at once."""

from __future__ import annotations

from django.urls import reverse

from portal.links import tracking_link_create, tracking_link_revoke
from tests.tracking.conftest import make_order, ops_scope

__all__ = ["make_order", "ops_scope"]


def test_the_list_leads_to_a_page_that_asks_before_revoking(make_order, login, customer_a_user):
    order = make_order()
    link, _token = tracking_link_create(order=order, by=customer_a_user, note="Hanse Lampen")
    client = login(customer_a_user)
    revoke_url = reverse("portal:tracking_link_revoke", args=[order.reference, link.pk])

    listed = client.get(reverse("portal:tracking_links", args=[order.reference])).content.decode()
    assert f'href="{revoke_url}"' in listed

    asked = client.get(revoke_url)
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Hanse Lampen" in page
    assert "cannot be brought back" in page
    assert 'type="submit">Revoke the link</button>' in page
    link.refresh_from_db()
    assert link.revoked_at is None

    assert client.post(revoke_url).status_code == 302
    link.refresh_from_db()
    assert link.revoked_by == customer_a_user


def test_a_link_revoked_already_is_not_offered_again(make_order, login, ops_user):
    order = make_order()
    link, _token = tracking_link_create(order=order, by=ops_user)
    tracking_link_revoke(link=link, by=ops_user)
    page = login(ops_user).get(reverse("portal:tracking_link_revoke", args=[order.reference, link.pk])).content
    assert b"This link no longer opens anything: it was revoked on" in page
    assert b"Revoke the link" not in page


def test_another_customer_cannot_open_the_page(make_order, login, customer_a_user, customer_b_user):
    order = make_order()
    link, _token = tracking_link_create(order=order, by=customer_a_user)
    url = reverse("portal:tracking_link_revoke", args=[order.reference, link.pk])
    assert login(customer_b_user).get(url).status_code == 404
