"""A real Celery worker killed with SIGKILL in the middle of a poll loses nothing and duplicates nothing.

The carrier (a local DCSA server) answers page 1 at once and holds page 2; while the worker waits for it,
the whole worker is killed. Page 1's events are already stored, the cursor has not moved, the message is
still unacknowledged in Redis. A new worker gets the message again (acks_late; a short visibility timeout
so the test does not wait an hour), polls from the same cursor, and ends with every event stored once and
every order transition taken once.
"""

import datetime
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from orders.models import OrderStatus, OrderTransition
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETA, ETD, Reply, dcsa_event
from tracking.ingest import polling, tasks
from tracking.ingest.models import AdapterKind, CarrierEndpoint, EtaHistory, TrackingEvent, TrackingSubscription

ROOT = Path(__file__).resolve().parents[2]
QUEUE = f"test-tracking-{uuid.uuid4().hex[:8]}"
# The worker as `celery worker` would run it, with a visibility timeout of seconds instead of hours.
LAUNCHER = """
import sys
import django
django.setup()
from oms.celery import app
app.conf.broker_transport_options = {"visibility_timeout": 3, "unacked_restore_interval": 1,
                                     "unacked_restore_throttle": 1}
app.worker_main(["worker", "-Q", sys.argv[1], "--concurrency", "1", "--pool", "prefork", "--without-mingle",
                 "--without-gossip", "--without-heartbeat", "--loglevel", "WARNING"])
"""
H = datetime.timedelta(hours=1)


def _database_url() -> str:
    conf = connection.settings_dict
    return f"postgres://{conf['USER']}:{conf['PASSWORD'] or ''}@{conf['HOST']}:{conf['PORT'] or 5432}/{conf['NAME']}"


def start_worker() -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "oms.settings_test"}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and a constant script
        [sys.executable, "-c", LAUNCHER, QUEUE],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool children, no chance to ack or clean up
        worker.wait(10)


def wait_for(predicate, timeout: float = 25.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def feed(transactional_db, booked_fcl, stub_server, ocean_carriers):
    CarrierEndpoint.objects.create(
        carrier=ocean_carriers[0], kind=AdapterKind.DCSA, base_url=stub_server.url, rate_limit_per_minute=600
    )
    polling.subscriptions_sync()
    return booked_fcl, TrackingSubscription.objects.get(), stub_server


@pytest.mark.worker
def test_a_worker_killed_mid_poll_loses_nothing_and_duplicates_nothing(feed):
    (order, master), subscription, stub = feed
    first_page = [
        dcsa_event("EQUIPMENT", "GTIN", ETD - 30 * H, event_id="e1", created=ETD - 30 * H),
        dcsa_event("EQUIPMENT", "LOAD", ETD - 6 * H, event_id="e2", created=ETD - 6 * H),
        dcsa_event("TRANSPORT", "DEPA", ETD, event_id="e3", created=ETD),
    ]
    second_page = [
        dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", event_id="e4", created=ETD + H),
        dcsa_event("TRANSPORT", "ARRI", ETD + 20 * H, place="DEHAM", event_id="e5", created=ETD + 20 * H),
    ]
    release = threading.Event()
    stub.script(
        Reply(body=first_page, headers={"Next-Page": "page-2"}),
        Reply(body=second_page, hold=release),
        Reply(body=first_page, headers={"Next-Page": "page-2"}),
        Reply(body=second_page),
    )
    worker = start_worker()
    try:
        tasks.poll_carrier_events.apply_async(args=[subscription.pk], queue=QUEUE)
        assert wait_for(lambda: len(stub.seen) >= 2), "the worker never asked for page 2"
        assert wait_for(lambda: TrackingEvent.objects.count() == 3)
        kill(worker)  # mid-poll: page 1 stored, page 2 in flight, the task not acknowledged
        release.set()
        assert TrackingSubscription.objects.get().cursor_created_at is None
        order.refresh_from_db()
        assert order.status == OrderStatus.IN_TRANSIT

        worker = start_worker()
        assert wait_for(lambda: TrackingSubscription.objects.get().last_success_at is not None), (
            "the unacknowledged poll was not delivered again"
        )
    finally:
        kill(worker)
    assert len(stub.seen) >= 4  # page 1 and 2 again: the redelivered task started over from the same cursor
    assert sorted(TrackingEvent.objects.values_list("source_event_id", flat=True)) == ["e1", "e2", "e3", "e4", "e5"]
    order.refresh_from_db()
    assert order.status == OrderStatus.ARRIVED
    assert list(
        OrderTransition.objects.filter(order=order, target__in=["in_transit", "arrived"]).values_list(
            "target", flat=True
        )
    ) == ["in_transit", "arrived"]
    assert EtaHistory.objects.filter(shipment=master).count() == 1
    assert TrackingSubscription.objects.get().cursor_created_at == ETD + 20 * H
