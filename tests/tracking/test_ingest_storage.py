"""How a batch is stored and announced: COPY into the staging table then one INSERT … ON CONFLICT, every
statement counted, NUL characters refused per event, and the domain events sent once per batch."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import CONTAINER, ETA, ETD, NOW, dcsa_event, oms_event
from tracking.ingest import checks, services
from tracking.ingest import events as domain_events
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import EtaHistory, SourceKind, TrackingEvent

H = datetime.timedelta(hours=1)
FEED = services.Source(kind=SourceKind.WEBHOOK, name="feed")


def ingest(*raw):
    return services.events_ingest(events=[read_dcsa(e) if "eventType" in e else read_oms(e) for e in raw], source=FEED)


def departures(count, offset=0):
    return [dcsa_event("EQUIPMENT", "GTIN", ETD - datetime.timedelta(minutes=offset + n), place="CNSHA")
            for n in range(count)]  # fmt: skip


def test_the_copy_and_the_insert_are_counted_like_any_statement(booked_fcl):
    with CaptureQueriesContext(connection) as queries:
        ingest(*departures(3))
    statements = [q["sql"] for q in queries]
    assert sum(sql.startswith("COPY pg_temp.tracking_event_batch") for sql in statements) == 1
    assert sum(sql.startswith("INSERT INTO tracking_trackingevent") for sql in statements) == 1


def test_statements_per_batch_do_not_grow_with_estimates_alerts_and_duplicates(booked_fcl):
    def mixed(size, offset):
        events = departures(size, offset)
        events += [dcsa_event("TRANSPORT", "ARRI", ETA + datetime.timedelta(minutes=offset + n), classifier="EST",
                              place="DEHAM", created=NOW - datetime.timedelta(minutes=5000 - offset - n))
                   for n in range(size)]  # fmt: skip
        events += [oms_event("X", ETD - datetime.timedelta(minutes=offset + n), code="ZZ9", scheme="x12_214")
                   | {"milestone": None} for n in range(size)]  # fmt: skip
        return events + events[:size]  # and every departure twice

    ingest(*mixed(2, 0))  # warm: the order moves in transit here, once
    with CaptureQueriesContext(connection) as small:
        ingest(*mixed(5, 100))
    with CaptureQueriesContext(connection) as large:
        result = ingest(*mixed(200, 1000))
    assert len(large) == len(small)
    assert (result.stored, result.duplicates, result.unmapped) == (600, 200, 200)
    assert EtaHistory.objects.count() == 2 + 5 + 200


def test_an_event_holding_a_nul_character_is_rejected_and_the_rest_stored(booked_fcl):
    with_nul = oms_event("DEPARTED", ETD, place="CNSHA") | {"reason": "bad\x00byte"}
    result = ingest(oms_event("LOADED", ETD - H, place="CNSHA"), with_nul)
    assert result.stored == 1
    assert result.rejected == [(1, "The event contains a NUL (\\u0000) character, which cannot be stored.")]
    assert TrackingEvent.objects.get().milestone_id == "LOADED"


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("the id", {"id": "bad-\ud800"}),
        ("the code", {"milestone": None, "scheme": "x12_214", "code": "A\udc00"}),
        ("the subject", {"subject": {"type": "container", "value": "MSCU\udc00"}}),
        ("a second reference", {"bill_of_lading": "MAEU\ud800"}),
        ("the reason", {"reason": "late \udc00"}),
        ("the place's name", {"location": "Hamburg \ud800"}),
        ("a field we do not read", {"note": ["\udc00"]}),
    ],
)
def test_an_event_holding_a_lone_surrogate_is_rejected_and_the_rest_stored(booked_fcl, where, change):
    bad = oms_event("DEPARTED", ETD, place="CNSHA") | change
    if where == "a second reference":
        bad |= {"container": CONTAINER} | {"subject": None}
    result = ingest(oms_event("LOADED", ETD - H, place="CNSHA", event_id="ok"), bad)
    assert result.stored == 1, where
    assert result.rejected == [(1, checks.SURROGATE_PROBLEM)]
    assert TrackingEvent.objects.get().source_event_id == "ok"


def test_a_nul_in_a_reference_is_rejected_before_the_references_are_looked_up(booked_fcl):
    bad = oms_event("DEPARTED", ETD, place="CNSHA", subject=("container", "MSCU\x00"))
    result = ingest(oms_event("LOADED", ETD - H, place="CNSHA"), bad)
    assert result.stored == 1
    assert result.rejected == [(1, checks.NUL_PROBLEM)]


def test_the_batch_signals_carry_every_record_once_and_the_per_order_signals_still_come(
    booked_fcl, django_capture_on_commit_callbacks
):
    order, _ = booked_fcl
    batches, singles, estimate_batches, estimates = [], [], [], []
    domain_events.milestones_recorded.connect(lambda **kw: batches.append(kw["records"]), weak=False, dispatch_uid="b")
    domain_events.milestone_recorded.connect(lambda **kw: singles.append(kw), weak=False, dispatch_uid="s")
    domain_events.estimates_changed.connect(
        lambda **kw: estimate_batches.append(kw["changes"]), weak=False, dispatch_uid="eb"
    )
    domain_events.estimate_changed.connect(lambda **kw: estimates.append(kw), weak=False, dispatch_uid="es")
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            ingest(
                dcsa_event("EQUIPMENT", "LOAD", ETD - H, place="CNSHA"),
                dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"),
                dcsa_event("TRANSPORT", "DEPA", ETD + H, place="CNSHA"),  # the same milestone again: one record
                dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - H),
            )
    finally:
        for signal, uid in (
            (domain_events.milestones_recorded, "b"),
            (domain_events.milestone_recorded, "s"),
            (domain_events.estimates_changed, "eb"),
            (domain_events.estimate_changed, "es"),
        ):
            signal.disconnect(dispatch_uid=uid)
    announcing = [c for c in callbacks if getattr(c, "func", None) in (domain_events.announce_milestones,
                                                                        domain_events.announce_estimates)]  # fmt: skip
    assert len(announcing) == 2  # one callback per batch and kind, not one per event
    assert [[(r.order_id, r.code) for r in records] for records in batches] == [
        [(order.pk, "LOADED"), (order.pk, "DEPARTED")]
    ]
    assert [(kw["order_id"], kw["code"], kw["classifier"]) for kw in singles] == [
        (order.pk, "LOADED", "ACT"),
        (order.pk, "DEPARTED", "ACT"),
    ]
    assert [[(c.order_id, c.code, c.estimated_at, c.previous_at) for c in changes] for changes in estimate_batches] == [
        [(order.pk, "ARRIVED", ETA, None)]
    ]
    assert [(kw["order_id"], kw["code"], kw["estimated_at"]) for kw in estimates] == [(order.pk, "ARRIVED", ETA)]


def test_nothing_is_announced_for_a_batch_of_duplicates(booked_fcl, django_capture_on_commit_callbacks):
    raw = dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA", event_id="dep")
    ingest(raw)
    with django_capture_on_commit_callbacks() as callbacks:
        result = ingest(raw)
    assert result.duplicates == 1
    assert not [c for c in callbacks if getattr(c, "func", None) is domain_events.announce_milestones]


def test_batches_sharing_one_transaction_each_store_only_their_own_rows(booked_fcl):
    first = ingest(dcsa_event("EQUIPMENT", "LOAD", ETD - H, place="CNSHA", event_id="load"))
    TrackingEvent.objects.filter(pk__in=first.stored_ids).delete()  # still inside the test's transaction
    second = ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA", event_id="dep"))
    assert (second.stored, second.duplicates) == (1, 0)
    assert list(TrackingEvent.objects.values_list("source_event_id", flat=True)) == ["dep"]
