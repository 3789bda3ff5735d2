"""RELIABILITY.md E3 (broker outage) on tracking's after-commit work: an order released from hold (or planned) while
Redis is down is a committed change, answered as one; the status sync the broker could not take is done by the beat's
catch_up_orders, so nothing the task would have done is lost.
"""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse
from kombu.exceptions import OperationalError as BrokerOperationalError

from orders import services as order_services
from orders.models import Channel, Order, OrderStatus
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, dcsa_event
from tracking.ingest import receivers, services, tasks
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.models import SourceKind


def _broker_down(*args, **kwargs):
    raise BrokerOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.django_db(transaction=True)  # after-commit receivers run inside the request, as in production
def test_releasing_a_hold_on_the_screen_while_the_broker_is_down_redirects_and_the_beat_catches_the_order_up(
    client, booked_fcl, ops_scope, ops_user, monkeypatch, caplog
):
    receivers.connect()
    order, _ = booked_fcl
    order_services.order_transition(
        order=order, name="hold", scope=ops_scope, channel=Channel.SCREEN, by=ops_user, reason="Credit check"
    )
    services.events_ingest(  # the vessel sails while the order is held: the order cannot move yet
        events=[read_dcsa(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep"))],
        source=services.Source(kind=SourceKind.DCSA, name="MAEU"),
    )
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ON_HOLD
    monkeypatch.setattr(tasks.sync_order_status, "apply_async", _broker_down)
    client.force_login(ops_user)
    client.raise_request_exception = False

    with caplog.at_level(logging.WARNING, logger="tracking.ingest.receivers"):
        response = client.post(
            reverse("orders:transition", args=[order.reference, "release"]), {"seen_status": OrderStatus.ON_HOLD}
        )

    assert response.status_code == 302, response.status_code
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PLANNED  # the release is committed
    assert "Could not queue the status sync of order" in caplog.text

    tasks.catch_up_orders()  # the beat's sweep (every five minutes) does what the lost task would have

    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_TRANSIT
