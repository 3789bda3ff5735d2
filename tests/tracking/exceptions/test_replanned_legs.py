"""A corrected plan is judged at once (docs/exceptions.md, "When detection runs"): a leg added, its planned times,
places or role corrected, or a leg removed sends tracking.events.leg_plan_changed after the commit, which exception
detection takes as it takes a new event (the shipment is remembered, one detection task when the burst ends). An
overdue milestone of a plan that was just moved resolves, and a new plan already late opens, without waiting for
the next scan. A correction of the conveyance alone (a vessel name, a plate) changes nothing detection judges."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from tests.tracking.test_ingest_support import ETD, NOW
from tracking import events
from tracking.exceptions import receivers
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.models import Leg, LegRole
from tracking.services import leg_changes

from .conftest import H, open_exceptions

K = ExceptionKind


@pytest.fixture(autouse=True)
def _empty_pending():
    receivers._pending.__init__()  # type: ignore[misc]  # empties the thread-local in place
    yield
    receivers._pending.__init__()  # type: ignore[misc]  # empties the thread-local in place


@pytest.fixture
def replan(django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """Run a planning service as a request would: its transaction commits (leg_plan_changed is sent), then the
    request ends and the burst is handed to the detection task (run inline: the tests' Celery is eager)."""

    def run(service: Callable[..., Any], **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            result = service(**kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            receivers.flush()
        return result

    return run


@pytest.fixture
def arrived_at_port(booked_fcl):
    """(order, master): the vessel left on plan and arrived at Hamburg yesterday; nothing is late yet."""
    order, master = booked_fcl
    Leg.objects.filter(shipment=master, role=LegRole.MAIN).update(
        actual_departure_at=ETD, actual_arrival_at=NOW - 24 * H
    )
    return order, master


def on_carriage(departure: datetime.datetime) -> dict[str, Any]:
    return {
        "role": LegRole.ON_CARRIAGE, "mode": "road_ftl", "origin_id": "DEHAM", "destination_id": "DEBER",
        "planned_departure_at": departure, "planned_arrival_at": departure + 8 * H,
    }  # fmt: skip


def test_a_leg_added_with_a_plan_already_late_opens_its_exception_at_once(arrived_at_port, replan):
    _, master = arrived_at_port
    leg = replan(leg_changes.leg_add, shipment=master, data=on_carriage(NOW - 30 * H))

    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert (exception.leg_id, exception.milestone) == (leg.pk, "OUT_FOR_DELIVERY")  # an on-carriage's departure
    assert exception.detail.startswith("Leg 2 departure was planned for ")


def test_moving_a_late_plan_resolves_its_overdue_exception_at_once(arrived_at_port, replan):
    _, master = arrived_at_port
    leg = replan(leg_changes.leg_add, shipment=master, data=on_carriage(NOW - 30 * H))
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)

    later = NOW + 2 * H
    replan(leg_changes.leg_update, leg=leg, data={"planned_departure_at": later, "planned_arrival_at": later + 8 * H})

    exception.refresh_from_db()
    assert (exception.status, exception.is_auto_resolved) == ("resolved", True)
    assert exception.resolution_note == "The plan moved: the milestone is no longer overdue."
    assert not open_exceptions(master)


def test_a_plan_moved_to_another_late_time_brings_the_open_exception_up_to_date_at_once(arrived_at_port, replan):
    """Still the same overdue departure: the open exception shows the new planned time (and says so in its
    history) without waiting for the scan."""
    _, master = arrived_at_port
    leg = replan(leg_changes.leg_add, shipment=master, data=on_carriage(NOW - 30 * H))
    [first] = open_exceptions(master, K.MILESTONE_OVERDUE)

    replan(leg_changes.leg_update, leg=leg, data={"planned_departure_at": NOW - 28 * H})

    [second] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert second.pk == first.pk
    assert second.expected_at == NOW - 28 * H
    assert list(second.entries.values_list("verb", flat=True)) == ["opened", "updated"]


def test_removing_a_late_leg_resolves_its_exception_at_once(arrived_at_port, replan):
    _, master = arrived_at_port
    leg = replan(leg_changes.leg_add, shipment=master, data=on_carriage(NOW - 30 * H))
    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)

    replan(leg_changes.leg_remove, leg=leg)

    assert ShipmentException.objects.get(pk=exception.pk).status == "resolved"
    assert not open_exceptions(master)


def test_a_new_role_is_judged_at_once(booked_fcl, replan):
    """The milestone watched is the first leg's not yet arrived: a truck to the port planned for later hides the
    vessel's missed sailing; made an on-carriage, it moves behind the vessel, whose departure is overdue."""
    _, master = booked_fcl
    truck = {**on_carriage(NOW + 2 * H), "role": LegRole.PRE_CARRIAGE, "origin_id": "CNSZH", "destination_id": "CNSHA"}
    leg = replan(leg_changes.leg_add, shipment=master, data=truck)
    assert not open_exceptions(master, K.MILESTONE_OVERDUE)

    data = {"role": LegRole.ON_CARRIAGE, "origin_id": "DEHAM", "destination_id": "DEBER"}
    replan(leg_changes.leg_update, leg=leg, data=data)

    [exception] = open_exceptions(master, K.MILESTONE_OVERDUE)
    assert exception.leg == Leg.objects.get(shipment=master, role=LegRole.MAIN)
    assert exception.expected_at == ETD


def test_only_a_change_detection_judges_is_sent(arrived_at_port, django_capture_on_commit_callbacks):
    _, master = arrived_at_port
    sent: list[dict[str, Any]] = []

    def spy(sender: Any, **kwargs: Any) -> None:
        sent.append(kwargs)

    events.leg_plan_changed.connect(spy, dispatch_uid="test.leg_plan_changed")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            leg = leg_changes.leg_add(shipment=master, data=on_carriage(NOW + 30 * H))
        with django_capture_on_commit_callbacks(execute=True):
            leg_changes.leg_update(leg=leg, data={"truck_plate": "HH-NT 4711"})  # the conveyance: nothing judged
        with django_capture_on_commit_callbacks(execute=True):
            leg_changes.leg_update(leg=leg, data={"destination_id": "DEHAM", "truck_plate": "HH-NT 4712"})
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            leg_changes.leg_remove(leg=leg)
        assert callbacks  # sent after the commit, not in the transaction
    finally:
        events.leg_plan_changed.disconnect(dispatch_uid="test.leg_plan_changed")

    assert [(s["leg_id"], s["shipment_id"], s["change"], s["fields"]) for s in sent] == [
        (leg.pk, master.pk, "added", ["destination_id", "origin_id", "planned_arrival_at", "planned_departure_at",
                                      "role"]),
        (leg.pk, master.pk, "changed", ["destination_id"]),
        (leg.pk, master.pk, "removed", []),
    ]  # fmt: skip
    assert receivers.pending() == ([], [master.pk])  # detection remembers the shipment; no query, no message yet
