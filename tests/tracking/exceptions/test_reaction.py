"""Detection reacts to new events cheaply: a receiver only remembers the order or shipment (no query, no
broker message); the burst is handed to one detection task at the end of the request or task."""

from __future__ import annotations

from unittest import mock

import pytest

from tests.tracking.test_ingest_support import ETD, NOW, dcsa_event
from tracking import events as planning_events
from tracking.exceptions import receivers, tasks
from tracking.exceptions.models import ShipmentException
from tracking.ingest import events as ingest_events

from .conftest import H, ingest


@pytest.fixture(autouse=True)
def _empty_pending():
    receivers._pending.__init__()  # type: ignore[misc]  # empties the thread-local in place
    yield
    receivers._pending.__init__()  # type: ignore[misc]  # empties the thread-local in place


def test_a_batch_of_milestones_costs_no_query(django_assert_num_queries):
    records = tuple(
        ingest_events.MilestoneRecorded(order_id=n, code="DEPARTED", event_id=n, classifier="ACT", occurred_at=NOW)
        for n in range(100)
    )
    with django_assert_num_queries(0):
        ingest_events.milestones_recorded.send(sender=None, records=records)
    assert receivers.pending() == (list(range(100)), [])


def test_new_events_are_detected_by_one_task_when_the_burst_ends(booked_fcl, django_capture_on_commit_callbacks):
    order, master = booked_fcl
    with django_capture_on_commit_callbacks(execute=True):
        ingest(dcsa_event("SHIPMENT", "HOLD", NOW - 3 * H, document="CUS", created=NOW - 3 * H),
               dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"))  # fmt: skip
    assert receivers.pending()[0] == [order.pk]
    with (
        mock.patch.object(tasks.detect_exceptions, "apply_async", wraps=tasks.detect_exceptions.apply_async) as spy,
        django_capture_on_commit_callbacks(execute=True),
    ):
        receivers.flush()
    spy.assert_called_once()
    assert spy.call_args.kwargs["kwargs"] == {"order_ids": [order.pk], "shipment_ids": [master.pk]}  # + leg actual
    assert ShipmentException.objects.filter(kind="customs_hold", shipment=master).exists()
    assert receivers.pending() == ([], [])


def test_a_roll_is_remembered_by_shipment(booked_fcl):
    _, master = booked_fcl
    planning_events.booking_rolled.send(
        sender=None, booking_id=1, shipment_id=master.pk, carrier_id=None, previous_departure_at=None,
        new_departure_at=None, delay=None, reason="",
    )  # fmt: skip
    assert receivers.pending() == ([], [master.pk])


def test_a_full_buffer_is_handed_over_at_once(django_capture_on_commit_callbacks):
    with (
        mock.patch.object(tasks.detect_exceptions, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        receivers.note(order_ids=range(receivers.FLUSH_SIZE))
    queued.assert_called_once()
    assert receivers.pending() == ([], [])


def test_the_end_of_a_request_hands_over_what_is_pending(client, django_capture_on_commit_callbacks):
    receivers.note(order_ids=[42])
    with (
        mock.patch.object(tasks.detect_exceptions, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.get("/healthz")
    assert queued.call_args.kwargs["kwargs"]["order_ids"] == [42]
