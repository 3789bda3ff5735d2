"""The staff order screens and the search box answer odd input with a page, never a 500."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.messages import get_messages

from orders.models import Order, OrderStatus
from tests.orders.test_views_entry import form_post


def cursor_token(sort: str, values: list, direction: str = "next") -> str:
    return base64.urlsafe_b64encode(json.dumps({"s": sort, "d": direction, "k": values}).encode()).decode()


@pytest.mark.parametrize("q", ["\x00", "PO\x00", "HAM-26-000150\x00", "x" * 5000, "²", "٣"])
def test_the_search_box_answers_nul_and_odd_queries_with_a_page(login, ops_user, order_factory, q):
    """NUL reached PostgreSQL in the full-text and reference lookups: a DataError, so a 500."""
    order_factory()
    assert login(ops_user).get("/search/", {"q": q}).status_code == 200


@pytest.mark.parametrize("q", ["\x00", "DE\x00", "x" * 5000])
def test_the_location_picker_answers_nul_with_options(login, ops_user, locations, q):
    assert login(ops_user).get("/orders/locations/", {"q": q}).status_code == 200


@pytest.mark.parametrize(
    "values",
    [
        ["9999-12-31T23:59:59+00:00", 10**30],
        ["0001-01-01T00:00:00+14:00", 1],
        ["9999-12-31T23:59:59-14:00", 1],
        ["2026-01-01T00:00:00+00:00", -(10**30)],
        ["2026-01-01T00:00:00+00:00", 1.5],
    ],
)
def test_cursors_at_the_ends_of_time_and_integers_show_a_page(login, ops_user, order_factory, values):
    order_factory()
    for d in ("next", "prev"):
        r = login(ops_user).get("/orders/", {"cursor": cursor_token("-created", values, d)})
        assert r.status_code == 200


@pytest.mark.parametrize("values", [["0001-01-01", 10**20], ["ACME", "2026-01-01T00:00:00+00:00", 10**20]])
def test_cursors_of_other_sorts_with_huge_ids_show_a_page(login, ops_user, order_factory, values):
    order_factory()
    sort = "pickup" if len(values) == 2 else "customer"
    assert login(ops_user).get("/orders/", {"sort": sort, "cursor": cursor_token(sort, values)}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"created_from": "0001-01-01"},
        {"created_to": "0001-01-01"},
        {"created_from": "9999-12-31", "created_to": "9999-12-30"},
        {"created_from": "2026-02-30"},
        {"page_size": "²"},
        {"page_size": "10000000000000000000000"},
        {"sort": "bogus"},
        {"sort": "\x00"},
        {"customer": "\x00"},
        {"origin": "\x00"},
        {"q": "\x00"},
        {"cursor": "\x00"},
        {"cursor": "x" * 5000},
        {"status": "²"},
    ],
)
@pytest.mark.parametrize("url", ["/orders/", "/orders/export/csv/", "/orders/export/xlsx/"])
def test_the_list_and_its_exports_answer_odd_filters_with_a_page(login, ops_user, order_factory, url, params):
    order_factory()
    assert login(ops_user).get(url, params).status_code == 200


@pytest.mark.parametrize("key", ["²", "٣", "\x00", "9" * 5000, "-1"])
def test_a_cargo_line_row_for_an_odd_key_is_a_row_or_a_404(login, ops_user, key):
    r = login(ops_user).get("/orders/new/line/", {"key": key})
    assert r.status_code in (200, 404)


# Intake's look-ups (Lookups.preload, branch, the hints) took codes holding NUL to PostgreSQL (a DataError, 500) on
# every channel; such a code is unknown without asking.
@pytest.mark.parametrize("name", ["customer_code", "branch_code", "origin"])
def test_a_new_order_with_nul_in_a_looked_up_code_is_the_form_again(login, ops_user, order_data, name):
    assert login(ops_user).post("/orders/new/", form_post(**{name: "\x00"})).status_code == 422


@pytest.mark.parametrize(
    "extra",
    [
        {"version": "\x00"},
        {"version": "x" * 5000},
        {"version": "²"},
        {"action": "\x00"},
        {"lines-٣-pieces": "٣", "lines-٣-gross_weight_kg": "١٠"},
        {"lines-0-pieces": "²"},
        {"lines-0-pieces": "9" * 400},
        {"lines-0-gross_weight_kg": "1e999999"},
        {"requested_pickup_on": "2026-02-30"},
        {"requested_pickup_on": "0001-01-01", "requested_delivery_on": "0001-01-01"},
        {"requested_pickup_on": "9999-12-31", "requested_delivery_on": "9999-12-31"},
        {"requested_pickup_on": "٢٠٢٦-١٢-٠١"},
        {"declared_value": "1" * 500},
        {"declared_value": "²"},
        {"customer_reference": "\x00"},
        {"mode": "\x00"},
        {"customer_reference": "x" * 5000},
    ],
)
@pytest.mark.parametrize("where", ["new", "edit"])
def test_the_entry_form_answers_odd_posts_with_a_form_or_a_redirect(login, ops_user, order_factory, extra, where):
    client = login(ops_user)
    url = "/orders/new/" if where == "new" else f"/orders/{order_factory().reference}/edit/"
    data = form_post()
    data.update(extra)
    assert client.post(url, data).status_code in (200, 302, 409, 422)


@pytest.mark.parametrize(
    "data", [{"seen_status": "\x00"}, {"reason": "\x00"}, {"reason": "x" * 100000}, {"seen_status": "x" * 5000}]
)
@pytest.mark.parametrize("name", ["submit", "cancel", "confirm", "\x00", "²"])
def test_transition_posts_with_odd_values_redirect(login, ops_user, order_factory, data, name):
    order = order_factory(submit=True)
    r = login(ops_user).post(f"/orders/{order.reference}/transition/{name}/", data)
    assert r.status_code in (302, 404)


@pytest.mark.parametrize("path", ["", "edit/", "duplicate/", "transition/submit/"])
def test_order_pages_answer_other_methods_with_405(login, ops_user, order_factory, path):
    order = order_factory()
    client = login(ops_user)
    assert client.get(f"/orders/{order.reference}/{path}").status_code in (200, 302, 405)
    assert client.generic("TRACE", f"/orders/{order.reference}/{path}").status_code == 405


def test_a_reason_holding_nul_is_refused_with_a_message_and_changes_nothing(login, ops_user, order_factory):
    """The reason went to the transition row as posted; PostgreSQL refused the NUL (a 500)."""
    order = order_factory(submit=True)
    client = login(ops_user)
    response = client.post(f"/orders/{order.reference}/transition/cancel/", {"reason": "late\x00"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert any("Null characters" in str(m) for m in get_messages(response.wsgi_request))


def test_a_clean_reason_still_cancels(login, ops_user, order_factory):
    order = order_factory(submit=True)
    login(ops_user).post(f"/orders/{order.reference}/transition/cancel/", {"reason": " Customer withdrew "})
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "Customer withdrew")


def test_a_double_submitted_new_order_form_makes_one_order(login, ops_user, order_data):
    """The second identical POST (a double click, a resubmitted page) is refused on the customer reference."""
    client = login(ops_user)
    first = client.post("/orders/new/", form_post(customer_reference="PO-TWICE"))
    second = client.post("/orders/new/", form_post(customer_reference="PO-TWICE"))
    assert (first.status_code, second.status_code) == (302, 422)
    assert Order.objects.filter(customer_reference="PO-TWICE").count() == 1
    assert "already has an order with reference PO-TWICE" in second.content.decode()


@pytest.mark.parametrize("url", ["/orders/", "/orders/export/csv/"])
def test_a_search_holding_nul_still_filters_the_list(login, ops_user, order_factory, url):
    """Django's CharField dropped `q` on a NUL, so the list showed every order as if nothing had been asked."""
    wanted, other = order_factory(customer_reference="PO-WANTED"), order_factory(customer_reference="PO-OTHER")
    body = login(ops_user).get(url, {"q": "PO-WANTED\x00"})
    text = b"".join(body.streaming_content).decode() if body.streaming else body.content.decode()
    assert wanted.reference in text
    assert other.reference not in text
