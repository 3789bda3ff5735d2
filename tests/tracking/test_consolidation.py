import datetime
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from tests.tracking.conftest import lcl_line
from tracking.errors import CapacityError, ConsolidationError, PlanningError
from tracking.models import ConsolidatedHouse, Shipment, ShipmentStatus
from tracking.services import consolidation, leg_changes, planning

D = Decimal


def test_three_lcl_orders_consolidate_into_one_master_and_container(make_order, ops_user):
    orders = [make_order(lines=[lcl_line(1500 + 500 * n, 5 + n)]) for n in range(3)]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    assert master.kind == "master"
    assert master.mode == "ocean_fcl"
    totals = consolidation.master_totals(master=master)
    assert (totals.houses, totals.gross_weight_kg, totals.volume_m3, totals.teu) == (3, D(6000), D(18), D(1))
    assert totals.payload_kg == 28250
    assert totals.capacity_m3 == D("33.2")
    assert [leg.role for leg in master.legs.all()] == ["main"]
    assert all(planning.unallocated_pieces(order) == {} for order in orders)


def test_overweight_consolidation_is_refused_with_a_clear_sentence_and_leaves_nothing(make_order, ops_user):
    orders = [make_order(lines=[lcl_line(w, 10)]) for w in (12000, 12000, 11200)]
    with pytest.raises(CapacityError) as excinfo:
        consolidation.consolidation_create(orders=orders, container_type="42G1", by=ops_user)
    assert str(excinfo.value) == (
        "A 40' general purpose container takes at most 26,700 kg of cargo; these houses weigh 35,200 kg."
    )
    assert not Shipment.objects.exists()


def test_volume_over_capacity_is_refused(make_order, ops_user):
    orders = [make_order(lines=[lcl_line(500, 20)]) for _ in range(2)]
    with pytest.raises(
        CapacityError, match=r"A 20' general purpose container holds 33.2 m³; these houses measure 40.0"
    ):
        consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)


def test_two_containers_add_their_capacity(make_order, ops_user):
    orders = [make_order(lines=[lcl_line(w, 10)]) for w in (12000, 12000, 11200)]
    master = consolidation.consolidation_create(orders=orders, container_type="42G1", containers=2, by=ops_user)
    assert consolidation.master_totals(master=master).weight_pct == 66


def test_orders_on_different_lanes_do_not_consolidate(make_order, ops_user):
    first, second = make_order(), make_order(origin="CNNGB")
    with pytest.raises(ConsolidationError, match="one port to one port"):
        consolidation.consolidation_create(orders=[first, second], container_type="22G1", by=ops_user)


def test_a_draft_order_cannot_be_planned(make_order, order_data, ops_user, ops_scope):
    from orders import services as order_services

    draft = order_services.order_create(
        data=order_data(customer_reference="D-1", mode="ocean_lcl", lines=[lcl_line(100, 1)]),
        scope=ops_scope,
        channel="screen",
    )
    with pytest.raises(PlanningError, match="is draft"):
        planning.house_create(order=draft, by=ops_user)


def test_a_draft_saved_without_cargo_or_parties_cannot_be_planned_and_its_page_says_so(
    login, order_data, ops_user, ops_scope
):
    from django.urls import reverse

    from orders import services as order_services

    draft = order_services.order_create(
        data=order_data(incoterm="", shipper_name="", consignee_name="", lines=[]), scope=ops_scope, channel="screen"
    )
    with pytest.raises(PlanningError, match="is draft"):
        planning.shipment_plan_direct(order=draft, by=ops_user)
    with pytest.raises(PlanningError, match="is draft"):
        planning.house_create(order=draft, by=ops_user)

    response = login(ops_user).get(reverse("tracking:order_plan", args=[draft.reference]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "is draft: only submitted, confirmed or planned orders go on shipments." in page
    assert "No cargo lines yet" in page


def test_adding_a_house_checks_capacity_with_the_new_total(make_order, ops_user):
    master = consolidation.consolidation_create(
        orders=[make_order(lines=[lcl_line(20000, 10)])], container_type="22G1", by=ops_user
    )
    heavy = planning.house_create(order=make_order(lines=[lcl_line(9000, 5)]), by=ops_user)
    with pytest.raises(CapacityError, match="takes at most 28,250 kg of cargo; these houses weigh 29,000 kg"):
        consolidation.house_add(master=master, house=heavy, by=ops_user)


def test_a_house_on_a_master_cannot_be_added_to_another(make_order, ops_user):
    first = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    house = first.consolidated_houses.get().house
    second = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    with pytest.raises(ConsolidationError, match=f"{house.reference} is already on {first.reference}"):
        consolidation.house_add(master=second, house=house, by=ops_user)


def test_the_database_refuses_a_house_on_two_live_masters(make_order, ops_user):
    first = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    second = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    house = first.consolidated_houses.get().house
    with pytest.raises(IntegrityError, match="house_on_one_live_master"), transaction.atomic():
        ConsolidatedHouse.objects.create(master=second, house=house)


def test_a_removed_house_can_join_another_master(make_order, ops_user):
    first = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    house = first.consolidated_houses.get().house
    consolidation.house_remove(master=first, house=house, by=ops_user)
    second = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    consolidation.house_add(master=second, house=house, by=ops_user)
    assert ConsolidatedHouse.objects.filter(house=house).count() == 2
    assert consolidation.master_totals(master=first).houses == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_attempts_to_put_one_house_on_two_masters_let_exactly_one_win(make_order, ops_user):
    masters = [planning.shipment_plan_direct(order=make_order(), by=ops_user) for _ in range(2)]
    house = planning.house_create(order=make_order(), by=ops_user)
    barrier, outcomes = threading.Barrier(2), []

    def attempt(master):
        try:
            barrier.wait()
            consolidation.house_add(master=master, house=house, by=ops_user)
            outcomes.append("added")
        except ConsolidationError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(master,)) for master in masters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("added") == 1
    assert any("is already on" in outcome for outcome in outcomes)
    assert ConsolidatedHouse.objects.filter(house=house, removed_at__isnull=True).count() == 1


def test_split_by_quantity_moves_pieces_pro_rata(make_order, ops_user):
    order = make_order(lines=[lcl_line(2000, 8, pieces=20)])
    house = planning.house_create(order=order, by=ops_user)
    line = order.lines.get()
    new_house = planning.house_split(house=house, allocations={line.pk: 5}, by=ops_user)
    kept, moved = house.house_lines.get(), new_house.house_lines.get()
    assert (kept.pieces, kept.gross_weight_kg, kept.volume_m3) == (15, D(1500), D(6))
    assert (moved.pieces, moved.gross_weight_kg, moved.volume_m3) == (5, D(500), D(2))


def test_split_by_lines_puts_each_line_on_its_own_house(make_order, ops_user):
    order = make_order(lines=[lcl_line(1000, 4, description="Lamps"), lcl_line(3000, 9, description="Poles")])
    first, second = order.lines.order_by("line_no")
    house_a = planning.house_create(order=order, allocations={first.pk: first.pieces}, by=ops_user)
    house_b = planning.house_create(order=order, by=ops_user)  # the rest
    assert [hl.cargo_line_id for hl in house_a.house_lines.all()] == [first.pk]
    assert [hl.cargo_line_id for hl in house_b.house_lines.all()] == [second.pk]
    with pytest.raises(PlanningError, match="already on a shipment"):
        planning.house_create(order=order, by=ops_user)


def test_split_refuses_more_pieces_than_the_house_has_or_all_of_them(make_order, ops_user):
    order = make_order(lines=[lcl_line(2000, 8, pieces=20)])
    house = planning.house_create(order=order, by=ops_user)
    line = order.lines.get()
    with pytest.raises(PlanningError, match="carries 20 pieces of that line; 25 asked"):
        planning.house_split(house=house, allocations={line.pk: 25}, by=ops_user)
    with pytest.raises(PlanningError, match="keep at least one piece"):
        planning.house_split(house=house, allocations={line.pk: 20}, by=ops_user)


def test_split_parts_travel_on_different_masters(make_order, ops_user):
    order = make_order(lines=[lcl_line(2000, 8, pieces=20)])
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    house = master.consolidated_houses.get().house
    part = planning.house_split(house=house, allocations={order.lines.get().pk: 8}, by=ops_user)
    other = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    consolidation.house_add(master=other, house=part, by=ops_user)
    assert consolidation.master_totals(master=master).pieces == 12
    assert consolidation.master_totals(master=other).pieces == 18  # 10 of the other order + 8 split off


def test_deconsolidation_waits_for_arrival_then_frees_the_houses(make_order, ops_user):
    from django.utils import timezone

    master = consolidation.consolidation_create(orders=[make_order(), make_order()], container_type="22G1", by=ops_user)
    with pytest.raises(ConsolidationError, match="has not arrived yet"):
        consolidation.master_deconsolidate(master=master, by=ops_user)
    leg = master.legs.get()
    now = timezone.now()
    leg_changes.leg_record_actual(leg=leg, departed_at=now - datetime.timedelta(days=30), by=ops_user)
    leg_changes.leg_record_actual(leg=leg, arrived_at=now, by=ops_user)
    master.refresh_from_db()
    assert master.status == ShipmentStatus.ARRIVED
    houses = consolidation.master_deconsolidate(master=master, by=ops_user)
    assert len(houses) == 2
    assert all(house.status == ShipmentStatus.ARRIVED for house in houses)
    assert not ConsolidatedHouse.objects.filter(master=master, deconsolidated_at__isnull=True).exists()
    # each house now continues on its own: a last-mile leg of its own
    last_mile = leg_changes.leg_add(
        shipment=houses[0],
        data={"role": "last_mile", "mode": "road_ftl", "origin_id": "DEHAM", "destination_id": "DEHAM"},
    )
    assert last_mile.sequence == 1


def test_splitting_a_master_is_refused_not_a_500(make_order, ops_user, login):
    """A master has no order of its own: the split page took any shipment, and the split read `None.pk` (found by
    the type check)."""
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    assert master.kind == "master"
    houses_before = Shipment.objects.filter(kind="house").count()
    response = login(ops_user).post(reverse("tracking:house_split", args=[master.reference]), {})
    assert response.status_code == 400
    assert "only a house can be split" in " ".join(response.context["split_form"].non_field_errors())
    assert Shipment.objects.filter(kind="house").count() == houses_before
    with pytest.raises(PlanningError, match="only a house can be split"):
        planning.house_split(house=master, allocations={}, by=ops_user)
