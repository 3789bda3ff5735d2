"""Money in templates: an amount to its currency's ISO 4217 minor unit (finance/money.py), never a fixed two."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from finance.money import money_round, money_text

register = template.Library()


@register.filter
def money_in(amount: Any, currency: str) -> str:
    """`{{ booking.quoted_amount|money_in:booking.quoted_currency }}` → 1,234.567 (KWD), 61,853 (JPY), 1,250.00 (EUR).

    Rounded half up to the minor unit, as finance rates (decision 0005): a carrier told "KWD 1,234.57" for an agreed
    1,234.567 is told another price. Thousands are separated with a comma whatever the locale, as in the rest of
    the money the app shows. An amount that rounds to nothing is 0.00, never "-0.00" (Decimal keeps the sign of a
    negative zero). No amount is shown as "—"; a value that is no number as it is.
    """
    if amount is None or amount == "":
        return "—"
    try:
        number = amount if isinstance(amount, Decimal) else Decimal(str(amount))
        rounded = money_round(number, str(currency or ""))
        return money_text(abs(rounded) if rounded.is_zero() else rounded, str(currency or ""))
    except (InvalidOperation, ValueError):
        return str(amount)
