"""ETA slipped keeps what the carrier said with the estimate (DCSA delayReasonCode and changeRemark, as
docs/exceptions.md promises for every exception), and an exception resolved because its rule changed says so:
"the rule's threshold was raised to N h" or "switched off", instead of "back within the threshold" for an
estimate that did not move."""

from __future__ import annotations

from decimal import Decimal

from tests.tracking.test_ingest_support import ETA, ETD, NOW, dcsa_event
from tracking.exceptions.facts import estimate_said
from tracking.exceptions.models import ExceptionKind, ExceptionRule, ShipmentException

from .conftest import H, detect, ingest, open_exceptions

K = ExceptionKind


def late_estimate(at=ETA + 30 * H, **said):
    event = dcsa_event("TRANSPORT", "ARRI", at, classifier="EST", place="DEHAM", created=NOW - 2 * H)
    event.update(said)
    return event


def eta_rule() -> ExceptionRule:
    return ExceptionRule.objects.get(kind=K.ETA_DELAY, mode="ocean_fcl", customer=None)


def test_eta_slipped_keeps_the_carriers_delay_code_and_remark(booked_fcl):
    _, master = booked_fcl
    ingest(
        dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"),
        late_estimate(delayReasonCode="CON", changeRemark="Port congestion New York"),
    )
    detect(master)
    [exception] = open_exceptions(master, K.ETA_DELAY)
    assert exception.carrier_reason_code == "dcsa:CON (Port congestion New York)"


def test_what_the_carrier_said_with_an_estimate_in_words():
    assert estimate_said("dcsa", "CON", "CON") == "dcsa:CON"  # ingest keeps the code when no remark came
    assert estimate_said("oms", "Vessel waits for a berth", None) == "oms (Vessel waits for a berth)"
    assert estimate_said("dcsa", "", None) == ""


def test_a_raised_threshold_says_so_when_it_resolves_the_delay(booked_fcl):
    _, master = booked_fcl
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"), late_estimate())
    detect(master)
    assert open_exceptions(master, K.ETA_DELAY)
    rule = eta_rule()
    rule.threshold_hours = Decimal(48)
    rule.save()
    outcome = detect(master)
    exception = ShipmentException.objects.get(kind=K.ETA_DELAY)
    assert exception.pk in outcome.resolved
    assert exception.resolution_note.startswith("The rule's threshold was raised to 48 h: the latest estimate (")
    assert "back within" not in exception.resolution_note


def test_an_estimate_that_came_back_still_says_back_within_the_threshold(booked_fcl):
    _, master = booked_fcl
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"), late_estimate())
    detect(master)
    ingest(dcsa_event("TRANSPORT", "ARRI", ETA + 2 * H, classifier="EST", place="DEHAM", created=NOW - H))
    detect(master)
    note = ShipmentException.objects.get(kind=K.ETA_DELAY).resolution_note
    assert note.endswith("is back within the threshold (24 h).")


def test_a_switched_off_rule_says_so(booked_fcl):
    _, master = booked_fcl
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"), late_estimate())
    detect(master)
    for rule in ExceptionRule.objects.filter(kind=K.ETA_DELAY):
        rule.is_active = False
        rule.save()  # as the console does (the rule book is kept until a rule's change stamp moves)
    detect(master)
    note = ShipmentException.objects.get(kind=K.ETA_DELAY).resolution_note
    assert note == "The rule for “ETA slipped” was switched off."


def test_a_raised_threshold_over_an_overdue_departure_says_so(booked_fcl):
    _, master = booked_fcl  # ETD six days ago, not departed: the departure is overdue (ocean: 24 h)
    detect(master)
    assert open_exceptions(master, K.MILESTONE_OVERDUE)
    rule = ExceptionRule.objects.get(kind=K.MILESTONE_OVERDUE, mode="ocean_fcl", customer=None)
    rule.threshold_hours = Decimal(500)
    rule.save()
    detect(master)
    note = ShipmentException.objects.get(kind=K.MILESTONE_OVERDUE).resolution_note
    assert note.startswith("The rule's threshold was raised to 500 h: the plan (")
