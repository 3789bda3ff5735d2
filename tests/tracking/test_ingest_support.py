"""Shared set-up for the tracking-event tests (imported with `from tests.tracking.test_ingest_support import *`).

A booked ocean FCL order: its house on a master with one main leg CNSHA → DEHAM, container CSQU3054383,
B/L MAEU262000001, carrier booking MAEU262001234 with Maersk, the order `planned`. Times are relative to
now, so actual events are never in the future.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
from django.utils import timezone

from orders.models import Order
from tracking.ingest import mapping, webhooks
from tracking.ingest.models import MappingRule, Milestone, TrackingEvent, WebhookSource
from tracking.ingest.standards import seed_reference_data
from tracking.models import Shipment
from tracking.services import booking as booking_services
from tracking.services import planning

NOW = timezone.now().replace(microsecond=0)
ETD = NOW - datetime.timedelta(days=6)
ETA = NOW + datetime.timedelta(days=24)
CONTAINER = "CSQU3054383"
BILL = "MAEU262000001"
BOOKING = "MAEU262001234"
SECRET = "whsec_test_secret_0123456789abcdef0123456789"

__all__ = [
    "BILL",
    "BOOKING",
    "CONTAINER",
    "ETA",
    "ETD",
    "NOW",
    "SECRET",
    "Reply",
    "StubServer",
    "body_of",
    "book",
    "booked_fcl",
    "dcsa_event",
    "fresh_mapping",
    "iso",
    "oms_event",
    "signed_headers",
    "stub_server",
    "webhook_source",
]


def iso(at: datetime.datetime) -> str:
    return at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def book(
    *, order: Order, carrier: Any, ops_user: Any, ops_scope: Any, reference: str = BOOKING, bill: str = BILL
) -> Shipment:
    """Plan the order on its own master and confirm a booking with `carrier`: the order becomes planned."""
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=carrier, by=ops_user)
    booking_services.booking_confirm(
        booking=booking,
        carrier_reference=reference,
        departure_at=ETD,
        arrival_at=ETA,
        scope=ops_scope,
        by=ops_user,
        vessel_name="Maersk Essen",
        voyage_number="249W",
    )
    Shipment.objects.filter(pk=master.pk).update(bill_number=bill)
    # The confirmation put BOOKING_CONFIRMED on the timeline (tests/tracking/test_booking_workflow.py says so); these
    # tests count and read the events they send themselves, so the booking they start from has none.
    TrackingEvent.objects.filter(shipment=master, milestone_id="BOOKING_CONFIRMED").delete()
    mapping.invalidate()  # recording it read the rules: a test adding rules after booking reads them afresh
    return Shipment.objects.get(pk=master.pk)


@pytest.fixture
def fresh_mapping(db):
    """The milestones and rules of the data migration, and no cached copy of them.

    Tests on transactional_db (this suite's worker tests, and others) end with every table truncated, data
    migrations' rows included; the reference data is put back when it is missing. Rules added to standards.py
    since the (reused) test database was migrated are added too, as `seed_reference_data` adds them to a
    database in service.
    """
    seed_reference_data(Milestone, MappingRule)
    mapping.invalidate()
    yield
    mapping.invalidate()


@pytest.fixture
def booked_fcl(make_order, order_data, ocean_carriers, ops_user, ops_scope, fresh_mapping):
    """(order, master) for a planned FCL order with Maersk."""
    maersk, _ = ocean_carriers
    order = make_order(mode="ocean_fcl", lines=order_data()["lines"])
    master = book(order=order, carrier=maersk, ops_user=ops_user, ops_scope=ops_scope)
    return Order.objects.get(pk=order.pk), master


@pytest.fixture
def webhook_source(db):
    return WebhookSource.objects.create(name="acme-tms", secret=SECRET)


def dcsa_event(
    event_type: str,
    code: str,
    at: datetime.datetime,
    *,
    classifier: str = "ACT",
    place: str = "CNSHA",
    event_id: str = "",
    empty: str = "LADEN",
    document: str = "",
    created: datetime.datetime | None = None,
    container: str = CONTAINER,
    bill: str = BILL,
) -> dict[str, Any]:
    """A DCSA T&T 2.2 event of the given type (values invented, field names from the spec)."""
    event: dict[str, Any] = {
        "eventCreatedDateTime": iso(created or min(at, NOW)),
        "eventType": event_type,
        "eventClassifierCode": classifier,
        "eventDateTime": iso(at),
        "documentReferences": [{"documentReferenceType": "TRD (Transport Document)", "documentReferenceValue": bill}],
    }
    if event_id:
        event["eventID"] = event_id
    call = {
        "transportCallID": f"call-{place}",
        "modeOfTransport": "VESSEL",
        "UNLocationCode": place,
        "facilityTypeCode": "POTE",
    }
    if event_type == "TRANSPORT":
        event.update(transportEventTypeCode=code, transportCall=call)
    elif event_type == "EQUIPMENT":
        event.update(
            equipmentEventTypeCode=code, equipmentReference=container, emptyIndicatorCode=empty, transportCall=call
        )
    else:
        event.update(
            shipmentEventTypeCode=code,
            documentTypeCode=document or "TRD",
            documentID=bill,
            eventDateTime=event["eventCreatedDateTime"],
        )
    return event


def oms_event(
    milestone: str,
    at: datetime.datetime,
    *,
    subject: tuple[str, str] = ("container", CONTAINER),
    classifier: str = "ACT",
    place: str = "",
    event_id: str = "",
    **extra: Any,
) -> dict[str, Any]:
    event = {
        "milestone": milestone,
        "classifier": classifier,
        "occurred_at": iso(at),
        "subject": {"type": subject[0], "value": subject[1]},
        **extra,
    }
    if place:
        event["location"] = place
    if event_id:
        event["id"] = event_id
    return event


def signed_headers(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        webhooks.TIMESTAMP_HEADER: timestamp,
        webhooks.SIGNATURE_HEADER: webhooks.sign(secret=secret, timestamp=timestamp, body=body),
    }


def body_of(events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"events": events}).encode()


WEBHOOK_URL = "/api/v1/tracking/webhooks/acme-tms/"  # the `webhook_source` fixture's


def deliver_signed(client: Any, *events: Any, url: str = WEBHOOK_URL) -> dict[str, Any]:
    """POST the events as one signed webhook delivery with the Django test client; its 200 answer's JSON."""
    body = body_of(list(events))
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed_headers(body).items()}
    response = client.post(url, data=body, content_type="application/json", **extra)
    assert response.status_code == 200
    return cast(dict[str, Any], response.json())


# --- a carrier API on 127.0.0.1 -------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer: status, headers, body (JSON-encoded unless bytes), and an optional delay."""

    status: int = 200
    body: Any = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: threading.Event | None = None  # when set: wait for it before answering (a carrier mid-answer)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class StubServer:
    """An HTTP server in a thread that answers from a script (FIFO) and records every request.

    Speaks whatever the test scripts: DCSA T&T (arrays of events, Next-Page headers, 429 with Retry-After)
    or Karrio trackers. An empty script answers 200 with an empty JSON array.
    """

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.seen: list[Seen] = []
        self.arrived = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urllib.parse.urlsplit(self.path)
                stub.seen.append(
                    Seen(
                        self.command,
                        parts.path,
                        dict(urllib.parse.parse_qsl(parts.query)),
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                stub.arrived.set()
                reply = stub.replies.popleft() if stub.replies else Reply()
                if reply.hold is not None:
                    reply.hold.wait(30)
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.headers.pop("Content-Type", "application/json"))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test, or a killed worker)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = cast(tuple[str, int], self.server.server_address[:2])  # an IPv4 server: (host, port)
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def start(self) -> StubServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_server():
    server = StubServer().start()
    yield server
    server.stop()
