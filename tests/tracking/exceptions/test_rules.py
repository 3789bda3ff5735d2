"""Each rule opens its exception when its condition holds beyond the threshold, not within it, and the
self-resolving ones close by themselves (saying what cleared them) when the awaited event arrives."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from tests.tracking.test_ingest_support import ETA, ETD, NOW, dcsa_event, oms_event
from tracking.exceptions import rules
from tracking.exceptions.models import ExceptionKind, ExceptionRule, ShipmentException
from tracking.exceptions.services import handling
from tracking.models import Booking, Leg, LegRole
from tracking.services import booking as booking_services

from .conftest import H, detect, ingest, open_exceptions

K = ExceptionKind


def main_leg(master):
    return Leg.objects.get(shipment=master, role=LegRole.MAIN)


def departed(at=ETD):
    return dcsa_event("TRANSPORT", "DEPA", at, place="CNSHA")


def arrived(at):
    return dcsa_event("TRANSPORT", "ARRI", at, place="DEHAM")


def test_a_vessel_at_sea_is_not_silent_before_it_is_due(booked_fcl):
    order, master = booked_fcl
    ExceptionRule.objects.create(kind=K.NO_MOVEMENT, customer=order.customer, threshold_hours=Decimal(100))
    ingest(departed(NOW - 8 * 24 * H))  # eight days at sea, due in 24 days: silence is expected
    detect(master)
    assert not open_exceptions(master, K.NO_MOVEMENT)


def test_a_departure_overdue_against_plan_opens_an_exception(booked_fcl):
    order, master = booked_fcl
    outcome = detect(master)
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert outcome.opened == [exception.pk]
    assert exception.milestone == "DEPARTED"
    assert exception.leg == main_leg(master)
    assert exception.order == order
    assert exception.customer_id == order.customer_id
    assert exception.expected_at == ETD
    assert "overdue" in exception.detail
    assert exception.entries.get().verb == "opened"


def test_a_departure_late_within_the_threshold_opens_nothing(booked_fcl):
    _, master = booked_fcl
    Leg.objects.filter(shipment=master).update(planned_departure_at=NOW - 10 * H)  # ocean: 24 h
    detect(master)
    assert not open_exceptions(master)


def test_the_late_departure_arriving_resolves_the_exception_by_itself(booked_fcl):
    _, master = booked_fcl
    detect(master)
    ingest(departed())
    outcome = detect(master)
    exception = ShipmentException.objects.get(kind=K.MILESTONE_OVERDUE)
    assert outcome.resolved == [exception.pk]
    assert exception.status == "resolved"
    assert exception.is_auto_resolved
    assert exception.resolved_by is None
    assert exception.resolution_note.startswith("Departure recorded")
    assert [entry.verb for entry in exception.entries.all()] == ["opened", "auto_resolved"]


def test_an_arrival_overdue_opens_once_the_leg_has_departed(booked_fcl):
    _, master = booked_fcl
    ingest(departed())
    Leg.objects.filter(shipment=master).update(planned_arrival_at=NOW - 30 * H)
    detect(master)
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert exception.milestone == "ARRIVED"


def test_departure_overdue_resolves_when_the_departure_arrives_even_if_the_arrival_is_late_too(booked_fcl):
    _, master = booked_fcl
    Leg.objects.filter(shipment=master).update(planned_arrival_at=NOW - 30 * H)  # ocean threshold: 24 h
    detect(master)
    [departure] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert departure.milestone == "DEPARTED"

    ingest(departed(ETD + 2 * H))  # the late departure is reported; the arrival is overdue by now as well
    outcome = detect(master)

    departure.refresh_from_db()
    assert departure.status == "resolved"
    assert departure.is_auto_resolved
    assert departure.resolution_note.startswith("Departure recorded")
    [arrival] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert arrival.milestone == "ARRIVED"
    assert arrival.expected_at == NOW - 30 * H
    assert departure.pk in outcome.resolved
    assert arrival.pk in outcome.opened


def test_an_eta_slipping_beyond_the_threshold_opens_an_exception(booked_fcl):
    _, master = booked_fcl
    ingest(departed(), dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM"))
    detect(master)
    [exception] = open_exceptions(master, K.ETA_DELAY)
    assert exception.expected_at == ETA
    assert exception.observed_at == ETA + 30 * H
    assert exception.source_event_ids
    assert exception.canonical_reason == "eta_slip"


def test_an_eta_slipping_within_the_threshold_opens_nothing(booked_fcl):
    _, master = booked_fcl
    ingest(departed(), dcsa_event("TRANSPORT", "ARRI", ETA + 10 * H, classifier="EST", place="DEHAM"))
    detect(master)
    assert not open_exceptions(master, K.ETA_DELAY)


def test_an_eta_back_on_plan_resolves_the_delay(booked_fcl):
    _, master = booked_fcl
    ingest(departed(), dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM",
                                  created=NOW - 2 * H))  # fmt: skip
    detect(master)
    ingest(dcsa_event("TRANSPORT", "ARRI", ETA + 2 * H, classifier="EST", place="DEHAM", created=NOW - H))
    detect(master)
    exception = ShipmentException.objects.get(kind=K.ETA_DELAY)
    assert exception.status == "resolved"
    assert "back within the threshold" in exception.resolution_note


def test_eta_delay_shows_the_latest_estimate_after_a_further_slip(booked_fcl):
    _, master = booked_fcl
    ingest(departed(), dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM",
                                  created=NOW - 2 * H))  # fmt: skip
    detect(master)
    [exception] = open_exceptions(master, K.ETA_DELAY)
    assert exception.observed_at == ETA + 30 * H
    first_source = exception.source_event_ids

    ingest(dcsa_event("TRANSPORT", "ARRI", ETA + 120 * H, classifier="EST", place="DEHAM", created=NOW - H))
    outcome = detect(master)

    [same] = open_exceptions(master, K.ETA_DELAY)
    assert same.pk == exception.pk
    assert outcome.updated == [exception.pk]
    assert same.observed_at == ETA + 120 * H
    assert "5 d later than planned" in same.detail
    assert same.source_event_ids != first_source
    assert [(entry.verb, entry.text) for entry in same.entries.all()] == [
        ("opened", exception.detail), ("updated", same.detail)
    ]  # fmt: skip
    assert detect(master).updated == []  # nothing new: nothing written


def test_an_open_exception_takes_the_severity_of_its_edited_rule_without_a_history_row(booked_fcl):
    _, master = booked_fcl
    detect(master)
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    ExceptionRule.objects.filter(pk=exception.rule_id).update(severity=4)
    rules._cache.clear()
    detect(master)
    exception.refresh_from_db()
    assert exception.severity == 4
    assert [entry.verb for entry in exception.entries.all()] == ["opened"]


def test_a_customer_rule_beats_the_mode_rule_for_silence(booked_fcl):
    order, master = booked_fcl
    ingest(departed(NOW - 8 * 24 * H), arrived(NOW - 6 * 24 * H))  # 144 h silent: fine (240 h), not for ACME
    detect(master)
    assert not open_exceptions(master, K.NO_MOVEMENT)
    ExceptionRule.objects.create(kind=K.NO_MOVEMENT, customer=order.customer, threshold_hours=Decimal(100))
    detect(master)
    [exception] = open_exceptions(master, K.NO_MOVEMENT)
    assert exception.observed_at == NOW - 6 * 24 * H


def test_a_new_event_ends_the_silence(booked_fcl):
    order, master = booked_fcl
    ExceptionRule.objects.create(kind=K.NO_MOVEMENT, customer=order.customer, threshold_hours=Decimal(100))
    ingest(departed(NOW - 8 * 24 * H), arrived(NOW - 6 * 24 * H))
    detect(master)
    ingest(dcsa_event("EQUIPMENT", "DISC", NOW - H, place="DEHAM"))
    detect(master)
    exception = ShipmentException.objects.get(kind=K.NO_MOVEMENT)
    assert exception.status == "resolved"
    assert exception.resolution_note.startswith("Not silent any more")


def test_a_customs_hold_opens_and_the_release_closes_it(booked_fcl):
    _, master = booked_fcl
    ingest(departed(), dcsa_event("SHIPMENT", "HOLD", NOW - 3 * H, document="CUS", created=NOW - 3 * H))
    detect(master)
    [exception] = open_exceptions(master, K.CUSTOMS_HOLD)
    assert exception.carrier_reason_code == "dcsa:SHIPMENT:CUS:HOLD"
    assert exception.canonical_reason == "customs_hold"
    ingest(dcsa_event("SHIPMENT", "RELS", NOW - H, document="CUS", created=NOW - H))
    detect(master)
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert exception.resolution_note.startswith("Import cleared on")


def test_a_customs_hold_younger_than_the_threshold_waits(booked_fcl):
    _, master = booked_fcl
    ExceptionRule.objects.filter(kind=K.CUSTOMS_HOLD).update(threshold_hours=Decimal(12))
    ingest(departed(), dcsa_event("SHIPMENT", "HOLD", NOW - 3 * H, document="CUS", created=NOW - 3 * H))
    detect(master)
    assert not open_exceptions(master, K.CUSTOMS_HOLD)
    detect(master, now=timezone.now() + 10 * H)
    assert open_exceptions(master, K.CUSTOMS_HOLD)


def test_a_carrier_hold_for_documents_or_payment_is_its_own_kind_and_clears_on_release(booked_fcl):
    _, master = booked_fcl
    ingest(departed(), dcsa_event("SHIPMENT", "HOLD", NOW - 3 * H, document="SRM", created=NOW - 3 * H))
    detect(master)
    [exception] = open_exceptions(master, K.CARRIER_HOLD)
    assert exception.canonical_reason == "carrier_release_withheld"
    assert not open_exceptions(master, K.CUSTOMS_HOLD)
    ingest(dcsa_event("SHIPMENT", "RELS", NOW - H, document="SRM", created=NOW - H))
    detect(master)
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert exception.resolution_note.startswith("Available on")


def road(code, at, **extra):
    return oms_event("", at, subject=("bill", "CMR-1"), code=code, scheme="karrio", **extra)


def test_a_failed_delivery_opens_and_the_delivery_closes_it(booked_road):
    _, master = booked_road
    ingest(road("picked_up", ETD, place="DEHAM"), road("delivery_failed", NOW - 5 * H, place="PLWAW"))
    detect(master)
    [exception] = open_exceptions(master, K.FAILED_DELIVERY)
    assert exception.carrier_reason_code.startswith("karrio:DELIVERY_FAILED")
    ingest(road("delivered", NOW - H, place="PLWAW"))
    detect(master)
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert exception.is_auto_resolved


def test_a_second_failed_delivery_after_the_first_was_resolved_by_hand_opens_a_new_exception(booked_road, ops_user):
    _, master = booked_road
    ingest(road("picked_up", ETD, place="DEHAM"), road("delivery_failed", NOW - 30 * H, place="PLWAW"))
    detect(master)
    [first] = open_exceptions(master, K.FAILED_DELIVERY)
    handling.exception_resolve(exception=first, by=ops_user, root_cause="consignee", note="Redelivery booked")
    detect(master)
    assert not open_exceptions(master, K.FAILED_DELIVERY)  # the same attempt does not reopen it

    ingest(road("delivery_failed", NOW - 2 * H, place="PLWAW"))  # the redelivery fails too: a new failure
    detect(master)

    [second] = open_exceptions(master, K.FAILED_DELIVERY)
    assert second.pk != first.pk
    assert second.observed_at == NOW - 2 * H
    assert "(2 attempts)" in second.detail


def test_a_failed_delivery_closed_by_hand_after_a_second_attempt_is_not_reopened_for_it(booked_road, ops_user):
    _, master = booked_road
    ingest(road("picked_up", ETD, place="DEHAM"), road("delivery_failed", NOW - 30 * H, place="PLWAW"))
    detect(master)
    ingest(road("delivery_failed", NOW - 2 * H, place="PLWAW"))
    detect(master)
    [exception] = open_exceptions(master, K.FAILED_DELIVERY)  # still the one exception, telling the latest
    assert exception.observed_at == NOW - 2 * H

    handling.exception_resolve(exception=exception, by=ops_user, root_cause="consignee", note="Customer collects")
    detect(master)
    assert not open_exceptions(master, K.FAILED_DELIVERY)


def test_a_hold_reported_again_is_the_same_hold_a_person_closed_until_a_release(booked_fcl, ops_user):
    _, master = booked_fcl
    ingest(departed(), oms_event("CUSTOMS_HOLD", NOW - 9 * H))
    detect(master)
    [exception] = open_exceptions(master, K.CUSTOMS_HOLD)
    handling.exception_resolve(exception=exception, by=ops_user, root_cause="customs", note="Broker has it")

    ingest(oms_event("CUSTOMS_HOLD", NOW - 5 * H))  # the carrier repeats the status
    detect(master)
    assert not open_exceptions(master, K.CUSTOMS_HOLD)

    ingest(oms_event("IMPORT_CLEARED", NOW - 4 * H), oms_event("CUSTOMS_HOLD", NOW - 2 * H))  # a new hold
    detect(master)
    assert open_exceptions(master, K.CUSTOMS_HOLD)


def test_a_return_to_sender_stays_open_until_a_person_closes_it(booked_road):
    _, master = booked_road
    ingest(road("picked_up", ETD, place="DEHAM"), road("return_to_sender", NOW - 5 * H, place="PLWAW"))
    detect(master)
    [exception] = open_exceptions(master, K.RETURNED_TO_SENDER)
    detect(master, now=timezone.now() + 48 * H)
    assert open_exceptions(master, K.RETURNED_TO_SENDER) == [exception]


def test_damage_reported_by_a_carrier_code_opens_an_exception(booked_fcl):
    _, master = booked_fcl
    ingest(departed(), oms_event("", NOW - 2 * H, code="A9", scheme="x12_214", reason="Carton crushed"))
    detect(master)
    [exception] = open_exceptions(master, K.DAMAGE)
    assert exception.canonical_reason == "damaged"
    assert "Carton crushed" in exception.carrier_reason_code


@pytest.fixture
def rolled(booked_fcl, ops_user):
    _, master = booked_fcl
    Leg.objects.filter(shipment=master).update(planned_departure_at=NOW + 2 * 24 * H, planned_arrival_at=ETA)
    booking = Booking.objects.get(shipment=master)
    Booking.objects.filter(pk=booking.pk).update(confirmed_departure_at=NOW + 2 * 24 * H)
    booking.refresh_from_db()
    booking_services.booking_roll(
        booking=booking, departure_at=NOW + 9 * 24 * H, arrival_at=ETA + 7 * 24 * H, by=ops_user,
        reason="Vessel full",
    )  # fmt: skip
    return master


def test_a_rolled_booking_opens_an_exception(rolled):
    detect(rolled)
    [exception] = open_exceptions(rolled, K.ROLLED_BOOKING)
    assert exception.expected_at == NOW + 2 * 24 * H
    assert exception.observed_at == NOW + 9 * 24 * H


def test_a_roll_shorter_than_the_threshold_opens_nothing(rolled):
    ExceptionRule.objects.filter(kind=K.ROLLED_BOOKING).update(threshold_hours=Decimal(200))  # the roll: 168 h
    detect(rolled)
    assert not open_exceptions(rolled, K.ROLLED_BOOKING)


def test_departing_on_the_new_sailing_closes_the_roll(rolled):
    detect(rolled)
    Leg.objects.filter(shipment=rolled).update(actual_departure_at=NOW - H)
    detect(rolled)
    exception = ShipmentException.objects.get(kind=K.ROLLED_BOOKING)
    assert exception.status == "resolved"
    assert exception.resolution_note.startswith("Departure recorded")


def test_cancelling_the_rolled_booking_resolves_the_roll_at_once(rolled, ops_user, django_capture_on_commit_callbacks):
    """Acceptance review B, defect 5: the "Rolled booking" exception stayed open on a master whose booking was
    cancelled. The cancellation is announced (booking_cancelled), detection looks at the shipment again when the
    request ends, and the roll of a booking that no longer exists resolves itself, saying so."""
    from tracking.exceptions import receivers

    detect(rolled)
    assert open_exceptions(rolled, K.ROLLED_BOOKING)
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_cancel(
            booking=Booking.objects.get(shipment=rolled), reason="Shipper postponed", by=ops_user
        )
    assert receivers.pending() == ([], [rolled.pk])
    with django_capture_on_commit_callbacks(execute=True):
        receivers.flush()  # the end of the request

    exception = ShipmentException.objects.get(kind=K.ROLLED_BOOKING)
    assert exception.status == "resolved"
    assert exception.resolution_note == "The booking was cancelled; the shipment is back in planning."


@pytest.fixture
def cutoff(booked_fcl):
    _, master = booked_fcl
    Leg.objects.filter(shipment=master).update(planned_departure_at=NOW + 10 * H)
    Booking.objects.filter(shipment=master).update(cargo_cutoff_at=NOW - 5 * H)
    return master


def test_a_missed_cargo_cutoff_opens_an_exception(cutoff):
    detect(cutoff)
    [exception] = open_exceptions(cutoff, K.MISSED_CUTOFF)
    assert exception.expected_at == NOW - 5 * H


def test_a_cutoff_still_ahead_opens_nothing(cutoff):
    Booking.objects.filter(shipment=cutoff).update(cargo_cutoff_at=NOW + 5 * H)
    detect(cutoff)
    assert not open_exceptions(cutoff, K.MISSED_CUTOFF)


def test_the_cargo_reaching_the_terminal_closes_the_missed_cutoff(cutoff):
    detect(cutoff)
    ingest(dcsa_event("EQUIPMENT", "GTIN", NOW - H, place="CNSHA"))
    detect(cutoff)
    exception = ShipmentException.objects.get(kind=K.MISSED_CUTOFF)
    assert exception.status == "resolved"
    assert exception.resolution_note.startswith("Received at origin on")


def test_a_switched_off_rule_detects_nothing(booked_fcl):
    _, master = booked_fcl
    ExceptionRule.objects.filter(kind=K.MILESTONE_OVERDUE).update(is_active=False)
    detect(master)
    assert not open_exceptions(master)


def test_an_exception_resolved_by_hand_is_not_reopened_for_the_same_trigger(booked_fcl, ops_user):
    _, master = booked_fcl
    detect(master)
    [exception] = open_exceptions(master)
    handling.exception_resolve(exception=exception, by=ops_user, root_cause="carrier", note="Sailing cancelled")
    detect(master)
    assert not open_exceptions(master)
    Leg.objects.filter(shipment=master).update(planned_departure_at=ETD + H)  # a new plan, late again
    detect(master)
    assert len(open_exceptions(master)) == 1


def test_a_delivered_shipment_resolves_what_was_about_its_movement(booked_fcl):
    _, master = booked_fcl
    detect(master)
    ingest(departed(), dcsa_event("TRANSPORT", "ARRI", NOW - 5 * H, place="DEHAM"),
           dcsa_event("EQUIPMENT", "DROP", NOW - H, place="DEHAM"))  # fmt: skip
    detect(master)
    assert not open_exceptions(master)
