"""A public tracking link's token never reaches the server's log (RELIABILITY.md B6), whatever is asked of its
address: a method other than GET (Django's CSRF check and its 405 log the path, and so the token), an address that
goes on after the token (a link copied with the sentence's full stop: Django's "Not Found: <path>"), and the lines
the console writes for every request (the development server's) or for a failure (a lost database)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from portal.links import tracking_link_create
from tests.tracking.conftest import make_order, ops_scope

__all__ = ["make_order", "ops_scope"]

pytestmark = pytest.mark.usefixtures("fresh_rate_window")


def _private(response) -> None:
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Robots-Tag"].startswith("noindex")


@pytest.fixture
def link(make_order, ops_user) -> str:
    """The token of a live link."""
    _link, token = tracking_link_create(order=make_order(), by=ops_user)
    return token


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_another_method_than_get_is_refused_without_logging_the_token(link, method, caplog):
    browser = Client(enforce_csrf_checks=True)  # as a browser posts: with Django's CSRF check, no token sent
    with caplog.at_level("DEBUG"):
        response = getattr(browser, method)(reverse("public_tracking", args=[link]))
    assert response.status_code == 405
    assert sorted(response["Allow"].split(", ")) == ["GET", "HEAD"]
    _private(response)
    assert link not in caplog.text


@pytest.mark.parametrize("after", [".", ")", "x", "x/y/"])
def test_an_address_going_on_after_the_token_is_not_found_and_not_logged(link, after, client, caplog):
    unknown = client.get(reverse("public_tracking", args=["x" * 43]))
    with caplog.at_level("DEBUG"):
        response = client.get(f"{reverse('public_tracking', args=[link])}{after}")
    assert response.status_code == 404
    assert response.content == unknown.content  # the page of a link that does not exist: no oracle either
    _private(response)
    assert link not in caplog.text


def _console() -> logging.Handler:
    return next(handler for handler in logging.getLogger().handlers if handler.name == "console")


@pytest.mark.parametrize(
    ("logger", "message", "args"),
    [
        ("django.server", '"%s" %s %s', ("GET /t/{token}/ HTTP/1.1", "200", "7136")),
        ("django.request", "Internal Server Error: %s", ("/t/{token}/",)),
        ("oms.database", "Database unavailable during %s %s", ("GET", "/t/{token}/")),
        ("django.server", "%s", ("Referer http://oms.example.com:8000/t/{token}/?x=1",)),
    ],
)
def test_the_console_writes_no_token_of_a_link_address(logger, message, args):
    token = "Tk9" * 14 + "_"
    filled = tuple(arg.format(token=token) for arg in args)
    record = logging.LogRecord(logger, logging.WARNING, __file__, 1, message, filled, None)
    console = _console()
    assert console.filter(record)
    written = console.format(record)
    assert token not in written
    assert "/t/" in written  # still says a tracking link was asked for


def test_the_console_keeps_other_addresses_whole():
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                               ("GET /portal/t/abc/ HTTP/1.1", "404", "10"), None)  # fmt: skip
    console = _console()
    assert console.filter(record)
    assert "/portal/t/abc/" in console.format(record)


def test_a_record_whose_arguments_do_not_fit_is_left_to_the_handler():
    record = logging.LogRecord("oms", logging.INFO, __file__, 1, "%s and %s", ("one",), None)
    assert _console().filter(record)  # logging reports the mistake when it writes it; the filter does not raise
