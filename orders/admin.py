"""Configuration console for the orders app.

Import jobs and webhook integrations (orders/imports, orders/webhooks) are kept in their own classes
below; other order admin classes live beside them. Places (the UN/LOCODE list, over 100,000 rows once
import_unlocode has loaded it) and organisations are picked by typing, never from a drop-down of them all.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from import_export.admin import ExportMixin

from oms.admin_bases import ReadOnlyAdmin
from orders.integrations import destinations_check
from orders.models import ImportJob, ImportRowError, Integration, IntegrationKind, Location, WebhookDelivery
from orders.resources import SAFE_FORMATS, ImportJobResource
from orders.selectors import locations_matching
from orders.webhooks_signatures import generate_secret
from partners.admin import autocomplete_offers
from partners.models import Organisation, OrganisationKind

# --- Places ---------------------------------------------------------------------------------------------------


@admin.register(Location)
class LocationAdmin(ReadOnlyAdmin):
    """The UN/LOCODE list, to look a place up and for the console's place pickers (autocomplete). Read-only: the
    list is loaded and refreshed by `manage.py import_unlocode`, and orders point at its rows."""

    list_display = ("code", "name", "subdivision", "country", "iata", "functions", "is_active")
    list_filter = ("is_active", "country")
    search_fields = ("code", "name_ascii", "iata")  # searched as the order screens' picker does (get_search_results)
    show_full_result_count = False  # counting the whole list on every page is not worth it

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Location], search_term: str
    ) -> tuple[QuerySet[Location], bool]:
        if request.resolver_match is not None and request.resolver_match.url_name == "autocomplete":
            queryset = queryset.filter(is_active=True)  # a picker offers what new orders may use
        if not search_term.strip():
            return queryset, False
        return locations_matching(queryset, search_term), False


# --- Bulk intake: import jobs --------------------------------------------------------------------------------


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("row", "column", "value", "message", "is_duplicate")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).order_by("row", "id")


@admin.register(ImportJob)
class ImportJobAdmin(ExportMixin, admin.ModelAdmin):
    """Read-only: jobs are created by uploads and change only through orders.imports.service.

    Nor are they deleted here: a job is the business record of who sent which file, in which mode, and what it
    created (its ImportedOrder rows would go with it) or refused. Only the uploaded file expires
    (docs/decisions/0002, "How long uploads are kept"; RELIABILITY.md I2).
    """

    resource_classes = [ImportJobResource]
    formats = SAFE_FORMATS
    list_display = ("file_name", "created_at", "created_by", "customer", "source", "status", "mode", "rows_total",
                    "orders_created", "orders_invalid", "orders_duplicate")  # fmt: skip
    list_filter = ("status", "source", "mode", "dry_run")
    list_select_related = ("created_by", "customer")
    search_fields = ("file_name", "created_by__email", "customer__code", "file_sha256")
    date_hierarchy = "created_at"
    inlines = [ImportRowErrorInline]
    readonly_fields = [field.name for field in ImportJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Bulk intake: webhook integrations ------------------------------------------------------------------------


class IntegrationForm(forms.ModelForm):
    # Blank on edit keeps the stored secret (clean() puts it back); it changes only when a new one is typed or
    # "Generate a new secret" is ticked (IntegrationAdmin.save_model).
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Shopify: paste the app's client secret. Generic: leave blank to generate a whsec_ secret, "
        "shown once after saving. Leave blank when editing to keep the current secret.",
    )
    new_secret = forms.BooleanField(
        required=False,
        label="Generate a new secret",
        help_text="Generic integrations: replace the signing secret with a new whsec_ secret, shown once after "
        "saving. The sender must switch to it at once: the old secret stops working.",
    )

    class Meta:
        model = Integration
        fields = ("customer", "kind", "name", "secret", "default_origin", "default_branch", "default_service_level",
                  "default_incoterm", "destination_by_country", "is_active")  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An integration orders for a customer and is handled by one of our branches: offer only those.
        if "customer" in self.fields:
            customer = cast(forms.ModelChoiceField, self.fields["customer"])
            customer.queryset = Organisation.objects.customers().active().order_by("code")
        if "default_branch" in self.fields:  # the branch it has stays offered, even once that branch is closed
            current = Q(pk=self.instance.default_branch_id) if self.instance.default_branch_id else Q(pk__in=[])
            branches = Organisation.objects.filter(Q(kinds__contains=["branch"], is_active=True) | current)
            cast(forms.ModelChoiceField, self.fields["default_branch"]).queryset = branches.order_by("code")

    def clean_destination_by_country(self) -> dict[str, str]:
        """{country: UN/LOCODE}, stored upper case: anything else made every Shopify order to a city we do not know
        fail (a list answered 500, an unknown code 422)."""
        destinations, problems = destinations_check(self.cleaned_data.get("destination_by_country"))
        if problems:
            raise forms.ValidationError(problems)
        return destinations

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind") or (self.instance.kind if self.instance.pk else None)
        has_secret = bool(cleaned.get("secret")) or bool(self.instance.pk and self.instance.secret)
        if not has_secret and kind == IntegrationKind.SHOPIFY:
            self.add_error("secret", "Paste the Shopify app's client secret: Shopify signs with it.")
        if cleaned.get("new_secret"):
            if kind == IntegrationKind.SHOPIFY:
                self.add_error("new_secret", "Shopify signs with the app's client secret: paste it instead.")
            elif cleaned.get("secret"):
                self.add_error("new_secret", "Either type a secret or generate one, not both.")
        if not cleaned.get("secret"):
            cleaned["secret"] = self.instance.secret  # keep what is stored ("" for a new integration)
        return cleaned


# The pickers offer what the form accepts (IntegrationForm.__init__): active customers, active branches.
autocomplete_offers("orders", "integration", "customer", Q(kinds__contains=[OrganisationKind.CUSTOMER], is_active=True))
autocomplete_offers("orders", "integration", "default_branch", Q(is_active=True))


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationForm
    autocomplete_fields = ("customer", "default_origin", "default_branch")
    list_display = ("name", "customer", "kind", "is_active", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "customer__code")
    list_select_related = ("customer",)
    readonly_fields = ("endpoint", "secret_masked", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Integration | None = None) -> Any:
        # An integration belongs to its customer for good: its orders are created for that customer. Its kind
        # is fixed too: the kind decides the endpoint the sender posts to, how deliveries are signed and how
        # their duplicates are found, so changing it would silently break the sender; add a new integration.
        readonly = tuple(super().get_readonly_fields(request, obj))
        return ("customer", "kind", *readonly) if obj is not None else readonly

    def get_fields(self, request: HttpRequest, obj: Integration | None = None) -> Any:
        fields = [f for f in super().get_fields(request, obj) if f not in ("customer", "new_secret", "secret_masked")]
        if obj is not None and not self.has_change_permission(request, obj):
            # View-only staff would get every field as read-only text, the secret included, and with it anyone
            # can sign deliveries that become the customer's orders: they see its first characters only.
            fields[fields.index("secret")] = "secret_masked"
        elif obj is not None:  # the checkbox only makes sense for an existing integration
            fields.insert(fields.index("secret") + 1, "new_secret")
        return ["customer", *fields]

    @admin.display(description="Secret")
    def secret_masked(self, obj: Integration) -> str:
        """The first characters, as the webhook sources show theirs, but never more than a quarter of a short
        secret."""
        return f"{obj.secret[: min(10, len(obj.secret) // 4)]}…" if obj.secret else "—"

    @admin.display(description="Endpoint path")
    def endpoint(self, obj: Integration) -> str:
        if obj._state.adding:  # the id is drawn before saving (uuid4) but is not the saved one's yet
            return "Shown after saving."
        if obj.kind == IntegrationKind.SHOPIFY:
            return f"/api/v1/webhooks/shopify/{obj.pk}/orders-create/"
        return f"/api/v1/webhooks/intake/{obj.pk}/"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        if request.method == "GET":  # saved before the console checked it: say so when the integration is opened
            integration = self.get_object(request, object_id)
            problems = destinations_check(integration.destination_by_country)[1] if integration else []
            for problem in problems:
                messages.error(request, f"Destination by country: {problem} Shopify orders to a city we do not "
                               "know are refused until this is corrected.")  # fmt: skip
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        # obj.secret is what was typed, or the stored secret when the field was left blank (IntegrationForm.clean).
        if not obj.secret or form.cleaned_data.get("new_secret"):
            obj.secret = generate_secret()
            messages.warning(request, f"The signing secret of {obj.name} is {obj.secret} — copy it now; "
                             "it is not shown again.")  # fmt: skip
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("delivery_id", "integration", "outcome", "status_code", "attempts", "order", "received_at")
    list_filter = ("outcome", "integration__kind")
    list_select_related = ("integration", "order")
    search_fields = ("delivery_id", "external_id", "order__reference")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never: a delivery's row is what makes a repeated Shopify delivery a duplicate, so deleting it would let
        the same shop order in twice. Deliveries are the record of what each system sent."""
        return False
