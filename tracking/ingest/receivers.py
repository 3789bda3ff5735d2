"""What tracking events react to (connect() is called from TrackingConfig.ready(); see the report):

- tracking.events.leg_actual_recording (planning's execution screen records a departure or arrival; sent in
  its transaction) → the same fact as an event on the timeline, in that transaction, unless an event already
  says so (our own ingest records leg actuals too, so this is how the two never echo each other). The leg's
  time and its event commit together. The milestone is the leg's own (following.leg_milestone): DEPARTED and
  ARRIVED for the main carriage only; a pre-carriage's are PICKED_UP and RECEIVED_AT_ORIGIN, an on-carriage's
  OUT_FOR_DELIVERY and DELIVERED (AVAILABLE when it is not the last leg or carries several orders).
- tracking.events.booking_confirmed_recording (a carrier's confirmation recorded; sent in its transaction) →
  BOOKING_CONFIRMED on the master's timeline (every order on it), in that transaction; and, after the commit, the
  events held for the carrier's booking reference before it was known are attached (relinking).
- orders.events.order_status_changed, when an order is planned or released from hold
  → catch it up with the events that arrived while it could not move (tasks.sync_order_status). Only a wake-up:
  a broker that cannot take the task is logged, never the user's error (the transition is committed), and the
  beat's `catch_up_orders` (every five minutes) syncs every planned or moving order that is behind its events.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import KombuError

from orders import events as order_events
from partners.models import User
from tracking import events as planning_events
from tracking.ingest import recording, relinking, services
from tracking.ingest.following import ANY_LEG_MILESTONES, leg_milestone
from tracking.ingest.models import Classifier, SourceKind, SubjectType, TrackingEvent
from tracking.models import Booking, ConsolidatedHouse, Leg, Shipment, ShipmentKind

logger = logging.getLogger(__name__)
KINDS = frozenset({"departure", "arrival"})
CATCH_UP_TRANSITIONS = frozenset({"plan", "release"})


def _carries_one_order(leg: Leg) -> bool:
    """Whether the leg's shipment carries one order's goods (a house, or a master with one house on it)."""
    shipment = leg.shipment
    if shipment.kind != ShipmentKind.MASTER:
        return True
    return ConsolidatedHouse.objects.filter(master=shipment, removed_at__isnull=True).count() <= 1


def milestone_of_leg(leg: Leg, kind: str) -> str:
    """The milestone the leg's departure or arrival (`kind`) is (following.leg_milestone)."""
    last = leg.shipment.legs.order_by("-sequence").values_list("pk", flat=True).first()
    return leg_milestone(kind=kind, role=leg.role, is_last=last == leg.pk, single_order=_carries_one_order(leg))


def leg_actual_to_event(*, leg_id: int, kind: str, at: Any, by_id: int | None) -> TrackingEvent | None:
    """Record planning's actual departure or arrival as an event (the leg's own milestone), once."""
    leg = Leg.objects.select_related("shipment").filter(pk=leg_id).first()
    if kind not in KINDS or leg is None:
        return None
    same_moment = [code for code, moment in ANY_LEG_MILESTONES.items() if moment == kind]  # DEPARTED, PICKED_UP …
    if TrackingEvent.objects.filter(
        leg=leg, milestone_id__in=same_moment, classifier=Classifier.ACTUAL, event_at=at
    ).exists():
        return None  # an event said so first (our own ingest records leg times too): nothing to echo
    milestone = milestone_of_leg(leg, kind)
    by = User.objects.filter(pk=by_id).first() if by_id else None
    source = services.Source(kind=SourceKind.PLANNING, name=getattr(by, "email", "")[:50], by=by)
    place = leg.origin_id if kind == "departure" else leg.destination_id
    try:
        return recording.event_record(
            milestone=milestone,
            occurred_at=at,
            source=source,
            location=place,
            subject=(SubjectType.SHIPMENT, leg.shipment.reference),
        )
    except services.TrackingError as exc:
        logger.info("tracking: leg %s %s not recorded as an event: %s", leg_id, kind, exc)
        return None


def _leg_actual_recorded(
    sender: Any, *, leg_id: int, kind: str, at: Any, by_id: int | None = None, **kwargs: Any
) -> None:
    leg_actual_to_event(leg_id=leg_id, kind=kind, at=at, by_id=by_id)


def booking_confirmed_to_event(*, shipment_id: int, at: Any, by_id: int | None) -> TrackingEvent | None:
    """Record the carrier's confirmation of the master's booking as BOOKING_CONFIRMED on its timeline (and so on
    every order's on it). No place: a booking happens at no port. A refusal (the milestone switched off) is
    logged: the confirmation stands without it."""
    reference = Shipment.objects.filter(pk=shipment_id).values_list("reference", flat=True).first()
    if reference is None or at is None:
        return None
    by = User.objects.filter(pk=by_id).first() if by_id else None
    source = services.Source(kind=SourceKind.PLANNING, name=getattr(by, "email", "")[:50], by=by)
    try:
        return recording.event_record(
            milestone="BOOKING_CONFIRMED", occurred_at=at, source=source, subject=(SubjectType.SHIPMENT, reference)
        )
    except services.TrackingError as exc:
        logger.info("tracking: the booking confirmation of %s not recorded as an event: %s", reference, exc)
        return None


def _booking_confirmed_recording(
    sender: Any, *, shipment_id: int, at: Any, by_id: int | None = None, **kwargs: Any
) -> None:
    booking_confirmed_to_event(shipment_id=shipment_id, at=at, by_id=by_id)


def _booking_reference_recorded(sender: Any, *, booking_id: int, **kwargs: Any) -> None:
    reference = Booking.objects.filter(pk=booking_id).values_list("carrier_reference", flat=True).first()
    if reference:
        relinking.events_relink_on_commit(references=[(SubjectType.BOOKING, reference)])


def _order_status_changed(sender: Any, *, order_id: int, transition: str, **kwargs: Any) -> None:
    if transition in CATCH_UP_TRANSITIONS:
        transaction.on_commit(lambda: _queue_order_status_sync(order_id))


def _queue_order_status_sync(order_id: int) -> None:
    """The transition is committed when this runs (a screen's release or plan, a booking's confirmation): a broker
    that cannot take the task must not answer that request with an error. Nothing is lost: the beat's
    `catch_up_orders` finds the order behind its actual events and syncs it within five minutes."""
    from tracking.ingest import tasks

    try:
        tasks.sync_order_status.apply_async(args=[order_id], queue=tasks.QUEUE)
    except KombuError:
        logger.warning(
            "Could not queue the status sync of order %s; the beat's catch_up_orders will", order_id, exc_info=True
        )


def connect() -> None:
    """Connect the receivers (idempotent: dispatch_uid)."""
    planning_events.leg_actual_recording.connect(_leg_actual_recorded, dispatch_uid="tracking.ingest.leg_actual")
    planning_events.booking_confirmed_recording.connect(
        _booking_confirmed_recording, dispatch_uid="tracking.ingest.booking_confirmed"
    )
    planning_events.booking_confirmed_recording.connect(
        _booking_reference_recorded, dispatch_uid="tracking.ingest.booking_reference"
    )
    order_events.order_status_changed.connect(_order_status_changed, dispatch_uid="tracking.ingest.order_status")
