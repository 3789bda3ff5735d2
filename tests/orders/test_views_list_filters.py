"""A filter of the order list narrows the list and its export, or shows that it matches nothing: never is it left
out, which widened both to every order (a deactivated customer's "Orders" link, a pasted search)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

LIST = reverse("orders:list")
CSV = reverse("orders:export", args=["csv"])
SEARCH_MAX_LENGTH = 200  # the search box's maxlength, up to which the list reads a search (orders.forms)


def references_in(response) -> list[str]:
    return re.findall(r'class="oms-code" href="/orders/([A-Z]+-\d+-\d+)/"', response.content.decode())


def exported_references(response) -> list[str]:
    text = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    return [row["reference"] for row in csv.DictReader(io.StringIO(text))]


def selected_option(response, name: str) -> str:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', response.content.decode(), re.S)
    assert select, f"no {name} drop-down"
    chosen = re.search(r'<option value="[^"]*" selected>([^<]*)</option>', select.group(1))
    return chosen.group(1) if chosen else ""


@pytest.fixture
def ops(login, ops_user):
    return login(ops_user)


def test_the_orders_link_of_a_deactivated_customer_lists_and_exports_only_its_orders(ops, order_factory, customer_b):
    """The global search lists a deactivated customer with an "Orders" link; the drop-down offers active customers
    only, and the filter was left out: the list and the CSV held every customer's orders."""
    acme = order_factory()
    globex = order_factory(customer_code="GLOBEX")
    customer_b.is_active = False  # the contract ended; its orders stay
    customer_b.save(update_fields=["is_active"])

    search = ops.get(reverse("search"), {"q": "GLOBEX"}).content.decode()
    assert f"{LIST}?customer=GLOBEX" in search  # how a person gets there

    listed = ops.get(LIST, {"customer": "GLOBEX"})
    assert references_in(listed) == [globex.reference]
    assert selected_option(listed, "customer") == f"GLOBEX · {customer_b.name} (inactive)"  # the filter applied
    exported = exported_references(ops.get(CSV, {"customer": "GLOBEX"}))
    assert acme.reference not in exported
    assert exported == [globex.reference]


def test_a_deactivated_customer_is_not_offered_where_no_filter_names_it(ops, order_factory, customer_b):
    order_factory()
    customer_b.is_active = False
    customer_b.save(update_fields=["is_active"])
    assert "GLOBEX" not in ops.get(LIST).content.decode()  # the drop-down still offers active customers only
    assert "GLOBEX" not in ops.get(reverse("orders:new")).content.decode()  # nor does the entry form


@pytest.mark.parametrize(("name", "noun"), [("customer", "customer"), ("branch", "branch")])
def test_a_code_that_names_no_organisation_matches_no_order_and_says_so(ops, order_factory, name, noun):
    order_factory()
    listed = ops.get(LIST, {name: "nope"})
    assert references_in(listed) == []
    assert "No order matches these filters" in listed.content.decode()
    assert selected_option(listed, name) == f"NOPE · no {noun} has this code"
    assert exported_references(ops.get(CSV, {name: "NOPE"})) == []


def test_a_customer_filter_with_nul_matches_nothing_and_is_no_error(ops, order_factory):
    order_factory()
    assert references_in(ops.get(LIST, {"customer": "ACME\x00X"})) == []
    assert exported_references(ops.get(CSV, {"customer": "ACME\x00X"})) == []


def test_a_search_longer_than_the_box_takes_is_read_up_to_its_length(ops, order_factory):
    """A search longer than 200 characters was left out: a pasted address listed, and exported, every order."""
    order_factory(customer_reference="PO-A")
    order_factory(customer_reference="PO-B")
    pasted = "Nordwind Handel GmbH, Hafenstrasse 12, Lagerhalle 7, Tor 3 " * 4  # 240 characters

    listed = ops.get(LIST, {"q": pasted})

    assert references_in(listed) == []
    assert exported_references(ops.get(CSV, {"q": pasted})) == []
    page = listed.content.decode()
    assert f'maxlength="{SEARCH_MAX_LENGTH}"' in page  # the box takes no more than is read
    assert f'value="{pasted[:SEARCH_MAX_LENGTH].strip()}"' in page  # and shows what was searched


def test_a_long_search_still_finds_by_its_first_words(ops, order_factory):
    wanted = order_factory(customer_reference="PO-LONGSEARCH")
    order_factory(customer_reference="PO-OTHER")
    query = "PO-LONGSEARCH" + " " * 300 + "words beyond the box"
    assert references_in(ops.get(LIST, {"q": query})) == [wanted.reference]
