"""The DCSA T&T v2.2 polling adapter against a local server speaking the DCSA event format: filters,
pagination (Next-Page as cursor or link), incremental polls, 429 with Retry-After, 5xx backoff with
jitter, the stale flag, malformed answers, timeouts, credentials and the shared rate limit."""

import datetime
from pathlib import Path

import pytest
import yaml
from django.utils import timezone
from jsonschema import Draft4Validator
from referencing import Registry, Resource

from orders.models import OrderStatus
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import BILL, ETA, ETD, NOW, Reply, book, dcsa_event
from tracking.ingest import polling
from tracking.ingest.adapters import http
from tracking.ingest.models import AdapterKind, CarrierEndpoint, TrackingEvent, TrackingSubscription
from tracking.models import Booking, Shipment
from tracking.services import booking as booking_services

H = datetime.timedelta(hours=1)
SPEC = Path(__file__).resolve().parents[2] / "tracking" / "ingest" / "adapters" / "spec" / "tnt_v2.2.0.yaml"


@pytest.fixture
def feed(booked_fcl, stub_server, ocean_carriers):
    maersk, _ = ocean_carriers
    CarrierEndpoint.objects.create(
        carrier=maersk,
        kind=AdapterKind.DCSA,
        base_url=stub_server.url + "/dcsa/tnt",
        credentials_env="OMS_CARRIER_TEST_DCSA_TOKEN",
        rate_limit_per_minute=600,
    )
    polling.subscriptions_sync()
    return TrackingSubscription.objects.get(), stub_server


def poll(subscription):
    return polling.subscription_poll(subscription_id=subscription.pk)


def fresh(subscription):
    return TrackingSubscription.objects.get(pk=subscription.pk)


def page(*events, next_page=""):
    return Reply(body=list(events), headers={"Current-Page": "c", **({"Next-Page": next_page} if next_page else {})})


def test_the_subscription_tracks_the_master_by_its_bill_of_lading(feed):
    subscription, _ = feed
    assert (subscription.reference_type, subscription.reference) == ("bill", BILL)


def test_a_poll_follows_the_next_page_cursor_and_stores_every_event_once(feed):
    subscription, stub = feed
    gate_in = dcsa_event("EQUIPMENT", "GTIN", ETD - 30 * H, event_id="e1", created=ETD - 30 * H)
    departed = dcsa_event("TRANSPORT", "DEPA", ETD, event_id="e2", created=ETD + H)
    stub.script(page(gate_in, next_page="fE9mZnNldHw9MTAmbGltaXQ9MTA="), page(departed, gate_in))
    outcome = poll(subscription)
    assert (outcome.ok, outcome.stored, outcome.duplicates) == (True, 2, 1)
    first, second = stub.seen
    assert first.path == "/dcsa/tnt/v2/events"
    assert first.query["transportDocumentReference"] == BILL
    assert first.query["sort"] == "eventCreatedDateTime:ASC"
    assert "eventCreatedDateTime:gte" not in first.query
    assert second.query == {"cursor": "fE9mZnNldHw9MTAmbGltaXQ9MTA=", "limit": "100"}
    assert first.headers["api-version"] == "2"
    subscription = fresh(subscription)
    assert subscription.cursor_created_at == ETD + H
    assert (subscription.consecutive_failures, subscription.is_stale) == (0, False)
    assert subscription.last_success_at is not None
    order = booked_fcl_order(subscription)
    assert order.status == OrderStatus.IN_TRANSIT


def booked_fcl_order(subscription):
    from orders.models import Order

    return Order.objects.get(houses__consolidations__master=subscription.shipment)


def test_the_next_poll_asks_for_events_created_since_the_newest_seen_less_an_hour(feed):
    subscription, stub = feed
    stub.script(page(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="e2", created=ETD + H)), page())
    poll(subscription)
    poll(fresh(subscription))
    assert stub.seen[1].query["eventCreatedDateTime:gte"] == ETD.astimezone(datetime.UTC).isoformat().replace(
        "+00:00", "Z"
    )


def test_a_next_page_link_on_the_same_host_is_followed(feed):
    subscription, stub = feed
    stub.script(page(next_page=f"{stub.url}/dcsa/tnt/v2/events?cursor=abc&limit=100"), page())
    assert poll(subscription).ok
    assert stub.seen[1].query == {"cursor": "abc", "limit": "100"}


def test_a_next_page_link_to_another_host_is_refused(feed):
    subscription, stub = feed
    stub.script(page(next_page="http://169.254.169.254/latest/meta-data/"))
    outcome = poll(subscription)
    assert not outcome.ok
    assert "another host" in fresh(subscription).last_error
    assert len(stub.seen) == 1


def test_429_is_honoured_the_endpoint_waits_and_no_request_goes_before_retry_after(feed):
    subscription, stub = feed
    stub.script(Reply(status=429, body={"message": "slow down"}, headers={"Retry-After": "120"}))
    before = timezone.now()
    outcome = poll(subscription)
    assert not outcome.ok
    subscription = fresh(subscription)
    assert subscription.next_poll_at >= before + datetime.timedelta(seconds=120)
    assert CarrierEndpoint.objects.get().blocked_until >= before + datetime.timedelta(seconds=120)
    assert subscription.consecutive_failures == 1
    second = poll(subscription)  # a poll forced early: the shared limit stops it before any request
    assert not second.ok
    assert len(stub.seen) == 1
    assert fresh(subscription).consecutive_failures == 1  # waiting for our own budget is no failure


def test_retry_after_as_an_http_date_is_understood():
    later = timezone.now() + datetime.timedelta(seconds=90)
    seconds = http.retry_after_seconds(later.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert 80 <= seconds <= 90


def test_server_errors_back_off_with_jitter_and_end_in_a_stale_flag_not_a_crash_loop(feed):
    subscription, stub = feed
    stub.script(*[Reply(status=503, body={"statusCode": 503}) for _ in range(polling.STALE_AFTER)])
    waits = []
    for attempt in range(1, polling.STALE_AFTER + 1):
        before = timezone.now()
        assert not poll(fresh(subscription)).ok
        current = fresh(subscription)
        waits.append((current.next_poll_at - before).total_seconds())
        ceiling = min(polling.BACKOFF_MAX, polling.BACKOFF_BASE * 2 ** (attempt - 1)).total_seconds()
        assert ceiling / 2 - 1 <= waits[-1] <= ceiling + 1
        assert current.consecutive_failures == attempt
    current = fresh(subscription)
    assert current.is_stale
    assert current.stale_since is not None
    assert "503" in current.last_error
    assert waits == sorted(waits) or waits[-1] > waits[0]


def test_a_success_clears_the_stale_flag(feed):
    subscription, stub = feed
    TrackingSubscription.objects.filter(pk=subscription.pk).update(
        is_stale=True, consecutive_failures=7, stale_since=NOW
    )
    stub.script(page())
    assert poll(fresh(subscription)).ok
    current = fresh(subscription)
    assert (current.is_stale, current.consecutive_failures, current.stale_since) == (False, 0, None)


def test_an_html_error_page_is_a_malformed_answer_and_changes_nothing(feed):
    subscription, stub = feed
    stub.script(
        Reply(status=200, body=b"<html><body>Gateway error</body></html>", headers={"Content-Type": "text/html"})
    )
    assert not poll(subscription).ok
    assert "not JSON" in fresh(subscription).last_error
    assert not TrackingEvent.objects.exists()
    assert booked_fcl_order(subscription).status == OrderStatus.PLANNED


def test_an_object_where_an_array_belongs_is_malformed(feed):
    subscription, stub = feed
    stub.script(Reply(body={"events": []}))
    assert not poll(subscription).ok
    assert "JSON array" in fresh(subscription).last_error


def test_one_malformed_event_is_rejected_and_the_others_are_stored(feed):
    subscription, stub = feed
    broken = {"eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventCreatedDateTime": "yesterday"}
    stub.script(page(broken, dcsa_event("TRANSPORT", "DEPA", ETD, event_id="ok")))
    outcome = poll(subscription)
    assert (outcome.ok, outcome.stored, outcome.rejected) == (True, 1, 1)


@pytest.mark.parametrize("classifier", [["ACT"], {"code": "ACT"}])
def test_an_event_whose_classifier_is_not_text_is_rejected_and_the_poll_completes(feed, classifier):
    subscription, stub = feed
    bad = dcsa_event("TRANSPORT", "DEPA", ETD, event_id="bad") | {"eventClassifierCode": classifier}
    stub.script(page(bad, dcsa_event("EQUIPMENT", "GTIN", ETD - 30 * H, event_id="ok", created=ETD - 30 * H)))
    outcome = poll(subscription)
    assert (outcome.ok, outcome.stored, outcome.rejected) == (True, 1, 1)
    subscription = fresh(subscription)
    assert (subscription.consecutive_failures, subscription.cursor_created_at) == (0, ETD - 30 * H)


def test_an_unforeseen_error_reading_one_event_rejects_it_the_poll_completes_and_it_is_logged(
    feed, monkeypatch, caplog
):
    from tracking.ingest.adapters import dcsa

    read = dcsa.dcsa_event

    def failing(item):
        if item.get("eventID") == "odd":
            raise KeyError("a field the reader did not foresee")
        return read(item)

    monkeypatch.setattr(dcsa, "dcsa_event", failing)
    subscription, stub = feed
    stub.script(page(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="odd"), dcsa_event("TRANSPORT", "DEPA", ETD)))
    outcome = poll(subscription)
    assert (outcome.ok, outcome.stored, outcome.rejected) == (True, 1, 1)
    logged = [r for r in caplog.records if r.name == "tracking.ingest.formats"]
    assert logged[0].levelname == "ERROR"
    assert logged[0].exc_info[0] is KeyError


def test_an_event_created_in_the_future_is_stored_and_the_cursor_stays_at_now(feed):
    subscription, stub = feed
    typo = dcsa_event("EQUIPMENT", "GTIN", ETD - 30 * H, event_id="e1", created=NOW + datetime.timedelta(days=365))
    stub.script(page(typo), page())
    assert poll(subscription).stored == 1
    cursor = fresh(subscription).cursor_created_at
    assert cursor <= timezone.now()
    poll(fresh(subscription))  # asks for what the carrier created since then (less the hour of overlap)
    asked = datetime.datetime.fromisoformat(stub.seen[-1].query["eventCreatedDateTime:gte"])
    assert asked == cursor - H


def test_a_cursor_left_in_the_future_is_dropped_and_the_feed_read_again_from_the_start(feed):
    subscription, stub = feed
    TrackingSubscription.objects.filter(pk=subscription.pk).update(
        cursor_created_at=NOW + datetime.timedelta(days=365)  # written before reported times were capped
    )
    stub.script(page(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="e2", created=ETD + H)))
    outcome = poll(fresh(subscription))
    assert (outcome.ok, outcome.stored) == (True, 1)
    assert "eventCreatedDateTime:gte" not in stub.seen[0].query
    assert fresh(subscription).cursor_created_at == ETD + H


def test_a_carrier_that_hangs_times_out(feed, monkeypatch):
    subscription, stub = feed
    monkeypatch.setattr(http, "TIMEOUT_SECONDS", 0.3)
    stub.script(Reply(delay=1.5))
    outcome = poll(subscription)
    assert not outcome.ok
    assert "did not answer" in fresh(subscription).last_error


def test_the_token_comes_from_the_environment_never_the_database(feed, monkeypatch):
    subscription, stub = feed
    monkeypatch.setenv("OMS_CARRIER_TEST_DCSA_TOKEN", "s3cr3t-from-env")
    stub.script(page())
    poll(subscription)
    assert stub.seen[0].headers["authorization"] == "Bearer s3cr3t-from-env"


def test_a_rejected_credential_is_recorded_as_a_failure(feed):
    subscription, stub = feed
    stub.script(Reply(status=401, body={"message": "unauthorised"}))
    assert not poll(subscription).ok
    assert "401" in fresh(subscription).last_error


def test_the_rate_limit_is_one_bucket_per_carrier_shared_by_every_worker(feed):
    _subscription, _ = feed
    endpoint = CarrierEndpoint.objects.get()
    CarrierEndpoint.objects.filter(pk=endpoint.pk).update(rate_limit_per_minute=60)  # 1/s, bursts of 10
    at = timezone.now()
    waits = [polling.endpoint_take_token(endpoint_id=endpoint.pk, now=at) for _ in range(11)]
    assert waits[:10] == [0.0] * 10
    assert waits[10] == pytest.approx(1.0)
    assert polling.endpoint_take_token(endpoint_id=endpoint.pk, now=at + datetime.timedelta(seconds=1)) == 0.0


def test_polling_stops_when_the_shipment_is_delivered(feed):
    subscription, stub = feed
    stub.script(page(dcsa_event("EQUIPMENT", "DROP", ETD + 2 * H, place="DEHAM", event_id="drop")))
    poll(subscription)
    counts = polling.subscriptions_sync()
    assert counts["ended"] == 1
    assert not fresh(subscription).is_active
    assert polling.subscriptions_claim_due() == []


@pytest.fixture
def hapag_feed(stub_server, ocean_carriers):
    """Hapag-Lloyd's DCSA endpoint, beside Maersk's (`feed`)."""
    _, hapag = ocean_carriers
    return CarrierEndpoint.objects.create(
        carrier=hapag, kind=AdapterKind.DCSA, base_url=stub_server.url + "/hlcu/tnt", rate_limit_per_minute=600
    )


def test_a_master_booked_again_with_another_carrier_is_polled_at_that_carrier_only(
    feed, hapag_feed, ops_user, ops_scope
):
    """Review C: booked with Maersk (its feed subscribed), cancelled "switching carrier", then booked and confirmed
    with Hapag-Lloyd. Maersk's feed was still polled under the cancelled booking, and a poll's events whose
    reference we do not know land on the polled master: the old carrier's plan would replace the new one's ETA. The
    booking services end it and subscribe the new carrier at once, without waiting for the beat's sync."""
    subscription, _ = feed
    master = subscription.shipment
    Shipment.objects.filter(pk=master.pk).update(bill_number="")  # no B/L before the sailing: tracked by booking
    polling.subscriptions_sync()
    assert (fresh(subscription).reference_type, fresh(subscription).is_active) == ("booking", True)

    booking_services.booking_cancel(
        booking=Booking.objects.get(shipment=master), reason="switching carrier", by=ops_user, scope=ops_scope
    )
    assert not fresh(subscription).is_active
    assert polling.subscriptions_claim_due() == []
    again = booking_services.booking_request(shipment=master, carrier=hapag_feed.carrier, by=ops_user)
    booking_services.booking_confirm(
        booking=again, carrier_reference="HLCU1", departure_at=ETD, arrival_at=ETA, scope=ops_scope, by=ops_user
    )

    hapag = TrackingSubscription.objects.get(endpoint=hapag_feed)
    assert (hapag.shipment_id, hapag.reference_type, hapag.reference, hapag.is_active) == (
        master.pk, "booking", "HLCU1", True
    )  # fmt: skip
    assert not fresh(subscription).is_active
    assert polling.subscriptions_sync() == {"created": 0, "updated": 0, "ended": 0}  # the beat finds it so
    assert polling.subscriptions_claim_due() == [hapag.pk]


def test_a_master_booked_again_is_not_tracked_by_the_bill_of_the_carrier_it_left(feed, hapag_feed, ops_user, ops_scope):
    """The bill on a master is its carrier's (MBL): kept after the booking was cancelled, the next carrier's feed was
    polled by the old carrier's B/L. It goes with the carrier, and the new feed follows the new booking."""
    subscription, _ = feed
    master = subscription.shipment
    assert master.bill_number  # the feed's fixture tracks the master by its bill

    booking_services.booking_cancel(
        booking=Booking.objects.get(shipment=master), reason="switching carrier", by=ops_user, scope=ops_scope
    )
    master.refresh_from_db()
    assert master.bill_number == ""
    again = booking_services.booking_request(shipment=master, carrier=hapag_feed.carrier, by=ops_user)
    booking_services.booking_confirm(
        booking=again, carrier_reference="HLCU2", departure_at=ETD, arrival_at=ETA, scope=ops_scope, by=ops_user
    )
    hapag = TrackingSubscription.objects.get(endpoint=hapag_feed)
    assert (hapag.reference_type, hapag.reference) == ("booking", "HLCU2")


def test_the_sync_ends_the_feed_of_a_carrier_the_master_is_no_longer_booked_with(feed, hapag_feed):
    """The master's carrier changed without the booking services (as before the fix above): the sync puts it
    right, the old carrier's feed ended and the new one's made."""
    subscription, _ = feed
    Shipment.objects.filter(pk=subscription.shipment_id).update(carrier=hapag_feed.carrier)
    assert polling.subscriptions_sync() == {"created": 1, "updated": 0, "ended": 1}
    assert not fresh(subscription).is_active
    assert TrackingSubscription.objects.get(endpoint=hapag_feed).is_active


def test_a_master_back_in_planning_is_no_longer_polled(feed):
    """Its booking cancelled (as before the fix above, the carrier kept): the cancelled booking is polled no more."""
    subscription, _ = feed
    Shipment.objects.filter(pk=subscription.shipment_id).update(status="planning")
    assert polling.subscriptions_sync()["ended"] == 1
    assert not fresh(subscription).is_active


def test_a_new_reference_is_polled_from_the_start_not_from_the_cursor_of_the_old_one(feed):
    """Booking number → B/L (or the endpoint's kind switched): the cursor was the newest event of another query, and
    events of the B/L created before it were never asked for. Asked from the start, those seen are duplicates."""
    subscription, stub = feed
    Shipment.objects.filter(pk=subscription.shipment_id).update(bill_number="")
    polling.subscriptions_sync()  # tracked by the booking until the B/L is issued
    stub.script(page(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="e2", created=ETD + H)), page())
    poll(fresh(subscription))
    assert fresh(subscription).cursor_created_at == ETD + H

    Shipment.objects.filter(pk=subscription.shipment_id).update(bill_number=BILL)
    assert polling.subscriptions_sync()["updated"] == 1
    assert (fresh(subscription).reference_type, fresh(subscription).cursor_created_at) == ("bill", None)
    poll(fresh(subscription))
    asked = stub.seen[-1].query
    assert asked["transportDocumentReference"] == BILL
    assert "eventCreatedDateTime:gte" not in asked


def test_an_event_naming_another_shipment_goes_there_even_when_its_first_reference_is_unknown(
    feed, make_order, order_data, ocean_carriers, ops_user, ops_scope
):
    """A poll's references we do not store (the carrier's own container numbers) stand for the polled master, but
    only when none of the event's references names a shipment: here the B/L is another master's (review C saw it
    with a stub serving another booking's events), and the event went to the polled one."""
    subscription, stub = feed
    other = book(
        order=make_order(mode="ocean_fcl", lines=order_data()["lines"]), carrier=ocean_carriers[0], ops_user=ops_user,
        ops_scope=ops_scope, reference="MAEU262009999", bill="MAEU262009998",
    )  # fmt: skip
    box = "ZZZU1234565"  # a container number the carrier uses and we do not store
    theirs = dcsa_event("EQUIPMENT", "GTIN", ETD - 30 * H, event_id="theirs", container=box, bill=other.bill_number)
    ours = dcsa_event("EQUIPMENT", "GTIN", ETD - 29 * H, event_id="ours", container=box, bill="MAEU262000777")
    stub.script(page(theirs, ours))
    assert poll(subscription).stored == 2
    assert TrackingEvent.objects.get(source_event_id="theirs").shipment_id == other.pk
    assert TrackingEvent.objects.get(source_event_id="ours").shipment_id == subscription.shipment_id


def test_due_subscriptions_are_claimed_once(feed):
    subscription, _ = feed
    assert polling.subscriptions_claim_due() == [subscription.pk]
    assert polling.subscriptions_claim_due() == []  # the lease holds it until the poll is done or lost
    assert fresh(subscription).next_poll_at > timezone.now() + datetime.timedelta(minutes=9)


@pytest.mark.parametrize(
    ("next_in", "expected"),
    [
        (datetime.timedelta(hours=3), datetime.timedelta(minutes=15)),
        (datetime.timedelta(hours=30), datetime.timedelta(hours=1)),
        (datetime.timedelta(days=9), datetime.timedelta(hours=6)),
        (-datetime.timedelta(days=5), datetime.timedelta(hours=1)),
    ],
)
def test_the_cadence_follows_how_close_the_next_milestone_is(booked_fcl, next_in, expected):
    from tracking.models import Leg

    _, master = booked_fcl
    now = timezone.now()
    Leg.objects.filter(shipment=master).update(planned_departure_at=now + next_in, planned_arrival_at=None)
    assert polling.cadence(master.pk, now=now) == expected


def _validator(component: str) -> Draft4Validator:
    spec = yaml.safe_load(SPEC.read_text())
    registry = Registry().with_resource("urn:dcsa-tnt", Resource.opaque(spec))
    return Draft4Validator({"$ref": f"urn:dcsa-tnt#/components/schemas/{component}"}, registry=registry)


@pytest.mark.parametrize(
    ("component", "event"),
    [
        ("transportEvent", dcsa_event("TRANSPORT", "DEPA", ETD, event_id="5e51e72c-d872-4f14-8e7f-5a4a5b2e1e3a")),
        ("equipmentEvent", dcsa_event("EQUIPMENT", "LOAD", ETD, event_id="6e51e72c-d872-4f14-8e7f-5a4a5b2e1e3a")),
        ("shipmentEvent", dcsa_event("SHIPMENT", "ISSU", ETD, document="TRD")),
        ("transportEvent", dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM")),
    ],
)
def test_the_events_our_tests_serve_are_valid_dcsa_2_2_events(component, event):
    errors = list(_validator(component).iter_errors(event))
    assert errors == []


def test_the_spec_schema_catches_a_broken_event():
    assert list(_validator("transportEvent").iter_errors({"eventType": "TRANSPORT", "eventClassifierCode": 7}))


def test_a_deactivated_partner_is_no_longer_polled(feed):
    subscription, _ = feed
    carrier = CarrierEndpoint.objects.get().carrier
    carrier.is_active = False
    carrier.save(update_fields=["is_active"])
    assert polling.subscriptions_sync()["ended"] == 1
    assert not fresh(subscription).is_active
    assert polling.subscriptions_claim_due() == []


def test_an_endpoint_switched_off_is_neither_claimed_nor_polled_before_the_next_sync(feed):
    """Before the fix, an endpoint switched off in the console was still claimed and polled until the next
    `sync_tracking_subscriptions` (up to five minutes): requests to a carrier we had stopped."""
    subscription, stub = feed
    CarrierEndpoint.objects.update(is_active=False)
    assert polling.subscriptions_claim_due() == []
    outcome = poll(subscription)  # a poll claimed just before the switch
    assert stub.seen == []
    assert not outcome.ok
    assert not fresh(subscription).is_active  # ended at once, as the sync would


def test_a_carrier_switched_off_is_neither_claimed_nor_polled_before_the_next_sync(feed):
    """Before the fix, a carrier organisation switched off in the console was still polled until the next sync."""
    subscription, stub = feed
    carrier = CarrierEndpoint.objects.get().carrier
    carrier.is_active = False
    carrier.save(update_fields=["is_active"])
    assert polling.subscriptions_claim_due() == []
    outcome = poll(subscription)
    assert stub.seen == []
    assert not outcome.ok
    assert not fresh(subscription).is_active
