"""RELIABILITY.md E3 (broker outage) on exception detection: what a request or task gathered for detection is queued
after its commit; a broker that is away then is logged, the committed action is answered as one (no error page), and
the periodic scan judges the shipment instead (docs/operations.md, "What background work retries")."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse
from kombu.exceptions import OperationalError as BrokerOperationalError

from tracking.exceptions import receivers, tasks
from tracking.exceptions.models import ExceptionKind
from tracking.models import Leg, LegRole

from .conftest import open_exceptions


def _broker_down(*args, **kwargs):
    raise BrokerOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.fixture(autouse=True)
def _empty_pending():
    receivers._pending.__init__()  # type: ignore[misc]  # empties the thread-local in place
    yield
    receivers._pending.__init__()  # type: ignore[misc]  # empties the thread-local in place


@pytest.mark.django_db(transaction=True)  # after-commit work runs inside the request, as in production
def test_a_departure_recorded_while_the_broker_is_down_is_answered_and_the_scan_judges_the_shipment(
    client, booked_fcl, ops_user, monkeypatch, caplog
):
    receivers.connect()
    _order, master = booked_fcl
    main = master.legs.get(role=LegRole.MAIN)
    tasks.scan_exceptions()  # the vessel was due to sail six days ago: its departure is overdue
    assert [e.kind for e in open_exceptions(master)] == [ExceptionKind.MILESTONE_OVERDUE]
    monkeypatch.setattr(tasks.detect_exceptions, "apply_async", _broker_down)
    client.force_login(ops_user)
    client.raise_request_exception = False

    with caplog.at_level(logging.WARNING, logger="tracking.exceptions.receivers"):
        response = client.post(reverse("tracking:leg_record_actual", args=[main.pk]), {"kind": "departure"})

    assert response.status_code == 302, response.status_code
    assert Leg.objects.get(pk=main.pk).actual_departure_at is not None  # the departure is committed
    assert "Could not queue exception detection for" in caplog.text
    assert receivers.pending() == ([], [])  # handed over (to the scan), not kept for a later request

    assert [e.kind for e in open_exceptions(master)] == [ExceptionKind.MILESTONE_OVERDUE]  # not judged yet

    tasks.scan_exceptions()  # the periodic scan (every five minutes) judges what the lost task would have

    assert open_exceptions(master) == []  # the departure resolved it


def test_a_flush_while_the_broker_is_down_logs_and_raises_nothing(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.detect_exceptions, "apply_async", _broker_down)
    receivers.note(order_ids=[42], shipment_ids=[7])

    with (
        caplog.at_level(logging.WARNING, logger="tracking.exceptions.receivers"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        receivers.flush()

    assert len(callbacks) == 1
    assert "Could not queue exception detection for 1 orders and 1 shipments" in caplog.text
