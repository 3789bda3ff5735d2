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
    list_display = (
        "name",
        "party",
        "direction",
        "mode",
        "service_level",
        "currency",
        "effective_on",
        "expires_on",
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
