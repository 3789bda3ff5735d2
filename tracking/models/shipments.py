"""Shipments (houses and masters), their legs and containers.

A *house* carries (part of) one customer order: its cargo is a set of HouseLines. A *master* is what
a carrier moves: it has the legs, the containers and the booking. Houses join a master through a
ConsolidatedHouse row; a direct shipment is a master with a single house. A house is on at most one
master at a time, enforced by a partial unique index, not by code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pghistory
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from stdnum import imo

from orders.identifiers import (
    awb_number_problem,
    container_number_problem,
    flight_number_problem,
    normalize_awb_number,
    normalize_container_number,
    normalize_flight_number,
)
from orders.models import HISTORY_LEVEL, CargoLine, Location, Mode, Order, history_copy
from partners.models import Organisation
from tracking.equipment import CONTAINER_TYPE_CHOICES, CONTAINER_TYPES

if TYPE_CHECKING:
    from tracking.models.bookings import Booking


class ShipmentKind(models.TextChoices):
    HOUSE = "house", "House"
    MASTER = "master", "Master"


class ShipmentStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    BOOKED = "booked", "Booked"
    IN_TRANSIT = "in_transit", "In transit"
    ARRIVED = "arrived", "Arrived"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


OPEN_SHIPMENT_STATUSES = (
    ShipmentStatus.PLANNING,
    ShipmentStatus.BOOKED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.ARRIVED,
)


class ShipmentQuerySet(models.QuerySet["Shipment"]):
    def masters(self) -> ShipmentQuerySet:
        return self.filter(kind=ShipmentKind.MASTER)

    def houses(self) -> ShipmentQuerySet:
        return self.filter(kind=ShipmentKind.HOUSE)

    def open(self) -> ShipmentQuerySet:
        return self.filter(status__in=OPEN_SHIPMENT_STATUSES)


class Shipment(models.Model):
    """A house (a customer's cargo, HBL/HAWB) or a master (a carrier's movement, MBL/MAWB)."""

    reference = models.CharField(max_length=24, unique=True, editable=False, help_text="e.g. M-HAM-26-000012.")
    kind = models.CharField(max_length=6, choices=ShipmentKind.choices)
    branch = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="branch_shipments")
    order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="houses",
        help_text="Houses only: the customer order whose cargo this house carries (all of it or a split part).",
    )
    mode = models.CharField(max_length=12, choices=Mode.choices)
    origin = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    carrier = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carried_shipments",
        help_text="Masters: the main carrier, once chosen.",
    )
    bill_number = models.CharField(
        max_length=20, blank=True, help_text="HBL/HAWB for a house (our series), MBL/MAWB for a master (carrier's)."
    )
    status = models.CharField(
        max_length=12, choices=ShipmentStatus.choices, default=ShipmentStatus.PLANNING, editable=False
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ShipmentQuerySet.as_manager()

    if TYPE_CHECKING:  # set only where tracking.selectors prefetches them (Prefetch to_attr)
        live_links: list[ConsolidatedHouse]
        live_bookings: list[Booking]

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=ShipmentKind.HOUSE, order__isnull=False)
                | Q(kind=ShipmentKind.MASTER, order__isnull=True),
                name="shipment_house_has_order_master_not",
                violation_error_message="A house carries one order and a master none: pick the house's order, or "
                "leave a master's order empty.",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "status", "branch"], name="shipment_kind_status_branch"),
            models.Index(fields=["origin", "destination", "mode"], name="shipment_lane"),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("tracking:shipment_detail", args=[self.reference])

    def clean(self) -> None:
        """A bill number is kept as carriers and tracking events spell it: upper case, no spaces. A MAWB is an IATA
        air waybill (prefix, serial and mod-7 check digit) stored as 020-12345675, the spelling tracking events
        are matched on; a typo would never match an airline's status message. HAWBs are our own series."""
        number = "".join(self.bill_number.split()).upper()
        if number and self.mode == Mode.AIR and self.kind == ShipmentKind.MASTER:
            problem = awb_number_problem(number)
            if problem:
                raise ValidationError({"bill_number": problem})
            digits = normalize_awb_number(number)
            number = f"{digits[:3]}-{digits[3:]}"
        self.bill_number = number

    @property
    def is_master(self) -> bool:
        return self.kind == ShipmentKind.MASTER

    @property
    def bill_label(self) -> str:
        """What the bill is called for this kind and mode: HBL, MBL, HAWB, MAWB or CMR."""
        if self.mode == Mode.AIR:
            return "HAWB" if self.kind == ShipmentKind.HOUSE else "MAWB"
        if self.mode in (Mode.ROAD_FTL, Mode.ROAD_LTL):
            return "CMR"
        if self.mode == Mode.PARCEL:
            return "Tracking no."
        return "HBL" if self.kind == ShipmentKind.HOUSE else "MBL"

    @property
    def lane(self) -> str:
        return f"{self.origin_id} → {self.destination_id}"


class HouseLine(models.Model):
    """The part of one order cargo line a house carries: all of it, or some pieces after a split."""

    house = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="house_lines")
    cargo_line = models.ForeignKey(CargoLine, on_delete=models.PROTECT, related_name="house_lines")
    pieces = models.PositiveIntegerField()
    gross_weight_kg = models.DecimalField(max_digits=12, decimal_places=3)
    volume_m3 = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0))

    class Meta:
        ordering = ["house", "cargo_line__line_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["house", "cargo_line"],
                name="house_line_once_per_house",
                violation_error_message="This cargo line is on the house already: change its pieces there.",
            ),
            models.CheckConstraint(
                condition=Q(pieces__gt=0),
                name="house_line_pieces_positive",
                violation_error_message="A house carries at least one piece of the line.",
            ),
        ]

    def __str__(self) -> str:
        # Reads the house and the cargo line: lists of house lines select_related("house", "cargo_line").
        return f"{self.house.reference}: {self.pieces} of line {self.cargo_line.line_no}"


class ConsolidatedHouse(models.Model):
    """A house on a master. Removed or deconsolidated rows stay as history; only a live row binds."""

    master = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="consolidated_houses")
    house = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="consolidations")
    added_at = models.DateTimeField(auto_now_add=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    removed_at = models.DateTimeField(null=True, blank=True)
    deconsolidated_at = models.DateTimeField(null=True, blank=True, help_text="Separated at destination.")

    class Meta:
        ordering = ["master", "added_at", "id"]
        constraints = [
            # The rule "a house is never booked on two masters" lives here, so no race can break it.
            models.UniqueConstraint(
                fields=["house"],
                condition=Q(removed_at__isnull=True, deconsolidated_at__isnull=True),
                name="house_on_one_live_master",
                violation_error_message="This house is on another master already: take it off that one first.",
            ),
            models.CheckConstraint(
                condition=~Q(master=F("house")),
                name="consolidation_master_is_not_house",
                violation_error_message="A shipment cannot carry itself as a house.",
            ),
        ]

    def __str__(self) -> str:
        # Reads both shipments: lists of these rows select_related("house", "master").
        return f"{self.house.reference} on {self.master.reference}"

    @property
    def is_live(self) -> bool:
        return self.removed_at is None and self.deconsolidated_at is None


class LegRole(models.TextChoices):
    PRE_CARRIAGE = "pre_carriage", "Pre-carriage"
    MAIN = "main", "Main carriage"
    ON_CARRIAGE = "on_carriage", "On-carriage"
    LAST_MILE = "last_mile", "Last mile"


def validate_imo_number(value: str) -> None:
    if value and not imo.is_valid(value):
        raise ValidationError(f"{value} is not a valid IMO ship number (IMO + 7 digits, check digit last).")


def validate_flight_number(value: str) -> None:
    """The planning forms' check (orders.identifiers.flight_number_problem) on the model, so the console and any
    model form refuse "LH 8210 XX" too. A validator, not a constraint: legs stored before it stay as they are until
    edited (migration 0020)."""
    if value and (problem := flight_number_problem(value)):
        raise ValidationError(problem, code="flight_number")


# History: every leg added, changed (its plan, its actual times) and removed, by whom (the request's user, or the
# `by` of planning's services): django-pghistory's statement-level triggers, as for orders (docs/planning.md). The
# sequence is left out: legs are renumbered in role order as a side effect, which is no change of the plan.
@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    exclude=["sequence"],
    model_name="LegEvent",
    level=HISTORY_LEVEL,
    attrs={
        "shipment": history_copy("tracking.Shipment", indexed=True),  # a shipment's page reads its legs' history
        "carrier": history_copy(Organisation, optional=True),
        "origin": history_copy(Location),
        "destination": history_copy(Location),
    },
)
class Leg(models.Model):
    """One movement of a shipment by one carrier between two places, planned and actual."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="legs")
    sequence = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=14, choices=LegRole.choices, default=LegRole.MAIN)
    mode = models.CharField(max_length=12, choices=Mode.choices)
    carrier = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="carrier_legs"
    )
    origin = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    planned_departure_at = models.DateTimeField(null=True, blank=True)
    planned_arrival_at = models.DateTimeField(null=True, blank=True)
    actual_departure_at = models.DateTimeField(null=True, blank=True)
    actual_arrival_at = models.DateTimeField(null=True, blank=True)
    vessel_name = models.CharField(max_length=60, blank=True)
    vessel_imo = models.CharField("IMO number", max_length=7, blank=True, validators=[validate_imo_number])
    voyage_number = models.CharField(max_length=20, blank=True)
    flight_number = models.CharField(
        max_length=10, blank=True, help_text="e.g. LH8401.", validators=[validate_flight_number]
    )
    truck_plate = models.CharField(max_length=20, blank=True)
    train_number = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["shipment", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "sequence"],
                name="leg_sequence_unique",
                violation_error_message="Two legs of the shipment have the same number: number each leg once.",
            ),
            models.CheckConstraint(
                condition=Q(planned_arrival_at__isnull=True)
                | Q(planned_departure_at__isnull=True)
                | Q(planned_arrival_at__gte=F("planned_departure_at")),
                name="leg_planned_arrival_after_departure",
                violation_error_message="The planned arrival is before the planned departure.",
            ),
            models.CheckConstraint(
                condition=Q(actual_arrival_at__isnull=True)
                | Q(actual_departure_at__isnull=True)
                | Q(actual_arrival_at__gte=F("actual_departure_at")),
                name="leg_actual_arrival_after_departure",
                violation_error_message="The actual arrival is before the actual departure.",
            ),
            models.CheckConstraint(
                condition=Q(vessel_imo="") | Q(vessel_imo__regex=r"^\d{7}$"),
                name="leg_imo_shape",
                violation_error_message="An IMO number is seven digits, e.g. 9321483.",
            ),
        ]
        indexes = [
            models.Index(fields=["planned_departure_at"], name="leg_planned_departure"),
            models.Index(fields=["planned_arrival_at"], name="leg_planned_arrival"),
            models.Index(fields=["carrier", "planned_departure_at"], name="leg_carrier_departure"),
            # The schedule board places a leg by its best time, the actual one once recorded, else the plan
            # (selectors._best_time): each day's first legs are read off these in order and the scan stops after a
            # few (migration 0021).
            models.Index(Coalesce("actual_departure_at", "planned_departure_at"), name="leg_best_departure"),
            models.Index(Coalesce("actual_arrival_at", "planned_arrival_at"), name="leg_best_arrival"),
        ]

    def __str__(self) -> str:
        # Places are named by their UN/LOCODE (the key itself); the shipment is read: lists select_related it.
        return f"{self.shipment.reference} leg {self.sequence} {self.origin_id} → {self.destination_id}"

    def clean(self) -> None:
        """Identifiers kept as carriers write them: the IMO number's digits, the flight number without spaces in
        capitals ("lh 8210" is LH8210; its validator has refused what is no flight number)."""
        if self.vessel_imo:
            self.vessel_imo = imo.compact(self.vessel_imo).removeprefix("IMO")
        self.flight_number = normalize_flight_number(self.flight_number)

    @property
    def conveyance(self) -> str:
        """Vessel and voyage, flight, truck plate or train: what a person reads on the board."""
        if self.vessel_name:
            parts = [self.vessel_name]
            if self.vessel_imo:
                parts.append(f"IMO {self.vessel_imo}")
            if self.voyage_number:
                parts.append(f"voy. {self.voyage_number}")
            return " · ".join(parts)
        return self.flight_number or self.truck_plate or self.train_number


if TYPE_CHECKING:
    # Made by pghistory.track when the app loads (as orders.models.OrderEvent); its fields copy Leg's: untyped.
    LegEvent: Any


class ShipmentEquipment(models.Model):
    """A container on a master: ISO size-type, number (ISO 6346, once assigned), seals and VGM."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="containers")
    iso_type = models.CharField("ISO size-type", max_length=4, choices=CONTAINER_TYPE_CHOICES)
    container_number = models.CharField(max_length=11, blank=True, help_text="Blank until the box is released.")
    seal_numbers = ArrayField(models.CharField(max_length=15), default=list, blank=True)
    vgm_kg = models.DecimalField("VGM (kg)", max_digits=9, decimal_places=1, null=True, blank=True)
    tare_kg = models.PositiveIntegerField(null=True, blank=True, help_text="From the CSC plate; blank: type default.")
    max_gross_kg = models.PositiveIntegerField(
        null=True, blank=True, help_text="From the CSC plate; blank: type default."
    )

    class Meta:
        ordering = ["shipment", "id"]
        verbose_name = "container"
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "container_number"],
                condition=~Q(container_number=""),
                name="shipment_container_once",
                violation_error_message="This container number is on the shipment already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.container_number or 'unassigned'} {self.iso_type}"

    def clean(self) -> None:
        if self.container_number:
            self.container_number = normalize_container_number(self.container_number)
            problem = container_number_problem(self.container_number)
            if problem:
                raise ValidationError({"container_number": problem})
        if self.vgm_kg is not None and self.vgm_kg > self.effective_max_gross_kg:
            raise ValidationError(
                {
                    "vgm_kg": f"A VGM of {self.vgm_kg:,.0f} kg is above this box's maximum gross "
                    f"mass of {self.effective_max_gross_kg:,} kg."
                }
            )

    @property
    def spec(self):  # type: ignore[no-untyped-def]
        return CONTAINER_TYPES[self.iso_type]

    @property
    def effective_tare_kg(self) -> int:
        return self.tare_kg or self.spec.tare_kg

    @property
    def effective_max_gross_kg(self) -> int:
        return self.max_gross_kg or self.spec.max_gross_kg

    @property
    def max_payload_kg(self) -> int:
        return self.effective_max_gross_kg - self.effective_tare_kg
