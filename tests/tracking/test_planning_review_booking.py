"""Bookings against the master's movement: late confirmations, rolls after departure, the next carrier's sailing,
and houses joining a booked master. The planning review's defects, kept fixed."""

import datetime

import pytest
from django.utils import timezone

from orders.models import Order
from tests.tracking.conftest import PICKUP
from tests.tracking.test_booking import booking, confirm
from tracking.errors import BookingError
from tracking.models import Booking, BookingStatus, Shipment, ShipmentStatus
from tracking.services import booking as booking_services
from tracking.services import consolidation, leg_changes, ranking

__all__ = ["booking"]  # fixture (test_booking's, over this module's master)


@pytest.fixture
def master(make_order, ops_user, ocean_carriers):
    """Two orders on one master (test_booking's `booking` and `confirm` are used with it)."""
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(2)]
    return consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)


def test_a_late_confirmation_does_not_move_an_in_transit_master_back_to_booked(booking, master, ops_scope, ops_user):
    leg = master.legs.get()
    leg_changes.leg_record_actual(leg=leg, departed_at=timezone.now() - datetime.timedelta(hours=2), by=ops_user)
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.IN_TRANSIT
    confirm(booking, ops_scope, ops_user)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED  # the carrier's answer is recorded
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.IN_TRANSIT
    assert set(Shipment.objects.houses().values_list("status", flat=True)) == {ShipmentStatus.IN_TRANSIT}


def test_a_house_added_to_a_booked_master_moves_its_order_to_planned(booking, master, make_order, ops_scope, ops_user):
    outcome = confirm(booking, ops_scope, ops_user)
    assert {o.status for o in outcome.planned} == {"planned"}
    late = make_order(requested_pickup_on=PICKUP)
    consolidation.order_add_to_master(order=late, master=master, by=ops_user)
    assert Order.objects.get(pk=late.pk).status == "planned"


def test_a_house_added_to_a_master_still_being_planned_leaves_its_order_confirmed(master, make_order, ops_user):
    late = make_order(requested_pickup_on=PICKUP)
    consolidation.order_add_to_master(order=late, master=master, by=ops_user)
    assert Order.objects.get(pk=late.pk).status == "confirmed"


def test_after_cancelling_a_confirmed_booking_the_next_carrier_option_sets_the_main_leg_plan(
    booking, master, ops_scope, ops_user, ocean_carriers
):
    confirm(booking, ops_scope, ops_user, vessel_name="Maersk Essen", vessel_imo="9456769", voyage_number="249W")
    booking_services.booking_cancel(booking=booking, reason="Shipper postponed", by=ops_user)
    leg = master.legs.get()
    assert (leg.carrier, leg.planned_departure_at, leg.vessel_name, leg.voyage_number) == (None, None, "", "")
    _, hapag = ocean_carriers
    option = ranking.ranking_for_shipment(shipment=master).option_for(hapag.pk)
    booking_services.booking_request(shipment=master, option=option, by=ops_user)
    leg = master.legs.get()
    # the plan is the chosen Hapag-Lloyd sailing, not the cancelled Maersk one
    assert timezone.localtime(leg.planned_departure_at).date() == option.departure_on
    assert (leg.carrier, leg.vessel_name, leg.vessel_imo) == (hapag, "", "")


def test_after_a_rejection_the_next_carrier_option_sets_the_main_leg_plan(booking, master, ops_user, ocean_carriers):
    maersk, hapag = ocean_carriers
    assert booking.carrier == maersk
    booking_services.booking_reject(booking=booking, reason="no space", by=ops_user)
    option = ranking.ranking_for_shipment(shipment=master).option_for(hapag.pk)
    booking_services.booking_request(shipment=master, option=option, by=ops_user)
    leg = master.legs.get()
    assert option.departure_on != booking.requested_departure_on  # Hapag sails on Tuesdays, Maersk on Fridays
    assert timezone.localtime(leg.planned_departure_at).date() == option.departure_on


def test_a_booking_cannot_be_rolled_once_the_main_leg_has_departed(booking, master, ops_scope, ops_user):
    now = timezone.now()
    confirm(
        booking, ops_scope, ops_user,
        departure_at=now - datetime.timedelta(days=1), arrival_at=now + datetime.timedelta(days=30),
    )  # fmt: skip
    leg = master.legs.get()
    leg_changes.leg_record_actual(leg=leg, departed_at=now - datetime.timedelta(hours=20), by=ops_user)
    with pytest.raises(BookingError, match="rolled only before its sailing"):
        booking_services.booking_roll(
            booking=booking, departure_at=now + datetime.timedelta(days=7),
            arrival_at=now + datetime.timedelta(days=40), reason="vessel full", by=ops_user,
        )  # fmt: skip
    assert Booking.objects.get(pk=booking.pk).roll_count == 0
