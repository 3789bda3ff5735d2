"""Intake refuses what the database cannot hold, with a message on the field, never a 500 or a cut value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders import identifiers
from orders.intake import validate_order
from orders.models import Equipment
from tests.orders.fixtures.intake import errors_for
from tests.orders.test_api import LIST_URL, post

BILLION = "1,000,000,000"
ONE = {"pieces": 1, "gross_weight_kg": "10", "description": "Spare parts"}


# --- Numbers: each line field below its column, the order's totals below theirs ---------------------


@pytest.mark.parametrize(
    ("name", "too_large", "largest", "message"),
    [
        ("volume_m3", "100000000", "99999999.9999", "Use at most 4 decimal places and a value below 100,000,000."),
        ("length_cm", "10000000", "9999999.9", "Use at most 1 decimal places and a value below 10,000,000."),
        ("width_cm", "10000000", "9999999.9", "Use at most 1 decimal places and a value below 10,000,000."),
        ("height_cm", "10000000", "9999999.9", "Use at most 1 decimal places and a value below 10,000,000."),
        (
            "gross_weight_kg",
            "1000000000",
            "999999999.999",
            f"Use at most 3 decimal places and a value below {BILLION}.",
        ),
    ],
)
def test_a_line_number_must_fit_its_column(order_data, staff_scope, name, too_large, largest, message):
    line = {**ONE, name: too_large}
    assert errors_for(order_data(mode="ocean_fcl", lines=[line]), staff_scope) == {f"lines[0].{name}": [message]}
    clean, errors = validate_order(order_data(mode="ocean_fcl", lines=[{**ONE, name: largest}]), scope=staff_scope)
    assert errors == {}
    assert clean.lines[0][name] == Decimal(largest)


def test_totals_beyond_their_columns_are_an_error_on_the_lines(order_data, staff_scope):
    line = {**ONE, "gross_weight_kg": "999999999", "volume_m3": "60000000"}
    errors = errors_for(order_data(mode="ocean_lcl", incoterm="FCA", lines=[line] * 101), staff_scope)
    assert errors == {
        "lines": [
            "The cargo lines add up to a total gross weight of 100,999,999,899 kg; an order holds less than "
            "100,000,000,000.",
            "The cargo lines add up to a chargeable weight of 6,060,000,000,000.000 kg; an order holds less than "
            "100,000,000,000.",
        ]
    }


@pytest.mark.parametrize("mode", ["ocean_lcl", "air"])
def test_an_order_whose_chargeable_weight_overflows_is_refused_by_the_api(client, staff_key, order_data, mode):
    line = {**ONE, "volume_m3": "99999999"}
    data = order_data(mode=mode, incoterm="FCA", lines=[line, line, line, line, line, line, line])
    for entry in data["lines"]:
        entry.pop("container_number", None)
    response = post(client, LIST_URL, data, staff_key)
    assert response.status_code == 400
    assert "chargeable weight" in response.json()["error"]["fields"]["lines"][0]


def test_a_line_volume_beyond_its_column_is_refused_by_the_api(client, staff_key, order_data):
    response = post(client, LIST_URL, order_data(lines=[{**ONE, "volume_m3": "500000000"}]), staff_key)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "lines[0].volume_m3": ["Use at most 4 decimal places and a value below 100,000,000."]
    }


# --- Seals: text or a list of texts; too many or too long refused, never cut -----------------------


@pytest.mark.parametrize("seals", ["S1, s2;S3", ["S1", " s2 ", "S3"], ("S1", "s2", "S3")])
def test_seals_are_text_separated_by_commas_or_a_list(order_data, staff_scope, seals):
    clean, errors = validate_order(
        order_data(lines=[{**ONE, "container_type": "22G1", "seal_numbers": seals}]), scope=staff_scope
    )
    assert errors == {}
    assert clean.equipment[0]["seal_numbers"] == ["S1", "S2", "S3"]


@pytest.mark.parametrize("seals", [123456, 12.5, True, {"seal": "S1"}, ["S1", 2]])
def test_seals_of_another_shape_are_a_field_error(order_data, staff_scope, seals):
    errors = errors_for(order_data(lines=[{**ONE, "seal_numbers": seals}]), staff_scope)
    assert errors == {
        "lines[0].seal_numbers": ["Give the seal numbers as text separated by commas, or as a list of texts."]
    }


def test_a_seal_number_given_as_a_json_number_is_a_400(client, staff_key, order_data):
    data = order_data()
    data["lines"][0]["seal_numbers"] = 123456
    response = post(client, LIST_URL, data, staff_key)
    assert response.status_code == 400
    assert "lines[0].seal_numbers" in response.json()["error"]["fields"]


def test_more_than_five_seals_on_a_line_are_refused(order_data, staff_scope):
    line = {**ONE, "container_number": "CSQU3054383", "seal_numbers": "S1,S2,S3,S4,S5,S6"}
    errors = errors_for(order_data(lines=[line]), staff_scope)
    assert errors == {"lines[0].seal_numbers": ["A cargo line can name at most 5 seal numbers (this one has 6)."]}


def test_a_seal_number_longer_than_its_column_is_refused(client, staff_key, order_data):
    data = order_data()
    data["lines"][0]["seal_numbers"] = ["SEAL-" + "9" * 16, "SEAL-" + "9" * 15]
    response = post(client, LIST_URL, data, staff_key)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "lines[0].seal_numbers": [f"SEAL-{'9' * 16} is not a seal number: use at most 20 characters."]
    }
    assert not Equipment.objects.exists()


def test_a_seal_of_twenty_characters_is_kept_whole(client, staff_key, order_data):
    data = order_data()
    data["lines"][0]["seal_numbers"] = "SEAL-" + "9" * 15
    response = post(client, LIST_URL, data, staff_key)
    assert response.status_code == 201
    assert Equipment.objects.get().seal_numbers == ["SEAL-" + "9" * 15]


def test_a_seal_list_holding_nul_is_refused(order_data, staff_scope):
    errors = errors_for(order_data(lines=[{**ONE, "seal_numbers": ["S1\x00"]}]), staff_scope)
    assert errors == {"lines[0].seal_numbers": ["Contains a NUL character; remove it."]}


# --- Identifiers in ASCII digits only ---------------------------------------------------------------


def test_an_awb_in_arabic_indic_digits_is_refused(client, staff_key, order_data):
    data = order_data(mode="air", incoterm="FCA", lines=[{**ONE, "awb_number": "٠٢٠-١٢٣٤٥٦٧ ٥"}])
    response = post(client, LIST_URL, data, staff_key)
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["lines[0].awb_number"] == [
        "٠٢٠-١٢٣٤٥٦٧ ٥ is not an air waybill number: it needs 11 digits, e.g. 020-1234567 5."
    ]


@pytest.mark.parametrize(
    ("check", "value", "start"),
    [
        (identifiers.awb_number_problem, "٠٢٠١٢٣٤٥٦٧٥", "٠٢٠١٢٣٤٥٦٧٥ is not an air waybill number"),
        (identifiers.container_number_problem, "CSQU305438٣", "CSQU305438٣ is not a container number"),
        (identifiers.un_number_problem, "UN١٢٠٣", "UN١٢٠٣ is not a UN number"),
    ],
)
def test_identifiers_take_ascii_digits_only(check, value, start):
    assert check(value).startswith(start)
