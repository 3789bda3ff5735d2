"""Who may change planning and bookings: operations (and admin). Sales, finance and documentation read the
planning screens but every action refuses them (403, nothing changes), and the screens offer them none.
Also: the quick actions' `next` only leads to a page of ours."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from partners import services as partner_services
from partners.models import Role
from tests.factories import UserFactory
from tests.tracking.conftest import lcl_line
from tests.tracking.test_ingest_support import booked_fcl, fresh_mapping  # noqa: F401 - fixtures
from tracking import views_booking
from tracking.ingest.models import TrackingEvent
from tracking.models import (
    Appointment,
    Booking,
    BookingStatus,
    ConsolidatedHouse,
    HouseLine,
    Leg,
    Shipment,
    ShipmentEquipment,
)
from tracking.services import appointment_changes, consolidation, leg_changes, planning, ranking
from tracking.services import booking as booking_services
from tracking.urls import urlpatterns

DENIED = ["sales_user", "finance_user", "documentation_user"]
PLANNERS = ["ops_user", "admin_user"]
STAFF = [*DENIED, *PLANNERS]


@pytest.fixture
def documentation_user(branch):
    user = UserFactory(email="docs@oms.test")
    partner_services.membership_grant(user=user, organisation=branch, role=Role.DOCUMENTATION)
    return user


@dataclass
class World:
    free: Order  # confirmed, nothing planned
    master: Shipment  # LCL master in planning: two houses, one 20' box, an appointment today
    house: Shipment  # a house of its own, in planning
    requested: Booking  # a requested booking on a second master
    booked: Shipment  # the FCL master with a confirmed Maersk booking
    maersk: Any

    @property
    def confirmed(self) -> Booking:
        return Booking.objects.get(shipment=self.booked, status=BookingStatus.CONFIRMED)


@pytest.fixture
def world(make_order, ops_user, ocean_carriers, booked_fcl):  # noqa: F811 - booked_fcl is a fixture
    _, booked = booked_fcl
    master = consolidation.consolidation_create(orders=[make_order(), make_order()], container_type="22G1", by=ops_user)
    start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    appointment_changes.appointment_schedule(
        shipment=master,
        data={
            "kind": "pickup",
            "location_id": "CNSHA",
            "window_start_at": start,
            "window_end_at": start + datetime.timedelta(hours=2),
        },
    )
    second = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    requested = booking_services.booking_request(
        shipment=second, option=ranking.ranking_for_shipment(shipment=second).best, by=ops_user
    )
    house = planning.house_create(order=make_order(lines=[lcl_line(1000, 4, pieces=10)]), by=ops_user)
    leg_changes.leg_add(  # a leg a planner may correct or remove (a master's only main carriage stays)
        shipment=house,
        data={"role": "on_carriage", "mode": "road_ftl", "origin_id": "DEHAM", "destination_id": "DEBER"},
    )
    return World(
        free=make_order(), master=master, house=house, requested=requested, booked=booked, maersk=ocean_carriers[0]
    )


def snapshot() -> dict[str, Any]:
    """Everything a planning or booking action could change."""
    return {
        "orders": sorted(Order.objects.values_list("pk", "status")),
        "shipments": sorted(Shipment.objects.values_list("pk", "status", "carrier_id")),
        "consolidations": sorted(ConsolidatedHouse.objects.values_list("pk", "removed_at", "deconsolidated_at")),
        "house_lines": sorted(HouseLine.objects.values_list("pk", "house_id", "pieces")),
        "containers": sorted(ShipmentEquipment.objects.values_list("pk", "container_number", "vgm_kg")),
        "legs": sorted(
            Leg.objects.values_list("pk", "planned_departure_at", "actual_departure_at", "actual_arrival_at")
        ),
        "appointments": sorted(Appointment.objects.values_list("pk", "status")),
        "bookings": sorted(Booking.objects.values_list("pk", "status", "confirmed_departure_at")),
        "events": TrackingEvent.objects.count(),
    }


def actions(w: World) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every state-changing request of the planning screens, each one operations could make succeed."""
    container = w.master.containers.get()
    house_on_master = w.master.consolidated_houses.first().house
    line = w.house.house_lines.get()
    main_leg = w.booked.legs.get()
    house_leg = w.house.legs.get()
    soon = timezone.now() + datetime.timedelta(days=3)
    r = w.master.reference
    return {
        "consolidate": (
            reverse("tracking:consolidate"),
            {"order": [w.free.reference], "container_type": "22G1", "containers": 1},
        ),
        "order_plan_direct": (reverse("tracking:order_plan_direct", args=[w.free.reference]), {}),
        "order_add_to_master": (
            reverse("tracking:order_add_to_master", args=[w.free.reference]),
            {"master": w.master.pk},
        ),
        "house_add": (reverse("tracking:house_add", args=[r]), {"candidate": f"order:{w.free.pk}"}),
        "house_remove": (reverse("tracking:house_remove", args=[r, house_on_master.reference]), {}),
        "house_split": (reverse("tracking:house_split", args=[w.house.reference]), {f"line_{line.cargo_line_id}": 4}),
        "deconsolidate": (reverse("tracking:deconsolidate", args=[r]), {}),
        "container_add": (reverse("tracking:container_add", args=[r]), {"iso_type": "22G1"}),
        "container_update": (
            reverse("tracking:container_update", args=[r, container.pk]),
            {"iso_type": "22G1", "container_number": "CSQU3054383", "seal_numbers": "S1", "vgm_kg": "9000"},
        ),
        "container_remove": (reverse("tracking:container_remove", args=[r, container.pk]), {}),
        "leg_add": (
            reverse("tracking:leg_add", args=[r]),
            {"role": "on_carriage", "mode": "road_ftl", "origin": "DEHAM", "destination": "DE BER"},
        ),
        "leg_edit": (
            reverse("tracking:leg_edit", args=[w.house.reference, house_leg.pk]),
            {
                "role": "on_carriage",
                "mode": "road_ftl",
                "origin": "DEHAM",
                "destination": "DEBER",
                "planned_departure_at": soon.strftime("%Y-%m-%dT%H:%M"),
            },
        ),
        "leg_remove": (reverse("tracking:leg_remove", args=[w.house.reference, house_leg.pk]), {}),
        "appointment_add": (
            reverse("tracking:appointment_add", args=[r]),
            {
                "kind": "delivery",
                "location": "DEHAM",
                "window_start_at": soon.strftime("%Y-%m-%dT%H:%M"),
                "window_end_at": (soon + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            },
        ),
        "booking_choose": (reverse("tracking:booking_choose", args=[r]), {"carrier": w.maersk.pk}),
        "booking_send": (reverse("tracking:booking_send", args=[w.requested.pk]), {}),
        "booking_confirm": (
            reverse("tracking:booking_confirm", args=[w.requested.pk]),
            {"carrier_reference": "MAEU1", "departure_at": "2027-03-01T18:00", "arrival_at": "2027-04-01T06:00"},
        ),
        "booking_reject": (reverse("tracking:booking_reject", args=[w.requested.pk]), {"reason": "no space"}),
        "booking_roll": (
            reverse("tracking:booking_roll", args=[w.confirmed.pk]),
            {"departure_at": "2027-03-01T18:00", "arrival_at": "2027-04-01T06:00", "reason": "vessel full"},
        ),
        "booking_cancel": (reverse("tracking:booking_cancel", args=[w.confirmed.pk]), {"reason": "Blank sailing"}),
        "leg_record_actual": (reverse("tracking:leg_record_actual", args=[main_leg.pk]), {"kind": "departure"}),
        "appointment_record": (
            reverse("tracking:appointment_record", args=[w.master.appointments.get().pk]),
            {"status": "done"},
        ),
    }


ACTIONS = [
    "consolidate", "order_plan_direct", "order_add_to_master", "house_add", "house_remove", "house_split",
    "deconsolidate", "container_add", "container_update", "container_remove", "leg_add", "leg_edit", "leg_remove",
    "appointment_add",
    "booking_choose", "booking_send", "booking_confirm", "booking_reject", "booking_roll", "booking_cancel",
    "leg_record_actual", "appointment_record",
]  # fmt: skip


def test_the_matrix_covers_every_action_of_the_planning_urls(world):
    read_only = {"index", "order_plan", "shipment_detail", "shipment_ranking", "booking_document", "schedule", "today"}
    finance_screens = {"rate_cards", "rate_card_detail"}
    assert set(actions(world)) == set(ACTIONS) == {p.name for p in urlpatterns} - read_only - finance_screens


@pytest.mark.parametrize("action", ACTIONS)
def test_operations_can_make_each_action_of_the_matrix_count(login, ops_user, world, action):
    """So that "nothing changed" for the others means they were refused, not that the request was a no-op."""
    url, data = actions(world)[action]
    before = snapshot()
    response = login(ops_user).post(url, data)
    assert response.status_code == 302
    if action != "deconsolidate":  # needs a master arrived at destination; refused by the service here
        assert snapshot() != before


@pytest.mark.parametrize("persona", [*DENIED, "customer_a_user", "carrier_user"])
def test_only_planners_change_planning_and_bookings(request, login, persona, world):
    client = login(request.getfixturevalue(persona))
    before = snapshot()
    statuses = {name: client.post(url, data).status_code for name, (url, data) in actions(world).items()}
    assert statuses == dict.fromkeys(statuses, 403)
    assert snapshot() == before


@pytest.mark.parametrize("persona", DENIED)
@pytest.mark.parametrize(
    "url_name",
    ["tracking:booking_confirm", "tracking:booking_reject", "tracking:booking_roll", "tracking:booking_cancel"],
)
def test_the_booking_answer_forms_are_refused_too(request, login, persona, world, url_name):
    assert login(request.getfixturevalue(persona)).get(reverse(url_name, args=[world.requested.pk])).status_code == 403


@pytest.mark.parametrize("persona", PLANNERS)
def test_planners_cancel_a_confirmed_booking(request, login, persona, world):
    booking = world.confirmed
    client = login(request.getfixturevalue(persona))
    url = reverse("tracking:booking_cancel", args=[booking.pk])
    asked = client.get(url)
    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()  # the reason is asked for, as cancelling an order asks
    refused = client.post(url, {"reason": " "})
    assert refused.status_code == 400
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    response = client.post(url, {"reason": "Shipper postponed"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


@pytest.mark.parametrize("persona", PLANNERS)
def test_planners_consolidate_and_edit_the_master(request, login, persona, world):
    client = login(request.getfixturevalue(persona))
    requests = actions(world)
    for name in ("consolidate", "container_add", "leg_add"):
        url, data = requests[name]
        assert client.post(url, data).status_code == 302, name
    assert ConsolidatedHouse.objects.filter(house__order=world.free).exists()
    assert world.master.containers.count() == 2
    assert world.master.legs.count() == 2


@pytest.mark.parametrize("persona", PLANNERS)
def test_planners_answer_bookings_and_record_actuals(request, login, persona, world):
    client = login(request.getfixturevalue(persona))
    requests = actions(world)
    assert client.get(reverse("tracking:booking_confirm", args=[world.requested.pk])).status_code == 200
    for name in ("booking_reject", "leg_record_actual"):
        url, data = requests[name]
        assert client.post(url, data).status_code == 302, name
    world.requested.refresh_from_db()
    assert world.requested.status == BookingStatus.REJECTED
    assert world.booked.legs.get().actual_departure_at is not None


def read_only_urls(w: World) -> list[str]:
    return [
        reverse("tracking:index"),
        reverse("tracking:order_plan", args=[w.free.reference]),
        w.master.get_absolute_url(),
        w.booked.get_absolute_url(),
        w.house.get_absolute_url(),
        reverse("tracking:shipment_ranking", args=[w.master.reference]),
        reverse("tracking:schedule"),
        reverse("tracking:today"),
        reverse("tracking:booking_document", args=[w.confirmed.pk]),
    ]


@pytest.mark.parametrize("persona", STAFF)
def test_every_staff_role_reads_the_planning_screens(request, login, persona, world):
    client = login(request.getfixturevalue(persona))
    statuses = {url: client.get(url, {"branch": "all"}).status_code for url in read_only_urls(world)}
    assert statuses == dict.fromkeys(statuses, 200)


ACTION_MARKS = (
    'action="/planning/', 'hx-post="/planning/', "/confirm/", "/reject/", "/roll/", ">Choose<", "/edit/", "/remove/",
)  # fmt: skip


@pytest.mark.parametrize("persona", DENIED)
def test_the_screens_offer_no_action_to_those_who_cannot_plan(request, login, persona, world):
    client = login(request.getfixturevalue(persona))
    for url in read_only_urls(world):
        body = client.get(url, {"branch": "all"}).content.decode()
        assert [mark for mark in ACTION_MARKS if mark in body] == [], url
    assert "Cancel booking" not in client.get(world.booked.get_absolute_url()).content.decode()


def test_operations_see_the_actions(login, ops_user, world):
    client = login(ops_user)
    booked = client.get(world.booked.get_absolute_url()).content.decode()
    assert f'href="{reverse("tracking:booking_cancel", args=[world.confirmed.pk])}"' in booked
    assert reverse("tracking:booking_roll", args=[world.confirmed.pk]) in booked
    master = client.get(world.master.get_absolute_url()).content.decode()
    for name in ("house_add", "container_add", "leg_add", "appointment_add"):
        assert f'action="{reverse(f"tracking:{name}", args=[world.master.reference])}"' in master, name
    house = client.get(world.house.get_absolute_url()).content.decode()
    for name in ("leg_edit", "leg_remove"):
        assert reverse(f"tracking:{name}", args=[world.house.reference, world.house.legs.get().pk]) in house, name
    ranking_fragment = client.get(reverse("tracking:shipment_ranking", args=[world.master.reference]))
    assert ">Choose<" in ranking_fragment.content.decode()
    index = client.get(reverse("tracking:index"), {"branch": "all"}).content.decode()
    assert f'action="{reverse("tracking:consolidate")}"' in index
    today = client.get(reverse("tracking:today"), {"branch": "all"}).content.decode()
    assert 'hx-post="/planning/legs/' in today
    assert 'action="/planning/appointments/' in today


def test_finance_reads_the_booking_card_and_the_request_document(login, finance_user, world):
    body = login(finance_user).get(world.booked.get_absolute_url()).content.decode()
    assert "Booking" in body
    assert world.confirmed.carrier_reference in body
    assert reverse("tracking:booking_document", args=[world.confirmed.pk]) in body


@pytest.mark.parametrize(
    ("target", "lands_on"),
    [
        ("https://evil.example/phish", "/planning/today/"),
        ("//evil.example/phish", "/planning/today/"),
        ("/planning/schedule/?start=2027-01-04", "/planning/schedule/?start=2027-01-04"),
    ],
)
def test_quick_actions_return_only_to_our_own_pages(login, ops_user, world, target, lands_on):
    client = login(ops_user)
    url, data = actions(world)["appointment_record"]
    assert client.post(url, {**data, "next": target}).url == lands_on
    url, data = actions(world)["leg_record_actual"]
    assert client.post(url, {**data, "next": target}).url == lands_on


def test_the_refusal_says_who_may(rf, finance_user, customer_a_user, world):
    for user, reason in ((finance_user, "changed by operations"), (customer_a_user, "for OMS staff")):
        request = rf.post(reverse("tracking:booking_cancel", args=[world.confirmed.pk]))
        request.user = user
        with pytest.raises(PermissionDenied, match=reason):
            views_booking.booking_cancel(request, pk=world.confirmed.pk)
