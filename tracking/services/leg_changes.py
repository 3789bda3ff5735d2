"""Legs: adding, correcting and removing them, the shipment status they give, and the actual departures and
arrivals recorded by operations (docs/planning.md, "Correcting and removing legs").

Effects when a departure or arrival is recorded (tracking/events.py): `leg_actual_recording` in the transaction,
`leg_actual_recorded` after its commit. When a leg is added, its plan corrected (planned times, places, role) or
it is removed: `leg_plan_changed` after the commit.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from orders import history
from orders.models import Channel
from tracking import events
from tracking.errors import PlanningError
from tracking.models import (
    LIVE_BOOKING_STATUSES,
    OPEN_SHIPMENT_STATUSES,
    Booking,
    Leg,
    LegRole,
    Shipment,
    ShipmentKind,
    ShipmentStatus,
)

LEG_FIELDS = (
    "role",
    "mode",
    "carrier_id",
    "origin_id",
    "destination_id",
    "planned_departure_at",
    "planned_arrival_at",
    "vessel_name",
    "vessel_imo",
    "voyage_number",
    "flight_number",
    "truck_plate",
    "train_number",
)


def _check_leg_times(leg: Leg) -> None:
    if leg.planned_departure_at and leg.planned_arrival_at and leg.planned_arrival_at < leg.planned_departure_at:
        raise PlanningError("The planned arrival is before the planned departure.")


# The order legs travel in, whatever order they were added in: the goods go to the port, across, and on.
ROLE_ORDER: dict[str, int] = {
    LegRole.PRE_CARRIAGE: 0,
    LegRole.MAIN: 1,
    LegRole.ON_CARRIAGE: 2,
    LegRole.LAST_MILE: 3,
}
# Past the sequence numbers any shipment uses (a PositiveSmallIntegerField): where legs wait while renumbered.
_RESEQUENCE_OFFSET = 10_000


def legs_in_role_order(legs: list[Any]) -> list[Any]:
    """Legs (or anything with role and sequence) as they travel: pre-carriage, main carriage, on-carriage, last
    mile; legs of one role in the order they were added."""
    return sorted(legs, key=lambda leg: (ROLE_ORDER.get(leg.role, len(ROLE_ORDER)), leg.sequence))


def _resequence(shipment_id: int) -> None:
    """Number the shipment's legs 1, 2, 3… in role order. The caller holds the shipment's lock. In two steps, so
    that no two legs hold one number at any moment (the unique constraint is checked row by row)."""
    legs = list(Leg.objects.filter(shipment_id=shipment_id).only("pk", "role", "sequence"))
    wanted = {leg.pk: number for number, leg in enumerate(legs_in_role_order(legs), start=1)}
    if all(leg.sequence == wanted[leg.pk] for leg in legs):
        return
    Leg.objects.filter(shipment_id=shipment_id).update(sequence=F("sequence") + _RESEQUENCE_OFFSET)
    for leg in legs:
        Leg.objects.filter(pk=leg.pk).update(sequence=wanted[leg.pk])


# What of a leg's plan exception detection judges (the overdue milestone, the slip of an estimate, which leg is
# the main carriage): a change to any of these is sent as leg_plan_changed. A corrected vessel name is not.
PLAN_FIELDS = frozenset({"role", "origin_id", "destination_id", "planned_departure_at", "planned_arrival_at"})


def _plan_changed_on_commit(*, leg_id: int, shipment_id: int, change: str, fields: list[str], by: Any) -> None:
    """Send leg_plan_changed once the change is committed (exception detection then judges the new plan)."""
    by_id = getattr(by, "pk", None)
    transaction.on_commit(
        lambda: events.leg_plan_changed.send(
            sender=Leg, leg_id=leg_id, shipment_id=shipment_id, change=change, fields=fields, by_id=by_id
        )
    )


def _history(by: Any) -> Any:
    """The history context of a leg's change (tracking.LegEvent): who made it. Without `by`, the change is recorded
    under the context already open (a request's user, from pghistory's middleware), or none (the system)."""
    by_id = getattr(by, "pk", None)
    return history.write_context(user=by_id, channel=Channel.SCREEN) if by_id else contextlib.nullcontext()


@transaction.atomic
def leg_add(*, shipment: Shipment, data: Mapping[str, Any], by: Any = None) -> Leg:
    """Add a leg to the shipment in its place: legs are kept in role order (pre-carriage, main carriage,
    on-carriage, last mile), so a pre-carriage added after the main carriage comes before it. Refused
    (PlanningError) on a delivered or cancelled shipment, whose legs stay as they were (legs_change_problem)."""
    with _history(by):
        locked = Shipment.objects.select_for_update().get(pk=shipment.pk)  # sequence numbers, one at a time
        problem = legs_change_problem(locked)
        if problem:
            raise PlanningError(problem)
        last = shipment.legs.order_by("-sequence").values_list("sequence", flat=True).first() or 0
        leg = Leg(shipment=shipment, sequence=last + 1, **{k: v for k, v in data.items() if k in LEG_FIELDS})
        leg.mode = leg.mode or shipment.mode
        _check_leg_times(leg)
        leg.save()
        _resequence(shipment.pk)
        leg.refresh_from_db(fields=["sequence"])
    planned = sorted(key for key in PLAN_FIELDS if getattr(leg, key) not in (None, ""))
    _plan_changed_on_commit(leg_id=leg.pk, shipment_id=shipment.pk, change="added", fields=planned, by=by)
    return leg


# --- correcting and removing legs (docs/planning.md, "Correcting and removing legs") -----------------------------

# What a leg's departure fixes: the departure event was recorded at its origin, by its carrier, as its role's
# milestone, and the carrier's on-time record compares it with the planned departure.
FIXED_ONCE_DEPARTED = ("role", "mode", "carrier_id", "origin_id", "planned_departure_at")
# ... and its arrival: where and against what plan it arrived.
FIXED_ONCE_ARRIVED = (*FIXED_ONCE_DEPARTED, "destination_id", "planned_arrival_at")
# What a carrier's confirmation stated about the booked leg (booking.booking_confirm, booking_roll): the carrier,
# the ports, the sailing and its ETD/ETA. Changed by a roll or by cancelling the booking, never by a correction.
CONFIRMED_BY_CARRIER = tuple(field for field in LEG_FIELDS if field not in ("truck_plate", "train_number"))
# Shipments whose legs are a closed record.
CLOSED_SHIPMENT_STATUSES = (ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED)
FIELD_LABELS = {
    "role": "role",
    "mode": "mode",
    "carrier_id": "carrier",
    "origin_id": "origin",
    "destination_id": "destination",
    "planned_departure_at": "planned departure",
    "planned_arrival_at": "planned arrival",
    "vessel_name": "vessel",
    "vessel_imo": "IMO number",
    "voyage_number": "voyage",
    "flight_number": "flight",
}


def _live_booking(shipment: Shipment) -> Booking | None:
    """The shipment's live booking (uses `booking_history` when the selector prefetched it)."""
    prefetched = getattr(shipment, "booking_history", None)
    if prefetched is not None:
        return next((b for b in prefetched if b.status in LIVE_BOOKING_STATUSES), None)
    return shipment.bookings.filter(status__in=LIVE_BOOKING_STATUSES).select_related("carrier").first()


def _booked_leg_id(legs: list[Leg]) -> int | None:
    """The leg a booking's confirmation and rolls write to (booking._main_leg): the first main carriage, else the
    first leg."""
    ordered = sorted(legs, key=lambda leg: leg.sequence)
    main = next((leg for leg in ordered if leg.role == LegRole.MAIN), ordered[0] if ordered else None)
    return main.pk if main is not None else None


def leg_fixed_fields(leg: Leg, *, shipment: Shipment, legs: list[Leg]) -> dict[str, str]:
    """The fields of the leg a correction may not change, each with why; `legs` are the shipment's legs (the
    screens pass the prefetched ones: no query but the booking's when not prefetched). The edit form shows these
    fields disabled with the reasons, and leg_update refuses a change to any of them."""
    fixed: dict[str, str] = {}
    booking = _live_booking(shipment) if shipment.kind == ShipmentKind.MASTER else None
    if booking is not None and booking.is_confirmed and leg.pk == _booked_leg_id(legs):
        number = f" (confirmation {booking.carrier_reference})" if booking.carrier_reference else ""
        why = (
            f"Booked with {booking.carrier.name}{number}: the carrier, ports, sailing and times are what "
            f"{booking.carrier.name} confirmed. Record a roll if the carrier moved the booking, or cancel the booking "
            "to book another carrier or sailing."
        )
        fixed |= dict.fromkeys(CONFIRMED_BY_CARRIER, why)
    elif booking is not None and leg.pk == _booked_leg_id(legs):
        why = (
            f"The booking request is with {booking.carrier.name} ({booking.get_status_display().lower()}): record its "
            "rejection or cancel it to choose another carrier."
        )
        fixed |= {"carrier_id": why, "role": why}
    if leg.actual_arrival_at is not None:
        why = "The leg has arrived: where and against what plan it travelled is on record (tracking events)."
        fixed |= {name: why for name in FIXED_ONCE_ARRIVED if name not in fixed}
    elif leg.actual_departure_at is not None:
        why = "The leg has departed: where it left from, by whom and against what plan is on record (tracking events)."
        fixed |= {name: why for name in FIXED_ONCE_DEPARTED if name not in fixed}
    return fixed


def legs_change_problem(shipment: Shipment) -> str | None:
    """Why no leg of the shipment may be corrected or removed now, or None."""
    if shipment.status in CLOSED_SHIPMENT_STATUSES:
        return f"{shipment.reference} is {shipment.get_status_display().lower()}; its legs stay as they were."
    return None


def leg_remove_problem(leg: Leg, *, shipment: Shipment, legs: list[Leg]) -> str | None:
    """Why the leg may not be removed, or None. The screens offer "Remove" only when this is None."""
    problem = legs_change_problem(shipment)
    if problem:
        return problem
    if leg.actual_departure_at is not None or leg.actual_arrival_at is not None:
        return "This leg has departed; it stays on record (its actual times come from tracking events)."
    booking = _live_booking(shipment) if shipment.kind == ShipmentKind.MASTER else None
    if booking is not None and leg.pk == _booked_leg_id(legs):
        return (
            f"This leg is the one booked with {booking.carrier.name} ({booking.get_status_display().lower()}); "
            "cancel the booking first."
        )
    if leg.role == LegRole.MAIN and _only_main(leg, shipment=shipment, legs=legs):
        return (
            f"This is the only main carriage of {shipment.reference}; a shipment travels on one. Correct it "
            "(Edit) instead, or add the right main carriage first."
        )
    return None


def _only_main(leg: Leg, *, shipment: Shipment, legs: list[Leg]) -> bool:
    """Whether the leg is its master's only main carriage (a house travels on its master's)."""
    others = (other for other in legs if other.pk != leg.pk)
    return shipment.kind == ShipmentKind.MASTER and not any(other.role == LegRole.MAIN for other in others)


def _lock_leg(leg: Leg) -> tuple[Shipment, Leg, list[Leg]]:
    """The shipment locked (sequence numbers and the leg rules are decided one change at a time), the leg and the
    shipment's legs as they are now."""
    shipment = Shipment.objects.select_for_update().get(pk=leg.shipment_id)
    legs = list(Leg.objects.filter(shipment_id=shipment.pk).order_by("sequence"))
    current = next((other for other in legs if other.pk == leg.pk), None)
    if current is None:
        raise PlanningError("This leg was removed meanwhile; reload the page.")
    return shipment, current, legs


def _names(keys: list[str]) -> str:
    """ "carrier", "carrier and vessel", "carrier, vessel and voyage"."""
    names = [FIELD_LABELS.get(key, key) for key in keys]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@transaction.atomic
def leg_update(*, leg: Leg, data: Mapping[str, Any], by: Any = None) -> Leg:
    """Correct a leg's plan: role, places, carrier, planned times, conveyance (a new role moves it to its place).

    Actual times are never changed here (they come from tracking events and the execution screen). Refused
    (PlanningError): a shipment delivered or cancelled; a change to what the carrier confirmed on the booked leg,
    or to what the leg's departure or arrival fixed (leg_fixed_fields); taking the role away from a master's
    only main carriage."""
    with _history(by):
        shipment, leg, legs = _lock_leg(leg)
        problem = legs_change_problem(shipment)
        if problem:
            raise PlanningError(problem)
        fixed = leg_fixed_fields(leg, shipment=shipment, legs=legs)
        role = leg.role
        changed = [key for key, value in data.items() if key in LEG_FIELDS and getattr(leg, key) != value]
        refused = [key for key in changed if key in fixed]
        if refused:
            raise PlanningError(f"The {_names(refused)} of this leg cannot be changed here. {fixed[refused[0]]}")
        for key in changed:
            setattr(leg, key, data[key])
        if role == LegRole.MAIN and leg.role != LegRole.MAIN and _only_main(leg, shipment=shipment, legs=legs):
            raise PlanningError(
                f"This is the only main carriage of {shipment.reference}; a shipment travels on one. Add the right "
                "main carriage first, then change this leg's role."
            )
        _check_leg_times(leg)
        if leg.role != role:  # it joins its new role's legs last, as if added now
            leg.sequence = max(other.sequence for other in legs) + 1
        leg.save()
        _resequence(leg.shipment_id)
        leg.refresh_from_db(fields=["sequence"])
    replanned = sorted(key for key in changed if key in PLAN_FIELDS)
    if replanned:
        _plan_changed_on_commit(leg_id=leg.pk, shipment_id=shipment.pk, change="changed", fields=replanned, by=by)
    return leg


@transaction.atomic
def leg_remove(*, leg: Leg, by: Any = None) -> None:
    """Remove a leg planned by mistake; the others keep role order, numbered 1, 2, 3… (leg_remove_problem says
    what is refused). Tracking events that named the leg keep their place on the timeline, without the leg."""
    with _history(by):
        shipment, leg, legs = _lock_leg(leg)
        problem = leg_remove_problem(leg, shipment=shipment, legs=legs)
        if problem:
            raise PlanningError(problem)
        leg_id = leg.pk
        leg.delete()
        _resequence(shipment.pk)
    _plan_changed_on_commit(leg_id=leg_id, shipment_id=shipment.pk, change="removed", fields=[], by=by)


# How far a shipment has come; its legs only ever move it forward.
_PROGRESS: dict[str, int] = {ShipmentStatus.IN_TRANSIT: 1, ShipmentStatus.ARRIVED: 2, ShipmentStatus.DELIVERED: 3}


def _status_from_legs(shipment: Shipment) -> str:
    """In transit once the goods left with any leg (a pre-carriage pickup too: the lifecycle's `depart` is "picked
    up or left origin"); arrived once the main carriage arrived at its destination. A pre-carriage reaching the
    port, or an on-carriage moving on, is not the shipment arriving (a delivery by the last leg reaches it through
    its DELIVERED milestone). Never backwards: an arrived house whose on-carriage leaves stays arrived."""
    legs = list(shipment.legs.order_by("sequence"))
    main = next((leg for leg in legs if leg.role == LegRole.MAIN), None)
    if main is not None and main.actual_arrival_at:
        status = ShipmentStatus.ARRIVED
    elif any(leg.actual_departure_at for leg in legs):
        status = ShipmentStatus.IN_TRANSIT
    else:
        return shipment.status
    return status if _PROGRESS[status] > _PROGRESS.get(shipment.status, 0) else shipment.status


def shipment_set_status(*, shipment: Shipment, status: str) -> None:
    """Set a master's status and carry it to its live houses (a house travels as its master does), except those
    already delivered or cancelled: a groupage truck's first drop stays delivered when the truck is reported
    arrived at its last stop."""
    Shipment.objects.filter(pk=shipment.pk).update(status=status, updated_at=timezone.now())
    if shipment.kind == ShipmentKind.MASTER:
        Shipment.objects.filter(
            consolidations__master=shipment,
            consolidations__removed_at__isnull=True,
            consolidations__deconsolidated_at__isnull=True,
        ).exclude(status__in=CLOSED_SHIPMENT_STATUSES).update(status=status, updated_at=timezone.now())
    shipment.status = status


@transaction.atomic
def leg_record_actual(
    *,
    leg: Leg,
    departed_at: datetime.datetime | None = None,
    arrived_at: datetime.datetime | None = None,
    by: Any = None,
) -> Leg:
    """Record when a leg really departed and/or arrived: leg_actual_recording per time in this transaction (the
    milestone event is recorded with it), leg_actual_recorded per time after its commit.

    The shipment follows (_status_from_legs): in transit after its first departure, arrived after its main
    carriage arrives. The milestone each time stands for depends on the leg's role (tracking.ingest.following:
    a pre-carriage's departure is PICKED_UP, its arrival RECEIVED_AT_ORIGIN, and so on).
    """
    leg = Leg.objects.select_for_update().select_related("shipment").get(pk=leg.pk)
    now = timezone.now()
    recorded: list[tuple[str, datetime.datetime]] = []
    if departed_at is not None:
        if departed_at > now + datetime.timedelta(minutes=5):
            raise PlanningError("A departure cannot be recorded in the future.")
        if arrived_at is None and leg.actual_arrival_at is not None and departed_at > leg.actual_arrival_at:
            arrival = timezone.localtime(leg.actual_arrival_at)
            raise PlanningError(
                f"The departure is after the recorded arrival ({arrival:%Y-%m-%d %H:%M}); correct both."
            )
        leg.actual_departure_at = departed_at
        recorded.append(("departure", departed_at))
    if arrived_at is not None:
        if arrived_at > now + datetime.timedelta(minutes=5):
            raise PlanningError("An arrival cannot be recorded in the future.")
        if leg.actual_departure_at is None:
            raise PlanningError("Record the departure of this leg before its arrival.")
        if arrived_at < leg.actual_departure_at:
            raise PlanningError("The arrival is before the recorded departure.")
        leg.actual_arrival_at = arrived_at
        recorded.append(("arrival", arrived_at))
    if not recorded:
        raise PlanningError("Give a departure or an arrival time.")
    leg.save(update_fields=["actual_departure_at", "actual_arrival_at"])
    shipment = leg.shipment
    status = _status_from_legs(shipment)
    if status != shipment.status and shipment.status in OPEN_SHIPMENT_STATUSES:
        shipment_set_status(shipment=shipment, status=status)
    by_id = getattr(by, "pk", None)
    for kind, at in recorded:
        events.leg_actual_recording.send(
            sender=Leg, leg_id=leg.pk, shipment_id=shipment.pk, kind=kind, at=at, by_id=by_id
        )  # in this transaction: the milestone event commits with the leg's time

        def recorded_after_commit(kind: str = kind, at: datetime.datetime = at) -> None:
            events.leg_actual_recorded.send(
                sender=Leg, leg_id=leg.pk, shipment_id=shipment.pk, kind=kind, at=at, by_id=by_id
            )

        transaction.on_commit(recorded_after_commit)
    return leg
