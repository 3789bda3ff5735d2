"""The master's page offers only what the booking services accept, and still lists what it carried after
deconsolidation; cancelling a booking asks why (acceptance review B, defects 5 and 11)."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from tests.tracking.conftest import PICKUP
from tracking.models import LegRole
from tracking.services import booking as booking_services
from tracking.services import consolidation, leg_changes

H = datetime.timedelta(hours=1)


@pytest.fixture
def booked(make_order, ocean_carriers, ops_user, ops_scope):
    """A master with two LCL houses and a confirmed Maersk booking (ETD ten hours ago, not departed)."""
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    etd = timezone.now() - 10 * H
    booking_services.booking_confirm(
        booking=booking, carrier_reference="MAEU7", departure_at=etd, arrival_at=etd + H, scope=ops_scope, by=ops_user
    )
    return master, booking, orders


def booking_actions(client, master) -> tuple[bool, bool]:
    body = client.get(master.get_absolute_url()).content.decode()
    return "Cancel booking" in body, "Record a roll" in body


def test_the_booking_card_offers_cancel_and_roll_only_while_they_can_be_done(login, ops_user, booked):
    master, _booking, _orders = booked
    client = login(ops_user)
    assert booking_actions(client, master) == (True, True)  # booked, not sailed

    main = master.legs.get(role=LegRole.MAIN)
    leg_changes.leg_record_actual(leg=main, departed_at=timezone.now() - 2 * H, by=ops_user)
    assert booking_actions(client, master) == (False, False)  # sailed: a change now is a delay, not a roll

    leg_changes.leg_record_actual(leg=main, arrived_at=timezone.now() - H, by=ops_user)
    assert booking_actions(client, master) == (False, False)  # "M-… is arrived; the booking stays."


def test_a_pre_carriage_under_way_still_allows_a_roll_but_not_a_cancellation(login, ops_user, booked):
    master, _booking, _orders = booked
    pickup = leg_changes.leg_add(
        shipment=master,
        data={"role": LegRole.PRE_CARRIAGE, "mode": "road_ftl", "origin_id": "CNSZH", "destination_id": "CNSHA"},
    )
    leg_changes.leg_record_actual(leg=pickup, departed_at=timezone.now() - 2 * H, by=ops_user)
    assert booking_actions(login(ops_user), master) == (False, True)  # the cargo moves; the vessel has not sailed


def test_after_deconsolidation_the_master_still_lists_the_houses_it_carried(login, ops_user, booked):
    master, _booking, orders = booked
    main = master.legs.get(role=LegRole.MAIN)
    leg_changes.leg_record_actual(leg=main, departed_at=timezone.now() - 2 * H, by=ops_user)
    leg_changes.leg_record_actual(leg=main, arrived_at=timezone.now() - H, by=ops_user)
    client = login(ops_user)
    before = client.get(master.get_absolute_url()).content.decode()
    assert "Deconsolidate at destination" in before

    response = client.post(reverse("tracking:deconsolidate", args=[master.reference]), follow=True)

    body = response.content.decode()
    assert "No houses on this master" not in body
    assert "Deconsolidate at destination" not in body  # nothing left to deconsolidate
    for order in orders:
        assert order.reference in body
    assert body.count("Deconsolidated<br>") == 2
    totals = response.context["totals"]  # what it carried, not nothing
    assert (totals.houses, totals.gross_weight_kg) == (2, 3600)


def test_cancelling_a_booking_asks_why_and_says_which_orders_went_back(login, ops_user, booked):
    _master, booking, orders = booked
    client = login(ops_user)
    url = reverse("tracking:booking_cancel", args=[booking.pk])

    form = client.get(url).content.decode()
    assert 'name="reason"' in form
    assert "Its orders go back to confirmed" in form
    assert client.post(url, {"reason": ""}).status_code == 400

    response = client.post(url, {"reason": "Shipper postponed"}, follow=True)

    shown = [str(message) for message in response.context["messages"]]
    assert shown == [
        "Booking cancelled; the shipment is back in planning. Back to confirmed: "
        + ", ".join(o.reference for o in orders)
        + "."
    ]
    assert {Order.objects.get(pk=o.pk).status for o in orders} == {"confirmed"}
    assert "MAEU7 · Cancelled: Shipper postponed" in response.content.decode()  # the booking's history
