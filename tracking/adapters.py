"""Carrier adapters: how a booking request reaches a carrier.

One small interface, `CarrierAdapter.book()`; the tracking work adds `poll()` and `track()` to the same
interface. Carriers without an API get the email adapter, which renders the request document and sends
it through Django's email backend. The registry is a plain dict: carrier code → adapter.
"""

from __future__ import annotations

import datetime
import smtplib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from orders.models import SEA_MODES, Mode
from partners.time_zones import branch_zone
from tracking.errors import AdapterError

if TYPE_CHECKING:
    from tracking.models import Booking


@dataclass(frozen=True)
class BookingDocument:
    """The booking request as a person reads it: subject, plain text and HTML, and who it goes to."""

    subject: str
    text: str
    html: str
    to: tuple[str, ...]


@dataclass(frozen=True)
class Submission:
    """What the adapter reports back: the channel used and any reference the carrier gave at once."""

    channel: str
    reference: str = ""
    detail: str = ""


class CarrierAdapter(Protocol):
    channel: str

    def book(self, booking: Booking, document: BookingDocument) -> Submission:
        """Hand the booking request to the carrier; raise AdapterError when it could not be delivered."""
        ...


def booking_document(booking: Booking) -> BookingDocument:
    """Render the booking request (templates/tracking/email/booking_request.*) for the booking, its dates on the
    clock of the branch that books (a worker runs on the server's zone)."""
    from tracking.selectors import booking_document_context

    context = booking_document_context(booking)
    zone = branch_zone(context["branch"])
    context |= _request_dates(booking, context, zone)
    carrier = booking.carrier
    to = tuple(address for address in [carrier.email, *context["carrier_contacts"]] if address)
    subject = f"Booking request {booking.shipment.reference} · {booking.shipment.lane}"
    return BookingDocument(
        subject=subject,
        text=_render_in(zone, "tracking/email/booking_request.txt", context),
        html=_render_in(zone, "tracking/email/booking_request.html", context),
        to=tuple(dict.fromkeys(to)),
    )


SAILING_LABELS: dict[str, str] = {
    Mode.OCEAN_FCL: "Requested sailing",
    Mode.OCEAN_LCL: "Requested sailing",
    Mode.AIR: "Requested flight",
}


def _request_dates(booking: Booking, context: dict[str, Any], zone: datetime.tzinfo) -> dict[str, Any]:
    """The dates a carrier books by, so that no request goes out without one: when the cargo is ready (the houses'
    latest requested pickup: the box sails with all its cargo, consolidation.master_cargo_ready_on) and the sailing
    asked for: the departure of the service the ranking chose, else the main carriage's planned departure (a sailing
    the planner typed in), on the branch's clock, with its vessel and voyage (or flight) when known."""
    from tracking.models import LegRole
    from tracking.services.consolidation import master_cargo_ready_on  # the services build on this module

    main = next((leg for leg in context["legs"] if leg.role == LegRole.MAIN), None)
    sailing_on = booking.requested_departure_on
    if sailing_on is None and main is not None and main.planned_departure_at is not None:
        sailing_on = timezone.localtime(main.planned_departure_at, zone).date()
    return {
        "cargo_ready_on": master_cargo_ready_on(context["houses"]),
        "sailing_on": sailing_on,
        "sailing_conveyance": main.conveyance if main is not None and sailing_on is not None else "",
        "sailing_label": SAILING_LABELS.get(booking.shipment.mode, "Requested departure"),
        "is_sea": booking.shipment.mode in SEA_MODES,
    }


def _render_in(zone: datetime.tzinfo, template: str, context: dict[str, Any]) -> str:
    with timezone.override(zone):
        return render_to_string(template, context)


class EmailBookingAdapter:
    """Sends the request document by email to the carrier's booking desk."""

    channel = "email"

    def book(self, booking: Booking, document: BookingDocument) -> Submission:
        if not document.to:
            raise AdapterError(f"{booking.carrier.name} has no email address: add one to the organisation first.")
        message = EmailMultiAlternatives(
            subject=document.subject, body=document.text, from_email=settings.DEFAULT_FROM_EMAIL, to=list(document.to)
        )
        message.attach_alternative(document.html, "text/html")
        try:
            message.send()
        except (smtplib.SMTPException, OSError) as exc:
            raise AdapterError(f"The booking email to {', '.join(document.to)} could not be sent: {exc}") from exc
        return Submission(channel=self.channel, detail=f"emailed to {', '.join(document.to)}")


EMAIL_ADAPTER = EmailBookingAdapter()
# Carriers with an API adapter, by organisation code. Empty until the tracking work adds the first one.
ADAPTERS: dict[str, CarrierAdapter] = {}


def adapter_for(carrier_code: str) -> CarrierAdapter:
    return ADAPTERS.get(carrier_code, EMAIL_ADAPTER)
