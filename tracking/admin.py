"""Configuration console for planning reference data (carrier services, preferences, on-time records) and a
read-mostly view of shipments and bookings. Shipment and booking states change only through the screens."""

from django.contrib import admin

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


@admin.register(CarrierService)
class CarrierServiceAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "carrier",
        "mode",
        "origin_code",
        "destination_code",
        "transit_days",
        "departure_weekdays",
        "is_active",
    )
    list_filter = ("mode", "is_active", "carrier")
    search_fields = ("name", "origin_code", "destination_code", "carrier__code", "carrier__name")
    list_select_related = ("carrier",)


@admin.register(CarrierPreference)
class CarrierPreferenceAdmin(admin.ModelAdmin):
    list_display = ("carrier", "kind", "customer", "mode", "origin_code", "destination_code", "reason")
    list_filter = ("kind", "mode")
    search_fields = ("carrier__code", "customer__code", "reason")
    list_select_related = ("carrier", "customer")


@admin.register(CarrierRecord)
class CarrierRecordAdmin(admin.ModelAdmin):
    list_display = ("carrier", "on_time_score", "measured_legs", "updated_at")
    list_select_related = ("carrier",)


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


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ("reference", "kind", "mode", "origin", "destination", "carrier", "status", "branch", "created_at")
    list_filter = ("kind", "status", "mode", "branch")
    search_fields = ("reference", "bill_number", "order__reference")
    list_select_related = ("carrier", "branch", "origin", "destination")
    raw_id_fields = ("order", "origin", "destination", "carrier", "branch")
    readonly_fields = ("reference", "kind", "status", "created_by", "created_at")
    inlines = [ConsolidatedHouseInline, LegInline, ContainerInline]


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ("shipment", "carrier", "status", "carrier_reference", "confirmed_departure_at", "roll_count")
    list_filter = ("status", "carrier")
    search_fields = ("shipment__reference", "carrier_reference")
    list_select_related = ("shipment", "carrier")
    readonly_fields = ("status", "selection", "request_text", "requested_at", "sent_at", "answered_at")
    raw_id_fields = ("shipment", "carrier", "service", "rate_card", "requested_by")


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("shipment", "kind", "location", "window_start_at", "window_end_at", "status")
    list_filter = ("kind", "status")
    list_select_related = ("shipment", "location")
    raw_id_fields = ("shipment", "location")
    readonly_fields = ("status",)


from tracking.exceptions import admin as _exceptions_admin  # noqa: E402,F401  (exceptions live in tracking/exceptions/)
from tracking.ingest import admin as _ingest_admin  # noqa: E402,F401  (tracking events live in tracking/ingest/)
