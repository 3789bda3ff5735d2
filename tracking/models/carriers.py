"""What we know about carriers: the services they run per lane, our preferences, their on-time record."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import ngettext

from orders.models import Mode
from partners.models import Organisation


class CarrierService(models.Model):
    """A scheduled service a carrier offers on a lane and mode: transit days, weekly departures, cut-offs.

    Bookings name the service they were made on (`Booking.service`, on_delete PROTECT): a booking is a record kept
    for good, and deleting its service emptied the link, so the booking no longer said which service it was made on.
    A service in use is switched off instead (`is_active`: the ranking, the only way a booking gets a service, offers
    active ones only); one no booking names, made by mistake, may still be deleted."""

    carrier = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="carrier_services")
    mode = models.CharField(max_length=12, choices=Mode.choices)
    name = models.CharField(max_length=80, help_text="e.g. AE7 Asia–North Europe, Express Worldwide.")
    origin_code = models.CharField(max_length=5, help_text="UN/LOCODE or ISO country code.")
    destination_code = models.CharField(max_length=5, help_text="UN/LOCODE or ISO country code.")
    transit_days = models.PositiveSmallIntegerField(
        help_text="Days from departure to arrival: planning offers the departure plus these days as the arrival."
    )
    departure_weekdays = ArrayField(
        models.PositiveSmallIntegerField(),
        default=list,
        blank=True,
        help_text="0 = Monday … 6 = Sunday; blank: departs every day.",
    )
    cargo_cutoff_hours = models.PositiveSmallIntegerField(default=24, help_text="Before departure.")
    documentation_cutoff_hours = models.PositiveSmallIntegerField(
        default=48, help_text="Hours before departure by which the shipping instructions must reach the carrier."
    )
    vgm_cutoff_hours = models.PositiveSmallIntegerField(
        default=24, help_text="Hours before departure by which the verified gross mass (VGM) must reach the carrier."
    )
    is_active = models.BooleanField(
        default=True,
        help_text="Untick when the carrier no longer runs it: carrier rankings, and so new bookings, stop offering it. "
        "A service bookings were made on is kept for them (it cannot be deleted): switch it off instead.",
    )

    class Meta:
        ordering = ["carrier", "mode", "origin_code", "destination_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "mode", "origin_code", "destination_code", "name"],
                name="carrier_service_unique",
                violation_error_message="The carrier has a service of this name on this lane and mode already: "
                "change that one, or name this one differently.",
            ),
            models.CheckConstraint(
                condition=Q(transit_days__gt=0),
                name="carrier_service_transit_positive",
                violation_error_message="The transit time is at least one day.",
            ),
        ]
        indexes = [models.Index(fields=["mode", "origin_code", "destination_code"], name="carrier_service_lane")]

    def __str__(self) -> str:
        # Reads the carrier: lists of services (the console, a booking's service) select_related it.
        return f"{self.carrier.code} {self.name} {self.origin_code} → {self.destination_code}"


class PreferenceKind(models.TextChoices):
    PREFERRED = "preferred", "Preferred"
    EXCLUDED = "excluded", "Excluded"


class CarrierPreference(models.Model):
    """Prefer or exclude a carrier, for one customer and/or one lane (and mode); blank fields match all."""

    carrier = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="carrier_preferences")
    kind = models.CharField(
        max_length=10,
        choices=PreferenceKind.choices,
        help_text="Preferred: the carrier gains points in the ranking, with the reason shown. Excluded: the carrier "
        "is left out of the ranking, and the customer's cargo is also kept off a master already booked with this "
        "carrier.",
    )
    customer = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="customer_carrier_preferences"
    )
    mode = models.CharField(max_length=12, choices=Mode.choices, blank=True)
    origin_code = models.CharField(max_length=5, blank=True, help_text="UN/LOCODE or country; blank: any.")
    destination_code = models.CharField(max_length=5, blank=True, help_text="UN/LOCODE or country; blank: any.")
    reason = models.CharField(max_length=200, help_text="Shown in the ranking, e.g. 'Customer contract 2026'.")

    class Meta:
        ordering = ["carrier", "customer", "kind"]

    def __str__(self) -> str:
        # Says what the preference covers, e.g. "Preferred MAEU for ACME · Ocean FCL · CNSHA → DE".
        # Reads the carrier and the customer: lists select_related both.
        lane = f"{self.origin_code or 'any'} → {self.destination_code or 'any'}"
        scope = [
            self.customer.code if self.customer else "",  # no customer: no query
            self.get_mode_display() if self.mode else "",
            lane if self.origin_code or self.destination_code else "",
        ]
        covers = " · ".join(part for part in scope if part)
        return f"{self.get_kind_display()} {self.carrier.code}{f' for {covers}' if covers else ''}"

    def matches(self, *, customer_id: int | None, mode: str, origin: str, destination: str) -> bool:
        return (
            (self.customer_id is None or self.customer_id == customer_id)
            and (not self.mode or self.mode == mode)
            and (not self.origin_code or self.origin_code in (origin, origin[:2]))
            and (not self.destination_code or self.destination_code in (destination, destination[:2]))
        )


NEUTRAL_ON_TIME_SCORE = Decimal("0.500")


class CarrierRecord(models.Model):
    """A carrier's on-time record, 0 to 1. Neutral (0.5) until tracking measures real departures and arrivals."""

    carrier = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="carrier_record")
    on_time_score = models.DecimalField(max_digits=4, decimal_places=3, default=NEUTRAL_ON_TIME_SCORE)
    measured_legs = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(on_time_score__gte=0) & Q(on_time_score__lte=1),
                name="carrier_record_score_0_1",
                violation_error_message="The on-time score is between 0 and 1 (0.5: neutral).",
            ),
        ]

    def __str__(self) -> str:
        # Reads the carrier: lists of records select_related it. A score nothing has measured yet is the neutral one.
        legs = ngettext("leg", "legs", self.measured_legs)
        measured = f"over {self.measured_legs} {legs}" if self.measured_legs else "(not measured yet)"
        return f"{self.carrier.code}: {self.on_time_score:.0%} on time {measured}"
