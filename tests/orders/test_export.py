"""Exports of the filtered order list: CSV and XLSX, every matching row, formulas made inert."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from orders import export

CSV = reverse("orders:export", args=["csv"])
XLSX = reverse("orders:export", args=["xlsx"])


@pytest.fixture
def ops(login, ops_user):
    return login(ops_user)


def csv_rows(response) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the file as UTF-8
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def xlsx_rows(response) -> list[dict[str, Any]]:
    assert response["Content-Type"] == export.XLSX_CONTENT_TYPE
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    header, *rows = list(workbook["Orders"].iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_csv_has_every_matching_order_in_the_intake_vocabulary(ops, order_factory, customer_b):
    wanted = [order_factory(submit=True) for _ in range(30)]  # more than one page of the list
    order_factory()  # a draft
    order_factory(customer_code="GLOBEX", submit=True)

    response = ops.get(CSV, {"status": "submitted", "customer": "ACME", "sort": "created"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    rows = csv_rows(response)
    assert [row["reference"] for row in rows] == [o.reference for o in wanted]
    assert list(rows[0]) == list(export.COLUMNS)
    first = rows[0]
    assert (first["status"], first["customer_code"], first["mode"], first["origin"], first["destination"]) == (
        "submitted",
        "ACME",
        "ocean_fcl",
        "CNSHA",
        "DEHAM",
    )
    assert (first["requested_pickup_on"], first["pieces_total"], first["gross_weight_kg_total"]) == (
        "2026-12-01",
        "20",
        "4200.500",
    )
    assert first["chargeable_weight_kg"] == "4200.500"
    assert first["created_at"].startswith(wanted[0].created_at.strftime("%Y-%m-%d"))


def test_xlsx_has_the_same_rows_with_native_types(ops, order_factory):
    made = [order_factory() for _ in range(3)]
    rows = xlsx_rows(ops.get(XLSX, {"sort": "reference"}))
    assert [row["reference"] for row in rows] == sorted(o.reference for o in made)
    assert rows[0]["pieces_total"] == 20
    assert float(rows[0]["gross_weight_kg_total"]) == pytest.approx(4200.5)
    assert rows[0]["requested_pickup_on"].year == 2026


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("http://evil.test","click")', "+SUM(1+1)", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"],
)
def test_cells_that_would_run_as_formulas_are_made_inert(ops, order_factory, fmt, name):
    order_factory(shipper_name=f"{name} Ltd", consignee_name="Plain Receiver", customer_reference="=cmd|' /C calc'!A0")
    response = ops.get(reverse("orders:export", args=[fmt]))
    (row,) = csv_rows(response) if fmt == "csv" else xlsx_rows(response)
    # Intake strips surrounding whitespace, so a leading tab or CR reaches the file only via other channels.
    stored = name.strip()
    assert row["shipper_name"] == f"'{stored} Ltd"
    assert row["customer_reference"] == "'=cmd|' /C calc'!A0"
    assert row["consignee_name"] == "Plain Receiver"


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@x", "\t=1", "\r=1"])
def test_neutralise_formula_covers_every_trigger(value):
    assert export.neutralise_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["ACME", "1-2", "a=b", "", 5, None])
def test_neutralise_formula_leaves_other_values_alone(value):
    assert export.neutralise_formula(value) == value


def test_export_of_nothing_is_just_the_header(ops, locations):
    assert csv_rows(ops.get(CSV)) == []
    assert xlsx_rows(ops.get(XLSX)) == []


def test_unknown_format_is_404(ops, locations):
    assert ops.get(reverse("orders:export", args=["pdf"])).status_code == 404


def test_export_streams_rows_in_small_batches_without_losing_any(ops, order_factory, monkeypatch):
    monkeypatch.setattr(export, "BATCH_SIZE", 2)
    made = [order_factory() for _ in range(5)]
    assert len(csv_rows(ops.get(CSV))) == len(made)
