"""An htmx request whose session ended (expired, or signed out when the password was changed on another device)
sends the whole page to sign-in and back to that page afterwards, instead of a redirect htmx follows and swaps the
sign-in page into the card that asked (oms.middleware.HtmxSignInMiddleware). Review F, defect 3."""

from __future__ import annotations

from urllib.parse import quote

from django.urls import reverse

from tests.tracking.conftest import make_order, ops_scope

__all__ = ["make_order", "ops_scope"]


def test_an_expired_session_sends_the_whole_page_to_sign_in_not_into_the_timeline_card(make_order, client):
    """The portal timeline refreshes its body every 15 s (hx-get ...?part=body, hx-swap outerHTML)."""
    order = make_order()
    page = reverse("tracking_ingest:order_timeline", args=[order.reference])

    response = client.get(
        f"{page}?part=body", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{page}"
    )  # no session: expired

    assert response.status_code == 200  # htmx reads HX-Redirect on a 2xx answer
    assert response["HX-Redirect"] == f"{reverse('login')}?next={quote(page)}"  # the page, not its fragment
    assert response.content == b""
    assert response["Cache-Control"] == "no-store"


def test_an_htmx_post_without_a_session_is_sent_to_sign_in_from_its_page(make_order, client):
    order = make_order()
    page = reverse("portal:tracking_links", args=[order.reference])

    response = client.post(
        reverse("portal:tracking_link_create", args=[order.reference]),
        {"note": "consignee"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{page}",
    )

    assert response["HX-Redirect"] == f"{reverse('login')}?next={quote(page)}"


def test_a_page_on_another_site_is_no_place_to_come_back_to(make_order, client):
    order = make_order()
    response = client.get(
        reverse("tracking_ingest:order_timeline", args=[order.reference]) + "?part=body",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="https://elsewhere.example/phish/",
    )
    assert response["HX-Redirect"] == reverse("login")


def test_a_plain_request_without_a_session_is_still_redirected(make_order, client):
    order = make_order()
    page = reverse("tracking_ingest:order_timeline", args=[order.reference])

    response = client.get(page)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={quote(page)}"
    assert "HX-Redirect" not in response


def test_a_signed_in_htmx_request_is_answered_as_before(make_order, login, customer_a_user):
    order = make_order()
    client = login(customer_a_user)
    response = client.get(
        reverse("tracking_ingest:order_timeline", args=[order.reference]) + "?part=body", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "HX-Redirect" not in response
    assert response.content.decode().lstrip().startswith('<div id="order-timeline-body"')
