"""What the page a public tracking link opens is made of, for the person the link was sent to.

Before: a valid link showed the lane in a styled <div>, so the page had no <h1> (its "not valid" and "too often"
variants had one) and a screen reader gave it no title; and its own <head> (not components/head.html) left out the
icon every other page names, so each visit asked the server for /favicon.ico, a 404 in the browser's console."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portal.links import tracking_link_create
from tests.tracking.conftest import make_order, ops_scope

__all__ = ["make_order", "ops_scope"]


pytestmark = pytest.mark.usefixtures("fresh_rate_window")


@pytest.fixture
def page(make_order, customer_a_user, client) -> str:
    order = make_order()
    _, token = tracking_link_create(order=order, by=customer_a_user)
    return client.get(reverse("public_tracking", args=[token])).content.decode()


def test_the_lane_is_the_pages_heading(page, make_order):
    assert "oms-public-lane" in page  # the valid page, not the 404
    headings = re.findall(r"<h1\b[^>]*>(.*?)</h1>", page, re.S)
    assert headings == ["Shanghai, CN → Hamburg, DE"]


def test_the_page_names_its_icon_so_no_browser_asks_for_favicon_ico(page, client):
    assert client.get("/favicon.ico").status_code == 404  # what a browser falls back to
    icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="data:image/svg\+xml,[^"]+">', page)
    assert icon, "no <link rel=icon>: browsers fetch /favicon.ico"


def test_every_layout_names_the_same_icon(page, client, login, ops_user):
    """One icon, kept in components/icon.html: the staff layout, the console and the public page name it alike."""
    icon = re.search(r'<link rel="icon"[^>]*>', page).group(0)
    assert icon in login(ops_user).get(reverse("orders:list")).content.decode()
    assert icon in client.get(reverse("admin:login")).content.decode()
