"""Console: the detection rules (thresholds per kind, mode and customer) and a read-mostly view of exceptions,
their history and the scans. Exceptions change only through the screens and services (acknowledge, note,
resolve): here they can be read and searched, not edited.

An exception is named by its kind and its shipment's reference, an entry by its exception: each admin selects the
rows the names read in its get_queryset, so the list, the change form and the history inline run as many queries
for many rows as for one."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tracking.exceptions.models import ExceptionEntry, ExceptionRule, ExceptionScan, ShipmentException


@admin.register(ExceptionRule)
class ExceptionRuleAdmin(admin.ModelAdmin):
    # Whether the customer is emailed, and the note, are on the form ("notify customer" is also a filter): with
    # them the editable columns ran off a 1440 px screen beside the filters.
    list_display = ("kind", "mode", "customer_code", "threshold_hours", "severity", "is_active")
    list_filter = ("kind", "mode", "severity", "is_active", "notify_customer")
    list_editable = ("threshold_hours", "severity", "is_active")
    search_fields = ("customer__code", "customer__name", "note")
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    fieldsets = (
        (None, {"fields": ("kind", "mode", "customer")}),
        ("When and how", {"fields": ("threshold_hours", "severity", "notify_customer", "is_active", "note")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExceptionRule]:
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="customer", ordering="customer__code")
    def customer_code(self, rule: ExceptionRule) -> str | None:
        return rule.customer.code if rule.customer else None


class EntryInline(admin.TabularInline):
    model = ExceptionEntry
    extra = 0
    can_delete = False
    fields = ("at", "verb", "by", "text")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExceptionEntry]:
        return super().get_queryset(request).select_related("exception__shipment", "by")  # each row is titled


@admin.register(ShipmentException)
class ShipmentExceptionAdmin(admin.ModelAdmin):
    # The order (also found by the search), the owner and what was detected are on the form and in the exceptions
    # inbox, where exceptions are worked; with them the kinds wrapped and the list ran off a 1440 px screen.
    list_display = ("kind", "severity", "status", "shipment", "customer_code", "opened_at")
    list_filter = ("status", "kind", "severity", "mode", "is_auto_resolved")
    search_fields = ("shipment__reference", "order__reference", "customer__code", "detail", "carrier_reason_code")
    list_select_related = ("shipment", "customer")
    date_hierarchy = "opened_at"
    inlines = [EntryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShipmentException]:
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="customer", ordering="customer__code")
    def customer_code(self, exception: ShipmentException) -> str | None:
        return exception.customer.code if exception.customer else None

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
