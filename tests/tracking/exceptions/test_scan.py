"""The full scan: idempotent (twice opens nothing twice), restartable (a crash after batch k loses nothing and
duplicates nothing), one at a time, constant queries per batch; and the database's own dedupe."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.tracking.test_ingest_support import book
from tracking.exceptions import rules
from tracking.exceptions.models import ExceptionKind, ExceptionScan, ShipmentException
from tracking.exceptions.services import detection
from tracking.models import Shipment


@pytest.fixture
def late_shipments(make_order, order_data, ocean_carriers, ops_user, ops_scope, fresh_mapping):
    """Five booked FCL masters, each six days past its planned departure: five overdue exceptions to find."""
    maersk, _ = ocean_carriers
    masters = []
    for n in range(5):
        order = make_order(mode="ocean_fcl", lines=order_data()["lines"], customer_reference=f"SCAN-{n}")
        masters.append(book(order=order, carrier=maersk, ops_user=ops_user, ops_scope=ops_scope, bill=f"MAEU2620{n}"))
    return masters


def test_a_scan_opens_each_exception_once_and_a_second_scan_opens_nothing(late_shipments):
    first = detection.exceptions_scan(batch_size=2)
    assert first.finished_at
    assert first.shipments == 5
    assert first.batches == 3
    assert first.opened == 5
    second = detection.exceptions_scan(batch_size=2)
    assert second.pk != first.pk
    assert second.opened == 0
    assert second.resolved == 0
    assert ShipmentException.objects.count() == 5


def test_a_scan_that_dies_after_a_batch_is_continued_and_loses_nothing(late_shipments, monkeypatch):
    real = detection.exceptions_detect
    calls = []

    def crash_on_third(**kwargs):
        calls.append(kwargs["shipment_ids"])
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(detection, "exceptions_detect", crash_on_third)
    with pytest.raises(RuntimeError):
        detection.exceptions_scan(batch_size=2)
    scan = ExceptionScan.objects.get()
    assert scan.finished_at is None
    assert scan.batches == 2
    assert scan.cursor == late_shipments[3].pk
    assert ShipmentException.objects.count() == 4  # batches one and two are committed, three rolled back

    monkeypatch.setattr(detection, "exceptions_detect", real)
    resumed = detection.exceptions_scan(batch_size=2)
    assert resumed.pk == scan.pk
    assert resumed.finished_at
    assert resumed.shipments == 5
    assert sorted(ShipmentException.objects.values_list("shipment_id", flat=True)) == [m.pk for m in late_shipments]


def test_max_batches_bounds_one_run_and_the_next_continues(late_shipments):
    partial = detection.exceptions_scan(batch_size=2, max_batches=1)
    assert partial.finished_at is None
    assert partial.opened == 2
    done = detection.exceptions_scan(batch_size=2)
    assert done.pk == partial.pk
    assert done.finished_at
    assert done.opened == 5


def test_only_one_scan_runs_at_a_time(late_shipments):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [detection.SCAN_LOCK])
    try:
        import threading

        result = []
        thread = threading.Thread(target=lambda: result.append(detection.exceptions_scan()))
        thread.start()
        thread.join()
        assert result == [None]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [detection.SCAN_LOCK])


def test_a_batch_costs_the_same_queries_whatever_its_size(late_shipments):
    book = rules.rulebook()  # read once per scan, not per batch

    def queries(ids):
        with CaptureQueriesContext(connection) as captured:
            detection.exceptions_detect(shipment_ids=ids, book=book)
        return [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]

    small = queries([late_shipments[0].pk])
    large = queries([m.pk for m in late_shipments[1:]])
    assert len(small) == len(large) == 5  # jit off, facts (2), existing, insert with its history (nothing to resolve)


def test_the_database_refuses_a_second_open_exception_for_the_same_shipment_and_leg(late_shipments):
    detection.exceptions_detect(shipment_ids=[late_shipments[0].pk])
    copy = ShipmentException.objects.get()
    copy.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()


def test_detection_of_what_new_events_touch_goes_from_orders_to_their_masters(late_shipments):
    order_id = late_shipments[1].consolidated_houses.get().house.order_id
    outcome = detection.exceptions_detect_for(order_ids=[order_id])
    assert outcome.shipments == 1
    assert ShipmentException.objects.get().shipment == late_shipments[1]


def test_exceptions_of_finished_shipments_resolve_even_when_many_manual_ones_are_left_open(late_shipments, monkeypatch):
    damaged, finished = late_shipments[:2]
    # A delivered shipment's damage stays open until a person closes the claim.
    ShipmentException.objects.create(kind=ExceptionKind.DAMAGE, shipment=damaged, mode=damaged.mode, detail="Damaged")
    overdue = ShipmentException.objects.create(
        kind=ExceptionKind.MILESTONE_OVERDUE, shipment=finished, mode=finished.mode, detail="Departure overdue"
    )
    Shipment.objects.filter(pk=damaged.pk).update(status="delivered")
    Shipment.objects.filter(pk=finished.pk).update(status="cancelled")  # its overdue departure should resolve
    monkeypatch.setattr(detection, "BATCH", 1)  # stands for 1,000 open damage and return exceptions

    detection.exceptions_scan()

    overdue.refresh_from_db()
    assert overdue.status == "resolved"
    assert overdue.resolution_note == "The shipment is cancelled."
    assert ShipmentException.objects.get(kind=ExceptionKind.DAMAGE).status == "open"


def test_the_scan_pages_through_every_finished_shipment_left_behind(late_shipments, monkeypatch):
    finished = late_shipments[:3]
    for shipment in finished:
        ShipmentException.objects.create(
            kind=ExceptionKind.MILESTONE_OVERDUE, shipment=shipment, mode=shipment.mode, detail="Departure overdue"
        )
    Shipment.objects.filter(pk__in=[s.pk for s in finished]).update(status="cancelled")
    monkeypatch.setattr(detection, "BATCH", 1)

    scan = detection.exceptions_scan()

    assert scan.resolved == 3
    assert not ShipmentException.objects.filter(shipment__in=finished, status="open").exists()
