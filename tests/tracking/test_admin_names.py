"""The console names planning rows as a person says them (shipment references, carrier and customer codes, status
labels), never by database ids; the pages that show those names select what the names read, so a list stays the
same number of queries however many rows it shows; "By branch" and "By carrier" offer only branches and carriers."""

from __future__ import annotations

import datetime
import itertools
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import CargoLine, Location, Mode
from partners.models import Organisation, OrganisationKind
from tests.factories import OrganisationFactory
from tracking.exceptions.models import (
    ExceptionEntry,
    ExceptionKind,
    ExceptionRule,
    ShipmentException,
)
from tracking.ingest.models import (
    AdapterKind,
    CarrierEndpoint,
    Classifier,
    MappingRule,
    MappingStatus,
    RejectedDelivery,
    Scheme,
    SourceKind,
    SubjectType,
    TrackingEvent,
    TrackingSubscription,
    WebhookSource,
)
from tracking.models import (
    Appointment,
    AppointmentKind,
    Booking,
    BookingStatus,
    CarrierPreference,
    CarrierRecord,
    CarrierService,
    ConsolidatedHouse,
    HouseLine,
    Leg,
    PreferenceKind,
    Shipment,
    ShipmentKind,
)

WINDOW = datetime.datetime(2026, 12, 6, 13, 0, tzinfo=datetime.UTC)

# --- 1. Names ------------------------------------------------------------------------------------------------------

NORDTRUCK = Organisation(pk=6, code="NORDTRUCK", name="Nordtruck Spedition")
ACME = Organisation(pk=9, code="ACME", name="Acme Industrial")
MASTER = Shipment(reference="M-HAM-26-000034", kind=ShipmentKind.MASTER)
HOUSE = Shipment(reference="H-HAM-26-000033", kind=ShipmentKind.HOUSE)
MISSED = ShipmentException(kind=ExceptionKind.MISSED_CUTOFF, shipment=MASTER)

NAMES = {
    "booking": (
        Booking(shipment=MASTER, carrier=NORDTRUCK, status=BookingStatus.CONFIRMED),
        "M-HAM-26-000034 with NORDTRUCK (Confirmed)",
    ),
    "booking to send": (
        Booking(shipment=MASTER, carrier=NORDTRUCK, status=BookingStatus.REQUESTED),
        "M-HAM-26-000034 with NORDTRUCK (To send)",
    ),
    "carrier service": (
        CarrierService(carrier=NORDTRUCK, name="Express Worldwide", origin_code="CN", destination_code="US"),
        "NORDTRUCK Express Worldwide CN → US",
    ),
    "preference for everyone": (
        CarrierPreference(carrier=NORDTRUCK, kind=PreferenceKind.PREFERRED),
        "Preferred NORDTRUCK",
    ),
    "preference for a customer, mode and lane": (
        CarrierPreference(
            carrier=NORDTRUCK, kind=PreferenceKind.EXCLUDED, customer=ACME, mode=Mode.ROAD_FTL, origin_code="DE"
        ),
        "Excluded NORDTRUCK for ACME · Road FTL · DE → any",
    ),
    "measured on-time record": (
        CarrierRecord(carrier=NORDTRUCK, on_time_score=Decimal("0.950"), measured_legs=40),
        "NORDTRUCK: 95% on time over 40 legs",
    ),
    "neutral on-time record": (
        CarrierRecord(carrier=NORDTRUCK, on_time_score=Decimal("0.500"), measured_legs=0),
        "NORDTRUCK: 50% on time (not measured yet)",
    ),
    "appointment": (
        Appointment(shipment=MASTER, kind=AppointmentKind.PICKUP, window_start_at=WINDOW),
        "Pickup M-HAM-26-000034 2026-12-06 13:00",
    ),
    "leg": (
        Leg(shipment=MASTER, sequence=2, origin=Location(code="DEHAM"), destination=Location(code="GBLON")),
        "M-HAM-26-000034 leg 2 DEHAM → GBLON",
    ),
    "house on a master": (ConsolidatedHouse(house=HOUSE, master=MASTER), "H-HAM-26-000033 on M-HAM-26-000034"),
    "house line": (HouseLine(house=HOUSE, cargo_line=CargoLine(line_no=2), pieces=5), "H-HAM-26-000033: 5 of line 2"),
    "tracking subscription": (
        TrackingSubscription(
            shipment=MASTER, endpoint=CarrierEndpoint(carrier=NORDTRUCK, kind=AdapterKind.DCSA), reference="MAEU123"
        ),
        "M-HAM-26-000034 at NORDTRUCK (MAEU123)",
    ),
    "rejected delivery": (
        RejectedDelivery(webhook_source=WebhookSource(name="maersk"), received_at=WINDOW, reason="not JSON"),
        "maersk 2026-12-06 13:00: not JSON",
    ),
    "exception": (MISSED, "Missed cut-off · M-HAM-26-000034"),
    "exception history entry": (
        ExceptionEntry(exception=MISSED, verb=ExceptionEntry.Verb.AUTO_RESOLVED, at=WINDOW),
        "Missed cut-off · M-HAM-26-000034: resolved itself 2026-12-06 13:00",
    ),
}


@pytest.mark.parametrize(("row", "name"), list(NAMES.values()), ids=list(NAMES))
def test_rows_are_named_by_references_codes_and_labels(row, name):
    assert str(row) == name


# --- 2. Lists and forms do not run a query per row -----------------------------------------------------------------

serial = itertools.count(1)


def _org(kind: str) -> Organisation:
    code = f"{kind[:3].upper()}{next(serial)}"
    return Organisation.objects.create(code=code, name=f"{code.title()} Ltd", kinds=[kind])


def _place(code: str) -> Location:
    return Location.objects.get_or_create(code=code, defaults={"country": code[:2], "name": code})[0]


def _master(*, carrier: Organisation | None = None) -> Shipment:
    branch = Organisation.objects.get_or_create(code="HAM", defaults={"name": "OMS Hamburg", "kinds": ["branch"]})[0]
    return Shipment.objects.create(
        reference=f"M-HAM-26-{next(serial):06d}",
        kind=ShipmentKind.MASTER,
        branch=branch,
        mode=Mode.OCEAN_FCL,
        origin=_place("CNSHA"),
        destination=_place("DEHAM"),
        carrier=carrier,
    )


def _shipments(n: int) -> None:
    for _ in range(n):
        _master(carrier=_org(OrganisationKind.CARRIER))


def _services(n: int) -> None:
    for _ in range(n):
        CarrierService.objects.create(
            carrier=_org(OrganisationKind.CARRIER),
            mode=Mode.OCEAN_FCL,
            name="AE7",
            origin_code="CNSHA",
            destination_code="DEHAM",
            transit_days=34,
        )


def _bookings(n: int) -> None:
    for _ in range(n):
        carrier = _org(OrganisationKind.CARRIER)
        service = CarrierService.objects.create(
            carrier=carrier,
            mode=Mode.OCEAN_FCL,
            name="AE7",
            origin_code="CNSHA",
            destination_code="DEHAM",
            transit_days=34,
        )
        Booking.objects.create(
            shipment=_master(carrier=carrier), carrier=carrier, service=service, status=BookingStatus.CONFIRMED
        )


def _preferences(n: int) -> None:
    for _ in range(n):
        CarrierPreference.objects.create(
            carrier=_org(OrganisationKind.CARRIER),
            kind=PreferenceKind.PREFERRED,
            customer=_org(OrganisationKind.CUSTOMER),
            reason="Contract 2026",
        )


def _records(n: int) -> None:
    for _ in range(n):
        CarrierRecord.objects.create(carrier=_org(OrganisationKind.CARRIER), measured_legs=3)


def _appointments(n: int) -> None:
    for _ in range(n):
        Appointment.objects.create(
            shipment=_master(),
            kind=AppointmentKind.PICKUP,
            location=_place("CNSHA"),
            window_start_at=WINDOW,
            window_end_at=WINDOW + datetime.timedelta(hours=2),
        )


def _exception(shipment: Shipment) -> ShipmentException:
    return ShipmentException.objects.create(
        kind=ExceptionKind.MISSED_CUTOFF,
        shipment=shipment,
        mode=shipment.mode,
        customer=_org(OrganisationKind.CUSTOMER),
        detail="Cargo not at the terminal",
    )


def _exceptions(n: int) -> None:
    for _ in range(n):
        _exception(_master())


def _rules(n: int) -> None:
    for _ in range(n):
        ExceptionRule.objects.create(
            kind=ExceptionKind.ETA_DELAY, customer=_org(OrganisationKind.CUSTOMER), threshold_hours=12
        )


def _subscriptions(n: int) -> None:
    for _ in range(n):
        carrier = _org(OrganisationKind.CARRIER)
        endpoint = CarrierEndpoint.objects.create(carrier=carrier, kind=AdapterKind.SIMULATED)
        TrackingSubscription.objects.create(
            shipment=_master(carrier=carrier), endpoint=endpoint, reference_type=SubjectType.SHIPMENT, reference="x"
        )


def _mapping_rules(n: int) -> None:
    for _ in range(n):
        MappingRule.objects.create(scheme=Scheme.DCSA, code=f"X{next(serial)}", partner=_org(OrganisationKind.CARRIER))


def _events(n: int) -> None:
    for _ in range(n):
        now = timezone.now()
        TrackingEvent.objects.create(
            source="webhook:test",
            source_kind=SourceKind.WEBHOOK,
            scheme=Scheme.OMS,
            raw_code="DEPARTED",
            reported_at=now,
            mapping_status=MappingStatus.UNMAPPED,
            classifier=Classifier.ACTUAL,
            sent_classifier=Classifier.ACTUAL,
            event_at=now,
            subject_type=SubjectType.SHIPMENT,
            subject_value=_master().reference,
            content_key=uuid.uuid4(),
        )


CHANGELISTS: dict[str, Callable[[int], None]] = {
    "shipment": _shipments,
    "booking": _bookings,
    "carrierservice": _services,
    "carrierpreference": _preferences,
    "carrierrecord": _records,
    "appointment": _appointments,
    "shipmentexception": _exceptions,
    "exceptionrule": _rules,
    "trackingsubscription": _subscriptions,
    "mappingrule": _mapping_rules,
    "trackingevent": _events,
}


def _count(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize("model", list(CHANGELISTS))
def test_a_changelist_runs_as_many_queries_for_many_rows_as_for_two(
    model, admin_user, login, django_assert_max_num_queries
):
    client = login(admin_user)
    path = f"/admin/tracking/{model}/"
    CHANGELISTS[model](2)
    few = _count(client, path)
    CHANGELISTS[model](10)

    with django_assert_max_num_queries(few):
        response = client.get(path)

    assert response.context["cl"].result_count >= 12
    assert response.context["cl"].result_list[0].pk  # the rows were really listed


def test_a_changelist_names_the_rows_it_lists(admin_user, login):
    _bookings(1)
    booking = Booking.objects.get()

    body = login(admin_user).get("/admin/tracking/booking/").content.decode()

    assert booking.shipment.reference in body
    assert f">{booking.carrier.code}<" in body  # the carrier by its code, not "CODE · Name"


def _legs_and_houses(master: Shipment, order: Any, n: int) -> None:
    for _ in range(n):
        sequence = master.legs.count() + 1
        Leg.objects.create(
            shipment=master, sequence=sequence, mode=Mode.OCEAN_FCL, origin=_place("CNSHA"), destination=_place("DEHAM")
        )
        house = Shipment.objects.create(
            reference=f"H-HAM-26-{next(serial):06d}",
            kind=ShipmentKind.HOUSE,
            branch=master.branch,
            order=order,
            mode=Mode.OCEAN_FCL,
            origin=master.origin,
            destination=master.destination,
        )
        ConsolidatedHouse.objects.create(master=master, house=house)


def test_the_names_of_a_masters_legs_and_houses_add_no_query_per_row(admin_user, login, make_order):
    client = login(admin_user)
    order = make_order()
    master = _master()
    path = f"/admin/tracking/shipment/{master.pk}/change/"
    _legs_and_houses(master, order, 1)
    client.get(path)  # the first page after signing in reads what later pages find cached
    few = _count(client, path)
    _legs_and_houses(master, order, 8)

    many = _count(client, path)

    # The legs are shown, not edited (corrected on the shipment page): their names, carriers and places come with
    # them, and the houses add no query either.
    assert many == few
    body = client.get(path).content.decode()
    assert f"{master.reference} leg 9 CNSHA → DEHAM" in body  # each inline row is titled with its name
    assert f'href="/planning/shipments/{master.reference}/legs/' in body  # and links to where it is corrected
    assert f" on {master.reference}" in body


def test_an_exception_with_a_long_history_opens_in_as_many_queries_as_with_a_short_one(
    admin_user, login, django_assert_max_num_queries
):
    client = login(admin_user)
    exception = _exception(_master())
    path = f"/admin/tracking/shipmentexception/{exception.pk}/change/"
    ExceptionEntry.objects.create(exception=exception, verb=ExceptionEntry.Verb.OPENED)
    few = _count(client, path)
    for _ in range(8):
        ExceptionEntry.objects.create(exception=exception, verb=ExceptionEntry.Verb.NOTED, by=admin_user, text="Called")

    with django_assert_max_num_queries(few):
        body = client.get(path).content.decode()

    assert f"Missed cut-off · {exception.shipment.reference}" in body


# --- 3. Filters ----------------------------------------------------------------------------------------------------


def _choices(client: Any, path: str, title: str) -> set[str]:
    response = client.get(path)
    [spec] = [spec for spec in response.context["cl"].filter_specs if spec.title == title]
    return {label for _, label in spec.lookup_choices}


@pytest.mark.parametrize("path", ["/admin/tracking/shipment/", "/admin/workflows/team/"])
def test_by_branch_offers_branches_only(path, admin_user, login, company, branch, customer_a, carrier):
    other_branch = OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH])
    client = login(admin_user)

    assert _choices(client, path, "branch") == {str(branch), str(other_branch)}


@pytest.mark.parametrize("model", ["booking", "carrierservice"])
def test_by_carrier_offers_carriers_only(model, admin_user, login, branch, customer_a, carrier):
    other_carrier = OrganisationFactory(code="MAEU", name="Maersk", kinds=[OrganisationKind.CARRIER])
    client = login(admin_user)

    assert _choices(client, f"/admin/tracking/{model}/", "carrier") == {str(carrier), str(other_carrier)}


def test_by_carrier_lists_that_carriers_bookings(admin_user, login):
    _bookings(2)
    first, second = Booking.objects.order_by("pk")

    response = login(admin_user).get(f"/admin/tracking/booking/?carrier__id__exact={first.carrier_id}")

    assert list(response.context["cl"].result_list) == [first]
    assert second.shipment.reference not in response.content.decode()


def test_the_console_shows_legs_and_bookings_but_planning_makes_and_corrects_them(admin_user, login, make_order):
    """A leg changed or a booking added in the console skipped the planning services (the leg history with its
    reason, the shipment's status from its legs, exceptions judged again, the booking's request): legs are shown
    with a link to where they are corrected, and bookings are not added here."""
    client = login(admin_user)
    master = _master()
    _legs_and_houses(master, make_order(), 1)
    body = client.get(f"/admin/tracking/shipment/{master.pk}/change/").content.decode()

    assert 'name="legs-0-carrier"' not in body
    assert 'name="legs-0-planned_departure_at' not in body
    assert "Correct on the shipment page" in body
    assert client.get("/admin/tracking/booking/add/").status_code == 403
