"""RELIABILITY.md F1/F2 gaps for POST /api/v1/tracking/webhooks/{source}/: a delivery at the plan's 5 MB is refused at
the default limit, a secret rotated through the console overlaps with the old one for one rotation only, and the
sender's event id is the dedupe key whole (never cut to 100 characters) and with its time, in one delivery as in two."""

import datetime
import hashlib
import uuid

import pytest

from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, SECRET, body_of, dcsa_event, oms_event, signed_headers
from tracking.ingest import webhooks
from tracking.ingest.models import RejectedDelivery, TrackingEvent, WebhookSource

URL = "/api/v1/tracking/webhooks/acme-tms/"


def post(client, body, headers):
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return client.post(URL, data=body, content_type="application/json", **extra)


def test_a_signed_5_mb_delivery_is_413_at_the_default_limit_and_nothing_is_kept(client, booked_fcl, webhook_source):
    event = oms_event("DEPARTED", ETD, place="CNSHA", event_id="big-1", note="x" * (5 * 1024 * 1024))
    body = body_of([event])
    assert len(body) > 5 * 1024 * 1024 > webhooks.MAX_BYTES

    response = post(client, body, signed_headers(body))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not TrackingEvent.objects.exists()
    assert not RejectedDelivery.objects.exists()


def _rotate(client, source):
    client.post(
        "/admin/tracking/webhooksource/",
        {"action": "rotate_secret", "_selected_action": [source.pk], "post": "yes"},
    )
    source.refresh_from_db()
    return source.secret


def test_after_a_console_rotation_old_and_new_secrets_verify_and_the_next_rotation_ends_the_old(
    client, login, admin_user, booked_fcl, webhook_source
):
    staff = login(admin_user)
    first, second, third = (
        body_of([oms_event("RECEIVED_AT_ORIGIN", ETD - datetime.timedelta(hours=n), place="CNSHA", event_id=f"r-{n}")])
        for n in (1, 2, 3)
    )

    new_secret = _rotate(staff, webhook_source)
    assert new_secret != SECRET
    assert len(new_secret.removeprefix("whsec_")) >= 32  # at least 24 random bytes, base64url
    assert post(client, first, signed_headers(first)).status_code == 200  # the old secret, during the overlap
    assert post(client, second, signed_headers(second, secret=new_secret)).status_code == 200

    _rotate(staff, webhook_source)
    refused = post(client, third, signed_headers(third))  # the secret from before the first rotation
    assert refused.status_code == 401
    assert post(client, third, signed_headers(third, secret=new_secret)).status_code == 200
    assert sorted(TrackingEvent.objects.values_list("source_event_id", flat=True)) == ["r-1", "r-2", "r-3"]
    assert WebhookSource.objects.get(pk=webhook_source.pk).previous_secret == new_secret


LONG_PREFIX = "urn:acme-tms:shipment:CSQU3054383:" + "x" * 70  # 104 characters: longer than the column


def _event(wire_format, milestone, at, *, place, event_id):
    if wire_format == "dcsa":
        code = {"DEPARTED": "DEPA", "ARRIVED": "ARRI"}[milestone]
        return dcsa_event("TRANSPORT", code, at, place=place, event_id=event_id)
    return oms_event(milestone, at, place=place, event_id=event_id)


@pytest.mark.parametrize("wire_format", ["ours", "dcsa"])
def test_two_events_whose_long_ids_differ_only_after_100_characters_are_both_stored(
    client, booked_fcl, webhook_source, wire_format
):
    departed = _event(wire_format, "DEPARTED", ETD, place="CNSHA", event_id=LONG_PREFIX + ":departed")
    arrived = _event(
        wire_format, "ARRIVED", ETD + datetime.timedelta(hours=30), place="DEHAM", event_id=LONG_PREFIX + ":arrived"
    )
    body = body_of([departed, arrived])

    answer = post(client, body, signed_headers(body)).json()

    assert (answer["stored"], answer["duplicates"]) == (2, 0), answer
    assert TrackingEvent.objects.count() == 2


def test_a_long_id_is_stored_as_its_hash_and_its_resend_is_a_duplicate(client, booked_fcl, webhook_source):
    event_id = LONG_PREFIX + ":departed"
    body = body_of([oms_event("DEPARTED", ETD, place="CNSHA", event_id=event_id)])
    assert post(client, body, signed_headers(body)).json()["stored"] == 1

    again = post(client, body, signed_headers(body)).json()

    assert (again["stored"], again["duplicates"]) == (0, 1), again
    stored = TrackingEvent.objects.get()
    assert stored.source_event_id == "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    assert stored.raw_payload["id"] == event_id  # the whole id, as sent


def test_an_id_that_fits_keeps_the_text_and_key_it_had_so_rows_stored_earlier_still_match(
    client, booked_fcl, webhook_source
):
    event_id = "e" * 100
    body = body_of([oms_event("DEPARTED", ETD, place="CNSHA", event_id=event_id)])

    post(client, body, signed_headers(body))

    stored = TrackingEvent.objects.get()
    digest = hashlib.sha256(f"webhook:acme-tms|{event_id}".encode()).hexdigest()
    assert stored.source_event_id == event_id
    assert stored.id_key == uuid.UUID(digest[:32])  # the key as computed before long ids were hashed


def test_an_id_resent_with_a_corrected_time_is_stored_the_same_in_one_delivery_as_in_two(
    client, booked_fcl, webhook_source
):
    """docs/tracking-events.md: "an event re-sent under the same id with a corrected time is a new row". Across two
    deliveries it is; inside one delivery the second used to be dropped as a duplicate."""
    first = oms_event("DEPARTED", ETD, place="CNSHA", event_id="dep-1")
    corrected = oms_event("DEPARTED", ETD + datetime.timedelta(hours=2), place="CNSHA", event_id="dep-1")

    both = body_of([first, corrected])
    one_delivery = post(client, both, signed_headers(both)).json()
    stored_in_one = sorted(TrackingEvent.objects.values_list("event_at", flat=True))
    TrackingEvent.objects.all().delete()
    for body in (body_of([first]), body_of([corrected])):
        post(client, body, signed_headers(body))
    stored_in_two = sorted(TrackingEvent.objects.values_list("event_at", flat=True))

    assert stored_in_two == [ETD, ETD + datetime.timedelta(hours=2)]  # the documented behaviour
    assert stored_in_one == stored_in_two, one_delivery
    assert (one_delivery["stored"], one_delivery["duplicates"]) == (2, 0)


def test_the_same_id_and_time_twice_in_one_delivery_is_still_one_event(client, booked_fcl, webhook_source):
    departed = oms_event("DEPARTED", ETD, place="CNSHA", event_id="dep-1")
    same_id_and_time = oms_event("DEPARTED", ETD, place="CNNGB", event_id="dep-1")  # another place: the id decides
    body = body_of([departed, same_id_and_time])

    answer = post(client, body, signed_headers(body)).json()

    assert (answer["stored"], answer["duplicates"]) == (1, 1), answer


def test_a_milestone_file_keeps_two_rows_whose_long_event_ids_share_their_first_100_characters(
    login, ops_user, booked_fcl
):
    from tests.tracking.test_ingest_files import csv_file, upload
    from tracking.ingest.models import EventUpload

    when = ETD.strftime("%Y-%m-%d %H:%M")
    header = "reference,reference_type,milestone,occurred_at,classifier,location,note,event_id"
    file = csv_file(
        f"CSQU3054383,container,LOADED,{when},ACT,CNSHA,,{LONG_PREFIX}:loaded",
        f"CSQU3054383,container,DEPARTED,{when},ACT,CNSHA,,{LONG_PREFIX}:departed",
        header=header,
    )

    upload(login(ops_user), file)

    assert EventUpload.objects.get().events_stored == 2
    assert set(TrackingEvent.objects.values_list("milestone", flat=True)) == {"LOADED", "DEPARTED"}
