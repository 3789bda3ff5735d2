"""Planning screens show volumes and weights as numbers a planner can trust (walk of 2026-12-07 at 1280 px): a
parcel's 0.039 m³ read "0.0 m³" on the planning list and on its master's totals, the totals rounded to one decimal
did not add up to the houses listed under them, and the order's planning page broke "2,587 kg" over two lines."""

import re

from django.urls import reverse

from tests.tracking.conftest import lcl_line
from tracking.services import consolidation


def _cells(body: str, text: str) -> list[str]:
    """The opening <td …> tags of the cells that hold exactly `text`."""
    return re.findall(rf"(<td[^>]*>){re.escape(text)}</td>", body)


def test_the_planning_list_shows_a_small_volume_to_two_decimals_not_as_zero(login, ops_user, make_order):
    order = make_order(lines=[lcl_line(9, "0.039", pieces=1)])

    body = login(ops_user).get(reverse("tracking:index"), {"branch": "all"}).content.decode()

    assert order.reference in body
    assert _cells(body, "0.04 m³"), "the order's volume is shown to two decimals"
    assert "0.0 m³" not in body


def test_a_masters_volume_total_is_the_sum_of_its_houses_as_listed(login, ops_user, make_order):
    orders = [make_order(lines=[lcl_line(600, "1.75")]), make_order(lines=[lcl_line(700, "2.05")])]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)

    body = login(ops_user).get(master.get_absolute_url()).content.decode()

    assert _cells(body, "1.75 m³")
    assert _cells(body, "2.05 m³")
    assert '<span class="oms-num fw-semibold">3.80 m³</span>' in body  # not 3.8: the rows add up to 3.80


def test_the_orders_planning_page_keeps_each_number_with_its_unit(login, ops_user, make_order):
    order = make_order(lines=[lcl_line(2587, "10.73", pieces=13)])

    body = login(ops_user).get(reverse("tracking:order_plan", args=[order.reference])).content.decode()

    for text in ("13 PX", "2,587 kg", "10.73 m³"):
        (cell,) = _cells(body, text)
        assert "text-nowrap" in cell, f"{text} may break over two lines in the narrow cargo card"
