"""Money amounts rounded to their currency's minor unit, as ISO 4217 defines it (JPY 0, EUR 2, KWD 3).

The minor units themselves are read in orders/currencies.py, the lowest app that handles money, so that an order's
declared value and finance's charges are shown and rounded alike.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from orders.currencies import decimal_places, minor_unit

__all__ = ["minor_unit", "money_round", "money_text", "number_text"]


def money_round(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half up to the minor unit of `currency` (61852.5 JPY → 61853)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def money_text(amount: Decimal, currency: str) -> str:
    """`amount` for people: thousands separated, as many decimals as the currency has (61,853 JPY, 1,250.00 EUR)."""
    return f"{amount:,.{decimal_places(currency)}f}"


def number_text(value: Decimal) -> str:
    """A rate or quantity for people: thousands separated, no trailing zeros, never an exponent (1,420 and 2.294).

    `Decimal.normalize()` alone strips the zeros of 1420.0000 by writing 1.42E+3, which a rate card must never show.
    """
    return f"{value.normalize():,f}"
