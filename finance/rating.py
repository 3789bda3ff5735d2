"""Pricing cargo against a rate card, in memory (DOMAIN.md §4.3). No database access here.

`PreparedCard` indexes one card's lines by lane once; `rate_quote()` prices a lane and cargo on a date
and returns a `Quote` with one `ChargeLine` per freight unit and surcharge, or a `NoQuote` saying why
the card does not apply. Carrier ranking uses it for buy rates; the later tariff work reuses it for
sell rates, so every price in OMS is computed the same way.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import NamedTuple

from finance.models import RateBasis, RateCard, RateZone, Surcharge, SurchargeKind
from finance.money import money_round
from orders.cargo import chargeable_weight_kg

TONNE = Decimal(1000)
ONE = Decimal(1)
ANYWHERE = ""
# Plain strings of the choices: enum attribute lookups cost more than the comparisons in the hot loop.
PER_KG, PER_WM = RateBasis.PER_KG.value, RateBasis.PER_WM.value
PER_CONTAINER, PER_SHIPMENT = RateBasis.PER_CONTAINER.value, RateBasis.PER_SHIPMENT.value
PERCENT = SurchargeKind.PERCENT.value


@dataclass(frozen=True)
class Measures:
    """What is being priced: weight, volume and, for FCL and rail, the containers by ISO size-type."""

    mode: str
    gross_weight_kg: Decimal
    volume_m3: Decimal
    containers: tuple[tuple[str, int], ...] = ()

    @cached_property
    def chargeable_weight_kg(self) -> Decimal:
        """As the order has it (orders.cargo, air rounded up to the next half kilo there): one rule, not two."""
        return chargeable_weight_kg(mode=self.mode, gross_weight_kg=self.gross_weight_kg, volume_m3=self.volume_m3)

    @cached_property
    def revenue_tons(self) -> Decimal:
        """W/M: the greater of gross tonnes and cubic metres (1 m³ = 1,000 kg)."""
        return max(self.gross_weight_kg / TONNE, self.volume_m3).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)

    @property
    def container_count(self) -> int:
        return sum(count for _, count in self.containers)


class ChargeLine(NamedTuple):
    """One priced line of a quote. Named tuples: a ranking builds tens of thousands, and they are immutable."""

    code: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal
    note: str = ""


class Quote(NamedTuple):
    card_id: int
    party_id: int | None
    card_name: str
    currency: str
    lines: tuple[ChargeLine, ...]
    freight_amount: Decimal
    total_amount: Decimal


class NoQuote(NamedTuple):
    card_id: int
    reason: str


def _lane_keys(code: str, zone_keys: dict[str, list[str]]) -> list[tuple[str, int]]:
    """The keys a lane end is found under, most specific first, with their specificity."""
    keys = [(code, 3)]
    keys += [(zone, 2) for zone in zone_keys.get(code, ())]
    keys += [(zone, 2) for zone in zone_keys.get(code[:2], ())]
    keys += [(code[:2], 1), (ANYWHERE, 0)]
    return keys


@dataclass(frozen=True, slots=True)
class LineRate:
    """One rate line as the rating reads it: lane keys, equipment, basis, limits and sorted breaks."""

    pk: int
    origin_key: str  # UN/LOCODE, country, "Z<zone id>" or "" (anywhere)
    destination_key: str
    equipment_type: str
    basis: str
    minimum_amount: Decimal
    maximum_quantity: Decimal | None
    charge_code: str
    breaks: tuple[tuple[Decimal, Decimal], ...]
    label: str

    @classmethod
    def from_row(cls, row: tuple, breaks: Iterable[tuple[Decimal, Decimal]], zone_codes: dict[int, str]) -> LineRate:
        """From (pk, origin_code, origin_zone_id, destination_code, destination_zone_id, equipment_type, basis,
        minimum_amount, maximum_quantity, charge_code), as finance.selectors reads it."""
        pk, origin, origin_zone, destination, destination_zone, equipment, basis, minimum, maximum, code = row
        origin_key = f"Z{origin_zone}" if origin_zone else origin
        destination_key = f"Z{destination_zone}" if destination_zone else destination
        label_from = zone_codes.get(origin_zone, "") if origin_zone else origin or "anywhere"
        label_to = zone_codes.get(destination_zone, "") if destination_zone else destination or "anywhere"
        label = f"{label_from} → {label_to}" + (f" {equipment}" if equipment else "")
        return cls(
            pk, origin_key, destination_key, equipment, basis, minimum, maximum, code, tuple(sorted(breaks)), label
        )


class PreparedCard:
    """A rate card with its lines indexed by lane and its surcharges at hand.

    `lines_for` remembers its answer per lane: ranking many orders on the same lanes looks each lane up once.
    `newer` are the later cards of the same contract (`RateCard.replaces`): one of them valid on the day
    replaces this card, which is what "no end date: until replaced" means.
    """

    __slots__ = ("_lane_cache", "card", "lines_by_lane", "newer", "surcharges", "zone_keys")

    def __init__(
        self,
        card: RateCard,
        lines: Iterable[LineRate],
        surcharges: Sequence[Surcharge],
        zones: Iterable[RateZone],
        newer: Sequence[RateCard] = (),
    ) -> None:
        self.card = card
        self.newer = tuple(newer)
        self.surcharges = tuple(surcharges)
        self.lines_by_lane: dict[tuple[str, str], list[LineRate]] = {}
        for line in lines:
            self.lines_by_lane.setdefault((line.origin_key, line.destination_key), []).append(line)
        # zone membership, keyed by UN/LOCODE or country, for the zones this card's lines may use
        self.zone_keys: dict[str, list[str]] = {}
        for zone in zones:
            for member in (*zone.locations, *zone.countries):
                self.zone_keys.setdefault(member, []).append(f"Z{zone.pk}")
        self._lane_cache: dict[tuple[str, str], dict[str, LineRate]] = {}

    def lines_for(self, origin: str, destination: str) -> dict[str, LineRate]:
        """The most specific line for each equipment type ("" = no type) on the lane."""
        cached = self._lane_cache.get((origin, destination))
        if cached is not None:
            return cached
        combos = [
            (o_score + d_score, o_key, d_key)
            for o_key, o_score in _lane_keys(origin, self.zone_keys)
            for d_key, d_score in _lane_keys(destination, self.zone_keys)
        ]
        combos.sort(key=lambda combo: -combo[0])
        found: dict[str, LineRate] = {}
        for _, o_key, d_key in combos:
            for line in self.lines_by_lane.get((o_key, d_key), ()):
                found.setdefault(line.equipment_type, line)
        self._lane_cache[(origin, destination)] = found
        return found


def _money(value: Decimal, currency: str) -> Decimal:
    """Rounded to the currency's ISO 4217 minor unit: whole yen, three decimals of a dinar, cents."""
    return money_round(value, currency)


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def _cheapest_break(quantity: Decimal, breaks: Sequence[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal, Decimal]:
    """IATA weight-break rule: price at every break, charging at least the break quantity; take the lowest.

    Returns (amount, rate, billed quantity): a higher break can be cheaper than the one the cargo falls in.
    """
    best: tuple[Decimal, Decimal, Decimal] | None = None
    for from_quantity, rate in breaks:
        billed = max(quantity, from_quantity)
        amount = billed * rate
        if best is None or amount < best[0]:
            best = (amount, rate, billed)
    assert best is not None  # noqa: S101 - callers check for breaks first
    return best


def _bracket_rate(measure: Decimal, breaks: Sequence[tuple[Decimal, Decimal]]) -> Decimal:
    """The rate of the last break at or below the measure (container counts, parcel weight bands)."""
    rate = breaks[0][1]
    for from_quantity, candidate in breaks:
        if from_quantity <= measure:
            rate = candidate
    return rate


def _freight_line(line: LineRate, measures: Measures, *, count: int, currency: str) -> ChargeLine | str:
    """Price one rate line, or say why it cannot be used."""
    breaks = line.breaks
    if not breaks:
        return f"the {line.label} line has no rates"
    basis = line.basis
    chargeable = measures.chargeable_weight_kg
    if basis == PER_CONTAINER:
        measure, unit = Decimal(count), "container"
    elif basis == PER_WM:
        measure, unit = measures.revenue_tons, "W/M"
    else:
        measure, unit = chargeable, "kg"
    if line.maximum_quantity is not None and measure > line.maximum_quantity:
        return f"takes at most {_fmt(line.maximum_quantity)} {unit} on {line.label}; this is {_fmt(measure)} {unit}"
    if basis in (PER_KG, PER_WM):
        amount, rate, billed = _cheapest_break(measure, breaks)
        note = f"charged as {_fmt(billed)} {unit} (higher break is cheaper)" if billed > measure else ""
        description = f"Freight, {_fmt(measure)} {unit} chargeable"
        quantity = billed
    elif basis == PER_CONTAINER:
        rate = _bracket_rate(measure, breaks)
        amount, quantity, note = rate * measure, measure, ""
        description = f"Freight per {line.equipment_type}"
    else:  # per shipment: the weight band that the chargeable weight falls in is the price
        rate = _bracket_rate(chargeable, breaks)
        amount, quantity, unit, note = rate, ONE, "shipment", ""
        description = f"Freight, {_fmt(chargeable)} kg band"
    if amount < line.minimum_amount:
        amount, note = line.minimum_amount, f"minimum {_fmt(line.minimum_amount)} applies"
    return ChargeLine(line.charge_code, description, quantity, unit, rate, _money(amount, currency), note)


def _surcharge_line(surcharge: Surcharge, freight: Decimal, measures: Measures, currency: str) -> ChargeLine | None:
    """`freight` is what a percentage applies to: the freight of the surcharge's container type, or all of it."""
    if surcharge.kind == PERCENT:
        amount = freight * surcharge.percent / 100
        unit = f"% of {surcharge.equipment_type} freight" if surcharge.equipment_type else "% of freight"
        return ChargeLine(
            surcharge.code, surcharge.name, surcharge.percent, unit, surcharge.percent, _money(amount, currency)
        )
    if surcharge.basis == PER_CONTAINER:
        count = sum(n for iso, n in measures.containers if surcharge.equipment_type in ("", iso))
        quantity, unit = Decimal(count), "container"
    elif surcharge.basis == PER_KG:
        quantity, unit = measures.chargeable_weight_kg, "kg"
    elif surcharge.basis == PER_WM:
        quantity, unit = measures.revenue_tons, "W/M"
    else:
        quantity, unit = ONE, "shipment"
    if not quantity:
        return None
    return ChargeLine(
        surcharge.code, surcharge.name, quantity, unit, surcharge.amount, _money(quantity * surcharge.amount, currency)
    )


def _validity_problem(card: PreparedCard, on: datetime.date) -> str | None:
    rate_card = card.card
    if not rate_card.is_active:
        return f"rate card {rate_card.name} is switched off"
    if rate_card.effective_on > on:
        return f"rate card {rate_card.name} starts on {rate_card.effective_on:%Y-%m-%d}, after {on:%Y-%m-%d}"
    if rate_card.expires_on is not None and rate_card.expires_on < on:
        return f"rate card {rate_card.name} expired on {rate_card.expires_on:%Y-%m-%d}"
    replacement = rate_card.replacement_on(on, card.newer)
    if replacement is not None:
        return (
            f"rate card {rate_card.name} is replaced by {replacement.name} v{replacement.version}"
            f" from {replacement.effective_on:%Y-%m-%d}"
        )
    return None


def _surcharges_in_force(surcharges: Iterable[Surcharge], card: RateCard, on: datetime.date) -> list[Surcharge]:
    """Per code and container type, the valid row that started last: a renewed BAF whose dates overlap the
    old one's is charged once, at the new amount. A blank start counts as the card's."""
    latest: dict[tuple[str, str], Surcharge] = {}
    for surcharge in surcharges:
        if not surcharge.is_valid_on(on):
            continue
        key = (surcharge.code, surcharge.equipment_type)
        start = (surcharge.effective_on or card.effective_on, surcharge.pk or 0)
        kept = latest.get(key)
        if kept is None or start > (kept.effective_on or card.effective_on, kept.pk or 0):
            latest[key] = surcharge
    return list(latest.values())


def _freight_units(lines: dict[str, LineRate], measures: Measures) -> list[tuple[LineRate, int, tuple[str, ...]]] | str:
    """The lines that price the cargo: (line, container count, container types it prices), or what is missing.

    A container type without a line of its own falls back to the lane's line with a blank type ("any").
    That line is charged once for all the types falling back to it, as its basis measures the whole
    shipment (per shipment, per kg, per W/M); a blank per-container line (the form refuses them, imports
    may not) is charged per container of each type, as a typed line would be.
    """
    if not measures.containers:
        line = lines.get(ANYWHERE)
        return [(line, 1, ())] if line is not None else "loose cargo (it prices containers only)"
    units: list[tuple[LineRate, int, tuple[str, ...]]] = []
    falling_back: list[tuple[str, int]] = []
    for iso, count in measures.containers:
        line = lines.get(iso)
        if line is not None:
            units.append((line, count, (iso,)))
        else:
            falling_back.append((iso, count))
    if falling_back:
        any_type = lines.get(ANYWHERE)
        if any_type is None:
            return f"{falling_back[0][0]} containers"
        if any_type.basis == PER_CONTAINER:
            units += [(any_type, count, (iso,)) for iso, count in falling_back]
        else:
            types = tuple(iso for iso, _ in falling_back)
            units.append((any_type, sum(count for _, count in falling_back), types))
    return units


def rate_quote(
    *, card: PreparedCard, origin: str, destination: str, measures: Measures, on: datetime.date, service_level: str = ""
) -> Quote | NoQuote:
    """Price `measures` from `origin` to `destination` (UN/LOCODEs) on the card, as valid on `on`."""
    rate_card = card.card
    problem = _validity_problem(card, on)
    if problem:
        return NoQuote(rate_card.id, problem)
    if rate_card.service_level and service_level and rate_card.service_level != service_level:
        return NoQuote(rate_card.id, f"rate card {rate_card.name} is for {rate_card.get_service_level_display()}")
    lines = card.lines_for(origin, destination)
    if not lines:
        return NoQuote(rate_card.id, f"no rate for {origin} → {destination} on {rate_card.name}")
    units = _freight_units(lines, measures)
    if isinstance(units, str):
        return NoQuote(rate_card.id, f"no rate for {units} on {origin} → {destination}")
    currency = rate_card.currency
    freight_lines: list[ChargeLine] = []
    freight_by_type: dict[str, Decimal] = {}
    for line, count, types in units:
        priced = _freight_line(line, measures, count=count, currency=currency)
        if isinstance(priced, str):
            return NoQuote(rate_card.id, priced)
        freight_lines.append(priced)
        for iso in types:  # a line charged once for several types counts towards each of them
            freight_by_type[iso] = freight_by_type.get(iso, Decimal(0)) + priced.amount
    freight = sum((line.amount for line in freight_lines), Decimal(0))
    extra: list[ChargeLine] = []
    for surcharge in _surcharges_in_force(card.surcharges, rate_card, on):
        base = freight
        if surcharge.equipment_type:
            if surcharge.equipment_type not in freight_by_type:
                continue
            base = freight_by_type[surcharge.equipment_type]
        charge = _surcharge_line(surcharge, base, measures, currency)
        if charge is not None:
            extra.append(charge)
    all_lines = (*freight_lines, *extra)
    return Quote(
        card_id=rate_card.id,
        party_id=rate_card.party_id,
        card_name=rate_card.name,
        currency=rate_card.currency,
        lines=all_lines,
        freight_amount=freight,
        total_amount=sum((line.amount for line in all_lines), Decimal(0)),
    )
