"""Parcels through a self-hosted Karrio trackers API, against a local stub answering Karrio's documented
shapes (TrackingStatus: carrier_name, tracking_number, status, delivered, estimated_delivery, events with
date/time/code/description/location, and on newer servers a per-event status and timestamp)."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from orders.models import Order, OrderStatus
from tests.factories import OrganisationFactory
from tests.tracking.conftest import lcl_line
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import Reply, book
from tracking.ingest import polling
from tracking.ingest.adapters.karrio import tracker_events
from tracking.ingest.models import (
    AdapterKind,
    CarrierEndpoint,
    EtaHistory,
    MappingAlert,
    MappingRule,
    TrackingEvent,
    TrackingSubscription,
)
from tracking.models import Shipment, ShipmentStatus

NUMBER = "JD014600006281230004"


@pytest.fixture
def parcel(make_order, ops_user, ops_scope, fresh_mapping, stub_server, monkeypatch):
    dhl = OrganisationFactory(code="DHLX", name="DHL Express", kinds=["carrier", "vendor"])
    order = make_order(
        mode="parcel",
        incoterm="DAP",
        origin="DEHAM",
        destination="GBLON",
        lines=[lcl_line(12, "0.05", pieces=1, description="Fashion accessories")],
    )
    master = book(order=order, carrier=dhl, ops_user=ops_user, ops_scope=ops_scope, reference="DHL-BKG-1", bill=NUMBER)
    CarrierEndpoint.objects.create(
        carrier=dhl,
        kind=AdapterKind.KARRIO,
        base_url=stub_server.url,
        credentials_env="OMS_CARRIER_TEST_KARRIO_KEY",
        karrio_carrier_name="dhl_express",
        time_zone="Europe/Berlin",
    )
    monkeypatch.setenv("OMS_CARRIER_TEST_KARRIO_KEY", "key_0123")
    polling.subscriptions_sync()
    return Order.objects.get(pk=order.pk), master, TrackingSubscription.objects.get()


def tracker(*events, status="in_transit", delivered=False, estimated_delivery=None):
    return {
        "id": "trk_26e12fc85d04425e81bbf39622b7b68f",
        "object_type": "tracker",
        "carrier_name": "dhl_express",
        "carrier_id": "dhl_express",
        "tracking_number": NUMBER,
        "test_mode": False,
        "status": status,
        "delivered": delivered,
        "estimated_delivery": estimated_delivery,
        "events": list(events),
        "info": {"carrier_tracking_link": None, "shipment_service": "Express Worldwide", "source": "api"},
        "messages": [],
        "metadata": {},
        "meta": {},
    }


def scan(date, time, code, description, location="HAMBURG - GERMANY", **newer):
    return {
        "date": date,
        "time": time,
        "code": code,
        "description": description,
        "location": location,
        "latitude": None,
        "longitude": None,
        **newer,
    }


def poll(subscription):
    return polling.subscription_poll(subscription_id=subscription.pk)


def test_an_unknown_tracking_number_is_registered_once_then_read(parcel, stub_server):
    _, _, subscription = parcel
    stub_server.script(
        Reply(status=404, body={"errors": [{"code": "not_found"}]}), Reply(status=201, body=tracker(status="pending"))
    )
    assert poll(subscription).ok
    get, post = stub_server.seen
    assert (get.method, get.path) == ("GET", f"/v1/trackers/{NUMBER}")
    assert (post.method, post.path, post.query) == ("POST", "/v1/trackers", {"pending_pickup": "true"})
    assert b'"carrier_name": "dhl_express"' in post.body
    assert get.headers["authorization"] == "Token key_0123"


def test_normalised_statuses_map_per_the_domain_table_and_move_the_order(parcel, stub_server):
    order, _master, subscription = parcel
    stub_server.script(
        Reply(
            body=tracker(
                scan(
                    "2026-11-27",
                    "14:05",
                    "PU",
                    "Shipment picked up",
                    status="picked_up",
                    timestamp="2026-11-27T14:05:00+01:00",
                ),
                scan(
                    "2026-11-28",
                    "02:10",
                    "PL",
                    "Processed at LEIPZIG",
                    location="LEIPZIG - GERMANY",
                    status="in_transit",
                    timestamp="2026-11-28T02:10:00+01:00",
                ),
                estimated_delivery="2026-11-30",
            )
        )
    )
    assert poll(subscription).ok
    assert list(TrackingEvent.objects.order_by("event_at").values_list("raw_code", "milestone", "classifier")) == [
        ("PICKED_UP", "PICKED_UP", "ACT"),
        ("IN_TRANSIT", "DEPARTED", "ACT"),
        ("DELIVERED", "DELIVERED", "EST"),
    ]
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT
    estimate = EtaHistory.objects.get(milestone="DELIVERED")
    assert estimate.estimated_at == datetime.datetime(2026, 11, 30, 11, 0, tzinfo=datetime.UTC)  # 12:00 Berlin


def test_times_without_an_offset_are_read_in_the_endpoint_time_zone(parcel, stub_server):
    _, _, subscription = parcel
    stub_server.script(Reply(body=tracker(scan("2026-11-27", "02:05 PM", "PU", "Picked up"), status="picked_up")))
    poll(subscription)
    event = TrackingEvent.objects.get()
    assert event.event_at == datetime.datetime(2026, 11, 27, 13, 5, tzinfo=datetime.UTC)
    assert event.event_offset_minutes == 60


UTC = datetime.UTC


@pytest.mark.parametrize(
    "newer",
    [{}, {"timestamp": "2026-03-29T02:30:00"}],  # a date and time, or a timestamp without an offset
)
def test_a_scan_at_a_time_the_clocks_skip_is_read_as_the_wall_clock_shows_it_after_the_jump(newer, caplog):
    """Berlin goes from 02:00 CET to 03:00 CEST on 29 March 2026: 02:30 names no moment. A feed cannot be asked, so the
    time is moved forward by the jump, as the wall clock is: 03:30 CEST (01:30 UTC), kept with the offset of then."""
    caplog.set_level("INFO", logger="tracking.ingest.adapters.karrio")
    page = tracker_events(
        tracker(scan("2026-03-29", "02:30", "PL", "Processed at LEIPZIG", status="in_transit", **newer)),
        time_zone="Europe/Berlin",
    )
    [event] = page.events
    assert event.event_at == datetime.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert event.offset_minutes == 120
    assert "2026-03-29T03:30:00+02:00" in event.source_event_id
    [logged] = [r.getMessage() for r in caplog.records if r.name == "tracking.ingest.adapters.karrio"]
    assert "2026-03-29T02:30 does not exist in Europe/Berlin" in logged
    assert logged.endswith("read as 2026-03-29T03:30+02:00")


@pytest.mark.parametrize(
    "newer",
    [{}, {"timestamp": "2026-10-25T02:30:00"}],
)
def test_a_scan_at_a_time_the_clocks_repeat_is_read_as_its_first_pass(newer, caplog):
    """Berlin goes back from 03:00 CEST to 02:00 CET on 25 October 2026: 02:30 happens twice. A feed cannot say which;
    the earlier is taken (00:30 UTC, +02:00): a scan is never placed after a moment it may have preceded."""
    caplog.set_level("INFO", logger="tracking.ingest.adapters.karrio")
    page = tracker_events(
        tracker(scan("2026-10-25", "02:30", "PL", "Processed at LEIPZIG", status="in_transit", **newer)),
        time_zone="Europe/Berlin",
    )
    [event] = page.events
    assert event.event_at == datetime.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert event.offset_minutes == 120
    [logged] = [r.getMessage() for r in caplog.records if r.name == "tracking.ingest.adapters.karrio"]
    assert "2026-10-25T02:30 happens twice in Europe/Berlin" in logged
    assert logged.endswith("read as the first, 2026-10-25T02:30+02:00")


def test_a_scan_on_a_day_the_clocks_change_outside_the_changed_hour_is_read_as_is(caplog):
    caplog.set_level("INFO", logger="tracking.ingest.adapters.karrio")
    page = tracker_events(
        tracker(
            scan("2026-03-29", "01:59", "PU", "Picked up", status="picked_up"),
            scan("2026-10-25", "03:00", "PL", "Hub", status="in_transit"),
        ),
        time_zone="Europe/Berlin",
    )
    assert [(event.event_at, event.offset_minutes) for event in page.events] == [
        (datetime.datetime(2026, 3, 29, 0, 59, tzinfo=UTC), 60),
        (datetime.datetime(2026, 10, 25, 2, 0, tzinfo=UTC), 60),
    ]
    assert not [r for r in caplog.records if r.name == "tracking.ingest.adapters.karrio"]


def test_an_older_server_gives_the_tracker_status_to_the_latest_scan_and_keeps_carrier_codes(parcel, stub_server):
    _, _, subscription = parcel
    pickup = scan("2026-11-27", "14:05", "PU", "Shipment picked up")
    hub = scan("2026-11-28", "02:10", "PL", "Processed at LEIPZIG", location="LEIPZIG - GERMANY")
    stub_server.script(Reply(body=tracker(pickup, hub, status="in_transit")))
    poll(subscription)
    assert dict(TrackingEvent.objects.values_list("raw_code", "mapping_status")) == {
        "DHL_EXPRESS:PU": "unmapped",
        "IN_TRANSIT": "mapped",
    }
    alert = MappingAlert.objects.get()
    assert (alert.scheme, alert.code) == ("karrio", "DHL_EXPRESS:PU")
    # the next poll has a newer scan: the earlier ones are not stored again, whatever code they carry now
    out = scan("2026-11-29", "07:30", "WC", "With courier for delivery", location="LONDON - UK")
    stub_server.script(Reply(body=tracker(pickup, hub, out, status="out_for_delivery")))
    outcome = poll(TrackingSubscription.objects.get())
    assert (outcome.stored, outcome.duplicates) == (1, 2)
    assert TrackingEvent.objects.filter(milestone="OUT_FOR_DELIVERY").count() == 1


def test_a_carrier_code_mapped_for_that_carrier_alone(parcel, stub_server):
    _, _, subscription = parcel
    MappingRule.objects.create(
        scheme="karrio", code="DHL_EXPRESS:PU", milestone_id="PICKED_UP", note="DHL Express pick-up scan"
    )
    stub_server.script(
        Reply(
            body=tracker(
                scan("2026-11-27", "14:05", "PU", "Picked up"),
                scan("2026-11-28", "02:10", "PL", "Hub"),
                status="in_transit",
            )
        )
    )
    poll(subscription)
    assert set(TrackingEvent.objects.values_list("milestone", flat=True)) == {"PICKED_UP", "DEPARTED"}
    assert not MappingAlert.objects.exists()


def test_delivered_delivers_the_order_and_the_shipment_and_polling_ends(parcel, stub_server):
    order, master, subscription = parcel
    stub_server.script(
        Reply(
            body=tracker(
                scan("2026-11-27", "14:05", "PU", "Picked up", status="picked_up"),
                scan(
                    "2026-11-29",
                    "10:12",
                    "OK",
                    "Delivered - signed by M. SMITH",
                    location="LONDON - UK",
                    status="delivered",
                ),
                status="delivered",
                delivered=True,
            )
        )
    )
    poll(subscription)
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.DELIVERED
    polling.subscriptions_sync()
    assert not TrackingSubscription.objects.get().is_active


def test_on_hold_is_a_customs_hold_and_a_delay_is_no_milestone():
    page = tracker_events(
        tracker(
            scan("2026-11-28", "09:00", "CH", "Held by customs", status="on_hold"),
            scan("2026-11-28", "11:00", "DD", "Delivery delayed", status="delivery_delayed"),
        ),
        time_zone="UTC",
    )
    assert [event.raw_code for event in page.events] == ["ON_HOLD", "DELIVERY_DELAYED"]


def test_a_karrio_server_error_is_a_recorded_failure(parcel, stub_server):
    _, _, subscription = parcel
    stub_server.script(Reply(status=502, body={"errors": []}))
    assert not poll(subscription).ok
    assert "502" in TrackingSubscription.objects.get().last_error


def test_an_estimated_delivery_that_comes_back_to_an_earlier_day_is_the_estimate_again(parcel, stub_server):
    _, master, subscription = parcel
    first = scan("2026-11-27", "14:05", "PU", "Picked up", status="picked_up")
    hub = scan("2026-11-28", "02:10", "PL", "Processed at LEIPZIG", status="in_transit")
    out = scan("2026-11-29", "07:40", "WC", "With delivery courier", status="out_for_delivery")
    stub_server.script(
        Reply(body=tracker(first, estimated_delivery="2026-11-30")),
        Reply(body=tracker(first, hub, estimated_delivery="2026-12-02")),  # slips two days
        Reply(body=tracker(first, hub, out, estimated_delivery="2026-11-30")),  # back on the first day
        Reply(body=tracker(first, hub, out, estimated_delivery="2026-11-30")),  # the same tracker polled again
    )
    for _ in range(4):
        assert poll(subscription).ok

    history = EtaHistory.objects.filter(shipment=master, milestone="DELIVERED").order_by("reported_at", "id")
    assert [h.estimated_at.day for h in history] == [30, 2, 30]
    assert TrackingEvent.objects.filter(classifier="EST").count() == 3


def test_a_later_estimated_delivery_after_a_first_estimate_without_scans_becomes_the_eta(parcel, stub_server):
    """Poll 1: the label is printed, no scan yet, Karrio estimates day 1, reported when received. Poll 2: the pick-up
    scan (made earlier today, uploaded since) and a new estimate, day 3: newer news, though the scan is older than
    the first estimate's receipt (the scan is only in the estimate's identity, never its report time)."""
    _, master, subscription = parcel
    today = timezone.localdate()
    picked_up = (timezone.now() - datetime.timedelta(hours=3)).astimezone(datetime.UTC)
    first_day = (today + datetime.timedelta(days=1)).isoformat()
    later_day = today + datetime.timedelta(days=3)
    pickup = scan(picked_up.date().isoformat(), picked_up.strftime("%H:%M"), "PU", "Picked up",
                  status="picked_up", timestamp=picked_up.isoformat())  # fmt: skip
    stub_server.script(
        Reply(body=tracker(status="pending", estimated_delivery=first_day)),
        Reply(body=tracker(pickup, estimated_delivery=later_day.isoformat())),
    )
    assert poll(subscription).ok
    assert poll(subscription).ok

    assert TrackingEvent.objects.filter(classifier="EST").count() == 2  # both estimates were received
    history = EtaHistory.objects.filter(shipment=master, milestone="DELIVERED").order_by("-reported_at", "-id")
    assert timezone.localtime(history[0].estimated_at).date() == later_day, [
        (h.estimated_at, h.reported_at) for h in history
    ]


def test_the_endpoint_refuses_a_time_zone_that_does_not_exist(parcel):
    endpoint = CarrierEndpoint.objects.get()
    for zone in ("Europe/Hamburg", "Europe", "CET+1"):
        endpoint.time_zone = zone
        with pytest.raises(ValidationError) as refused:
            endpoint.full_clean()
        assert "time_zone" in refused.value.message_dict


def test_a_time_zone_saved_before_it_was_validated_is_a_recorded_failure_not_a_crash(parcel, stub_server):
    _, _, subscription = parcel
    CarrierEndpoint.objects.update(time_zone="Europe/Hamburg")  # no such zone (Hamburg keeps Berlin's time)
    stub_server.script(Reply(body=tracker(scan("2026-11-27", "14:05", "PU", "Picked up", status="picked_up"))))

    assert not poll(subscription).ok

    subscription.refresh_from_db()
    assert "Europe/Hamburg" in subscription.last_error
    assert stub_server.seen == [], "a request was spent on an answer that could not be read"


def test_an_unreadable_event_time_is_rejected_and_the_rest_kept():
    page = tracker_events(
        tracker(
            scan("28/11/2026", "09:00", "PU", "Picked up", status="picked_up"),
            scan("2026-11-28", "11:00", "PL", "Hub", status="in_transit"),
        ),
        time_zone="UTC",
    )
    assert [event.raw_code for event in page.events] == ["IN_TRANSIT"]
    assert "not YYYY-MM-DD" in page.rejected[0][1]


@pytest.mark.parametrize(
    "newer",
    [
        {"timestamp": "0001-01-01T00:30:00+01:00"},
        {"timestamp": "9999-12-31T23:30:00-01:00"},
        {"date": "0001-01-01", "time": "00:30"},  # local time in Berlin: before year 1 in UTC
    ],
)
def test_a_time_at_the_edge_of_the_calendar_is_rejected_and_the_rest_kept(newer):
    page = tracker_events(
        tracker(
            scan("2026-11-28", "09:00", "PU", "Picked up", status="picked_up") | newer,
            scan("2026-11-28", "11:00", "PL", "Hub", status="in_transit"),
        ),
        time_zone="Europe/Berlin",
    )
    assert [event.raw_code for event in page.events] == ["IN_TRANSIT"]
    assert page.rejected[0][0] == 0
    assert "outside the calendar" in page.rejected[0][1]
