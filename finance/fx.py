"""Currency conversion for comparing offers, from ExchangeRate rows loaded once (one query)."""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Iterable
from decimal import Decimal

from finance.models import ExchangeRate
from finance.money import money_round


class FxTable:
    """The latest rate on or before a day for each currency pair; inverse and cross rates via any one hop."""

    def __init__(self, rates: Iterable[ExchangeRate]) -> None:
        self._pairs: dict[tuple[str, str], tuple[list[datetime.date], list[Decimal]]] = {}
        self._memo: dict[tuple[str, str, datetime.date], Decimal | None] = {}  # rankings ask the same few pairs
        for row in sorted(rates, key=lambda r: r.rate_on):
            self._add(row.base_currency, row.quote_currency, row.rate_on, row.rate)
            self._add(row.quote_currency, row.base_currency, row.rate_on, 1 / row.rate)

    def _add(self, base: str, quote: str, day: datetime.date, rate: Decimal) -> None:
        days, values = self._pairs.setdefault((base, quote), ([], []))
        days.append(day)
        values.append(rate)

    def _direct(self, base: str, quote: str, on: datetime.date) -> Decimal | None:
        found = self._pairs.get((base, quote))
        if not found:
            return None
        days, values = found
        index = bisect.bisect_right(days, on) - 1
        return values[index] if index >= 0 else None

    def rate(self, base: str, quote: str, on: datetime.date) -> Decimal | None:
        """How many `quote` one `base` buys on `on`, or None when no rate is known."""
        key = (base, quote, on)
        if key not in self._memo:
            self._memo[key] = self._lookup(base, quote, on)
        return self._memo[key]

    def _lookup(self, base: str, quote: str, on: datetime.date) -> Decimal | None:
        if base == quote:
            return Decimal(1)
        direct = self._direct(base, quote, on)
        if direct is not None:
            return direct
        for (start, middle), _ in self._pairs.items():
            if start != base:
                continue
            first, second = self._direct(base, middle, on), self._direct(middle, quote, on)
            if first is not None and second is not None:
                return first * second
        return None

    def convert(self, amount: Decimal, base: str, quote: str, on: datetime.date) -> Decimal | None:
        """`amount` of `base` in `quote`, rounded to the minor unit of `quote`; None when no rate is known."""
        rate = self.rate(base, quote, on)
        return None if rate is None else money_round(amount * rate, quote)


def fx_table_load(*, currencies: Iterable[str] | None = None) -> FxTable:
    """Every exchange rate (optionally only between these currencies), in one query."""
    rows = ExchangeRate.objects.all()
    if currencies is not None:
        wanted = sorted(set(currencies))
        rows = rows.filter(base_currency__in=wanted, quote_currency__in=wanted)
    return FxTable(rows)
