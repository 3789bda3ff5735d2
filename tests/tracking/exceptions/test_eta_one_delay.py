"""One late vessel is one "ETA slipped" exception (review A, defect 2): when the last mile's delivery estimate
carries the vessel's delay on and becomes the worst, the open exception follows it in place (its leg, sentence and
estimate), nobody is told again, and no resolution note claims a threshold was raised when none was."""

from __future__ import annotations

from tests.tracking.test_ingest_support import ETA, NOW
from tracking.exceptions import rules
from tracking.exceptions.facts import shipment_facts
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.ingest.models import Classifier, EtaHistory
from tracking.models import Leg, LegRole
from tracking.services import leg_changes

from .conftest import H, detect, open_exceptions

K = ExceptionKind


def _last_mile(master, carrier):
    planned = ETA + 2 * 24 * H
    leg_changes.leg_add(
        shipment=master,
        data={
            "role": LegRole.LAST_MILE, "mode": "road_ftl", "carrier_id": carrier.pk, "origin_id": "DEHAM",
            "destination_id": "DEBER", "planned_departure_at": planned - 8 * H, "planned_arrival_at": planned,
        },
    )  # fmt: skip
    return planned


def _estimate(master, milestone, at, reported_at):
    EtaHistory.objects.create(shipment=master, milestone_id=milestone, classifier=Classifier.ESTIMATED,
                              estimated_at=at, reported_at=reported_at, source="feed")  # fmt: skip


def test_one_late_vessel_stays_one_eta_exception_when_the_delivery_estimate_follows(booked_fcl, carrier):
    _, master = booked_fcl
    planned = _last_mile(master, carrier)
    _estimate(master, "ARRIVED", ETA + 72 * H, NOW - 2 * H)
    detect(master)
    [slip] = open_exceptions(master, K.ETA_DELAY)
    assert slip.milestone == "ARRIVED"

    _estimate(master, "DELIVERED", planned + 80 * H, NOW - H)
    outcome = detect(master)
    slip.refresh_from_db()
    assert outcome.opened == []
    assert outcome.resolved == []
    assert slip.status == "open", slip.resolution_note
    last_leg = Leg.objects.get(shipment=master, role=LegRole.LAST_MILE)
    assert (slip.milestone, slip.leg_id, slip.carrier_id) == ("DELIVERED", last_leg.pk, carrier.pk)
    assert slip.detail.startswith("Estimated delivery")
    assert list(slip.entries.values_list("verb", flat=True)) == ["opened", "updated"]
    assert ShipmentException.objects.filter(kind=K.ETA_DELAY).count() == 1


def test_two_eta_exceptions_of_one_shipment_stored_before_become_one(booked_fcl, carrier):
    _, master = booked_fcl
    planned = _last_mile(master, carrier)
    _estimate(master, "ARRIVED", ETA + 72 * H, NOW - 2 * H)
    detect(master)
    [kept] = open_exceptions(master, K.ETA_DELAY)
    last_leg = Leg.objects.get(shipment=master, role=LegRole.LAST_MILE)
    second = ShipmentException.objects.create(
        kind=K.ETA_DELAY, severity=2, shipment=master, leg=last_leg, mode="road_ftl", milestone="DELIVERED",
        detail="Estimated delivery …", trigger_key="DELIVERED:x", expected_at=planned,
    )  # fmt: skip
    outcome = detect(master)
    second.refresh_from_db()
    assert outcome.resolved == [second.pk]
    assert outcome.opened == []
    assert second.resolution_note == f"The same delay is followed in exception #{kept.pk}."
    assert open_exceptions(master, K.ETA_DELAY) == [kept]


def test_a_delay_that_did_not_move_and_is_still_late_is_not_called_a_raised_threshold(booked_fcl):
    _, master = booked_fcl
    _estimate(master, "ARRIVED", ETA + 72 * H, NOW - 2 * H)
    detect(master)
    [slip] = open_exceptions(master, K.ETA_DELAY)
    facts = shipment_facts([master.pk])[master.pk]
    why = rules.why_clear(
        kind=slip.kind, milestone=slip.milestone, leg_id=slip.leg_id, facts=facts, book=rules.rulebook(),
        expected_at=slip.expected_at, observed_at=slip.observed_at,
    )  # fmt: skip
    assert "threshold was raised" not in why, why
