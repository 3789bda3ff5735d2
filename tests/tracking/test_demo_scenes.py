"""The running demo shows issue 8's loop while it is watched (review B, defect 5): in the first twenty minutes after
`make run` seeds, the simulated carrier's own steps make detection open exceptions by themselves (a pickup overdue,
an arrival overdue, a customs hold), each lands with a person (owner, task, notification), and each resolves itself
when the late milestone or the release arrives (tracking.ingest.demo, its scenes). Nothing is written by hand: the
clock moves, and the beat's tasks run as the worker runs them."""

from __future__ import annotations

import datetime
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from orders.models import OrderStatus, OrderTransition
from tracking.exceptions import receivers
from tracking.exceptions import tasks as exception_tasks
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.ingest import mapping
from tracking.ingest import tasks as ingest_tasks
from tracking.ingest.models import MappingRule, Milestone
from tracking.ingest.standards import seed_reference_data
from workflows import tasks as workflow_tasks
from workflows.models import Notification, Task, TaskState

pytestmark = pytest.mark.django_db(transaction=True)

TICK = datetime.timedelta(seconds=30)  # the beat's advance_simulated_carrier (settings.CELERY_BEAT_SCHEDULE)
SCAN_EVERY = 10  # ticks: the beat's scan_exceptions and catch_up_orders, every 5 min
WATCHED = datetime.timedelta(minutes=30)
SHOWN_WITHIN = datetime.timedelta(minutes=20)
Seen = list[tuple[datetime.timedelta, str, int]]


@pytest.fixture
def worker(eager_celery) -> None:
    """`make run`'s worker: a queued task runs (inline, once the transaction that queued it commits)."""


def _seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """seed_demo on a database as a new installation has it (the reference data of the migrations, no cached
    mapping); the detection the seed queues runs after it, as the worker, started once the seed is done, runs it."""
    seed_reference_data(Milestone, MappingRule)
    mapping.invalidate()
    queued: list[dict[str, Any]] = []
    with monkeypatch.context() as seeding:
        seeding.setattr(exception_tasks.detect_exceptions, "apply_async", lambda **options: queued.append(options))
        call_command("seed_demo", password="demo-password-for-tests", stdout=StringIO())
    for options in queued:
        exception_tasks.detect_exceptions.apply(kwargs=options["kwargs"])


def _beat(task: Any) -> None:
    """A task the beat queues, as the worker runs it: at its end, what its events gave detection to do is queued
    (receivers.flush, which a task run inline leaves to the task that ran it)."""
    task.apply()
    receivers.flush()


def _watch(monkeypatch: pytest.MonkeyPatch, start: datetime.datetime) -> Seen:
    """The demo's first WATCHED minutes, tick by tick: the tasks the beat queues, run as the worker runs them (a
    task's end flushes what its events gave detection to do). Returns when each exception opened and resolved."""
    clock = [start]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    seen: Seen = []
    opened = set(ShipmentException.objects.values_list("pk", flat=True))
    resolved = set(ShipmentException.objects.filter(resolved_at__isnull=False).values_list("pk", flat=True))
    for tick in range(1, WATCHED // TICK + 1):
        clock[0] = start + tick * TICK
        _beat(ingest_tasks.advance_simulated_carrier)
        if tick % 2 == 0:
            _beat(workflow_tasks.process_pending_transitions)
            _beat(workflow_tasks.handle_tracking_records)
        if tick % SCAN_EVERY == 0:
            _beat(exception_tasks.scan_exceptions)
            _beat(ingest_tasks.catch_up_orders)
        for pk in ShipmentException.objects.exclude(pk__in=opened).values_list("pk", flat=True):
            seen.append((clock[0] - start, "opened", pk))
            opened.add(pk)
        now_resolved = ShipmentException.objects.filter(resolved_at__isnull=False).exclude(pk__in=resolved)
        for pk in now_resolved.values_list("pk", flat=True):
            seen.append((clock[0] - start, "resolved", pk))
            resolved.add(pk)
    return seen


def _story(seen: Seen) -> list[tuple[str, str, str, bool]]:
    """What a person watching /exceptions/ saw in the first SHOWN_WITHIN: (what happened, kind, milestone, by
    itself)."""
    story = []
    for after, what, pk in seen:
        if after <= SHOWN_WITHIN:
            exception = ShipmentException.objects.get(pk=pk)
            story.append((what, exception.kind, exception.milestone, what == "opened" or exception.is_auto_resolved))
    return story


def test_the_demo_opens_and_resolves_exceptions_by_itself_in_its_first_twenty_minutes(worker, monkeypatch):
    _seed(monkeypatch)
    start = timezone.now()
    late_flight = ShipmentException.objects.filter(shipment__bill_number="020-31234574")  # tracking.ingest.demo
    slipped = late_flight.filter(kind=ExceptionKind.ETA_DELAY, resolved_at__isnull=True).first()

    seen = _watch(monkeypatch, start)

    story = _story(seen)
    for kind, milestone in (
        (ExceptionKind.MILESTONE_OVERDUE, "DEPARTED"),  # the groupage truck's pickup
        (ExceptionKind.MILESTONE_OVERDUE, "ARRIVED"),  # the flight's landing
        (ExceptionKind.CUSTOMS_HOLD, "CUSTOMS_HOLD"),  # the box in Hamburg
    ):
        assert ("opened", kind, milestone, True) in story, story
        assert ("resolved", kind, milestone, True) in story, story
    assert slipped is not None  # the flight's later estimate, open since the seed
    slipped.refresh_from_db()
    assert slipped.is_auto_resolved
    assert slipped.resolved_at <= start + SHOWN_WITHIN
    assert slipped.resolution_note.startswith("Arrival recorded"), slipped.resolution_note
    for _after, what, pk in seen:
        if what != "opened":
            continue
        exception = ShipmentException.objects.select_related("owner").get(pk=pk)
        tasks = Task.objects.filter(source_key__contains=f":exception:{pk}:")
        assert tasks.filter(assignee=exception.owner).exists(), (exception.detail, exception.owner)
        assert Notification.objects.filter(recipient=exception.owner, created_at__gte=exception.opened_at).exists()
        assert not tasks.filter(state=TaskState.OPEN).exists(), exception.detail  # done when it resolved itself
    hold = ShipmentException.objects.select_related("order", "customer").get(
        kind=ExceptionKind.CUSTOMS_HOLD, opened_at__gt=start
    )
    moved = OrderTransition.objects.filter(order=hold.order, at__gt=start).order_by("pk")
    held_and_released = [(row.source, row.target) for row in moved]  # "Customs hold stops the order", then released
    assert held_and_released == [(OrderStatus.ARRIVED, OrderStatus.ON_HOLD), (OrderStatus.ON_HOLD, OrderStatus.ARRIVED)]
    assert hold.customer.code == "ACME"  # whose rule makes customs holds critical and emails them
    assert f"Customs hold · {hold.order.reference}" in [m.subject for m in mail.outbox if hold.customer.email in m.to]
