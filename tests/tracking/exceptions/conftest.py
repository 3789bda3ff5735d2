"""Fixtures for exceptions: the booked ocean FCL order of the ingest tests (ETD six days ago, not departed yet,
ETA in 24 days), a booked road order, the default rules, and helpers to feed events and run detection."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail

from orders.models import Order
from tests.tracking.conftest import lcl_line
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures (booked_fcl, fresh_mapping …)
from tests.tracking.test_ingest_support import book
from tracking.exceptions import rules, tasks
from tracking.exceptions.defaults import seed_default_rules
from tracking.exceptions.models import ExceptionKind, ExceptionRule, ShipmentException
from tracking.exceptions.services import detection
from tracking.ingest import services as ingest_services
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import SourceKind
from tracking.ingest.services import Source
from workflows.models import Team, TeamFunction, TeamMember

H = datetime.timedelta(hours=1)
FEED = Source(kind=SourceKind.WEBHOOK, name="feed")


@pytest.fixture(autouse=True)
def default_rules(db) -> Iterator[None]:
    """The rules of migration 0004 (tests on transactional_db elsewhere truncate them), no cached copy."""
    seed_default_rules(ExceptionRule)
    rules._cache.clear()
    yield
    rules._cache.clear()


@pytest.fixture(autouse=True)
def _celery_eager(eager_celery) -> None:
    """Queued work (announcements, emails, detection) runs inline in every exceptions test."""


def ingest(*raw: dict) -> ingest_services.IngestResult:
    return ingest_services.events_ingest(
        events=[read_dcsa(e) if "eventType" in e else read_oms(e) for e in raw], source=FEED
    )


def detect(master, now: datetime.datetime | None = None) -> detection.Outcome:
    return detection.exceptions_detect(shipment_ids=[master.pk], now=now)


def open_exceptions(master, kind: str | None = None) -> list[ShipmentException]:
    rows = ShipmentException.objects.filter(shipment=master, status__in=["open", "acknowledged"])
    return list(rows.filter(kind=kind) if kind else rows)


@pytest.fixture
def booked_road(make_order, carrier, ops_user, ops_scope, fresh_mapping):
    """(order, master): road FTL Hamburg → Warsaw with Nordtruck, one truck leg, departure six days ago."""
    order = make_order(
        mode="road_ftl", incoterm="DAP", origin="DEHAM", destination="PLWAW",
        lines=[lcl_line(9000, 30, pieces=20, description="Beverages")],
    )  # fmt: skip
    master = book(order=order, carrier=carrier, ops_user=ops_user, ops_scope=ops_scope, reference="NT-1", bill="CMR-1")
    return Order.objects.get(pk=order.pk), master


@pytest.fixture
def ops_team(branch, ops_user, admin_user):
    """HAM operations: ops_user leads it and is its only member."""
    team = Team.objects.create(name="HAM Operations", function=TeamFunction.OPERATIONS, branch=branch, lead=ops_user)
    TeamMember.objects.create(team=team, user=ops_user)
    return team


@pytest.fixture
def customer_notice(booked_fcl, customer_a, django_capture_on_commit_callbacks):
    """An exception whose rule emails ACME, detected with its email not sent yet (the tests send it)."""
    customer_a.email = "ops@acme.test"
    customer_a.save(update_fields=["email"])
    ExceptionRule.objects.create(
        kind=ExceptionKind.MILESTONE_OVERDUE, mode="ocean_fcl", customer=customer_a, threshold_hours=Decimal(24),
        notify_customer=True,
    )  # fmt: skip
    _, master = booked_fcl
    mail.outbox.clear()
    with (
        mock.patch.object(tasks.email_exception_to_customer, "delay_on_commit"),  # the tests send it, below
        django_capture_on_commit_callbacks(execute=True),
    ):
        detect(master)
    return ShipmentException.objects.get(customer=customer_a)
