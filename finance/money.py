"""Money amounts rounded to their currency's minor unit, as ISO 4217 defines it (JPY 0, EUR 2, KWD 3)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from iso4217 import Currency

CENT = Decimal("0.01")


@cache
def minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency`: Decimal("1") for JPY, "0.01" for EUR, "0.001" for KWD.

    ISO 4217 gives no minor unit for some X codes (gold XAU, test XTS) and none at all for a code it
    does not list; those keep two decimals, as every amount did before minor units were read.
    """
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        return CENT
    return CENT if exponent is None else Decimal(1).scaleb(-exponent)


def money_round(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half up to the minor unit of `currency` (61852.5 JPY → 61853)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def money_text(amount: Decimal, currency: str) -> str:
    """`amount` for people: thousands separated, as many decimals as the currency has (61,853 JPY, 1,250.00 EUR)."""
    exponent = minor_unit(currency).as_tuple().exponent
    assert isinstance(exponent, int)  # noqa: S101 - a minor unit is a finite power of ten, never NaN or infinity
    return f"{amount:,.{-exponent}f}"


def number_text(value: Decimal) -> str:
    """A rate or quantity for people: thousands separated, no trailing zeros, never an exponent (1,420 and 2.294).

    `Decimal.normalize()` alone strips the zeros of 1420.0000 by writing 1.42E+3, which a rate card must never show.
    """
    return f"{value.normalize():,f}"
