"""POST /api/v1/tracking/webhooks/{source}/: the signature matrix (RELIABILITY.md F1), replays and duplicates
(F2), the batch limit, unreadable bodies, rotation, and a carrier's source reaching only its own shipments."""

import datetime
import json
import time
from typing import Any

import pytest
from django.db import OperationalError, connection

from orders.models import OrderStatus
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import CONTAINER, ETD, SECRET, body_of, dcsa_event, oms_event, signed_headers
from tracking.ingest import formats, webhooks
from tracking.ingest.models import RejectedDelivery, TrackingEvent, WebhookSource

URL = "/api/v1/tracking/webhooks/acme-tms/"


def post(client, body, headers):
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return client.post(URL, data=body, content_type="application/json", **extra)


@pytest.fixture
def delivery(booked_fcl, webhook_source):
    return body_of([oms_event("DEPARTED", ETD, place="CNSHA", event_id="acme-1")])


def test_a_correctly_signed_delivery_is_stored_and_moves_the_order(client, booked_fcl, delivery):
    order, _ = booked_fcl
    response = post(client, delivery, signed_headers(delivery))
    assert response.status_code == 200
    assert response.json() == {
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "unmapped": 0,
        "unlinked": 0,
        "rejected": [],
    }
    event = TrackingEvent.objects.get()
    assert (event.source, event.source_kind, event.milestone_id) == ("webhook:acme-tms", "webhook", "DEPARTED")
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("no headers", lambda body: {}),
        ("no signature", lambda body: {webhooks.TIMESTAMP_HEADER: str(int(time.time()))}),
        ("wrong secret", lambda body: signed_headers(body, secret="whsec_someone_else")),
        ("body changed by one byte", lambda body: signed_headers(body.replace(b"DEPARTED", b"DEPARTEd"))),
        ("stale, ten minutes old", lambda body: signed_headers(body, at=time.time() - 600)),
        ("ten minutes in the future", lambda body: signed_headers(body, at=time.time() + 600)),
        ("not a timestamp", lambda body: {**signed_headers(body), webhooks.TIMESTAMP_HEADER: "yesterday"}),
        ("400 digits", lambda body: {**signed_headers(body), webhooks.TIMESTAMP_HEADER: "9" * 400}),
        ("non-ASCII digits", lambda body: {**signed_headers(body), webhooks.TIMESTAMP_HEADER: "١٧٠٠٠٠٠٠٠٠"}),
        (
            "no v1 prefix",
            lambda body: {
                **signed_headers(body),
                webhooks.SIGNATURE_HEADER: signed_headers(body)[webhooks.SIGNATURE_HEADER][3:],
            },
        ),
    ],
)
def test_a_wrong_missing_or_stale_signature_is_refused_and_nothing_is_stored(client, delivery, case, headers):
    response = post(client, delivery, headers(delivery))
    assert response.status_code == 401, case
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not TrackingEvent.objects.exists()
    assert not RejectedDelivery.objects.exists()


def test_re_serialised_json_does_not_verify_the_signature_is_over_the_raw_bytes(client, delivery):
    headers = signed_headers(delivery)
    reformatted = json.dumps(json.loads(delivery), indent=2).encode()
    assert post(client, reformatted, headers).status_code == 401


def test_an_unknown_source_is_refused_like_a_bad_signature(client, delivery):
    response = client.post(
        "/api/v1/tracking/webhooks/nobody/",
        data=delivery,
        content_type="application/json",
        **{"HTTP_X_OMS_TIMESTAMP": str(int(time.time())), "HTTP_X_OMS_SIGNATURE": "v1=" + "0" * 64},
    )
    assert response.status_code == 401


def test_a_replay_within_the_tolerance_is_answered_and_stored_once(client, booked_fcl, delivery):
    headers = signed_headers(delivery)
    first, replay = post(client, delivery, headers), post(client, delivery, headers)
    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json()["duplicates"] == 1
    assert TrackingEvent.objects.count() == 1


def test_a_late_older_event_is_kept_but_the_order_stays_where_it_is(client, booked_fcl, webhook_source):
    order, _ = booked_fcl
    later = body_of([oms_event("DELIVERED", ETD + datetime.timedelta(hours=40), place="DEHAM")])
    earlier = body_of([oms_event("DEPARTED", ETD, place="CNSHA")])
    post(client, later, signed_headers(later))
    post(client, earlier, signed_headers(earlier))
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert TrackingEvent.objects.count() == 2


def test_the_previous_secret_still_verifies_during_a_rotation(client, delivery, webhook_source):
    WebhookSource.objects.filter(pk=webhook_source.pk).update(
        secret="whsec_new_secret_abcdef0123456789", previous_secret=SECRET
    )
    assert post(client, delivery, signed_headers(delivery)).status_code == 200
    both = signed_headers(delivery, secret="whsec_new_secret_abcdef0123456789")
    both[webhooks.SIGNATURE_HEADER] += ", v1=" + "f" * 64
    assert post(client, delivery, both).status_code == 200


def test_dcsa_events_are_accepted_as_a_bare_array(client, booked_fcl, webhook_source):
    body = json.dumps(
        [dcsa_event("EQUIPMENT", "LOAD", ETD, event_id="d-1"), dcsa_event("TRANSPORT", "DEPA", ETD, event_id="d-2")]
    ).encode()
    response = post(client, body, signed_headers(body))
    assert response.json()["stored"] == 2
    assert set(TrackingEvent.objects.values_list("scheme", "milestone")) == {("dcsa", "LOADED"), ("dcsa", "DEPARTED")}


def test_a_thousand_events_are_one_delivery(client, booked_fcl, webhook_source):
    events = [oms_event("RECEIVED_AT_ORIGIN", ETD - datetime.timedelta(minutes=n), place="CNSHA") for n in range(1000)]
    body = body_of(events)
    response = post(client, body, signed_headers(body))
    assert response.status_code == 200
    assert response.json()["stored"] == 1000


def test_more_than_a_thousand_events_are_refused_with_413(client, booked_fcl, webhook_source):
    body = body_of([oms_event("RECEIVED_AT_ORIGIN", ETD, place="CNSHA")] * 1001)
    response = post(client, body, signed_headers(body))
    assert response.status_code == 413
    assert "at most 1,000 events; this one has 1,001" in response.json()["error"]["message"]
    assert not TrackingEvent.objects.exists()


def test_an_oversized_body_is_refused_before_it_is_read(client, webhook_source, monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_BYTES", 100)
    body = body_of([{"padding": "x" * 200}])
    response = post(client, body, signed_headers(body))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_signed_body_that_is_not_json_gets_400_and_is_kept_for_investigation(client, webhook_source):
    body = b"<xml>not json</xml>"
    response = post(client, body, signed_headers(body))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    kept = RejectedDelivery.objects.get()
    assert (kept.webhook_source, kept.status_code, kept.body) == (webhook_source, 400, "<xml>not json</xml>")


@pytest.mark.parametrize("nesting", [b'{"a":' * 3000 + b"1" + b"}" * 3000, b"[" * 100_000 + b"]" * 100_000])
def test_a_signed_body_nested_too_deeply_gets_400_and_is_kept(client, webhook_source, nesting):
    # Python's json raises RecursionError, not a ValueError, for JSON nested a few thousand levels deep: it was a
    # 500, nothing kept, and the sender retried the same delivery.
    body = b"[" + nesting + b"]"
    response = post(client, body, signed_headers(body))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert "nested too deeply" in response.json()["error"]["message"]
    kept = RejectedDelivery.objects.get()
    assert kept.status_code == 400
    assert body.decode().startswith(kept.body)  # kept, up to its first 64 KiB
    assert kept.body


def test_unreadable_events_are_listed_and_the_readable_ones_stored(client, booked_fcl, webhook_source):
    body = body_of(
        [
            {"milestone": "DEPARTED", "subject": {"type": "container", "value": CONTAINER}},
            oms_event("DEPARTED", ETD, place="CNSHA"),
        ]
    )
    answer = post(client, body, signed_headers(body)).json()
    assert answer["stored"] == 1
    assert answer["rejected"][0]["index"] == 0
    assert "occurred_at is missing" in answer["rejected"][0]["message"]


def test_a_carriers_source_reaches_only_the_shipments_it_carries(client, booked_fcl, ocean_carriers):
    order, _ = booked_fcl  # carried by Maersk
    _, hapag = ocean_carriers
    WebhookSource.objects.create(name="hapag", secret=SECRET, carrier=hapag)
    body = body_of([oms_event("DEPARTED", ETD, place="CNSHA")])
    response = client.post(
        "/api/v1/tracking/webhooks/hapag/",
        data=body,
        content_type="application/json",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed_headers(body).items()},
    )
    assert response.json()["unlinked"] == 1
    event = TrackingEvent.objects.get()
    assert (event.shipment, event.order) == (None, None)
    order.refresh_from_db()
    assert order.status == OrderStatus.PLANNED


def test_another_carriers_mapping_rules_do_not_apply(booked_fcl, ocean_carriers):
    from tracking.ingest.formats import oms_event as read
    from tracking.ingest.models import MappingRule
    from tracking.ingest.services import events_ingest
    from tracking.ingest.webhooks import source_for

    maersk, hapag = ocean_carriers
    MappingRule.objects.create(scheme="x12_214", code="ZZ", partner=hapag, milestone_id="DEPARTED")
    maersk_source = WebhookSource.objects.create(name="maersk", secret=SECRET, carrier=maersk)
    event = read(oms_event("X", ETD, code="ZZ", scheme="x12_214") | {"milestone": None})
    result = events_ingest(events=[event], source=source_for(maersk_source))
    assert result.unmapped == 1


def test_the_same_id_twice_in_one_delivery_is_stored_once(client, booked_fcl, webhook_source):
    body = body_of(
        [
            oms_event("DEPARTED", ETD, place="CNSHA", event_id="x"),
            oms_event("DEPARTED", ETD, place="CNSHA", event_id="x"),
        ]
    )
    assert post(client, body, signed_headers(body)).json()["duplicates"] == 1


def test_the_raw_payload_is_the_senders_own_json_not_a_re_serialisation(client, booked_fcl, webhook_source):
    text = '{"id":"w-1","milestone":"DEPARTED","occurred_at":"2026-03-01T08:00:00+01:00","location":"CNSHA",'
    text += '"subject":{"type":"container","value":"' + CONTAINER + '"},"weight_kg":12345678901234567890.5}'
    body = b'{"events": [ ' + text.encode() + b" ]}"
    assert post(client, body, signed_headers(body)).json()["stored"] == 1
    with connection.cursor() as cursor:  # Python's float would have rounded it; jsonb keeps the number sent
        cursor.execute("SELECT raw_payload->>'weight_kg' FROM tracking_trackingevent")
        assert cursor.fetchone() == ("12345678901234567890.5",)


def test_nan_is_not_json_the_delivery_gets_400_and_is_kept(client, webhook_source):
    body = b'[{"milestone": "DEPARTED", "weight_kg": NaN}]'
    response = post(client, body, signed_headers(body))
    assert response.status_code == 400
    assert "NaN" in response.json()["error"]["message"]
    assert RejectedDelivery.objects.count() == 1
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b' [ {"a": 1} , {"b": [1, 2], "c": "\\u00e9"} ] ',
        b'{"events": [{"a": 1}], "source": {"events": []}}',
        b'{"events": [1], "events": 2}',
        b'{"events": 5}',
        b"{}",
        b'"text"',
        b'\xef\xbb\xbf[{"a": 1}]',
        '[{"a": "\u00e9"}]'.encode("utf-16"),
        b"",
        b"[1,]",
        b"[1 2]",
        b'{"events": []} trailing',
        b'{"events" []}',
        b"{events: []}",
        b'{"events": [], }',
        b"\xff\xfe\x00",
    ],
)
def test_reading_a_delivery_agrees_with_json_loads_and_keeps_each_events_text(body):
    try:
        document = json.loads(body)
    except ValueError as exc:
        with pytest.raises(ValueError, match=str(exc).split(":")[0]):
            webhooks.read_events(body)
        return
    expected = document if isinstance(document, list) else None
    if isinstance(document, dict) and isinstance(document.get("events"), list):
        expected = document["events"]
    found = webhooks.read_events(body)
    if expected is None:
        assert found is None
    else:
        assert [item for item, _ in found] == expected
        assert [json.loads(text) for _, text in found] == expected


def test_an_oversized_body_without_content_length_is_413_and_not_read_whole(booked_fcl, webhook_source, monkeypatch):
    """A chunked request has no Content-Length: the limit holds all the same."""
    from django.test import RequestFactory

    from tracking.ingest.api import tracking_webhook

    monkeypatch.setattr(webhooks, "MAX_BYTES", 100)
    body = body_of([oms_event("DEPARTED", ETD, place="CNSHA", event_id="acme-1")])
    assert len(body) > 100
    extra: dict[str, Any] = {
        f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed_headers(body).items()
    }
    request = RequestFactory().generic("POST", URL, body, content_type="application/json", **extra)
    del request.META["CONTENT_LENGTH"]
    response = tracking_webhook(request, source="acme-tms")
    assert response.status_code == 413
    assert response.data["error"]["message"].startswith("The body is more than 100 bytes")
    assert not TrackingEvent.objects.exists()


# --- one bad event, never a bad delivery: rejected with why, the others stored ---------------------------


def answer_for(client, events, *, replace=(b"", b"")):
    body = body_of(events).replace(*replace) if replace[0] else body_of(events)
    response = post(client, body, signed_headers(body))
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("classifier", [["ACT"], {"code": "ACT"}])
def test_a_classifier_that_is_a_list_or_an_object_is_rejected_and_the_rest_stored(
    client, booked_fcl, webhook_source, classifier
):
    bad = oms_event("LOADED", ETD, place="CNSHA", event_id="bad") | {"classifier": classifier}
    answer = answer_for(client, [oms_event("DEPARTED", ETD, place="CNSHA", event_id="ok"), bad])
    assert answer["stored"] == 1
    assert [r["index"] for r in answer["rejected"]] == [1]
    assert "classifier" in answer["rejected"][0]["message"]
    assert "is not one of ACT, EST, PLN" in answer["rejected"][0]["message"]


def test_a_dcsa_classifier_that_is_a_list_is_rejected_and_the_rest_stored(client, booked_fcl, webhook_source):
    bad = dcsa_event("TRANSPORT", "DEPA", ETD, event_id="bad") | {"eventClassifierCode": ["ACT"]}
    answer = answer_for(client, [bad, dcsa_event("EQUIPMENT", "LOAD", ETD - datetime.timedelta(hours=6))])
    assert answer["stored"] == 1
    assert answer["rejected"][0]["index"] == 0
    assert "eventClassifierCode" in answer["rejected"][0]["message"]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("eventClassifierCode", "eventClassifierCode is missing: give ACT, EST or PLN."),
        ("eventType", "eventType is missing: give TRANSPORT, EQUIPMENT or SHIPMENT."),
    ],
)
def test_a_dcsa_event_missing_a_field_is_told_that_field_not_our_format(
    client, booked_fcl, webhook_source, missing, message
):
    """Review D: a DCSA event without its eventClassifierCode was read as one of our events and answered 'Give
    "milestone" (one of ours, e.g. DEPARTED) or "code" with its "scheme"', which told a DCSA sender nothing. An event
    naming DCSA's own fields, and no milestone or code of ours, is read as DCSA, however incomplete."""
    bad = dcsa_event("TRANSPORT", "DEPA", ETD, event_id="incomplete")
    del bad[missing]
    answer = answer_for(client, [bad, dcsa_event("EQUIPMENT", "LOAD", ETD - datetime.timedelta(hours=6))])
    assert answer["stored"] == 1
    assert answer["rejected"] == [{"index": 0, "message": message}]


def test_our_event_with_a_stray_dcsa_field_is_still_ours(client, booked_fcl, webhook_source):
    event = oms_event("DEPARTED", ETD, place="CNSHA", event_id="ours") | {"eventID": "tms-884213"}
    assert answer_for(client, [event])["stored"] == 1


@pytest.mark.parametrize("when", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_a_time_at_the_edge_of_the_calendar_is_rejected_naming_the_field(client, booked_fcl, webhook_source, when):
    bad = oms_event("LOADED", ETD, place="CNSHA", event_id="bad") | {"occurred_at": when}
    answer = answer_for(client, [bad, oms_event("DEPARTED", ETD, place="CNSHA", event_id="ok")])
    assert answer["stored"] == 1
    assert answer["rejected"][0]["index"] == 0
    assert answer["rejected"][0]["message"].startswith(f"occurred_at {when!r} is outside the calendar")


@pytest.mark.parametrize(
    ("where", "replace"),
    [
        ("the id", (b'"bad-id"', b'"bad-\\ud800"')),
        ("the subject", (b'"MSCU1234565"', b'"MSCU\\udc00"')),
        ("the reason", (b'"XX"', b'"\\udc00 late"')),
        ("a field we do not read", (b'"YY"', b'"\\ud800"')),
        ("a field we do not read, as raw bytes", (b'"YY"', b'"\xed\xa0\x80"')),  # UTF-8 of U+D800: not UTF-8
        ("a high surrogate followed by another escape", (b'"YY"', b'"\\ud800\\u0041"')),
    ],
)
def test_a_lone_surrogate_in_one_event_rejects_that_event_and_the_rest_is_stored(
    client, booked_fcl, webhook_source, where, replace
):
    bad = oms_event("LOADED", ETD, place="CNSHA", event_id="bad-id", reason="XX", note="YY")
    bad["subject"]["value"] = "MSCU1234565" if where == "the subject" else CONTAINER
    events = [oms_event("DEPARTED", ETD, place="CNSHA", event_id="ok"), bad]
    answer = answer_for(client, events, replace=replace)
    assert answer["stored"] == 1, where
    assert [r["index"] for r in answer["rejected"]] == [1]
    assert "lone UTF-16 surrogate" in answer["rejected"][0]["message"]
    assert answer_for(client, events, replace=replace)["duplicates"] == 1  # sent again: no poison batch
    assert TrackingEvent.objects.get().source_event_id == "ok"


def test_a_surrogate_pair_is_one_character_and_is_stored(client, booked_fcl, webhook_source):
    event = oms_event("DEPARTED", ETD, place="CNSHA", note="YY")
    assert answer_for(client, [event], replace=(b'"YY"', b'"\\ud83d\\ude9a"'))["stored"] == 1
    assert TrackingEvent.objects.get().raw_payload["note"] == "\U0001f69a"


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(client, booked_fcl, webhook_source):
    event = oms_event("DEPARTED", ETD, place="CNSHA", note="C:\\u0000")  # JSON "C:\\u0000": no NUL in it
    assert answer_for(client, [event])["stored"] == 1
    assert TrackingEvent.objects.get().raw_payload["note"] == "C:\\u0000"


def test_an_unforeseen_error_reading_one_event_rejects_only_it_and_is_logged(
    client, booked_fcl, webhook_source, monkeypatch, caplog
):
    read = webhooks.any_event

    def failing(item, **kwargs):
        if item.get("id") == "odd":
            raise TypeError("a shape the reader did not foresee")
        return read(item, **kwargs)

    monkeypatch.setattr(webhooks, "any_event", failing)
    events = [oms_event("DEPARTED", ETD, place="CNSHA", event_id="odd"), oms_event("LOADED", ETD, place="CNSHA")]
    answer = answer_for(client, events)
    assert answer["stored"] == 1
    assert answer["rejected"] == [{"index": 0, "message": formats.UNREADABLE}]
    logged = [r for r in caplog.records if r.name == "tracking.ingest.formats"]
    assert logged[0].levelname == "ERROR"
    assert "webhook source acme-tms" in logged[0].getMessage()
    assert "a shape the reader did not foresee" in str(logged[0].exc_info[1])


def test_a_database_error_while_reading_is_not_taken_for_a_bad_event():
    def broken(item):
        raise OperationalError("server closed the connection")

    with pytest.raises(OperationalError):
        formats.read_all([{}], broken, sender="test")


def test_a_deactivated_partners_webhook_is_refused(client, booked_fcl, ocean_carriers):
    """Deactivating a partner switches off its tracking webhook, as it does its API keys."""
    order, _master = booked_fcl  # carried by Maersk
    status_before = order.status
    maersk, _ = ocean_carriers
    WebhookSource.objects.create(name="maersk", secret=SECRET, carrier=maersk)
    maersk.is_active = False
    maersk.save(update_fields=["is_active"])
    body = body_of([oms_event("DEPARTED", ETD, place="CNSHA")])
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed_headers(body).items()}
    response = client.post("/api/v1/tracking/webhooks/maersk/", data=body, content_type="application/json", **extra)
    assert response.status_code == 401
    assert not TrackingEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == status_before
