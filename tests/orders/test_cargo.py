from decimal import Decimal

import pytest

from orders.cargo import chargeable_weight_kg, totals


@pytest.mark.parametrize(
    ("mode", "gross", "volume", "expected"),
    [
        ("air", "100", "1.2", "200.000"),  # 1.2 m³ × 166.667 kg/m³ beats 100 kg
        ("air", "300", "1.2", "300.000"),  # dense cargo: gross weight wins
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
        "chargeable_weight_kg": Decimal("83.333"),
    }
