"""Rate card builders shared by the finance and tracking tests."""

from __future__ import annotations

import datetime
from decimal import Decimal

from finance.models import RateBreak, RateCard, RateLine, RateZone, Surcharge
from finance.rating import PreparedCard
from finance.selectors import prepared_cards

D = Decimal


def rate_card(
    party,
    *,
    mode: str,
    currency: str = "EUR",
    name: str = "",
    lines=(),
    surcharges=(),
    effective_on=datetime.date(2026, 1, 1),
    expires_on=None,
    service_level: str = "",
    **extra,
) -> RateCard:
    """lines: dicts of RateLine fields plus `breaks` = [(from_quantity, rate), …]; surcharges: Surcharge fields."""
    card = RateCard.objects.create(
        name=name or f"{party.code} {mode} 2026",
        party=party,
        mode=mode,
        currency=currency,
        effective_on=effective_on,
        expires_on=expires_on,
        service_level=service_level,
        **extra,
    )
    for spec in lines:
        spec = dict(spec)
        breaks = spec.pop("breaks")
        line = RateLine.objects.create(card=card, **spec)
        RateBreak.objects.bulk_create(RateBreak(line=line, from_quantity=D(str(q)), rate=D(str(r))) for q, r in breaks)
    for spec in surcharges:
        Surcharge.objects.create(card=card, **spec)
    return card


def zone(carrier, code: str, *, countries=(), locations=()) -> RateZone:
    return RateZone.objects.create(
        carrier=carrier, code=code, name=code, countries=list(countries), locations=list(locations)
    )


def prepared(card: RateCard) -> PreparedCard:
    """The card as the ranking sees it (prefetched)."""
    return next(p for p in prepared_cards(modes=[card.mode]) if p.card.pk == card.pk)
