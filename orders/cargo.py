"""Cargo arithmetic: totals and chargeable weight per mode (DOMAIN.md §4.3)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

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


def chargeable_weight_kg(*, mode: str, gross_weight_kg: Decimal, volume_m3: Decimal) -> Decimal:
    """The greater of gross and volumetric weight for the mode, to the gram."""
    factor = VOLUMETRIC_KG_PER_M3.get(mode)
    volumetric = volume_m3 * factor if factor is not None else Decimal(0)
    return max(gross_weight_kg, volumetric).quantize(GRAM, rounding=ROUND_HALF_UP)


def totals(lines: Iterable[dict], *, mode: str) -> dict[str, Decimal | int]:
    """Pieces, gross weight, volume and chargeable weight of a set of clean cargo lines."""
    pieces, weight, volume = 0, Decimal(0), Decimal(0)
    for line in lines:
        pieces += line["pieces"]
        weight += line["gross_weight_kg"]
        volume += line.get("volume_m3") or Decimal(0)
    return {
        "pieces_total": pieces,
        "gross_weight_kg_total": weight,
        "volume_m3_total": volume,
        "chargeable_weight_kg": chargeable_weight_kg(mode=mode, gross_weight_kg=weight, volume_m3=volume),
    }
