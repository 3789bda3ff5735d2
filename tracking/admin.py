"""Configuration console for planning reference data (carrier services, preferences, on-time records) and a
read-mostly view of shipments and bookings. Shipment and booking states change only through the screens.

Lists show what a person scans for and fit a 1440 px screen beside the filters; the rest is on the change form.
Organisations are shown by their code in lists (the name is on the organisation's own page). The names of
bookings, services, records, appointments and legs read references and codes from related rows, so each
admin selects those rows in its get_queryset, not only for its list: the change form and autocomplete show the
name too.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from partners.admin_filters import BranchFilter, CarrierFilter
from partners.models import Organisation
from tracking.models import (
    Appointment,
    Booking,
    CarrierPreference,
    CarrierRecord,
    CarrierService,
    ConsolidatedHouse,
    Leg,
    Shipment,
    ShipmentEquipment,
)


def organisation_code(organisation: Organisation | None) -> str | None:
    """None shows as the console's empty value (-)."""
    return organisation.code if organisation else None


@admin.register(CarrierService)
class CarrierServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "carrier_code", "mode", "lane", "transit_days", "is_active")
    list_filter = ("mode", "is_active", ("carrier", CarrierFilter))
    search_fields = ("name", "origin_code", "destination_code", "carrier__code", "carrier__name")
    list_select_related = ("carrier",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CarrierService]:
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="carrier", ordering="carrier__code")
    def carrier_code(self, service: CarrierService) -> str | None:
        return organisation_code(service.carrier)

    @admin.display(description="lane", ordering="origin_code")
    def lane(self, service: CarrierService) -> str:
        return f"{service.origin_code} → {service.destination_code}"


@admin.register(CarrierPreference)
class CarrierPreferenceAdmin(admin.ModelAdmin):
    list_display = ("carrier", "kind", "customer", "mode", "origin_code", "destination_code", "reason")
    list_filter = ("kind", "mode")
    search_fields = ("carrier__code", "customer__code", "reason")
    list_select_related = ("carrier", "customer")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CarrierPreference]:
        return super().get_queryset(request).select_related(*self.list_select_related)


@admin.register(CarrierRecord)
class CarrierRecordAdmin(admin.ModelAdmin):
    list_display = ("carrier", "on_time_score", "measured_legs", "updated_at")
    list_select_related = ("carrier",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CarrierRecord]:
        return super().get_queryset(request).select_related(*self.list_select_related)


class LegInline(admin.TabularInline):
    model = Leg
    extra = 0
    fields = (
        "sequence",
        "role",
        "mode",
        "carrier",
        "origin",
        "destination",
        "planned_departure_at",
        "planned_arrival_at",
        "actual_departure_at",
        "actual_arrival_at",
    )
    raw_id_fields = ("carrier", "origin", "destination")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Leg]:
        return super().get_queryset(request).select_related("shipment")  # each row is titled with its name


class ContainerInline(admin.TabularInline):
    model = ShipmentEquipment
    extra = 0


class ConsolidatedHouseInline(admin.TabularInline):
    model = ConsolidatedHouse
    fk_name = "master"
    extra = 0
    raw_id_fields = ("house",)
    readonly_fields = ("house", "added_at", "added_by", "removed_at", "deconsolidated_at")
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsolidatedHouse]:
        # Each row is titled with its name (house on master) and shows the house and who added it.
        return super().get_queryset(request).select_related("house", "master", "added_by")


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    # Kind and branch are in the reference (M-HAM-…) and in the filters; places, dates and bill on the form.
    list_display = ("reference", "mode", "lane", "carrier_code", "status")
    list_filter = ("kind", "status", "mode", ("branch", BranchFilter))
    search_fields = ("reference", "bill_number", "order__reference")
    list_select_related = ("carrier",)
    raw_id_fields = ("order", "origin", "destination", "carrier", "branch")
    readonly_fields = ("reference", "kind", "status", "created_by", "created_at")
    inlines = [ConsolidatedHouseInline, LegInline, ContainerInline]

    @admin.display(description="lane", ordering="origin")
    def lane(self, shipment: Shipment) -> str:
        return shipment.lane  # UN/LOCODEs, the keys themselves: no join

    @admin.display(description="carrier", ordering="carrier__code")
    def carrier_code(self, shipment: Shipment) -> str | None:
        return organisation_code(shipment.carrier)


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ("shipment", "carrier_code", "status", "carrier_reference", "confirmed_departure_at")
    list_filter = ("status", ("carrier", CarrierFilter))
    search_fields = ("shipment__reference", "carrier_reference")
    list_select_related = ("shipment", "carrier")
    readonly_fields = ("status", "selection", "request_text", "requested_at", "sent_at", "answered_at")
    raw_id_fields = ("shipment", "carrier", "service", "rate_card", "requested_by")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Booking]:
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="carrier", ordering="carrier__code")
    def carrier_code(self, booking: Booking) -> str | None:
        return organisation_code(booking.carrier)


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("shipment", "kind", "location", "window_start_at", "status")
    list_filter = ("kind", "status")
    list_select_related = ("shipment", "location")
    raw_id_fields = ("shipment", "location")
    readonly_fields = ("status",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appointment]:
        return super().get_queryset(request).select_related(*self.list_select_related)


from tracking.exceptions import admin as _exceptions_admin  # noqa: E402,F401  (exceptions live in tracking/exceptions/)
from tracking.ingest import admin as _ingest_admin  # noqa: E402,F401  (tracking events live in tracking/ingest/)
