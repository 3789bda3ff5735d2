"""A roll replaces the estimates reported for the sailing the goods missed (docs/planning.md, "A roll replaces the
estimates"; review F, item 1): the new sailing's confirmed ETD/ETA become the current ones, a carrier's later
estimate still wins, and an estimate reported before the roll never comes back."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.links import tracking_link_create
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETA, ETD, NOW, dcsa_event
from tracking.ingest import events as ingest_events
from tracking.ingest import services as ingest_services
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.models import Classifier, EtaHistory, SourceKind
from tracking.ingest.selectors import order_timeline
from tracking.ingest.services import Source
from tracking.models import Booking
from tracking.services import booking as booking_services

H = datetime.timedelta(hours=1)
WEEK = datetime.timedelta(days=7)
MAERSK = Source(kind=SourceKind.DCSA, name="MAEU")


pytestmark = pytest.mark.usefixtures("fresh_rate_window")


def _estimate(code: str, at: datetime.datetime, *, created: datetime.datetime, event_id: str) -> None:
    place = "DEHAM" if code == "ARRI" else "CNSHA"
    event = dcsa_event("TRANSPORT", code, at, classifier="EST", place=place, created=created, event_id=event_id)
    ingest_services.events_ingest(events=[read_dcsa(event)], source=MAERSK)


def _roll(master: Any, by: Any) -> None:
    booking = Booking.objects.get(shipment=master)
    booking_services.booking_roll(
        booking=booking, departure_at=ETD + WEEK, arrival_at=ETA + WEEK, reason="vessel full", by=by
    )


def _row(timeline: Any, code: str) -> Any:
    return next(row for row in timeline.milestones if row.code == code)


def test_a_roll_makes_the_new_sailings_times_the_current_etd_and_eta(booked_fcl, ops_user, login, customer_a_user):
    order, master = booked_fcl
    _estimate("ARRI", ETA + 6 * H, created=NOW - 2 * H, event_id="eta-missed")
    _estimate("DEPA", ETD + 2 * H, created=NOW - 2 * H, event_id="etd-missed")

    _roll(master, ops_user)

    timeline = order_timeline(order=order, customer_safe=True)
    assert timeline.planned_arrival_at == ETA + WEEK
    assert timeline.current_eta == ETA + WEEK
    assert timeline.eta_slip == datetime.timedelta(0)
    assert _row(timeline, "ARRIVED").estimated_at == ETA + WEEK
    assert _row(timeline, "DEPARTED").estimated_at == ETD + WEEK
    # The history shows the move, from the carrier's estimate for the missed vessel, and who recorded it.
    latest = timeline.eta_history[-1]
    assert (latest.previous_at, latest.estimated_at) == (ETA + 6 * H, ETA + WEEK)
    assert latest.classifier == Classifier.PLANNED
    assert latest.event_id is None
    assert latest.source == f"planning:{ops_user.email}"
    assert latest.shipment_id == master.pk

    client = login(customer_a_user)
    page = client.get(reverse("tracking_ingest:order_timeline", args=[order.reference])).content.decode()
    assert "earlier than planned" not in page
    assert "later than planned" not in page
    _link, token = tracking_link_create(order=order, by=customer_a_user)
    assert client.get(reverse("public_tracking", args=[token])).context["eta"] == ETA + WEEK


def test_the_carriers_estimate_for_the_new_sailing_wins_and_one_reported_before_the_roll_does_not(booked_fcl, ops_user):
    order, master = booked_fcl
    _estimate("ARRI", ETA, created=NOW - 2 * H, event_id="eta-missed")
    _roll(master, ops_user)

    # Reported before the roll, delivered after it (a late poll): about the missed vessel, older news.
    _estimate("ARRI", ETA + H, created=NOW - H, event_id="eta-late-news")
    assert order_timeline(order=order, customer_safe=True).current_eta == ETA + WEEK

    # The carrier's estimate for the new vessel, reported after the roll, is the ETA.
    _estimate("ARRI", ETA + WEEK + 5 * H, created=timezone.now() + datetime.timedelta(seconds=2), event_id="eta-new")
    timeline = order_timeline(order=order, customer_safe=True)
    assert timeline.current_eta == ETA + WEEK + 5 * H
    assert timeline.eta_slip == 5 * H


def test_a_roll_without_an_estimate_writes_no_history(booked_fcl, ops_user):
    order, master = booked_fcl
    _roll(master, ops_user)

    assert not EtaHistory.objects.exists()
    timeline = order_timeline(order=order, customer_safe=True)
    assert timeline.current_eta is None
    assert timeline.planned_arrival_at == ETA + WEEK


def test_the_roll_tells_the_workflow_the_new_etd_and_eta(booked_fcl, ops_user):
    """estimates_changing, as for a feed's estimate: the workflow's ETD/ETA key dates follow the new sailing."""
    order, master = booked_fcl
    _estimate("ARRI", ETA, created=NOW - 2 * H, event_id="eta-missed")
    _estimate("DEPA", ETD, created=NOW - 2 * H, event_id="etd-missed")
    heard: list[ingest_events.EstimateChanged] = []

    def listen(sender: Any, *, changes: Any, **kwargs: Any) -> None:
        heard.extend(changes)

    ingest_events.estimates_changing.connect(listen, dispatch_uid="test_roll_estimates")
    try:
        _roll(master, ops_user)
    finally:
        ingest_events.estimates_changing.disconnect(dispatch_uid="test_roll_estimates")

    assert sorted((c.order_id, c.code, c.estimated_at, c.previous_at) for c in heard) == [
        (order.pk, "ARRIVED", ETA + WEEK, ETA),
        (order.pk, "DEPARTED", ETD + WEEK, ETD),
    ]
