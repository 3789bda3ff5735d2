"""Forms of the planning screens. They check input shape; services decide what is allowed."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.utils import timezone
from stdnum import imo

from oms.templatetags.oms_dates import datetime_text
from orders.identifiers import (
    container_number_problem,
    flight_number_problem,
    normalize_container_number,
    normalize_flight_number,
)
from orders.models import SEA_MODES, Location, Mode
from partners.models import Organisation
from partners.time_zones import zone_label
from tracking.equipment import CONTAINER_TYPE_CHOICES
from tracking.models import AppointmentKind, AppointmentStatus, LegRole, ShipmentEquipment
from tracking.selectors import leg_runners

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
# The years a typed time may fall in. The date picker lets any year through (0001 for a slip of the finger), and a
# time near the calendar's ends leaves it once read in UTC: year 1 on Shanghai's clock is 1 BC in UTC, which
# PostgreSQL stores but Python cannot read back (every page showing the row fails). The schedule board keeps its
# days in the same window (views_schedule).
EARLIEST_DAY, LATEST_DAY = datetime.date(1900, 1, 1), datetime.date(9000, 12, 31)


class LocalDateTimeField(forms.DateTimeField):
    """A date and time typed on the wall clock of `zone` (set by LocalTimesForm), shown back on that clock,
    whatever zone the request runs in. A time that clock skips or repeats (summer time) is a form error, and so is
    one outside the years 1900 to 9000 (a mistyped year)."""

    zone: datetime.tzinfo | None = None

    def prepare_value(self, value: Any) -> Any:
        if self.zone is not None and isinstance(value, datetime.datetime) and timezone.is_aware(value):
            return timezone.make_naive(value, self.zone)
        return super().prepare_value(value)

    def to_python(self, value: Any) -> datetime.datetime | None:
        if self.zone is None:
            at = super().to_python(value)
        else:
            with timezone.override(self.zone):
                at = super().to_python(value)
        # The wall time typed, not its UTC value: near the calendar's ends the conversion itself overflows.
        if at is not None and not EARLIEST_DAY <= at.date() <= LATEST_DAY:
            raise ValidationError(
                f"{at.date().isoformat()} {at:%H:%M} is not a date we plan for: check the year "
                f"(between {EARLIEST_DAY.year} and {LATEST_DAY.year}).",
                code="out_of_range",
            )
        return at


def _datetime(label: str, *, required: bool = True, help_text: str = "") -> LocalDateTimeField:
    return LocalDateTimeField(label=label, required=required, widget=DATETIME, help_text=help_text)


class LocalTimesForm(forms.Form):
    """A planning form whose times are typed in one zone, which each time field names: the zone of the branch
    the shipment belongs to (docs/planning.md), else the zone the request runs in."""

    def __init__(self, *args: Any, zone: datetime.tzinfo | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone or timezone.get_current_timezone()
        for field in self.fields.values():
            if isinstance(field, LocalDateTimeField):
                field.zone = self.zone
                field.help_text = " ".join(
                    filter(None, [str(field.help_text), f"Local time, {zone_label(self.zone)}."])
                )


class LocationCodeField(forms.CharField):
    """A UN/LOCODE typed by hand (DEHAM or "DE HAM"), returned as the Location."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 6)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"placeholder": "DEHAM", "class": "font-monospace", "autocomplete": "off"})
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Location | None:
        code = (super().clean(value) or "").replace(" ", "").upper()
        if not code:
            return None
        location = Location.objects.filter(code=code, is_active=True).first()
        if location is None:
            raise ValidationError(f"{code} is not a UN/LOCODE we know.")
        return location


# Typed with spaces or a hyphen ("lh 8210", "LH-8210"): room in the box for those, so the browser's `maxlength` does
# not cut a longer typing short in silence; the check then refuses what is not a flight number.
FLIGHT_NUMBER_TYPED_LENGTH = 20


class FlightNumberField(forms.CharField):
    """A flight number as "LH8210" whatever the case and spacing typed, or a form error that says what a flight
    number looks like (orders.identifiers.flight_number_problem, the check the Leg model's validator makes too):
    "LH 8210 XX" was kept as its first ten characters, a flight no one could trace."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", FLIGHT_NUMBER_TYPED_LENGTH)
        kwargs.setdefault("help_text", "Airline code and number, e.g. LH8210.")
        kwargs.setdefault(
            "error_messages",
            {"max_length": "A flight number is an airline code and up to 4 digits, e.g. LH8210: this is longer."},
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        typed = super().clean(value)
        if not typed:
            return ""
        if problem := flight_number_problem(typed):
            raise ValidationError(problem, code="flight_number")
        return normalize_flight_number(typed)


class ConsolidateForm(forms.Form):
    """The planning list's "Consolidate selected". Its errors are shown alone, as a message on the list (the view
    names the ticked orders' absence itself), so each says what to do without its field's label beside it."""

    orders = forms.CharField(widget=forms.HiddenInput, required=False)  # filled from the ticked rows
    container_type = forms.ChoiceField(
        label="Container",
        required=False,
        choices=[("", "No container (air, road, parcel)"), *CONTAINER_TYPE_CHOICES],
        error_messages={"invalid_choice": "Choose the container type from the list."},
    )
    containers = forms.IntegerField(
        label="How many",
        min_value=1,
        max_value=20,
        initial=1,
        error_messages={
            "required": "Give how many containers: 1 to 20.",
            "invalid": "Give how many containers as a whole number: 1 to 20.",
            "min_value": "Give how many containers: at least 1.",
            "max_value": "Give how many containers: at most 20 on one master.",
        },
    )


class AddHouseForm(forms.Form):
    candidate = forms.ChoiceField(label="Order or house")

    def __init__(self, *args: Any, candidates: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["candidate"]).choices = [("", "Choose…"), *candidates]


class SplitForm(forms.Form):
    """Pieces per house line to move into a new house; fields are built from the house's lines."""

    def __init__(self, *args: Any, house_lines: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.house_lines = house_lines
        for hl in house_lines:
            self.fields[f"line_{hl.cargo_line_id}"] = forms.IntegerField(
                label=f"Line {hl.cargo_line.line_no}: {hl.cargo_line.description}",
                min_value=0,
                max_value=hl.pieces,
                initial=0,
                help_text=f"of {hl.pieces} pieces",
            )

    def allocations(self) -> dict[int, int]:
        return {hl.cargo_line_id: self.cleaned_data[f"line_{hl.cargo_line_id}"] or 0 for hl in self.house_lines}


# How long a seal number ShipmentEquipment.seal_numbers keeps (its array's element field).
SEAL_MAX_LENGTH = cast(int, cast(ArrayField, ShipmentEquipment._meta.get_field("seal_numbers")).base_field.max_length)


class ContainerForm(forms.Form):
    iso_type = forms.ChoiceField(label="ISO size-type", choices=CONTAINER_TYPE_CHOICES)
    container_number = forms.CharField(
        label="Container number",
        required=False,
        max_length=13,
        help_text="ISO 6346, e.g. CSQU3054383; blank until the box is released.",
    )
    seal_numbers = forms.CharField(label="Seals", required=False, max_length=100, help_text="Comma-separated.")
    vgm_kg = forms.DecimalField(label="VGM (kg)", required=False, min_value=0, decimal_places=1)

    def clean_container_number(self) -> str:
        number = normalize_container_number(self.cleaned_data["container_number"])
        if number:
            problem = container_number_problem(number)
            if problem:
                raise ValidationError(problem)
        return number

    def clean_seal_numbers(self) -> list[str]:
        """The seals, each refused when longer than a seal number is kept (SEAL_MAX_LENGTH): the database refused
        it, a server error that lost the whole container form."""
        seals = [seal.strip().upper() for seal in self.cleaned_data["seal_numbers"].split(",") if seal.strip()]
        if too_long := [seal for seal in seals if len(seal) > SEAL_MAX_LENGTH]:
            raise ValidationError(
                f"{', '.join(too_long)}: a seal number is at most {SEAL_MAX_LENGTH} characters. Separate seals with "
                "commas."
            )
        return seals


class LegForm(LocalTimesForm):
    role = forms.ChoiceField(choices=LegRole.choices, initial=LegRole.MAIN)
    mode = forms.ChoiceField(choices=Mode.choices)
    carrier = forms.ModelChoiceField(
        queryset=Organisation.objects.none(),
        required=False,
        help_text="Who runs the leg: a carrier, an agent or a warehouse. Blank: the shipment's carrier.",
    )
    origin = LocationCodeField(label="From")
    destination = LocationCodeField(label="To")
    planned_departure_at = _datetime("Planned departure", required=False)
    planned_arrival_at = _datetime("Planned arrival", required=False)
    vessel_name = forms.CharField(required=False, max_length=60)
    vessel_imo = forms.CharField(label="IMO number", required=False, max_length=11)
    voyage_number = forms.CharField(required=False, max_length=20)
    flight_number = FlightNumberField()
    truck_plate = forms.CharField(required=False, max_length=20)
    train_number = forms.CharField(required=False, max_length=20)

    # The form's fields by the Leg fields they set (the services speak in model fields).
    MODEL_FIELDS = {"carrier": "carrier_id", "origin": "origin_id", "destination": "destination_id"}

    def __init__(self, *args: Any, leg: Any = None, fixed: dict[str, str] | None = None, **kwargs: Any) -> None:
        """`leg`: correct this leg (the form starts from it); `fixed`: its fields a correction may not change, by
        model field, with why (leg_changes.leg_fixed_fields): shown disabled, their reason in the help text."""
        if leg is not None:
            kwargs.setdefault("initial", self.initial_for(leg))
        super().__init__(*args, **kwargs)
        queryset = leg_runners()
        if leg is not None and leg.carrier_id:  # a carrier since deactivated still reads as the leg's
            queryset = (queryset | Organisation.objects.filter(pk=leg.carrier_id)).distinct()
        cast(forms.ModelChoiceField, self.fields["carrier"]).queryset = queryset
        for name, field in self.fields.items():
            if self.MODEL_FIELDS.get(name, name) in (fixed or {}):
                field.disabled = True
                field.help_text = " ".join(filter(None, [str(field.help_text), "Fixed, see above."]))

    @staticmethod
    def initial_for(leg: Any) -> dict[str, Any]:
        return {name: getattr(leg, LegForm.MODEL_FIELDS.get(name, name)) for name in LegForm.base_fields}

    def clean_vessel_imo(self) -> str:
        value = self.cleaned_data["vessel_imo"].strip()
        if not value:
            return ""
        if not imo.is_valid(value):
            raise ValidationError(f"{value} is not a valid IMO ship number (7 digits, the last a check digit).")
        return imo.compact(value).removeprefix("IMO")

    def clean(self) -> dict[str, Any]:
        super().clean()  # Form.clean gives back cleaned_data; the stubs allow None
        data = self.cleaned_data
        departure, arrival = data.get("planned_departure_at"), data.get("planned_arrival_at")
        if departure and arrival and arrival < departure:
            self.add_error("planned_arrival_at", "The arrival is before the departure.")
        return data

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["carrier_id"] = data.pop("carrier").pk if data.get("carrier") else None
        data["origin_id"], data["destination_id"] = data.pop("origin").pk, data.pop("destination").pk
        return data


# The fields of a carrier's answer that only some modes have: a ship's (and SOLAS's verified gross mass, weighed
# for a container going on board), a flight's. Road, rail and parcel bookings have neither.
SEA_ONLY_FIELDS = ("vessel_name", "vessel_imo", "voyage_number", "vgm_cutoff_at")
AIR_ONLY_FIELDS = ("flight_number",)


class _CutoffsMixin(LocalTimesForm):
    """A carrier's answer: cut-offs, and the conveyance fields of the booking's `mode` only (no flight number for
    an ocean booking, no vessel for an air one); the fields a mode lacks read as blank."""

    documentation_cutoff_at = _datetime("Documentation cut-off", required=False)
    vgm_cutoff_at = _datetime("VGM cut-off", required=False)
    cargo_cutoff_at = _datetime("Cargo cut-off", required=False)

    def __init__(self, *args: Any, mode: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        absent = (() if mode in SEA_MODES else SEA_ONLY_FIELDS) + (() if mode == Mode.AIR else AIR_ONLY_FIELDS)
        for name in absent:
            self.fields.pop(name, None)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in (*SEA_ONLY_FIELDS, *AIR_ONLY_FIELDS):
            if name not in self.fields:
                data[name] = None if name.endswith("_at") else ""
        return data


class BookingConfirmForm(_CutoffsMixin):
    carrier_reference = forms.CharField(label="Confirmation number", max_length=40)
    departure_at = _datetime("Confirmed ETD")
    arrival_at = _datetime("Confirmed ETA")
    vessel_name = forms.CharField(required=False, max_length=60)
    vessel_imo = forms.CharField(label="IMO number", required=False, max_length=11)
    voyage_number = forms.CharField(required=False, max_length=20)
    flight_number = FlightNumberField()

    field_order = [
        "carrier_reference",
        "departure_at",
        "arrival_at",
        "documentation_cutoff_at",
        "vgm_cutoff_at",
        "cargo_cutoff_at",
        "vessel_name",
        "vessel_imo",
        "voyage_number",
        "flight_number",
    ]

    clean_vessel_imo = LegForm.clean_vessel_imo


class BookingRejectForm(forms.Form):
    reason = forms.CharField(
        max_length=300, widget=forms.TextInput(attrs={"placeholder": "e.g. no space on the sailing"})
    )


class BookingCancelForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "e.g. the shipper postponed, the sailing was blanked"}),
        help_text="Kept on the booking, and on each order taken back to confirmed.",
    )


class BookingRollForm(_CutoffsMixin):
    departure_at = _datetime("New ETD")
    arrival_at = _datetime("New ETA")
    reason = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"placeholder": "e.g. vessel full"}))
    vessel_name = forms.CharField(required=False, max_length=60)
    vessel_imo = forms.CharField(label="IMO number", required=False, max_length=11)
    voyage_number = forms.CharField(required=False, max_length=20)
    flight_number = FlightNumberField()

    field_order = [
        "departure_at",
        "arrival_at",
        "reason",
        "vessel_name",
        "vessel_imo",
        "voyage_number",
        "flight_number",
    ]

    clean_vessel_imo = LegForm.clean_vessel_imo


class AppointmentForm(LocalTimesForm):
    kind = forms.ChoiceField(choices=AppointmentKind.choices)
    location = LocationCodeField(label="Place")
    address = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    window_start_at = _datetime("From")
    window_end_at = _datetime("Until")
    reference = forms.CharField(required=False, max_length=40, help_text="Slot number; confirms the appointment.")
    contact = forms.CharField(required=False, max_length=120)

    def clean(self) -> dict[str, Any]:
        super().clean()  # Form.clean gives back cleaned_data; the stubs allow None
        data = self.cleaned_data
        start, end = data.get("window_start_at"), data.get("window_end_at")
        if start and end and end <= start:
            self.add_error("window_end_at", "The window must end after it starts.")
        return data

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["location_id"] = data.pop("location").pk
        return data


class LegActualForm(LocalTimesForm):
    """When a leg really departed or arrived (Today's quick actions): now, or the time given on the page's clock,
    never later than now (a time noticed late is given as it was, not as when it was noticed)."""

    kind = forms.ChoiceField(choices=[("departure", "Departed"), ("arrival", "Arrived")])
    at = _datetime("At", required=False, help_text="Blank: now.")

    def clean_at(self) -> datetime.datetime | None:
        at = self.cleaned_data["at"]
        now = timezone.now()
        # Typed to the minute: the current minute is not the future.
        if at is not None and at.replace(second=0, microsecond=0) > now.replace(second=0, microsecond=0):
            zone = self.zone
            happened = "departed" if self.data.get("kind") == "departure" else "arrived"
            # Days as every screen writes them ("1 Jan, 10:00", the year when it is not this year on the page's
            # clock): "01 Jan 10:00" hid which year a typed slip of the year had landed in.
            with timezone.override(zone):
                typed, current = datetime_text(timezone.localtime(at)), datetime_text(timezone.localtime(now))
            raise ValidationError(
                f"{typed} is in the future: it is {current} ({zone_label(zone)}). Give the time it really {happened}."
            )
        return at


class AppointmentOutcomeForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (AppointmentStatus.DONE, "Done"),
            (AppointmentStatus.MISSED, "Missed"),
            (AppointmentStatus.CANCELLED, "Cancelled"),
        ]
    )
