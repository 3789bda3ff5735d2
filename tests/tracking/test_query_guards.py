"""Query guards: an order's pages, timeline and API across many houses and masters, a master's ranking and booking
request across many houses and carriers, the tracking monitor and an upload's page cost as many queries with many
rows as with a few. Each is read with a few rows of varied content, then with several times more, and must run the
same number of queries, under a fixed ceiling for the larger case (STYLE.md, Tests).

The worlds are built through the planning, consolidation and ingest services (a house, a master and an event are
what those services make of them); pages that share a world are measured in one test, as the world is the slow
part."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from finance.models import RateBasis
from partners import services as partner_services
from partners.models import ApiKey
from tests.factories import OrganisationFactory
from tests.finance.builders import rate_card
from tests.tracking.conftest import add_on_carriage, lcl_line
from tests.tracking.test_admin_names import _master
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures (fresh_mapping …)
from tests.tracking.test_ingest_support import NOW, iso
from tracking.ingest import services as ingest_services
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import (
    AdapterKind,
    CarrierEndpoint,
    EventUpload,
    MappingAlert,
    RejectedDelivery,
    Scheme,
    SourceKind,
    SubjectType,
    TrackingSubscription,
    WebhookSource,
)
from tracking.ingest.services import Source
from tracking.models import CarrierService, Shipment
from tracking.services import appointment_changes, consolidation, planning
from tracking.services import booking as booking_services

FEED = Source(kind=SourceKind.WEBHOOK, name="feed")
serial = itertools.count(1)

# One page as a viewer reads it: (client, address, request headers).
Page = tuple[Any, str, dict[str, str]]


def _count_each(
    pages: dict[str, Page], assert_max_num_queries: Any, ceilings: dict[str, int]
) -> tuple[dict[str, int], dict[str, str]]:
    """How many queries each page runs, each under its ceiling, and what each page says."""
    counts, bodies = {}, {}
    for name, (client, url, headers) in pages.items():
        with assert_max_num_queries(ceilings[name]) as queries:
            response = client.get(url, **headers)
        assert response.status_code == 200, (name, response.status_code)
        counts[name], bodies[name] = len(queries), response.content.decode()
    return counts, bodies


def _key_client(organisation: Any) -> Client:
    """A client calling the API with a new key of `organisation`. The key's note of its last use, written once a
    minute, is put an hour ahead: a slow run crossing the minute would count that write in one read and not the
    other, whatever the rows."""
    key, raw = partner_services.api_key_create(organisation=organisation, name="ERP")
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() + datetime.timedelta(hours=1))
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _person(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- An order split into many houses on many masters ---------------------------------------------------------------

HX = {"HTTP_HX_REQUEST": "true"}
# Each page's ceiling for the larger case: what it ran when these guards were written (it runs the same for the
# few). A page that needs more must say why; more rows never may.
ORDER_CEILINGS = {
    "order page": 25, "order plan": 11, "timeline": 12, "timeline card": 12, "timeline body": 10,
    "customer's timeline": 8, "customer's timeline card": 8, "customer's timeline body": 8,
    "API order (staff key)": 20, "API timeline (staff key)": 16, "API transitions (staff key)": 19,
    "API order (customer key)": 12, "API timeline (customer key)": 15, "API transitions (customer key)": 10,
}  # fmt: skip


def test_an_orders_pages_cost_the_same_queries_for_3_and_12_houses(
    make_order, ops_user, customer_a_user, customer_b, branch, fresh_mapping, django_assert_max_num_queries
):
    """The order's lines are split into houses; two houses in three travel on a master of their own with another
    order of ACME or GLOBEX, a container and an event; the rest stay on the order's first master."""
    order = make_order(lines=[lcl_line(100 + i, 1, pieces=4, description=f"Item {i}") for i in range(14)])
    first = planning.shipment_plan_direct(order=order, by=ops_user)
    house = first.consolidated_houses.get().house
    lines = list(order.lines.order_by("line_no"))

    def grow(n: int) -> None:
        for _ in range(n):
            k = next(serial)
            split = planning.house_split(house=house, allocations={lines[k].pk: 2}, by=ops_user)
            if k % 3:
                other = make_order(lines=[lcl_line(100, 1)], customer_code=("ACME", "GLOBEX")[k % 2])
                master = consolidation.consolidation_create(orders=[other], container_type="22G1", by=ops_user)
                consolidation.house_add(master=master, house=split, by=ops_user)
                event = {"event_id": f"e{k}", "milestone": "RECEIVED_AT_ORIGIN", "shipment": master.reference,
                         "occurred_at": iso(NOW - datetime.timedelta(hours=k))}  # fmt: skip
                ingest_services.events_ingest(events=[read_oms(event)], source=FEED)

    staff, customer = _person(ops_user), _person(customer_a_user)
    staff_key, acme_key = _key_client(branch), _key_client(order.customer)
    ref = order.reference
    pages: dict[str, Page] = {
        "order page": (staff, f"/orders/{ref}/", {}),
        "order plan": (staff, f"/planning/orders/{ref}/", {}),
        "timeline": (staff, f"/tracking/orders/{ref}/", {}),
        "timeline card": (staff, f"/tracking/orders/{ref}/", HX),
        "timeline body": (staff, f"/tracking/orders/{ref}/?part=body", HX),
        "customer's timeline": (customer, f"/tracking/orders/{ref}/", {}),
        "customer's timeline card": (customer, f"/tracking/orders/{ref}/", HX),
        "customer's timeline body": (customer, f"/tracking/orders/{ref}/?part=body", HX),
    }
    for who, client in (("staff key", staff_key), ("customer key", acme_key)):
        pages |= {
            f"API order ({who})": (client, f"/api/v1/orders/{ref}/", {}),
            f"API timeline ({who})": (client, f"/api/v1/orders/{ref}/timeline/", {}),
            f"API transitions ({who})": (client, f"/api/v1/orders/{ref}/transitions/", {}),
        }
    grow(2)
    for client, url in ((staff, f"/tracking/orders/{ref}/"), (customer, f"/tracking/orders/{ref}/"),
                        (staff_key, f"/api/v1/orders/{ref}/"), (acme_key, f"/api/v1/orders/{ref}/")):  # fmt: skip
        client.get(url)  # warm the sessions, the keys' rate windows and the caches
    few, _ = _count_each(pages, django_assert_max_num_queries, ORDER_CEILINGS)
    grow(9)

    many, bodies = _count_each(pages, django_assert_max_num_queries, ORDER_CEILINGS)

    assert many == few
    houses = Shipment.objects.filter(order=order)
    assert len(houses) == 12
    assert all(house.reference in bodies["order page"] for house in houses)


# --- A master with many houses, ranked among many carriers ---------------------------------------------------------

# The ranking reads the carriers that declined the master (one query: tracking.services.ranking.declined_by_carrier).
MASTER_CEILINGS = {"ranking": 23, "ranking (htmx)": 23, "booking request": 11, "order plan": 18, "master": 19}


def test_a_masters_ranking_booking_request_and_plan_cost_the_same_queries_for_few_and_many_houses_and_carriers(
    make_order, ops_user, ocean_carriers, carrier, customer_b, fresh_mapping, django_assert_max_num_queries
):
    """A consolidated master of two customers' orders with an on-carriage leg, a refused booking and a requested
    one, and an order waiting for its carrier. Each step adds a house of one of three customers and a pickup or
    delivery appointment to the master, a carrier with its rate card and service on the lane, and every other step
    another open master on the lane."""
    customers = ("ACME", "GLOBEX", "INITECH")
    OrganisationFactory(code="INITECH", name="Initech", kinds=["customer"])
    master = consolidation.consolidation_create(
        orders=[make_order(lines=[lcl_line(300, 1, description=f"Lamps {i}")], customer_code=customers[i])
                for i in range(2)],
        container_type="45G1", by=ops_user,
    )  # fmt: skip
    add_on_carriage(master, carrier.pk)
    maersk, hapag = ocean_carriers
    refused = booking_services.booking_request(shipment=master, carrier=maersk, by=ops_user)
    booking_services.booking_reject(booking=refused, reason="No space", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=hapag, by=ops_user)
    unplanned = make_order(mode="ocean_fcl", lines=[dict(lcl_line(900, 3), container_type="22G1")])
    added: list[int] = []

    def grow(n: int) -> None:
        for _ in range(n):
            k = next(serial)
            added.append(k)
            order = make_order(
                lines=[lcl_line(200, 1, description=f"Parts {k}")],
                customer_code=customers[k % 3],
                description=f"Parts {k}",
            )
            consolidation.order_add_to_master(order=order, master=master, by=ops_user)
            start = timezone.now() + datetime.timedelta(days=k)
            appointment_changes.appointment_schedule(shipment=master, data={
                "kind": ("pickup", "delivery")[k % 2], "location_id": "DEHAM", "reference": f"SL{k}",
                "window_start_at": start, "window_end_at": start + datetime.timedelta(hours=2)})  # fmt: skip
            other = OrganisationFactory(code=f"CR{k}", name=f"Carrier {k}", kinds=["carrier", "vendor"])
            rate_card(other, mode="ocean_fcl", currency=("EUR", "USD")[k % 2], lines=[
                {"origin_code": "CNSHA", "destination_code": "DEHAM", "equipment_type": box,
                 "basis": RateBasis.PER_CONTAINER, "breaks": [(0, 1400 + k)]} for box in ("22G1", "45G1")])  # fmt: skip
            CarrierService.objects.create(
                carrier=other,
                mode="ocean_fcl",
                name=f"S{k}",
                origin_code="CNSHA",
                destination_code="DEHAM",
                transit_days=30 + k,
                departure_weekdays=[k % 7],
                cargo_cutoff_hours=48,
            )
            if k % 2:
                planning.shipment_plan_direct(order=make_order(lines=[lcl_line(100, 1)]), by=ops_user)

    staff = _person(ops_user)
    pages: dict[str, Page] = {
        "ranking": (staff, f"/planning/shipments/{master.reference}/ranking/", {}),
        "ranking (htmx)": (staff, f"/planning/shipments/{master.reference}/ranking/", HX),
        "booking request": (staff, f"/planning/bookings/{booking.pk}/request/", {}),
        "order plan": (staff, f"/planning/orders/{unplanned.reference}/", {}),
        "master": (staff, master.get_absolute_url(), {}),
    }
    staff.get(master.get_absolute_url())  # warm the session and the caches
    few, _ = _count_each(pages, django_assert_max_num_queries, MASTER_CEILINGS)
    grow(6)

    many, bodies = _count_each(pages, django_assert_max_num_queries, MASTER_CEILINGS)

    assert many == few
    assert master.consolidated_houses.count() == 8
    assert all(f"Carrier {k}" in bodies["ranking"] and f"Carrier {k}" in bodies["order plan"] for k in added)
    assert all(f"Parts {k}" in bodies["booking request"] for k in added)  # the goods of every house


# --- The tracking monitor and one upload ---------------------------------------------------------------------------

MONITOR_CEILING = 8  # 7, and the events not applied (H5)
UPLOAD_CEILING = 4


def _feeds(n: int) -> None:
    """n more carriers, each with a polled feed of a master of its own (some failing), a code it sent that has no
    mapping, an event of that master sent by its webhook, an unreadable delivery of that webhook and one with refused
    events."""
    for carrier in (OrganisationFactory(code=f"FD{next(serial)}", kinds=["carrier"]) for _ in range(n)):
        master = _master(carrier=carrier)
        endpoint = CarrierEndpoint.objects.create(carrier=carrier, kind=AdapterKind.SIMULATED)
        TrackingSubscription.objects.create(
            shipment=master, endpoint=endpoint, reference_type=SubjectType.SHIPMENT, reference=master.reference,
            consecutive_failures=int(carrier.code[2:]) % 3,
        )  # fmt: skip
        MappingAlert.objects.create(scheme=Scheme.DCSA, code=f"X{carrier.code}", partner=carrier, event_count=2)
        source = WebhookSource.objects.create(name=carrier.code.lower(), carrier=carrier)
        RejectedDelivery.objects.create(webhook_source=source, status_code=400, reason="not JSON")
        RejectedDelivery.objects.create(
            webhook_source=source, status_code=200, reason="1 of 2 events refused: eventType 'PARTY'",
            events_received=2, events_stored=1, refused_count=1,
            refusals=[{"index": 1, "event_id": f"{carrier.code}-p", "message": "eventType 'PARTY'"}],
        )  # fmt: skip
        ingest_services.events_ingest(
            events=[read_oms({"event_id": f"{carrier.code}-1", "milestone": "DEPARTED", "shipment": master.reference,
                              "occurred_at": iso(NOW - datetime.timedelta(hours=1))})],
            source=Source(kind=SourceKind.WEBHOOK, name=source.name, partner_id=carrier.pk),
        )  # fmt: skip


def test_the_tracking_monitor_costs_the_same_queries_for_3_and_12_feeds(
    login, ops_user, fresh_mapping, django_assert_max_num_queries
):
    client = login(ops_user)
    _feeds(3)
    client.get("/tracking/")  # warm the session
    with django_assert_max_num_queries(MONITOR_CEILING) as few:
        client.get("/tracking/")
    _feeds(9)

    with django_assert_max_num_queries(MONITOR_CEILING) as many:
        response = client.get("/tracking/")

    assert len(many) == len(few)
    assert len(response.context["feeds"]) == len(response.context["alerts"]) == len(response.context["events"]) == 12


def _upload(by: Any, partner: Any, problems: int) -> EventUpload:
    """A milestone file of `problems` + 2 rows with a problem on each row after the first two."""
    errors = [{"row": 3 + i, "column": ("milestone", "occurred_at")[i % 2], "value": f"X{i}", "message": "Unknown."}
              for i in range(problems)]  # fmt: skip
    return EventUpload.objects.create(
        uploaded_by=by, partner=partner, file_name=f"week-{problems}.csv", rows_total=problems + 2, events_stored=2,
        error_count=problems, errors=errors,
    )  # fmt: skip


@pytest.mark.parametrize("viewer", ["ops_user", "carrier_user"])
def test_an_uploads_page_costs_the_same_queries_for_3_and_12_problems(
    viewer, request, login, carrier, django_assert_max_num_queries
):
    user = request.getfixturevalue(viewer)
    client = login(user)
    partner = carrier if viewer == "carrier_user" else None
    small, large = (_upload(user, partner, problems) for problems in (3, 12))
    client.get(f"/tracking/uploads/{small.pk}/")  # warm the session
    with django_assert_max_num_queries(UPLOAD_CEILING) as few:
        client.get(f"/tracking/uploads/{small.pk}/")

    with django_assert_max_num_queries(UPLOAD_CEILING) as many:
        response = client.get(f"/tracking/uploads/{large.pk}/")

    assert len(many) == len(few)
    assert response.content.decode().count("Unknown.") == 12
