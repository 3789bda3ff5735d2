"""One cargo line of an order: pieces, package, weight, volume and dimensions, goods and HS code, air waybill, and
dangerous goods (UN number, class, packing group); its container fields are intake_containers'.

`_line` reads a raw line once, field by field, in the order of its rules (docs/decisions/0002, "Dangerous goods",
"Mode-specific identifiers"): it runs for every line of a 100,000-row file, so an absent optional field costs one
dictionary lookup and the HS list is read once per process.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from orders import identifiers
from orders.cargo import line_volume_m3
from orders.hs import hs_code_problem, load_hs_codes, normalize_hs_code
from orders.intake_containers import _CONTAINER_MODES, _container, _refuse_containers
from orders.intake_values import _decimal, _Errors, _integer, _str, _too_long
from orders.models import Mode, PackageType, PackingGroup

_PACKAGE_ALIASES = {label.lower(): value for value, label in PackageType.choices} | {
    "pallet": "PX", "pallets": "PX", "plt": "PX", "carton": "CT", "cartons": "CT", "ctn": "CT", "box": "BX",
    "boxes": "BX", "case": "CS", "crate": "CR", "drum": "DR", "bag": "BG", "bale": "BL", "roll": "RO",
    "package": "PK", "packages": "PK", "pkg": "PK", "envelope": "EN", "ibc": "WA", "piece": "PCE", "pcs": "PCE",
}  # fmt: skip
# Choice lists, built once: TextChoices.values rebuilds its list on every access, and a 100,000-row
# import asks for them on every line.
_PACKAGE_CODES, _PACKING_GROUPS = frozenset(PackageType.values), frozenset(PackingGroup.values)
# The largest value each column holds (a value must stay below the limit: NUMERIC(12, 4) holds less than 10**8).
# A larger value is a field error here, never a database error on save.
_WEIGHT_LIMIT = (Decimal(10) ** 9, "1,000,000,000")  # CargoLine.gross_weight_kg NUMERIC(12, 3)
_VOLUME_LIMIT = (Decimal(10) ** 8, "100,000,000")  # CargoLine.volume_m3 NUMERIC(12, 4)
_LENGTH_LIMIT = (Decimal(10) ** 7, "10,000,000")  # CargoLine.length_cm and the others, NUMERIC(8, 1)
_OPTIONAL_LINE_NUMBERS = (
    ("volume_m3", 4, _VOLUME_LIMIT), ("length_cm", 1, _LENGTH_LIMIT), ("width_cm", 1, _LENGTH_LIMIT),
    ("height_cm", 1, _LENGTH_LIMIT),
)  # fmt: skip
_LINE_DESCRIPTION_LIMIT = 300


@cache
def hs_codes() -> dict[str, str]:
    return load_hs_codes()


@lru_cache(maxsize=4096)
def _hs_code(text: str) -> tuple[str, str | None]:
    """(normalised code, problem) of a declared HS code; memoised: a file repeats the same few codes."""
    problem = hs_code_problem(text, hs_codes())
    return ("", problem + ".") if problem else (normalize_hs_code(text), None)


def _line(raw: Mapping[str, Any], prefix: str, mode: str, order_description: str, errors: _Errors) -> dict[str, Any]:
    get = raw.get
    line: dict[str, Any] = {
        "pieces": _integer(get("pieces"), prefix + "pieces", errors),
        "gross_weight_kg": _decimal(
            get("gross_weight_kg"), prefix + "gross_weight_kg", errors, places=3, limit=_WEIGHT_LIMIT, required=True
        ),
        "volume_m3": None, "length_cm": None, "width_cm": None, "height_cm": None,
    }  # fmt: skip
    # Optional numbers: an absent or empty value costs one lookup.
    for name, places, limit in _OPTIONAL_LINE_NUMBERS:
        value = get(name)
        if value is not None and value != "":
            line[name] = _decimal(value, prefix + name, errors, places=places, limit=limit)
    if line["volume_m3"] is None and line["height_cm"] is not None:  # measured by its dimensions only
        volume = line_volume_m3(line)
        if volume >= _VOLUME_LIMIT[0]:
            most = _VOLUME_LIMIT[1]
            message = f"The dimensions give a volume of {volume:,.0f} m³; a cargo line holds less than {most} m³."
            errors.add(prefix + "volume_m3", message)
    own_description = _str(get("description"))
    description = own_description or order_description
    if not description:
        errors.add(prefix + "description", "Describe the goods, e.g. 'Machine parts'.")
    elif len(own_description) > _LINE_DESCRIPTION_LIMIT:  # the order's own description is checked with the order
        errors.add(prefix + "description", _too_long(own_description, _LINE_DESCRIPTION_LIMIT))
    line["description"] = description

    package = _str(get("package_type"))
    line["package_type"] = PackageType.PACKAGE
    if package:
        upper = package.upper()
        code = upper if upper in _PACKAGE_CODES else _PACKAGE_ALIASES.get(package.lower())
        if code is None:
            errors.add(
                prefix + "package_type",
                f"{package} is not a package type we know, e.g. PX (pallet), CT (carton).",
            )
        else:
            line["package_type"] = code

    hs_code = _str(get("hs_code"))
    line["hs_code"] = ""
    if hs_code:
        line["hs_code"], problem = _hs_code(hs_code)
        if problem:
            errors.add(prefix + "hs_code", problem)

    line["container_number"] = line["container_type"] = ""
    line["seal_numbers"] = []
    if mode and mode not in _CONTAINER_MODES:
        _refuse_containers(raw, prefix, mode, errors)
    else:
        _container(raw, prefix, line, errors)

    awb = _str(get("awb_number"))
    line["awb_number"] = ""
    if awb:
        problem = identifiers.awb_number_problem(awb)
        if problem:
            errors.add(prefix + "awb_number", problem)
        else:
            line["awb_number"] = identifiers.normalize_awb_number(awb)
        if mode and mode != Mode.AIR:
            errors.add(prefix + "awb_number", "Air waybill numbers belong on air orders.")

    un_number, dg_class, packing_group = (
        _str(get("un_number")),
        _str(get("dg_class")).upper(),
        _str(get("packing_group")),
    )
    line["un_number"] = line["dg_class"] = line["packing_group"] = ""
    if un_number:
        problem = identifiers.un_number_problem(un_number)
        if problem:
            errors.add(prefix + "un_number", problem)
        else:
            line["un_number"] = un_number.upper().removeprefix("UN").strip()
        if not dg_class:
            errors.add(prefix + "dg_class", "Dangerous goods need their class, e.g. 3.")
    if dg_class:
        problem = identifiers.dg_class_problem(dg_class)
        if problem:
            errors.add(prefix + "dg_class", problem)
        line["dg_class"] = dg_class
        if not un_number:
            errors.add(prefix + "un_number", "A dangerous-goods class needs the UN number too, e.g. 1203.")
    if packing_group:
        group = packing_group.upper().replace("PG", "").strip()
        if group not in _PACKING_GROUPS:
            errors.add(prefix + "packing_group", f"{packing_group} is not a packing group: use I, II or III.")
        elif not un_number and not dg_class:  # with a class alone, the UN number's own error says what is missing
            errors.add(
                prefix + "packing_group", "A packing group needs the UN number and class too, e.g. 1203 / 3 / II."
            )
        elif dg_class in identifiers.DG_CLASSES:  # an unknown class has its own error
            problem = identifiers.packing_group_problem(dg_class=dg_class, packing_group=group)
            if problem:
                errors.add(prefix + "packing_group", problem)
        line["packing_group"] = group
    return line
