"""The order list screen: filters, search, sort links, keyset pager, htmx fragment, query counts."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oms.templatetags.oms_dates import oms_date
from orders.models import Order

LIST = reverse("orders:list")


def references_in(response_or_html) -> list[str]:
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    return re.findall(r'class="oms-code" href="/orders/([A-Z]+-\d+-\d+)/"', html)


@pytest.fixture
def ops(login, ops_user):
    return login(ops_user)


def test_list_shows_the_columns_of_each_order(ops, order_factory):
    order = order_factory(customer_reference="ACM-4711", submit=True)
    response = ops.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    pickup = oms_date(order.requested_pickup_on)  # "1 Dec" this year (docs/architecture.md, dates on screens)
    for text in (order.reference, "ACM-4711", "Ocean FCL", "CNSHA", "DEHAM", pickup, "4,200.5", "Submitted"):
        assert text in page
    assert f'href="{order.get_absolute_url()}"' in page  # rows link to orders:detail
    assert 'href="/orders/new/"' in page  # operations may enter orders


def test_filters_and_search_narrow_the_list(ops, order_factory, customer_b):
    acme = order_factory(customer_reference="ACM-1", submit=True)
    order_factory(customer_reference="ACM-2")
    globex = order_factory(
        customer_code="GLOBEX", customer_reference="GLO-1", consignee_name="Globex Hafen", submit=True
    )
    response = ops.get(LIST, {"status": "submitted", "customer": "ACME"})
    assert references_in(response) == [acme.reference]
    page = response.content.decode()
    assert '<option value="submitted" selected>Submitted</option>' in page  # the filter bar shows the filters
    assert '<option value="ACME" selected>ACME · Acme Industrial</option>' in page
    assert references_in(ops.get(LIST, {"q": "hafen"})) == [globex.reference]


AIR_WAYBILL = {"pieces": 1, "gross_weight_kg": "5", "description": "Parts", "awb_number": "020-12345675"}


@pytest.mark.parametrize(
    "typed", ["020-12345675", "020-1234567 5", "020 1234 5675", "02012345675", "Parts 020-12345675"]
)
def test_search_finds_an_air_waybill_as_people_write_it(ops, order_factory, typed):
    """The order page shows the AWB as 020-1234567 5; pasting that, or a waybill's 020-12345675, finds the order."""
    order = order_factory(mode="air", incoterm="FCA", origin="DEFRA", destination="USCHI", lines=[AIR_WAYBILL])
    order_factory(customer_reference="PO-OTHER")
    assert "020-1234567 5" in ops.get(order.get_absolute_url()).content.decode()

    assert references_in(ops.get(LIST, {"q": typed})) == [order.reference]
    assert order.reference in ops.get(reverse("search"), {"q": typed}).content.decode()  # the global search too


@pytest.mark.parametrize("typed", ["CSQU 305438 3", "csqu-305438-3", "CSQU 3054383", "CSQU3054383"])
def test_search_finds_a_container_number_as_people_write_it(ops, order_factory, typed):
    order = order_factory()  # CSQU3054383 on its line
    order_factory(customer_reference="PO-OTHER", lines=[{"pieces": 1, "gross_weight_kg": "5"}])
    assert references_in(ops.get(LIST, {"q": typed})) == [order.reference]


def test_digits_that_are_no_identifier_are_searched_as_typed(ops, order_factory):
    """A wrong check digit is no AWB: its groups are searched as words (and find nothing here), as before."""
    order_factory(mode="air", incoterm="FCA", origin="DEFRA", destination="USCHI", lines=[AIR_WAYBILL])
    assert references_in(ops.get(LIST, {"q": "020-12345676"})) == []
    assert references_in(ops.get(LIST, {"q": "CSQU 305438 4"})) == []


def test_malformed_filters_are_ignored_not_fatal(ops, order_factory):
    order = order_factory()
    response = ops.get(LIST, {"status": "bogus", "created_from": "yesterday", "page_size": "7", "cursor": "%%%"})
    assert response.status_code == 200
    assert references_in(response) == [order.reference]


def test_htmx_request_gets_the_results_fragment_and_a_tidy_address(ops, order_factory):
    order = order_factory()
    response = ops.get(LIST, {"q": "", "status": "draft", "mode": "", "sort": "-created"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="order-results"')
    assert "<html" not in page
    assert order.reference in page
    assert response["HX-Push-Url"] == "/orders/?status=draft"
    assert "HX-Request" in response["Vary"]


def test_sort_headers_link_to_the_sort_and_flip_it(ops, order_factory):
    order_factory()
    page = ops.get(LIST, {"sort": "reference", "status": "draft"}).content.decode()
    assert 'href="?status=draft&amp;sort=-reference"' in page  # the sorted column flips
    assert 'href="?status=draft&amp;sort=pickup"' in page  # another column starts ascending
    assert 'aria-sort="ascending"' in page


def test_pager_next_and_previous_links(ops, order_factory):
    orders = [order_factory() for _ in range(27)]
    first = ops.get(LIST).content.decode()
    next_link = re.search(r'href="\?([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "cursor" in parse_qs(next_link)
    second = ops.get(f"{LIST}?{next_link}")
    second_refs = references_in(second)
    assert second_refs == [o.reference for o in orders[:2]][::-1]  # the two oldest
    previous_link = re.search(r'href="\?([^"]+)" rel="prev"', second.content.decode()).group(1).replace("&amp;", "&")
    assert references_in(ops.get(f"{LIST}?{previous_link}")) == references_in(first)


def test_export_links_carry_the_filters_but_not_the_cursor(ops, order_factory):
    [order_factory() for _ in range(26)]
    first = ops.get(LIST, {"status": "draft"}).content.decode()
    next_link = re.search(r'href="\?([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    page = ops.get(f"{LIST}?{next_link}").content.decode()
    export = re.search(r'href="(/orders/export/csv/[^"]*)"', page).group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(export).query) == {"status": ["draft"]}


def test_list_queries_do_not_grow_with_page_size(ops, order_factory, django_assert_max_num_queries):
    for _ in range(30):
        order_factory()
    counts = {}
    for size in (25, 100):
        with CaptureQueriesContext(connection) as queries:
            response = ops.get(LIST, {"page_size": size})
        assert len(references_in(response)) == min(size, 30)
        counts[size] = len(queries)
    assert counts[25] == counts[100]
    with django_assert_max_num_queries(counts[25]):
        ops.get(LIST, {"page_size": 100, "q": "lamps", "customer": "ACME"})
    with django_assert_max_num_queries(counts[25]):
        ops.get(LIST, {"page_size": 100, "q": "CSQU 305438 3"})  # an identifier joined as search text holds it
    assert counts[25] <= 5  # session, user with its memberships, filter choices, the page, navigation badges


def test_finance_may_read_the_list_but_gets_no_new_order_button(login, finance_user, order_factory):
    order = order_factory()
    page = login(finance_user).get(LIST).content.decode()
    assert order.reference in page
    assert 'href="/orders/new/"' not in page


def test_empty_list_says_so(ops, locations):
    assert Order.objects.count() == 0
    page = ops.get(LIST, {"mode": "air"}).content.decode()
    assert "No order matches these filters" in page


def test_a_long_customer_reference_cannot_widen_the_table_past_its_card(ops, order_factory):
    """A customer reference of 35 characters truncated only at 14rem (its tooltip holds it whole): at 1440 px the
    customer column grew so wide that the table outgrew its card and the Created column scrolled out of view."""
    order_factory(customer_reference="ACM-PO-2026-NORTHEU-REPLENISHM-0148", submit=True)

    page = ops.get(LIST).content.decode()

    assert '<td class="oms-customer" title="Acme Industrial · ACM-PO-2026-NORTHEU-REPLENISHM-0148">' in page
    styles = (Path(settings.BASE_DIR) / "templates" / "orders" / "_styles.html").read_text()
    cap = re.search(
        r"@media \(min-width: 1400px\) \{ \.oms-order-table \.oms-customer \.oms-sub \{ max-width: ([\d.]+)rem", styles
    )
    assert cap
    assert float(cap.group(1)) <= 10.5, "the customer's second line may take 14rem at 1440 px"
