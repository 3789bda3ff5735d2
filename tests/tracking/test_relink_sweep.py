"""Review G (defect 5): the relink of events held for a reference outlasts a database failover, and a beat sweep
attaches what a lost or failed relink left held (tracking/ingest/relinking.events_relink_held)."""

from __future__ import annotations

import datetime
from unittest import mock

from django.conf import settings

from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_relinking import BOX, gate_in, post
from tests.workflows.test_email_retries import longest_retry_window
from tracking.ingest import relinking, tasks
from tracking.ingest.models import TrackingEvent
from tracking.services import container_changes


def test_the_relink_of_held_events_outlasts_a_database_failover():
    window = longest_retry_window(tasks.relink_events)
    assert window >= datetime.timedelta(minutes=5), f"relink_events gives up {window.total_seconds():.0f} s after"
    beat = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == tasks.relink_held_events.name]
    assert beat == [{"task": tasks.relink_held_events.name, "schedule": 900.0, "options": {"queue": "tracking"}}]


def test_the_sweep_attaches_events_whose_relink_was_lost(client, booked_fcl, webhook_source, caplog):
    """The box is recorded, but its relink never ran (the broker lost it, or its retries ran out): the sweep
    attaches the held event; run again, it attaches nothing twice."""
    _, master = booked_fcl
    assert post(client, [gate_in()]).json()["unlinked"] == 1
    with mock.patch.object(relinking, "events_relink_on_commit"):  # the relink is lost
        container_changes.container_update(container=master.containers.get(), data={"container_number": BOX})
    held = TrackingEvent.objects.get(source_event_id="gtin-1")
    assert held.shipment_id is None
    tasks.relink_held_events.apply()
    held.refresh_from_db()
    assert held.shipment_id == master.pk
    assert relinking.events_relink_held() == 0
