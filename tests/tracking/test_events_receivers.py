"""What tracking reacts to: the planning screen's actual departures and arrivals become timeline events
once (never echoing our own), and an order planned or released late catches up with its milestones."""

import datetime

import pytest

from orders import lifecycle
from orders import services as order_services
from orders.models import OrderStatus
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, dcsa_event
from tracking.ingest import receivers, recording, services
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.models import SourceKind, TrackingEvent
from tracking.ingest.services import Source
from tracking.models import LegRole
from tracking.services import leg_changes

H = datetime.timedelta(hours=1)


@pytest.fixture
def connected():
    receivers.connect()


def test_a_departure_recorded_on_the_planning_screen_becomes_one_event(
    connected, booked_fcl, ops_user, django_capture_on_commit_callbacks
):
    order, master = booked_fcl
    leg = master.legs.get(role=LegRole.MAIN)
    with django_capture_on_commit_callbacks(execute=True):
        leg_changes.leg_record_actual(leg=leg, departed_at=ETD, by=ops_user)
    event = TrackingEvent.objects.get()
    assert (event.source_kind, event.milestone_id, event.classifier, event.leg, event.recorded_by) == (
        SourceKind.PLANNING,
        "DEPARTED",
        "ACT",
        leg,
        ops_user,
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT


def test_our_own_leg_updates_do_not_come_back_as_a_second_event(
    connected, booked_fcl, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.events_ingest(
            events=[read_dcsa(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="d"))],
            source=Source(kind=SourceKind.DCSA, name="MAEU"),
        )
    assert TrackingEvent.objects.count() == 1


def test_the_planning_screen_can_record_through_our_service(booked_fcl, ops_user):
    _order, master = booked_fcl
    leg = master.legs.get(role=LegRole.MAIN)
    event = recording.event_record_for_leg(leg=leg, milestone="DEPARTED", occurred_at=ETD, by=ops_user)
    assert (event.location_code, event.leg) == ("CNSHA", leg)
    leg.refresh_from_db()
    assert leg.actual_departure_at == ETD


def test_an_order_released_from_hold_catches_up_with_its_milestones(
    connected, booked_fcl, ops_scope, ops_user, django_capture_on_commit_callbacks, settings
):
    from oms.celery import app

    order, _ = booked_fcl
    order_services.order_transition(
        order=order, name="hold", scope=ops_scope, channel="screen", by=ops_user, reason="Customs documents missing"
    )
    services.events_ingest(
        events=[read_dcsa(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="d"))],
        source=Source(kind=SourceKind.DCSA, name="MAEU"),
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            order_services.order_transition(order=order, name="release", scope=ops_scope, channel="screen", by=ops_user)
    finally:
        app.conf.task_always_eager = False
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT


def test_a_guard_lifted_later_lets_the_order_catch_up(booked_fcl, monkeypatch):
    from tracking.ingest import remapping

    order, _ = booked_fcl
    monkeypatch.setitem(lifecycle._guards, "depart", [lambda o: "Export declaration missing."])
    services.events_ingest(
        events=[read_dcsa(dcsa_event("TRANSPORT", "ARRI", ETD + 9 * H, place="DEHAM"))],
        source=Source(kind=SourceKind.DCSA, name="MAEU"),
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PLANNED
    monkeypatch.setitem(lifecycle._guards, "depart", [])
    note = remapping.order_status_sync(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.ARRIVED
    assert "is now arrived" in note
    assert remapping.order_status_sync(order_id=order.pk) == ""


def test_the_sweep_walks_every_lagging_house_chunk_by_chunk(booked_fcl, monkeypatch):
    """The beat's sweep looks at all lagging houses, `chunk` at a time, not at the same first few on every run."""
    from tracking.ingest import remapping

    order, _ = booked_fcl
    monkeypatch.setitem(lifecycle._guards, "depart", [lambda o: "Export declaration missing."])
    services.events_ingest(
        events=[read_dcsa(dcsa_event("TRANSPORT", "ARRI", ETD + 9 * H, place="DEHAM"))],
        source=Source(kind=SourceKind.DCSA, name="MAEU"),
    )
    monkeypatch.setitem(lifecycle._guards, "depart", [])
    seen: list[list[int]] = []
    walk = remapping._catch_up_houses
    monkeypatch.setattr(
        remapping,
        "_catch_up_houses",
        # notes the houses, then walks them: `append(...) or` is meant
        lambda houses, *, limit: seen.append(sorted(houses)) or walk(houses, limit=limit),  # type: ignore[func-returns-value]
    )
    assert remapping.orders_catch_up(chunk=1) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.ARRIVED
    assert len(seen) == len(order.houses.all()) >= 1  # one chunk per house, every one looked at
    assert remapping.orders_catch_up(chunk=1) == 0
