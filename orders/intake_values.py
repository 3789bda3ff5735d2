"""Reading one raw value of an order or a cargo line: text, whole and decimal numbers, dates, choices, and an amount
no finer than its currency's minor unit.

Every reader takes the raw value as a channel sent it (text from a file or a form, JSON numbers, Python dates), and
returns the clean value or None with its error added to `_Errors`, the errors of one validation by field, which also
carries how that validation reads numbers (a file written with semicolons: `points_may_group_thousands`). The rules
for numbers are docs/decisions/0002, "Decimal comma, thousands". Pure functions of the value: nothing here reads the
database.
"""

from __future__ import annotations

import calendar
import datetime
import re
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from orders.currencies import decimal_places

_REQUIRED = "This field is required."
# The step of each number of decimal places a column keeps.
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in range(5)}


def _too_long(value: str, limit: int) -> str:
    return f"Use at most {limit} characters (this value has {len(value)})."


@cache
def _lowered(choices: tuple[str, ...]) -> dict[str, str]:
    return {option.lower(): option for option in choices}


class _Errors:
    """The errors of one validation, by field; it also carries how that validation reads numbers."""

    def __init__(self, *, points_may_group_thousands: bool = False) -> None:
        self.by_field: dict[str, list[str]] = {}
        self.points_may_group_thousands = points_may_group_thousands
        self.unreadable: set[str] = set()  # fields whose value is no single value: their one message says so

    def add(self, name: str, message: str) -> None:
        if name not in self.unreadable:
            self.by_field.setdefault(name, []).append(message)

    def unreadable_value(self, name: str, message: str) -> None:
        self.add(name, message)
        self.unreadable.add(name)

    def __contains__(self, name: str) -> bool:
        return name in self.by_field


def _str(value: Any) -> str:
    """A raw value as stripped text ("" for None)."""
    if type(value) is str:
        return value.strip()
    return "" if value is None else str(value).strip()


# How a number may be written. A point alone is the decimal point (as in ISO 80000, JSON and every system
# that sends us data); a comma alone is a decimal comma (as Excel writes in much of Europe), except in the one
# shape that is also a thousands separator, "1,000", which is refused rather than guessed: a weight read as
# 1 kg instead of 1,000 kg is worse than an error (except in a file written with semicolons, where the comma is
# the decimal mark and "1,000" reads as 1). With both marks the last one is the decimal mark and the
# other groups thousands in threes ("12,500.00", "12.500,00"); several commas alone group thousands
# ("1,000,000"). Spaces, no-break spaces and thin spaces group thousands too ("1 000,5"). In a file written
# with semicolons (Excel's choice where the comma is the decimal mark) "1.500" is refused too: there a point
# before three digits may group thousands (validate_order's `points_may_group_thousands`). Whole numbers are
# never written with a point before three digits ("10.000 pieces"), so that shape is refused for them. Only the
# digits 0-9 are read, and at most MAX_NUMBER_LENGTH characters.
MAX_NUMBER_LENGTH = 40
_PLAIN_NUMBER = re.compile(r"[0-9]*(?:\.[0-9]*)?")  # no nested repetition: linear on any input
_GROUP_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")
_ONE_COMMA_GROUP = re.compile(r"[1-9][0-9]{0,2},[0-9]{3}")
_POINT_GROUPS = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+")
_COMMA_GROUPS = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3}){2,}")
_COMMA_GROUPS_POINT = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3})+\.[0-9]+")
_POINT_GROUPS_COMMA = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+,[0-9]+")
_AMBIGUOUS = "ambiguous"


def _separators_read(text: str, *, comma_is_decimal: bool = False) -> str:
    """Text with thousands separators dropped and a decimal comma made a point; _AMBIGUOUS for "1,000" unless the
    comma is known to be the decimal mark (a semicolon file); other text as it came (Decimal then reads it, e.g.
    "1e3", or refuses it)."""
    text = text.translate(_GROUP_SPACES)
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    if "," not in digits:
        return text
    if _ONE_COMMA_GROUP.fullmatch(digits):
        return sign + digits.replace(",", ".") if comma_is_decimal else _AMBIGUOUS
    if _COMMA_GROUPS.fullmatch(digits) or _COMMA_GROUPS_POINT.fullmatch(digits):
        return sign + digits.replace(",", "")
    if _POINT_GROUPS_COMMA.fullmatch(digits):
        return sign + digits.replace(".", "").replace(",", ".")
    if "." not in digits and digits.count(",") == 1:
        return sign + digits.replace(",", ".")
    return text


def _ambiguous_message(text: str, *, whole: bool = False) -> str:
    """For a single comma or point before three digits, as in "1,000", "1.500" or "10.000" (`whole`: in a column of
    whole numbers, where a decimal reading is no reading at all)."""
    mark = "," if "," in text else "."
    whole_part, part = text.translate(_GROUP_SPACES).lstrip("+").split(mark, 1)
    grouped = f"{whole_part}{part}".replace(mark, "")
    if mark in part:  # "1.500.000": no decimal reading, only separators a whole number does not take here
        return f"{text} reads as {grouped} with thousands separators: write it without them."
    if whole:
        return f"Write whole numbers without a thousands separator: {grouped}, not {text}."
    decimal = f"{whole_part}.{part}".rstrip("0").rstrip(".")
    return f"{text} could be {grouped} or {decimal}: write it without a thousands separator, with a point for decimals."


def _number_text(raw: Any, name: str, errors: _Errors, *, whole: bool) -> str | None:
    """The stripped text of a number, or None with the error added: empty (no error), too long, other digits
    than 0-9, or a separator that reads two ways."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    if len(text) > MAX_NUMBER_LENGTH:
        errors.add(name, f"Use at most {MAX_NUMBER_LENGTH} characters for a number.")
        return None
    if not text.isascii() and not text.translate(_GROUP_SPACES).isascii():  # no-break spaces may group thousands
        errors.add(name, f"{text} is not a number: use the digits 0-9.")
        return None
    if "." in text and "," not in text and (whole or errors.points_may_group_thousands):
        digits = text.translate(_GROUP_SPACES).lstrip("+")
        if _POINT_GROUPS.fullmatch(digits):
            errors.add(name, _ambiguous_message(text, whole=whole))
            return None
    return text


def _decimal(
    raw: Any,
    name: str,
    errors: _Errors,
    *,
    places: int,
    limit: tuple[Decimal, str],
    required: bool = False,
    too_fine: str | None = None,
) -> Decimal | None:
    """A positive number below `limit` with at most `places` decimals. `too_fine`: the message for a value with more
    decimals (then a value too large is told only its limit); else one message says both."""
    text = _number_text(raw, name, errors, whole=False)
    if text is None:
        if required and name not in errors:
            errors.add(name, _REQUIRED)
        return None
    if not _PLAIN_NUMBER.fullmatch(text):
        read = _separators_read(text, comma_is_decimal=errors.points_may_group_thousands)
        if read is _AMBIGUOUS:
            errors.add(name, _ambiguous_message(text))
            return None
        text = read
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.add(name, f"{raw} is not a number.")
        return None
    if not value.is_finite():
        errors.add(name, f"{raw} is not a number.")
        return None
    if value <= 0:
        errors.add(name, "Must be greater than zero.")
        return None
    # The limit first: quantizing a huge value would exceed Decimal's precision.
    if value >= limit[0] or value != value.quantize(_QUANTUM[places]):
        if too_fine is None:
            errors.add(name, f"Use at most {places} decimal places and a value below {limit[1]}.")
        else:
            errors.add(name, f"Use a value below {limit[1]}." if value >= limit[0] else too_fine)
        return None
    return value


def _integer(raw: Any, name: str, errors: _Errors) -> int | None:
    text = "" if raw is None else str(raw).strip()
    if len(text) < 19 and text.isascii() and text.isdigit():  # plain digits, as nearly every file has them
        value: int | Decimal = int(text)
    else:
        checked = _number_text(text, name, errors, whole=True)
        if checked is None:
            if name not in errors:
                errors.add(name, _REQUIRED)
            return None
        try:
            value = Decimal(checked)
        except InvalidOperation:
            errors.add(name, f"{raw} is not a whole number.")
            return None
        if not value.is_finite() or value != value.to_integral_value():
            errors.add(name, f"{raw} is not a whole number.")
            return None
    if value <= 0:
        errors.add(name, "Must be at least 1.")
        return None
    if value > 1_000_000:
        errors.add(name, "Must be at most 1,000,000.")
        return None
    return int(value)


# The declared value's column, Order.declared_value_amount NUMERIC(15, 3): the largest value it holds (a larger one is
# a field error, never a database error on save) and its decimals, those of the finest common currencies (KWD, BHD).
VALUE_LIMIT = (Decimal(10) ** 9, "1,000,000,000")
VALUE_PLACES = 3


def _declared_value(raw: Any, currency: str, errors: _Errors) -> Decimal | None:
    """A declared value no finer than its currency's ISO 4217 minor unit (`currency`: a known code, or "" when the
    currency is missing or unknown: then the column's decimals apply): no yen cents, no third decimal of a euro.

    A point before three digits in a currency with fewer decimals ("150.000" yen, "12.000" euros) can only be a
    decimal point if the amount is written finer than the currency goes; people who group thousands with a point
    write it so. Both readings are named and the amount refused, as "1,000" is: read as decimals it was stored a
    thousand times too small ("150.000" yen as 150). "0.500" and "1500.000" are no thousands groups, so read as
    written."""
    if not currency:
        return _decimal(raw, "declared_value", errors, places=VALUE_PLACES, limit=VALUE_LIMIT)
    places = decimal_places(currency)
    text = "" if raw is None else str(raw).strip()
    if places < 3 and "," not in text and _POINT_GROUPS.fullmatch(text.translate(_GROUP_SPACES).lstrip("+")):
        errors.add("declared_value", _ambiguous_message(text))
        return None
    return _decimal(raw, "declared_value", errors, places=min(places, VALUE_PLACES), limit=VALUE_LIMIT,
                    too_fine=_finer_than(currency, places))  # fmt: skip


@cache
def _finer_than(currency: str, places: int) -> str:
    if places == 0:
        return f"{currency} amounts have no decimals: give a whole amount."
    if places > VALUE_PLACES:  # CLF and UYW have 4
        kept = VALUE_PLACES
        return f"{currency} amounts have {places} decimals, but a declared value keeps {kept}: give at most {kept}."
    return f"{currency} amounts have {places} decimals: give at most {places} decimal places."


def _date(raw: Any, name: str, errors: _Errors, *, required: bool) -> datetime.date | None:
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    text = "" if raw is None else str(raw).strip()
    if not text:
        if required:
            errors.add(name, _REQUIRED)
        return None
    try:
        if len(text) > 10:  # a date with its time, as spreadsheets and the workbook copy write it
            return datetime.datetime.fromisoformat(text).date()
        return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    dotted = _DOTTED_DATE.fullmatch(text)
    if dotted is not None:
        try:
            return datetime.date(int(dotted["year"]), int(dotted["month"]), int(dotted["day"]))
        except ValueError:
            pass
    shaped = dotted or _ISO_DATE_SHAPE.fullmatch(text)
    missing = _missing_day(int(shaped["year"]), int(shaped["month"]), int(shaped["day"])) if shaped else None
    errors.add(name, f"{raw} is not a date: {missing or 'use YYYY-MM-DD, e.g. 2026-12-01'}.")
    return None


# Day.month.year with a four-digit year, as Excel writes a date cell into a CSV on a German, Austrian, Swiss, Polish,
# Czech, Nordic or Russian locale (14.12.2026): the dotted form is read day first everywhere it is written, so it has
# one reading. Slashed dates (12/07/2026: 12 July or 7 December?) and two-digit years stay refused.
_DOTTED_DATE = re.compile(r"(?P<day>[0-9]{1,2})\.(?P<month>[0-9]{1,2})\.(?P<year>[0-9]{4})")
# Year, month and day as ISO writes them: when such a value is refused, it is the month or the day that does not exist,
# and telling the user to write YYYY-MM-DD (as they did) would not say which.
_ISO_DATE_SHAPE = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})")


def _missing_day(year: int, month: int, day: int) -> str | None:
    """Why a date written in a shape we read names no day ("there is no month 13", "February 2027 has 28 days"), or
    None when its parts are possible (the shape itself was refused: a day we do not read without guessing)."""
    if not 1 <= month <= 12:
        return f"there is no month {month} (a year has 12)"
    if day == 0:
        return "there is no day 0 (days count from 1)"
    if year < datetime.MINYEAR:
        return None
    days = calendar.monthrange(year, month)[1]
    return f"{calendar.month_name[month]} {year} has {days} days" if day > days else None


def _choice(raw: str, name: str, errors: _Errors, choices: tuple[str, ...], example: str) -> str:
    found = _lowered(choices).get(raw.strip().lower())
    if found is not None:
        return found
    errors.add(name, f"{raw} is not one of {', '.join(choices)} (e.g. {example}).")
    return ""
