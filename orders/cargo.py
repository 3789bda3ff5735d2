"""Cargo arithmetic: totals and chargeable weight per mode (DOMAIN.md §4.3).

The order's chargeable weight and finance rating's (`finance.rating.Measures`) are this one function, so the
weight an order shows is the weight it is priced on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from orders.models import Mode

# kg per m³ that a carrier charges for volume ("dimensional factor"):
# air 1:6000 cm³/kg = 166.667 kg/m³; road 1:3000 = 333.333 kg/m³; parcel carriers 1:5000 = 200 kg/m³;
# LCL is rated W/M, 1 m³ = 1,000 kg. FCL and rail are charged per unit, so their chargeable
# weight is the gross weight.
VOLUMETRIC_KG_PER_M3: dict[str, Decimal] = {
    Mode.AIR: Decimal(1_000_000) / 6000,
    Mode.ROAD_FTL: Decimal(1_000_000) / 3000,
    Mode.ROAD_LTL: Decimal(1_000_000) / 3000,
    Mode.PARCEL: Decimal(1_000_000) / 5000,
    Mode.OCEAN_LCL: Decimal(1000),
}
GRAM = Decimal("0.001")
HALF_KG = Decimal("0.5")
CM3_PER_M3 = Decimal(1_000_000)
M3_STEP = Decimal("0.0001")  # Order.volume_m3_total holds four places


def chargeable_weight_kg(*, mode: str, gross_weight_kg: Decimal, volume_m3: Decimal) -> Decimal:
    """The greater of gross and volumetric weight for the mode, to the gram; air rounded up to the next half
    kilogram (IATA rating practice). Rounded to the gram first: 0.6 m³ at 1,000,000 / 6000 kg/m³ is 100 kg, not a
    hair above it that the half-kilogram step would charge as 100.5."""
    factor = VOLUMETRIC_KG_PER_M3.get(mode)
    volumetric = volume_m3 * factor if factor is not None else Decimal(0)
    weight = max(gross_weight_kg, volumetric).quantize(GRAM, rounding=ROUND_HALF_UP)
    if mode == Mode.AIR:
        weight = ((weight / HALF_KG).to_integral_value(rounding=ROUND_CEILING) * HALF_KG).quantize(GRAM)
    return weight


def line_volume_m3(line: Mapping[str, Any]) -> Decimal:
    """A cargo line's volume: the one given, else pieces times length, width and height (cm, per piece), else 0.
    A volume given beside the dimensions wins: it is what the sender declares (stacked or nested pieces)."""
    volume = line.get("volume_m3")
    if volume:
        return volume
    length, width, height = line.get("length_cm"), line.get("width_cm"), line.get("height_cm")
    if length and width and height and line.get("pieces"):
        return line["pieces"] * length * width * height / CM3_PER_M3
    return Decimal(0)


def totals(lines: Iterable[dict], *, mode: str) -> dict[str, Decimal | int]:
    """Pieces, gross weight, volume and chargeable weight of a set of clean cargo lines. The volume counts lines
    measured by their dimensions only, and is rounded to its column's four places before the chargeable weight
    is worked out from it, so rating the stored totals gives the same chargeable weight."""
    pieces, weight, volume = 0, Decimal(0), Decimal(0)
    for line in lines:
        pieces += line["pieces"]
        weight += line["gross_weight_kg"]
        volume += line_volume_m3(line)
    volume = volume.quantize(M3_STEP, rounding=ROUND_HALF_UP)
    return {
        "pieces_total": pieces,
        "gross_weight_kg_total": weight,
        "volume_m3_total": volume,
        "chargeable_weight_kg": chargeable_weight_kg(mode=mode, gross_weight_kg=weight, volume_m3=volume),
    }
