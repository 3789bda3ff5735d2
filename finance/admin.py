"""Configuration console for rate cards, zones and exchange rates.

Organisations, cards and zones are picked by typing (autocomplete): their drop-downs would list every carrier and
card there is. A constraint a form breaks answers in words (each constraint's violation_error_message); a card's or
surcharge's dates that end before they start are refused on the expiry, naming both dates (`ValidityForm`), before
the constraint (which still guards every other path) is reached. A surcharge that could never apply, expiring before
its card takes effect (a blank start is the card's) or starting after it expires, is refused by its model's clean
(`Surcharge._card_dates_problem`), so by this page's surcharge rows and any other form, naming both dates too.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from finance.models import ExchangeRate, RateBreak, RateCard, RateLine, RateZone, Surcharge, day_text
from finance.money import number_text
from oms.admin_bases import KeptRecordsFirst


class ValidityForm(forms.ModelForm):
    """A form of a row valid from `effective_on` to `expires_on` (a card, a surcharge). An expiry before the start is
    refused on the expiry box with both dates, as the person sees them: the database constraint's message could only
    state the rule, above the form, away from the box to change."""

    blank_expiry = ""  # what a blank expiry means for the row, said in the message

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        effective_on, expires_on = cleaned.get("effective_on"), cleaned.get("expires_on")
        if effective_on and expires_on and expires_on < effective_on:
            ends, starts = day_text(expires_on), day_text(effective_on)
            self.add_error(
                "expires_on",
                f"It expires on {ends}, before it takes effect on {starts}: set an expiry on {starts} or later, or "
                f"leave it blank ({self.blank_expiry}).",
            )
        return cleaned


class RateCardForm(ValidityForm):
    blank_expiry = "until a newer issue of the contract takes effect"

    class Meta:
        model = RateCard
        fields = (
            "name",
            "reference",
            "version",
            "direction",
            "party",
            "mode",
            "service_level",
            "currency",
            "effective_on",
            "expires_on",
            "is_active",
            "notes",
        )


class SurchargeForm(ValidityForm):
    blank_expiry = "as long as the card"

    class Meta:
        model = Surcharge
        fields = ("code", "name", "kind", "basis", "amount", "percent", "equipment_type", "effective_on", "expires_on")


class SurchargeInline(admin.TabularInline):
    model = Surcharge
    form = SurchargeForm
    extra = 0
    fields = SurchargeForm.Meta.fields


@admin.register(RateCard)
class RateCardAdmin(KeptRecordsFirst):
    form = RateCardForm
    # Fits 1440 px beside the console's navigation and filters: Buy or Sell on each row (the Direction filter spells
    # out what each means), the party's code (a card's name usually says the rest), mode with its service level and
    # the validity in one column each, as the staff list has them; and the contract's reference and version, so two
    # issues of one contract can be told apart.
    list_display = (
        "name",
        "issue",
        "party_code",
        "direction_column",
        "mode_column",
        "currency",
        "validity",
        "is_active",
    )
    list_filter = ("direction", "mode", "currency", "is_active")
    list_select_related = ("party",)
    search_fields = ("name", "reference", "party__code", "party__name")
    autocomplete_fields = ("party",)
    date_hierarchy = "effective_on"
    inlines = [SurchargeInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RateCard]:
        return super().get_queryset(request).select_related("party")  # a card's name shows its party's code

    @admin.display(description="Reference", ordering="reference")
    def issue(self, card: RateCard) -> str:
        """NT-2026 v2, or v2 alone for a card without a reference."""
        return f"{card.reference} v{card.version}".strip()

    @admin.display(description="Party", ordering="party__code")
    def party_code(self, card: RateCard) -> str:
        return card.party.code if card.party is not None else "All customers"

    @admin.display(description="Direction", ordering="direction")
    def direction_column(self, card: RateCard) -> str:
        return card.direction_short_label

    @admin.display(description="Mode", ordering="mode")
    def mode_column(self, card: RateCard) -> str:
        mode = str(card.get_mode_display())
        return f"{mode} · {card.get_service_level_display()}" if card.service_level else mode

    @admin.display(description="Valid", ordering="effective_on")
    def validity(self, card: RateCard) -> str:
        until = f"{card.expires_on:%-d %b %Y}" if card.expires_on else "open"
        return f"{card.effective_on:%-d %b %Y} – {until}"


class RateBreakInline(admin.TabularInline):
    model = RateBreak
    extra = 1


@admin.register(RateLine)
class RateLineAdmin(admin.ModelAdmin):
    # Fits the 907 px column at 1280 px with the navigation closed: the lane without its basis (its own column), the
    # basis with the most it takes ("Per shipment, at most 70 kg": a column of its own ran the list to 943 px and
    # hid the charge code), the minimum with its currency, blank for none.
    list_display = ("lane", "card", "basis_column", "minimum", "charge_code")
    list_filter = ("basis", "card__mode", "card__party")
    search_fields = ("origin_code", "destination_code", "card__name", "card__party__code")
    list_select_related = ("card", "card__party", "origin_zone", "destination_zone")
    autocomplete_fields = ("card", "origin_zone", "destination_zone")
    inlines = [RateBreakInline]

    @admin.display(description="Lane", ordering="origin_code")
    def lane(self, line: RateLine) -> str:
        return line.lane_text

    @admin.display(description="Basis", ordering="basis")
    def basis_column(self, line: RateLine) -> str:
        basis = str(line.get_basis_display())
        return basis if line.maximum_quantity is None else f"{basis}, at most {line.maximum_text}"

    @admin.display(description="Minimum", ordering="minimum_amount")
    def minimum(self, line: RateLine) -> str:
        return f"{number_text(line.minimum_amount)} {line.card.currency}" if line.minimum_amount else "—"


@admin.register(RateZone)
class RateZoneAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "carrier")
    search_fields = ("code", "name", "carrier__code")
    list_select_related = ("carrier",)
    autocomplete_fields = ("carrier",)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("base_currency", "quote_currency", "rate", "rate_on", "source")
    list_filter = ("base_currency", "quote_currency")
    date_hierarchy = "rate_on"
