"""Carrier tracking reaches the workflow: a milestone from a signed webhook completes and creates tasks and
runs the milestone rules, once however often it is delivered; an ETD/ETA becomes the key date tasks are
timed from. Ingest's batch queues its records in its own transaction (one statement per kind) and asks for a
worker on its commit; nothing is lost when the broker is down or the drain's worker dies."""

from __future__ import annotations

import datetime
import time
import uuid
from decimal import Decimal
from typing import Any, cast
from unittest import mock

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import OperationalError as OperationalDatabaseError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError

from oms.celery import app
from orders import services as order_services
from orders.models import Channel, Order, OrderStatus
from partners.scoping import scope_for_user
from tests.tracking.test_ingest_support import body_of, fresh_mapping, oms_event, signed_headers, webhook_source
from tests.workflows.conftest import definition, force_status, tasks_of
from tests.workflows.test_rules import rule
from tracking.exceptions import tasks as detection
from tracking.ingest import events as ingest_events
from tracking.ingest.models import TrackingEvent
from workflows import services, tasks
from workflows.models import OrderKeyDate, QueuedTrackingRecord, RuleEvent, RuleRun, Task, TaskState
from workflows.services import milestones

__all__ = ["fresh_mapping", "webhook_source"]  # fixtures

URL = "/api/v1/tracking/webhooks/acme-tms/"
H = datetime.timedelta(hours=1)


def deliver(client, events):
    """POST the events to the signed webhook, as the sender would."""
    body = body_of(events)
    headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed_headers(body).items()}
    response = client.post(URL, data=body, content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def about(order):
    return {"subject": ("order", order.reference)}


@pytest.fixture
def milestone_template(make_template, ops_team):
    return make_template("Ocean", [
        definition("departure", auto_complete_kind="milestone", auto_complete_value="DEPARTED"),
        definition("track", trigger_kind="milestone", trigger_code="DEPARTED", trigger_state=""),
        definition("pre-alert", trigger_kind="date", trigger_state="", date_anchor="eta", date_offset_hours=-48,
                   due_in_hours=Decimal(4)),
    ])  # fmt: skip


@pytest.fixture
def order(milestone_template, make_order, committed, fresh_mapping, webhook_source):
    with committed():
        return make_order(submit=True)


def test_a_departure_from_the_signed_webhook_creates_its_task_once_however_often_delivered(client, order, committed):
    notice = rule("Departed: tell the customer", RuleEvent.MILESTONE_RECORDED, value="DEPARTED", actions=[
        {"kind": "create_task", "task_name": "Send the departure notice", "team_function": "operations",
         "due_in_hours": Decimal(4)},
    ])  # fmt: skip
    departed = oms_event("DEPARTED", timezone.now() - H, place="CNSHA", event_id="acme-1", **about(order))
    with committed():
        assert deliver(client, [departed])["stored"] == 1
    tasks = tasks_of(order)
    assert (tasks["departure"].state, tasks["track"].state) == (TaskState.DONE, TaskState.OPEN)
    assert tasks["track"].assignee is not None
    assert RuleRun.objects.filter(rule=notice, order=order).count() == 1
    before = set(Task.objects.filter(order=order).values_list("pk", "state"))

    with committed():
        assert deliver(client, [departed])["duplicates"] == 1  # the sender retried its delivery
    assert set(Task.objects.filter(order=order).values_list("pk", "state")) == before
    assert Task.objects.filter(order=order, key="track").count() == 1
    assert RuleRun.objects.filter(rule=notice).count() == 1


def test_a_departure_the_carrier_corrects_runs_its_rules_once(client, order, committed):
    """Review C: the carrier re-sends DEPARTED with a corrected time, a new event (the dedupe key holds the time).
    The template's milestone task is made once; the rule "Milestone recorded DEPARTED → create a task" ran once per
    event, and documentation got a second departure notice (and notification) for one departure."""
    notice = rule("Departed: tell the customer", RuleEvent.MILESTONE_RECORDED, value="DEPARTED", actions=[
        {"kind": "create_task", "task_name": "Send the departure notice", "team_function": "operations",
         "due_in_hours": Decimal(4)},
    ])  # fmt: skip
    departed_at = timezone.now().replace(microsecond=0) - 3 * H
    with committed():
        deliver(client, [oms_event("DEPARTED", departed_at, place="CNSHA", event_id="acme-1", **about(order))])
    with committed():
        corrected = oms_event("DEPARTED", departed_at + H / 2, place="CNSHA", event_id="acme-1b", **about(order))
        assert deliver(client, [corrected])["stored"] == 1
    assert Task.objects.filter(order=order, key="track").count() == 1  # the template's: once
    assert Task.objects.filter(order=order, name="Send the departure notice").count() == 1
    runs = list(RuleRun.objects.filter(rule=notice, order=order).order_by("pk").values_list("outcome", "detail"))
    assert runs == [
        ("done", "Created task “Send the departure notice”"),
        ("skipped", "Not run: the order already had DEPARTED (this event repeats or corrects it)."),
    ]


def test_records_acted_on_twice_create_nothing_more(client, order, committed, monkeypatch):
    monkeypatch.setattr(milestones, "_wake_drain", lambda: None)  # no worker asked: the records wait in the queue
    with committed():
        deliver(client, [oms_event("DEPARTED", timezone.now() - H, **about(order))])
    queued = list(QueuedTrackingRecord.objects.values("kind", "order_id", "code", "event_id"))
    assert queued == [
        {"kind": "milestone", "order_id": order.pk, "code": "DEPARTED", "event_id": TrackingEvent.objects.get().pk}
    ]
    rule("Departed", RuleEvent.MILESTONE_RECORDED, value="DEPARTED", actions=[
        {"kind": "create_task", "task_name": "Notice", "team_function": "operations", "due_in_hours": Decimal(4)},
    ])  # fmt: skip
    with committed():
        assert tasks.handle_tracking_records() == 1
    assert not QueuedTrackingRecord.objects.exists()
    # A drain killed after acting and before deleting leaves its records, which a later drain takes again.
    QueuedTrackingRecord.objects.bulk_create(QueuedTrackingRecord(**row) for row in queued)
    with committed():
        assert tasks.handle_tracking_records() == 1
    assert sorted(Task.objects.filter(order=order).values_list("name", flat=True)) == ["Departure", "Notice", "Track"]
    assert RuleRun.objects.count() == 1


def test_an_estimate_becomes_the_key_date_and_times_the_tasks(client, order, committed):
    eta = timezone.now().replace(microsecond=0) + datetime.timedelta(days=20)
    etd = timezone.now().replace(microsecond=0) + datetime.timedelta(days=2)
    with committed():
        deliver(client, [
            oms_event("ARRIVED", eta, classifier="EST", place="DEHAM", **about(order)),
            oms_event("DEPARTED", etd, classifier="EST", place="CNSHA", **about(order)),
        ])  # fmt: skip
    assert dict(OrderKeyDate.objects.filter(order=order).values_list("anchor", "at")) == {"eta": eta, "etd": etd}
    alert = tasks_of(order)["pre-alert"]
    assert (alert.state, alert.available_at) == (TaskState.SCHEDULED, eta - 48 * H)

    with committed():
        deliver(client, [oms_event("ARRIVED", eta + 24 * H, classifier="EST", place="DEHAM", **about(order))])
    assert OrderKeyDate.objects.get(order=order, anchor="eta").at == eta + 24 * H
    assert tasks_of(order)["pre-alert"].available_at == eta - 24 * H
    assert Task.objects.filter(order=order, key="pre-alert").count() == 1


def test_an_older_estimate_handled_late_does_not_put_the_old_date_back(client, order, committed, monkeypatch):
    monkeypatch.setattr(milestones, "_wake_drain", lambda: None)
    eta = timezone.now().replace(microsecond=0) + datetime.timedelta(days=20)
    for at in (eta, eta + 24 * H):  # two batches
        with committed():
            deliver(client, [oms_event("ARRIVED", at, classifier="EST", place="DEHAM", **about(order))])
    older, newer = QueuedTrackingRecord.objects.order_by("id")
    assert (older.estimated_at, newer.estimated_at) == (eta, eta + 24 * H)
    QueuedTrackingRecord.objects.filter(pk=older.pk).update(available_at=timezone.now() + H)  # retried later
    with committed():
        milestones.tracking_records_drain(batch=1)
    QueuedTrackingRecord.objects.filter(pk=older.pk).update(available_at=timezone.now() - H)
    with committed():
        milestones.tracking_records_drain(batch=1)  # the older one, late
    assert OrderKeyDate.objects.get(order=order, anchor="eta").at == eta + 24 * H


def test_a_record_that_fails_is_retried_alone_and_a_missing_order_is_skipped(db):
    calls = []

    def record(*, order_id, code, event_id):
        calls.append(order_id)
        if order_id == 2 and calls.count(2) == 1:
            raise OperationalDatabaseError("deadlock detected")
        if order_id == 3:
            raise Order.DoesNotExist

    with mock.patch.object(milestones, "milestone_record", side_effect=record):
        records = [[1, "DEPARTED", 11], [2, "DEPARTED", 12], [3, "X", 13]]
        tasks.record_milestones.apply(kwargs={"records": records}, throw=False)  # as a worker: retries run
    assert calls == [1, 2, 3, 2]  # the retry carries only the record that failed


def test_a_batch_is_queued_in_one_statement_per_kind_and_asks_for_a_worker_on_commit(
    db, django_assert_num_queries, django_capture_on_commit_callbacks
):
    now = timezone.now()
    records = tuple(ingest_events.MilestoneRecorded(n, "DEPARTED", 1000 + n, "ACT", now) for n in range(450))
    changes = tuple(ingest_events.EstimateChanged(n, code, now, None) for n in range(3)
                    for code in ("DEPARTED", "ARRIVED", "DELIVERED"))  # fmt: skip
    with mock.patch.object(tasks.handle_tracking_records, "apply_async") as asked:
        with django_capture_on_commit_callbacks(execute=False) as on_commit, django_assert_num_queries(2):
            ingest_events.note_milestones(sender=TrackingEvent, records=records)  # one INSERT per kind,
            ingest_events.note_estimates(sender=TrackingEvent, changes=changes)  # whatever the batch's size
        assert asked.call_count == 0  # nothing leaves before the commit
        for callback in on_commit:
            callback()
    assert asked.call_count == 2
    assert QueuedTrackingRecord.objects.filter(kind="milestone").count() == 450
    assert list(QueuedTrackingRecord.objects.filter(kind="milestone").order_by("id").values_list(
        "order_id", "code", "event_id")[:1]) == [(0, "DEPARTED", 1000)]  # fmt: skip
    assert sorted(QueuedTrackingRecord.objects.filter(kind="estimate").values_list("order_id", "code")) == [
        (n, code)
        for n in range(3)
        for code in ("ARRIVED", "DEPARTED")  # no anchor for estimated delivery
    ]
    assert not ingest_events.milestone_recorded.has_listeners(TrackingEvent)  # no per-record sending


def test_records_queued_in_a_batch_that_rolls_back_are_gone_with_it(db):
    record = ingest_events.MilestoneRecorded(1, "DEPARTED", 1000, "ACT", timezone.now())

    def batch() -> None:
        with transaction.atomic():
            ingest_events.note_milestones(sender=TrackingEvent, records=[record])
            assert QueuedTrackingRecord.objects.count() == 1
            raise RuntimeError("the batch failed after its milestones")

    with pytest.raises(RuntimeError):
        batch()
    assert not QueuedTrackingRecord.objects.exists()


def test_a_broker_that_refuses_the_request_loses_nothing_the_beat_drains_it(client, order, committed, caplog):
    refused = mock.patch.object(tasks.handle_tracking_records, "apply_async", side_effect=OperationalError("down"))
    with refused, committed():
        answer = deliver(client, [oms_event("DEPARTED", timezone.now() - H, **about(order))])
    assert answer["stored"] == 1  # committed and answered 200: the sender does not resend it
    assert "Could not ask a worker to act on tracking records" in caplog.text
    assert "track" not in tasks_of(order)
    assert QueuedTrackingRecord.objects.count() == 1  # the milestone waits in the queue
    assert "workflows.tasks.handle_tracking_records" in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    with committed():
        tasks.handle_tracking_records()  # the beat's run
    assert "track" in tasks_of(order)
    assert not QueuedTrackingRecord.objects.exists()


def test_a_webhook_delivery_costs_the_same_statements_whatever_its_size(client, order, committed):
    def delivery(size, offset):
        return [oms_event("DEPARTED", timezone.now() - H - datetime.timedelta(minutes=offset + n), place="CNSHA",
                          **about(order)) for n in range(size)]  # fmt: skip

    def measured(events):
        with (
            mock.patch.object(detection.detect_exceptions, "apply_async"),  # their own cost, tested in tracking
            mock.patch.object(tasks.handle_tracking_records, "apply_async") as asked,
            CaptureQueriesContext(connection) as statements,
            committed(),
        ):
            deliver(client, events)
        return statements, asked.call_count

    with committed():
        deliver(client, delivery(2, 0))  # the first one records the milestone for the order
    small, small_messages = measured(delivery(5, 100))
    large, large_messages = measured(delivery(300, 1000))
    assert len(large) == len(small)
    workflow = [q["sql"] for q in large if "workflows_" in q["sql"]]
    assert len(workflow) == 1
    assert "INSERT INTO workflows_queuedtrackingrecord" in workflow[0]
    assert (small_messages, large_messages) == (1, 1)  # one request for a worker per delivery


def test_a_record_that_fails_waits_a_backoff_and_is_given_up_after_its_last_attempt(db, caplog):
    def record(*, order_id, code, event_id):
        if order_id == 2:
            raise OperationalDatabaseError("deadlock detected")
        if order_id == 3:
            raise Order.DoesNotExist

    rows = [(1, "DEPARTED", 11, None), (2, "DEPARTED", 12, None), (3, "DEPARTED", 13, None)]
    with transaction.atomic():
        milestones.tracking_records_queue(kind="milestone", rows=rows)
    with mock.patch.object(milestones, "milestone_record", side_effect=record):
        assert milestones.tracking_records_drain() == (3, False)
        (left,) = QueuedTrackingRecord.objects.all()  # done, and skipped (its order is gone): deleted
        assert (left.order_id, left.attempts) == (2, 1)
        assert left.available_at > timezone.now() + datetime.timedelta(seconds=5)  # not before its backoff
        assert milestones.tracking_records_drain() == (0, False)
        QueuedTrackingRecord.objects.update(available_at=timezone.now(), attempts=milestones.MAX_ATTEMPTS - 1)
        assert milestones.tracking_records_drain() == (1, False)
    given_up = f"Gave up the workflow's milestone DEPARTED of order 2 after {milestones.MAX_ATTEMPTS} attempts"
    assert given_up in caplog.text
    (kept,) = QueuedTrackingRecord.objects.all()  # for support to try again, never taken by a drain meanwhile
    assert (kept.order_id, kept.given_up_at is not None) == (2, True)
    QueuedTrackingRecord.objects.update(available_at=timezone.now() - datetime.timedelta(hours=1))
    assert milestones.tracking_records_drain() == (0, False)


def test_a_record_that_raises_anything_neither_blocks_its_batch_nor_lives_for_ever(db):
    """A bug in one order's handling (not a database error) is settled like any failure: the other records of
    the claim are acted on, and the bad one is retried and given up after MAX_ATTEMPTS."""
    with transaction.atomic():
        milestones.tracking_records_queue(kind="milestone", rows=[(1, "DEPARTED", 11, None)])
        milestones.tracking_records_queue(kind="estimate", rows=[(2, "ARRIVED", None, timezone.now())])
    with (
        mock.patch.object(milestones, "milestone_record", side_effect=ValueError("a bug in a rule's action")),
        mock.patch.object(milestones, "key_date_record", return_value=[]) as key_date,
    ):
        for _ in range(milestones.MAX_ATTEMPTS):  # the beat's drains, each after the backoff ended
            milestones.tracking_records_drain()
            QueuedTrackingRecord.objects.update(available_at=timezone.now() - datetime.timedelta(seconds=1))
    key_date.assert_called_once()  # order 2's estimate, at the first drain
    (kept,) = QueuedTrackingRecord.objects.all()
    assert (kept.order_id, kept.attempts, kept.given_up_at is not None) == (1, milestones.MAX_ATTEMPTS, True)


def test_a_record_taken_more_often_than_its_attempts_is_given_up_unread(db, caplog):
    """Its drains were killed each time (by it, perhaps): the next drain gives it up without acting on it."""
    with transaction.atomic():
        milestones.tracking_records_queue(kind="milestone", rows=[(1, "DEPARTED", 11, None)])
    QueuedTrackingRecord.objects.update(attempts=milestones.MAX_ATTEMPTS)
    with mock.patch.object(milestones, "milestone_record") as record:
        assert milestones.tracking_records_drain() == (1, False)
    record.assert_not_called()
    assert QueuedTrackingRecord.objects.get().given_up_at is not None
    assert "Gave up the workflow's milestone DEPARTED of order 1" in caplog.text


def test_support_tries_a_given_up_record_again_from_the_admin_and_the_drain_records_it(
    admin_client, order, django_capture_on_commit_callbacks
):
    """Once the cause is fixed, "Try again" hands the record back to the drain with its attempts counted afresh;
    records still waiting are left as they are, and nobody deletes a record from the admin."""
    from django.urls import reverse

    with transaction.atomic():
        milestones.tracking_records_queue(kind="milestone", rows=[(order.pk, "DEPARTED", None, None)])
        milestones.tracking_records_queue(kind="milestone", rows=[(order.pk + 1, "DEPARTED", None, None)])
    given_up, waiting = QueuedTrackingRecord.objects.order_by("pk")
    QueuedTrackingRecord.objects.filter(pk=given_up.pk).update(
        attempts=milestones.MAX_ATTEMPTS, given_up_at=timezone.now()
    )
    changelist = reverse("admin:workflows_queuedtrackingrecord_changelist")
    page = admin_client.get(changelist + "?state=given_up")
    assert page.status_code == 200
    assert order.reference in page.content.decode()
    assert f"{order.pk + 1} (deleted)" not in page.content.decode()  # waiting, so not listed as given up
    assert "delete_selected" not in page.content.decode()
    with (
        mock.patch.object(milestones, "_wake_drain") as wake,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(
            changelist, {"action": "try_again", "_selected_action": [given_up.pk, waiting.pk]}, follow=True
        )
    assert "1 record(s) handed back to the workflow&#x27;s drain; 1 still waiting were left as they are" in (
        response.content.decode()
    )
    wake.assert_called_once()
    given_up.refresh_from_db()
    assert (given_up.given_up_at, given_up.attempts) == (None, 0)
    with mock.patch.object(milestones, "milestone_record") as record:
        assert milestones.tracking_records_drain() == (2, False)
    assert {call.kwargs["order_id"] for call in record.call_args_list} == {order.pk, order.pk + 1}
    assert not QueuedTrackingRecord.objects.exists()


def test_a_milestone_code_as_long_as_milestone_codes_may_be_is_queued(client, order, committed, monkeypatch):
    from tracking.ingest import mapping
    from tracking.ingest.models import MappingRule, Milestone

    long = "CUSTOMS_HOLD_RELEASED_XY"  # 24 characters, Milestone.code's limit (operations add milestones)
    Milestone.objects.create(code=long, name="Customs hold released", rank=75)
    MappingRule.objects.create(scheme="oms", code=long, milestone_id=long)
    mapping.invalidate()
    monkeypatch.setattr(milestones, "_wake_drain", lambda: None)
    with committed():
        assert deliver(client, [oms_event(long, timezone.now() - H, place="CNSHA", **about(order))])["stored"] == 1
    assert QueuedTrackingRecord.objects.filter(code=long, order_id=order.pk).exists()


def test_records_a_killed_drain_held_are_taken_again_once_its_lease_ends(db):
    with transaction.atomic():
        milestones.tracking_records_queue(kind="milestone", rows=[(1, "DEPARTED", 11, None)])
    with connection.cursor() as cursor:  # a drain takes the record, then its worker is killed
        cursor.execute(milestones._CLAIM, cast(list[Any], [milestones.LEASE, 10]))  # LEASE goes as an interval
        assert len(cursor.fetchall()) == 1
    with mock.patch.object(milestones, "milestone_record") as record:
        assert milestones.tracking_records_drain() == (0, False)  # leased: nobody else takes it meanwhile
        QueuedTrackingRecord.objects.update(available_at=timezone.now() - datetime.timedelta(seconds=1))
        assert milestones.tracking_records_drain() == (1, False)
    record.assert_called_once_with(order_id=1, code="DEPARTED", event_id=11)
    assert not QueuedTrackingRecord.objects.exists()


# --- cancelled and closed orders ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.CLOSED])
def test_an_order_in_a_final_state_gets_no_task_from_any_event(make_template, make_order, ops_team, committed, status):
    make_template("Ocean", [
        definition("track", trigger_kind="milestone", trigger_code="DEPARTED", trigger_state=""),
        definition("send", trigger_kind="document", trigger_code="HBL", trigger_state=""),
        definition("vgm", trigger_kind="date", trigger_state="", date_anchor="etd", date_offset_hours=-48),
    ])  # fmt: skip
    rule("Departed", RuleEvent.MILESTONE_RECORDED, value="DEPARTED", actions=[
        {"kind": "create_task", "task_name": "Notice", "team_function": "operations", "due_in_hours": Decimal(4)},
    ])  # fmt: skip
    rule("Delay", RuleEvent.EXCEPTION_OPENED, value="delay", actions=[
        {"kind": "create_task", "task_name": "Chase", "team_function": "operations", "due_in_hours": Decimal(4)},
    ])  # fmt: skip
    with committed():
        order = make_order(submit=True)
    order = force_status(order, status)

    assert services.milestone_record(order_id=order.pk, code="DEPARTED", event_id=1) == []
    assert services.document_record(order_id=order.pk, document_type="HBL", document_id="d1") == []
    services.exception_record(order_id=order.pk, kind="delay", exception_id="x1")
    etd = timezone.now() + datetime.timedelta(days=5)
    assert services.key_date_record(order_id=order.pk, anchor="etd", at=etd) == []
    assert not Task.objects.filter(order=order).exists()
    assert not RuleRun.objects.exists()
    assert not OrderKeyDate.objects.filter(order=order).exists()


def test_a_late_departure_on_a_cancelled_order_opens_nothing(client, order, ops_user, committed):
    with committed():
        order_services.order_cancel(order=order, scope=scope_for_user(ops_user), channel=Channel.SCREEN,
                                    by=ops_user, reason="customer withdrew")  # fmt: skip
    assert not Task.objects.filter(order=order, state__in=[TaskState.OPEN, TaskState.SCHEDULED]).exists()
    with committed():
        deliver(client, [
            oms_event("DEPARTED", timezone.now() - H, place="CNSHA", **about(order)),
            oms_event("ARRIVED", timezone.now() + 480 * H, classifier="EST", place="DEHAM", **about(order)),
        ])  # fmt: skip
    assert not Task.objects.filter(order=order, state__in=[TaskState.OPEN, TaskState.SCHEDULED]).exists()
    assert not Task.objects.filter(order=order, key__in=["track", "pre-alert"]).exists()


# --- on a real worker -----------------------------------------------------------------------------------

QUEUE = f"test-workflows-tracking-{uuid.uuid4().hex[:8]}"


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def to_test_queue(monkeypatch):
    """The real broker, and the drain sent to a queue of this test's own (the path up to the broker is the real
    one: the request for a worker after ingest's commit)."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    monkeypatch.setattr(detection.detect_exceptions, "apply_async", lambda *a, **kw: None)  # not this test's
    send = tasks.handle_tracking_records.apply_async
    monkeypatch.setattr(tasks.handle_tracking_records, "apply_async", lambda args=None, kwargs=None, **options: send(
        args, kwargs, **{**options, "queue": QUEUE}))  # fmt: skip
    yield
    app.conf.task_always_eager = eager
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_creates_the_milestone_task_once_and_records_the_eta(client, order, to_test_queue):
    departed = oms_event("DEPARTED", timezone.now() - H, place="CNSHA", event_id="acme-9", **about(order))
    eta = timezone.now().replace(microsecond=0) + datetime.timedelta(days=20)
    with start_worker(app, queues=[QUEUE], perform_ping_check=False, shutdown_timeout=20):
        assert deliver(client, [departed])["stored"] == 1
        assert wait_for(lambda: Task.objects.filter(order=order, key="track").exists())
        assert deliver(client, [departed])["duplicates"] == 1
        deliver(client, [oms_event("ARRIVED", eta, classifier="EST", place="DEHAM", **about(order))])
        assert wait_for(lambda: OrderKeyDate.objects.filter(order=order, anchor="eta", at=eta).exists())
        assert wait_for(lambda: Task.objects.filter(order=order, key="pre-alert").exists())
    assert Task.objects.get(order=order, key="departure").state == TaskState.DONE
    assert Task.objects.filter(order=order, key="track").count() == 1
    assert Task.objects.get(order=order, key="pre-alert").available_at == eta - 48 * H
