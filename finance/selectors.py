"""Reads of rate cards, already prefetched: a constant number of queries whatever the number of lines."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from finance.fx import fx_table_load
from finance.models import RateBreak, RateCard, RateDirection, RateLine, RateZone, Surcharge
from finance.rating import LineRate, PreparedCard

LINE_COLUMNS = (
    "pk",
    "origin_code",
    "origin_zone_id",
    "destination_code",
    "destination_zone_id",
    "equipment_type",
    "basis",
    "minimum_amount",
    "maximum_quantity",
    "charge_code",
)  # the order LineRate.from_row reads


def _zones_covering(codes: Iterable[str]) -> QuerySet[RateZone]:
    condition = Q(pk__in=[])
    for code in codes:
        condition |= Q(locations__contains=[code]) | Q(countries__contains=[code[:2]])
    return RateZone.objects.filter(condition)


def _lane_filter(origin: str, destination: str, zone_ids: list[int]) -> Q:
    origin_side = Q(origin_zone__isnull=True, origin_code__in=[origin, origin[:2], ""]) | Q(origin_zone__in=zone_ids)
    destination_side = Q(destination_zone__isnull=True, destination_code__in=[destination, destination[:2], ""]) | Q(
        destination_zone__in=zone_ids
    )
    return origin_side & destination_side


def prepared_cards(
    *,
    direction: str = RateDirection.BUY,
    modes: Iterable[str],
    lane: tuple[str, str] | None = None,
    parties: Iterable[int] | None = None,
) -> list[PreparedCard]:
    """Every active card of the direction and modes, with their lines (only the lane's when given),
    breaks, surcharges and zones: five queries, however many cards and lines there are.

    Lines and breaks are selected by subquery on the cards (no long id lists) and read as tuples into
    `LineRate`s rather than model instances: 25,000 lines with 100,000 breaks load in about a second.
    Validity is not filtered here so that ranking can say "expired on …" rather than stay silent; each card
    carries the later cards of its contract (`PreparedCard.newer`) so that rating can say "replaced by …".
    """
    cards_qs = RateCard.objects.filter(direction=direction, mode__in=list(modes), is_active=True)
    if parties is not None:
        cards_qs = cards_qs.filter(party__in=list(parties))
    lines_qs = RateLine.objects.filter(card__in=cards_qs.values("pk"))
    if lane is not None:
        zones = list(_zones_covering(lane))
        lines_qs = lines_qs.filter(_lane_filter(*lane, [zone.pk for zone in zones]))
    else:
        zones = list(RateZone.objects.all())
    cards = list(cards_qs.select_related("party").order_by("party__code", "-effective_on", "pk"))
    breaks: dict[int, list[tuple[Decimal, Decimal]]] = {}
    for line_id, from_quantity, rate in RateBreak.objects.filter(line__in=lines_qs.values("pk")).values_list(
        "line_id", "from_quantity", "rate"
    ):
        breaks.setdefault(line_id, []).append((from_quantity, rate))
    zone_codes = {zone.pk: zone.code for zone in zones}
    lines_by_card: dict[int, list[LineRate]] = {}
    for card_id, *row in lines_qs.order_by("pk").values_list("card_id", *LINE_COLUMNS):
        lines_by_card.setdefault(card_id, []).append(LineRate.from_row(tuple(row), breaks.get(row[0], ()), zone_codes))
    surcharges: dict[int, list[Surcharge]] = {}
    for surcharge in Surcharge.objects.filter(card__in=cards_qs.values("pk")).order_by("code", "pk"):
        surcharges.setdefault(surcharge.card_id, []).append(surcharge)
    zones_by_carrier: dict[int | None, list[RateZone]] = {}
    for zone in zones:
        zones_by_carrier.setdefault(zone.carrier_id, []).append(zone)
    by_contract: dict[tuple, list[RateCard]] = {}
    for card in cards:
        by_contract.setdefault(card.contract_key, []).append(card)
    return [
        PreparedCard(
            card,
            lines_by_card.get(card.pk, []),
            surcharges.get(card.pk, []),
            zones_by_carrier.get(card.party_id, []) + zones_by_carrier.get(None, []),
            newer=[other for other in by_contract[card.contract_key] if other.replaces(card)],
        )
        for card in cards
    ]


def rate_card_list(*, mode: str = "", party_id: int | None = None) -> QuerySet[RateCard]:
    """Rate cards for the list screen, with their line counts."""
    cards = RateCard.objects.select_related("party").annotate(line_count=Count("lines"))
    if mode:
        cards = cards.filter(mode=mode)
    if party_id:
        cards = cards.filter(party_id=party_id)
    return cards.order_by("party__code", "mode", "-effective_on")


def rate_card_get(*, pk: int) -> RateCard:
    lines = RateLine.objects.select_related("origin_zone", "destination_zone").prefetch_related("breaks")
    return get_object_or_404(
        RateCard.objects.select_related("party").prefetch_related(Prefetch("lines", queryset=lines), "surcharges"),
        pk=pk,
    )


@dataclass(frozen=True)
class Conversion:
    """How ranking compares a card's quotes on a day: 1 `currency` = `rate` `base` (None: no exchange rate)."""

    currency: str
    base: str
    on: datetime.date
    rate: Decimal | None


def rate_card_conversion(*, card: RateCard, on: datetime.date) -> Conversion | None:
    """The exchange rate ranking converts the card's quotes with on `on` (inverse and cross rates as ranking finds
    them), for people who keep rate cards but cannot open the console's exchange rates; None for a card in the base
    currency (OMS_BASE_CURRENCY)."""
    base = settings.OMS_BASE_CURRENCY
    if card.currency == base:
        return None
    return Conversion(card.currency, base, on, fx_table_load().rate(card.currency, base, on))
