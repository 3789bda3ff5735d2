"""On a consolidation a carrier's report counts for what it names: one on a house is that house's (its exception
names the house's order and customer, and only its own release or the master's clears it); one on the master
concerns every house. Customers never see another customer's house on the portal."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.utils import timezone

from partners.scoping import scope_for_user
from tests.tracking.conftest import lcl_line
from tests.tracking.test_ingest_support import NOW, oms_event
from tracking.exceptions import rules, selectors
from tracking.exceptions.facts import shipment_facts
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.ingest.models import TrackingEvent
from tracking.models import Booking, ConsolidatedHouse, Leg
from tracking.services import booking as booking_services
from tracking.services import consolidation

from .conftest import H, detect, ingest, open_exceptions

K = ExceptionKind


@pytest.fixture
def consolidated(make_order, ops_user, customer_b, fresh_mapping):
    """(master, acme_house, globex_house): one master carrying an ACME order and a Globex order."""
    acme_order = make_order(lines=[lcl_line(1500, 5)])
    globex_order = make_order(lines=[lcl_line(1500, 5)], customer_code="GLOBEX", consignee_name="Globex Retail")
    master = consolidation.consolidation_create(orders=[acme_order, globex_order], container_type="22G1", by=ops_user)
    houses = {ch.house.order_id: ch.house for ch in ConsolidatedHouse.objects.filter(master=master)}
    return master, houses[acme_order.pk], houses[globex_order.pk]


def on(shipment, milestone, at):
    return oms_event(milestone, at, subject=("shipment", shipment.reference))


def test_one_houses_customs_release_does_not_clear_another_houses_hold(consolidated):
    master, held, other = consolidated
    ingest(on(held, "CUSTOMS_HOLD", NOW - 5 * H))
    detect(master)
    [hold] = open_exceptions(master, K.CUSTOMS_HOLD)

    ingest(on(other, "IMPORT_CLEARED", NOW - 2 * H))  # customs clears the *other* house
    detect(master)
    hold.refresh_from_db()
    assert hold.status != "resolved", hold.resolution_note

    ingest(on(held, "IMPORT_CLEARED", NOW - H))  # its own release
    detect(master)
    hold.refresh_from_db()
    assert hold.status == "resolved"
    assert hold.resolution_note.startswith("Import cleared on")


def test_a_hold_on_a_house_names_that_house_its_order_and_customer(consolidated):
    master, acme_house, _ = consolidated
    ingest(on(acme_house, "CUSTOMS_HOLD", NOW - 5 * H))
    detect(master)
    [hold] = open_exceptions(master, K.CUSTOMS_HOLD)
    assert hold.shipment == master  # exceptions live on the carrying shipment
    assert hold.house == acme_house
    assert hold.order_id == acme_house.order_id
    assert hold.customer_id == acme_house.order.customer_id


def test_two_houses_held_are_two_exceptions(consolidated):
    master, acme_house, globex_house = consolidated
    ingest(on(acme_house, "CUSTOMS_HOLD", NOW - 5 * H), on(globex_house, "CUSTOMS_HOLD", NOW - 4 * H))
    detect(master)
    holds = open_exceptions(master, K.CUSTOMS_HOLD)
    assert sorted(hold.order_id for hold in holds) == sorted([acme_house.order_id, globex_house.order_id])
    assert detect(master).opened == []


def test_a_release_on_the_master_clears_every_houses_hold(consolidated):
    master, acme_house, globex_house = consolidated
    ingest(on(acme_house, "CUSTOMS_HOLD", NOW - 5 * H), on(globex_house, "CUSTOMS_HOLD", NOW - 4 * H))
    detect(master)
    ingest(on(master, "IMPORT_CLEARED", NOW - H))
    detect(master)
    assert not open_exceptions(master, K.CUSTOMS_HOLD)


def test_a_hold_on_the_master_concerns_every_order_and_clears_once_every_house_is_released(consolidated):
    master, acme_house, globex_house = consolidated
    ingest(on(master, "CUSTOMS_HOLD", NOW - 5 * H))
    detect(master)
    [hold] = open_exceptions(master, K.CUSTOMS_HOLD)
    assert (hold.house, hold.order, hold.customer) == (None, None, None)

    ingest(on(acme_house, "IMPORT_CLEARED", NOW - 3 * H))
    detect(master)
    assert open_exceptions(master, K.CUSTOMS_HOLD) == [hold]

    ingest(on(globex_house, "IMPORT_CLEARED", NOW - 2 * H))
    detect(master)
    hold.refresh_from_db()
    assert hold.status == "resolved"


def test_one_orders_customs_hold_reported_on_its_master_and_on_its_only_house_is_one_exception(booked_fcl):
    """A direct FCL plan: one order, one house on one master. The carrier reports the hold on its bill (the master),
    the broker on the house: one hold of one order's cargo (DOMAIN.md §5: one exception per type, shipment and leg),
    naming that order and its customer."""
    order, master = booked_fcl
    [house] = [link.house for link in ConsolidatedHouse.objects.filter(master=master)]
    ingest(on(master, "CUSTOMS_HOLD", NOW - 5 * H), on(house, "CUSTOMS_HOLD", NOW - 4 * H))
    detect(master)
    holds = open_exceptions(master, K.CUSTOMS_HOLD)
    assert [(h.house_id, h.order_id, h.customer_id) for h in holds] == [(None, order.pk, order.customer_id)]

    ingest(on(house, "IMPORT_CLEARED", NOW - H))  # the broker's release on the house clears the whole hold
    detect(master)
    assert not open_exceptions(master, K.CUSTOMS_HOLD)


def test_the_repair_names_houses_only_on_a_master_carrying_more_than_one_order(consolidated, booked_fcl):
    """Migration 0009's NAME_HOUSES keys existing rows as rules.reports does (ShipmentFacts.houses_apart)."""
    repair = importlib.import_module("tracking.migrations.0009_exception_house").NAME_HOUSES
    master, acme_house, _ = consolidated
    _, direct = booked_fcl
    [direct_house] = [link.house for link in ConsolidatedHouse.objects.filter(master=direct)]
    ingest(on(acme_house, "CUSTOMS_HOLD", NOW - 5 * H), on(direct_house, "CUSTOMS_HOLD", NOW - 5 * H))
    rows = {}
    for shipment, house in ((master, acme_house), (direct, direct_house)):
        trigger = TrackingEvent.objects.get(shipment=house)
        rows[shipment.pk] = ShipmentException.objects.create(
            kind=K.CUSTOMS_HOLD, shipment=shipment, mode=shipment.mode, detail="x", trigger_key=f"event:{trigger.pk}"
        )
    with connection.cursor() as cursor:
        cursor.execute(repair)
    for row in rows.values():
        row.refresh_from_db()
    assert (rows[master.pk].house, rows[master.pk].order_id) == (acme_house, acme_house.order_id)
    assert rows[direct.pk].house is None


def test_a_delivery_of_one_house_does_not_clear_another_houses_failed_delivery(consolidated):
    master, acme_house, globex_house = consolidated
    ingest(on(acme_house, "DELIVERY_ATTEMPTED", NOW - 5 * H), on(globex_house, "DELIVERED", NOW - 2 * H))
    facts = shipment_facts([master.pk])[master.pk]
    # The rules alone: ingest closes the whole master on one house's delivery (tracking/ingest/following.py).
    facts.status = "arrived"

    [failed] = [f for f in rules.evaluate(facts, rules.rulebook(), timezone.now()) if f.kind == K.FAILED_DELIVERY]

    assert failed.house_id == acme_house.pk
    assert facts.parties(failed.house_id) == (acme_house.order_id, acme_house.order.customer_id)


def test_a_hold_on_one_customers_house_is_not_shown_to_another_customer_on_the_portal(
    consolidated, customer_a_user, customer_b_user
):
    master, acme_house, _ = consolidated
    ingest(on(acme_house, "CUSTOMS_HOLD", NOW - 5 * H))  # customs holds ACME's cargo (the event names its house)
    detect(master)
    assert open_exceptions(master, K.CUSTOMS_HOLD)

    assert selectors.exceptions_for_customer(scope=scope_for_user(customer_b_user)) == []
    [notice] = selectors.exceptions_for_customer(scope=scope_for_user(customer_a_user))
    assert notice.kind == K.CUSTOMS_HOLD
    assert notice.orders == [(acme_house.order.reference, acme_house.order.customer_reference)]


def test_a_house_level_exception_without_an_order_is_not_shown_to_every_customer_on_the_master(
    consolidated, customer_b_user
):
    master, acme_house, _ = consolidated
    ShipmentException.objects.create(kind=K.DAMAGE, shipment=master, house=acme_house, mode=master.mode, detail="x")
    assert selectors.exceptions_for_customer(scope=scope_for_user(customer_b_user)) == []


def test_staff_see_a_houses_hold_on_its_order_and_the_exception_page_names_the_house(
    consolidated, login, ops_user, ops_scope
):
    master, acme_house, globex_house = consolidated
    ingest(on(acme_house, "CUSTOMS_HOLD", NOW - 5 * H))
    detect(master)
    [hold] = open_exceptions(master, K.CUSTOMS_HOLD)

    assert selectors.exceptions_for_order(scope=ops_scope, order=acme_house.order) == [hold]
    assert selectors.exceptions_for_order(scope=ops_scope, order=globex_house.order) == []
    body = login(ops_user).get(hold.get_absolute_url()).content.decode()
    assert acme_house.reference in body
    assert acme_house.order.reference in body


def book_with_cutoff_passed(master, ocean_carriers, ops_user, ops_scope):
    """Book the master with Maersk, departing in 10 h, its cargo cut-off passed 5 h ago."""
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    booking_services.booking_confirm(
        booking=booking, carrier_reference="CUT-1", departure_at=NOW + 10 * H, arrival_at=NOW + 30 * 24 * H,
        scope=ops_scope, by=ops_user, vessel_name="Maersk Essen", voyage_number="250W",
    )  # fmt: skip
    Leg.objects.filter(shipment=master).update(planned_departure_at=NOW + 10 * H)
    Booking.objects.filter(shipment=master).update(cargo_cutoff_at=NOW - 5 * H)


@pytest.fixture
def cutoff_passed(consolidated, ocean_carriers, ops_user, ops_scope):
    """The consolidation booked with Maersk, departing in 10 h; its cargo cut-off passed 5 h ago."""
    master, acme_house, globex_house = consolidated
    book_with_cutoff_passed(master, ocean_carriers, ops_user, ops_scope)
    return master, acme_house, globex_house


def test_one_houses_cargo_at_the_terminal_does_not_answer_the_cutoff_but_every_houses_does(cutoff_passed):
    master, acme_house, globex_house = cutoff_passed
    ingest(on(acme_house, "RECEIVED_AT_ORIGIN", NOW - 2 * H))
    detect(master)
    [missed] = open_exceptions(master, K.MISSED_CUTOFF)

    ingest(on(globex_house, "RECEIVED_AT_ORIGIN", NOW - H))
    detect(master)
    missed.refresh_from_db()
    assert missed.status == "resolved"
    assert missed.resolution_note.startswith("Received at origin on")
