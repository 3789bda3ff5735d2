"""Query guards: the order exports, the orders API, an order file's pages and the location picker cost as many queries
with many rows as with a few. Each is read with a few rows of varied content, then with several times more, and
must run the same number of queries, under a fixed ceiling for the larger case (STYLE.md, Tests)."""

from __future__ import annotations

import datetime
import io
import itertools
from collections.abc import Callable
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders import identifiers
from orders.models import ImportJob, ImportStatus, Location, Order
from partners.models import ApiKey
from tests.orders.fixtures.imports import csv_bytes, import_file, order_row, world

__all__ = ["world"]

serial = itertools.count(1)


def _read(client: Any, url: str, **headers: Any) -> tuple[Any, bytes]:
    """(response, body) of GET `url`, read to the end (a streamed export runs its queries as it is read)."""
    response = client.get(url, **headers)
    assert response.status_code == 200, url
    return response, b"".join(response.streaming_content) if response.streaming else response.content


def _key(raw: str) -> dict[str, str]:
    """The headers of a call with this API key. The key's note of its last use, written once a minute, is put an hour
    ahead: a slow run crossing the minute would count that write in one read and not the other, whatever the rows."""
    ApiKey.objects.filter(prefix=raw.split("_")[1]).update(last_used_at=timezone.now() + datetime.timedelta(hours=1))
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _container(n: int) -> str:
    body = f"MSKU{n:06d}"
    return body + identifiers.iso6346_check_digit(body)


def _guarded(
    read: Callable[[], Any], grow: Callable[[], Any], ceiling: int, assert_max_num_queries: Any
) -> tuple[int, int, Any]:
    """(queries before `grow`, queries after it, the larger answer): `read` twice, the second under `ceiling`."""
    read()  # warm the session, the key's rate window and the caches
    with assert_max_num_queries(ceiling) as few:
        read()
    grow()
    with assert_max_num_queries(ceiling) as many:
        response = read()
    return len(few), len(many), response


# --- The order list's exports and the orders API -------------------------------------------------------------------


@pytest.fixture
def grow_orders(order_factory, customer_b):
    """`grow_orders(n)`: n more ocean FCL orders of ACME and GLOBEX, drafts and submitted, of one to three lines,
    each line in its own container."""

    def grow(n: int) -> None:
        for _ in range(n):
            k = next(serial)
            lines = [
                {"pieces": 2 + j, "package_type": "PX", "gross_weight_kg": "1200", "volume_m3": "8",
                 "description": f"Goods {k}-{j}", "hs_code": "9405.42", "container_number": _container(3 * k + j),
                 "container_type": "22G1"}
                for j in range(1 + k % 3)
            ]  # fmt: skip
            order_factory(submit=k % 4 != 0, customer_code=("ACME", "GLOBEX")[k % 2], lines=lines)

    return grow


def _csv_rows(response: Any, body: bytes) -> int:
    return body.decode("utf-8-sig").count("\n") - 1  # the header aside


def _xlsx_rows(response: Any, body: bytes) -> int:
    return len(list(openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0].iter_rows())) - 1


def _api_rows(response: Any, body: bytes) -> int:
    return len(response.json()["results"])


# name: (address, the API key fixture or None for the ops person's session, how many orders the answer holds)
LISTS: dict[str, tuple[str, str | None, Callable[[Any, bytes], int]]] = {
    "CSV export": ("/orders/export/csv/", None, _csv_rows),
    "XLSX export": ("/orders/export/xlsx/", None, _xlsx_rows),
    "API list (staff key)": ("/api/v1/orders/", "staff_key", _api_rows),
    "API list (customer key)": ("/api/v1/orders/", "acme_key", _api_rows),
}
# Each page's ceiling for the larger case: what it ran when these guards were written (it runs the same for the
# few). A page that needs more must say why; more rows never may.
LIST_CEILINGS = {"CSV export": 3, "XLSX export": 3, "API list (staff key)": 12, "API list (customer key)": 12}


@pytest.mark.parametrize("page", list(LISTS))
def test_an_order_export_or_api_list_costs_the_same_queries_for_few_and_many_orders(
    page, request, grow_orders, login, ops_user, django_assert_max_num_queries
):
    url, key, rows = LISTS[page]
    if key:
        client, headers = Client(), _key(request.getfixturevalue(key))
    else:
        client, headers = login(ops_user), {}
    grow_orders(3)

    few, many, response = _guarded(
        lambda: _read(client, url, **headers), lambda: grow_orders(9), LIST_CEILINGS[page],
        django_assert_max_num_queries,
    )  # fmt: skip

    assert many == few
    assert rows(*response) >= (6 if key == "acme_key" else 12)


# --- One order in the API ------------------------------------------------------------------------------------------

ORDER_CEILINGS = {"staff_key": 17, "acme_key": 15}


@pytest.mark.parametrize("key", ["staff_key", "acme_key"])
def test_an_order_in_the_api_costs_the_same_queries_with_one_line_or_twelve(
    key, request, order_factory, django_assert_max_num_queries
):
    client, headers = Client(), _key(request.getfixturevalue(key))
    orders = []
    for count in (1, 12):
        lines = [
            {"pieces": 1 + j, "package_type": ("PX", "CT")[j % 2], "gross_weight_kg": "900", "volume_m3": "5",
             "description": f"Goods {j}", "hs_code": "9405.42", "container_number": _container(100 * count + j),
             "container_type": ("22G1", "45G1")[j % 2]}
            for j in range(count)
        ]  # fmt: skip
        orders.append(order_factory(submit=True, lines=lines))
    small, large = (f"/api/v1/orders/{order.reference}/" for order in orders)
    _read(client, small, **headers)  # warm the key's rate window
    with django_assert_max_num_queries(ORDER_CEILINGS[key]) as few:
        _read(client, small, **headers)

    with django_assert_max_num_queries(ORDER_CEILINGS[key]) as many:
        response, _ = _read(client, large, **headers)

    assert len(many) == len(few)
    assert len(response.json()["lines"]) == 12


# --- An order file's pages -----------------------------------------------------------------------------------------


def _job(ops_user: Any, client: Any, size: int, *, confirm: bool) -> ImportJob:
    """A file of `size` valid orders of ACME and GLOBEX and `size` rows with errors, checked (and imported)."""
    rows = []
    for n in range(size):
        k = next(serial)
        customer = ("ACME", "GLOBEX")[n % 2]
        rows += [order_row(f"PO-{k}", customer, pieces=str(1 + n)), order_row(f"BAD-{k}", customer, pieces="0",
                                                                              gross_weight_kg="-1")]  # fmt: skip
    job = import_file(ops_user, csv_bytes(rows), name=f"week-{size}.csv")
    if confirm:
        client.post(reverse("imports:confirm", args=[job.pk]), {"mode": "valid_only"})
        job.refresh_from_db()
        assert job.status == ImportStatus.IMPORTED
    return job


JOB_PAGES = {
    "page": lambda job: job.get_absolute_url(),
    "error file": lambda job: reverse("imports:errors", args=[job.pk]),
    "API": lambda job: f"/api/v1/order-imports/{job.pk}/",
    "console": lambda job: f"/admin/orders/importjob/{job.pk}/change/",
}
JOB_CEILINGS = {
    "checked": {"page": 5, "error file": 4, "API": 11, "console": 6},
    "imported": {"page": 6, "error file": 4, "API": 11, "console": 7},
}


@pytest.mark.parametrize("state", ["checked", "imported"])
def test_an_order_files_pages_cost_the_same_queries_for_3_and_12_orders_and_errors(
    state, world, login, ops_user, admin_user, staff_key, django_assert_max_num_queries
):
    ops = login(ops_user)
    jobs = [_job(ops_user, ops, size, confirm=state == "imported") for size in (3, 12)]
    console = Client()
    console.force_login(admin_user)
    clients = {"page": (ops, {}), "error file": (ops, {}), "console": (console, {}),
               "API": (Client(), _key(staff_key))}  # fmt: skip
    counts = {}
    for page, address in JOB_PAGES.items():
        client, headers = clients[page]
        ceiling = JOB_CEILINGS[state][page]
        _read(client, address(jobs[0]), **headers)  # warm the session and the key's rate window
        with django_assert_max_num_queries(ceiling) as few:
            _read(client, address(jobs[0]), **headers)
        with django_assert_max_num_queries(ceiling) as many:
            _read(client, address(jobs[1]), **headers)
        counts[page] = (len(few), len(many))

    assert {page: many for page, (_, many) in counts.items()} == {page: few for page, (few, _) in counts.items()}
    assert jobs[1].errors.count() >= 12
    assert Order.objects.filter(import_record__job=jobs[1]).count() == (12 if state == "imported" else 0)


# --- The location picker -------------------------------------------------------------------------------------------


def test_the_location_picker_costs_the_same_queries_for_3_and_12_places_found(
    login, ops_user, django_assert_max_num_queries
):
    def add(n: int) -> None:
        Location.objects.bulk_create(
            Location(code=f"ZZQ{letters}", country="ZZ", name=f"Port Quux {letters}", name_ascii=f"Port Quux {letters}")
            for letters in (chr(65 + k // 26 % 26) + chr(65 + k % 26) for k in (next(serial) for _ in range(n)))
        )

    client = login(ops_user)
    add(3)
    few, many, response = _guarded(
        lambda: _read(client, "/orders/locations/?q=quux")[0], lambda: add(9), 4, django_assert_max_num_queries
    )

    assert many == few
    assert len(response.context["locations"]) == 10  # the picker shows the first ten
