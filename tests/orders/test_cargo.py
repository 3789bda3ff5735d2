from decimal import Decimal

import pytest

from finance.rating import Measures
from orders.cargo import chargeable_weight_kg, line_volume_m3, totals
from tests.orders.fixtures.intake import errors_for


@pytest.mark.parametrize(
    ("mode", "gross", "volume", "expected"),
    [
        ("air", "100", "1.2", "200.000"),  # 1.2 m³ × 166.667 kg/m³ beats 100 kg
        ("air", "300", "1.2", "300.000"),  # dense cargo: gross weight wins
        ("air", "100.2", "0", "100.500"),  # air: up to the next half kilogram (IATA rating practice)
        ("air", "100.5", "0", "100.500"),
        ("air", "1", "0.6", "100.000"),  # 0.6 m³ is 100 kg to the gram, not a hair above it charged as 100.5
        ("air", "20", "1.001", "167.000"),  # 166.833 kg volume weight
        ("road_ltl", "100.2", "0", "100.200"),  # the half-kilogram step is air's alone
        ("road_ftl", "1000", "6", "2000.000"),  # 1:3000 → 333.333 kg/m³
        ("road_ltl", "500", "1", "500.000"),
        ("ocean_lcl", "800", "2.5", "2500.000"),  # W/M: 1 m³ = 1000 kg
        ("ocean_lcl", "3000", "2.5", "3000.000"),
        ("parcel", "2", "0.02", "4.000"),  # 1:5000 → 200 kg/m³
        ("ocean_fcl", "12000", "60", "12000.000"),  # charged per container: gross weight
        ("rail", "9000", "70", "9000.000"),
    ],
)
def test_chargeable_weight_per_mode(mode, gross, volume, expected):
    assert chargeable_weight_kg(mode=mode, gross_weight_kg=Decimal(gross), volume_m3=Decimal(volume)) == Decimal(
        expected
    )


def test_totals_add_lines_and_rate_the_sum():
    lines = [
        {"pieces": 2, "gross_weight_kg": Decimal(50), "volume_m3": Decimal("0.5")},
        {"pieces": 3, "gross_weight_kg": Decimal(25), "volume_m3": None},
    ]
    assert totals(lines, mode="air") == {
        "pieces_total": 5,
        "gross_weight_kg_total": Decimal(75),
        "volume_m3_total": Decimal("0.5"),
        "chargeable_weight_kg": Decimal("83.5"),  # 0.5 m³ is 83.333 kg, rounded up to the next half kilogram
    }


def test_a_line_measured_by_its_dimensions_counts_pieces_times_length_width_and_height():
    lines = [
        {"pieces": 10, "gross_weight_kg": Decimal(1200), "volume_m3": None,
         "length_cm": Decimal(120), "width_cm": Decimal(100), "height_cm": Decimal(120)},
        {"pieces": 1, "gross_weight_kg": Decimal(1), "volume_m3": Decimal("0.5"),  # a volume given wins
         "length_cm": Decimal(300), "width_cm": Decimal(300), "height_cm": Decimal(300)},
        {"pieces": 1, "gross_weight_kg": Decimal(1), "volume_m3": None,  # no height: no volume to work out
         "length_cm": Decimal(300), "width_cm": Decimal(300), "height_cm": None},
    ]  # fmt: skip
    assert [line_volume_m3(line) for line in lines] == [Decimal("14.4"), Decimal("0.5"), Decimal(0)]
    assert totals(lines, mode="ocean_lcl")["volume_m3_total"] == Decimal("14.9")
    assert totals(lines, mode="ocean_lcl")["chargeable_weight_kg"] == Decimal(14900)  # W/M: 1 m³ = 1,000 kg


def test_the_volume_total_is_kept_to_its_columns_four_places_before_it_is_rated():
    line = {"pieces": 1, "gross_weight_kg": Decimal(1), "volume_m3": None,
            "length_cm": Decimal("10.1"), "width_cm": Decimal("10.1"), "height_cm": Decimal("10.1")}  # fmt: skip
    result = totals([line], mode="ocean_lcl")
    assert result["volume_m3_total"] == Decimal("0.0010")  # 1030.301 cm³
    assert result["chargeable_weight_kg"] == Decimal(1)  # rated on what the order stores, as rating will be


def _air_line(**line):
    base = {"pieces": 10, "package_type": "PX", "gross_weight_kg": "1200", "description": "Machine parts"}
    return [{**base, **line}]


def test_air_chargeable_weight_counts_the_dimensions_given_without_a_volume(order_factory):
    # DOMAIN.md §4.3's worked example: 10 pallets of 120×100×120 cm at 120 kg each are charged on 2,400 kg.
    order = order_factory(mode="air", incoterm="FCA", origin="CNSHA", destination="DEFRA",
                          lines=_air_line(length_cm="120", width_cm="100", height_cm="120"))  # fmt: skip
    assert order.chargeable_weight_kg == Decimal("2400")
    assert order.volume_m3_total == Decimal("14.4")
    assert order.lines.get().volume_m3 is None  # the line keeps what the sender gave


def test_air_chargeable_weight_is_rounded_up_to_the_next_half_kilogram(order_factory):
    order = order_factory(mode="air", incoterm="FCA", origin="CNSHA", destination="DEFRA",
                          lines=_air_line(pieces=1, gross_weight_kg="100.2"))  # fmt: skip
    assert order.chargeable_weight_kg == Decimal("100.5")


def test_the_order_and_its_rating_have_one_chargeable_weight(order_factory):
    lines = _air_line(gross_weight_kg="20", length_cm="80.5", width_cm="60", height_cm="41")
    order = order_factory(mode="air", incoterm="FCA", origin="CNSHA", destination="DEFRA", lines=lines)
    order.refresh_from_db()
    measures = Measures(order.mode, order.gross_weight_kg_total, order.volume_m3_total)
    assert measures.chargeable_weight_kg == order.chargeable_weight_kg == Decimal("330.5")  # 330.05 kg volume weight


def test_dimensions_that_give_more_volume_than_a_line_holds_are_refused(order_data, staff_scope):
    data = order_data(lines=[{"pieces": 1000, "gross_weight_kg": "10", "description": "Parts",
                              "length_cm": "900000", "width_cm": "900000", "height_cm": "900000"}])  # fmt: skip
    assert errors_for(data, staff_scope) == {
        "lines[0].volume_m3": [
            "The dimensions give a volume of 729,000,000,000,000 m³; a cargo line holds less than 100,000,000 m³."
        ]
    }
