"""An exception that resolved before its announcement ran (the worker died after the commit) is stamped
announced and nobody is told: no workflow task, no notification, no customer email."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from tests.tracking.test_ingest_support import ETD, dcsa_event
from tracking.exceptions.models import ShipmentException
from tracking.exceptions.services import announcing, detection
from workflows.models import Notification, Rule, RuleAction, RuleEvent, Task, TeamFunction

from .conftest import detect, ingest


@pytest.fixture
def exception_rule(db):
    rule = Rule.objects.create(name="Exception: task for operations", event=RuleEvent.EXCEPTION_OPENED)
    RuleAction.objects.create(
        rule=rule, kind="create_task", task_name="Handle the exception", team_function=TeamFunction.OPERATIONS,
        due_in_hours=Decimal(4),
    )  # fmt: skip
    return rule


def test_a_late_announcement_of_a_resolved_exception_tells_nobody(
    booked_fcl, ops_team, exception_rule, django_capture_on_commit_callbacks
):
    _, master = booked_fcl
    detect(master)  # opened; its announcement is lost (on-commit callbacks not run)
    exception = ShipmentException.objects.get()
    ShipmentException.objects.filter(pk=exception.pk).update(notify_customer=True)
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"))
    detect(master)  # resolves itself
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert exception.announced_at is None
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert announcing.exception_announce(exception_id=exception.pk) is False

    exception.refresh_from_db()
    assert exception.announced_at is not None  # stamped: the missed-announcement sweep leaves it alone
    assert not Task.objects.filter(rule=exception_rule).exists()
    assert not Notification.objects.exists()
    assert mail.outbox == []
    assert exception.owner_id is None


def test_the_missed_announcement_sweep_skips_resolved_ones(
    booked_fcl, ops_team, exception_rule, django_capture_on_commit_callbacks
):
    _, master = booked_fcl
    detect(master)
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA"))
    detect(master)
    ShipmentException.objects.update(opened_at=timezone.now() - datetime.timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        detection._announce_missed()
    assert not Task.objects.filter(rule=exception_rule).exists()
    assert not Notification.objects.filter(title__startswith="Exception:").exists()
    assert ShipmentException.objects.get().announced_at is not None


def test_an_unresolved_exception_is_still_announced_once(booked_fcl, ops_team, exception_rule):
    _, master = booked_fcl
    detect(master)
    exception = ShipmentException.objects.get()
    assert announcing.exception_announce(exception_id=exception.pk) is True
    assert announcing.exception_announce(exception_id=exception.pk) is False
    assert Task.objects.filter(rule=exception_rule).count() == 1
