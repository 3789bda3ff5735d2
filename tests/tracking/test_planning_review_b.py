"""Shipment planning and execution: the defects of acceptance review B, kept fixed (docs/planning.md)."""

import datetime
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.tracking.conftest import lcl_line
from tests.tracking.test_planning_time_zones import sha, sha_ops
from tracking.errors import BookingError, PlanningError
from tracking.models import Booking, CarrierPreference, Leg, PreferenceKind, Shipment, ShipmentStatus
from tracking.services import booking as booking_services
from tracking.services import consolidation, container_changes, leg_changes, planning

FCL_LINE = {
    "pieces": 20, "package_type": "PX", "gross_weight_kg": "4200", "volume_m3": "20", "description": "LED lamps",
    "hs_code": "9405.42", "container_type": "22G1",
}  # fmt: skip

__all__ = ["sha", "sha_ops"]  # fixtures, shared with the time-zone tests


def dg_line(un_number: str, dg_class: str, packing_group: str = "", **kwargs) -> dict:
    return {**lcl_line(500, 2, **kwargs), "un_number": un_number, "dg_class": dg_class, "packing_group": packing_group}


# --- deconsolidation moves houses forward only ---------------------------------------------------------------


def test_deconsolidating_keeps_a_house_already_delivered_delivered(make_order, ops_user):
    """A CFS box is delivered drop by drop; a shipment's status never goes backwards."""
    master = consolidation.consolidation_create(orders=[make_order(), make_order()], container_type="22G1", by=ops_user)
    main = master.legs.get()
    now = timezone.now()
    leg_changes.leg_record_actual(leg=main, departed_at=now - datetime.timedelta(days=30), by=ops_user)
    leg_changes.leg_record_actual(leg=main, arrived_at=now - datetime.timedelta(days=1), by=ops_user)
    first, second = consolidation.live_houses(Shipment.objects.get(pk=master.pk))
    leg_changes.shipment_set_status(shipment=first, status=ShipmentStatus.DELIVERED)  # its delivery milestone came in

    released = consolidation.master_deconsolidate(master=Shipment.objects.get(pk=master.pk), by=ops_user)

    assert {house.pk for house in released} == {first.pk, second.pk}
    assert Shipment.objects.get(pk=first.pk).status == ShipmentStatus.DELIVERED
    assert Shipment.objects.get(pk=second.pk).status == ShipmentStatus.ARRIVED


# --- the booking is the last capacity gate -------------------------------------------------------------------


def _loose_master_boxed_later(make_order, ops_user):
    """40 m³ of groupage consolidated before the box was chosen, then one 20' box (33.2 m³) added."""
    orders = [make_order(lines=[lcl_line(2000, 20)]) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="", by=ops_user)
    container_changes.container_add(shipment=master, data={"iso_type": "22G1"})
    return Shipment.objects.get(pk=master.pk)


def test_an_overfilled_master_is_not_booked_with_a_carrier(make_order, ops_user, ocean_carriers):
    master = _loose_master_boxed_later(make_order, ops_user)
    assert consolidation.master_capacity_problems(master=master)  # the page shows it red
    with pytest.raises(BookingError, match=r"cannot be booked as planned: A 20' .* holds 33\.2 m³; .* 40\.0 m³"):
        booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    assert not Booking.objects.filter(shipment=master).exists()


def test_an_overfilled_master_is_not_sent_to_the_carrier(make_order, ops_user, ocean_carriers):
    """The carrier was chosen while the cargo was loose; the box added since does not hold it."""
    orders = [make_order(lines=[lcl_line(2000, 20)]) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    container_changes.container_add(shipment=master, data={"iso_type": "22G1"})
    with pytest.raises(BookingError, match="cannot be booked as planned"):
        booking_services.booking_send(booking=booking, by=ops_user)
    booking.refresh_from_db()
    assert booking.status == "requested"
    assert booking.send_started_at is None


def test_the_screen_says_why_an_overfilled_master_is_not_sent(login, make_order, ops_user, ocean_carriers):
    orders = [make_order(lines=[lcl_line(2000, 20)]) for _ in range(2)]
    master = consolidation.consolidation_create(orders=orders, container_type="", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    container_changes.container_add(shipment=master, data={"iso_type": "22G1"})
    response = login(ops_user).post(reverse("tracking:booking_send", args=[booking.pk]), follow=True)
    assert f"{master.reference} cannot be booked as planned" in response.content.decode()
    assert Booking.objects.get(pk=booking.pk).status == "requested"


# --- a customer's excluded carrier ---------------------------------------------------------------------------


@pytest.fixture
def booked_acme_master(make_order, ops_user, ops_scope, ocean_carriers):
    """An ACME master booked and confirmed with Maersk."""
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    etd = timezone.now() + datetime.timedelta(days=10)
    booking_services.booking_confirm(
        booking=booking, carrier_reference="MAEU1", departure_at=etd, arrival_at=etd + datetime.timedelta(days=30),
        scope=ops_scope, by=ops_user,
    )  # fmt: skip
    return Shipment.objects.get(pk=master.pk)


def test_cargo_of_a_customer_that_excludes_the_carrier_does_not_join_its_booked_master(
    make_order, ops_user, ocean_carriers, customer_b, booked_acme_master
):
    """Globex excludes Maersk; a master carrying Globex cargo is never ranked with Maersk, and Globex cargo added
    after Maersk was chosen is refused the same way (its order would be planned on Maersk's confirmation)."""
    CarrierPreference.objects.create(
        carrier=ocean_carriers[0],
        kind=PreferenceKind.EXCLUDED,
        customer=customer_b,
        reason="Globex contract: no Maersk",
    )
    globex = make_order(customer_code="GLOBEX")
    with pytest.raises(
        PlanningError,
        match=rf"Globex Retail excludes Maersk \(Globex contract: no Maersk\), and {booked_acme_master.reference} "
        "is booked with Maersk",
    ):
        consolidation.order_add_to_master(order=globex, master=booked_acme_master, by=ops_user)
    assert not Shipment.objects.houses().filter(order=globex).exists()


def test_an_exclusion_on_another_lane_does_not_keep_the_cargo_off(
    make_order, ops_user, ocean_carriers, customer_b, booked_acme_master
):
    CarrierPreference.objects.create(
        carrier=ocean_carriers[0], kind=PreferenceKind.EXCLUDED, customer=customer_b, destination_code="US",
        reason="Globex routing guide: no Maersk into the US",
    )  # fmt: skip
    house = consolidation.order_add_to_master(order=make_order(customer_code="GLOBEX"), master=booked_acme_master)
    assert house in consolidation.live_houses(booked_acme_master)


# --- dangerous goods that may not share a container ----------------------------------------------------------


def test_explosives_and_an_oxidizer_are_not_consolidated_into_one_container(make_order, ops_user):
    """IMDG Code 7.2.4: class 1.1 explosives and class 5.1 oxidizers are kept apart by a compartment or hold."""
    orders = [
        make_order(lines=[dg_line("0065", "1.1D", description="Detonating cord")]),
        make_order(lines=[dg_line("1942", "5.1", "III", description="Ammonium nitrate")]),
    ]
    with pytest.raises(PlanningError, match=r"UN1942 \(class 5.1\) on order .* must be separated longitudinally .* "
                       r"from UN0065 \(class 1.1D\) on order .*; they may not share a container"):  # fmt: skip
        consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    assert not Shipment.objects.masters().exists()


def test_dangerous_goods_kept_apart_do_not_join_a_master_one_by_one(make_order, ops_user):
    master = consolidation.consolidation_create(
        orders=[make_order(lines=[dg_line("1203", "3", "II", description="Gasoline")])], container_type="22G1"
    )
    with pytest.raises(PlanningError, match=r"UN1942 \(class 5.1\) .* must be separated from UN1203 \(class 3\)"):
        consolidation.order_add_to_master(order=make_order(lines=[dg_line("1942", "5.1", "III")]), master=master)


def test_dangerous_goods_the_table_does_not_segregate_share_a_container(make_order, ops_user):
    """Class 9 (lithium batteries) is segregated from nothing in general; plain cargo from nothing at all."""
    orders = [
        make_order(lines=[dg_line("1203", "3", "II")]),
        make_order(lines=[dg_line("3480", "9", "II", description="Lithium ion batteries")]),
        make_order(),
    ]
    master = consolidation.consolidation_create(orders=orders, container_type="22G1", by=ops_user)
    assert len(consolidation.live_houses(master)) == 3


@pytest.mark.parametrize(
    ("first", "second", "level"),
    [("1.1D", "5.1", 4), ("1.4S", "6.1", 0), ("3", "5.1", 2), ("2.2", "6.2", 2), ("8", "4.1", 1), ("9", "1.1D", 0),
     ("6.2", "3", 3), ("1.6N", "8", 2), ("", "3", 0)],
)  # fmt: skip
def test_the_segregation_table_reads_both_ways(first, second, level):
    assert consolidation.segregation_required(first, second) == level
    assert consolidation.segregation_required(second, first) == level


# --- a closed shipment's legs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED])
def test_no_leg_is_added_to_a_closed_shipment(login, make_order, ops_user, status, django_capture_on_commit_callbacks):
    """docs/planning.md: "A delivered or cancelled shipment's legs stay as they were." The page offers no "Add a
    leg" and says why; the POST is refused, and exception detection is not asked to judge it again."""
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    Shipment.objects.filter(pk=master.pk).update(status=status)
    client = login(ops_user)
    page = client.get(master.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("tracking:leg_add", args=[master.reference]),
            {"role": "on_carriage", "mode": "road_ftl", "origin": "DEHAM", "destination": "DEMUC"},
        )
    assert response.status_code == 400
    assert Leg.objects.filter(shipment=master).count() == 1, "a leg was added to a closed shipment"
    assert not callbacks  # no leg_plan_changed
    assert reverse("tracking:leg_add", args=[master.reference]) not in page
    assert "its legs stay as they were" in page


def test_the_service_refuses_a_leg_on_a_delivered_shipment(make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    Shipment.objects.filter(pk=master.pk).update(status=ShipmentStatus.DELIVERED)
    with pytest.raises(PlanningError, match="is delivered; its legs stay as they were"):
        leg_changes.leg_add(
            shipment=master, data={"role": "last_mile", "origin_id": "DEHAM", "destination_id": "DEMUC"}
        )


# --- containers: sea and rail masters, before they move --------------------------------------------------------


def test_an_air_master_gets_no_ocean_container(login, make_order, ops_user):
    """Containers are planned for sea and rail; an air master neither offers nor takes one."""
    master = planning.shipment_plan_direct(order=make_order(mode="air", incoterm="FCA", lines=[lcl_line(300, 2)]))
    client = login(ops_user)
    page = client.get(master.get_absolute_url()).content.decode()
    response = client.post(
        reverse("tracking:container_add", args=[master.reference]), {"iso_type": "42G1", "container_number": ""}
    )
    assert not master.containers.exists()
    assert response.status_code == 400
    assert "goes by Air; containers are planned for sea and rail masters only." in response.content.decode()
    assert f'action="{reverse("tracking:container_add", args=[master.reference])}"' not in page


def test_no_container_is_added_to_a_master_that_has_sailed(login, make_order, ops_user):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    client = login(ops_user)
    add_form = f'action="{reverse("tracking:container_add", args=[master.reference])}"'
    assert add_form in client.get(master.get_absolute_url()).content.decode()
    leg_changes.leg_record_actual(leg=master.legs.get(), departed_at=timezone.now() - datetime.timedelta(hours=3))
    master.refresh_from_db()
    assert master.status == ShipmentStatus.IN_TRANSIT

    with pytest.raises(PlanningError, match="is in transit; containers are added only while it is being planned"):
        container_changes.container_add(shipment=master, data={"iso_type": "45G1"})
    assert master.containers.count() == 1
    assert add_form not in client.get(master.get_absolute_url()).content.decode()


# --- the branch's clock ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("branch_zone", "via_screen"), [("Asia/Shanghai", True), ("Pacific/Auckland", False)])
def test_choosing_a_ranked_carrier_plans_the_sailing_at_noon_on_the_branchs_clock(
    login,
    make_order,
    sha,
    sha_ops,
    ocean_carriers,
    branch_zone,
    via_screen,
):
    """The main leg gets the service's next departure at noon until the carrier confirms: noon where the branch
    plans, whether ops choose on screen or a rule picks in a worker (ranking.pick_best, on the server's zone)."""
    from tracking.services import ranking

    sha.time_zone = branch_zone
    sha.save(update_fields=["time_zone"])
    master = planning.shipment_plan_direct(order=make_order(mode="ocean_fcl", branch_code="SHA", lines=[FCL_LINE]))
    if via_screen:
        response = login(sha_ops).post(
            reverse("tracking:booking_choose", args=[master.reference]), {"carrier": ocean_carriers[0].pk}
        )
        assert response.status_code == 302
    else:
        ranking.pick_best(shipment=master, by=sha_ops)
    booking = Booking.objects.get(shipment=master)
    main = master.legs.get(role="main")
    departure = timezone.localtime(main.planned_departure_at, zoneinfo.ZoneInfo(branch_zone))
    arrival = timezone.localtime(main.planned_arrival_at, zoneinfo.ZoneInfo(branch_zone))
    assert (departure.date(), departure.hour, departure.minute) == (booking.requested_departure_on, 12, 0)
    assert arrival.hour == 12


def test_a_second_send_says_since_when_on_the_branchs_clock(
    login,
    make_order,
    sha,
    sha_ops,
    ocean_carriers,
):
    """A colleague's send is under way: "being sent (since …)" on the clock the shipment's pages run on."""
    master = planning.shipment_plan_direct(order=make_order(mode="ocean_fcl", branch_code="SHA", lines=[FCL_LINE]))
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=sha_ops)
    started = timezone.now() - datetime.timedelta(seconds=20)
    Booking.objects.filter(pk=booking.pk).update(send_started_at=started)
    response = login(sha_ops).post(reverse("tracking:booking_send", args=[booking.pk]), follow=True)
    local = timezone.localtime(started, zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert f"is being sent (since {local:%H:%M:%S} Asia/Shanghai)" in response.content.decode()
    assert Booking.objects.get(pk=booking.pk).status == "requested"
