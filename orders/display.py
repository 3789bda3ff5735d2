"""How an order's quantities and money read, wherever the screens show them: its page, the list and its history
(the template filters `qty` and `money` in orders/templatetags/order_tags.py are these)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.formats import number_format

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


def money(value: Any) -> str:
    """An amount to the cent with thousands separators: 1234567.8 -> 1,234,567.80."""
    if value is None:
        return EMPTY
    return number_format(value, decimal_pos=2, force_grouping=True)
