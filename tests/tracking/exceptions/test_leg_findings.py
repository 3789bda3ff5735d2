"""A finding about a leg is that leg's (review I, defect 2): a late Nordtruck pre-carriage on a Maersk master was
counted against Maersk, awaited "Departed" (the sailing, days away) and waited the ocean threshold. Now the leg's
carrier is named (inbox, detail, the weekly view by carrier), the awaited milestone is the leg's own by its role
(docs/tracking-events.md: a pre-carriage departs with PICKED_UP and arrives with RECEIVED_AT_ORIGIN), and the rule
is the one for the leg's mode. Exceptions stored before are brought up to date, not resolved and opened again."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.tracking.test_ingest_support import ETA, ETD, NOW
from tracking.exceptions import selectors
from tracking.exceptions.models import ExceptionKind, ExceptionRule, Severity, ShipmentException
from tracking.exceptions.rules import awaited_words
from tracking.exceptions.services import handling
from tracking.ingest.models import Classifier, EtaHistory
from tracking.models import Leg, LegRole
from tracking.services import leg_changes

from .conftest import H, detect, open_exceptions
from .test_rules import rolled

__all__ = ["rolled"]
K = ExceptionKind


def pre_carriage(carrier, departure: datetime.datetime) -> dict:
    return {
        "role": LegRole.PRE_CARRIAGE, "mode": "road_ftl", "carrier_id": carrier.pk if carrier else None,
        "origin_id": "CNSZH", "destination_id": "CNSHA",
        "planned_departure_at": departure, "planned_arrival_at": departure + 6 * H,
    }  # fmt: skip


@pytest.fixture
def late_pickup(booked_fcl, carrier):
    """(master, pre-carriage): Nordtruck was to pick the box up a day before the Maersk sailing; it has not."""
    _, master = booked_fcl
    leg = leg_changes.leg_add(shipment=master, data=pre_carriage(carrier, ETD - 30 * H))
    detect(master)
    return master, leg


def test_an_overdue_pre_carriage_names_its_own_carrier(late_pickup, carrier):
    master, leg = late_pickup
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert exception.leg_id == leg.pk
    assert exception.carrier_id == carrier.pk, "the late truck is counted against the shipping line"
    assert exception.mode == "road_ftl"


def test_an_overdue_pre_carriage_awaits_the_pickup_not_the_sailing(late_pickup, login, ops_user):
    master, _ = late_pickup
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert exception.milestone == "PICKED_UP"
    assert exception.detail.startswith("Leg 1 pickup was planned for ")
    page = login(ops_user).get(reverse("tracking_exceptions:detail", args=[exception.pk])).content.decode()
    awaited = page.split("Awaited milestone", 1)[1][:300]
    assert "Picked up" in awaited, f"awaited milestone reads: {awaited!r}"
    assert "Nordtruck <span" in page
    assert "leg 1 (pre-carriage, Road FTL" in page  # the leg's mode beside the shipment's


def test_the_weekly_view_counts_a_late_truck_under_the_trucker(late_pickup, carrier, ops_scope):
    master, _ = late_pickup
    now = timezone.now()
    groups = selectors.weekly_summary(scope=ops_scope, start=now - 24 * H, end=now + H)
    by_carrier = {row.label: row.opened for row in groups["carrier"]}
    overdue_on_maersk = ShipmentException.objects.filter(
        shipment=master, kind=K.MILESTONE_OVERDUE, carrier__code="MAEU"
    ).count()
    assert by_carrier.get("Nordtruck") == 1, by_carrier
    assert overdue_on_maersk == 0


def test_a_road_pre_carriage_waits_the_road_threshold_not_the_oceans(booked_fcl, carrier):
    """The default rules: overdue after 24 h for ocean FCL, after 2 h for road FTL. A pickup 3 h late is late."""
    _, master = booked_fcl
    Leg.objects.filter(shipment=master, role=LegRole.MAIN).update(planned_departure_at=NOW + 5 * 24 * H)
    leg_changes.leg_add(shipment=master, data=pre_carriage(carrier, NOW - 3 * H))
    detect(master)
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    road = ExceptionRule.objects.get(kind=K.MILESTONE_OVERDUE, mode="road_ftl", customer__isnull=True)
    assert exception.rule_id == road.pk
    assert exception.detail.endswith(": 3 h overdue.")


def test_a_customers_rule_for_the_legs_mode_decides(booked_fcl, carrier):
    """The most specific rule wins as ever, matched on the leg's mode: the customer's own rule for its trucks."""
    order, master = booked_fcl
    Leg.objects.filter(shipment=master, role=LegRole.MAIN).update(planned_departure_at=NOW + 5 * 24 * H)
    theirs = ExceptionRule.objects.create(kind=K.MILESTONE_OVERDUE, mode="road_ftl", customer=order.customer,
                                          threshold_hours=4, severity=Severity.CRITICAL)  # fmt: skip
    leg_changes.leg_add(shipment=master, data=pre_carriage(carrier, NOW - 5 * H))
    detect(master)
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert (exception.rule_id, exception.severity) == (theirs.pk, Severity.CRITICAL)


def test_a_slipping_delivery_on_a_road_last_mile_is_judged_by_the_road_rule(booked_fcl, carrier):
    _, master = booked_fcl
    planned = ETA + 2 * 24 * H
    leg = leg_changes.leg_add(
        shipment=master,
        data={
            "role": LegRole.LAST_MILE, "mode": "road_ftl", "carrier_id": carrier.pk, "origin_id": "DEHAM",
            "destination_id": "DEBER", "planned_departure_at": planned - 8 * H, "planned_arrival_at": planned,
        },
    )  # fmt: skip
    EtaHistory.objects.create(shipment=master, milestone_id="DELIVERED", classifier=Classifier.ESTIMATED,
                              estimated_at=planned + 3 * H, reported_at=NOW, source="feed")  # fmt: skip
    detect(master)
    [slip] = open_exceptions(master, K.ETA_DELAY)  # 3 h late: over the road's 2 h, within the ocean's 24 h
    assert (slip.leg_id, slip.milestone, slip.mode, slip.carrier_id) == (leg.pk, "DELIVERED", "road_ftl", carrier.pk)
    assert slip.detail.startswith("Estimated delivery ")


def test_a_main_carriage_without_a_carrier_of_its_own_names_the_shipments(booked_fcl, ocean_carriers):
    maersk, _ = ocean_carriers
    _, master = booked_fcl
    Leg.objects.filter(shipment=master).update(carrier=None)
    detect(master)
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert (exception.milestone, exception.carrier_id) == ("DEPARTED", maersk.pk)


def test_a_pre_carriage_without_a_carrier_names_none(booked_fcl):
    _, master = booked_fcl
    leg_changes.leg_add(shipment=master, data=pre_carriage(None, ETD - 30 * H))
    detect(master)
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert exception.carrier_id is None  # not the shipping line's


def test_the_pickup_resolves_it_and_the_gate_in_is_awaited_next(late_pickup):
    master, leg = late_pickup
    [pickup] = open_exceptions(master, K.MILESTONE_OVERDUE)
    Leg.objects.filter(pk=leg.pk).update(actual_departure_at=ETD - 29 * H)
    detect(master)
    pickup.refresh_from_db()
    assert pickup.status == "resolved"
    assert pickup.resolution_note.startswith("Pickup recorded ")
    [gate_in] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert (gate_in.leg_id, gate_in.milestone) == (leg.pk, "RECEIVED_AT_ORIGIN")
    assert gate_in.detail.startswith("Leg 1 gate-in was planned for ")
    assert gate_in.canonical_reason == "late_arrival"


def _as_stored_before(exception: ShipmentException, maersk) -> None:
    """What detection wrote before findings named their leg: the main carriage's milestone, the ship's carrier."""
    ShipmentException.objects.filter(pk=exception.pk).update(
        milestone="DEPARTED", carrier=maersk, mode="ocean_fcl",
        detail=exception.detail.replace("Leg 1 pickup", "Leg 1 departure"),
    )  # fmt: skip


def test_an_open_exception_stored_before_is_brought_up_to_date_not_reopened(late_pickup, carrier, ocean_carriers):
    master, _ = late_pickup
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    _as_stored_before(exception, ocean_carriers[0])

    outcome = detect(master)

    assert (outcome.opened, outcome.resolved) == ([], [])
    exception.refresh_from_db()
    assert exception.status == "open"
    assert (exception.milestone, exception.carrier_id, exception.mode) == ("PICKED_UP", carrier.pk, "road_ftl")
    assert list(exception.entries.values_list("verb", flat=True)) == ["opened", "updated"]


def test_one_a_person_closed_before_is_not_reopened(late_pickup, ops_user, ocean_carriers):
    master, _ = late_pickup
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    _as_stored_before(exception, ocean_carriers[0])
    handling.exception_resolve(exception=exception, by=ops_user, root_cause="carrier")

    assert detect(master).opened == []
    assert not open_exceptions(master, K.MILESTONE_OVERDUE)


# --- what the inbox shows beside the kind -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "milestone", "words"),
    [
        (K.MILESTONE_OVERDUE, "DEPARTED", "Departure"),
        (K.MILESTONE_OVERDUE, "PICKED_UP", "Pickup"),
        (K.MILESTONE_OVERDUE, "RECEIVED_AT_ORIGIN", "Gate-in"),
        (K.MILESTONE_OVERDUE, "OUT_FOR_DELIVERY", "Departure"),
        (K.ETA_DELAY, "ARRIVED", "Arrival"),
        (K.ETA_DELAY, "DELIVERED", "Delivery"),
        (K.ROLLED_BOOKING, "DEPARTED", ""),  # not "Departed": the ship has not left; the kind says what it is about
        (K.MISSED_CUTOFF, "RECEIVED_AT_ORIGIN", ""),  # not "Received at origin": it was not
        (K.CUSTOMS_HOLD, "CUSTOMS_HOLD", ""),
        (K.MILESTONE_OVERDUE, "", ""),
    ],
)
def test_the_badge_names_what_is_awaited_never_as_done(kind, milestone, words):
    assert awaited_words(kind, milestone) == words


def _results(page: str) -> str:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_the_inbox_badge_of_a_late_pickup(late_pickup, login, ops_user):
    rows = _results(login(ops_user).get(reverse("tracking_exceptions:inbox")).text)
    assert '<span class="oms-chip">Pickup</span>' in rows
    assert "Picked up<" not in rows
    assert "Departed<" not in rows
    assert '<span title="NORDTRUCK">Nordtruck</span>' in rows
    assert "Ocean FCL · CNSHA → DEHAM" in rows  # the shipment's mode and lane, not the leg's


def test_a_rolled_booking_has_no_badge_that_reads_as_sailed(rolled, login, ops_user):
    detect(rolled)
    [roll] = open_exceptions(rolled, K.ROLLED_BOOKING)
    rows = _results(login(ops_user).get(reverse("tracking_exceptions:inbox", query={"kind": K.ROLLED_BOOKING})).text)
    assert f'href="{roll.get_absolute_url()}"' in rows
    assert "oms-chip" not in rows
    assert "Departed" not in rows
