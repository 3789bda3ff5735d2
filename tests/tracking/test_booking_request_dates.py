"""A booking request always names a date (docs/planning.md, "Legs, bookings and the order's plan"): when the cargo
is ready (the houses' latest requested pickup), and the sailing asked for when there is one: the departure of
the service the ranking chose, else the main carriage's planned departure with its vessel (a sailing the planner
typed in). On the branch's clock, in the email (text and HTML) and on the request page.

From review I (defect 4): a request on a lane with no published sailing named no date at all."""

from __future__ import annotations

import datetime

from django.urls import reverse

from tests.tracking.conftest import PICKUP
from tracking import adapters
from tracking.models import Leg, LegRole
from tracking.services import booking as booking_services
from tracking.services import consolidation, planning, ranking


def _written(day: datetime.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"  # "Wed 9 Dec 2026", as the request writes dates


def test_a_request_without_a_published_sailing_says_when_the_cargo_is_ready(make_order, ops_user, carrier):
    order = make_order(mode="ocean_fcl", origin="DEHAM", destination="CNSHA")
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=carrier, by=ops_user)  # no service, no plan
    document = adapters.booking_document(booking)
    ready = f"Cargo ready:        {_written(PICKUP)} (latest requested pickup, when all the cargo is in)"
    assert ready in document.text
    assert "Requested sailing" not in document.text  # none was asked for
    assert f"Cargo ready</td><td>{_written(PICKUP)}" in document.html


def test_the_cargo_is_ready_with_the_last_house(make_order, ops_user, carrier):
    """A container sails only with all its cargo in (review C): the earliest pickup was named before, and a sailing
    booked by it left before the other houses' goods were collected."""
    early, late = PICKUP - datetime.timedelta(days=3), PICKUP + datetime.timedelta(days=2)
    master = planning.shipment_plan_direct(order=make_order(requested_pickup_on=late), by=ops_user)
    consolidation.order_add_to_master(order=make_order(requested_pickup_on=early), master=master, by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=carrier, by=ops_user)
    assert f"Cargo ready:        {_written(late)} (latest requested pickup" in adapters.booking_document(booking).text


def test_a_sailing_the_planner_typed_is_the_requested_sailing(make_order, ops_user, carrier):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    sails = datetime.datetime.combine(PICKUP + datetime.timedelta(days=4), datetime.time(10), tzinfo=datetime.UTC)
    Leg.objects.filter(shipment=master, role=LegRole.MAIN).update(
        planned_departure_at=sails, vessel_name="MSC ANNA", voyage_number="FE612W"
    )
    booking = booking_services.booking_request(shipment=master, carrier=carrier, by=ops_user)
    document = adapters.booking_document(booking)
    assert f"Requested sailing:  {_written(sails.date())} (MSC ANNA · voy. FE612W)" in document.text
    assert f"Requested sailing</td><td>{_written(sails.date())} · MSC ANNA · voy. FE612W" in document.html


def test_the_chosen_services_departure_is_the_requested_sailing(make_order, ops_user, ocean_carriers, order_data):
    master = planning.shipment_plan_direct(order=make_order(mode="ocean_fcl", lines=order_data()["lines"]), by=ops_user)
    option = ranking.ranking_for_shipment(shipment=master).option_for(ocean_carriers[0].pk)
    booking = booking_services.booking_request(shipment=master, option=option, by=ops_user)
    text = adapters.booking_document(booking).text
    assert f"Requested sailing:  {_written(option.departure_on)}" in text
    assert "VGM" in text  # an ocean booking asks for the VGM cut-off


def test_an_air_request_asks_for_a_flight_and_no_vgm(make_order, ops_user, carrier):
    master = planning.shipment_plan_direct(order=make_order(mode="air", incoterm="FCA"), by=ops_user)
    Leg.objects.filter(shipment=master, role=LegRole.MAIN).update(
        planned_departure_at=datetime.datetime.combine(PICKUP, datetime.time(22), tzinfo=datetime.UTC),
        flight_number="LH8400",
    )
    booking = booking_services.booking_request(shipment=master, carrier=carrier, by=ops_user)
    text = adapters.booking_document(booking).text
    assert "Requested flight:   " in text
    assert "(LH8400)" in text
    assert "documentation and cargo cut-offs" in text
    assert "VGM" not in text


def test_the_request_page_shows_the_dates(login, make_order, ops_user, carrier):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=carrier, by=ops_user)
    page = login(ops_user).get(reverse("tracking:booking_document", args=[booking.pk])).content.decode()
    assert f"Cargo ready</td><td>{_written(PICKUP)}" in page
