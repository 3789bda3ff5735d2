"""Query guards: an exception's page, the order's and the shipment's exception panels and the weekly view cost as
many queries with many exceptions, notes and events as with a few. Each is read with a few rows of varied content,
then with several times more, and must run the same number of queries, under a fixed ceiling for the larger case
(STYLE.md, Tests).

Exceptions are written in bulk, as detection would leave them (kinds, severities, states, owners, customers,
carriers, lanes, rules): detection itself is tested beside this file, and its cost is not what is measured here."""

from __future__ import annotations

import datetime
import itertools
import uuid

import pytest
from django.utils import timezone

from tests.conftest import _member
from tests.factories import OrganisationFactory
from tests.tracking.exceptions.test_views import last_week
from tracking.exceptions.models import ExceptionEntry, ExceptionKind, ExceptionRule, ShipmentException
from tracking.ingest.models import Classifier, MappingStatus, Scheme, SourceKind, SubjectType, TrackingEvent
from tracking.models import Shipment, ShipmentKind

serial = itertools.count(1)
KINDS = [ExceptionKind.MILESTONE_OVERDUE, ExceptionKind.ETA_DELAY, ExceptionKind.CUSTOMS_HOLD,
         ExceptionKind.NO_MOVEMENT, ExceptionKind.MISSED_CUTOFF]  # fmt: skip
STATES = ["open", "acknowledged", "resolved"]
# Each page's ceiling for the larger case: what it ran when these guards were written (it runs the same for the
# few). A page that needs more must say why; more rows never may.
CEILINGS = {"exception": 6, "order panel": 5, "shipment panel": 5, "weekly": 4}


@pytest.fixture
def grow_exceptions(booked_fcl, ops_user, customer_a, customer_b, carrier, ocean_carriers):
    """(the exception whose page is read, `grow(n)`): n more exceptions on the booked order's master (of it, or
    of nobody's order) and on masters of other lanes, of every kind, state, severity, owner, customer and
    carrier, opened last week; the exception read gets n more notes by three people and n more events behind it."""
    order, master = booked_fcl
    people = [ops_user, *(_member(f"ops{i}@oms.test", master.branch, "operations") for i in range(2))]
    customers = [customer_a, customer_b, OrganisationFactory(code="INITECH", kinds=["customer"])]
    carriers = [*ocean_carriers, carrier]
    rules = list(ExceptionRule.objects.all()[:3])
    opened, _ = last_week()
    watched = ShipmentException.objects.create(
        kind=ExceptionKind.MILESTONE_OVERDUE, shipment=master, order=order, customer=customer_a, mode=master.mode,
        carrier=carriers[0], rule=rules[0], milestone="DEPARTED", detail="Departure six days overdue", owner=ops_user,
        opened_at=opened,
    )  # fmt: skip

    # At most one unresolved exception of a kind per shipment, leg and house (exception_open_once): those on the
    # booked master take the next free of its twenty places.
    places = itertools.product([None, master.legs.get()], [None, Shipment.objects.get(order=order)], KINDS)
    next(places)  # the watched exception's

    def exception(k: int) -> ShipmentException:
        state = STATES[k % 3]
        on_master = k % 2 == 1
        leg, house, kind = next(places) if on_master and state != "resolved" else (None, None, KINDS[k % 5])
        acted = opened + datetime.timedelta(hours=k + 1)
        handled = state != "open"
        shipment = master if on_master else _lane_master(master, k)
        return ShipmentException(
            kind=kind, severity=1 + k % 4, status=state, shipment=shipment, leg=leg,
            house=house, order=order if k % 4 == 1 else None, customer=customers[k % 3], carrier=carriers[k % 3],
            mode=master.mode, rule=rules[k % len(rules)], owner=people[k % 3] if k % 5 else None,
            milestone=("DEPARTED", "ARRIVED")[k % 2], detail=f"Detected #{k}", opened_at=opened,
            acknowledged_by=people[k % 3] if handled else None, acknowledged_at=acted if handled else None,
            resolved_by=people[(k + 1) % 3] if state == "resolved" else None,
            resolved_at=acted if state == "resolved" else None,
        )  # fmt: skip

    def grow(n: int) -> None:
        numbers = [next(serial) for _ in range(n)]
        ShipmentException.objects.bulk_create(exception(k) for k in numbers)
        ExceptionEntry.objects.bulk_create(
            ExceptionEntry(exception=watched, verb=ExceptionEntry.Verb.NOTED, by=people[k % 3], text=f"Called #{k}")
            for k in numbers
        )
        events = TrackingEvent.objects.bulk_create(_event(master, k) for k in numbers)
        watched.source_event_ids += [event.pk for event in events]
        watched.save(update_fields=["source_event_ids"])

    return watched, grow


def _lane_master(booked: Shipment, k: int) -> Shipment:
    """A master of the booked one's branch and mode on one of three lanes (references of their own: the planning
    service's sequence never reaches them)."""
    origin, destination = (("CNSHA", "DEHAM"), ("DEFRA", "USCHI"), ("DEHAM", "PLWAW"))[k % 3]
    return Shipment.objects.create(
        reference=f"M-LANE-{k:06d}", kind=ShipmentKind.MASTER, branch=booked.branch, mode=booked.mode,
        origin_id=origin, destination_id=destination,
    )  # fmt: skip


def _event(master: Shipment, k: int) -> TrackingEvent:
    at = timezone.now() - datetime.timedelta(hours=k)
    return TrackingEvent(
        source="webhook:feed", source_kind=SourceKind.WEBHOOK, scheme=Scheme.OMS, raw_code="DEPARTED",
        milestone_id=("DEPARTED", "GATE_OUT")[k % 2], reported_at=at, mapping_status=MappingStatus.MAPPED,
        classifier=Classifier.ACTUAL, sent_classifier=Classifier.ACTUAL, event_at=at,
        subject_type=SubjectType.SHIPMENT, subject_value=master.reference, shipment=master, content_key=uuid.uuid4(),
    )  # fmt: skip


def test_the_exception_screens_cost_the_same_queries_for_few_and_many_exceptions(
    grow_exceptions, booked_fcl, login, ops_user, django_assert_max_num_queries
):
    order, master = booked_fcl
    watched, grow = grow_exceptions
    client = login(ops_user)
    _, week = last_week()
    pages = {
        "exception": f"/exceptions/{watched.pk}/",
        "order panel": f"/exceptions/orders/{order.reference}/",
        "shipment panel": f"/exceptions/shipments/{master.reference}/",
        "weekly": f"/exceptions/weekly/?week={week}",
    }
    grow(3)
    client.get(pages["exception"])  # warm the session
    few, many, bodies = {}, {}, {}
    for name, url in pages.items():
        with django_assert_max_num_queries(CEILINGS[name]) as queries:
            assert client.get(url).status_code == 200
        few[name] = len(queries)
    grow(9)

    for name, url in pages.items():
        with django_assert_max_num_queries(CEILINGS[name]) as queries:
            response = client.get(url)
        many[name], bodies[name] = len(queries), response.content.decode()

    assert many == few
    assert bodies["exception"].count("Called #") == 12
    assert bodies["shipment panel"].count("/exceptions/") >= 6
