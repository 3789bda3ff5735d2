"""Console: the detection rules (thresholds per kind, mode and customer) and a read-mostly view of exceptions,
their history and the scans. Exceptions change only through the screens and services (acknowledge, note,
resolve): here they can be read and searched, not edited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tracking.exceptions.models import ExceptionEntry, ExceptionRule, ExceptionScan, ShipmentException


@admin.register(ExceptionRule)
class ExceptionRuleAdmin(admin.ModelAdmin):
    list_display = ("kind", "mode", "customer", "threshold_hours", "severity", "notify_customer", "is_active", "note")
    list_filter = ("kind", "mode", "severity", "is_active", "notify_customer")
    list_editable = ("threshold_hours", "severity", "notify_customer", "is_active")
    search_fields = ("customer__code", "customer__name", "note")
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    fieldsets = (
        (None, {"fields": ("kind", "mode", "customer")}),
        ("When and how", {"fields": ("threshold_hours", "severity", "notify_customer", "is_active", "note")}),
    )


class EntryInline(admin.TabularInline):
    model = ExceptionEntry
    extra = 0
    can_delete = False
    fields = ("at", "verb", "by", "text")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ShipmentException)
class ShipmentExceptionAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "severity", "status", "shipment", "order", "customer", "owner", "opened_at")
    list_filter = ("status", "kind", "severity", "mode", "is_auto_resolved")
    search_fields = ("shipment__reference", "order__reference", "customer__code", "detail", "carrier_reason_code")
    list_select_related = ("shipment", "order", "customer", "owner")
    date_hierarchy = "opened_at"
    inlines = [EntryInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ExceptionScan)
class ExceptionScanAdmin(admin.ModelAdmin):
    list_display = ("started_at", "finished_at", "cursor", "batches", "shipments", "opened", "resolved")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
