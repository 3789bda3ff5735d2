"""Bookings: ask a carrier for space on a master, send the request, record the answer (confirmed with
ETD/ETA and cut-offs, rejected, or rolled to a later sailing), or cancel.

Effects after commit: booking_confirmed, booking_rejected, booking_rolled, booking_cancelled (tracking/events.py).
A confirmed booking moves the master's orders to `planned` through the order lifecycle, never by
writing their state; orders the lifecycle does not let through yet are reported back, not forced. Inside its
transaction, before that, the confirmation is put on the orders' timelines as BOOKING_CONFIRMED and the workflow
completes what that milestone completes (booking_confirmed_recording, booking_covers_orders): the booking task
that blocks `plan` in the shipped templates. A cancelled confirmed booking takes the orders it planned back to
`confirmed` the same way (the lifecycle's `unplan`).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import Channel, OrderStatus
from partners.models import Organisation
from partners.scoping import Scope, scope_for_user
from partners.time_zones import branch_zone, zone_label
from tracking import adapters, events
from tracking.errors import BookingError
from tracking.models import (
    CONFIRMED_BOOKING_STATUSES,
    LIVE_BOOKING_STATUSES,
    Booking,
    BookingStatus,
    Leg,
    LegRole,
    Shipment,
    ShipmentKind,
    ShipmentStatus,
)
from tracking.services.booking_orders import (
    HELD_CARGO_UNBOOKED,
    CancelOutcome,
    ConfirmOutcome,
    _by,
    _covers,
    _orders_on,
    _plan_orders,
    orders_unplan,
)
from tracking.services.consolidation import live_houses, master_capacity_problems
from tracking.services.leg_changes import leg_add, shipment_set_status
from tracking.services.ranking import Option

NOON = datetime.time(12, 0)
# A send claimed longer ago than this was cut off mid-call (gunicorn's timeout is 60 s, EMAIL_TIMEOUT 30 s).
SEND_CLAIM_EXPIRES = datetime.timedelta(minutes=5)


def _lock(booking: Booking) -> Booking:
    return Booking.objects.select_for_update().select_related("shipment", "carrier").get(pk=booking.pk)


def _expect(booking: Booking, *statuses: str, doing: str) -> None:
    if booking.status not in statuses:
        raise BookingError(f"A booking that is {booking.get_status_display().lower()} cannot be {doing}.")


def _find_main_leg(shipment: Shipment) -> Leg | None:
    """The master's main-carriage leg, else its first leg, else None."""
    legs = list(shipment.legs.order_by("sequence"))
    return next((leg for leg in legs if leg.role == LegRole.MAIN), legs[0] if legs else None)


def _main_leg(shipment: Shipment) -> Leg:
    """The master's main-carriage leg (made on the fly for a master planned without legs)."""
    main = _find_main_leg(shipment)
    if main is None:
        main = leg_add(
            shipment=shipment,
            data={
                "role": LegRole.MAIN,
                "mode": shipment.mode,
                "origin_id": shipment.origin_id,
                "destination_id": shipment.destination_id,
            },
        )
    return main


def _at_noon(day: datetime.date | None, *, zone: datetime.tzinfo) -> datetime.datetime | None:
    """Noon of `day` on the shipment branch's clock (docs/planning.md, "Time zones"), whatever zone the request or
    worker runs in: the date the service departs is the date the branch's screens show."""
    return timezone.make_aware(datetime.datetime.combine(day, NOON), zone) if day else None


def _capacity_problem(shipment: Shipment) -> str | None:
    """Why the master's cargo cannot be booked in its containers, or None: the last gate before the carrier (a
    house, a consolidation or a container change is refused already; cargo consolidated loose and boxed later is
    caught here)."""
    problems = master_capacity_problems(master=shipment)
    if not problems:
        return None
    return (
        f"{shipment.reference} cannot be booked as planned: {' '.join(problems)} Add or change a container, or take "
        "a house off, then book."
    )


@transaction.atomic
def booking_request(
    *,
    shipment: Shipment,
    option: Option | None = None,
    carrier: Organisation | None = None,
    by: Any = None,
    automatic: bool = False,
) -> Booking:
    """Choose a carrier for a master (a ranked option, or a carrier by hand): a booking to send.

    The option's quote, rate card and explanation are pinned on the booking; the main leg gets the carrier
    and, until the carrier confirms, the service's next departure and arrival as its plan.
    """
    shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
    if shipment.kind != ShipmentKind.MASTER:
        raise BookingError("Bookings are made for master shipments.")
    if shipment.status != ShipmentStatus.PLANNING:
        raise BookingError(f"{shipment.reference} is {shipment.get_status_display().lower()}; it is not being planned.")
    houses = live_houses(shipment)
    if not houses:
        raise BookingError(f"{shipment.reference} carries no house yet.")
    cancelled = [house.reference for house in houses if house.order and house.order.status == OrderStatus.CANCELLED]
    if cancelled:  # the cancellation takes them off (consolidation.order_houses_cancel); should that not have run
        raise BookingError(f"{', '.join(cancelled)} on {shipment.reference} belong to cancelled orders: take them off.")
    problem = _capacity_problem(shipment)
    if problem:
        raise BookingError(problem)
    chosen = option.carrier if option is not None else carrier
    if chosen is None:
        raise BookingError("Choose a carrier.")
    live = shipment.bookings.filter(status__in=LIVE_BOOKING_STATUSES).select_related("carrier").first()
    if live is not None:
        raise BookingError(
            f"{shipment.reference} already has a booking with {live.carrier.name} "
            f"({live.get_status_display().lower()}); cancel it first."
        )
    booking = Booking(shipment=shipment, carrier=chosen, requested_by=_by(by))
    if option is not None:
        booking.service = option.service
        booking.requested_departure_on = option.departure_on
        if option.quote is not None:
            booking.rate_card_id = option.quote.card_id
            booking.quoted_amount, booking.quoted_currency = option.quote.total_amount, option.quote.currency
        booking.selection = {**option.snapshot(), "automatic": automatic}
    try:
        with transaction.atomic():
            booking.save()
    except IntegrityError as exc:  # a colleague chose a carrier for the same master a moment ago
        raise BookingError(f"{shipment.reference} got a booking meanwhile; reload the page.") from exc
    Shipment.objects.filter(pk=shipment.pk).update(carrier=chosen)
    main = _main_leg(shipment)
    main.carrier = chosen
    if option is not None and option.departure_on and not main.planned_departure_at:
        zone = branch_zone(shipment.branch)
        main.planned_departure_at = _at_noon(option.departure_on, zone=zone)
        main.planned_arrival_at = _at_noon(option.arrival_on, zone=zone)
    main.save()
    return booking


def booking_send(*, booking: Booking, by: Any = None) -> Booking:
    """Send the request through the carrier's adapter (email where the carrier has no API), once.

    The adapter runs outside any transaction: a slow mail server or carrier API holds no row lock. So that a
    second click (or a colleague) cannot reach the carrier again while it runs, the send is claimed under the
    row lock and the claim committed before the call (`send_started_at`): whoever finds a live claim is told the
    request is on its way, and the carrier is called once. A failure gives the claim back and leaves the booking
    "to send", the reason raised as AdapterError. A claim older than SEND_CLAIM_EXPIRES belongs to a process that
    died during the call (a worker killed at gunicorn's timeout) and is taken over: whether that call reached the
    carrier is unknown, as after any crash.
    """
    with transaction.atomic():
        booking = _lock(booking)
        _expect(booking, BookingStatus.REQUESTED, doing="sent")
        if not live_houses(booking.shipment):  # its last house was taken off (or its order cancelled) since
            raise BookingError(f"{booking.shipment.reference} carries no house any more; cancel this booking.")
        claimed_at = timezone.now()
        if booking.send_started_at is not None and booking.send_started_at > claimed_at - SEND_CLAIM_EXPIRES:
            zone = branch_zone(booking.shipment.branch)  # the clock of the shipment's pages, whoever asks
            raise BookingError(
                f"The booking request to {booking.carrier.name} is being sent (since "
                f"{timezone.localtime(booking.send_started_at, zone):%H:%M:%S} {zone_label(zone)}); reload the page "
                "in a moment."
            )
        problem = _capacity_problem(booking.shipment)  # a house joined since the carrier was chosen
        if problem:
            raise BookingError(problem)
        document = adapters.booking_document(booking)
        booking.send_started_at = claimed_at
        booking.save(update_fields=["send_started_at"])
    try:
        submission = adapters.adapter_for(booking.carrier.code).book(booking, document)
    except BaseException:  # refused, timed out, or the request stopped: the booking can be sent again
        Booking.objects.filter(pk=booking.pk, send_started_at=claimed_at).update(send_started_at=None)
        raise
    with transaction.atomic():
        booking = _lock(booking)
        _expect(booking, BookingStatus.REQUESTED, doing="sent")
        booking.status, booking.sent_at, booking.sent_via = BookingStatus.SENT, timezone.now(), submission.channel
        booking.send_started_at = None
        booking.request_text = document.text
        if submission.reference:
            booking.carrier_reference = submission.reference
        booking.save(
            update_fields=["status", "sent_at", "sent_via", "send_started_at", "request_text", "carrier_reference"]
        )
    return booking


def _check_times(
    departure_at: datetime.datetime, arrival_at: datetime.datetime, cutoffs: dict[str, datetime.datetime | None]
) -> None:
    if arrival_at < departure_at:
        raise BookingError("The ETA is before the ETD.")
    for name, at in cutoffs.items():
        if at is not None and at > departure_at:
            label = name.removesuffix("_cutoff_at").replace("vgm", "VGM").replace("_", " ")
            raise BookingError(f"The {label} cut-off is after the ETD; check the dates.")


def _apply_sailing(
    main: Leg, *, departure_at: datetime.datetime, arrival_at: datetime.datetime, conveyance: dict[str, str]
) -> None:
    main.planned_departure_at, main.planned_arrival_at = departure_at, arrival_at
    for key, value in conveyance.items():
        if value:
            setattr(main, key, value)
    try:
        main.full_clean(exclude=["shipment", "carrier", "origin", "destination"], validate_unique=False)
    except ValidationError as exc:
        raise BookingError(" ".join(" ".join(messages) for messages in exc.message_dict.values())) from exc
    main.save()


@transaction.atomic
def booking_confirm(
    *,
    booking: Booking,
    carrier_reference: str,
    departure_at: datetime.datetime,
    arrival_at: datetime.datetime,
    scope: Scope,
    by: Any = None,
    documentation_cutoff_at: datetime.datetime | None = None,
    vgm_cutoff_at: datetime.datetime | None = None,
    cargo_cutoff_at: datetime.datetime | None = None,
    vessel_name: str = "",
    vessel_imo: str = "",
    voyage_number: str = "",
    flight_number: str = "",
    channel: str = Channel.SCREEN,
) -> ConfirmOutcome:
    """Record the carrier's confirmation: number, ETD/ETA, cut-offs, conveyance. The master is booked (unless it
    already moves) and its orders move to planned through the lifecycle. After commit: booking_confirmed."""
    booking = _lock(booking)
    _expect(booking, BookingStatus.REQUESTED, BookingStatus.SENT, doing="confirmed")
    if not carrier_reference.strip():
        raise BookingError("Enter the carrier's confirmation number.")
    cutoffs = {
        "documentation_cutoff_at": documentation_cutoff_at,
        "vgm_cutoff_at": vgm_cutoff_at,
        "cargo_cutoff_at": cargo_cutoff_at,
    }
    _check_times(departure_at, arrival_at, cutoffs)
    booking.status, booking.answered_at = BookingStatus.CONFIRMED, timezone.now()
    booking.carrier_reference = carrier_reference.strip()
    booking.confirmed_departure_at, booking.confirmed_arrival_at = departure_at, arrival_at
    for key, value in cutoffs.items():
        setattr(booking, key, value)
    booking.save()
    shipment = booking.shipment
    _apply_sailing(
        _main_leg(shipment),
        departure_at=departure_at,
        arrival_at=arrival_at,
        conveyance={
            "vessel_name": vessel_name,
            "vessel_imo": vessel_imo,
            "voyage_number": voyage_number,
            "flight_number": flight_number,
        },
    )
    if shipment.status == ShipmentStatus.PLANNING:
        # A confirmation typed in after the departure was recorded is still the booking's record (number, ETD,
        # cut-offs), but the master stays where its legs put it: never back from moving to booked.
        shipment_set_status(shipment=shipment, status=ShipmentStatus.BOOKED)
    _feed_follow(shipment)  # this carrier's feed polled from now, not from the beat's next sync
    # On the orders' timelines, with the confirmation (tracking.ingest.receivers), and then what the workflow does
    # on BOOKING_CONFIRMED (the booking task that blocks `plan`), before the orders are planned.
    events.booking_confirmed_recording.send(
        sender=Booking,
        booking_id=booking.pk,
        shipment_id=shipment.pk,
        at=booking.answered_at,
        by_id=getattr(_by(by), "pk", None),
    )
    orders = _covers(booking, shipment, _orders_on(shipment))
    outcome = ConfirmOutcome(booking)
    _plan_orders(shipment, scope=scope, by=by, channel=channel, outcome=outcome, orders=orders)
    transaction.on_commit(
        lambda: events.booking_confirmed.send(
            sender=Booking, booking_id=booking.pk, shipment_id=shipment.pk, carrier_id=booking.carrier_id
        )
    )
    return outcome


@transaction.atomic
def booking_reject(*, booking: Booking, reason: str, by: Any = None) -> Booking:
    """Record that the carrier declined; the master is free for another carrier. After commit: booking_rejected."""
    booking = _lock(booking)
    _expect(booking, BookingStatus.REQUESTED, BookingStatus.SENT, doing="rejected")
    if not reason.strip():
        raise BookingError("Say why the carrier declined (e.g. no space on the sailing).")
    booking.status, booking.answered_at = BookingStatus.REJECTED, timezone.now()
    booking.rejection_reason = reason.strip()[:300]
    booking.save(update_fields=["status", "answered_at", "rejection_reason"])
    _release_carrier(booking.shipment)
    transaction.on_commit(
        lambda: events.booking_rejected.send(
            sender=Booking,
            booking_id=booking.pk,
            shipment_id=booking.shipment_id,
            carrier_id=booking.carrier_id,
            reason=booking.rejection_reason,
        )
    )
    return booking


def _release_carrier(shipment: Shipment) -> None:
    """Let the carrier go: the master and its main leg lose the carrier, its bill (an MBL or MAWB is the carrier's
    number: the next carrier's feed would be polled by it) and that carrier's sailing (times, vessel, voyage,
    flight), so the next carrier's booking plans its own sailing instead of inheriting a stale one; and its tracking
    feed ends (polled under the cancelled booking, it would put that carrier's plan on the master)."""
    Shipment.objects.filter(pk=shipment.pk).update(carrier=None, bill_number="")
    Leg.objects.filter(shipment=shipment, role=LegRole.MAIN, actual_departure_at__isnull=True).update(
        carrier=None,
        planned_departure_at=None,
        planned_arrival_at=None,
        vessel_name="",
        vessel_imo="",
        voyage_number="",
        flight_number="",
    )
    _feed_follow(shipment)


def _feed_follow(shipment: Shipment) -> None:
    """The master's carrier feeds follow its booking now: its carrier's made, another carrier's ended."""
    from tracking.ingest.polling import subscriptions_sync  # ingest builds on planning (following.py)

    subscriptions_sync(shipment_ids=[shipment.pk])


@transaction.atomic
def booking_roll(
    *,
    booking: Booking,
    departure_at: datetime.datetime,
    arrival_at: datetime.datetime,
    reason: str,
    by: Any = None,
    vessel_name: str = "",
    vessel_imo: str = "",
    voyage_number: str = "",
    flight_number: str = "",
    documentation_cutoff_at: datetime.datetime | None = None,
    vgm_cutoff_at: datetime.datetime | None = None,
    cargo_cutoff_at: datetime.datetime | None = None,
) -> Booking:
    """The carrier moved a confirmed booking to a later sailing (or flight): new ETD/ETA (and cut-offs, vessel or
    flight), the main leg and every later leg shift with it, and its ETD/ETA replace the estimates reported for the
    missed sailing (_supersede_estimates). After commit: booking_rolled (the exception rules react to it)."""
    booking = _lock(booking)
    _expect(booking, *CONFIRMED_BOOKING_STATUSES, doing="rolled")
    main = _main_leg(booking.shipment)
    problem = roll_problem(booking, main)  # the cargo sailed: a later change is a delay, not a roll
    if problem:
        raise BookingError(problem)
    previous = booking.confirmed_departure_at
    if previous is not None and departure_at <= previous:
        # In the zone the caller works in (the planning screens activate the branch's).
        raise BookingError(
            f"A roll moves the booking to a later sailing; the ETD was {timezone.localtime(previous):%Y-%m-%d %H:%M}."
        )
    if not reason.strip():
        raise BookingError("Say why the carrier rolled the booking (e.g. vessel full, blank sailing).")
    cutoffs = {
        "documentation_cutoff_at": documentation_cutoff_at,
        "vgm_cutoff_at": vgm_cutoff_at,
        "cargo_cutoff_at": cargo_cutoff_at,
    }
    _check_times(departure_at, arrival_at, cutoffs)
    booking.original_departure_at = booking.original_departure_at or previous
    booking.roll_count += 1
    booking.status = BookingStatus.ROLLED
    old_arrival = booking.confirmed_arrival_at
    booking.confirmed_departure_at, booking.confirmed_arrival_at = departure_at, arrival_at
    delay = departure_at - previous if previous else datetime.timedelta(0)
    for key, value in cutoffs.items():
        old = getattr(booking, key)
        # cut-offs the carrier did not restate move with the sailing, so none stays on the old vessel's dates
        setattr(booking, key, value if value is not None else (old + delay if old else None))
    booking.save()
    _apply_sailing(
        main,
        departure_at=departure_at,
        arrival_at=arrival_at,
        conveyance={
            "vessel_name": vessel_name,
            "vessel_imo": vessel_imo,
            "voyage_number": voyage_number,
            "flight_number": flight_number,
        },
    )
    shift = arrival_at - old_arrival if old_arrival else datetime.timedelta(0)
    for leg in booking.shipment.legs.filter(sequence__gt=main.sequence, actual_departure_at__isnull=True):
        leg.planned_departure_at = leg.planned_departure_at + shift if leg.planned_departure_at else None
        leg.planned_arrival_at = leg.planned_arrival_at + shift if leg.planned_arrival_at else None
        leg.save(update_fields=["planned_departure_at", "planned_arrival_at"])
    _supersede_estimates(booking.shipment, departure_at=departure_at, arrival_at=arrival_at, by=by)
    transaction.on_commit(
        lambda: events.booking_rolled.send(
            sender=Booking,
            booking_id=booking.pk,
            shipment_id=booking.shipment_id,
            carrier_id=booking.carrier_id,
            previous_departure_at=previous,
            new_departure_at=departure_at,
            delay=delay,
            reason=reason.strip(),
        )
    )
    return booking


def _supersede_estimates(
    shipment: Shipment, *, departure_at: datetime.datetime, arrival_at: datetime.datetime, by: Any
) -> None:
    """The ETD/ETA reported for the sailing the roll replaced is no expectation any more: the new sailing's
    confirmed times become the current estimates (docs/planning.md, "A roll replaces the estimates")."""
    from tracking.ingest.estimates import estimates_supersede  # ingest builds on planning (following.py)

    houses = live_houses(shipment)
    order_ids = {house.order_id for house in houses if house.order_id is not None}
    if shipment.order_id is not None:
        order_ids.add(shipment.order_id)
    email = getattr(_by(by), "email", "")
    estimates_supersede(
        shipment_id=shipment.pk,
        house_ids=[house.pk for house in houses],
        order_ids=order_ids,
        times={"DEPARTED": departure_at, "ARRIVED": arrival_at},
        source=f"planning:{email}" if email else "planning",
    )


def cancel_problem(booking: Booking) -> str | None:
    """Why the booking cannot be cancelled now (its master moves), or None. The screens offer "Cancel booking"
    only when this is None."""
    if booking.status not in LIVE_BOOKING_STATUSES:
        return f"A booking that is {booking.get_status_display().lower()} cannot be cancelled."
    shipment = booking.shipment
    if shipment.status not in (ShipmentStatus.PLANNING, ShipmentStatus.BOOKED):
        return f"{shipment.reference} is {shipment.get_status_display().lower()}; the booking stays."
    return None


# The carrier's answers a booking awaits while it is to send or sent, and the word each refusal uses.
ANSWERED_AS = {"confirm": "confirmed", "reject": "rejected"}


def answer_problem(booking: Booking, *, action: str) -> str | None:
    """Why `action` (confirm, reject, roll or cancel) cannot be taken on the booking now, or None, in the words the
    service would refuse it with. The answer forms ask before they are filled in: an old link or the back button
    opened a form for a booking answered, rolled or cancelled since, refused only after it was typed in."""
    if action in ANSWERED_AS:
        if booking.status in (BookingStatus.REQUESTED, BookingStatus.SENT):
            return None
        return f"A booking that is {booking.get_status_display().lower()} cannot be {ANSWERED_AS[action]}."
    if action == "roll":
        return roll_problem(booking, _find_main_leg(booking.shipment))
    return cancel_problem(booking)


def roll_problem(booking: Booking, main: Leg | None) -> str | None:
    """Why the booking cannot be rolled now, or None: only a confirmed (or rolled) booking, before its sailing."""
    if booking.status not in CONFIRMED_BOOKING_STATUSES:
        return f"A booking that is {booking.get_status_display().lower()} cannot be rolled."
    if main is not None and main.actual_departure_at is not None:
        return (
            f"{booking.shipment.reference} departed on {timezone.localtime(main.actual_departure_at):%Y-%m-%d %H:%M}; "
            "a booking is rolled only before its sailing."
        )
    return None


@transaction.atomic
def booking_cancel(
    *, booking: Booking, reason: str, by: Any = None, scope: Scope | None = None, channel: str = Channel.SCREEN
) -> CancelOutcome:
    """Withdraw a booking before departure; the master goes back to planning, free for another carrier.

    A confirmed (or rolled) booking planned the master's orders: they go back to `confirmed` through the
    lifecycle (`unplan`, the reason given), since nothing books their cargo any more; orders the lifecycle does
    not let back (on hold) are reported, not forced. After commit: booking_cancelled, on which the workflow reopens
    the tasks the confirmation completed and tells their people, and exception detection resolves what was about
    this booking (a roll, a missed cut-off).
    """
    booking = _lock(booking)
    problem = cancel_problem(booking)
    if problem:
        raise BookingError(problem)
    if not reason.strip():
        raise BookingError("Say why the booking is cancelled (e.g. the shipper postponed, the sailing was blanked).")
    shipment = booking.shipment
    was_confirmed = booking.status in CONFIRMED_BOOKING_STATUSES
    booking.status, booking.cancelled_at = BookingStatus.CANCELLED, timezone.now()
    booking.cancel_reason = reason.strip()[:300]
    booking.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    _release_carrier(shipment)
    if shipment.status == ShipmentStatus.BOOKED:
        shipment_set_status(shipment=shipment, status=ShipmentStatus.PLANNING)
    outcome = CancelOutcome(booking)
    orders = _orders_on(shipment)
    if was_confirmed:
        number = f" {booking.carrier_reference}" if booking.carrier_reference else ""
        outcome.unplanned, outcome.not_unplanned = orders_unplan(
            orders=orders,
            scope=scope if scope is not None else scope_for_user(_by(by)),
            by=by,
            channel=channel,
            reason=f"Carrier booking{number} with {booking.carrier.name} cancelled: {booking.cancel_reason}",
            payload={"booking_id": booking.pk, "shipment": shipment.reference},
            held_note=f"Carrier booking{number} with {booking.carrier.name} cancelled while the order was on hold "
            f"({booking.cancel_reason}): {HELD_CARGO_UNBOOKED}; it goes back to confirmed when released",
        )
    order_ids, unplanned_ids = [order.pk for order in orders], [order.pk for order in outcome.unplanned]
    by_id = getattr(_by(by), "pk", None)
    transaction.on_commit(
        lambda: events.booking_cancelled.send(
            sender=Booking,
            booking_id=booking.pk,
            shipment_id=shipment.pk,
            carrier_id=booking.carrier_id,
            reason=booking.cancel_reason,
            order_ids=order_ids,
            unplanned_ids=unplanned_ids,
            by_id=by_id,
        )
    )
    return outcome
