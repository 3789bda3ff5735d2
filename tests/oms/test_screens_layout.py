"""The master shipment page and the amber buttons as a planner meets them at 1440 and 1280 px.

Before: the "Add container" size-type picker had no label a screen reader could announce; the breadcrumb read
"Planning /" with nothing after it; the container row's inputs sat in one cell spanning three columns, so "Seals"
stood over the number and "VGM" over nothing; house references broke at their hyphens ("H-SHA-26-" / "000002") and
a house's weights read "465 + 162 +" / "558 kg"; "Put on hold" and "Record a roll" were #ffc107 on white (1.6:1).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.tracking.conftest import lcl_line, make_order, ops_scope
from tracking.models import Shipment
from tracking.services import consolidation, planning

__all__ = ["make_order", "ops_scope"]

ROOT = Path(settings.BASE_DIR)


pytestmark = pytest.mark.usefixtures("fresh_rate_window")


@pytest.fixture
def master(make_order, ops_user) -> Shipment:
    """A master in planning with one 20' box and two houses, the first carrying three cargo lines."""
    three_lines = make_order(lines=[lcl_line(465, "1.36"), lcl_line(162, "1.07"), lcl_line(558, "1.87")])
    master = consolidation.consolidation_create(orders=[three_lines, make_order()], container_type="22G1", by=ops_user)
    return Shipment.objects.get(pk=master.pk)


def _control_is_labelled(html: str, name: str) -> bool:
    """True when the first visible control named `name` has <label for=its id>, aria-label or aria-labelledby."""
    tag = next(
        (m.group(0) for m in re.finditer(rf"<(?:select|input|textarea)\b[^>]*\bname=\"{name}\"[^>]*>", html)
         if 'type="hidden"' not in m.group(0)),
        None,
    )  # fmt: skip
    assert tag, f"no control named {name} on the page"
    if "aria-label=" in tag or "aria-labelledby=" in tag:
        return True
    ident = re.search(r'\bid="([^"]+)"', tag)
    return bool(ident) and f'for="{ident.group(1)}"' in html


def _section(html: str, card_id: str) -> str:
    return html.split(f'id="{card_id}"', 1)[1].split('<div class="card', 1)[0]


def test_the_add_container_size_type_picker_on_the_shipment_page_has_a_label(login, ops_user, make_order):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)

    html = login(ops_user).get(master.get_absolute_url()).content.decode()

    assert 'action="' + reverse("tracking:container_add", args=[master.reference]) + '"' in html
    assert _control_is_labelled(html, "container_number")  # the neighbour is labelled
    assert _control_is_labelled(html, "iso_type"), "the ISO size-type select of 'Add container' has no label"


def test_the_shipment_page_says_where_it_is_with_the_breadcrumb_other_pages_use(login, ops_user, master):
    html = login(ops_user).get(master.get_absolute_url()).content.decode()

    trail = re.search(r'<nav aria-label="breadcrumb"><ol class="breadcrumb">(.*?)</ol></nav>', html, re.S)
    assert trail, "no breadcrumb"
    assert f'<li class="breadcrumb-item"><a href="{reverse("tracking:index")}">Planning</a></li>' in trail.group(1)
    assert f'<li class="breadcrumb-item active" aria-current="page">{master.reference}</li>' in trail.group(1)
    assert "</a> /</div>" not in html


def test_each_container_field_sits_in_the_column_its_header_names(login, ops_user, master):
    box = master.containers.get()
    html = login(ops_user).get(master.get_absolute_url()).content.decode()
    containers = _section(html, "containers")

    headers = re.findall(r"<th\b[^>]*>(.*?)</th>", containers.split("</thead>", 1)[0], re.S)
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", containers, re.S).group(1)
    cells = re.findall(r"<td\b[^>]*>(.*?)</td>", row, re.S)
    assert len(cells) == len(headers), "a cell spans several headers"
    for header, name in (("Number", "container_number"), ("Seals", "seal_numbers"), ("VGM", "vgm_kg")):
        cell = cells[headers.index(header)]
        assert f'name="{name}"' in cell, f"{name} is not under {header}"
        assert f'form="container-{box.pk}"' in cell  # it belongs to the row's form, which lives in the last cell
    update = reverse("tracking:container_update", args=[master.reference, box.pk])
    assert re.search(rf'<form id="container-{box.pk}" method="post" action="{update}">', cells[-1])
    assert f'<input type="hidden" name="iso_type" value="{box.iso_type}">' in cells[-1]


def test_a_house_reads_its_references_and_totals_on_one_line_each(login, ops_user, master):
    html = login(ops_user).get(master.get_absolute_url()).content.decode()
    house = next(link.house for link in master.consolidated_houses.all() if link.house.house_lines.count() == 3)
    row = re.search(rf"<tr>\s*<td[^>]*><a href=\"[^\"]*\">{house.reference}</a></td>(.*?)</tr>", html, re.S)
    assert row, "no row for the house"
    cells = re.findall(r'<td class="([^"]*)"[^>]*>([^<]*)</td>', row.group(0))

    assert 'class="ps-3 font-monospace text-nowrap"' in row.group(0)  # H-SHA-26-000002 never breaks at a hyphen
    assert "1,185 kg" in row.group(0), "the house's total weight"
    assert "4.30 m³" in row.group(0), "the house's total volume"
    assert 'title="By cargo line: 465 + 162 + 558 kg"' in row.group(0)
    quantities = [classes for classes, text in cells if text.endswith(("kg", "m³"))]
    assert len(quantities) == 2
    assert all("text-nowrap" in classes for classes in quantities)


def test_the_add_house_and_add_container_buttons_never_wrap(login, ops_user, master, make_order):
    make_order()  # a candidate for "Add house"
    html = login(ops_user).get(master.get_absolute_url()).content.decode()

    assert re.search(r'<button class="[^"]*flex-shrink-0 text-nowrap[^"]*" type="submit">Add house</button>', html)
    assert re.search(r'<button class="[^"]*flex-shrink-0 text-nowrap[^"]*" type="submit">Add container</button>', html)
    picker = re.search(r'<select name="iso_type"[^>]*>', html).group(0)
    assert "w-auto" in picker, "the picker takes the whole strip and pushes the number and button to a second line"


def _luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    digits = "".join(d * 2 for d in digits) if len(digits) == 3 else digits
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _rule(css: str, selector: str) -> dict[str, str]:
    block = re.search(rf"(?m)^{re.escape(selector)} \{{(.*?)\}}", css, re.S)
    assert block, f"no {selector} rule"
    return dict(re.findall(r"([-\w]+):\s*([^;]+);", block.group(1)))


def _colour(css: str, value: str) -> str:
    """A colour as #rgb or #rrggbb, through one var(--oms-…) of oms.css's :root."""
    name = re.fullmatch(r"var\((--[-\w]+)\)", value.strip())
    return re.search(rf"{name.group(1)}:\s*(#[0-9a-f]{{3,6}});", css).group(1) if name else value.strip()


def test_the_amber_outline_buttons_read_as_well_as_the_other_buttons():
    """Put on hold (orders.lifecycle) and Record a roll (the shipment page) use .btn-outline-warning."""
    css = (ROOT / "static" / "css" / "oms.css").read_text()
    rule = _rule(css, ".btn-outline-warning")

    text = _colour(css, rule["--bs-btn-color"])
    assert _contrast(text, _colour(css, rule["--bs-btn-bg"])) >= 4.5
    assert _contrast(_colour(css, rule["--bs-btn-hover-color"]), _colour(css, rule["--bs-btn-hover-bg"])) >= 4.5
    assert _contrast(_colour(css, rule["--bs-btn-active-color"]), _colour(css, rule["--bs-btn-active-bg"])) >= 4.5


def test_the_tracking_cards_refresh_line_is_readable():
    """10.5 px of grey-9 on white (3.3:1) said which clock the times are on and when the card last refreshed."""
    css = (ROOT / "static" / "css" / "oms.css").read_text()
    styles = (ROOT / "templates" / "tracking" / "ingest" / "_styles.html").read_text()

    colour = _colour(css, _rule(styles, ".trk-refresh")["color"])
    assert _contrast(colour, "#ffffff") >= 4.5
