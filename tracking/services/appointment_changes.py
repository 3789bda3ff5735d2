"""Pickup and delivery appointments of a shipment: scheduled, then recorded as kept or missed."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from tracking.errors import PlanningError
from tracking.models import (
    Appointment,
    AppointmentStatus,
    Shipment,
)

APPOINTMENT_FIELDS = (
    "kind",
    "location_id",
    "address",
    "window_start_at",
    "window_end_at",
    "reference",
    "contact",
    "notes",
)


@transaction.atomic
def appointment_schedule(*, shipment: Shipment, data: Mapping[str, Any]) -> Appointment:
    """Agree a pickup or delivery time window for a shipment."""
    appointment = Appointment(shipment=shipment, **{k: v for k, v in data.items() if k in APPOINTMENT_FIELDS})
    if appointment.window_end_at <= appointment.window_start_at:
        raise PlanningError("The window must end after it starts.")
    appointment.status = AppointmentStatus.CONFIRMED if appointment.reference else AppointmentStatus.REQUESTED
    appointment.save()
    return appointment


@transaction.atomic
def appointment_record(
    *, appointment: Appointment, status: str, at: datetime.datetime | None = None, notes: str = ""
) -> Appointment:
    """Record that a pickup or delivery happened (done), did not (missed), or was called off."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if status not in (
        AppointmentStatus.CONFIRMED,
        AppointmentStatus.DONE,
        AppointmentStatus.MISSED,
        AppointmentStatus.CANCELLED,
    ):
        raise PlanningError("Unknown appointment outcome.")
    if appointment.status in (AppointmentStatus.DONE, AppointmentStatus.CANCELLED):
        raise PlanningError(f"This appointment is already {appointment.get_status_display().lower()}.")
    appointment.status = status
    if status == AppointmentStatus.DONE:
        appointment.actual_at = at or timezone.now()
    if notes:
        appointment.notes = notes[:300]
    appointment.save(update_fields=["status", "actual_at", "notes"])
    return appointment
