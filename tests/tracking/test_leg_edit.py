"""Planners correct and remove a shipment's legs on its page (docs/planning.md, "Correcting and removing legs"):
the leg form filled in from the leg, read on the branch's clock; what a departure, an arrival or the carrier's
confirmation fixed stays; the only main carriage of a master stays; legs keep role order and their numbers; every
change is in the leg history with who made it; the order's ETA follows the plan. Operations only; customers and
partners get 403, another shipment's leg a 404."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import datetime_text, oms_date, oms_datetime
from tests.tracking.test_ingest_support import fresh_mapping
from tracking import leg_history
from tracking.errors import PlanningError
from tracking.models import Leg, LegEvent, LegRole, Shipment, ShipmentStatus
from tracking.services import booking as booking_services
from tracking.services import leg_changes, planning

__all__ = ["fresh_mapping"]  # fixture

UTC = datetime.UTC
ETD = datetime.datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
ETA = datetime.datetime(2027, 2, 7, 6, 0, tzinfo=UTC)


@pytest.fixture
def shanghai_branch(branch):
    """The orders' branch (HAM in the fixtures) runs on Shanghai's clock here, so that a time typed on the form
    and the UTC it is stored as differ by eight hours."""
    branch.time_zone = "Asia/Shanghai"
    branch.save(update_fields=["time_zone"])
    return branch


@pytest.fixture
def master(make_order, ops_user, shanghai_branch, carrier):
    """A direct LCL master CNSHA → DEHAM: its main carriage planned, a pre-carriage truck and an on-carriage."""
    shipment = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    main = shipment.legs.get()
    leg_changes.leg_update(
        leg=main,
        data={
            "planned_departure_at": ETD,
            "planned_arrival_at": ETA,
            "vessel_name": "MSC ANNA",
            "voyage_number": "FE612W",
        },
    )
    leg_changes.leg_add(
        shipment=shipment,
        data={"role": LegRole.ON_CARRIAGE, "mode": "road_ftl", "origin_id": "DEHAM", "destination_id": "DEBER"},
    )
    leg_changes.leg_add(
        shipment=shipment,
        data={
            "role": LegRole.PRE_CARRIAGE,
            "mode": "road_ftl",
            "carrier_id": carrier.pk,
            "origin_id": "CNSZH",
            "destination_id": "CNSHA",
        },
    )
    return Shipment.objects.get(pk=shipment.pk)


def legs(shipment):
    return list(Leg.objects.filter(shipment=shipment).order_by("sequence"))


def leg_of(shipment, role):
    return Leg.objects.get(shipment=shipment, role=role)


def form_data(leg, **changes):
    """What the edit form posts for the leg as it stands (times on Shanghai's clock), with `changes`."""

    def local(at):
        return timezone.localtime(at, datetime.timezone(datetime.timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M")

    data = {
        "role": leg.role,
        "mode": leg.mode,
        "carrier": leg.carrier_id or "",
        "origin": leg.origin_id,
        "destination": leg.destination_id,
        "planned_departure_at": local(leg.planned_departure_at) if leg.planned_departure_at else "",
        "planned_arrival_at": local(leg.planned_arrival_at) if leg.planned_arrival_at else "",
        "vessel_name": leg.vessel_name,
        "vessel_imo": leg.vessel_imo,
        "voyage_number": leg.voyage_number,
        "flight_number": leg.flight_number,
        "truck_plate": leg.truck_plate,
        "train_number": leg.train_number,
    }
    return data | changes


def edit_url(leg):
    return reverse("tracking:leg_edit", args=[leg.shipment.reference, leg.pk])


def remove_url(leg):
    return reverse("tracking:leg_remove", args=[leg.shipment.reference, leg.pk])


# --- the happy path --------------------------------------------------------------------------------------------


def test_the_shipment_page_offers_edit_on_each_leg_and_remove_where_it_can_be_done(login, ops_user, master):
    """Remove is offered only when leg_changes.leg_remove_problem has nothing against it; otherwise the row says why
    in its place (review I: "Remove" on the only main carriage led to a page refusing it)."""
    page = login(ops_user).get(master.get_absolute_url()).content.decode()
    for leg in legs(master):
        assert edit_url(leg) in page
    assert remove_url(leg_of(master, LegRole.PRE_CARRIAGE)) in page
    assert remove_url(leg_of(master, LegRole.ON_CARRIAGE)) in page
    main = leg_of(master, LegRole.MAIN)
    assert remove_url(main) not in page
    assert f'title="This is the only main carriage of {master.reference}; a shipment travels on one.' in page
    assert f'aria-label="Leg {main.sequence} cannot be removed: This is the only main carriage' in page


def test_the_booked_leg_is_not_offered_for_removal_while_its_booking_is_live(
    login, ops_user, ops_scope, master, ocean_carriers
):
    maersk, _ = ocean_carriers
    second = leg_changes.leg_add(  # a second main carriage: the first, booked, is no longer the only one
        shipment=master, data={"role": LegRole.MAIN, "origin_id": "CNNGB", "destination_id": "DEHAM"}
    )
    booking_services.booking_request(shipment=master, carrier=maersk, by=ops_user)
    page = login(ops_user).get(master.get_absolute_url()).content.decode()
    booked = legs(master)[1]
    assert booked.role == LegRole.MAIN
    assert booked.pk != second.pk
    assert remove_url(booked) not in page
    assert 'title="This leg is the one booked with Maersk (to send); cancel the booking first."' in page
    assert remove_url(second) in page


def test_the_edit_form_starts_from_the_leg_on_the_branch_clock(login, ops_user, master):
    main = leg_of(master, LegRole.MAIN)
    response = login(ops_user).get(edit_url(main))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="MSC ANNA"' in page
    assert 'value="FE612W"' in page
    assert 'value="2027-01-04T18:00"' in page  # 10:00 UTC is 18:00 in Shanghai
    assert "Local time, Asia/Shanghai." in page


def test_a_planner_corrects_vessel_voyage_times_and_carrier_on_the_branch_clock(
    login, ops_user, master, ocean_carriers
):
    maersk, _ = ocean_carriers
    main = leg_of(master, LegRole.MAIN)
    data = form_data(
        main,
        vessel_name="MSC ANNE",
        voyage_number="FE613W",
        carrier=maersk.pk,
        destination="DEBRV",
        planned_departure_at="2027-01-05T09:30",
        planned_arrival_at="2027-02-09T14:00",
    )
    response = login(ops_user).post(edit_url(main), data)

    assert response.status_code == 302
    assert response["Location"] == master.get_absolute_url()
    main.refresh_from_db()
    assert (main.vessel_name, main.voyage_number, main.carrier_id, main.destination_id) == (
        "MSC ANNE", "FE613W", maersk.pk, "DEBRV",
    )  # fmt: skip
    assert main.planned_departure_at == datetime.datetime(2027, 1, 5, 1, 30, tzinfo=UTC)  # typed in Shanghai
    assert main.planned_arrival_at == datetime.datetime(2027, 2, 9, 6, 0, tzinfo=UTC)


def test_the_edit_form_checks_as_adding_a_leg_does(login, ops_user, master):
    main = leg_of(master, LegRole.MAIN)
    client = login(ops_user)
    response = client.post(
        edit_url(main), form_data(main, planned_arrival_at="2027-01-01T08:00", vessel_imo="1234568", origin="XXXXX")
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "The arrival is before the departure." in page
    assert "not a valid IMO ship number" in page
    assert "XXXXX is not a UN/LOCODE we know." in page
    assert Leg.objects.get(pk=main.pk).planned_departure_at == ETD


def test_a_new_role_moves_the_leg_to_its_place_and_the_legs_stay_numbered(login, ops_user, master):
    assert [leg.role for leg in legs(master)] == [LegRole.PRE_CARRIAGE, LegRole.MAIN, LegRole.ON_CARRIAGE]
    on_carriage = leg_of(master, LegRole.ON_CARRIAGE)
    client = login(ops_user)

    client.post(edit_url(on_carriage), form_data(on_carriage, role=LegRole.PRE_CARRIAGE))

    after = legs(master)
    assert [leg.sequence for leg in after] == [1, 2, 3]
    assert [leg.role for leg in after] == [LegRole.PRE_CARRIAGE, LegRole.PRE_CARRIAGE, LegRole.MAIN]
    assert after[1].pk == on_carriage.pk  # joins its new role's legs last


def test_removing_a_leg_asks_first_and_renumbers_the_others(login, ops_user, master):
    pre = leg_of(master, LegRole.PRE_CARRIAGE)
    client = login(ops_user)
    page = client.get(remove_url(pre)).content.decode()
    assert "Remove leg 1" in page
    assert 'type="submit">Remove leg</button>' in page
    assert Leg.objects.filter(pk=pre.pk).exists()  # asking removes nothing

    response = client.post(remove_url(pre))

    assert response.status_code == 302
    assert not Leg.objects.filter(pk=pre.pk).exists()
    assert [(leg.sequence, leg.role) for leg in legs(master)] == [(1, LegRole.MAIN), (2, LegRole.ON_CARRIAGE)]


# --- guards -----------------------------------------------------------------------------------------------------


def test_a_leg_that_departed_is_not_removed_and_keeps_what_its_departure_fixed(login, ops_user, master):
    pre = leg_of(master, LegRole.PRE_CARRIAGE)
    departed = timezone.now() - datetime.timedelta(hours=2)
    leg_changes.leg_record_actual(leg=pre, departed_at=departed, by=ops_user)
    client = login(ops_user)

    page = client.get(master.get_absolute_url()).content.decode()
    assert edit_url(pre) in page
    assert remove_url(pre) not in page
    assert 'title="This leg has departed; it stays on record' in page
    assert "stays on record" in client.get(remove_url(pre)).content.decode()
    client.post(remove_url(pre))
    assert Leg.objects.filter(pk=pre.pk).exists()
    with pytest.raises(PlanningError, match="has departed; it stays on record"):
        leg_changes.leg_remove(leg=pre)

    # The form shows the fixed fields disabled; a post cannot change them, nor the actual times, but the plate can.
    form = client.get(edit_url(pre)).content.decode()
    assert "The leg has departed" in form
    response = client.post(
        edit_url(pre),
        form_data(pre, origin="CNNGB", truck_plate="沪A12345", actual_departure_at="2026-01-01T00:00"),
    )
    assert response.status_code == 302
    pre.refresh_from_db()
    assert (pre.origin_id, pre.truck_plate, pre.actual_departure_at) == ("CNSZH", "沪A12345", departed)
    with pytest.raises(PlanningError, match="origin and planned departure of this leg cannot be changed"):
        leg_changes.leg_update(leg=pre, data={"origin_id": "CNNGB", "planned_departure_at": ETD})


def test_a_leg_that_arrived_keeps_where_and_when_it_was_planned_to_arrive(ops_user, master):
    pre = leg_of(master, LegRole.PRE_CARRIAGE)
    now = timezone.now()
    leg_changes.leg_record_actual(leg=pre, departed_at=now - datetime.timedelta(hours=5), arrived_at=now, by=ops_user)
    with pytest.raises(
        PlanningError, match=r"The destination of this leg cannot be changed here\. The leg has arrived"
    ):
        leg_changes.leg_update(leg=pre, data={"destination_id": "CNNGB"})
    leg_changes.leg_update(leg=pre, data={"truck_plate": "沪B99999"})  # a typo in the plate is still corrected
    assert Leg.objects.get(pk=pre.pk).truck_plate == "沪B99999"


def test_the_booked_sailing_of_a_confirmed_booking_is_changed_by_a_roll_not_a_correction(
    login, ops_user, ops_scope, master, ocean_carriers, fresh_mapping
):
    maersk, hapag = ocean_carriers
    booking = booking_services.booking_request(shipment=master, carrier=maersk, by=ops_user)
    booking_services.booking_confirm(
        booking=booking, carrier_reference="MAEU262001234", departure_at=ETD, arrival_at=ETA, scope=ops_scope,
        by=ops_user, vessel_name="MAERSK ESSEN", voyage_number="249W",
    )  # fmt: skip
    main = leg_of(master, LegRole.MAIN)

    for change in (
        {"carrier_id": hapag.pk},
        {"vessel_name": "MAERSK EMDEN"},
        {"voyage_number": "250W"},
        {"planned_departure_at": ETD + datetime.timedelta(days=1)},
    ):
        with pytest.raises(PlanningError, match=r"Booked with Maersk \(confirmation MAEU262001234\).*Record a roll"):
            leg_changes.leg_update(leg=main, data=change)
    main.refresh_from_db()
    assert (main.carrier_id, main.vessel_name, main.voyage_number) == (maersk.pk, "MAERSK ESSEN", "249W")

    client = login(ops_user)
    form = client.get(edit_url(main)).content.decode()
    assert "what Maersk confirmed" in form
    assert 'name="vessel_name" value="MAERSK ESSEN"' in form
    assert "disabled" in form
    client.post(edit_url(main), form_data(main, vessel_name="MAERSK EMDEN", carrier=hapag.pk))
    assert Leg.objects.get(pk=main.pk).vessel_name == "MAERSK ESSEN"  # disabled fields are not taken from a post
    assert "booked with Maersk (confirmed); cancel the booking first" in client.get(remove_url(main)).content.decode()

    # The legs before and after the booked sailing are ours to plan.
    on_carriage = leg_of(master, LegRole.ON_CARRIAGE)
    response = client.post(edit_url(on_carriage), form_data(on_carriage, destination="DEMUC", truck_plate="HH-X 1"))
    assert response.status_code == 302
    assert Leg.objects.get(pk=on_carriage.pk).destination_id == "DEMUC"


def test_while_a_booking_request_is_out_its_carrier_stays_but_the_plan_may_be_corrected(
    ops_user, master, ocean_carriers
):
    maersk, hapag = ocean_carriers
    booking_services.booking_request(shipment=master, carrier=maersk, by=ops_user)
    main = leg_of(master, LegRole.MAIN)
    with pytest.raises(PlanningError, match=r"booking request is with Maersk \(to send\)"):
        leg_changes.leg_update(leg=main, data={"carrier_id": hapag.pk})
    leg_changes.leg_update(leg=main, data={"vessel_name": "MSC ANNE", "planned_arrival_at": ETA})
    assert Leg.objects.get(pk=main.pk).vessel_name == "MSC ANNE"


def test_the_only_main_carriage_of_a_master_is_not_removed_nor_given_another_role(login, ops_user, master):
    main = leg_of(master, LegRole.MAIN)
    client = login(ops_user)

    page = client.get(remove_url(main)).content.decode()
    assert f"This is the only main carriage of {master.reference}" in page
    assert "Remove leg</button>" not in page
    response = client.post(remove_url(main), follow=True)
    assert f"This is the only main carriage of {master.reference}" in response.content.decode()
    assert Leg.objects.filter(pk=main.pk).exists()
    with pytest.raises(PlanningError, match="only main carriage"):
        leg_changes.leg_update(leg=main, data={"role": LegRole.ON_CARRIAGE})

    # With the right main carriage added, the wrong one goes.
    second = leg_changes.leg_add(
        shipment=master, data={"role": LegRole.MAIN, "origin_id": "CNNGB", "destination_id": "DEHAM"}
    )
    leg_changes.leg_remove(leg=main, by=ops_user)
    assert [leg.pk for leg in legs(master) if leg.role == LegRole.MAIN] == [second.pk]


def test_the_legs_of_a_delivered_or_cancelled_shipment_stay_as_they_were(login, ops_user, master):
    on_carriage = leg_of(master, LegRole.ON_CARRIAGE)
    Shipment.objects.filter(pk=master.pk).update(status=ShipmentStatus.DELIVERED)
    client = login(ops_user)
    page = client.get(master.get_absolute_url()).content.decode()
    assert edit_url(on_carriage) not in page
    assert remove_url(on_carriage) not in page
    assert "cannot be removed" not in page  # nothing is offered on the legs of a closed shipment
    response = client.post(edit_url(on_carriage), form_data(on_carriage, destination="DEMUC"), follow=True)
    assert "is delivered; its legs stay as they were" in response.content.decode()
    with pytest.raises(PlanningError, match="is delivered"):
        leg_changes.leg_remove(leg=on_carriage)
    assert Leg.objects.get(pk=on_carriage.pk).destination_id == "DEBER"


# --- who may --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["sales_user", "finance_user", "customer_a_user", "customer_b_user", "carrier_user"])
def test_only_operations_correct_or_remove_legs(request, login, master, who, carrier):
    user = request.getfixturevalue(who)
    pre = leg_of(master, LegRole.PRE_CARRIAGE)  # carried by Nordtruck: its partner user sees it in the portal
    client = login(user)
    for url in (edit_url(pre), remove_url(pre)):
        assert client.get(url).status_code == 403
        assert client.post(url, form_data(pre, destination="CNNGB")).status_code == 403
    pre.refresh_from_db()
    assert pre.destination_id == "CNSHA"
    if who in ("sales_user", "finance_user"):  # staff read the page, without the actions
        page = client.get(master.get_absolute_url()).content.decode()
        assert edit_url(pre) not in page
        assert remove_url(pre) not in page


def test_a_leg_is_reached_through_its_own_shipment_only(login, ops_user, master, make_order, customer_b):
    """Two customers' shipments: a leg of ACME's master cannot be changed through GLOBEX's (nor the other way)."""
    other = planning.shipment_plan_direct(order=make_order(customer_code="GLOBEX"), by=ops_user)
    acme_leg, globex_leg = leg_of(master, LegRole.PRE_CARRIAGE), other.legs.get()
    client = login(ops_user)
    for shipment, leg in ((other, acme_leg), (master, globex_leg)):
        assert client.get(reverse("tracking:leg_edit", args=[shipment.reference, leg.pk])).status_code == 404
        assert client.post(reverse("tracking:leg_remove", args=[shipment.reference, leg.pk])).status_code == 404
    assert Leg.objects.filter(pk__in=[acme_leg.pk, globex_leg.pk]).count() == 2


# --- history ------------------------------------------------------------------------------------------------


def test_adding_correcting_and_removing_legs_is_recorded_with_who_did_it(login, ops_user, master):
    client = login(ops_user)
    main = leg_of(master, LegRole.MAIN)
    last = LegEvent.objects.order_by("-pgh_id").values_list("pgh_id", flat=True).first()
    client.post(
        reverse("tracking:leg_add", args=[master.reference]),
        {"role": "last_mile", "mode": "road_ltl", "origin": "DEBER", "destination": "DEBER"},
    )
    client.post(edit_url(main), form_data(main, vessel_name="MSC ANNE", planned_arrival_at="2027-02-09T14:00"))
    client.post(remove_url(leg_of(master, LegRole.ON_CARRIAGE)))

    events = list(LegEvent.objects.filter(pgh_id__gt=last).select_related("pgh_context").order_by("pgh_id"))
    assert [event.pgh_label for event in events] == ["insert", "update", "delete"]
    assert {event.pgh_context.metadata["user"] for event in events} == {ops_user.pk}

    page = client.get(master.get_absolute_url()).content.decode()
    history = page[page.index("Leg history") :]
    assert history.index("Leg removed") < history.index("Leg changed") < history.index("Leg added")  # newest first
    assert "On-carriage DEHAM → DEBER" in history
    assert "Last mile DEBER → DEBER" in history
    assert 'Vessel: <span class="text-secondary">MSC ANNA</span> → MSC ANNE' in history
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    before, after = (datetime_text(datetime.datetime(2027, 2, day, 14, 0, tzinfo=shanghai)) for day in (7, 9))
    assert f'Planned arrival: <span class="text-secondary">{before}</span> → {after}' in history  # Shanghai
    newest = leg_history.leg_history_for(shipment=master)[:3]
    assert [(entry.title, entry.who) for entry in newest] == [
        ("Leg removed", "ops@oms.test"), ("Leg changed", "ops@oms.test"), ("Leg added", "ops@oms.test"),
    ]  # fmt: skip


def test_renumbering_is_no_change_in_the_history(ops_user, master):
    last = LegEvent.objects.order_by("-pgh_id").values_list("pgh_id", flat=True).first()
    leg_changes.leg_remove(leg=leg_of(master, LegRole.PRE_CARRIAGE), by=ops_user)  # the others move up a number
    assert list(LegEvent.objects.filter(pgh_id__gt=last).values_list("pgh_label", flat=True)) == ["delete"]


# --- the plan flows to what reads it ---------------------------------------------------------------------------


def test_the_order_page_eta_follows_a_corrected_planned_arrival(login, ops_user, customer_a_user, master):
    """The order page's shipments and its tracking card (loaded from the timeline view), and the customer's view
    of that card in the portal, read the main carriage's planned arrival: on the branch's clock for staff."""
    order = master.consolidated_houses.get().house.order
    card = reverse("tracking_ingest:order_timeline", args=[order.reference])
    client = login(ops_user)
    planned = datetime.datetime(2027, 2, 7, 14, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))  # the planned ETA
    assert f"ETA {oms_date(planned)}" in client.get(order.get_absolute_url()).content.decode()
    assert oms_datetime(planned, "weekday") in client.get(card).content.decode()

    main = leg_of(master, LegRole.MAIN)
    client.post(edit_url(main), form_data(main, planned_arrival_at="2027-02-11T09:00"))

    page = client.get(order.get_absolute_url()).content.decode()
    corrected = datetime.datetime(2027, 2, 11, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert f"ETA {oms_date(corrected)}" in page
    assert f"ETA {oms_date(planned)}" not in page
    timeline = client.get(card).content.decode()
    assert oms_datetime(corrected, "weekday") in timeline
    assert oms_date(planned, "weekday") not in timeline
    portal = login(customer_a_user).get(card).content.decode()
    assert oms_date(corrected) in portal
    assert oms_date(planned) not in portal


def test_the_schedule_board_follows_a_corrected_planned_departure(login, ops_user, master):
    main = leg_of(master, LegRole.MAIN)
    client = login(ops_user)
    client.post(edit_url(main), form_data(main, planned_departure_at="2027-01-06T07:15"))
    board = client.get(reverse("tracking:schedule"), {"start": "2027-01-04", "branch": "all"}).content.decode()
    assert "07:15 CNSHA" in board


# --- the page stays cheap ---------------------------------------------------------------------------------------


def test_the_shipment_page_runs_a_bounded_number_of_queries_whatever_its_legs_and_history(
    login, ops_user, master, django_assert_max_num_queries
):
    client = login(ops_user)

    def add_leg(number: int) -> None:  # a leg the system added and a person corrected: both kinds of history row
        leg = leg_changes.leg_add(
            shipment=master,
            data={"role": LegRole.LAST_MILE, "mode": "road_ltl", "origin_id": "DEBER", "destination_id": "DEBER"},
        )
        leg_changes.leg_update(leg=leg, data={"truck_plate": f"B-OM {number}"}, by=ops_user)

    add_leg(9)
    client.get(master.get_absolute_url())  # warm caches (session, mapping)
    with django_assert_max_num_queries(40) as few:
        assert client.get(master.get_absolute_url()).status_code == 200
    for number in range(4):
        add_leg(number)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(master.get_absolute_url()).status_code == 200
