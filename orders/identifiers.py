"""Identifier checks (DOMAIN.md §2): each returns a message a person understands, or None when fine.

They run for every cargo line of a 100,000-row file, so the patterns are compiled once and the ISO 6346
check digit is computed here from a table (python-stdnum's general-purpose version cleans and re-validates
its input on each call, about ten times slower); tests compare the two over many numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

UNLOCODE_RE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
# size code (length, height/width) + type code (group letter, detail digit), e.g. 22G1, 45G1, L5R1
ISO_SIZE_TYPE_RE = re.compile(r"^[1-9A-R][0-9C-FL-P][A-Z][0-9]$")
UN_NUMBER_RE = re.compile(r"^[0-9]{4}$")
# The Dangerous Goods List of the UN Model Regulations numbers its entries from UN0004; recent editions end in the
# 3500s. Numbers outside 0004-3600 name no entry (UN0000 is a placeholder, never goods); the headroom up to 3600
# keeps an entry a new edition adds from being refused before OMS learns it. A lookup in the list itself (DOMAIN.md
# §2.1) would also refuse the gaps inside the range: OMS has no copy of the list yet.
UN_NUMBERS = range(4, 3601)
# Goods the UN Model Regulations (2.0.1.3) assign no packing group, by class or division. Division 6.2 is left out:
# ADR gives UN3291 (clinical waste) packing group II.
_WITHOUT_PACKING_GROUP = (
    ("1", "Explosives (class 1)"),
    ("2", "Gases (class 2)"),
    ("5.2", "Organic peroxides (division 5.2)"),
    ("7", "Radioactive material (class 7)"),
)
# Dangerous-goods classes as the Dangerous Goods List writes them (UN Model Regulations 2.0 and 2.1.2.4; IMDG Code,
# IATA DGR and DCSA `imoClass` alike). Class 1 is written with its division and compatibility group, and only the 35
# pairs of the classification table exist (1.4S, never 1.4A). Classes 2, 4, 5 and 6 are written with their division;
# 3, 7, 8 and 9 have none.
_EXPLOSIVE_GROUPS = {
    "1.1": "ABCDEFGJL",
    "1.2": "BCDEFGHJKL",
    "1.3": "CFGHJKL",
    "1.4": "BCDEFGS",
    "1.5": "D",
    "1.6": "N",
}
_DIVISIONS = {"2": ("2.1", "2.2", "2.3"), "4": ("4.1", "4.2", "4.3"), "5": ("5.1", "5.2"), "6": ("6.1", "6.2")}
DG_CLASSES = frozenset(
    {division + group for division, groups in _EXPLOSIVE_GROUPS.items() for group in groups}
    | {division for divisions in _DIVISIONS.values() for division in divisions}
    | {"3", "7", "8", "9"}
)


_CONTAINER_NOISE_RE = re.compile(r"[\s\-/]")
# ASCII digits only (`\d` would also match Arabic-Indic and other scripts' digits, which int() reads
# but no carrier, customs system or database column of ours expects).
_CONTAINER_RE = re.compile(r"[A-Z]{3}[UJZ][0-9]{7}")
# ISO 6346 letter values: A=10 upwards, skipping the multiples of 11 (11, 22, 33).
_ISO6346_VALUES = {char: value for value, char in enumerate("0123456789A BCDEFGHIJK LMNOPQRSTU VWXYZ") if char != " "}
_AWB_NOISE_RE = re.compile(r"[\s\-]")
_AWB_RE = re.compile(r"[0-9]{11}")
# A flight number (IATA Resolution 762 / AIRIMP): the airline's 2-character IATA designator (letters or digits, not
# two digits: "LH", "U2", "9W") or its 3-letter ICAO code ("DLH"), then 1 to 4 digits and an optional operational
# suffix letter. Stored without spaces or hyphens, as carriers and the demo data write it ("LH8210").
_FLIGHT_NOISE_RE = re.compile(r"[\s\-]")
FLIGHT_NUMBER_RE = re.compile(r"(?P<airline>[A-Z][A-Z0-9]|[0-9][A-Z]|[A-Z]{3})(?P<number>[0-9]{1,4})(?P<suffix>[A-Z]?)")


def normalize_container_number(value: str) -> str:
    return _CONTAINER_NOISE_RE.sub("", value).upper()


def iso6346_check_digit(body: str) -> str:
    """The check digit of an owner code, category and serial (10 characters, upper case, digits 0-9)."""
    values = _ISO6346_VALUES
    return str(sum(values[char] << position for position, char in enumerate(body)) % 11 % 10)


def container_number_problem(value: str) -> str | None:
    """ISO 6346: owner code (3 letters) + category U, J or Z + 6-digit serial + check digit."""
    number = normalize_container_number(value)
    if not _CONTAINER_RE.fullmatch(number):
        return (
            f"{value} is not a container number: it needs 4 letters (owner code ending in U, J or Z) "
            "and 7 digits, e.g. CSQU3054383."
        )
    expected = iso6346_check_digit(number[:10])
    if number[10] != expected:
        return f"{number} fails the ISO 6346 check digit: the last digit should be {expected}. Check for a typo."
    return None


def normalize_awb_number(value: str) -> str:
    return _AWB_NOISE_RE.sub("", value)


def awb_number_problem(value: str) -> str | None:
    """IATA air waybill: 3-digit airline prefix + 7-digit serial + check digit (serial mod 7)."""
    digits = normalize_awb_number(value)
    if not _AWB_RE.fullmatch(digits):
        return f"{value} is not an air waybill number: it needs 11 digits, e.g. 020-1234567 5."
    expected = int(digits[3:10]) % 7
    if int(digits[10]) != expected:
        number = f"{digits[:3]}-{digits[3:10]} {digits[10]}"
        return f"{number} fails the AWB check (serial mod 7): the last digit should be {expected}."
    return None


def normalize_flight_number(value: str) -> str:
    """A flight number as carriers write it: "lh 8210" and "LH-8210" are LH8210."""
    return _FLIGHT_NOISE_RE.sub("", value).upper()


def flight_number_problem(value: str) -> str | None:
    """Airline designator (IATA 2 characters or ICAO 3 letters) + 1 to 4 digits + at most one suffix letter, typed
    in any case, with or without spaces ("lh 8210"). "LH 8210 XX" is refused, not cut to its first characters: a
    flight cut short is one no one can trace."""
    if not FLIGHT_NUMBER_RE.fullmatch(normalize_flight_number(value)):
        return (
            f"{value} is not a flight number: give the airline's 2-character IATA code (or 3-letter ICAO code), "
            "then 1 to 4 digits and at most one letter, e.g. LH8210 or LH 8210."
        )
    return None


def unlocode_shape_problem(value: str, *, written: str = "") -> str | None:
    """Why `value` is no UN/LOCODE, naming it as `written` when given (the text as the person typed it)."""
    if not UNLOCODE_RE.fullmatch(value):
        return f"{written or value} is not a UN/LOCODE: use the country code and 3 letters or digits 2-9, e.g. DEHAM."
    return None


def iso_size_type_problem(value: str) -> str | None:
    if not ISO_SIZE_TYPE_RE.fullmatch(value):
        return f"{value} is not an ISO 6346 size-type code, e.g. 22G1 (20' general purpose) or 45G1 (40' high cube)."
    return None


def un_number_problem(value: str) -> str | None:
    digits = value.upper().removeprefix("UN").strip()
    if not UN_NUMBER_RE.fullmatch(digits):
        return f"{value} is not a UN number: use 4 digits, e.g. 1203 (or UN1203)."
    if int(digits) not in UN_NUMBERS:
        return (
            f"UN{digits} is no entry of the UN Dangerous Goods List, which runs from UN0004 to the 3500s: "
            "check the number on the safety data sheet, e.g. 1203."
        )
    return None


def packing_group_problem(*, dg_class: str, packing_group: str) -> str | None:
    """A packing group given for goods that have none (_WITHOUT_PACKING_GROUP); `dg_class` a valid class."""
    for written, goods in _WITHOUT_PACKING_GROUP:
        if packing_group and (dg_class == written or dg_class.startswith(f"{written}.")):
            return f"{goods} have no packing group: leave it empty."
    return None


def _one_of(options: Sequence[str]) -> str:
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


def dg_class_problem(value: str) -> str | None:
    """A class or division of the Dangerous Goods List (DG_CLASSES); upper case, as intake passes it."""
    if value in DG_CLASSES:
        return None
    if value == "1" or value in _EXPLOSIVE_GROUPS:
        return f"Class 1 is written with its division and compatibility group, e.g. 1.4S (not {value})."
    division, group = value[:3], value[3:]
    if len(group) == 1 and division in _EXPLOSIVE_GROUPS:
        groups = _one_of(_EXPLOSIVE_GROUPS[division])
        return f"{value} is not an explosives classification: division {division} takes compatibility group {groups}."
    if value in _DIVISIONS:
        return f"Class {value} is written with its division: {_one_of(_DIVISIONS[value])}."
    return (
        f"{value} is not a dangerous-goods class: use 3, 7, 8 or 9, a division (2.1-2.3, 4.1-4.3, 5.1, 5.2, 6.1, 6.2), "
        "or for class 1 its division and compatibility group, e.g. 1.4S."
    )
