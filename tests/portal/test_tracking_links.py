"""Public tracking links (RELIABILITY.md B6): made by staff or the order's customer, shown once, stored hashed;
the page shows only the allowlisted facts; unknown, revoked and expired links are one identical 404; every answer
is no-store, no-referrer and noindex; too many opens from one address are 429 with Retry-After."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import services as order_services
from orders.models import Channel, OrderStatus
from portal.links import tracking_link_create
from portal.models import TrackingLink, token_digest
from tests.tracking.conftest import make_order, ops_scope

__all__ = ["make_order", "ops_scope"]


pytestmark = pytest.mark.usefixtures("fresh_rate_window")


def _token_from(page: str) -> str:
    return re.search(r"/t/([A-Za-z0-9_-]{40,})/", page).group(1)


def _private(response) -> None:
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Robots-Tag"].startswith("noindex")


def test_a_customer_makes_a_link_that_shows_only_the_allowlisted_facts(
    make_order, login, customer_a_user, client, django_assert_max_num_queries
):
    order = make_order(consignee_name="Hanse Lampen KG")
    login(customer_a_user)
    made = client.post(reverse("portal:tracking_link_create", args=[order.reference]), {"note": "for the consignee"})
    assert made.status_code == 200
    token = _token_from(made.content.decode())
    link = TrackingLink.objects.get()
    assert (link.order, link.created_by, link.note) == (order, customer_a_user, "for the consignee")
    assert link.token_digest == token_digest(token)
    assert token not in str(TrackingLink.objects.values_list())  # only the digest is stored
    assert token not in client.get(reverse("portal:tracking_links", args=[order.reference])).content.decode()

    client.logout()
    with django_assert_max_num_queries(14):
        page = client.get(reverse("public_tracking", args=[token]))
    assert page.status_code == 200
    _private(page)
    body = page.content.decode()
    assert "Shanghai" in body
    assert "Hamburg" in body
    for secret in (order.reference, order.customer_reference, "Hanse Lampen", order.customer.name, "ACME",
                   customer_a_user.email, "price", "/orders/", "/admin/"):  # fmt: skip
        assert secret not in body, secret
    link.refresh_from_db()
    assert link.opened_count == 1


def test_unknown_revoked_and_expired_links_are_one_identical_404(make_order, login, ops_user, client):
    order = make_order()
    revoked, revoked_token = tracking_link_create(order=order, by=ops_user)
    expired, expired_token = tracking_link_create(order=order, by=ops_user)
    TrackingLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    login(ops_user).post(reverse("portal:tracking_link_revoke", args=[order.reference, revoked.pk]))
    revoked.refresh_from_db()
    assert revoked.revoked_by == ops_user
    client.logout()

    answers = [client.get(reverse("public_tracking", args=[token])) for token in
               ("x" * 43, revoked_token, expired_token)]  # fmt: skip
    assert {answer.status_code for answer in answers} == {404}
    assert len({answer.content for answer in answers}) == 1
    for answer in answers:
        _private(answer)


def test_a_link_of_a_closed_customer_is_an_unknown_link_until_it_is_open_again(make_order, ops_user, client):
    """A customer organisation made inactive (the contract ended) shares nothing any more: its links answer as an
    unknown one, not revoked (made active again, they work again until they expire)."""
    order = make_order()
    _, token = tracking_link_create(order=order, by=ops_user)
    unknown = client.get(reverse("public_tracking", args=["x" * 43]))
    order.customer.is_active = False
    order.customer.save(update_fields=["is_active"])

    closed = client.get(reverse("public_tracking", args=[token]))

    assert (closed.status_code, closed.content) == (404, unknown.content)
    _private(closed)
    order.customer.is_active = True
    order.customer.save(update_fields=["is_active"])
    assert client.get(reverse("public_tracking", args=[token])).status_code == 200


def test_opening_too_often_from_one_address_is_429_with_retry_after(make_order, ops_user, client, settings):
    settings.OMS_TRACKING_LINK_RATE = 3
    _link, token = tracking_link_create(order=make_order(), by=ops_user)
    codes = [client.get(reverse("public_tracking", args=[token])).status_code for _ in range(3)]
    refused = client.get(reverse("public_tracking", args=["y" * 43]))
    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 61
    _private(refused)
    other = client.get(reverse("public_tracking", args=[token]), REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 200  # another address has its own count


def test_only_staff_and_the_orders_customer_hand_out_links(make_order, login, customer_b_user, carrier_user, client):
    order = make_order()  # ACME's
    login(customer_b_user)
    assert client.get(reverse("portal:tracking_links", args=[order.reference])).status_code == 404
    assert client.post(reverse("portal:tracking_link_create", args=[order.reference])).status_code == 404
    login(carrier_user)
    assert client.post(reverse("portal:tracking_link_create", args=[order.reference])).status_code == 403
    assert not TrackingLink.objects.exists()


def test_staff_reach_the_links_from_the_order_and_the_timeline(make_order, login, ops_user, customer_a_user):
    order = make_order()
    links = reverse("portal:tracking_links", args=[order.reference])
    client = login(ops_user)
    assert links in client.get(order.get_absolute_url()).content.decode()
    assert links in client.get(reverse("tracking_ingest:order_timeline", args=[order.reference])).content.decode()
    made = client.post(reverse("portal:tracking_link_create", args=[order.reference]))
    assert "Copy it now: it is not shown again." in made.content.decode()
    client = login(customer_a_user)
    assert links in client.get(reverse("tracking_ingest:order_timeline", args=[order.reference])).content.decode()


def test_a_404_for_a_link_does_not_log_its_token(client, caplog):
    token = "z" * 43
    with caplog.at_level("WARNING", logger="django.request"):
        assert client.get(reverse("public_tracking", args=[token])).status_code == 404
    assert token not in caplog.text


def _state_on(page: str) -> str:
    return re.search(r"State</div><div class=\"fw-semibold\">([^<]*)<", page).group(1)


def test_a_link_note_with_a_nul_character_is_kept_without_it(make_order, login, customer_a_user):
    """Review F, defect 5: "Who it is for" is pasted from a mail or an ERP; a NUL in it reached PostgreSQL, which
    refuses NUL in text (a 500). It is dropped, as the searches drop it: invisible to whoever pasted it."""
    order = make_order()
    client = login(customer_a_user)
    client.raise_request_exception = False

    response = client.post(reverse("portal:tracking_link_create", args=[order.reference]), {"note": "for\x00 Hanse"})

    assert response.status_code == 200
    assert TrackingLink.objects.get().note == "for Hanse"


def test_the_public_page_does_not_call_an_unsent_draft_booked(
    order_data, ops_user, ops_scope, login, customer_a_user, client
):
    """Review F, defect 7: a customer may share a link for a draft (in her list, its tracking page offers it); the
    page called it "Booked" though it was never sent to us."""
    draft = order_services.order_create(data=order_data(), scope=ops_scope, channel=Channel.SCREEN, by=ops_user)
    assert draft.status == OrderStatus.DRAFT
    _, token = tracking_link_create(order=draft, by=customer_a_user)

    assert _state_on(client.get(reverse("public_tracking", args=[token])).content.decode()) == "Not booked yet"

    order_services.order_transition(order=draft, name="submit", scope=ops_scope, channel=Channel.SCREEN, by=ops_user)
    assert _state_on(client.get(reverse("public_tracking", args=[token])).content.decode()) == "Booked"


def test_making_a_link_after_the_session_expired_leads_back_to_the_links_page(make_order, client, customer_a_user):
    """Review F, defect 6: the POST of an expired session goes to sign-in with this address as `next` (the CSRF
    cookie outlives the session); after signing in the browser GETs it, which answered a blank 405. It leads to the
    links page, where she makes the link again."""
    order = make_order()
    create = reverse("portal:tracking_link_create", args=[order.reference])

    expired = client.post(create, {"note": "for the consignee"})
    assert expired.status_code == 302
    assert expired["Location"].startswith(reverse("login"))
    next_url = expired["Location"].split("next=", 1)[1]

    client.force_login(customer_a_user)  # she signs in again; LoginView sends her to `next`
    back = client.get(next_url, follow=True)

    assert back.redirect_chain == [(reverse("portal:tracking_links", args=[order.reference]), 302)]
    assert back.status_code == 200
    assert "New link" in back.content.decode()
    assert not TrackingLink.objects.exists()  # a GET makes nothing
