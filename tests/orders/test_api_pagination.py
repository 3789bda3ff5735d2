"""Cursor pagination of the API's lists (oms.pagination.NewestFirstPagination): the cursor carries the whole sort key
(created_at, id), so walking `next` or `previous` returns every row once, however many share one created_at."""

from __future__ import annotations

import base64
import dataclasses
from urllib import parse

import pytest
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from oms.pagination import NewestFirstPagination
from orders import bulk
from orders.intake import validate_order
from orders.models import Channel, ImportJob, Order
from partners.scoping import scope_for_user
from tests.orders.test_api import LIST_URL, bearer, list_orders, references


def walk(client, key: str, url: str, link: str = "next") -> list[dict]:
    """Every page from `url` on, following `link` until it is null (at most 50 pages: more means a loop)."""
    pages = []
    for _ in range(50):
        response = client.get(url, **bearer(key))
        assert response.status_code == 200, response.json()
        pages.append(response.json())
        url = pages[-1][link]
        if url is None:
            return pages
    pytest.fail(f"the {link} links never end")


@pytest.fixture
def five_orders(order_factory, customer_b) -> None:
    """ACME: PO-1, PO-2 drafts, PO-3 submitted; GLOBEX: PO-4, PO-5; created oldest first."""
    order_factory(customer_reference="PO-1")
    order_factory(customer_reference="PO-2")
    order_factory(customer_reference="PO-3", submit=True)
    order_factory(customer_reference="PO-4", customer_code="GLOBEX")
    order_factory(customer_reference="PO-5", customer_code="GLOBEX")


@pytest.fixture
def one_import(order_data, ops_user) -> list[str]:
    """1,150 ACME orders written by one bulk creation, as an order file is: all with one created_at."""
    scope = scope_for_user(ops_user)
    clean, errors = validate_order(order_data(), scope=scope)
    assert clean is not None, errors
    orders = [
        dataclasses.replace(clean, order={**clean.order, "customer_reference": f"PO-{n:05d}"}) for n in range(1150)
    ]
    bulk.orders_bulk_create(orders=orders, scope=scope, channel=Channel.FILE, by=ops_user, submit=False)
    assert Order.objects.values("created_at").distinct().count() == 1
    return list(Order.objects.order_by("-id").values_list("reference", flat=True))


def test_walking_next_links_returns_every_order_of_one_import_once(client, acme_key, one_import):
    # DRF's cursor carried created_at and an offset capped at 1,000: past 1,000 orders of one import, `next`
    # named the same page again, forever.
    pages = walk(client, acme_key, f"{LIST_URL}?page_size=100")

    seen = [order["reference"] for page in pages for order in page["results"]]
    assert seen == one_import  # newest first: one created_at, so by id, each once
    assert len(pages) == 12


def test_walking_previous_links_back_returns_the_same_pages(client, acme_key, one_import):
    forward = walk(client, acme_key, f"{LIST_URL}?page_size=100")

    backward = walk(client, acme_key, forward[-1]["previous"], link="previous")

    assert [page["results"] for page in backward] == [page["results"] for page in reversed(forward[:-1])]
    assert backward[-1]["results"][0]["reference"] == one_import[0]
    # From a page reached backwards, `next` goes forwards again.
    again = client.get(backward[0]["next"], **bearer(acme_key)).json()
    assert again["results"] == forward[-1]["results"]


def test_previous_links_walk_back_to_the_first_page(client, staff_key, five_orders):
    forward = walk(client, staff_key, f"{LIST_URL}?page_size=2")
    assert [references(page) for page in forward] == [["PO-5", "PO-4"], ["PO-3", "PO-2"], ["PO-1"]]
    assert forward[0]["previous"] is None

    backward = walk(client, staff_key, forward[-1]["previous"], link="previous")

    assert [references(page) for page in backward] == [["PO-3", "PO-2"], ["PO-5", "PO-4"]]


def test_filters_are_kept_by_the_cursor_links(client, staff_key, five_orders):
    pages = walk(client, staff_key, f"{LIST_URL}?customer_code=ACME&status=draft&page_size=1")

    assert [references(page) for page in pages] == [["PO-2"], ["PO-1"]]
    assert "customer_code=ACME" in pages[0]["next"]


def test_a_cursor_past_the_last_order_is_an_empty_page_with_a_way_back(client, staff_key, five_orders):
    oldest = Order.objects.get(customer_reference="PO-1")
    cursor = _cursor(parse.urlencode([("p", oldest.created_at.isoformat()), ("p", oldest.pk)]))

    page = list_orders(client, staff_key, cursor=cursor)

    assert page["results"] == []
    assert page["next"] is None
    assert references(client.get(page["previous"], **bearer(staff_key)).json()) == ["PO-5", "PO-4", "PO-3", "PO-2"]


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "query",
    [
        "p=garbage",  # not a timestamp, and only one column of two
        "p=garbage&p=1",
        "p=2026-11-29T10:15:00.123456%2B00:00&p=one",  # an id that is no number
        "p=2026-11-29T10:15:00&p=1",  # no offset: we never write a cursor without one
        "p=2026-11-29&p=1",
        "o=1000&p=2026-11-29T10:15:00.123456%2B00:00",  # DRF's own cursor: the first column and an offset
        "r=maybe&p=2026-11-29T10:15:00.123456%2B00:00&p=1",
    ],
)
def test_a_tampered_cursor_is_a_404_in_the_error_shape(client, staff_key, five_orders, query):
    response = client.get(LIST_URL, {"cursor": _cursor(query)}, **bearer(staff_key))

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Invalid cursor", "fields": {}}}


def test_the_cursor_pages_rows_keyed_by_uuid_too(customer_a):
    """The order-imports list uses the same class; its jobs have UUID keys, and a file's jobs can share a time."""
    jobs = [ImportJob.objects.create(customer=customer_a, source=Channel.API, file_name=f"f{n}.csv") for n in range(5)]
    ImportJob.objects.update(created_at=timezone.now())
    expected = sorted((job.pk for job in jobs), reverse=True)

    seen: list = []
    url: str | None = "/api/v1/order-imports/?page_size=2"
    while url is not None and len(seen) <= len(jobs):  # more rows than jobs: the links loop
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(ImportJob.objects.all(), Request(APIRequestFactory().get(url)))
        seen += [job.pk for job in page]
        url = paginator.get_next_link()

    assert seen == expected
