"""Houses of cancelled, held or moving orders, splits and bill numbers: the planning review's defects, kept fixed."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from orders import lifecycle
from orders import services as order_services
from orders.errors import TransitionNotAllowed
from orders.models import Channel, Order, OrderStatus
from tests.tracking.conftest import PICKUP, lcl_line
from tracking import guards, selectors
from tracking.errors import PlanningError
from tracking.models import HouseLine, Shipment, ShipmentStatus
from tracking.services import booking as booking_services
from tracking.services import consolidation, leg_changes, planning, ranking

D = Decimal
ETD = datetime.datetime(2026, 12, 4, 18, 0, tzinfo=datetime.UTC)
ETA = datetime.datetime(2027, 1, 7, 6, 0, tzinfo=datetime.UTC)


def cancel(order, *, scope, by):
    return order_services.order_transition(
        order=order, name="cancel", scope=scope, channel=Channel.SCREEN, by=by, reason="customer withdrew"
    )


# --- a cancelled order's cargo -----------------------------------------------------------------


def test_cancelling_an_order_does_not_leave_its_house_live_on_the_master(
    make_order, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    orders = [make_order() for _ in range(3)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    gone = orders[1]
    with django_capture_on_commit_callbacks(execute=True):
        cancel(gone, scope=ops_scope, by=ops_user)
    live_orders = {house.order_id for house in consolidation.live_houses(Shipment.objects.get(pk=master.pk))}
    assert live_orders == {orders[0].pk, orders[2].pk}, "the cancelled order's cargo is still consolidated"
    assert Shipment.objects.get(order=gone).status == ShipmentStatus.CANCELLED
    assert consolidation.master_totals(master=master).gross_weight_kg == D(3600)


def test_cancelling_an_order_cancels_its_loose_split_off_house_too(
    make_order, ops_user, ops_scope, django_capture_on_commit_callbacks
):
    order = make_order(lines=[lcl_line(1000, 4, pieces=10)])
    house = planning.house_create(order=order, by=ops_user)
    split = planning.house_split(house=house, allocations={order.lines.get().pk: 4}, by=ops_user)
    with django_capture_on_commit_callbacks(execute=True):
        cancel(order, scope=ops_scope, by=ops_user)
    assert set(Shipment.objects.filter(pk__in=[house.pk, split.pk]).values_list("status", flat=True)) == {
        ShipmentStatus.CANCELLED
    }
    consolidation.order_houses_cancel(order_id=order.pk)  # safe to run twice


def test_an_order_whose_cargo_is_booked_cannot_be_cancelled_until_ops_take_it_off(
    make_order, ops_user, ops_scope, ocean_carriers, django_capture_on_commit_callbacks
):
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    option = ranking.ranking_for_shipment(shipment=master).best
    booking = booking_services.booking_request(shipment=master, option=option, by=ops_user)
    booking_services.booking_confirm(
        booking=booking, carrier_reference="MAEU262001234", departure_at=ETD, arrival_at=ETA, scope=ops_scope,
        by=ops_user,
    )  # fmt: skip
    gone = Order.objects.get(pk=orders[1].pk)
    house = Shipment.objects.get(order=gone)
    with pytest.raises(TransitionNotAllowed) as excinfo:
        cancel(gone, scope=ops_scope, by=ops_user)
    assert str(excinfo.value) == (
        f"{house.reference} is on {master.reference}, booked with Maersk: take it off {master.reference} "
        "and amend or cancel the booking with Maersk first."
    )
    assert Order.objects.get(pk=gone.pk).status == "planned"

    consolidation.house_remove(master=master, house=house, by=ops_user)
    gone = Order.objects.get(pk=gone.pk)
    assert gone.status == "confirmed"  # its cargo is booked no more (booking_orders.orders_unplan)
    with django_capture_on_commit_callbacks(execute=True):
        cancel(gone, scope=ops_scope, by=ops_user)
    assert Shipment.objects.get(pk=house.pk).status == ShipmentStatus.CANCELLED


def test_an_order_whose_booking_request_went_to_the_carrier_cannot_be_cancelled(
    make_order, ops_user, ops_scope, ocean_carriers
):
    order = make_order(requested_pickup_on=PICKUP)
    master = consolidation.consolidation_create(orders=[order], container_type="22G1", by=ops_user)
    option = ranking.ranking_for_shipment(shipment=master).best
    booking = booking_services.booking_request(shipment=master, option=option, by=ops_user)
    booking_services.booking_send(booking=booking, by=ops_user)
    reason = lifecycle.blocked_reason(Order.objects.get(pk=order.pk), "cancel", ops_scope)
    assert "with a booking request sent with Maersk" in (reason or "")


def test_cancel_guard_refuses_an_order_whose_house_was_deconsolidated_at_destination(make_order, ops_user):
    """An order held while planned (the lifecycle could not follow the cargo) whose master crossed the ocean and was
    deconsolidated at destination: its house is no longer bound to the master, but its cargo has moved, further
    than in transit, and cannot be cancelled."""
    orders = [make_order(requested_pickup_on=PICKUP) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    order = orders[0]
    # In transit: the guard refuses ("cargo that has moved cannot be cancelled").
    Shipment.objects.filter(pk=master.pk).update(status=ShipmentStatus.IN_TRANSIT)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.ON_HOLD, status_before_hold=OrderStatus.PLANNED)
    order = Order.objects.get(pk=order.pk)
    assert guards.order_cancel_problem(order) is not None
    # Arrived and deconsolidated: the house is at destination, further along than in transit.
    Shipment.objects.filter(pk=master.pk).update(status=ShipmentStatus.ARRIVED)
    consolidation.master_deconsolidate(master=Shipment.objects.get(pk=master.pk), by=ops_user)
    house = Shipment.objects.houses().get(order=order)
    assert house.status == ShipmentStatus.ARRIVED
    assert (
        guards.order_cancel_problem(order) == f"{house.reference} is arrived: cargo that has moved cannot be cancelled."
    )


def test_a_loose_house_of_a_cancelled_order_cannot_join_a_master(make_order, ops_user, ops_scope):
    order = make_order(lines=[lcl_line(1000, 4, pieces=10)])
    house = planning.house_create(order=order, by=ops_user)
    split = planning.house_split(house=house, allocations={order.lines.get().pk: 4}, by=ops_user)
    cancel(order, scope=ops_scope, by=ops_user)  # its receiver does not run: the service refuses on its own
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    with pytest.raises(PlanningError, match="cancelled"):
        consolidation.house_add(master=master, house=split, by=ops_user)
    assert not selectors.loose_houses_on_lane(origin=master.origin_id, destination=master.destination_id).exists()


def test_a_loose_house_of_a_held_order_is_neither_offered_nor_added(make_order, ops_user, ops_scope):
    order = make_order(lines=[lcl_line(1000, 4, pieces=10)])
    house = planning.house_create(order=order, by=ops_user)
    split = planning.house_split(house=house, allocations={order.lines.get().pk: 4}, by=ops_user)
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    assert list(selectors.loose_houses_on_lane(origin="CNSHA", destination="DEHAM")) == [house, split]
    order_services.order_transition(
        order=order, name="hold", scope=ops_scope, channel=Channel.SCREEN, by=ops_user, reason="credit check"
    )
    assert not selectors.loose_houses_on_lane(origin="CNSHA", destination="DEHAM").exists()
    with pytest.raises(PlanningError, match="on hold"):
        consolidation.house_add(master=master, house=split, by=ops_user)


# --- splits ------------------------------------------------------------------------------------


def test_a_house_that_already_arrived_cannot_be_split_into_a_new_house_to_plan(make_order, ops_user):
    order = make_order(lines=[lcl_line(1000, 4, pieces=10)])
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    leg = master.legs.get()
    now = timezone.now()
    leg_changes.leg_record_actual(leg=leg, departed_at=now - datetime.timedelta(days=2), by=ops_user)
    leg_changes.leg_record_actual(leg=leg, arrived_at=now - datetime.timedelta(hours=1), by=ops_user)
    (house,) = consolidation.master_deconsolidate(master=master, by=ops_user)
    assert house.status == ShipmentStatus.ARRIVED
    with pytest.raises(PlanningError, match="only a house still being planned can be split"):
        planning.house_split(house=house, allocations={order.lines.get().pk: 4}, by=ops_user)
    assert Shipment.objects.houses().filter(order=order).count() == 1


def test_splitting_a_line_into_single_pieces_keeps_the_line_weight(make_order, ops_user):
    order = make_order(lines=[lcl_line("1000", "10", pieces=3)])
    line = order.lines.get()
    houses = [planning.house_create(order=order, allocations={line.pk: 1}, by=ops_user) for _ in range(3)]
    total_weight = sum(hl.gross_weight_kg for hl in HouseLine.objects.filter(house__in=houses))
    total_volume = sum(hl.volume_m3 for hl in HouseLine.objects.filter(house__in=houses))
    assert (total_weight, total_volume) == (D("1000"), D("10"))


def test_splitting_a_house_keeps_its_weight(make_order, ops_user):
    order = make_order(lines=[lcl_line("1000", "10", pieces=3)])
    line = order.lines.get()
    house = planning.house_create(order=order, by=ops_user)
    first = planning.house_split(house=house, allocations={line.pk: 1}, by=ops_user)
    second = planning.house_split(house=house, allocations={line.pk: 1}, by=ops_user)
    parts = HouseLine.objects.filter(house__in=[house, first, second])
    assert sum(hl.gross_weight_kg for hl in parts) == D("1000")
    assert sum(hl.volume_m3 for hl in parts) == D("10")


def test_a_line_measured_by_its_dimensions_only_brings_its_volume_to_its_houses(make_order, ops_user):
    """The order counts 3 pallets of 120 x 100 x 150 cm as 5.4 m³ (orders.cargo.line_volume_m3); its houses, and
    so a container's m³ check, count the same, not 0."""
    line = {**lcl_line("900", "0", pieces=3), "length_cm": "120", "width_cm": "100", "height_cm": "150"}
    del line["volume_m3"]
    order = make_order(lines=[line])
    cargo_line = order.lines.get()
    first = planning.house_create(order=order, allocations={cargo_line.pk: 1}, by=ops_user)
    rest = planning.house_create(order=order, by=ops_user)
    volumes = [hl.volume_m3 for hl in HouseLine.objects.filter(house__in=[first, rest]).order_by("house_id")]
    assert volumes == [D("1.8"), D("3.6")]


# --- bill numbers ------------------------------------------------------------------------------


def test_an_air_master_refuses_a_mawb_with_a_wrong_check_digit(make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(mode="air", incoterm="FCA"), by=ops_user)
    master.bill_number = "020-12345670"  # check digit should be 5
    with pytest.raises(ValidationError) as excinfo:
        master.full_clean()
    assert "the last digit should be 5" in str(excinfo.value)
    master.bill_number = "020 1234 5675"
    master.full_clean()
    assert master.bill_number == "020-12345675"  # as tracking events are matched


def test_an_ocean_master_keeps_its_mbl_without_spaces_in_upper_case(make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    master.bill_number = " maeu 262001234 "
    master.full_clean()
    assert master.bill_number == "MAEU262001234"
