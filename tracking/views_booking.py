"""Booking screens: choose a ranked carrier, send the request, record the carrier's answer, read the request."""

from __future__ import annotations

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from partners.permissions import planning_required, staff_required
from partners.scoping import scope_for_request
from partners.time_zones import branch_zone, zone_label
from tracking import adapters, selectors
from tracking.errors import PlanningError
from tracking.forms import BookingCancelForm, BookingConfirmForm, BookingRejectForm, BookingRollForm
from tracking.models import Booking
from tracking.services import booking as booking_services
from tracking.services import ranking


@planning_required
@require_POST
def booking_choose(request: HttpRequest, reference: str) -> HttpResponse:
    """Book the ranked option ops picked; the ranking is recomputed so the pinned quote is today's."""
    shipment = selectors.shipment_get_for(scope=scope_for_request(request), reference=reference)
    carrier_id = request.POST.get("carrier", "")
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses
    is_id = carrier_id.isascii() and carrier_id.isdigit()
    option = ranking.ranking_for_shipment(shipment=shipment).option_for(int(carrier_id)) if is_id else None
    if option is None:
        messages.error(request, "That carrier is not among the options any more; look at the ranking again.")
        return redirect(shipment)
    try:
        booking = booking_services.booking_request(shipment=shipment, option=option, by=request.user)
    except PlanningError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{booking.carrier.name} chosen (rank {option.rank}). Send the booking request next.")
    return redirect(shipment)


@planning_required
@require_POST
def booking_send(request: HttpRequest, pk: int) -> HttpResponse:
    booking = selectors.booking_get_for(scope=scope_for_request(request), pk=pk)
    try:
        booking = booking_services.booking_send(booking=booking, by=request.user)
    except PlanningError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Booking request sent to {booking.carrier.name} by {booking.sent_via}.")
    return redirect(booking.shipment)


def _cutoffs(data: dict) -> dict:
    return {key: data.get(key) for key in ("documentation_cutoff_at", "vgm_cutoff_at", "cargo_cutoff_at")}


def _answer_refused(request: HttpRequest, booking: Booking, *, action: str) -> HttpResponse | None:
    """Back to the shipment, saying why, when the form is opened for a booking that cannot take `action` any more (an
    old link, the back button); None lets the form open. A form posted meanwhile is refused by the service, on the
    form, with what was typed kept."""
    if request.method == "POST":
        return None
    problem = booking_services.answer_problem(booking, action=action)
    if problem is None:
        return None
    messages.error(request, problem)
    return redirect(booking.shipment)


def _render_answer(request: HttpRequest, booking: Booking, form: Form, *, action: str, title: str) -> HttpResponse:
    """The form for the carrier's answer; its times are on the clock of the shipment's branch, as the form says."""
    zone = branch_zone(booking.shipment.branch)
    context = {"booking": booking, "form": form, "action": action, "title": title, "zone": zone_label(zone)}
    with timezone.override(zone):
        return render(request, "tracking/booking_answer.html", context, status=400 if form.errors else 200)


@planning_required
def booking_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the carrier's confirmation; the orders move to planned through their lifecycle."""
    scope = scope_for_request(request)
    booking = selectors.booking_get_for(scope=scope, pk=pk)
    if (refused := _answer_refused(request, booking, action="confirm")) is not None:
        return refused
    form = BookingConfirmForm(
        request.POST or None, zone=branch_zone(booking.shipment.branch), mode=booking.shipment.mode
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with timezone.override(form.zone):  # a refusal names the times on the form's clock
                outcome = booking_services.booking_confirm(
                    booking=booking,
                    carrier_reference=data["carrier_reference"],
                    departure_at=data["departure_at"],
                    arrival_at=data["arrival_at"],
                    scope=scope,
                    by=request.user,
                    vessel_name=data["vessel_name"],
                    vessel_imo=data["vessel_imo"],
                    voyage_number=data["voyage_number"],
                    flight_number=data["flight_number"],
                    **_cutoffs(data),
                )
        except PlanningError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Booking {outcome.booking.carrier_reference} confirmed."
                + (f" Planned: {', '.join(o.reference for o in outcome.planned)}." if outcome.planned else ""),
            )
            for order, reason in outcome.not_planned:
                messages.warning(request, f"{order.reference} not planned yet: {reason}")
            return redirect(booking.shipment)
    return _render_answer(request, booking, form, action="confirm", title="Record confirmation")


@planning_required
def booking_reject(request: HttpRequest, pk: int) -> HttpResponse:
    booking = selectors.booking_get_for(scope=scope_for_request(request), pk=pk)
    if (refused := _answer_refused(request, booking, action="reject")) is not None:
        return refused
    form = BookingRejectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            booking_services.booking_reject(booking=booking, reason=form.cleaned_data["reason"], by=request.user)
        except PlanningError as exc:
            form.add_error(None, str(exc))
        else:
            messages.warning(request, f"{booking.carrier.name} declined. Choose another carrier from the ranking.")
            return redirect(booking.shipment)
    return _render_answer(request, booking, form, action="reject", title="Record rejection")


@planning_required
def booking_roll(request: HttpRequest, pk: int) -> HttpResponse:
    booking = selectors.booking_get_for(scope=scope_for_request(request), pk=pk)
    if (refused := _answer_refused(request, booking, action="roll")) is not None:
        return refused
    form = BookingRollForm(request.POST or None, zone=branch_zone(booking.shipment.branch), mode=booking.shipment.mode)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with timezone.override(form.zone):  # a refusal names the times on the form's clock
                booking_services.booking_roll(
                    booking=booking,
                    departure_at=data["departure_at"],
                    arrival_at=data["arrival_at"],
                    reason=data["reason"],
                    by=request.user,
                    vessel_name=data["vessel_name"],
                    vessel_imo=data["vessel_imo"],
                    voyage_number=data["voyage_number"],
                    flight_number=data["flight_number"],
                    **_cutoffs(data),
                )
        except PlanningError as exc:
            form.add_error(None, str(exc))
        else:
            messages.warning(request, "Booking rolled: the plan moved to the new sailing.")
            return redirect(booking.shipment)
    return _render_answer(request, booking, form, action="roll", title="Record a roll")


@planning_required
def booking_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a booking, saying why (as cancelling an order does); the orders it planned go back to confirmed."""
    scope = scope_for_request(request)
    booking = selectors.booking_get_for(scope=scope, pk=pk)
    if (refused := _answer_refused(request, booking, action="cancel")) is not None:
        return refused
    form = BookingCancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = booking_services.booking_cancel(
                booking=booking, reason=form.cleaned_data["reason"], by=request.user, scope=scope
            )
        except PlanningError as exc:
            form.add_error(None, str(exc))
        else:
            back = ", ".join(order.reference for order in outcome.unplanned)
            messages.success(
                request,
                "Booking cancelled; the shipment is back in planning."
                + (f" Back to confirmed: {back}." if back else ""),
            )
            for order, reason in outcome.not_unplanned:
                messages.warning(request, f"{order.reference} is still planned: {reason}")
            return redirect(booking.shipment)
    return _render_answer(request, booking, form, action="cancel", title="Cancel booking")


@staff_required
def booking_document(request: HttpRequest, pk: int) -> HttpResponse:
    """The booking request as the carrier receives it (print it, or read what was sent)."""
    booking = selectors.booking_get_for(scope=scope_for_request(request), pk=pk)
    document = adapters.booking_document(booking)
    return render(request, "tracking/booking_document.html", {"booking": booking, "document": document})
