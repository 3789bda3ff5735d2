"""Configuration console for organisations, people, roles and API keys."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from oms.admin_bases import KeptRecordsFirst, RowLabelledAutocompleteInline
from partners import services
from partners.admin_actions import confirmation_page, confirmed
from partners.errors import PartnersError
from partners.models import (
    API_KEY_KINDS,
    EXTERNAL_KINDS,
    INTERNAL_KINDS,
    Address,
    ApiKey,
    Contact,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
)
from partners.validators import time_zone_spelt

# Fields that hand out access; only a superuser changes them (partners/roles.py keeps other roles off users).
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


def may_grant_admin(user: Any) -> bool:
    """Superusers and people with an active administrator membership in an active organisation may give the
    administrator role (a closed organisation's memberships grant nothing: services.user_groups_sync)."""
    if not user.is_authenticated or not user.is_active:
        return False
    return (
        user.is_superuser
        or user.memberships.filter(role=Role.ADMIN, is_active=True, organisation__is_active=True).exists()
    )


class OrganisationForm(forms.ModelForm):
    """An organisation, and who may change which side it is on.

    Our company and its branches are configured by the admin role (and superusers) only: their kinds and whether
    they are active are read-only for everyone else (OrganisationAdmin.get_readonly_fields), and nobody else may
    make an organisation ours. Their people and API keys act as OMS staff over every customer's data, and closing
    one ends its staff's access: that is configuring access, which is the admin role's. Sales and finance, who may
    edit organisations, keep the rest: customers' and partners' details and kinds, and opening or closing them.

    For everyone, administrators included: an organisation is ours or theirs, never both, and once it has people
    or API keys it stays on its side (services.organisation_kinds_check), so no key's scope widens because an
    organisation was edited.
    """

    # Set per request by OrganisationAdmin.get_form(): whether the editor holds the admin role (may_grant_admin).
    editor_is_admin = False

    kinds = forms.MultipleChoiceField(
        choices=OrganisationKind.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What this organisation is to us; tick several if it plays several parts. Our company and its "
        "branches are set up by an administrator, and an organisation with people or API keys stays ours or "
        "theirs: make a separate organisation for the other part.",
    )

    class Meta:
        model = Organisation
        fields = (
            "code",
            "name",
            "legal_name",
            "kinds",
            "parent",
            "account_branch",
            "tax_id",
            "default_currency",
            "time_zone",
            "email",
            "phone",
            "website",
            "is_active",
            "may_place_orders",
            "notes",
        )
        help_texts = {
            "is_active": "Untick to close the organisation: its people can no longer sign in for it and its API "
            "keys stop working. Our company and its branches are opened and closed by an administrator.",
        }

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().upper()

    def clean_default_currency(self) -> str:
        """In capitals, as the code is: "usd" is USD (the model's validator still refuses what is no currency)."""
        return self.cleaned_data["default_currency"].strip().upper()

    def clean_time_zone(self) -> str:
        """As the tz database spells it (europe/berlin is Europe/Berlin); a name that is no zone is refused by the
        field's validator, with the nearest zone when there is one."""
        return time_zone_spelt(self.cleaned_data["time_zone"])

    def clean_kinds(self) -> list[str]:
        """Ours (company, branch) or theirs, never both, and never moved across once it has people or keys: our
        company's people and API keys act as staff over every customer's data, and sales and finance, who may edit
        organisations, must not hand that to a customer. The database refuses a mix too (the
        organisation_internal_or_external constraint)."""
        kinds = self.cleaned_data["kinds"]
        if INTERNAL_KINDS.intersection(kinds) and EXTERNAL_KINDS.intersection(kinds):
            raise forms.ValidationError(
                "Our company or a branch cannot also be a customer, carrier, agent, warehouse or vendor: "
                "make a separate organisation for that part."
            )
        try:
            services.organisation_kinds_check(organisation=self.instance, kinds=kinds)
        except PartnersError as exc:
            raise forms.ValidationError(str(exc)) from exc
        newly_ours = INTERNAL_KINDS.intersection(kinds) - set(self.instance.kinds if self.instance.pk else [])
        if newly_ours and not self.editor_is_admin:
            raise forms.ValidationError("Only an administrator makes an organisation our company or a branch.")
        return kinds


class MembershipInlineForm(forms.ModelForm):
    # Set per request by _membership_form(): whether the editor may give (or change) the administrator role.
    editor_may_grant_admin = False

    class Meta:
        model = Membership
        fields = ("user", "organisation", "role", "is_active")
        help_texts = {
            "role": "What the person may do for the organisation. Staff roles (sales, operations, documentation, "
            "finance, administrator) are held in our company or a branch; the customer role in a customer, for "
            "its portal and API; the partner role in a carrier, agent or warehouse, for the legs it runs.",
            "is_active": "Untick to end the role: the person keeps the account but no longer acts for the "
            "organisation.",
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.editor_may_grant_admin:
            touches_admin = cleaned.get("role") == Role.ADMIN or (
                self.instance.pk is not None and self.initial.get("role") == Role.ADMIN
            )
            if touches_admin and self.has_changed():
                raise forms.ValidationError(
                    "Only an administrator or a superuser gives or changes the administrator role."
                )
        # An ended membership is a record and grants nothing; only one that is, or becomes, active must fit (the
        # partner memberships partners/0008 ended in vendors stay on the vendor's page, and it still saves).
        if cleaned.get("role") and cleaned.get("organisation") and cleaned.get("is_active"):
            try:
                services.membership_check(role=cleaned["role"], organisation=cleaned["organisation"])
            except PartnersError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return cleaned


class AddressForm(forms.ModelForm):
    class Meta:
        model = Address
        fields = ("kind", "line1", "line2", "postal_code", "city", "region", "country")

    def clean_country(self) -> str:
        """In capitals, as the organisation's code is: "de" is DE (the model's validator still refuses "Germany")."""
        return self.cleaned_data["country"].strip().upper()


class AddressInline(admin.StackedInline):
    """Each address a block of short rows: as a table its eight columns needed 1051 px of a 901 px column at 1280 px,
    and country and the delete box were cut off."""

    model = Address
    form = AddressForm
    extra = 0
    fields = ("kind", ("line1", "line2"), ("postal_code", "city"), ("region", "country"))


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


def _membership_form(request: HttpRequest, base: type[MembershipInlineForm]) -> type[MembershipInlineForm]:
    return type(base.__name__, (base,), {"editor_may_grant_admin": may_grant_admin(request.user)})


class MembershipInlineMixin:
    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs["form"] = _membership_form(request, self.form)  # type: ignore[attr-defined]
        return super().get_formset(request, obj, **kwargs)  # type: ignore[misc]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # Each row is titled with its person and its organisation (Membership.__str__), else two queries a row.
        return super().get_queryset(request).select_related("user", "organisation")  # type: ignore[misc]


class OrganisationMembershipInline(MembershipInlineMixin, RowLabelledAutocompleteInline, admin.TabularInline):
    model = Membership
    form = MembershipInlineForm
    extra = 0
    autocomplete_fields = ("user",)


class UserMembershipInline(MembershipInlineMixin, RowLabelledAutocompleteInline, admin.TabularInline):
    model = Membership
    form = MembershipInlineForm
    extra = 0
    autocomplete_fields = ("organisation",)


# Autocomplete boxes that offer only some rows where the field itself cannot say so (a limit_choices_to on another
# app's model is a migration of that app; on people it refuses in no words, see workflows.admin): (app label, model,
# field) → the rows offered (organisations, people, or the shipments of tracking.admin). Apps add theirs from their
# admin module (orders.admin, tracking.admin, workflows.admin); the form's own queryset, or the model's clean(), still
# decides what may be saved.
_AUTOCOMPLETE_OFFERS: dict[tuple[str, str, str], Q] = {}


def autocomplete_offers(app_label: str, model_name: str, field_name: str, offered: Q) -> None:
    """Offer only the rows matching `offered` in the autocomplete box of that model's field."""
    _AUTOCOMPLETE_OFFERS[(app_label, model_name, field_name)] = offered


def autocomplete_offered(request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The rows an autocomplete box offers: `queryset` as autocomplete_offers narrowed it for the asking field, or
    unchanged (another box, or a search of the list). The get_search_results of each picked model's admin."""
    if request.resolver_match is None or request.resolver_match.url_name != "autocomplete":
        return queryset
    params = request.GET
    offered = _AUTOCOMPLETE_OFFERS.get(
        (params.get("app_label", ""), params.get("model_name", ""), params.get("field_name", ""))
    )
    return queryset if offered is None else queryset.filter(offered)


@admin.register(Organisation)
class OrganisationAdmin(KeptRecordsFirst):
    form = OrganisationForm
    list_display = (
        "code",
        "name",
        "kinds_display",
        "parent",
        "default_currency",
        "is_active",
        "may_place_orders",
    )
    list_filter = ("is_active", "may_place_orders", "default_currency")
    list_select_related = ("parent",)
    search_fields = ("code", "name", "legal_name", "tax_id")
    # Pickers, not drop-downs: a list of every organisation grows with every customer and partner.
    autocomplete_fields = ("parent", "account_branch")
    inlines = (AddressInline, ContactInline, OrganisationMembershipInline)
    fieldsets = (
        (None, {"fields": ("code", "name", "legal_name", "kinds", "parent", "account_branch")}),
        ("Details", {"fields": ("tax_id", "default_currency", "time_zone", "email", "phone", "website")}),
        ("Status", {"fields": ("is_active", "may_place_orders", "notes")}),
    )

    @admin.display(description="kinds")
    def kinds_display(self, obj: Organisation) -> str:
        return obj.get_kinds_display()

    def get_form(
        self, request: HttpRequest, obj: Organisation | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)  # readonly fields already taken off the form
        return type(form.__name__, (form,), {"editor_is_admin": may_grant_admin(request.user)})

    def get_readonly_fields(self, request: HttpRequest, obj: Organisation | None = None) -> Any:
        # Our company and branches: the admin role decides what they are and whether they are open (OrganisationForm).
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.is_internal and not may_grant_admin(request.user):
            return (*readonly, "kinds", "is_active")
        return readonly

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Organisation], search_term: str
    ) -> tuple[QuerySet[Organisation], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return autocomplete_offered(request, queryset), may_have_duplicates


class OmsUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class OmsUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = OmsUserChangeForm
    add_form = OmsUserCreationForm
    ordering = ("email",)
    list_display = ("email", "full_name", "roles_display", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "memberships__role")
    search_fields = ("email", "full_name")
    inlines = (UserMembershipInline,)
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name",)}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
        (
            "Extra permissions",
            {
                "classes": ("collapse",),
                "description": "Roles give permissions through their groups; add more only by exception.",
                "fields": ("user_permissions",),
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("memberships__organisation")

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return readonly
        return readonly + tuple(f for f in PRIVILEGE_FIELDS if f not in readonly)

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # A superuser's account (password, email, memberships) is changed by superusers only.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[User], search_term: str
    ) -> tuple[QuerySet[User], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return autocomplete_offered(request, queryset), may_have_duplicates

    @admin.display(description="roles")
    def roles_display(self, obj: User) -> str:
        return ", ".join(
            f"{m.get_role_display()} @ {m.organisation.code}" for m in obj.memberships.all() if m.is_active
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # A superuser may have ticked or unticked role groups by hand: they follow the memberships, whatever is
        # ticked (changes of memberships themselves resync through partners.receivers).
        super().save_related(request, form, formsets, change)
        services.user_groups_sync(user=form.instance)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipInlineForm
    list_display = ("user", "organisation", "role", "is_active", "created_at")
    list_filter = ("role", "is_active")
    search_fields = ("user__email", "organisation__code", "organisation__name")
    autocomplete_fields = ("user", "organisation")
    list_select_related = ("user", "organisation")

    def get_form(self, request: HttpRequest, obj: Membership | None = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = _membership_form(request, self.form)
        return super().get_form(request, obj, change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        if obj is not None and obj.role == Role.ADMIN and not may_grant_admin(request.user):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        if obj is not None and obj.role == Role.ADMIN and not may_grant_admin(request.user):
            return False
        return super().has_delete_permission(request, obj)


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("organisation", "name")

    def clean_organisation(self) -> Organisation:
        """An active organisation whose key has something to see (the picker offers only those): a closed one's keys
        would not work, and a vendor alone's would find nothing (services.api_key_check)."""
        organisation = self.cleaned_data["organisation"]
        try:
            services.api_key_check(organisation=organisation)
        except PartnersError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return organisation


# Open organisations whose keys see something: services.api_key_check refuses the others (a vendor alone).
autocomplete_offers("partners", "apikey", "organisation", Q(is_active=True, kinds__overlap=sorted(API_KEY_KINDS)))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys are revoked, never deleted: the order history keeps only the id of the key that took a transition or
    saved a version (orders' transitions, imports and tasks point at it), and deleting the key emptied "API key" on
    every one of them. The "Revoke" action stops a key at once and keeps it, so the history still names it; the
    console offers no delete, neither on the key's page nor as "Delete selected".

    So an organisation with API keys, even revoked ones, is not deleted either: its keys would go with it (Django's
    delete page names API keys among what this account may not delete). It is closed instead, as an organisation
    with orders is (templates/admin/partners/organisation/delete_confirmation.html says how); one with no keys and no
    records, made by mistake, may still be deleted."""

    list_display = ("name", "organisation", "masked", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "organisation__code", "prefix")
    list_select_related = ("organisation",)
    autocomplete_fields = ("organisation",)
    actions = ("revoke_keys",)

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoked, never deleted (the class's docstring); Django drops "Delete selected" with it

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        if obj is None:
            return ("organisation", "name")
        return ("organisation", "name", "masked", "created_by", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        # A key stays with its organisation, and is revoked only by the "Revoke" action (never un-revoked).
        if obj is None:
            return ("masked", "created_by", "created_at", "last_used_at")
        return ("organisation", "masked", "created_by", "created_at", "last_used_at", "revoked_at")

    @admin.display(description="key")
    def masked(self, obj: ApiKey) -> str:
        return f"{ApiKey.PREFIX}_{obj.prefix}_…" if obj.prefix else "—"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        assert isinstance(request.user, User)  # noqa: S101 - the admin site lets in only signed-in staff
        api_key, raw_key = services.api_key_create(
            organisation=obj.organisation, name=obj.name, created_by=request.user
        )
        obj.pk = api_key.pk
        obj.prefix, obj.key_hash, obj.created_at = api_key.prefix, api_key.key_hash, api_key.created_at
        messages.warning(request, f"Copy this key now; it will not be shown again: {raw_key}")

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> Any:
        if not confirmed(request):
            return confirmation_page(
                self, request, queryset, action="revoke_keys",
                question="Revoke these API keys? Integrations using them stop working at once; a revoked key "
                "cannot be brought back.",
            )  # fmt: skip
        count = 0
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)
            count += 1
        self.message_user(request, f"Revoked {count} key(s).")
        return None
