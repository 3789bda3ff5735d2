"""Money, part one: rate cards. One rate system for carrier buy rates now and customer sell tariffs later.

A RateCard is one price list of one party (a carrier or vendor we buy from; later a customer we sell
to) for one mode, in one currency, valid between two dates. Its RateLines price a lane (origin and
destination by UN/LOCODE, country or zone), optionally an ISO equipment type, on a basis (per
chargeable kg, per container, per shipment, per W/M) with weight breaks and a minimum. Surcharges
(BAF, fuel, peak season…) are fixed amounts or a percentage of the freight, with their own validity.
`finance.rating.rate_quote` prices cargo against a card without touching the database.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

import pycountry
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.lookups import IsNull

from finance.money import number_text
from orders.identifiers import iso_size_type_problem, unlocode_shape_problem
from orders.models import Mode, ServiceLevel
from partners.models import Organisation, OrganisationKind
from partners.validators import validate_currency_code


class RateDirection(models.TextChoices):
    BUY = "buy", "Buy (cost from a carrier or vendor)"
    SELL = "sell", "Sell (tariff to a customer)"

    @property
    def short_label(self) -> str:
        """Buy or Sell: the label without its explanation, for a table that explains the directions once."""
        return self.label.split(" (", 1)[0]

    @property
    def explanation(self) -> str:
        """What the direction means (cost from a carrier or vendor), said once beside a column of short labels."""
        return self.label.split(" (", 1)[1].rstrip(")")


# Who a card's party may be: we buy from a carrier, agent or vendor, and sell to a customer. Carrier ranking offers
# a buy card's party as the carrier of a leg, so a customer there would be offered to carry goods.
BUY_PARTY_KINDS = frozenset({OrganisationKind.CARRIER, OrganisationKind.AGENT, OrganisationKind.VENDOR})
SELL_PARTY_KINDS = frozenset({OrganisationKind.CUSTOMER})


class RateBasis(models.TextChoices):
    PER_KG = "per_kg", "Per kg chargeable"
    PER_CONTAINER = "per_container", "Per container"
    PER_SHIPMENT = "per_shipment", "Per shipment"
    PER_WM = "per_wm", "Per W/M (revenue ton)"


class SurchargeKind(models.TextChoices):
    FIXED = "fixed", "Fixed amount"
    PERCENT = "percent", "% of freight"


def day_text(day: datetime.date) -> str:
    """ "1 Mar 2026": a card's or a surcharge's date as the console's messages name it."""
    return f"{day:%-d %b %Y}"


def _lane_code_problem(value: str) -> str | None:
    """A lane end is blank (anywhere), an ISO country (DE) or a UN/LOCODE (DEHAM)."""
    if value and not (len(value) in (2, 5) and value.isalnum() and value.isupper()):
        return f"{value} is neither a country code (DE) nor a UN/LOCODE (DEHAM)."
    return None


def _is_country(code: str) -> bool:
    return len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None


class RateZone(models.Model):
    """A carrier's zone (parcel and express tariffs): countries and places priced alike, e.g. DHL zone 3."""

    carrier = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="rate_zones",
        null=True,
        blank=True,
        help_text="Blank for our own zones (sell tariffs).",
    )
    code = models.CharField(max_length=20, help_text="e.g. EU1, ZONE3.")
    name = models.CharField(
        max_length=100,
        help_text="What the carrier calls the zone, e.g. Zone 3 – Western Europe. Shown beside the code when a rate "
        "line picks the zone; rating goes by the countries and places below.",
    )
    countries = ArrayField(
        models.CharField(max_length=2),
        default=list,
        blank=True,
        help_text="ISO 3166 country codes, comma-separated, e.g. DE,FR,NL.",
    )
    locations = ArrayField(
        models.CharField(max_length=5),
        default=list,
        blank=True,
        help_text="UN/LOCODEs, comma-separated, e.g. DEHAM,NLRTM.",
    )

    class Meta:
        ordering = ["carrier", "code"]
        constraints = [models.UniqueConstraint(fields=["carrier", "code"], name="rate_zone_code_per_carrier")]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def covers(self, locode: str) -> bool:
        return locode in self.locations or locode[:2] in self.countries

    def clean(self) -> None:
        """Countries and places are stored as rating compares them, in capitals (de is DE), and must be real: rating
        matches DEHAM by its first two letters, so "de" or a misspelt country would leave the zone's lines off every
        lane without a word."""
        self.countries = list(dict.fromkeys(code.strip().upper() for code in self.countries))
        self.locations = list(dict.fromkeys(code.replace(" ", "").upper() for code in self.locations))
        errors = {}
        unknown = [code for code in self.countries if not _is_country(code)]
        if unknown:
            errors["countries"] = f"{', '.join(unknown)}: use ISO 3166 country codes, e.g. DE or CN."
        problems = [
            unlocode_shape_problem(code)
            or (None if _is_country(code[:2]) else f"{code} is not a UN/LOCODE: {code[:2]} is no ISO 3166 country.")
            for code in self.locations
        ]
        if any(problems):
            errors["locations"] = " ".join(problem for problem in problems if problem)
        if errors:
            raise ValidationError(errors)


class RateCardQuerySet(models.QuerySet["RateCard"]):
    def buy(self) -> RateCardQuerySet:
        return self.filter(direction=RateDirection.BUY, is_active=True)

    def valid_on(self, day) -> RateCardQuerySet:  # type: ignore[no-untyped-def]
        """Cards in force on `day`: within their dates and not replaced by a newer card of the same contract."""
        within = Q(expires_on__isnull=True) | Q(expires_on__gte=day), Q(effective_on__lte=day)
        # The same party as `contract_key` compares it: a public tariff (no party) is replaced by the next public
        # tariff. `party = outer.party` is never true for two NULLs, so it needs its own case.
        same_party = Q(party=OuterRef("party")) | Q(IsNull(OuterRef("party"), True), party__isnull=True)
        newer = RateCard.objects.filter(
            *within,
            same_party,
            Q(reference=OuterRef("reference")) & (~Q(reference="") | Q(name=OuterRef("name"))),
            Q(effective_on__gt=OuterRef("effective_on"))
            | Q(effective_on=OuterRef("effective_on"), version__gt=OuterRef("version"))
            | Q(effective_on=OuterRef("effective_on"), version=OuterRef("version"), pk__gt=OuterRef("pk")),
            direction=OuterRef("direction"),
            mode=OuterRef("mode"),
            service_level=OuterRef("service_level"),
            is_active=True,
        )
        return self.filter(*within).exclude(Exists(newer))


class RateCard(models.Model):
    """One price list of one party for one mode and currency, valid from `effective_on` to `expires_on`."""

    name = models.CharField(
        max_length=120,
        help_text="What people call the price list, e.g. Maersk Asia–Europe FAK 2026; quotes and carrier rankings "
        "show it. Without a reference, cards of one party and mode with the same name are issues of one contract: "
        "the later replaces the earlier.",
    )
    reference = models.CharField(max_length=60, blank=True, help_text="Contract, quotation or tariff number.")
    version = models.PositiveSmallIntegerField(default=1, help_text="Raise it when the same contract is re-issued.")
    direction = models.CharField(
        max_length=4,
        choices=RateDirection.choices,
        default=RateDirection.BUY,
        help_text="Buy: what a carrier, agent or vendor charges us; carrier ranking prices legs with buy cards only. "
        "Sell: what we charge a customer.",
    )
    party = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="rate_cards",
        null=True,
        blank=True,
        help_text="Buy: the carrier, agent or vendor. Sell: the customer, or blank for the public tariff.",
    )
    mode = models.CharField(
        max_length=12,
        choices=Mode.choices,
        help_text="The transport the card prices: it is used only for orders and legs of this mode.",
    )
    service_level = models.CharField(
        max_length=12, choices=ServiceLevel.choices, blank=True, help_text="Blank: every service level."
    )
    currency = models.CharField(
        max_length=3,
        validators=[validate_currency_code],
        help_text="ISO 4217, e.g. EUR: the currency of every rate, minimum and fixed surcharge on the card, and of its "
        "quotes. Ranking compares cards in other currencies through the exchange rates.",
    )
    effective_on = models.DateField(
        "takes effect on",
        help_text="The first day the card prices cargo: rating reads the card valid on the day the cargo is ready.",
    )
    expires_on = models.DateField(
        null=True,
        blank=True,
        help_text="The last day the card prices cargo, on or after the day it takes effect. Blank: until a newer "
        "issue of the same contract takes effect.",
    )
    is_active = models.BooleanField(default=True)
    notes = models.TextField(
        blank=True, help_text="For people only (conditions, who negotiated it): rating does not read it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RateCardQuerySet.as_manager()

    class Meta:
        ordering = ["party__code", "mode", "-effective_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=F("effective_on")),
                name="rate_card_expires_after_effective",
                violation_error_message="The card expires on or after the day it takes effect.",
            ),
            models.CheckConstraint(
                condition=Q(direction=RateDirection.SELL) | Q(party__isnull=False),
                name="rate_card_buy_has_party",
                violation_error_message="A buy card names who we buy from: pick the carrier, agent or vendor.",
            ),
        ]
        indexes = [models.Index(fields=["direction", "mode", "effective_on"], name="rate_card_lookup")]

    def __str__(self) -> str:
        party = self.party.code if self.party is not None else "all"
        return f"{party} {self.get_mode_display()} {self.name} v{self.version}"

    @property
    def direction_short_label(self) -> str:
        """Buy or Sell, for the rate card list, whose legend says once what each means."""
        return RateDirection(self.direction).short_label

    @property
    def contract_key(self) -> tuple[str, int | None, str, str, str]:
        """What makes two cards versions of one contract: the same party, direction, mode and service level,
        and the same reference (contract, quotation or tariff number) or, when it has none, the same name."""
        return (self.direction, self.party_id, self.mode, self.service_level, self.reference or f"name:{self.name}")

    def replaces(self, other: RateCard) -> bool:
        """A later issue of the same contract: it starts later or, on the same day, has a higher version."""
        return (
            self.pk != other.pk
            and self.contract_key == other.contract_key
            and (self.effective_on, self.version, self.pk) > (other.effective_on, other.version, other.pk)
        )

    def clean(self) -> None:
        """The party is one the direction deals with (we buy from carriers, agents and vendors and sell to
        customers), and there is one issue per contract, version and start day: with two alike, rating would pick
        one by creation order (the later one replaces the other), so a corrected or re-issued card raises the
        version instead."""
        self._party_check()
        same_issue = RateCard.objects.filter(
            direction=self.direction,
            party=self.party_id,
            mode=self.mode,
            service_level=self.service_level,
            reference=self.reference,
            effective_on=self.effective_on,
            version=self.version,
        ).exclude(pk=self.pk)
        if not self.reference:
            same_issue = same_issue.filter(name=self.name)
        other = same_issue.select_related("party").first()
        if other is not None:
            raise ValidationError(
                {
                    "version": f"Version {self.version} of this contract from {self.effective_on:%-d %b %Y} is already "
                    f"on file ({other}); raise the version to re-issue it."
                }
            )

    def _party_check(self) -> None:
        party = self.party if self.party_id is not None else None
        if party is None:
            return  # a sell card's public tariff; a buy card without one is refused by rate_card_buy_has_party
        if self.direction == RateDirection.BUY and not BUY_PARTY_KINDS.intersection(party.kinds):
            raise ValidationError(
                {
                    "party": f"{party.code} is not a carrier, agent or vendor: a buy card prices what we buy from "
                    "one. A customer's prices are a sell card."
                }
            )
        if self.direction == RateDirection.SELL and not SELL_PARTY_KINDS.intersection(party.kinds):
            raise ValidationError(
                {
                    "party": f"{party.code} is not a customer: a sell card is a customer's tariff, or with no party "
                    "the public tariff."
                }
            )

    def is_within_dates_on(self, day) -> bool:  # type: ignore[no-untyped-def]
        return self.effective_on <= day and (self.expires_on is None or self.expires_on >= day)

    def replacement_on(self, day, newer: Iterable[RateCard]) -> RateCard | None:  # type: ignore[no-untyped-def]
        """The latest active card among `newer` that replaces this one and is within its own dates on `day`."""
        found = [card for card in newer if card.is_active and card.replaces(self) and card.is_within_dates_on(day)]
        return max(found, key=lambda card: (card.effective_on, card.version, card.pk), default=None)

    def is_valid_on(self, day, *, newer: Iterable[RateCard] = ()) -> bool:  # type: ignore[no-untyped-def]
        """In force on `day`: within its dates and not replaced by a newer card of the contract ("until
        replaced"). `newer` are the other cards of the contract; `RateCard.objects.valid_on` reads them itself."""
        return self.is_within_dates_on(day) and self.replacement_on(day, newer) is None


MAXIMUM_QUANTITY_POSITIVE = "The largest quantity a line takes is above zero; leave it blank for no limit."


class RateLine(models.Model):
    """The price of one lane (and equipment type) on a card: breaks by quantity, a minimum, a maximum."""

    card = models.ForeignKey(
        RateCard,
        on_delete=models.CASCADE,
        related_name="lines",
        help_text="The price list the line belongs to: its currency, dates and surcharges apply to the line.",
    )
    origin_code = models.CharField(
        max_length=5, blank=True, help_text="UN/LOCODE (CNSHA) or country (CN); blank with no zone: anywhere."
    )
    origin_zone = models.ForeignKey(
        RateZone,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Instead of an origin code: every country and place of the zone. A line for the exact place wins "
        "over a zone's, a zone's over a country's.",
    )
    destination_code = models.CharField(max_length=5, blank=True, help_text="UN/LOCODE (DEHAM) or country (DE).")
    destination_zone = models.ForeignKey(
        RateZone,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Instead of a destination code: every country and place of the zone. A line for the exact place "
        "wins over a zone's, a zone's over a country's.",
    )
    equipment_type = models.CharField(
        "ISO size-type", max_length=4, blank=True, help_text="For per-container rates, e.g. 22G1; blank: any."
    )
    basis = models.CharField(
        max_length=16,
        choices=RateBasis.choices,
        help_text="What the breaks count. Per kg and per W/M: every break is tried, charging at least its quantity, "
        "and the cheapest is charged. Per container: the rate times the containers of the line's type. Per "
        "shipment: the rate of the weight band the chargeable kg fall in is the price.",
    )
    minimum_amount = models.DecimalField(
        max_digits=13, decimal_places=3, default=Decimal(0), help_text="In the card currency (KWD has 3 decimals)."
    )
    maximum_quantity = models.DecimalField(
        max_digits=12,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Largest chargeable kg (or containers, W/M) this line takes, e.g. 31.5 kg for a parcel.",
    )
    charge_code = models.CharField(max_length=12, default="FRT", help_text="e.g. FRT-SEA, FRT-AIR.")

    class Meta:
        ordering = ["card", "origin_code", "destination_code", "equipment_type", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(origin_zone__isnull=True) | Q(origin_code=""),
                name="rate_line_origin_code_or_zone",
                violation_error_message="Give the origin as a code or as a zone, not both.",
            ),
            models.CheckConstraint(
                condition=Q(destination_zone__isnull=True) | Q(destination_code=""),
                name="rate_line_destination_code_or_zone",
                violation_error_message="Give the destination as a code or as a zone, not both.",
            ),
            models.CheckConstraint(
                condition=Q(minimum_amount__gte=0),
                name="rate_line_minimum_not_negative",
                violation_error_message="The minimum charge is zero or more.",
            ),
            models.CheckConstraint(
                condition=Q(maximum_quantity__isnull=True) | Q(maximum_quantity__gt=0),
                name="rate_line_maximum_positive",
                violation_error_message=MAXIMUM_QUANTITY_POSITIVE,
            ),
        ]
        indexes = [models.Index(fields=["origin_code", "destination_code"], name="rate_line_lane")]

    def __str__(self) -> str:
        return f"{self.lane_text} {self.get_basis_display()}"

    @property
    def lane_text(self) -> str:
        """CNSHA → DEHAM 22G1: the lane's ends (a code, a zone's code, or * for anywhere) and container type."""
        origin = self.origin_code or (self.origin_zone.code if self.origin_zone is not None else "*")
        destination = self.destination_code or (
            self.destination_zone.code if self.destination_zone is not None else "*"
        )
        return f"{origin} → {destination} {self.equipment_type}".strip()

    def break_unit(self, quantity: Decimal) -> str:
        """What a break's quantity counts: chargeable kg (also the weight bands of per-shipment lines), W/M or
        containers, as `finance.rating` measures the basis."""
        if self.basis == RateBasis.PER_CONTAINER:
            return "container" if quantity == 1 else "containers"
        return "W/M" if self.basis == RateBasis.PER_WM else "kg"

    def rate_texts(self) -> list[str]:
        """The line's rates for people, one per break: "≥ 100 kg: 2.294". A line with a single rate from zero (a
        container or a flat price) reads as the rate alone: 1,420. Reads `breaks` as prefetched."""
        breaks = list(self.breaks.all())
        if len(breaks) == 1 and not breaks[0].from_quantity:
            return [number_text(breaks[0].rate)]
        return [
            f"≥ {number_text(b.from_quantity)} {self.break_unit(b.from_quantity)}: {number_text(b.rate)}"
            for b in breaks
        ]

    @property
    def maximum_text(self) -> str:
        """The most the line takes, in its unit (31.5 kg), or a dash for no limit."""
        if self.maximum_quantity is None:
            return "—"
        return f"{number_text(self.maximum_quantity)} {self.break_unit(self.maximum_quantity)}"

    def clean(self) -> None:
        errors = {}
        for name in ("origin_code", "destination_code"):
            problem = _lane_code_problem(getattr(self, name))
            if problem:
                errors[name] = problem
        if self.equipment_type:
            problem = iso_size_type_problem(self.equipment_type)
            if problem:
                errors["equipment_type"] = problem
        if self.maximum_quantity is not None and self.maximum_quantity <= 0:
            errors["maximum_quantity"] = MAXIMUM_QUANTITY_POSITIVE
        if self.basis == RateBasis.PER_CONTAINER and not self.equipment_type:
            errors["equipment_type"] = "A per-container rate names its container type, e.g. 22G1 or 45G1."
        if errors:
            raise ValidationError(errors)


class RateBreak(models.Model):
    """From this quantity on, this rate applies (IATA N/Q45/Q100…; a weight band for per-shipment lines)."""

    line = models.ForeignKey(RateLine, on_delete=models.CASCADE, related_name="breaks")
    from_quantity = models.DecimalField(
        max_digits=12,
        decimal_places=3,
        default=Decimal(0),
        help_text="From this quantity of the line's basis on (kg, W/M or containers; chargeable kg for per-shipment "
        "weight bands), this rate applies. Start the first break at 0.",
    )
    rate = models.DecimalField(
        max_digits=12, decimal_places=4, help_text="Per unit of the basis; for per-shipment lines the flat price."
    )

    class Meta:
        ordering = ["line", "from_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["line", "from_quantity"], name="rate_break_once_per_quantity"),
            # A zero rate is a blank cell, not a price: it would make the carrier the cheapest on the lane.
            models.CheckConstraint(
                condition=Q(from_quantity__gte=0) & Q(rate__gt=0),
                name="rate_break_positive",
                violation_error_message="A rate is above zero and starts at a quantity of zero or more.",
            ),
        ]

    def __str__(self) -> str:
        return f"≥ {number_text(self.from_quantity)}: {number_text(self.rate)}"


class Surcharge(models.Model):
    """An addition to the freight on a card: fixed per basis unit, or a percentage of the freight."""

    card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="surcharges")
    code = models.CharField(max_length=12, help_text="e.g. BAF, FSC, SSC, PSS, OTHC.")
    name = models.CharField(max_length=100, help_text="As quotes show it, e.g. Bunker adjustment factor.")
    kind = models.CharField(
        max_length=8,
        choices=SurchargeKind.choices,
        default=SurchargeKind.FIXED,
        help_text="Fixed amount: Amount times the basis (per shipment, kg, W/M or container). % of freight: Percent "
        "of the quote's freight, or of that container type's freight when a type is set.",
    )
    basis = models.CharField(
        max_length=16, choices=RateBasis.choices, default=RateBasis.PER_SHIPMENT, help_text="For fixed amounts."
    )
    amount = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0), help_text="Fixed: per unit.")
    percent = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal(0), help_text="% of freight.")
    equipment_type = models.CharField(max_length=4, blank=True, help_text="Only on this container type; blank: all.")
    effective_on = models.DateField(null=True, blank=True, help_text="Blank: as the card.")
    expires_on = models.DateField(null=True, blank=True, help_text="Blank: as the card.")

    class Meta:
        ordering = ["card", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=SurchargeKind.FIXED, amount__gte=0) | Q(kind=SurchargeKind.PERCENT, percent__gte=0),
                name="surcharge_value_not_negative",
                violation_error_message="A surcharge adds to the freight: its amount or percentage is zero or more.",
            ),
            # Ending before it starts, it would never apply and the card would quote without it, silently.
            models.CheckConstraint(
                condition=Q(effective_on__isnull=True)
                | Q(expires_on__isnull=True)
                | Q(expires_on__gte=F("effective_on")),
                name="surcharge_expires_after_effective",
                violation_error_message="The surcharge expires on or after the day it takes effect.",
            ),
        ]

    def __str__(self) -> str:
        value = f"{number_text(self.percent)}%" if self.kind == SurchargeKind.PERCENT else number_text(self.amount)
        return f"{self.code} {value}"

    def clean(self) -> None:
        """The number belongs to the kind: rating reads the percent of a percentage and the amount of a fixed
        surcharge, so 12.5 typed in the other box would quote the surcharge at 0.00 and the card as cheaper than it
        is. Rating matches the container type exactly: a typo (40hc for 45G1) would leave it off every container.
        Its dates overlap its card's (_card_dates_problem)."""
        errors = {}
        dates_problem = self._card_dates_problem()
        if dates_problem:
            errors["expires_on" if dates_problem[0] == "expires" else "effective_on"] = dates_problem[1]
        if self.kind == SurchargeKind.PERCENT:
            if not self.percent or self.percent <= 0:
                errors["percent"] = "A percentage surcharge needs its percent of the freight above 0, e.g. 12.5."
            if self.amount:
                errors["amount"] = (
                    "A percentage surcharge has no amount: put the number in Percent, or pick Fixed amount."
                )
        elif self.kind == SurchargeKind.FIXED:
            if not self.amount or self.amount <= 0:
                errors["amount"] = "A fixed surcharge needs its amount per unit above 0, e.g. 285."
            if self.percent:
                errors["percent"] = "A fixed surcharge has no percent: put the number in Amount, or pick % of freight."
        if self.equipment_type:
            problem = iso_size_type_problem(self.equipment_type)
            if problem:
                errors["equipment_type"] = problem
        if errors:
            raise ValidationError(errors)

    def is_valid_on(self, day) -> bool:  # type: ignore[no-untyped-def]
        return (self.effective_on is None or self.effective_on <= day) and (
            self.expires_on is None or self.expires_on >= day
        )

    def _card_dates_problem(self) -> tuple[str, str] | None:
        """("expires" or "effective", why) when the surcharge can never apply: rating prices cargo with the card
        valid on the day (RateCard.is_valid_on) and adds its surcharges valid on that day (is_valid_on), so one that
        expires before its card takes effect, or takes effect after its card expires, is never added, and quotes
        leave it out without a word. A blank start or expiry is the card's ("as the card"), so no start does not save
        one that expires too soon. A surcharge whose own dates are inverted is left to ValidityForm and the
        `surcharge_expires_after_effective` constraint (one message for one mistake). The card is the one in memory:
        on the console's card page, the card as typed in the same form."""
        card = self._card_if_known()
        if card is None or (self.effective_on and self.expires_on and self.expires_on < self.effective_on):
            return None
        if self.expires_on and card.effective_on and self.expires_on < card.effective_on:
            ends, card_starts = day_text(self.expires_on), day_text(card.effective_on)
            return (
                "expires",
                f"It expires on {ends}, before its card takes effect on {card_starts}, so it would never apply: set an "
                f"expiry on {card_starts} or later, or leave it blank (as long as the card).",
            )
        if self.effective_on and card.expires_on and self.effective_on > card.expires_on:
            starts, card_ends = day_text(self.effective_on), day_text(card.expires_on)
            return (
                "effective",
                f"It takes effect on {starts}, after its card expires on {card_ends}, so it would never apply: set a "
                f"start on {card_ends} or earlier, or leave it blank (as the card).",
            )
        return None

    def _card_if_known(self) -> RateCard | None:
        """The card, as set on the surcharge (unsaved on a new card's page), or None before one is."""
        if self.card_id is None and not Surcharge.card.is_cached(self):
            return None
        return self.card


class ExchangeRate(models.Model):
    """1 `base_currency` = `rate` x `quote_currency` from `rate_on` until a newer row (to compare offers)."""

    base_currency = models.CharField(
        max_length=3, validators=[validate_currency_code], help_text="ISO 4217, e.g. EUR: the currency of 1 unit."
    )
    quote_currency = models.CharField(
        max_length=3, validators=[validate_currency_code], help_text="ISO 4217, e.g. USD: the currency the rate is in."
    )
    rate = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        help_text="How many quote-currency units 1 base-currency unit buys: EUR to USD at 1.08 is 1.08, not 0.926. "
        "The other direction is worked out from this row; do not enter it as a second row.",
    )
    rate_on = models.DateField(
        help_text="The first day the rate applies; it applies until the day of a newer row for the same currencies."
    )
    source = models.CharField(max_length=60, blank=True, help_text="e.g. ECB reference rate.")

    class Meta:
        ordering = ["base_currency", "quote_currency", "-rate_on"]
        constraints = [
            models.UniqueConstraint(fields=["base_currency", "quote_currency", "rate_on"], name="fx_rate_once_a_day"),
            models.CheckConstraint(
                condition=Q(rate__gt=0), name="fx_rate_positive", violation_error_message="The rate is above zero."
            ),
            models.CheckConstraint(
                condition=~Q(base_currency=F("quote_currency")),
                name="fx_rate_two_currencies",
                violation_error_message="An exchange rate is between two different currencies.",
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.base_currency} = {number_text(self.rate)} {self.quote_currency} ({self.rate_on})"
