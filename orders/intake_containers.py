"""A cargo line's container, ISO size-type and seals, and the order's equipment made of them.

Containers are accepted on the modes whose orders book the customer's own boxes (ocean FCL and rail), and refused on
each container field given on any other mode (docs/decisions/0002, "Mode-specific identifiers"). `_equipment` makes one
row per container the lines name, with its seals kept on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orders import identifiers
from orders.intake_values import _Errors, _str
from orders.models import Mode

# The modes whose orders bring their own containers (number, ISO type, seals): a whole box booked for the customer.
# An LCL order's cargo goes in the consolidator's box, which planning puts on the shipment; air, road and parcel
# carry none of the customer's. An Equipment row on such an order would be planned as the order's own box
# (tracking.services.planning) and counted as one by ranking, which reads equipment on FCL and rail orders only.
_CONTAINER_MODES = frozenset({Mode.OCEAN_FCL, Mode.RAIL})
_CONTAINER_FIELDS = ("container_number", "container_type", "seal_numbers")
# Seals: a cargo line names at most this many, each at most as long as Equipment.seal_numbers holds.
MAX_SEALS_PER_LINE = 5
SEAL_LENGTH_LIMIT = 20
_SEALS_SHAPE = "Give the seal numbers as text separated by commas, or as a list of texts."


def _container(raw: Mapping[str, Any], prefix: str, line: dict[str, Any], errors: _Errors) -> None:
    """A line's container number, ISO size-type and seals, on an order whose mode carries the customer's boxes."""
    container = _str(raw.get("container_number"))
    if container:
        problem = identifiers.container_number_problem(container)
        if problem:
            errors.add(prefix + "container_number", problem)
        else:
            line["container_number"] = identifiers.normalize_container_number(container)
    container_type = _str(raw.get("container_type")).upper()
    if container_type:
        problem = identifiers.iso_size_type_problem(container_type)
        if problem:
            errors.add(prefix + "container_type", problem)
        line["container_type"] = container_type
    seals = raw.get("seal_numbers")
    if seals is not None and seals != "":
        line["seal_numbers"] = _seals(seals, prefix + "seal_numbers", errors)


def _refuse_containers(raw: Mapping[str, Any], prefix: str, mode: str, errors: _Errors) -> None:
    """On an order whose mode carries none of the customer's containers, each container field given is an error:
    one message, for the box does not belong here whatever its number's check digit says."""
    why = ": the consolidator's box is planned on the shipment" if mode == Mode.OCEAN_LCL else ""
    message = f"Containers belong on Ocean FCL or Rail orders, not {Mode(mode).label}{why}."
    for name in _CONTAINER_FIELDS:
        value = raw.get(name)
        if value if isinstance(value, list | tuple) else _str(value):  # seals may come as a list
            errors.add(prefix + name, message)


def _seals(raw: Any, name: str, errors: _Errors) -> list[str]:
    """A line's seal numbers, from text separated by commas (or semicolons) or a list of texts. Too many or
    too long is an error, never cut: a seal number that differs from the one on the box is worthless."""
    if type(raw) is str:
        parts: Any = raw.replace(";", ",").split(",")
    elif isinstance(raw, list | tuple) and all(type(part) is str for part in raw):
        parts = raw
        if name in errors:  # a NUL or a lone surrogate in one of them (intake._refuse_unstorable_values)
            return []
    else:
        errors.add(name, _SEALS_SHAPE)
        return []
    seals = [seal.upper() for part in parts if (seal := part.strip())]
    if len(seals) > MAX_SEALS_PER_LINE:
        errors.add(
            name, f"A cargo line can name at most {MAX_SEALS_PER_LINE} seal numbers (this one has {len(seals)})."
        )
    for seal in seals:
        if len(seal) > SEAL_LENGTH_LIMIT:
            errors.add(name, f"{seal} is not a seal number: use at most {SEAL_LENGTH_LIMIT} characters.")
    return seals


def _line_prefix(line: Mapping[str, Any]) -> str:
    """How errors name a clean line's fields: by the raw line's index (intake._lines skips a line that is no object)."""
    return f"lines[{line['line_no'] - 1}]."


def _equipment(lines: list[dict[str, Any]], errors: _Errors) -> list[dict[str, Any]]:
    """One row per container named on the lines (and one per typed but unnumbered line). Seals are kept on their
    container, so seals on a line that names none are an error: there is nothing to keep them on."""
    boxes: dict[str, dict[str, Any]] = {}
    unnumbered = []
    for line in lines:
        number, iso_type, seals = (
            line["container_number"],
            line.pop("container_type"),
            line.pop("seal_numbers"),
        )
        if not number and not iso_type:
            if seals:
                prefix = _line_prefix(line)
                if prefix + "container_number" not in errors:  # a refused number has its own error
                    errors.add(prefix + "seal_numbers", "Seal numbers need a container number or type.")
            continue
        if not number:
            unnumbered.append({"container_number": "", "iso_type": iso_type, "seal_numbers": seals})
            continue
        box = boxes.setdefault(number, {"container_number": number, "iso_type": iso_type, "seal_numbers": []})
        if iso_type and box["iso_type"] and iso_type != box["iso_type"]:
            errors.add(_line_prefix(line) + "container_type", f"{number} is already given as a {box['iso_type']}.")
        box["iso_type"] = box["iso_type"] or iso_type
        box["seal_numbers"] = sorted({*box["seal_numbers"], *seals})
    for box in boxes.values():
        if not box["iso_type"]:
            box["iso_type"] = "22G1"
    return [*boxes.values(), *unnumbered]
