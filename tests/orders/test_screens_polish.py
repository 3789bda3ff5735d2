"""Screen polish of the order pages: the entry form keeps its blank line after a failed save, the list fits a
1024 px screen (lower-value columns drop out, long texts keep a tooltip), the detail page's actions come first
on one-column screens."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orders.templatetags.order_tags import mode_short
from tests.orders.test_views_entry import LINE, NEW, field_errors, form_post

LIST = reverse("orders:list")
BLANK_LINE = dict.fromkeys(LINE, "") | {"package_type": "PK"}  # what an untouched row posts


@pytest.fixture
def ops(login, ops_user):
    return login(ops_user)


def row_of(page: str, reference: str) -> str:
    return re.search(rf"<tr>\s*<td><a class=\"oms-code\" href=\"/orders/{reference}/\".*?</tr>", page, re.S).group(0)


# --- Entry form ---------------------------------------------------------------------------------


def test_an_untouched_line_stays_after_a_failed_submit_with_its_own_messages(ops, locations, customer_a):
    response = ops.post(NEW, form_post(action="submit", lines=(BLANK_LINE,)))

    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="lines-0"' in page  # the row is still there to fill in, no need to add a line again
    errors = field_errors(response)
    assert errors["lines-0-pieces"] == "This field is required."
    assert errors["lines-0-gross_weight_kg"] == "This field is required."
    assert "An order needs at least one cargo line." not in page  # its fields say what is missing


def test_an_untouched_line_stays_after_a_failed_draft_save_without_messages(ops, locations, customer_a):
    """A draft may be saved without cargo (the line can wait until submit); refused for another reason, the form
    still has its row to fill in."""
    response = ops.post(NEW, form_post(origin="", lines=(BLANK_LINE,)))

    assert response.status_code == 422
    assert 'id="lines-0"' in response.content.decode()
    assert list(field_errors(response)) == ["origin"]


def test_of_several_untouched_lines_only_the_first_stays(ops, locations, customer_a):
    response = ops.post(NEW, form_post(action="submit", lines=(BLANK_LINE, BLANK_LINE, BLANK_LINE), keys=(3, 4, 7)))

    page = response.content.decode()
    assert re.findall(r'class="oms-line[^"]*" id="(lines-\d+)"', page) == ["lines-3"]
    assert f'hx-get="{reverse("orders:line_row")}?key=4"' in page  # "Add line" asks for a key no row on the page has


def test_untouched_lines_beside_a_filled_one_are_still_dropped(ops, locations, customer_a):
    bad = LINE | {"hs_code": "99"}
    response = ops.post(NEW, form_post(lines=(BLANK_LINE, bad), keys=(0, 5)))

    assert list(field_errors(response)) == ["lines-5-hs_code"]
    assert 'id="lines-0"' not in response.content.decode()


# --- List ---------------------------------------------------------------------------------------


def test_list_rows_keep_full_names_in_tooltips_and_short_modes(ops, order_factory):
    order = order_factory(customer_reference="ACM-4711", submit=True)

    row = row_of(ops.get(LIST).content.decode(), order.reference)

    assert 'title="Shanghai → Hamburg"' in row  # the lane's names truncate on narrow screens
    assert 'title="Acme Industrial · ACM-4711"' in row
    assert re.search(r'<span class="oms-mode" title="Ocean FCL">.*?</i>FCL</span>', row)


def test_list_drops_lower_value_columns_below_xl_and_xxl(ops, order_factory):
    order = order_factory(submit=True)

    page = ops.get(LIST).content.decode()
    row = row_of(page, order.reference)

    assert '<th scope="col" class="text-end d-none d-xxl-table-cell">Pieces</th>' in page
    assert '<th scope="col" class="text-end d-none d-xxl-table-cell">Gross kg</th>' in page
    assert re.search(r'<th scope="col" class="d-none d-xl-table-cell"[^>]*><a[^>]*>Created', page)
    assert row.count("d-none d-xxl-table-cell") == 2
    assert row.count("d-none d-xl-table-cell") == 1
    # Where the Created column is hidden, its time is under the reference.
    created = r"\d{1,2} [A-Z][a-z]{2}( \d{4})?, \d\d:\d\d"  # 7 Dec, 12:24 (docs/architecture.md)
    assert re.search(rf'</a><span class="oms-sub tabular-nums d-xl-none">{created}</span>', row)


@pytest.mark.parametrize(
    ("given", "short"),
    [("ocean_fcl", "FCL"), ("Ocean LCL", "LCL"), ("Road FTL", "FTL"), ("Parcel / courier", "Parcel"), ("x", "x")],
)
def test_mode_short_takes_the_code_or_the_label(given, short):
    assert mode_short(given) == short


# --- Detail -------------------------------------------------------------------------------------


def test_detail_side_column_with_the_actions_comes_first_below_xl(ops, order_factory):
    order = order_factory(submit=True)

    page = ops.get(reverse("orders:detail", args=[order.reference])).content.decode()

    side = re.search(r'<div class="(col-xl-4[^"]*)">\s*<section class="card oms-status-panel"', page)
    assert side is not None
    assert set(side.group(1).split()) >= {"order-first", "order-xl-0", "oms-detail-side"}


def _cells(page: str, section: str) -> list[str]:
    """The body cells of a section's table (cargo, equipment) as HTML."""
    table = re.search(rf'id="sec-{section}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)


def test_empty_cells_read_one_dash_outside_the_code_font(ops, order_factory):
    """A dash in the monospace code font reads as an en dash beside the other cells' "—": no code font when empty."""
    order = order_factory(lines=[{"pieces": 1, "gross_weight_kg": "5", "description": "Parts"}], destination="DEHAM")

    page = ops.get(order.get_absolute_url()).content.decode()

    cells = _cells(page, "cargo")
    description, hs_code, volume, container, dangerous = cells[3], cells[4], cells[6], cells[7], cells[8]
    assert description == "Parts"  # no dimensions given: no line for them under the goods
    assert [hs_code, volume, container, dangerous] == ["—"] * 4
    assert not re.search(r'<td class="[^"]*oms-code[^"]*">—', page)


def test_totals_say_dash_for_a_volume_no_line_gives(ops, order_factory):
    order = order_factory(lines=[{"pieces": 1, "gross_weight_kg": "7325", "description": "Parts"}])

    page = ops.get(order.get_absolute_url()).content.decode()

    totals = re.search(r'<dl class="oms-totals">(.*?)</dl>', page, re.S).group(1)
    assert re.search(r"<dt>Volume</dt><dd>—</dd>", totals)
    assert "<dt>Gross weight</dt><dd>7,325 kg</dd>" in totals
    assert "0 m³" not in page


def test_a_draft_without_cargo_shows_dashes_not_zeros(ops, order_factory):
    order = order_factory(lines=[])

    page = ops.get(order.get_absolute_url()).content.decode()
    listed = row_of(ops.get(LIST).content.decode(), order.reference)

    assert "No cargo lines yet: submitting needs one at least." in page
    totals = re.search(r'<dl class="oms-totals">(.*?)</dl>', page, re.S).group(1)
    assert re.findall(r"<dd[^>]*>([^<]*)</dd>", totals)[:4] == ["—", "—", "—", "—"]
    assert re.findall(r'<td class="text-end[^"]*">([^<]*)</td>', listed) == ["—", "—", "—"]


def test_a_failed_save_shows_the_place_as_it_was_typed(ops, locations, customer_a):
    response = ops.post(NEW, form_post(destination="Hamburg"))

    page = response.content.decode()
    assert response.status_code == 422
    assert 'name="destination" id="id_destination" value="Hamburg"' in page
    assert "Hamburg's UN/LOCODE is DEHAM." in field_errors(response)["destination"]
    assert not re.search(r"\.oms-picker input \{[^}]*uppercase", page)  # shown as typed, not in capitals
