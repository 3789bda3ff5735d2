"""Carrier ranking: for an order or a master shipment, which carriers can move it, at what buy cost, how
fast and how reliably, each option with the reasons shown; and `pick_best` for rules that auto-pick.

Everything the ranking reads is loaded once into a `RankingContext` (rate cards with lines, breaks and
surcharges, carrier services, preferences, on-time records, exchange rates): a constant number of
queries, however many carriers and rate lines exist. `rank()` itself is pure.

Score (0-100) = weights x (cheapest cost ÷ this cost, fastest transit ÷ this transit, on-time score)
+ 5 points when a preference names the carrier. Weights follow the service level: economy leans on
cost, express on transit.

A carrier that declined a booking for the master stays among its options (it may have space on another
sailing when asked again) but is listed after every carrier that has not declined, whatever its score, with its
answer in the explanation: the top option, the highlighted "Choose" and `pick_best` are never the carrier that
just said no (docs/planning.md, "A carrier that declined").
"""

from __future__ import annotations

import datetime
import gc
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import ngettext

from finance.fx import FxTable, fx_table_load
from finance.models import RateDirection
from finance.money import money_text
from finance.rating import Measures, NoQuote, PreparedCard, Quote, rate_quote
from finance.selectors import prepared_cards
from orders.models import Mode, Order, ServiceLevel
from partners.models import Organisation
from tracking.models import (
    NEUTRAL_ON_TIME_SCORE,
    Booking,
    BookingStatus,
    CarrierPreference,
    CarrierRecord,
    CarrierService,
    PreferenceKind,
)
from tracking.models import Shipment as ShipmentModel

PREFERRED_BONUS = 5.0


@dataclass(frozen=True)
class Weights:
    cost: Decimal
    transit: Decimal
    on_time: Decimal

    @classmethod
    def for_service_level(cls, level: str) -> Weights:
        if level == ServiceLevel.ECONOMY:
            return cls(Decimal("0.75"), Decimal("0.10"), Decimal("0.15"))
        if level in (ServiceLevel.EXPRESS, ServiceLevel.PRIORITY):
            return cls(Decimal("0.30"), Decimal("0.55"), Decimal("0.15"))
        return cls(Decimal("0.60"), Decimal("0.25"), Decimal("0.15"))

    def as_percentages(self) -> dict[str, int]:
        return {"cost": int(self.cost * 100), "transit": int(self.transit * 100), "on_time": int(self.on_time * 100)}


@dataclass(frozen=True)
class RankingRequest:
    """What to move, where, when: built from an order or a master shipment."""

    mode: str
    origin: str
    destination: str
    ready_on: datetime.date
    measures: Measures
    service_level: str = ServiceLevel.STANDARD
    customer_ids: tuple[int, ...] = ()
    currency: str = "EUR"


@dataclass(frozen=True)
class Declined:
    """A carrier's refusal of a booking for the master being ranked: when it answered, and why."""

    at: datetime.datetime
    reason: str

    def text(self) -> str:
        """The refusal in words, its day on the active clock: "Declined this master on 7 Dec: no space"."""
        day = timezone.localtime(self.at)
        return f"Declined this master on {day.day} {day:%b}" + (f": {self.reason}" if self.reason else "")


@dataclass(slots=True)
class Option:
    """One carrier's offer for the request, or why it is out."""

    carrier: Organisation
    quote: Quote | None = None
    cost: Decimal | None = None  # in the request's currency
    cost_currency: str = ""
    fx_rate: Decimal | None = None  # quote currency → request currency, when they differ
    service: CarrierService | None = None
    departure_on: datetime.date | None = None
    arrival_on: datetime.date | None = None
    on_time_score: Decimal = NEUTRAL_ON_TIME_SCORE
    measured_legs: int = 0
    preferred_reason: str = ""
    excluded_reason: str = ""
    declined: Declined | None = None  # this carrier's last refusal of a booking for the master ranked
    points: dict[str, float] = field(default_factory=dict)  # a score is no money: floats, one decimal shown
    score: float = 0.0
    rank: int = 0

    @property
    def fx_note(self) -> str:
        if self.fx_rate is None or self.cost is None:
            return ""
        return f"= {self.cost_currency} {money_text(self.cost, self.cost_currency)} at {self.fx_rate:.4f}"

    @property
    def transit_days(self) -> int | None:
        return self.service.transit_days if self.service else None

    @property
    def is_excluded(self) -> bool:
        return bool(self.excluded_reason)

    def reasons(self) -> list[str]:
        """The explanation as sentences, for the booking record and automation logs: cost, charges, notes."""
        if self.is_excluded:
            return [f"Excluded: {self.excluded_reason}."]
        assert self.quote is not None  # noqa: S101 - eligible options always carry a quote
        currency = self.quote.currency
        cost = f"Buy cost {currency} {money_text(self.quote.total_amount, currency)} on {self.quote.card_name}"
        lines = [cost + (f" ({self.fx_note})" if self.fx_note else "") + "."]
        lines += [
            f"{charge.code}: {charge.description} — {money_text(charge.amount, currency)}"
            + (f" ({charge.note})" if charge.note else "")
            for charge in self.quote.lines
        ]
        return lines + self.notes()

    def notes(self) -> list[str]:
        """Transit, on-time record, preference and how the score adds up."""
        lines = []
        if self.declined is not None:
            lines.append(f"{self.declined.text()}; listed after the carriers that have not declined.")
        if self.service:
            lines.append(
                f"Transit {self.service.transit_days} {ngettext('day', 'days', self.service.transit_days)} on "
                f"{self.service.name}, next departure "
                f"{self.departure_on:%a %d %b}, arrives {self.arrival_on:%a %d %b}."
            )
        else:
            lines.append("No published service on this lane: no transit points.")
        if self.measured_legs:
            legs = ngettext("leg", "legs", self.measured_legs)
            lines.append(f"On time {self.on_time_score * 100:.0f}% over {self.measured_legs} {legs}.")
        else:
            lines.append(f"No on-time record yet: neutral {self.on_time_score * 100:.0f}%.")
        if self.preferred_reason:
            lines.append(f"Preferred: {self.preferred_reason} (+{PREFERRED_BONUS:g} points).")
        if self.quote is not None and self.cost is not None and self.fx_rate is not None:
            quote, cost, to = self.quote, self.cost, self.cost_currency
            lines.append(
                f"Converted from {quote.currency} {money_text(quote.total_amount, quote.currency)} to {to} "
                f"{money_text(cost, to)} (1 {quote.currency} = {self.fx_rate:.4f} {to})."
            )
        parts = " + ".join(f"{name.replace('_', '-')} {value}" for name, value in self.points.items())
        lines.append(f"Score {self.score} = {parts}.")
        return lines

    def snapshot(self) -> dict[str, Any]:
        """What is kept on the booking: the option as ops saw it when choosing."""
        return {
            "carrier": self.carrier.code,
            "rank": self.rank,
            "score": str(self.score),
            "cost": str(self.cost) if self.cost is not None else None,
            "quote_currency": self.quote.currency if self.quote else "",
            "quote_total": str(self.quote.total_amount) if self.quote else None,
            "transit_days": self.transit_days,
            "reasons": self.reasons(),
        }


@dataclass
class Ranking:
    request: RankingRequest
    weights: Weights
    options: list[Option]  # eligible, best first
    excluded: list[Option]
    lane_covered: bool = True  # some active carrier's card in the mode has a rate on the lane (valid or not)

    @property
    def best(self) -> Option | None:
        return self.options[0] if self.options else None

    @property
    def best_not_declined(self) -> Option | None:
        """The top option unless every carrier declined the master (declined options are listed last)."""
        best = self.best
        return best if best is not None and best.declined is None else None

    def option_for(self, carrier_id: int) -> Option | None:
        return next((option for option in self.options if option.carrier.pk == carrier_id), None)

    @property
    def lane_uncovered(self) -> bool:
        """No option because no active carrier's buy rate card in the mode has a rate on the lane at all (rather
        than rates that do not fit the cargo or the date): the screens say what is missing and who adds it. An
        inactive carrier's rates cover nothing: someone still has to add a rate for a carrier we book."""
        return not self.options and not self.lane_covered

    @property
    def mode_label(self) -> str:
        return str(Mode(self.request.mode).label) if self.request.mode in Mode.values else self.request.mode


@dataclass
class RankingContext:
    """Everything a ranking reads, loaded once; see `ranking_context_load`."""

    cards_by_mode: dict[str, list[PreparedCard]]
    services: dict[tuple[int, str], dict[tuple[str, str], list[CarrierService]]]  # (carrier, mode) → lane → services
    preferences: dict[int, list[CarrierPreference]]  # by carrier
    records: dict[int, CarrierRecord]
    fx: FxTable
    carriers: dict[int, Organisation]
    # memo of next_departure by (weekdays, cut-off hours, day): services share a handful of timetables
    departures: dict[tuple[tuple[int, ...], int, datetime.date], datetime.date] = field(default_factory=dict)
    lane_services: dict[tuple[int, str, str, str], list[tuple[CarrierService, int]]] = field(default_factory=dict)

    def next_departure(self, service: CarrierService, ready_on: datetime.date) -> datetime.date:
        key = (tuple(service.departure_weekdays), service.cargo_cutoff_hours, ready_on)
        found = self.departures.get(key)
        if found is None:
            found = self.departures[key] = next_departure(service, ready_on)
        return found

    def services_on(
        self, carrier_id: int, mode: str, origin: str, destination: str
    ) -> list[tuple[CarrierService, int]]:
        """The carrier's services on the lane (by UN/LOCODE or country) with their specificity; memoised per lane."""
        key = (carrier_id, mode, origin, destination)
        found = self.lane_services.get(key)
        if found is None:
            lanes = self.services.get((carrier_id, mode), {})
            found = self.lane_services[key] = [
                (service, -(len(o) + len(d)))
                for o in (origin, origin[:2])
                for d in (destination, destination[:2])
                for service in lanes.get((o, d), ())
            ]
        return found


def ranking_context_load(*, modes: Iterable[str], lane: tuple[str, str] | None = None) -> RankingContext:
    """Load rate cards, services, preferences, on-time records and FX rates: nine queries in all."""
    modes = sorted(set(modes))
    cards = prepared_cards(direction=RateDirection.BUY, modes=modes, lane=lane)
    services_qs = CarrierService.objects.filter(mode__in=modes, is_active=True)
    if lane is not None:
        origin, destination = lane
        services_qs = services_qs.filter(
            origin_code__in=[origin, origin[:2]], destination_code__in=[destination, destination[:2]]
        )
    services: dict[tuple[int, str], dict[tuple[str, str], list[CarrierService]]] = {}
    for service in services_qs:
        lanes = services.setdefault((service.carrier_id, service.mode), {})
        lanes.setdefault((service.origin_code, service.destination_code), []).append(service)
    carriers: dict[int, Organisation] = {}
    cards_by_mode: dict[str, list[PreparedCard]] = {}
    for prepared in cards:
        cards_by_mode.setdefault(prepared.card.mode, []).append(prepared)
        if prepared.card.party is not None:
            carriers[prepared.card.party.pk] = prepared.card.party
    preferences: dict[int, list[CarrierPreference]] = {}
    for preference in CarrierPreference.objects.filter(Q(mode="") | Q(mode__in=modes)):
        preferences.setdefault(preference.carrier_id, []).append(preference)
    records = {record.carrier_id: record for record in CarrierRecord.objects.filter(carrier_id__in=list(carriers))}
    return RankingContext(cards_by_mode, services, preferences, records, fx_table_load(), carriers)


def next_departure(service: CarrierService, ready_on: datetime.date) -> datetime.date:
    """The first departure whose cargo cut-off is on or after the day the cargo is ready."""
    earliest = ready_on + datetime.timedelta(days=math.ceil(service.cargo_cutoff_hours / 24))
    if not service.departure_weekdays:
        return earliest
    weekday = earliest.weekday()
    return earliest + datetime.timedelta(days=min((day - weekday) % 7 for day in service.departure_weekdays))


def _best_service(
    candidates: Sequence[tuple[CarrierService, int]], request: RankingRequest, context: RankingContext
) -> tuple[CarrierService, datetime.date] | None:
    """The carrier's service that arrives first (a lane-specific one beats a country-wide one on ties)."""
    best: tuple[datetime.date, int, CarrierService, datetime.date] | None = None
    for service, specificity in candidates:
        departure = context.next_departure(service, request.ready_on)
        arrival = departure + datetime.timedelta(days=service.transit_days)
        if best is None or (arrival, specificity) < (best[0], best[1]):
            best = (arrival, specificity, service, departure)
    return (best[2], best[3]) if best else None


def _preference(context: RankingContext, carrier_id: int, request: RankingRequest, kind: str) -> str:
    customers = request.customer_ids or (None,)
    for preference in context.preferences.get(carrier_id, ()):
        if preference.kind != kind:
            continue
        for customer_id in customers:
            if preference.matches(
                customer_id=customer_id, mode=request.mode, origin=request.origin, destination=request.destination
            ):
                return preference.reason
    return ""


def _price(
    cards: Sequence[PreparedCard], request: RankingRequest, fx: FxTable
) -> tuple[Quote | None, Decimal | None, list[str]]:
    """The carrier's cheapest quote over its cards, compared in the request's currency, with that cost;
    or the reasons none applies. A card whose currency has no exchange rate on the day is left out, said why."""
    best: tuple[Quote, Decimal] | None = None
    reasons: list[str] = []
    for card in cards:
        result = rate_quote(
            card=card,
            origin=request.origin,
            destination=request.destination,
            measures=request.measures,
            on=request.ready_on,
            service_level=request.service_level,
        )
        if isinstance(result, NoQuote):
            reasons.append(result.reason)
            continue
        cost = fx.convert(result.total_amount, result.currency, request.currency, request.ready_on)
        if cost is None:
            reasons.append(f"no {result.currency}/{request.currency} exchange rate on {request.ready_on:%Y-%m-%d}")
        elif best is None or cost < best[1]:
            best = (result, cost)
    return (best[0], best[1], reasons) if best else (None, None, reasons)


INACTIVE_CARRIER = "carrier is inactive"


def _option_for(
    carrier: Organisation, cards: Sequence[PreparedCard], request: RankingRequest, context: RankingContext
) -> Option:
    if not carrier.is_active:
        # Closed in the console (a contract ended): its cards stay on file for the bookings that pin them, but it
        # is never offered again, nor picked by a rule. Listed as left out, so ops see why it is gone.
        return Option(carrier=carrier, excluded_reason=INACTIVE_CARRIER)
    option = Option(carrier=carrier)
    record = context.records.get(carrier.id)
    if record is not None:
        option.on_time_score, option.measured_legs = record.on_time_score, record.measured_legs
    candidates = context.services_on(carrier.id, request.mode, request.origin, request.destination)
    found = _best_service(candidates, request, context)
    if found:
        option.service, option.departure_on = found
        option.arrival_on = option.departure_on + datetime.timedelta(days=option.service.transit_days)
    option.preferred_reason = _preference(context, carrier.id, request, PreferenceKind.PREFERRED)
    excluded = _preference(context, carrier.id, request, PreferenceKind.EXCLUDED)
    if excluded:
        option.excluded_reason = excluded
        return option
    quote, cost, reasons = _price(cards, request, context.fx)
    if quote is None or cost is None:
        option.excluded_reason = "; ".join(dict.fromkeys(reasons)) or "no buy rate"
        return option
    option.quote = quote
    option.cost, option.cost_currency = cost, request.currency
    if quote.currency != request.currency:
        option.fx_rate = context.fx.rate(quote.currency, request.currency, request.ready_on)
    return option


def _score(options: list[Option], weights: Weights) -> None:
    cheapest = min(option.cost for option in options if option.cost is not None)
    transits = [option.transit_days for option in options if option.transit_days]
    fastest = min(transits) if transits else None
    cost_weight, transit_weight = float(weights.cost) * 100, float(weights.transit) * 100
    on_time_weight = float(weights.on_time) * 100
    for option in options:
        assert option.cost is not None  # noqa: S101 - only priced options are scored
        cost_ratio = float(cheapest / option.cost) if option.cost else 1.0
        transit_ratio = fastest / option.transit_days if fastest and option.transit_days else 0.0
        option.points = {
            "cost": round(cost_weight * cost_ratio, 1),
            "transit": round(transit_weight * transit_ratio, 1),
            "on_time": round(on_time_weight * float(option.on_time_score), 1),
        }
        if option.preferred_reason:
            option.points["preferred"] = PREFERRED_BONUS
        option.score = round(sum(option.points.values()), 1)


def rank(
    request: RankingRequest,
    context: RankingContext,
    weights: Weights | None = None,
    declined: Mapping[int, Declined] | None = None,
) -> Ranking:
    """Rank every active carrier with a buy rate card in the mode; pure, no queries. Inactive carriers (and any
    inactive party of a buy card) are listed as excluded, "carrier is inactive". The carriers in `declined` (by id)
    keep their score but are listed after all the others."""
    declined = declined or {}
    weights = weights or Weights.for_service_level(request.service_level)
    by_carrier: dict[int, list[PreparedCard]] = {}
    for card in context.cards_by_mode.get(request.mode, ()):
        if card.card.party_id is not None:
            by_carrier.setdefault(card.card.party_id, []).append(card)
    options: list[Option] = []
    excluded: list[Option] = []
    for carrier_id, cards in by_carrier.items():
        option = _option_for(context.carriers[carrier_id], cards, request, context)
        option.declined = declined.get(carrier_id)
        (excluded if option.is_excluded else options).append(option)
    if options:
        _score(options, weights)
    options.sort(key=lambda o: (o.declined is not None, -o.score, o.cost, o.carrier.code))
    for position, option in enumerate(options, start=1):
        option.rank = position
    excluded.sort(key=lambda o: o.carrier.code)
    covered = any(
        card.lines_for(request.origin, request.destination)
        for carrier_id, cards in by_carrier.items()
        if context.carriers[carrier_id].is_active
        for card in cards
    )
    return Ranking(request, weights, options, excluded, lane_covered=covered)


# --- requests from orders and shipments -----------------------------------------------------


def _currency() -> str:
    return settings.OMS_BASE_CURRENCY


def _ready_on(pickup: datetime.date) -> datetime.date:
    """Cargo is ready on its pickup date, but nothing departs in the past: late orders are ready today."""
    return max(pickup, timezone.localdate())


def request_for_order(order: Order) -> RankingRequest:
    """The order's lane, ready date, cargo and containers (uses prefetched `equipment` when present)."""
    containers = Counter(box.iso_type for box in order.equipment.all()) if order.mode in ("ocean_fcl", "rail") else {}
    return RankingRequest(
        mode=order.mode,
        origin=order.origin_id,
        destination=order.destination_id,
        ready_on=_ready_on(order.requested_pickup_on),
        measures=Measures(
            order.mode, order.gross_weight_kg_total, order.volume_m3_total, tuple(sorted(containers.items()))
        ),
        service_level=order.service_level,
        customer_ids=(order.customer_id,),
        currency=_currency(),
    )


LEVEL_ORDER: list[str] = [ServiceLevel.ECONOMY, ServiceLevel.STANDARD, ServiceLevel.EXPRESS, ServiceLevel.PRIORITY]


def request_for_shipment(shipment: ShipmentModel) -> RankingRequest:
    """A master's lane and containers, its houses' cargo, when its last house is ready (the box sails with all its
    cargo: consolidation.master_cargo_ready_on) and the most demanding level."""
    from tracking.services.consolidation import live_houses, master_cargo_ready_on, master_totals

    houses = live_houses(shipment)
    orders = [house.order for house in houses if house.order is not None]  # every house has its order
    totals = master_totals(master=shipment, houses=houses)
    containers = Counter(box.iso_type for box in shipment.containers.all())
    ready = _ready_on(master_cargo_ready_on(houses) or timezone.localdate())
    level = max((order.service_level for order in orders), key=LEVEL_ORDER.index, default=ServiceLevel.STANDARD)
    return RankingRequest(
        mode=shipment.mode,
        origin=shipment.origin_id,
        destination=shipment.destination_id,
        ready_on=ready,
        measures=Measures(shipment.mode, totals.gross_weight_kg, totals.volume_m3, tuple(sorted(containers.items()))),
        service_level=level,
        customer_ids=tuple(sorted({order.customer_id for order in orders})),
        currency=_currency(),
    )


def ranking_for_order(*, order: Order) -> Ranking:
    request = request_for_order(order)
    context = ranking_context_load(modes=[request.mode], lane=(request.origin, request.destination))
    return rank(request, context)


def declined_by_carrier(shipment: ShipmentModel) -> dict[int, Declined]:
    """The carriers that declined a booking for `shipment`, each with its latest refusal (one query)."""
    rejected = Booking.objects.filter(shipment_id=shipment.pk, status=BookingStatus.REJECTED)
    return {
        carrier_id: Declined(at, reason)
        for carrier_id, at, reason in rejected.order_by("answered_at", "pk").values_list(
            "carrier_id", "answered_at", "rejection_reason"
        )
        if at is not None  # booking_reject always stamps it
    }


def ranking_for_shipment(*, shipment: ShipmentModel) -> Ranking:
    request = request_for_shipment(shipment)
    context = ranking_context_load(modes=[request.mode], lane=(request.origin, request.destination))
    return rank(request, context, declined=declined_by_carrier(shipment))


def rank_orders(*, orders: Iterable[Order], context: RankingContext | None = None) -> Iterator[tuple[Order, Ranking]]:
    """Rank many orders against one context (loaded once for all their modes): batch planning and the bench.

    The context holds a few hundred thousand long-lived objects (rate lines, services) that never become
    garbage; while the batch runs they are moved out of the cyclic collector's sight (`gc.freeze`), or
    every collection triggered by the rankings' own short-lived objects walks them all again (measured:
    about a third of the batch time).
    """
    orders = list(orders)
    if context is None:
        context = ranking_context_load(modes={order.mode for order in orders})
    gc.freeze()
    try:
        for order in orders:
            yield order, rank(request_for_order(order), context)
    finally:
        gc.unfreeze()


def pick_best(*, shipment: ShipmentModel, by: Any = None) -> Any:
    """Rank the master's options and request a booking with the best one; None when no carrier qualifies.

    For automation rules (a workflow action "auto-pick the carrier"): same path as ops choosing by hand. A carrier
    that declined the master is never picked again by a rule (a rule would ask it again and again): when every
    option declined, None, and ops choose by hand.
    """
    from tracking.services.booking import booking_request

    best = ranking_for_shipment(shipment=shipment).best_not_declined
    if best is None:
        return None
    return booking_request(shipment=shipment, option=best, by=by, automatic=True)
