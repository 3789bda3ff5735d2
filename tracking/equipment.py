"""Container types we plan with: ISO 6346 size-type, TEU, tare, maximum gross mass and internal volume.

Figures are typical current-build steel boxes as published by the large carriers (Maersk, Hapag-Lloyd,
CMA CGM equipment guides); each box's own CSC plate may differ slightly, which is why a container on
a shipment can carry its plate tare and maximum gross and these are only the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ContainerType:
    code: str
    name: str
    short: str
    teu: Decimal
    tare_kg: int
    max_gross_kg: int
    capacity_m3: Decimal

    @property
    def max_payload_kg(self) -> int:
        return self.max_gross_kg - self.tare_kg


CONTAINER_TYPES: dict[str, ContainerType] = {
    box.code: box
    for box in (
        ContainerType("22G1", "20' general purpose", "20'GP", Decimal(1), 2230, 30480, Decimal("33.2")),
        ContainerType("42G1", "40' general purpose", "40'GP", Decimal(2), 3780, 30480, Decimal("67.7")),
        ContainerType("45G1", "40' high cube", "40'HC", Decimal(2), 3900, 30480, Decimal("76.3")),
        ContainerType("L5G1", "45' high cube", "45'HC", Decimal("2.25"), 4800, 32500, Decimal("86.0")),
        ContainerType("22R1", "20' reefer", "20'RF", Decimal(1), 3080, 30480, Decimal("28.3")),
        ContainerType("45R1", "40' high cube reefer", "40'RH", Decimal(2), 4480, 34000, Decimal("67.5")),
        ContainerType("22U1", "20' open top", "20'OT", Decimal(1), 2350, 30480, Decimal("32.5")),
        ContainerType("42U1", "40' open top", "40'OT", Decimal(2), 3850, 30480, Decimal("66.5")),
    )
}
CONTAINER_TYPE_CHOICES = [(box.code, f"{box.code} · {box.name}") for box in CONTAINER_TYPES.values()]
