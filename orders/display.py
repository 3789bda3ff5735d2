"""How an order's quantities and money read, wherever the screens show them: its page, the list and its history
(the template filters `qty` and `money` in orders/templatetags/order_tags.py are these)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.formats import number_format

from orders.currencies import decimal_places, minor_unit

EMPTY = "—"  # what an empty value reads as, in every cell of the order screens


def quantity(value: Any, places: int = 3) -> str:
    """A quantity with thousands separators and no trailing zeros: 12500.500 -> 12,500.5."""
    if value is None or value == "":
        return EMPTY
    try:
        number = Decimal(str(value) if isinstance(value, float) else value).quantize(Decimal(1).scaleb(-int(places)))
    except (InvalidOperation, ValueError, TypeError):
        return str(value)
    text = f"{number:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def money(value: Any, currency: str = "") -> str:
    """An amount to its currency's ISO 4217 minor unit, with thousands separators: 1500000 JPY -> 1,500,000,
    1234567.8 EUR -> 1,234,567.80, 1234.567 KWD -> 1,234.567 (DOMAIN.md §2.6: rounded only when shown, half up as
    finance rounds). Without a currency (or with one ISO 4217 gives no minor unit) two decimals."""
    if value is None or value == "":
        return EMPTY
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        rounded = number.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError):
        return str(value)
    return number_format(
        abs(rounded) if rounded.is_zero() else rounded, decimal_pos=decimal_places(currency), force_grouping=True
    )
