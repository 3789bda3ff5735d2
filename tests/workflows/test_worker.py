"""Workflow Celery tasks on real workers: queued work runs, and killing the worker in the middle of an
escalation run loses nothing and duplicates nothing once a worker is back."""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from oms.celery import app
from orders import events
from orders.models import QueuedTransition
from tests.worker_process import kill_worker, start_worker_process, wait_for
from workflows.models import (
    Notification,
    NotificationPreference,
    ProcessedTransition,
    QueuedTrackingRecord,
    Task,
    TaskEvent,
)
from workflows.receivers import _order_status_changed
from workflows.tasks import escalate_overdue_tasks, process_pending_transitions, send_notification_email

from .conftest import definition

ROOT = Path(__file__).resolve().parents[2]
QUEUE = f"test-workflows-{uuid.uuid4().hex[:8]}"
WORKER_SETTINGS = "tests.workflows.worker_settings"
PAST = datetime.timedelta(hours=3)


@pytest.fixture
def real_broker() -> Iterator[None]:
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = eager
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)


@pytest.fixture
def overdue(make_template, make_order, ops_team, ops_user, committed):
    """An order with one overdue task per call of the returned function's `count`."""
    make_template("Ocean", [definition("check")])
    order = make_order(submit=True)

    def make(count: int) -> list[Task]:
        due = timezone.now() - PAST
        return Task.objects.bulk_create(
            Task(order=order, source_key=f"late-{n}", key=f"late-{n}", name=f"Late {n}", team=ops_team,
                 team_function="operations", assignee=ops_user, due_at=due)
            for n in range(count)
        )  # fmt: skip

    return make


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_in_process_worker_escalates_and_emails_the_lead(overdue, ops_user, real_broker):
    tasks = overdue(3)
    with start_worker(app, queues=[QUEUE], perform_ping_check=False, shutdown_timeout=20):
        escalate_overdue_tasks.apply_async(queue=QUEUE)
        assert wait_for(lambda: Task.objects.filter(escalated_at__isnull=False).count() == 3)
        notes = list(Notification.objects.filter(kind="escalated", email_wanted=True).values_list("pk", flat=True))
        for pk in notes:
            send_notification_email.apply_async((pk,), queue=QUEUE)
        assert wait_for(lambda: Notification.objects.filter(pk__in=notes, emailed_at__isnull=False).count() == 3)
    assert [m.to for m in mail.outbox] == [[ops_user.email]] * 3
    assert {n.task_id for n in Notification.objects.filter(kind="escalated")} == {t.pk for t in tasks}


def _kill_mid_run_and_restart(send: Callable[[], None], progress: Callable[[], int], total: int) -> int:
    """Start a worker, send the task, kill -9 the whole worker once it has done some of the work, check
    nothing moves while no worker runs, start a new worker and wait for the rest. Returns the progress at
    the moment of the kill."""
    connection.close()  # the workers use the test database too; keep no idle transaction open
    worker = start_worker_process(QUEUE, WORKER_SETTINGS)
    try:
        send()
        assert wait_for(lambda: progress() >= 5, timeout=30), "the worker never started"
        kill_worker(worker)
        at_kill = progress()
        assert 0 < at_kill < total, "the kill did not land mid-run"
        time.sleep(1)
        assert progress() == at_kill  # nothing runs while no worker is up
        # The unacked message comes back after the visibility timeout.
        worker = start_worker_process(QUEUE, WORKER_SETTINGS)
        assert wait_for(lambda: progress() == total, timeout=40), f"{progress()} of {total}"
    finally:
        kill_worker(worker)
    return at_kill


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_escalation_loses_nothing_and_repeats_nothing(overdue, ops_user, real_broker):
    NotificationPreference.objects.create(user=ops_user, email_escalated=False)  # no emails queued elsewhere
    total = 300
    overdue(total)
    escalated = Task.objects.filter(escalated_at__isnull=False)
    _kill_mid_run_and_restart(lambda: escalate_overdue_tasks.apply_async(queue=QUEUE), escalated.count, total)
    per_task = Notification.objects.filter(kind="escalated").values("task").annotate(n=Count("pk"))
    assert len(per_task) == total
    assert {row["n"] for row in per_task} == {1}
    assert TaskEvent.objects.filter(verb="escalated").count() == total


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_catch_up_creates_every_task_once(make_template, make_order, ops_team, real_broker):
    make_template("Ocean", [definition("check"), definition("book")])
    total = 120
    events.order_status_changed.disconnect(dispatch_uid="workflows.order_status_changed")
    try:  # the processes that submitted these orders "died" before the workflow heard of them
        orders = [make_order(submit=True) for _ in range(total)]
    finally:
        events.order_status_changed.connect(_order_status_changed, dispatch_uid="workflows.order_status_changed")
    # Not queued, as a bulk import's are not (the queue has its own kill test below): the sweep's own path.
    QueuedTransition.objects.all().delete()
    assert not Task.objects.exists()
    handled = ProcessedTransition.objects.count
    _kill_mid_run_and_restart(
        lambda: process_pending_transitions.apply_async(kwargs={"older_than_seconds": 0}, queue=QUEUE), handled, total
    )
    per_order = Task.objects.values("order").annotate(n=Count("pk"))
    assert len(per_order) == len(orders)
    assert {row["n"] for row in per_order} == {2}


@pytest.fixture
def api_submit(ops_user):
    from orders import services as order_services
    from orders.models import Channel
    from partners.scoping import scope_for_user

    def submit(order):
        return order_services.order_transition(
            order=order, name="submit", scope=scope_for_user(ops_user), by=ops_user, channel=Channel.API
        )

    return submit


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_api_submits_are_handled_by_the_worker_the_commit_wakes(
    make_template, make_order, ops_team, api_submit, real_broker, monkeypatch
):
    from workflows.services import transition_queue
    from workflows.tasks import handle_queued_transitions

    make_template("Ocean", [definition("check"), definition("book")])
    orders = [make_order() for _ in range(6)]
    sent = []

    def to_test_queue(**kwargs):
        sent.append(kwargs)
        return handle_queued_transitions.apply_async(kwargs=kwargs, queue=QUEUE)

    monkeypatch.setattr(handle_queued_transitions, "delay", to_test_queue)
    monkeypatch.setattr(transition_queue, "_last_wake", -1.0)
    with start_worker(app, queues=[QUEUE], perform_ping_check=False, shutdown_timeout=20):
        for order in orders:  # each commits on its own (transaction=True): the receiver runs after it
            api_submit(order)
        assert 1 <= len(sent) < len(orders)  # asked once, not once per order: the worker lingers
        assert wait_for(lambda: Task.objects.count() == 2 * len(orders))
    assert not QueuedTransition.objects.exists()
    assert ProcessedTransition.objects.count() == len(orders)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_drain_loses_no_transition_and_repeats_none(
    make_template, make_order, ops_team, api_submit, real_broker, monkeypatch
):
    from workflows.services import transition_queue
    from workflows.tasks import handle_queued_transitions

    make_template("Ocean", [definition("check"), definition("book")])
    monkeypatch.setattr(transition_queue, "_wake_worker", lambda: None)  # queued, and no worker asked for yet
    total = 500  # five batches
    for _ in range(total):
        api_submit(make_order())
    assert QueuedTransition.objects.count() == total
    assert not Task.objects.exists()
    _kill_mid_run_and_restart(
        lambda: handle_queued_transitions.apply_async(kwargs={"linger_seconds": 0}, queue=QUEUE),
        ProcessedTransition.objects.count, total,
    )  # fmt: skip
    per_order = Task.objects.values("order").annotate(n=Count("pk"))
    assert len(per_order) == total
    assert {row["n"] for row in per_order} == {2}
    assert not QueuedTransition.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_drain_of_tracking_records_leaves_them_to_a_later_drain(
    make_template, make_order, real_broker, monkeypatch, tmp_path
):
    """The pool child dies after acting on three of six queued milestones, before the batch is settled: Celery
    gives the message to a new child, which finds the records leased and leaves them; once the lease ends the
    beat's drain acts on all six, and the three done already create nothing twice."""
    from django.db import transaction

    from workflows.services import milestones
    from workflows.tasks import handle_tracking_records

    make_template("Ocean", [definition("track", trigger_kind="milestone", trigger_code="DEPARTED", trigger_state="")])
    orders = [make_order(submit=True) for _ in range(6)]
    monkeypatch.setattr(milestones, "_wake_drain", lambda: None)  # the test sends the drain to its own queue
    with transaction.atomic():
        rows = [(order.pk, "DEPARTED", 1000 + n, None) for n, order in enumerate(orders)]
        milestones.tracking_records_queue(kind="milestone", rows=rows)
    tracked = Task.objects.filter(key="track").count
    deaths = tmp_path / "deaths"
    deaths.write_text("1")
    connection.close()  # the worker uses the test database too; keep no idle transaction open
    worker = start_worker_process(
        QUEUE, "tests.worker_deaths_settings", OMS_TEST_DIE_IN="workflows.services.milestones:milestone_record",
        OMS_TEST_DIE_AFTER="3", OMS_TEST_DEATHS=str(deaths),
    )  # fmt: skip
    try:
        handle_tracking_records.apply_async(queue=QUEUE)
        assert wait_for(lambda: deaths.read_text() == "0", timeout=30), "the worker never started"
        time.sleep(2)  # the message goes to a new child, which finds the six records leased
        assert tracked() == 3
        assert QueuedTrackingRecord.objects.count() == 6  # none settled: the batch's end never came
        QueuedTrackingRecord.objects.update(available_at=timezone.now() - datetime.timedelta(seconds=1))  # lease over
        handle_tracking_records.apply_async(queue=QUEUE)  # the beat's next run
        assert wait_for(lambda: not QueuedTrackingRecord.objects.exists(), timeout=30)
        assert worker.poll() is None, "the worker itself died"
    finally:
        kill_worker(worker)
    assert tracked() == 6
    assert set(Task.objects.filter(key="track").values_list("order_id", flat=True)) == {o.pk for o in orders}
