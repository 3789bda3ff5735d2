"""Console: the detection rules (thresholds per kind, mode and customer) and a read-mostly view of exceptions,
their history and the scans. Exceptions change only through the screens and services (acknowledge, note,
resolve): here they can be read and searched, not edited.

An exception is named by its kind and its shipment's reference, an entry by its exception: each admin selects the
rows the names read in its get_queryset, so the list, the change form and the history inline run as many queries
for many rows as for one.

A rule's customer is picked by code or name (autocomplete; the field offers customers only). What the table's
constraints refuse (a negative threshold, a second rule for the same kind, mode and customer) is said in words on
the form and in the list (the constraints' messages). "Notify customer" for a customer without an email address is
refused on the form; for every customer, saving names the customers who have none."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from partners.models import Organisation, OrganisationKind
from tracking.exceptions.models import ExceptionEntry, ExceptionRule, ExceptionScan, ShipmentException

# How many customers without an email address the warning names before "and N more".
_NAMED = 8


class ExceptionRuleForm(forms.ModelForm):
    class Meta:
        model = ExceptionRule
        fields = ("kind", "mode", "customer", "threshold_hours", "severity", "notify_customer", "is_active", "note")
        # The model's help text says "shipments" (changing it would take a migration for words alone): what is
        # judged by a leg's mode is said here, where rules are edited.
        help_texts = {
            "mode": "Only this mode. A late or slipping leg (overdue milestone, ETA slipped, rolled booking, missed "
            "cut-off) is judged by its own leg's mode: a road pre-carriage of an ocean shipment by the road rule; "
            "so is damage or a return reported on a leg. Silence and holds by the shipment's mode. Blank: every "
            "mode without a rule of its own.",
        }

    def clean(self) -> dict[str, Any] | None:
        """A rule for one customer that emails them needs their address: without it nothing would be sent and
        nobody would know (the email task skips a customer without one)."""
        cleaned = super().clean()
        customer = self.cleaned_data.get("customer")
        if self.cleaned_data.get("notify_customer") and customer is not None and not customer.email:
            self.add_error(
                "notify_customer",
                f"{customer.code} has no email address, so the customer would not be told: add it on the "
                "organisation first, or untick this.",
            )
        return cleaned


def customers_without_email() -> list[str]:
    """The codes of the active customers that have no email address (a rule for every customer cannot tell them)."""
    customers = Organisation.objects.filter(kinds__contains=[OrganisationKind.CUSTOMER], is_active=True, email="")
    return list(customers.order_by("code").values_list("code", flat=True))


@admin.register(ExceptionRule)
class ExceptionRuleAdmin(admin.ModelAdmin):
    form = ExceptionRuleForm
    # Whether the customer is emailed, and the note, are on the form ("notify customer" is also a filter): with
    # them the editable columns ran off a 1440 px screen beside the filters.
    list_display = ("kind", "mode", "customer_code", "threshold_hours", "severity", "is_active")
    list_filter = ("kind", "mode", "severity", "is_active", "notify_customer")
    list_editable = ("threshold_hours", "severity", "is_active")
    search_fields = ("customer__code", "customer__name", "note")
    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)  # by code or name; the field's limit_choices_to offers customers only
    fieldsets = (
        (None, {"fields": ("kind", "mode", "customer")}),
        ("When and how", {"fields": ("threshold_hours", "severity", "notify_customer", "is_active", "note")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExceptionRule]:
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="customer", ordering="customer__code")
    def customer_code(self, rule: ExceptionRule) -> str | None:
        return rule.customer.code if rule.customer else None

    def save_model(self, request: HttpRequest, obj: ExceptionRule, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.notify_customer and obj.customer_id is None:
            missing = customers_without_email()
            if missing:
                named = ", ".join(missing[:_NAMED]) + (
                    f" and {len(missing) - _NAMED} more" if len(missing) > _NAMED else ""
                )
                messages.warning(
                    request,
                    f"Customers without an email address are not emailed when this rule applies to them: {named}. "
                    "Add the address on each organisation.",
                )


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
