"""A correctly signed, readable webhook delivery whose events are partly refused (an eventType PARTY, an actual time in
the future, a time without an offset, a missing field) is kept as a RejectedDelivery with status 200: its counts, each
refused event's index, the sender's event id and the reason in the words the sender got, and the body's first 64 KB.
The tracking monitor lists it under "Webhook deliveries with problems" and the console shows it read-only; a delivery
with nothing refused writes nothing (walk finding H6; docs/tracking-events.md, "Deliveries with problems").

Before the fix the refusals were only in the HTTP answer: the monitor's "Unreadable webhook deliveries" said "None."
while a carrier's integration silently lost events."""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, NOW, dcsa_event, deliver_signed, oms_event, signed_headers
from tests.tracking.test_ingest_support import WEBHOOK_URL as WEBHOOK
from tracking.ingest import webhooks
from tracking.ingest.models import RejectedDelivery, TrackingEvent, WebhookSource

DAY = datetime.timedelta(days=1)


def _party(event_id: str) -> dict:
    """A DCSA event of a type we do not take (PARTY): refused, the rest of its delivery stored."""
    return {**dcsa_event("SHIPMENT", "RECE", ETD), "eventType": "PARTY", "eventID": event_id}


@pytest.fixture
def partly_refused(booked_fcl, webhook_source, client):
    """A DCSA delivery of one good departure, a PARTY event and an actual arrival three days ahead."""
    answer = deliver_signed(
        client,
        dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1"),
        _party("party-1"),
        dcsa_event("TRANSPORT", "ARRI", NOW + 3 * DAY, place="DEHAM", event_id="arr-future"),
    )
    return answer


def test_a_partly_refused_dcsa_delivery_stores_the_good_event_and_keeps_the_refusals(partly_refused, webhook_source):
    answer = partly_refused
    assert (answer["received"], answer["stored"]) == (3, 1)
    assert TrackingEvent.objects.get().source_event_id == "dep-1"
    kept = RejectedDelivery.objects.get()
    assert kept.webhook_source == webhook_source
    assert kept.status_code == 200  # answered 200: the delivery was read, some of its events refused
    assert (kept.events_received, kept.events_stored, kept.duplicates, kept.refused_count) == (3, 1, 0, 2)
    assert kept.refusals == [
        {"index": 1, "event_id": "party-1", "message": answer["rejected"][0]["message"]},
        {"index": 2, "event_id": "arr-future", "message": answer["rejected"][1]["message"]},
    ]
    assert "PARTY" in kept.refusals[0]["message"]  # the sender's own words
    assert kept.reason == f"2 of 3 events refused: {answer['rejected'][0]['message']}"[:300]
    assert json.loads(kept.body)["events"][1]["eventType"] == "PARTY"  # the body as sent


def test_our_own_format_keeps_a_time_without_offset_and_a_missing_field(booked_fcl, webhook_source, client):
    no_offset = oms_event("ARRIVED", ETD, place="DEHAM", event_id="no-offset") | {"occurred_at": "2026-03-01T08:00:00"}
    missing = {"id": "no-time", "milestone": "DEPARTED", "subject": {"type": "container", "value": "CSQU3054383"}}
    answer = deliver_signed(client, oms_event("DEPARTED", ETD, place="CNSHA", event_id="ok"), no_offset, missing)

    kept = RejectedDelivery.objects.get()
    assert [(r["index"], r["event_id"]) for r in kept.refusals] == [(1, "no-offset"), (2, "no-time")]
    assert "no UTC offset" in kept.refusals[0]["message"]
    assert "occurred_at is missing" in kept.refusals[1]["message"]
    assert [r["message"] for r in kept.refusals] == [r["message"] for r in answer["rejected"]]
    assert (kept.events_stored, kept.refused_count) == (1, 2)


@pytest.mark.parametrize("redelivered", [False, True], ids=["new", "all duplicates"])
def test_a_delivery_with_nothing_refused_writes_no_record(booked_fcl, webhook_source, client, redelivered):
    events = [dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1")]
    deliver_signed(client, *events)
    answer = deliver_signed(client, *events) if redelivered else None

    assert TrackingEvent.objects.count() == 1
    assert answer is None or answer["duplicates"] == 1
    assert not RejectedDelivery.objects.exists()


def test_keeping_the_refusals_costs_one_insert_whatever_their_number(booked_fcl, webhook_source, client):
    departure = dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1")
    deliver_signed(client, departure)  # stored; the ones measured below carry it again, a duplicate, and the same work

    with CaptureQueriesContext(connection) as clean:
        deliver_signed(client, departure)
    with CaptureQueriesContext(connection) as refused:
        deliver_signed(client, departure, *(_party(f"p-{n}") for n in range(20)))

    added = [query["sql"] for query in refused.captured_queries[len(clean.captured_queries) :]]
    assert len(refused) == len(clean) + 1
    assert 'INSERT INTO "tracking_rejecteddelivery"' in added[0]  # pghistory puts its context before the statement


def test_only_the_first_refusals_are_kept_and_all_are_counted(booked_fcl, webhook_source, client):
    many = webhooks.KEPT_REFUSALS + 10
    deliver_signed(client, *(_party(f"p-{n}") for n in range(many)))

    kept = RejectedDelivery.objects.get()
    assert kept.refused_count == kept.events_received == many
    assert len(kept.refusals) == webhooks.KEPT_REFUSALS
    assert kept.refusals[-1]["index"] == webhooks.KEPT_REFUSALS - 1


def test_an_event_id_that_is_not_text_is_kept_as_sent_and_bounded(booked_fcl, webhook_source, client):
    deliver_signed(client, {**_party("x"), "eventID": 12345}, {**_party("x"), "eventID": "y" * 500}, ["not an event"])

    refusals = RejectedDelivery.objects.get().refusals
    assert [r["event_id"] for r in refusals] == ["12345", "y" * webhooks.KEPT_EVENT_ID_CHARS, ""]


@pytest.mark.parametrize(
    ("sent", "kept"), [(b'"bad-\\ud800"', "bad-\\ud800"), (b'"bad-\\u0000"', "bad-\\u0000")], ids=["surrogate", "NUL"]
)
def test_an_event_id_postgresql_cannot_store_is_kept_escaped(booked_fcl, webhook_source, client, sent, kept):
    # A lone surrogate or a NUL in an event is why it is refused; jsonb and text refuse both, and the record failed
    # with a 500 after the good events were stored (the sender retried the delivery again and again).
    good = dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1")
    body = json.dumps({"events": [good, _party("ID")]}).encode().replace(b'"ID"', sent)
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed_headers(body).items()}

    response = client.post(WEBHOOK, data=body, content_type="application/json", **extra)

    assert response.status_code == 200
    assert response.json()["stored"] == 1
    assert RejectedDelivery.objects.get().refusals[0]["event_id"] == kept


def test_a_utf16_delivery_is_kept_as_the_text_it_was(booked_fcl, webhook_source, client):
    # JSON may come in UTF-16 (we read it): its bytes read as UTF-8 hold NULs, which PostgreSQL's text refuses.
    events = [dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1"), _party("party-1")]
    body = json.dumps({"events": events}).encode("utf-16")
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed_headers(body).items()}

    response = client.post(WEBHOOK, data=body, content_type="application/json", **extra)

    assert response.status_code == 200
    assert json.loads(RejectedDelivery.objects.get().body)["events"][1]["eventID"] == "party-1"


def test_the_monitor_lists_unreadable_and_partly_refused_deliveries_newest_first(
    partly_refused, webhook_source, login, ops_user
):
    unreadable = RejectedDelivery.objects.create(
        webhook_source=webhook_source, status_code=400, reason="The body is not JSON: Expecting value.",
        received_at=NOW - DAY,
    )  # fmt: skip

    response = login(ops_user).get(reverse("tracking_ingest:monitor"))

    listed = response.context["rejections"]
    assert [d.status_code for d in listed] == [200, 400]
    assert listed[1] == unreadable
    page = response.content.decode()
    assert "Webhook deliveries with problems" in page
    assert "Unreadable webhook deliveries" not in page
    assert "2 of 3 events refused" in page
    assert "1 stored" in page
    assert "party-1" in page  # the first reasons, with the sender's event ids
    assert "arr-future" in page
    assert "The body is not JSON" in page
    assert reverse("admin:tracking_rejecteddelivery_changelist") not in page  # operations cannot open the console


def test_the_monitor_links_the_console_list_for_those_who_may_open_it(partly_refused, login, admin_user):
    page = login(admin_user).get(reverse("tracking_ingest:monitor")).content.decode()
    assert reverse("admin:tracking_rejecteddelivery_changelist") in page
    kept = RejectedDelivery.objects.get()
    assert reverse("admin:tracking_rejecteddelivery_change", args=[kept.pk]) in page


def test_the_monitor_costs_the_same_queries_with_more_problem_deliveries(
    booked_fcl, webhook_source, client, login, ops_user, django_assert_max_num_queries
):
    deliver_signed(client, dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1"), _party("p-0"))
    staff = login(ops_user)
    staff.get("/tracking/")  # warm the session
    with django_assert_max_num_queries(9) as few:
        staff.get("/tracking/")
    for n in range(1, 8):
        other = WebhookSource.objects.create(name=f"carrier-{n}", secret=webhook_source.secret)
        deliver_signed(client, _party(f"p-{n}"), _party(f"q-{n}"), url=f"/api/v1/tracking/webhooks/{other.name}/")
        RejectedDelivery.objects.create(webhook_source=other, status_code=400, reason="not JSON")

    with django_assert_max_num_queries(9) as many:
        response = staff.get("/tracking/")

    assert len(many) == len(few)
    assert len(response.context["rejections"]) == 10


def test_the_console_shows_a_partly_refused_delivery_read_only(partly_refused, login, admin_user):
    staff = login(admin_user)
    kept = RejectedDelivery.objects.get()

    listing = staff.get(reverse("admin:tracking_rejecteddelivery_changelist"))
    page = staff.get(reverse("admin:tracking_rejecteddelivery_change", args=[kept.pk]))

    assert listing.status_code == page.status_code == 200
    assert "2 of 3 events refused" in listing.content.decode()
    text = page.content.decode()
    assert "Reason given" in text  # the refusals as a table
    assert "party-1" in text
    assert "arr-future" in text
    assert "PARTY" in text
    assert "Events refused, all of them (the list below keeps the first 50)." in text  # the fields' help texts
    assert 'name="_save"' not in text  # a record: nothing to edit
    assert "refused_count" not in page.context["adminform"].form.fields  # every field shown read-only


def test_old_deliveries_with_problems_are_deleted_after_the_retention_period(db, webhook_source, settings):
    """The daily beat task deletes the records OMS_TRACKING_PROBLEM_DELIVERY_DAYS old; 0 keeps them."""
    from django.utils import timezone

    from tracking.ingest.tasks import delete_old_problem_deliveries

    now = timezone.now()
    _old, recent = (
        RejectedDelivery.objects.create(
            webhook_source=webhook_source, status_code=400, reason="unreadable", received_at=now - age
        )
        for age in (datetime.timedelta(days=91), datetime.timedelta(days=89))
    )
    settings.OMS_TRACKING_PROBLEM_DELIVERY_DAYS = 0
    assert delete_old_problem_deliveries() == 0

    settings.OMS_TRACKING_PROBLEM_DELIVERY_DAYS = 90
    assert delete_old_problem_deliveries() == 1
    assert list(RejectedDelivery.objects.values_list("pk", flat=True)) == [recent.pk]
    assert "tracking-delete-old-problem-deliveries" in settings.CELERY_BEAT_SCHEDULE
