"""Configuration console for rate cards, zones and exchange rates.

Organisations, cards and zones are picked by typing (autocomplete): their drop-downs would list every carrier and
card there is. A constraint a form breaks answers in words (each constraint's violation_error_message).
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from finance.models import ExchangeRate, RateBreak, RateCard, RateLine, RateZone, Surcharge


class SurchargeInline(admin.TabularInline):
    model = Surcharge
    extra = 0
    fields = ("code", "name", "kind", "basis", "amount", "percent", "equipment_type", "effective_on", "expires_on")


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
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
    list_display = ("__str__", "card", "basis", "minimum_amount", "maximum_quantity", "charge_code")
    list_filter = ("basis", "card__mode", "card__party")
    search_fields = ("origin_code", "destination_code", "card__name", "card__party__code")
    list_select_related = ("card", "card__party", "origin_zone", "destination_zone")
    autocomplete_fields = ("card", "origin_zone", "destination_zone")
    inlines = [RateBreakInline]


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
