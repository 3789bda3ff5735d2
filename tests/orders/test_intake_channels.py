"""One validation layer: a file row and an API body with the same content get the same messages, field by
field. The file path validates thousands of orders against lookups loaded once per file and memoised
checks; the API validates one order with lookups of its own. Neither may say something the other does not."""

from __future__ import annotations

from decimal import Decimal

import pytest
from stdnum import iso6346

from orders import identifiers
from orders.imports.grouping import Layout, RowGroup, build_intake
from orders.intake import validate_order
from partners.scoping import scope_for_user
from tests.orders.fixtures.imports import COLUMNS, csv_bytes, import_file, order_row, world

__all__ = ["world"]

LIST_URL = "/api/v1/orders/"
EXTRA_COLUMNS = ["volume_m3", "hs_code", "container_number", "awb_number", "currency", "declared_value", "un_number"]

# (order-level overrides, line overrides of the first row, line overrides of a second row or None)
BAD_INPUTS = [
    ({"origin": "XXZZZ", "requested_pickup_on": "31/02/2026"}, {}, None),
    ({"mode": "boat", "incoterm": "FOB"}, {"pieces": "2.5"}, None),
    ({"customer_code": "NOPE"}, {"gross_weight_kg": "-5"}, {"gross_weight_kg": "heavy"}),
    ({"currency": "EURO", "declared_value": "1e30"}, {"hs_code": "9999"}, {"hs_code": "999999"}),
    ({}, {"awb_number": "020-12345676", "volume_m3": "1.23456"}, {"container_number": "CSQU3054384"}),
    ({"incoterm": "CIF"}, {"un_number": "12"}, {"pieces": "0", "volume_m3": "0"}),
    ({"destination": "DEFRA"}, {"gross_weight_kg": "1e999999"}, {"pieces": "9999999"}),
]


def _file_rows(order: dict, first: dict, second: dict | None) -> list[dict]:
    rows = [order_row("PO-X", **order, **first)]
    if second is not None:
        rows.append({"customer_code": rows[0]["customer_code"], "customer_reference": "PO-X", **second})
    return rows


def _api_body(rows: list[dict]) -> dict:
    """The same content in the API's vocabulary: order fields once, one entry in `lines` per row."""
    line_fields = {"pieces", "gross_weight_kg", "description", *EXTRA_COLUMNS} - {"currency", "declared_value"}
    body = {k: v for k, v in rows[0].items() if k not in line_fields}
    body["description"] = rows[0]["description"]
    body["lines"] = [{k: v for k, v in row.items() if k in line_fields and v != ""} for row in rows]
    return body


@pytest.mark.parametrize(("order", "first", "second"), BAD_INPUTS)
def test_a_file_row_and_an_api_body_get_the_same_messages(world, client, order, first, second):
    rows = _file_rows(order, first, second)
    job = import_file(world["ops"], csv_bytes(rows, columns=COLUMNS + EXTRA_COLUMNS))
    from_file = sorted((e.row, e.column, e.message) for e in job.errors.all())

    client.force_login(world["ops"])
    response = client.post(LIST_URL, _api_body(rows), content_type="application/json")
    assert response.status_code == 400
    from_api = []
    for key, messages in response.json()["error"]["fields"].items():
        line, _, column = key.partition("].")
        row, column = (2 + int(line.removeprefix("lines[")), column) if column else (2, key)
        from_api += [(row, column, message) for message in messages]

    assert from_file  # a test that cannot fail is a defect: every input here is wrong somewhere
    assert from_file == sorted(from_api)


def test_the_file_path_and_a_single_call_clean_an_order_identically(world):
    """The clean values too: what bulk writes for a file row is what order_create writes for the same body."""
    rows = _file_rows(
        {"declared_value": "1200,50", "currency": "eur"},
        {"hs_code": "9018.90"},
        {"pieces": "3", "gross_weight_kg": "10"},
    )
    columns = COLUMNS + EXTRA_COLUMNS
    intake = build_intake(
        RowGroup(key=("ACME", "PO-X"), rows=[(2 + i, [row.get(c, "") for c in columns]) for i, row in enumerate(rows)]),
        Layout.of(columns),
    )
    scope = scope_for_user(world["ops"])
    from_file, errors = validate_order(intake.data, scope=scope)
    from_api, api_errors = validate_order(_api_body(rows), scope=scope)
    assert errors == api_errors == {}
    assert from_file == from_api
    assert from_file.order["declared_value_amount"] == Decimal("1200.50")
    assert [line["hs_code"] for line in from_file.lines] == ["901890", ""]


def test_huge_numbers_are_refused_with_the_usual_message_rather_than_an_error(world):
    scope = scope_for_user(world["ops"])
    data = _api_body(_file_rows({"declared_value": "1e30", "currency": "EUR"}, {"gross_weight_kg": "1e999999"}, None))
    _clean, errors = validate_order(data, scope=scope)
    assert errors["declared_value"] == ["Use a value below 1,000,000,000."]  # the currency says its decimals
    assert errors["lines[0].gross_weight_kg"] == ["Use at most 3 decimal places and a value below 1,000,000,000."]


def test_the_iso_6346_check_digit_agrees_with_python_stdnum():
    import random

    rnd = random.Random(6346)
    for _ in range(20_000):
        body = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(3)) + rnd.choice("UJZ")
        body += f"{rnd.randrange(1_000_000):06d}"
        assert identifiers.iso6346_check_digit(body) == iso6346.calc_check_digit(body), body
