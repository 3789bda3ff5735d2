"""ISO 4217 minor units (JPY 0, EUR 2, KWD 3): the one table orders and finance both read (DOMAIN.md §2.1, §2.6).

It lives here, in the lowest app that handles money: orders takes declared values and shows them, and finance (which
depends on orders, never the other way) rounds rates and charges with the same units.
"""

from __future__ import annotations

from decimal import Decimal
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


def decimal_places(currency: str) -> int:
    """How many decimals an amount of `currency` has: 0 for JPY, 2 for EUR, 3 for KWD."""
    exponent = minor_unit(currency).as_tuple().exponent
    assert isinstance(exponent, int)  # noqa: S101 - a minor unit is a finite power of ten, never NaN or infinity
    return -exponent


def amount_as_given(amount: Decimal, currency: str) -> Decimal:
    """A stored amount as OMS hands it on (the edit form, the API, a copied order): to its currency's minor unit and
    never fewer than two decimals, as every amount was before the column kept three: 150000.00 JPY, 12.00 EUR,
    1.234 KWD. The column's third decimal, written for a euro amount ("12.000"), would read two ways on the way back
    in (12,000 or 12)."""
    return amount.quantize(min(minor_unit(currency), CENT))
