"""The public tracking page says where the goods are: its state never lags an actual milestone it lists (the order's
status does while the order is held or a workflow task blocks it), and once the goods arrived it gives the actual
arrival, not an expected one from an estimate the arrival overtook."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import oms_date, oms_datetime
from orders import services as order_services
from orders.models import Channel, Order, OrderStatus
from portal.links import tracking_link_create
from tests.tracking.conftest import make_order, ocean_carriers, ops_scope
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import BILL, ETA, ETD, NOW, dcsa_event, oms_event
from tracking.ingest import services as ingest_services
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import SourceKind
from tracking.ingest.services import Source

__all__ = ["make_order", "ocean_carriers", "ops_scope"]

H = datetime.timedelta(hours=1)


pytestmark = pytest.mark.usefixtures("fresh_rate_window")


def _record(*events: dict) -> None:
    ingest_services.events_ingest(events=[read_oms(e) for e in events], source=Source(kind=SourceKind.WEBHOOK,
                                                                                        name="feed"))  # fmt: skip


def _public(client, order, by):
    _link, token = tracking_link_create(order=order, by=by)
    response = client.get(reverse("public_tracking", args=[token]))
    assert response.status_code == 200
    return response


@pytest.fixture
def arrived(booked_fcl):
    """Departed, an ETA that slipped by 30 h, then the vessel arrived at DEHAM an hour ago."""
    order, _master = booked_fcl
    raw = [
        dcsa_event("TRANSPORT", "DEPA", ETD, event_id="d"),
        dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM", created=NOW - 2 * H,
                   event_id="e"),
        dcsa_event("TRANSPORT", "ARRI", NOW - H, place="DEHAM", event_id="a"),
    ]  # fmt: skip
    ingest_services.events_ingest(events=[read_dcsa(e) for e in raw], source=Source(kind=SourceKind.DCSA, name="MAEU"))
    order.refresh_from_db()
    return order


def test_the_page_gives_the_actual_arrival_not_an_expected_one_once_arrived(client, ops_user, arrived):
    response = _public(client, arrived, ops_user)
    body = response.content.decode()
    assert response.context["eta"] is None
    assert response.context["arrived_at"] == NOW - H
    assert "Expected arrival" not in body
    assert oms_date(timezone.localtime(ETA + 30 * H), "weekday") not in body
    assert f'Arrived</div><div class="fw-semibold">{oms_datetime(timezone.localtime(NOW - H), "weekday")}' in body


def test_the_page_gives_the_expected_arrival_while_on_the_way(client, ops_user, booked_fcl):
    order, _master = booked_fcl
    raw = [
        dcsa_event("TRANSPORT", "DEPA", ETD, event_id="d"),
        dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM", created=NOW - 2 * H,
                   event_id="e"),
    ]  # fmt: skip
    ingest_services.events_ingest(events=[read_dcsa(e) for e in raw], source=Source(kind=SourceKind.DCSA, name="MAEU"))
    response = _public(client, order, ops_user)
    assert response.context["eta"] == ETA + 30 * H
    assert response.context["state"] == "In transit"
    assert "Expected arrival" in response.content.decode()


def test_a_held_order_whose_goods_arrived_says_arrived_not_booked(booked_fcl, ops_user, ops_scope, client):
    order, _master = booked_fcl
    order_services.order_transition(order=order, name="hold", scope=ops_scope, channel=Channel.SCREEN, by=ops_user,
                                    reason="Customs hold reported by the carrier.")  # fmt: skip
    _record(oms_event("DEPARTED", ETD, subject=("bill", BILL), place="CNSHA"),
            oms_event("ARRIVED", NOW - 2 * H, subject=("bill", BILL), place="DEHAM"))  # fmt: skip
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.status_before_hold) == (OrderStatus.ON_HOLD, OrderStatus.PLANNED)  # the status lags
    response = _public(client, order, ops_user)
    assert response.context["state"] == "Arrived"
    assert [m["kind"] for m in response.context["milestones"] if m["name"] == "Arrived"] == ["actual"]
    assert "Expected arrival" not in response.content.decode()


def test_an_order_a_task_keeps_behind_its_milestones_says_where_the_goods_are(booked_fcl, ops_user, client):
    order, _master = booked_fcl
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CONFIRMED)  # a blocking task kept it from "planned"
    _record(oms_event("DEPARTED", ETD, subject=("bill", BILL), place="CNSHA"))
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.CONFIRMED
    assert _public(client, order, ops_user).context["state"] == "In transit"


def test_the_state_never_goes_back_behind_the_orders_own_status(delivered_order, ops_user, client):
    # The order was delivered by hand; its milestones only reached "departed": the state is still Delivered.
    assert _public(client, delivered_order, ops_user).context["state"] == "Delivered"


@pytest.fixture
def delivered_order(booked_fcl):
    order, _master = booked_fcl
    _record(oms_event("DEPARTED", ETD, subject=("bill", BILL), place="CNSHA"))
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.DELIVERED)
    return Order.objects.get(pk=order.pk)


def test_a_cancelled_order_stays_cancelled(booked_fcl, ops_user, client):
    order, _master = booked_fcl
    _record(oms_event("DEPARTED", ETD, subject=("bill", BILL), place="CNSHA"))
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
    assert _public(client, Order.objects.get(pk=order.pk), ops_user).context["state"] == "Cancelled"
