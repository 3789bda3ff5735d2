"""Legs travel in role order, and a leg's own departure and arrival are its own milestones: only the main carriage
departs and arrives for the shipment. A pre-carriage truck's departure is the pickup (PICKED_UP) and its arrival at
the port the gate-in (RECEIVED_AT_ORIGIN); an on-carriage leaves the port (OUT_FOR_DELIVERY) and delivers
(DELIVERED), or, for a consolidation or before a last mile, makes the goods available (AVAILABLE). Acceptance review
B, defect 2: on /planning/today/, "Departed" and "Arrived" on a pre-carriage truck gave the vessel the truck's
departure, made the master "Arrived" and moved the orders to arrived, and the pre-carriage was listed after the main
carriage."""

from __future__ import annotations

import datetime
import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from orders.models import Order, OrderStatus
from tests.tracking.conftest import PICKUP
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tracking.ingest import recording
from tracking.ingest import services as ingest_services
from tracking.ingest.models import Classifier, SourceKind, TrackingEvent
from tracking.ingest.selectors import order_timeline
from tracking.models import Leg, LegRole, Shipment, ShipmentStatus
from tracking.services import booking as booking_services
from tracking.services import consolidation, leg_changes

H = datetime.timedelta(hours=1)


def truck(master, **extra):
    return leg_changes.leg_add(
        shipment=master,
        data={"role": LegRole.PRE_CARRIAGE, "mode": "road_ftl", "origin_id": "CNSZH", "destination_id": "CNSHA"}
        | extra,
    )


def on_carriage(shipment, destination="DEBER", role=LegRole.ON_CARRIAGE, origin="DEHAM"):
    return leg_changes.leg_add(
        shipment=shipment, data={"role": role, "mode": "road_ftl", "origin_id": origin, "destination_id": destination}
    )


def actual_milestones(shipment):
    return list(
        TrackingEvent.objects.filter(shipment=shipment, classifier=Classifier.ACTUAL)
        .exclude(milestone_id="BOOKING_CONFIRMED")
        .order_by("event_at", "id")
        .values_list("milestone_id", "location_code", "leg_id")
    )


def test_legs_are_kept_in_role_order_whatever_order_they_are_added_in(booked_fcl):
    _order, master = booked_fcl
    main = master.legs.get(role=LegRole.MAIN)
    last_mile = on_carriage(master, role=LegRole.LAST_MILE, origin="DEBER", destination="DEBER")
    delivery = on_carriage(master)
    pickup = truck(master)

    assert list(master.legs.order_by("sequence").values_list("role", flat=True)) == [
        LegRole.PRE_CARRIAGE, LegRole.MAIN, LegRole.ON_CARRIAGE, LegRole.LAST_MILE,
    ]  # fmt: skip
    assert pickup.sequence == 1  # the returned leg knows its place

    leg_changes.leg_update(leg=pickup, data={"role": LegRole.ON_CARRIAGE})  # a role changed moves the leg too
    assert list(master.legs.order_by("sequence").values_list("pk", flat=True)) == [
        main.pk, delivery.pk, pickup.pk, last_mile.pk,
    ]  # fmt: skip


def test_a_pre_carriage_moving_does_not_move_the_main_carriage_or_arrive_the_shipment(
    booked_fcl, ops_user, django_capture_on_commit_callbacks
):
    """The reviewer's walk: a truck on M-… departed and arrived on /planning/today/."""
    order, master = booked_fcl
    now = timezone.now()
    pickup = truck(master, planned_departure_at=now - 3 * H, planned_arrival_at=now - H)

    with django_capture_on_commit_callbacks(execute=True):
        leg_changes.leg_record_actual(leg=pickup, by=ops_user, departed_at=now - 3 * H)
    with django_capture_on_commit_callbacks(execute=True):
        leg_changes.leg_record_actual(leg=pickup, by=ops_user, arrived_at=now - H)

    main = master.legs.get(role=LegRole.MAIN)
    assert (main.actual_departure_at, main.actual_arrival_at) == (None, None), "the vessel moved with the truck"
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.IN_TRANSIT  # picked up: under way
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT  # the lifecycle's depart: "picked up or left origin"
    assert actual_milestones(master) == [
        ("PICKED_UP", "CNSZH", pickup.pk),
        ("RECEIVED_AT_ORIGIN", "CNSHA", main.pk),  # the gate-in at the port of loading, where the vessel leaves
    ]
    timeline = order_timeline(order=order, customer_safe=True)
    done = {row.code for row in timeline.milestones if row.actual_at}
    assert {"PICKED_UP", "RECEIVED_AT_ORIGIN"} <= done
    assert not done & {"DEPARTED", "ARRIVED"}
    # the vessel's own departure and arrival still move the shipment and the order
    with django_capture_on_commit_callbacks(execute=True):
        leg_changes.leg_record_actual(leg=main, by=ops_user, departed_at=now - H / 2)
    with django_capture_on_commit_callbacks(execute=True):
        leg_changes.leg_record_actual(leg=main, by=ops_user, arrived_at=now)
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.ARRIVED
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ARRIVED


def test_an_on_carriage_arrival_delivers_a_single_order(booked_fcl, ops_user, django_capture_on_commit_callbacks):
    order, master = booked_fcl
    main = master.legs.get(role=LegRole.MAIN)
    delivery = on_carriage(master)
    now = timezone.now()
    for leg, departed, arrived in ((main, now - 5 * H, now - 4 * H), (delivery, now - 3 * H, now - 2 * H)):
        with django_capture_on_commit_callbacks(execute=True):
            leg_changes.leg_record_actual(leg=leg, by=ops_user, departed_at=departed)
        with django_capture_on_commit_callbacks(execute=True):
            leg_changes.leg_record_actual(leg=leg, by=ops_user, arrived_at=arrived)

    assert [m for m, _place, _leg in actual_milestones(master)] == [
        "DEPARTED", "ARRIVED", "OUT_FOR_DELIVERY", "DELIVERED",
    ]  # fmt: skip
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.DELIVERED
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DELIVERED


def test_an_on_carriage_of_a_consolidation_makes_the_goods_available_not_delivered(
    make_order, ocean_carriers, ops_user, ops_scope, fresh_mapping, django_capture_on_commit_callbacks
):
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    etd = timezone.now() - 10 * H
    booking_services.booking_confirm(
        booking=booking, carrier_reference="MAEU2", departure_at=etd, arrival_at=etd + H, scope=ops_scope, by=ops_user
    )
    main, cfs = master.legs.get(role=LegRole.MAIN), on_carriage(master, destination="DEDUS")
    now = timezone.now()
    for leg, departed, arrived in ((main, now - 5 * H, now - 4 * H), (cfs, now - 3 * H, now - 2 * H)):
        with django_capture_on_commit_callbacks(execute=True):
            leg_changes.leg_record_actual(leg=leg, by=ops_user, departed_at=departed)
        with django_capture_on_commit_callbacks(execute=True):
            leg_changes.leg_record_actual(leg=leg, by=ops_user, arrived_at=arrived)

    assert actual_milestones(master)[-1][0] == "AVAILABLE"  # the box reached the inland CFS, not the consignees
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.ARRIVED
    assert {Order.objects.get(pk=o.pk).status for o in orders} == {OrderStatus.ARRIVED}


def test_a_carriers_departure_and_arrival_on_a_pre_carriage_leg_are_the_pickup_and_the_gate_in(
    booked_fcl, fresh_mapping, django_capture_on_commit_callbacks
):
    """A partner trucker's milestone file (or feed) says DEPARTED and ARRIVED for the leg it carries."""
    order, master = booked_fcl
    pickup = truck(master)
    now = timezone.now()
    source = ingest_services.Source(kind=SourceKind.FILE, name="NTRK")
    for milestone, place, at in (("DEPARTED", "CNSZH", now - 3 * H), ("ARRIVED", "CNSHA", now - H)):
        with django_capture_on_commit_callbacks(execute=True):
            recording.event_record(
                milestone=milestone, occurred_at=at, source=source, location=place,
                subject=("shipment", master.reference),
            )  # fmt: skip

    stored = TrackingEvent.objects.filter(source_kind=SourceKind.FILE).order_by("event_at")
    assert [(e.raw_code, e.milestone_id, e.leg_id) for e in stored] == [
        ("DEPARTED", "PICKED_UP", pickup.pk), ("ARRIVED", "RECEIVED_AT_ORIGIN", pickup.pk),
    ]  # fmt: skip
    pickup.refresh_from_db()
    assert (pickup.actual_departure_at, pickup.actual_arrival_at) == (now - 3 * H, now - H)
    assert master.legs.get(role=LegRole.MAIN).actual_departure_at is None
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.IN_TRANSIT
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_TRANSIT


def test_an_arrived_house_stays_arrived_when_its_own_on_carriage_leaves(
    make_order, ocean_carriers, ops_user, ops_scope, fresh_mapping, django_capture_on_commit_callbacks
):
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    etd = timezone.now() - 10 * H
    booking_services.booking_confirm(
        booking=booking, carrier_reference="MAEU3", departure_at=etd, arrival_at=etd + H, scope=ops_scope, by=ops_user
    )
    main = master.legs.get(role=LegRole.MAIN)
    now = timezone.now()
    leg_changes.leg_record_actual(leg=main, by=ops_user, departed_at=now - 5 * H)
    leg_changes.leg_record_actual(leg=main, by=ops_user, arrived_at=now - 4 * H)
    house = consolidation.master_deconsolidate(master=master, by=ops_user)[0]
    delivery = on_carriage(house)

    with django_capture_on_commit_callbacks(execute=True):
        leg_changes.leg_record_actual(leg=delivery, by=ops_user, departed_at=now - H)
    assert Shipment.objects.get(pk=house.pk).status == ShipmentStatus.ARRIVED  # not back to in transit

    with django_capture_on_commit_callbacks(execute=True):
        leg_changes.leg_record_actual(leg=delivery, by=ops_user, arrived_at=now)

    # the house's own delivery: its order is delivered, not the master the other house still waits on
    assert [m for m, _place, _leg in actual_milestones(house)] == ["OUT_FOR_DELIVERY", "DELIVERED"]
    assert TrackingEvent.objects.get(shipment=house, milestone_id="DELIVERED").leg_id == delivery.pk
    assert Shipment.objects.get(pk=house.pk).status == ShipmentStatus.DELIVERED
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.ARRIVED
    assert Order.objects.get(pk=house.order_id).status == OrderStatus.DELIVERED
    other = next(o for o in orders if o.pk != house.order_id)
    assert Order.objects.get(pk=other.pk).status == OrderStatus.ARRIVED


@pytest.mark.django_db
def test_the_migration_puts_stored_legs_in_role_order(booked_fcl):
    _order, master = booked_fcl
    main = master.legs.get(role=LegRole.MAIN)
    road = {"shipment": master, "mode": "road_ftl"}
    late_pickup = Leg.objects.create(
        sequence=2, role=LegRole.PRE_CARRIAGE, origin_id="CNSZH", destination_id="CNSHA", **road
    )  # as leg_add stored it before: appended after the main carriage
    delivery = Leg.objects.create(
        sequence=3, role=LegRole.ON_CARRIAGE, origin_id="DEHAM", destination_id="DEBER", **road
    )
    migration = importlib.import_module("tracking.migrations.0013_legs_in_role_order")

    migration.legs_in_role_order(apps, None)

    assert list(master.legs.order_by("sequence").values_list("pk", "sequence")) == [
        (late_pickup.pk, 1), (main.pk, 2), (delivery.pk, 3),
    ]  # fmt: skip
