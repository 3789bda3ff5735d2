"""Display helpers for the order screens: mode icons, quantities, container type names."""

from __future__ import annotations

from typing import Any

from django import template

from orders import display
from orders.forms import COMMON_CONTAINER_TYPES
from orders.models import Mode

register = template.Library()

_MODE_ICONS = {
    "ocean_fcl": "water",
    "ocean_lcl": "water",
    "air": "airplane",
    "road_ftl": "truck",
    "road_ltl": "truck",
    "rail": "train-front",
    "parcel": "box2",
}
_CONTAINER_TYPES = dict(COMMON_CONTAINER_TYPES)


@register.filter
def mode_icon(mode: str) -> str:
    """The Bootstrap icon name for a transport mode."""
    return _MODE_ICONS.get(mode, "box-seam")


_MODE_SHORT_LABELS = {
    Mode.OCEAN_FCL: "FCL",
    Mode.OCEAN_LCL: "LCL",
    Mode.AIR: "Air",
    Mode.ROAD_FTL: "FTL",
    Mode.ROAD_LTL: "LTL",
    Mode.RAIL: "Rail",
    Mode.PARCEL: "Parcel",
}
_MODE_SHORT_BY_NAME: dict[str, str] = {
    **{mode.value: short for mode, short in _MODE_SHORT_LABELS.items()},
    **{mode.label: short for mode, short in _MODE_SHORT_LABELS.items()},
}


@register.filter
def mode_short(mode_or_label: str) -> str:
    """The short name a narrow column shows beside the mode's icon, which tells ocean from road: Ocean FCL -> FCL,
    Parcel / courier -> Parcel. Takes the code or the label (the list's rows carry only the label)."""
    return _MODE_SHORT_BY_NAME.get(mode_or_label, mode_or_label)


@register.filter
def mode_label(mode: str) -> str:
    """A transport mode's name (ocean_fcl -> Ocean FCL), for values that are not a model's field (an import's
    preview); an unknown code is shown as it is."""
    return Mode(mode).label if mode in Mode.values else mode


@register.filter
def qty(value: Any, places: int = 3) -> str:
    """A quantity with thousands separators and no trailing zeros: 12500.500 -> 12,500.5."""
    return display.quantity(value, places)


@register.filter
def money(value: Any, currency: str = "") -> str:
    """`{{ order.declared_value_amount|money:order.declared_value_currency }}`: to the currency's minor unit."""
    return display.money(value, currency)


@register.filter
def container_type_label(code: str) -> str:
    """The plain name of a common ISO 6346 size-type code, e.g. 45G1 -> 40' high cube."""
    return _CONTAINER_TYPES.get(code, "")


@register.filter
def get_location(locations: dict[str, Any], code: Any) -> Any:
    """The Location for a code the person typed (spaces and case ignored), or None."""
    if not code or not isinstance(locations, dict):
        return None
    return locations.get(str(code).replace(" ", "").upper())


@register.filter
def saved_value(values: Any, name: str) -> str | None:
    """The saved order's value of an entry-form field that differs from what the form holds (after an edit
    conflict), or None: the field needs no hint."""
    return values.get(name) if isinstance(values, dict) else None


_CHARGEABLE_RULES = {
    "air": "Air: the greater of gross weight and volume at 1:6000 (167 kg per m³).",
    "road_ftl": "Road: the greater of gross weight and volume at 1:3000 (333 kg per m³).",
    "road_ltl": "Road: the greater of gross weight and volume at 1:3000 (333 kg per m³).",
    "parcel": "Parcel: the greater of gross weight and volume at 1:5000 (200 kg per m³).",
    "ocean_lcl": "LCL, weight or measure: 1 m³ counts as 1,000 kg.",
    "ocean_fcl": "FCL is charged per container; this is the gross weight.",
    "rail": "Rail is charged per unit; this is the gross weight.",
}


@register.filter
def chargeable_rule(mode: str) -> str:
    """How the mode turns weight and volume into chargeable weight (orders.cargo)."""
    return _CHARGEABLE_RULES.get(mode, "")
