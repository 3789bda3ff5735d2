"""Bookings of space with a carrier for a master, and appointments at the ends of its legs."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from orders.models import Location
from partners.models import Organisation
from tracking.models.carriers import CarrierService
from tracking.models.shipments import Shipment


class BookingStatus(models.TextChoices):
    REQUESTED = "requested", "To send"
    SENT = "sent", "Sent"
    CONFIRMED = "confirmed", "Confirmed"
    ROLLED = "rolled", "Rolled"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


LIVE_BOOKING_STATUSES = (BookingStatus.REQUESTED, BookingStatus.SENT, BookingStatus.CONFIRMED, BookingStatus.ROLLED)
CONFIRMED_BOOKING_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.ROLLED)


class Booking(models.Model):
    """Space requested from a carrier for a master, and what the carrier answered."""

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="bookings")
    carrier = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="carrier_bookings")
    service = models.ForeignKey(
        CarrierService,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The carrier's service it was booked on (pinned: the service cannot be deleted while a booking "
        "names it; switch it off instead, and new bookings are no longer offered it).",
    )
    rate_card = models.ForeignKey(
        "finance.RateCard",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The buy rate the choice was based on (pinned: the card cannot be deleted while a booking names "
        "it; deactivate it instead).",
    )
    status = models.CharField(
        max_length=10, choices=BookingStatus.choices, default=BookingStatus.REQUESTED, editable=False
    )
    quoted_amount = models.DecimalField(
        max_digits=13, decimal_places=3, null=True, blank=True, help_text="In the quote's currency (KWD: 3 decimals)."
    )
    quoted_currency = models.CharField(max_length=3, blank=True)
    selection = models.JSONField(default=dict, blank=True, help_text="The ranked option as shown when chosen.")
    requested_departure_on = models.DateField(null=True, blank=True)
    carrier_reference = models.CharField("confirmation number", max_length=40, blank=True)
    confirmed_departure_at = models.DateTimeField("confirmed ETD", null=True, blank=True)
    confirmed_arrival_at = models.DateTimeField("confirmed ETA", null=True, blank=True)
    original_departure_at = models.DateTimeField(null=True, blank=True, help_text="ETD before the first roll.")
    documentation_cutoff_at = models.DateTimeField(null=True, blank=True)
    vgm_cutoff_at = models.DateTimeField("VGM cut-off", null=True, blank=True)
    cargo_cutoff_at = models.DateTimeField(null=True, blank=True)
    roll_count = models.PositiveSmallIntegerField(default=0)
    rejection_reason = models.CharField(max_length=300, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True, help_text="Why we cancelled the booking.")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    sent_via = models.CharField(max_length=20, blank=True)
    request_text = models.TextField(blank=True, help_text="The request as sent, for the record.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_started_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Set while the request is on its way to the carrier."
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment"],
                condition=Q(status__in=LIVE_BOOKING_STATUSES),
                name="booking_one_live_per_shipment",
                violation_error_message="The shipment has a live booking already (requested, sent, confirmed or "
                "rolled): cancel it, or record its rejection, first.",
            ),
            models.CheckConstraint(
                condition=Q(confirmed_arrival_at__isnull=True)
                | Q(confirmed_departure_at__isnull=True)
                | Q(confirmed_arrival_at__gte=F("confirmed_departure_at")),
                name="booking_eta_after_etd",
                violation_error_message="The confirmed arrival (ETA) is before the confirmed departure (ETD).",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "cargo_cutoff_at"], name="booking_status_cutoff"),
        ]

    def __str__(self) -> str:
        # Reads the shipment and the carrier: lists of bookings select_related both.
        return f"{self.shipment.reference} with {self.carrier.code} ({self.get_status_display()})"

    @property
    def is_confirmed(self) -> bool:
        return self.status in CONFIRMED_BOOKING_STATUSES

    @property
    def cutoffs(self) -> list[tuple[str, datetime.datetime | None]]:
        return [
            ("Documentation", self.documentation_cutoff_at),
            ("VGM", self.vgm_cutoff_at),
            ("Cargo", self.cargo_cutoff_at),
        ]


class AppointmentKind(models.TextChoices):
    PICKUP = "pickup", "Pickup"
    DELIVERY = "delivery", "Delivery"


class AppointmentStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    CONFIRMED = "confirmed", "Confirmed"
    DONE = "done", "Done"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


class Appointment(models.Model):
    """A pickup or delivery slot at an address, with the time window agreed."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="appointments")
    kind = models.CharField(max_length=8, choices=AppointmentKind.choices)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    address = models.TextField(blank=True)
    window_start_at = models.DateTimeField()
    window_end_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.REQUESTED, editable=False
    )
    reference = models.CharField(max_length=40, blank=True, help_text="Slot or dock booking number.")
    contact = models.CharField(max_length=120, blank=True)
    actual_at = models.DateTimeField(null=True, blank=True)
    notes = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["window_start_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_end_at__gt=F("window_start_at")),
                name="appointment_window",
                violation_error_message="The window ends after it starts.",
            ),
        ]
        indexes = [
            models.Index(fields=["window_start_at"], name="appointment_window_start"),
            # Today lists the windows open during the day (window_end_at > its start, window_start_at < its end):
            # led by the end, the scan reads only windows not yet closed (days or weeks ahead, however long the
            # history), and the start, second, is checked in the index without reading the rows (migration 0020).
            models.Index(fields=["window_end_at", "window_start_at"], name="appointment_window_open"),
        ]

    def __str__(self) -> str:
        # Reads the shipment: lists of appointments select_related it.
        return f"{self.get_kind_display()} {self.shipment.reference} {self.window_start_at:%Y-%m-%d %H:%M}"
