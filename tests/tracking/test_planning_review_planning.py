"""Containers, capacity and recorded times: refused with a sentence, never a database error or a 500. The
planning review's defects, kept fixed."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.tracking.conftest import lcl_line
from tracking.errors import CapacityError, PlanningError
from tracking.models import Leg, ShipmentEquipment
from tracking.services import consolidation, container_changes, leg_changes, planning


def test_duplicate_container_number_on_one_master_is_a_planning_error_not_integrity_error(make_order, ops_user):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    container_changes.container_add(shipment=master, data={"iso_type": "22G1", "container_number": "CSQU3054383"})
    with pytest.raises(PlanningError, match=f"CSQU3054383 is already on {master.reference}"):
        container_changes.container_add(shipment=master, data={"iso_type": "22G1", "container_number": "CSQU3054383"})
    other = master.containers.get(container_number="")
    with pytest.raises(PlanningError, match="already on"):
        container_changes.container_update(container=other, data={"container_number": "CSQU3054383"})


def test_adding_a_container_number_already_on_the_master_answers_with_a_form_error_not_500(login, make_order, ops_user):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    container_changes.container_update(container=master.containers.get(), data={"container_number": "CSQU3054383"})
    client = login(ops_user)
    response = client.post(
        reverse("tracking:container_add", args=[master.reference]),
        {"iso_type": "22G1", "container_number": "CSQU 305438 3", "seal_numbers": "", "vgm_kg": ""},
    )
    assert response.status_code == 400
    assert ShipmentEquipment.objects.filter(shipment=master).count() == 1


def test_changing_container_type_to_a_smaller_box_checks_capacity(make_order, ops_user):
    # 2 x 30 m3 = 60 m3 fits a 40' HC (76.3 m3) but not a 20' GP (33.2 m3)
    orders = [make_order(lines=[lcl_line(2000, 30)]) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="45G1", by=ops_user)
    box = master.containers.get()
    with pytest.raises(CapacityError, match=r"holds 33\.2 m³"):
        container_changes.container_update(container=box, data={"iso_type": "22G1"})
    assert ShipmentEquipment.objects.get(pk=box.pk).iso_type == "45G1"
    container_changes.container_update(
        container=box, data={"container_number": "CSQU3054383"}
    )  # a number alone is fine


def test_direct_fcl_plan_refuses_35_t_in_one_40ft_box(make_order, ops_user):
    line = {
        "pieces": 20, "package_type": "PX", "gross_weight_kg": "35000", "volume_m3": "40",
        "description": "Steel coils", "hs_code": "7208.10", "container_number": "CSQU3054383", "container_type": "42G1",
    }  # fmt: skip
    order = make_order(mode="ocean_fcl", lines=[line])
    assert order.equipment.count() == 1
    # the consolidation path refuses this with "takes at most 26,700 kg"; the direct path does too
    with pytest.raises(CapacityError, match="26,700 kg"):
        planning.shipment_plan_direct(order=order, by=ops_user)
    assert not order.houses.exists()  # nothing left behind
    assert planning.unallocated_pieces(order) == {order.lines.get().pk: 20}


def test_recording_a_departure_after_the_recorded_arrival_is_a_planning_error(make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    leg = master.legs.get()
    now = timezone.now()
    leg_changes.leg_record_actual(leg=leg, departed_at=now - datetime.timedelta(hours=10), by=ops_user)
    leg_changes.leg_record_actual(leg=leg, arrived_at=now - datetime.timedelta(hours=5), by=ops_user)
    with pytest.raises(PlanningError, match="after the recorded arrival"):
        leg_changes.leg_record_actual(leg=leg, departed_at=now - datetime.timedelta(hours=1), by=ops_user)
    leg_changes.leg_record_actual(leg=leg, departed_at=now - datetime.timedelta(hours=9), by=ops_user)  # a correction
    assert Leg.objects.get(pk=leg.pk).actual_departure_at == now - datetime.timedelta(hours=9)


def test_correcting_a_departure_to_after_the_recorded_arrival_on_the_execution_screen_is_not_500(
    login, make_order, ops_user
):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    leg = master.legs.get()
    now = timezone.now()
    leg_changes.leg_record_actual(leg=leg, departed_at=now - datetime.timedelta(hours=10), by=ops_user)
    leg_changes.leg_record_actual(leg=leg, arrived_at=now - datetime.timedelta(hours=5), by=ops_user)
    client = login(ops_user)
    at = timezone.localtime(now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("tracking:leg_record_actual", args=[leg.pk]), {"kind": "departure", "at": at})
    assert response.status_code == 302
    assert Leg.objects.get(pk=leg.pk).actual_departure_at == now - datetime.timedelta(hours=10)
