"""Configuration console for planning reference data (carrier services, preferences, on-time records) and a
read-mostly view of shipments and bookings. Shipment and booking states change only through the screens.

Lists show what a person scans for and fit a 1440 px screen beside the filters; the rest is on the change form.
Organisations are shown by their code in lists (the name is on the organisation's own page). Organisations, places,
shipments, rate cards and services are picked by typing (autocomplete), never from a drop-down of them all nor by
typing an id; a carrier's box offers active carriers, a customer's active customers, a branch's active branches and
a booking's shipment masters, and the form accepts only those or the one the record has already (`picker_form`).
A house's order is shown, not picked: the console does not register orders, and a house carries its order's
cargo lines, which another order does not have. Shipments and bookings are made by planning, never added here,
and legs are shown, not edited: they are corrected on the shipment's page.

Shipments, bookings and appointments are never deleted here either (`KEPT_RECORD`): they are business records, a
booking one the carrier was sent, a shipment one its houses, legs, containers, events and documents hang on, and
deleting one took those with it or emptied the history that names it. They are cancelled on the planning screens
instead, which tell the carrier, put the orders back and keep the record with its reason; each change form links
there. Carrier services, preferences and on-time records are configuration: they may be deleted, except a service a
booking was made on (`Booking.service` is PROTECT): its delete page says to switch it off instead (untick "Is
active"), which takes it out of the rankings, so no new booking is made on it. A booking's service box offers
active services, or the one the booking has.

The names of bookings, services, records, appointments and legs read references and codes from related rows, so
each admin selects those rows in its get_queryset, not only for its list: the change form and autocomplete show
the name too.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from oms.admin_bases import KeptRecordsFirst
from orders.models import Location
from partners.admin import autocomplete_offered, autocomplete_offers
from partners.admin_filters import BranchFilter, CarrierFilter
from partners.models import Organisation, OrganisationKind
from tracking.ingest import relinking
from tracking.ingest.models import SubjectType
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
    ShipmentKind,
)

# What a picker offers where only some rows make sense. The console's carrier boxes are booking's and the ranking's
# (services, preferences, on-time records, a master's main carrier, a booking): carriers only. A leg may also be run
# by an agent or a warehouse (tracking.selectors.leg_runners); legs are given to them on the shipment's page.
CARRIERS = Q(kinds__contains=[OrganisationKind.CARRIER], is_active=True)
CUSTOMERS = Q(kinds__contains=[OrganisationKind.CUSTOMER], is_active=True)
BRANCHES = Q(kinds__contains=[OrganisationKind.BRANCH], is_active=True)
MASTERS = Q(kind=ShipmentKind.MASTER)  # carriers are booked for masters
ACTIVE_SERVICES = Q(is_active=True)  # a service switched off is kept for the bookings made on it, offered to none


class PickerForm(forms.ModelForm):
    """A console form whose pickers accept only what they offer (`offered`: field → rows) or the row the record
    has already: a carrier closed since, or no longer marked a carrier, stays on the record it is on."""

    offered: dict[str, Q] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, rows in self.offered.items():
            field = self.fields.get(name)
            if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:  # absent when read-only
                current = getattr(self.instance, f"{name}_id", None)
                field.queryset = field.queryset.filter(rows | Q(pk=current) if current is not None else rows)


class LaneForm(PickerForm):
    """A carrier service's or preference's lane as the ranking reads it: UN/LOCODEs and countries in capitals, each a
    place or a country of the place list, and departure days that are days of the week.

    The ranking finds a service or a preference by the order's codes exactly (tracking.services.ranking): a "deham"
    or a "Shang" was saved and never matched an order, so the carrier was left out of every ranking of its lane
    without a word. Orders take their places from the list (orders.Location), so a code not in it matches none."""

    def _lane_code(self, name: str) -> str:
        code = (self.cleaned_data.get(name) or "").replace(" ", "").upper()
        if not code:
            return code  # a preference's blank end: any place (the service's ends are required by the field)
        if self.instance.pk is not None and code == getattr(self.instance, name):
            return code  # the lane it has stays, as a picker keeps its row: the place may have left the list since
        if len(code) == 5:
            known = Location.objects.filter(code=code).exists()
        else:
            known = len(code) == 2 and Location.objects.filter(country=code).exists()
        if not known:
            raise forms.ValidationError(
                f"{code} is not in the place list: type a place's UN/LOCODE (e.g. DEHAM) or a country's two "
                "letters (e.g. DE)."
            )
        return code

    def clean_origin_code(self) -> str:
        return self._lane_code("origin_code")

    def clean_destination_code(self) -> str:
        return self._lane_code("destination_code")

    def clean_departure_weekdays(self) -> list[int]:
        days = self.cleaned_data.get("departure_weekdays") or []
        if any(day > 6 for day in days):
            raise forms.ValidationError("Departure days are 0 (Monday) to 6 (Sunday).")
        return sorted(set(days))


def picker_form(model: type[models.Model], base: type[PickerForm] = PickerForm, **offered: Q) -> type[PickerForm]:
    """The form of `model`'s admin or inline, its autocomplete boxes offering `offered` (partners.admin's
    autocomplete_offers) and the form accepting the same; `base` adds the model's own checks (LaneForm)."""
    for name, rows in offered.items():
        autocomplete_offers(model._meta.app_label, model._meta.model_name or "", name, rows)
    meta = type("Meta", (), {"model": model, "fields": "__all__"})
    return type(f"{model.__name__}PickerForm", (base,), {"Meta": meta, "offered": offered})


KEPT_RECORD = (
    "A business record, kept for good: the console does not delete it. Cancel it on the planning screens, which "
    "put right what depended on it (the carrier's booking, the orders' status) and keep the record with its reason."
)


def planning_page_link(shipment: Shipment, label: str) -> str:
    """A link from a console form to the shipment's planning page, where its records are changed and cancelled."""
    url = reverse("tracking:shipment_detail", args=[shipment.reference])
    return format_html('<a href="{}">{}</a><br><span class="quiet">{}</span>', url, label, KEPT_RECORD)


def organisation_code(organisation: Organisation | None) -> str | None:
    """None shows as the console's empty value (-)."""
    return organisation.code if organisation else None


@admin.register(CarrierService)
class CarrierServiceAdmin(KeptRecordsFirst):
    """A service a booking names cannot be deleted (PROTECT): its delete page lists those bookings and says to switch
    the service off instead (templates/admin/tracking/carrierservice/_switch_off_instead.html)."""

    form = picker_form(CarrierService, LaneForm, carrier=CARRIERS)
    autocomplete_fields = ("carrier",)
    list_display = ("name", "carrier_code", "mode", "lane", "transit_days", "is_active")
    list_filter = ("mode", "is_active", ("carrier", CarrierFilter))
    search_fields = ("name", "origin_code", "destination_code", "carrier__code", "carrier__name")
    list_select_related = ("carrier",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CarrierService]:
        return super().get_queryset(request).select_related(*self.list_select_related)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CarrierService], search_term: str
    ) -> tuple[QuerySet[CarrierService], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return autocomplete_offered(request, queryset), may_have_duplicates  # a booking's box: active services

    @admin.display(description="carrier", ordering="carrier__code")
    def carrier_code(self, service: CarrierService) -> str | None:
        return organisation_code(service.carrier)

    @admin.display(description="lane", ordering="origin_code")
    def lane(self, service: CarrierService) -> str:
        return f"{service.origin_code} → {service.destination_code}"


@admin.register(CarrierPreference)
class CarrierPreferenceAdmin(admin.ModelAdmin):
    form = picker_form(CarrierPreference, LaneForm, carrier=CARRIERS, customer=CUSTOMERS)
    autocomplete_fields = ("carrier", "customer")
    list_display = ("carrier", "kind", "customer", "mode", "origin_code", "destination_code", "reason")
    list_filter = ("kind", "mode")
    search_fields = ("carrier__code", "customer__code", "reason")
    list_select_related = ("carrier", "customer")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CarrierPreference]:
        return super().get_queryset(request).select_related(*self.list_select_related)


@admin.register(CarrierRecord)
class CarrierRecordAdmin(admin.ModelAdmin):
    form = picker_form(CarrierRecord, carrier=CARRIERS)
    autocomplete_fields = ("carrier",)
    list_display = ("carrier", "on_time_score", "measured_legs", "updated_at")
    list_select_related = ("carrier",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CarrierRecord]:
        return super().get_queryset(request).select_related(*self.list_select_related)


class LegInline(admin.TabularInline):
    """A shipment's legs, shown: they are planned, corrected and removed on the shipment's page
    (tracking.services.planning: the leg history with its reason, the shipment's status from its legs, exceptions
    judged again, a partner's milestones kept on the leg it carries), which the console's form skipped."""

    model = Leg
    extra = 0
    can_delete = False
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
        "correct",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="")
    def correct(self, leg: Leg) -> str:
        url = reverse("tracking:leg_edit", args=[leg.shipment.reference, leg.pk])
        return format_html('<a href="{}">Correct on the shipment page</a>', url)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Leg]:
        # Each row is titled with its name and shows its carrier and places: no query per row.
        return super().get_queryset(request).select_related("shipment", "carrier", "origin", "destination")


class ContainerInline(admin.TabularInline):
    """A master's containers, shown: they are added, numbered, sealed and removed on the shipment's page
    (tracking.services.planning: sea and rail masters only, only before the master moves, the capacity checks, and
    the carrier events held for a container number attached once it is recorded), which the console's form skipped."""

    model = ShipmentEquipment
    extra = 0
    can_delete = False
    fields = ("iso_type", "container_number", "seal_numbers", "vgm_kg", "edit")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShipmentEquipment]:
        return super().get_queryset(request).select_related("shipment")  # each row links to its shipment's page

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="")
    def edit(self, box: ShipmentEquipment) -> str:
        url = reverse("tracking:shipment_detail", args=[box.shipment.reference])
        return format_html('<a href="{}#containers">Change on the shipment page</a>', url)


class ConsolidatedHouseInline(admin.TabularInline):
    model = ConsolidatedHouse
    fk_name = "master"
    extra = 0
    readonly_fields = ("house", "added_at", "added_by", "removed_at", "deconsolidated_at")
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsolidatedHouse]:
        # Each row is titled with its name (house on master) and shows the house and who added it.
        return super().get_queryset(request).select_related("house", "master", "added_by")


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    form = picker_form(Shipment, carrier=CARRIERS, branch=BRANCHES)
    # Kind and branch are in the reference (M-HAM-…) and in the filters; places, dates and bill on the form.
    list_display = ("reference", "mode", "lane", "carrier_code", "status")
    list_filter = ("kind", "status", "mode", ("branch", BranchFilter))
    search_fields = ("reference", "bill_number", "order__reference")
    list_select_related = ("carrier",)
    autocomplete_fields = ("branch", "origin", "destination", "carrier")
    readonly_fields = ("reference", "kind", "order", "status", "created_by", "created_at", "planning_page")
    inlines = [ConsolidatedHouseInline, LegInline, ContainerInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Shipments are made by planning (tracking.services.planning: the reference's series, a house's cargo,
        a master's leg); the console's form, without kind or reference, failed on the database (a 500)."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Shipment | None = None) -> bool:
        """Never deleted (KEPT_RECORD): a house is cancelled with its order, a master is freed by cancelling its
        booking; deleting one here took its legs, containers and houses' consolidations with it."""
        return False

    @admin.display(description="planning")
    def planning_page(self, shipment: Shipment) -> str:
        return planning_page_link(shipment, f"Open {shipment.reference} on the planning screens")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Shipment], search_term: str
    ) -> tuple[QuerySet[Shipment], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return autocomplete_offered(request, queryset), may_have_duplicates  # a booking's box: masters

    def save_model(self, request: HttpRequest, obj: Shipment, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "bill_number" in form.changed_data:  # the events held for it are attached (tracking/ingest/relinking.py)
            relinking.events_relink_on_commit(references=relinking.bill_references(obj.bill_number))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is ShipmentEquipment:  # container numbers typed here, as planning's container_update
            boxes = [f.instance for f in formset.forms if "container_number" in f.changed_data]
            numbers = [(SubjectType.CONTAINER, box.container_number) for box in boxes if box.pk]
            relinking.events_relink_on_commit(references=numbers)

    @admin.display(description="lane", ordering="origin")
    def lane(self, shipment: Shipment) -> str:
        return shipment.lane  # UN/LOCODEs, the keys themselves: no join

    @admin.display(description="carrier", ordering="carrier__code")
    def carrier_code(self, shipment: Shipment) -> str | None:
        return organisation_code(shipment.carrier)


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    form = picker_form(Booking, shipment=MASTERS, carrier=CARRIERS, service=ACTIVE_SERVICES)
    list_display = ("shipment", "carrier_code", "status", "carrier_reference", "confirmed_departure_at")
    list_filter = ("status", ("carrier", CarrierFilter))
    search_fields = ("shipment__reference", "carrier_reference")
    list_select_related = ("shipment", "carrier")
    # Who asked for the space is a record, as when they asked.
    readonly_fields = (
        "status",
        "selection",
        "request_text",
        "requested_by",
        "requested_at",
        "sent_at",
        "answered_at",
        "planning_page",
    )
    autocomplete_fields = ("shipment", "carrier", "service", "rate_card")

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Bookings are asked for on the planning screens (tracking.services.booking: the request sent to the
        carrier, who asked and when, the shipment's legs); an empty one added here had none of it."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Booking | None = None) -> bool:
        """Never deleted (KEPT_RECORD): "Cancel booking" on the shipment's page (tracking.services.booking_cancel)
        puts the master back to planning and its orders back to confirmed, and keeps the request the carrier was
        sent; deleting it left the master booked with a carrier that no longer had a booking."""
        return False

    @admin.display(description="planning")
    def planning_page(self, booking: Booking) -> str:
        return planning_page_link(booking.shipment, f"Cancel or change it on {booking.shipment.reference}'s page")

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
    autocomplete_fields = ("shipment", "location")
    readonly_fields = ("status", "planning_page")

    def has_delete_permission(self, request: HttpRequest, obj: Appointment | None = None) -> bool:
        """Never deleted (KEPT_RECORD): an appointment called off is recorded as cancelled on the schedule
        (tracking.services.appointment_record), so the day's board and the shipment's page still show it."""
        return False

    @admin.display(description="planning")
    def planning_page(self, appointment: Appointment) -> str:
        if appointment.shipment_id is None:  # a new appointment's form: no shipment picked yet
            return "—"
        return planning_page_link(
            appointment.shipment, f"Record its outcome on {appointment.shipment.reference}'s page"
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appointment]:
        return super().get_queryset(request).select_related(*self.list_select_related)


from tracking.exceptions import admin as _exceptions_admin  # noqa: E402,F401  (exceptions live in tracking/exceptions/)
from tracking.ingest import admin as _ingest_admin  # noqa: E402,F401  (tracking events live in tracking/ingest/)
