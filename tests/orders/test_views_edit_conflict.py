"""The staff edit screen never silently overwrites a colleague's save: the form carries the version it was opened
at, and a save made after someone else's comes back with everything typed, an alert saying who saved when, the
saved value under each field that differs and the current version, so that saving again overwrites knowingly."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import services
from orders.models import Channel, Order
from partners.scoping import scope_for_user
from tests.orders.test_views_entry import form_post, message_texts


@pytest.fixture
def ops(login, ops_user):
    return login(ops_user)


@pytest.fixture
def sales(sales_user) -> Client:
    client = Client()
    client.force_login(sales_user)
    return client


def edit_url(order: Order) -> str:
    return reverse("orders:edit", args=[order.reference])


def hidden_version(page: str) -> str:
    found = re.search(r'<input type="hidden" name="version" value="([^"]*)"', page)
    assert found, "the edit form carries no version"
    return found.group(1)


class _FormReader(HTMLParser):
    """The values a browser would post from the entry form: inputs, textareas and each select's chosen option."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            self.values[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and (self._select not in self.values or "selected" in attrs):
            self.values[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea, self.values[name] = name, ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data.removeprefix("\n") if not self.values[self._textarea] else data


def opened(client: Client, order: Order) -> dict[str, str]:
    """The edit form as a browser opening it would post it (with the version it was opened at)."""
    reader = _FormReader()
    reader.feed(client.get(edit_url(order)).content.decode())
    return reader.values | {"action": "draft"}


def control(page: str, name: str) -> str:
    found = re.search(rf'<(?:input|textarea|select)[^>]*name="{name}"[^>]*>', page)
    assert found, name
    return found.group(0)


def test_the_form_carries_the_version_it_was_opened_at(ops, order_factory):
    order = order_factory()

    page = ops.get(edit_url(order)).content.decode()

    assert hidden_version(page) == services.order_version(order)


def test_the_second_of_two_saves_is_refused_and_both_inputs_are_kept(ops, sales, order_factory, ops_user):
    order = order_factory(customer_reference="PO-9001")
    ops_form, sales_form = opened(ops, order), opened(sales, order)  # both open the same draft
    ops.post(edit_url(order), ops_form | {"consignee_name": "Globex Retail"})

    response = sales.post(edit_url(order), sales_form | {"shipper_name": "Ningbo Sunpower Ltd."})

    assert response.status_code == 409
    saved = Order.objects.get(pk=order.pk)
    assert (saved.consignee_name, saved.shipper_name) == ("Globex Retail", "Shanghai Bright Lighting Co.")
    page = response.content.decode()
    assert 'value="Ningbo Sunpower Ltd."' in control(page, "shipper_name")  # what sales typed is still there
    alert = page[page.index('id="edit-conflict"') : page.index('id="sec-customer"')]
    assert f"{order.reference} was changed while you were editing it" in alert
    assert f"Saved by {ops_user.full_name} ({ops_user.email})" in alert
    assert f'href="{order.get_absolute_url()}" target="_blank" rel="noopener"' in alert
    assert hidden_version(page) == services.order_version(saved)  # the next save is made against it


def test_the_fields_that_differ_show_their_saved_value(ops, sales, order_factory, order_data):
    loose = {
        name: value
        for name, value in order_data()["lines"][0].items()
        if "container" not in name and "seal" not in name
    }
    order = order_factory(customer_reference="PO-9001", lines=[loose])  # no box of its own: it may become LCL
    ops_form, sales_form = opened(ops, order), opened(sales, order)
    ops.post(edit_url(order), ops_form | {"consignee_name": "Globex Retail", "mode": "ocean_lcl"})

    page = sales.post(edit_url(order), sales_form | {"shipper_name": "Ningbo Sunpower Ltd."}).content.decode()

    saved = dict(re.findall(r'id="id_(\w+)_saved">.*?<span class="oms-saved-text">([^<]*)</span>', page))
    assert saved == {
        "consignee_name": "Globex Retail",  # theirs
        "mode": "Ocean LCL",
        "shipper_name": "Shanghai Bright Lighting Co.",  # what sales is about to replace
    }
    assert '<a href="#id_consignee_name">Consignee</a>' in page
    assert 'id="lines-conflict"' not in page  # the cargo is the same


def test_saving_again_after_the_conflict_overwrites_knowingly(ops, sales, order_factory):
    order = order_factory(customer_reference="PO-9001")
    ops_form, sales_form = opened(ops, order), opened(sales, order)
    ops.post(edit_url(order), ops_form | {"consignee_name": "Globex Retail"})
    refused = sales.post(edit_url(order), sales_form | {"shipper_name": "Ningbo Sunpower Ltd."}).content.decode()

    response = sales.post(
        edit_url(order), sales_form | {"shipper_name": "Ningbo Sunpower Ltd.", "version": hidden_version(refused)}
    )

    assert response.status_code == 302
    assert message_texts(response) == [f"{order.reference} saved."]
    saved = Order.objects.get(pk=order.pk)
    assert (saved.shipper_name, saved.consignee_name) == ("Ningbo Sunpower Ltd.", "Acme Industrial")


def test_changed_cargo_lines_are_pointed_out(ops, sales, order_factory):
    order = order_factory(customer_reference="PO-9001")
    ops_form, sales_form = opened(ops, order), opened(sales, order)
    ops.post(edit_url(order), ops_form | {"lines-0-pieces": "25"})

    page = sales.post(edit_url(order), sales_form).content.decode()

    assert 'id="lines-conflict"' in page
    assert '<a href="#sec-cargo">cargo lines</a>' in page
    assert 'value="20"' in control(page, "lines-0-pieces")


def test_the_alert_names_you_when_you_saved_in_another_tab(ops, order_factory):
    order = order_factory(customer_reference="PO-9001")
    first_tab, second_tab = opened(ops, order), opened(ops, order)
    ops.post(edit_url(order), first_tab | {"consignee_name": "Globex Retail"})

    page = ops.post(edit_url(order), second_tab).content.decode()

    assert "Saved by you (in another tab or window)" in page


def test_a_form_with_errors_keeps_the_version_it_was_opened_at(ops, sales, order_factory):
    order = order_factory(customer_reference="PO-9001")
    ops_form, sales_form = opened(ops, order), opened(sales, order)
    ops.post(edit_url(order), ops_form | {"consignee_name": "Globex Retail"})

    response = sales.post(edit_url(order), sales_form | {"origin": "XXZZZ"})

    assert response.status_code == 422  # intake's messages first; the version still says what sales saw
    assert hidden_version(response.content.decode()) == sales_form["version"]
    assert sales.post(edit_url(order), sales_form).status_code == 409


def test_a_form_opened_before_versions_existed_still_saves(ops, order_factory):
    order = order_factory(customer_reference="PO-9001")

    response = ops.post(edit_url(order), form_post(shipper_name="Ningbo Sunpower Ltd."))  # no version field

    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).shipper_name == "Ningbo Sunpower Ltd."


def test_a_draft_submitted_meanwhile_is_still_refused_as_before(ops, sales, order_factory, ops_user):
    order = order_factory(customer_reference="PO-9001")
    sales_form = opened(sales, order)
    services.order_submit(order=order, scope=scope_for_user(ops_user), by=ops_user, channel=Channel.SCREEN)

    response = sales.post(edit_url(order), sales_form)

    assert response.status_code == 302
    assert "only drafts can be edited" in message_texts(response)[0]


def test_a_save_that_finds_no_conflict_costs_no_more_queries_than_one_without_a_version(
    ops, order_factory, django_assert_max_num_queries
):
    """The check reads no history unless the save is refused: the version is on the locked row."""
    order = order_factory(customer_reference="PO-9001")
    unchecked = opened(ops, order)
    del unchecked["version"]
    ops.post(edit_url(order), unchecked)  # warm: the session, the user's memberships
    with CaptureQueriesContext(connection) as without_version:
        ops.post(edit_url(order), unchecked)
    unchecked_queries = len(without_version)  # counted now: the next request clears the connection's log
    checked = opened(ops, order)

    with django_assert_max_num_queries(unchecked_queries):
        response = ops.post(edit_url(order), checked)

    assert response.status_code == 302


def test_the_edit_conflict_names_who_saved_a_draft_that_has_no_cargo_lines_yet(order_data, sales_user, ops_user):
    """Drafts may be saved without cargo lines; who saved was read from the newest cargo-line event only, so a
    conflict on such a draft said "Saved by someone else" (or named an earlier writer of the lines), although the
    alert "says who saved the order and when" (docs/decisions/0002, "Lost updates")."""
    data = order_data(lines=[], shipper_name="", consignee_name="")
    order = services.order_create(data=data, scope=scope_for_user(sales_user), by=sales_user, channel=Channel.SCREEN)
    sales, ops = Client(), Client()
    sales.force_login(sales_user)
    ops.force_login(ops_user)
    sales_form, ops_form = opened(sales, order), opened(ops, order)
    assert ops.post(edit_url(order), ops_form | {"consignee_name": "Rhine Valley Distribution"}).status_code == 302

    response = sales.post(edit_url(order), sales_form | {"shipper_name": "Ningbo Sunpower Ltd."})

    assert response.status_code == 409
    page = response.content.decode()
    alert = page[page.index('id="edit-conflict"') : page.index('id="sec-customer"')]
    assert "someone else" not in alert
    assert f"Saved by {ops_user.full_name} ({ops_user.email})" in alert


def test_the_edit_conflict_names_the_newest_writer_not_an_earlier_writer_of_the_lines(
    order_factory, sales_user, ops_user
):
    order = order_factory()  # its lines were written by ops_user (order_factory)
    services.order_update(
        order=order, data={**services.order_as_data(order), "lines": []}, scope=scope_for_user(ops_user), by=ops_user,
        channel=Channel.SCREEN,
    )  # fmt: skip
    sales = Client()
    sales.force_login(sales_user)
    sales_form = opened(sales, order)
    other = services.order_as_data(Order.objects.get(pk=order.pk)) | {"consignee_name": "Globex Retail"}
    services.order_update(order=order, data=other, scope=scope_for_user(sales_user), by=sales_user,
                          channel=Channel.SCREEN)  # fmt: skip  # sales, in another tab: no cargo line written

    page = sales.post(edit_url(order), sales_form | {"shipper_name": "Ningbo Sunpower Ltd."}).content.decode()

    assert "Saved by you (in another tab or window)" in page
