"""Identifier checks (DOMAIN.md §2): each returns a message a person understands, or None when fine."""

from __future__ import annotations

import re

from stdnum import iso6346

UNLOCODE_RE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
# size code (length, height/width) + type code (group letter, detail digit), e.g. 22G1, 45G1, L5R1
ISO_SIZE_TYPE_RE = re.compile(r"^[1-9A-R][0-9C-FL-P][A-Z][0-9]$")
UN_NUMBER_RE = re.compile(r"^\d{4}$")
DG_CLASS_RE = re.compile(r"^[1-9](\.[1-6][A-L]?)?$")


def normalize_container_number(value: str) -> str:
    return re.sub(r"[\s\-/]", "", value).upper()


def container_number_problem(value: str) -> str | None:
    """ISO 6346: owner code (3 letters) + category U, J or Z + 6-digit serial + check digit."""
    number = normalize_container_number(value)
    if not re.fullmatch(r"[A-Z]{3}[UJZ]\d{7}", number):
        return (
            f"{value} is not a container number: it needs 4 letters (owner code ending in U, J or Z) "
            "and 7 digits, e.g. CSQU3054383."
        )
    expected = iso6346.calc_check_digit(number[:10])
    if number[10] != expected:
        return f"{number} fails the ISO 6346 check digit: the last digit should be {expected}. Check for a typo."
    return None


def normalize_awb_number(value: str) -> str:
    return re.sub(r"[\s\-]", "", value)


def awb_number_problem(value: str) -> str | None:
    """IATA air waybill: 3-digit airline prefix + 7-digit serial + check digit (serial mod 7)."""
    digits = normalize_awb_number(value)
    if not re.fullmatch(r"\d{11}", digits):
        return f"{value} is not an air waybill number: it needs 11 digits, e.g. 020-1234567 5."
    expected = int(digits[3:10]) % 7
    if int(digits[10]) != expected:
        number = f"{digits[:3]}-{digits[3:10]} {digits[10]}"
        return f"{number} fails the AWB check (serial mod 7): the last digit should be {expected}."
    return None


def unlocode_shape_problem(value: str) -> str | None:
    if not UNLOCODE_RE.fullmatch(value):
        return f"{value} is not a UN/LOCODE: use the country code and 3 letters or digits 2-9, e.g. DEHAM."
    return None


def iso_size_type_problem(value: str) -> str | None:
    if not ISO_SIZE_TYPE_RE.fullmatch(value):
        return f"{value} is not an ISO 6346 size-type code, e.g. 22G1 (20' general purpose) or 45G1 (40' high cube)."
    return None


def un_number_problem(value: str) -> str | None:
    digits = value.upper().removeprefix("UN").strip()
    if not UN_NUMBER_RE.fullmatch(digits):
        return f"{value} is not a UN number: use 4 digits, e.g. 1203 (or UN1203)."
    return None


def dg_class_problem(value: str) -> str | None:
    if not DG_CLASS_RE.fullmatch(value):
        return f"{value} is not a dangerous-goods class: use 1 to 9 with an optional division, e.g. 3 or 2.1."
    return None
