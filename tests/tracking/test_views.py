import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from tests.tracking.conftest import PICKUP, lcl_line
from tracking.models import Booking, Shipment
from tracking.services import booking as booking_services
from tracking.services import consolidation, leg_changes, planning

HX = {"HTTP_HX_REQUEST": "true"}
STAFF_SCREENS = ["tracking:index", "tracking:schedule", "tracking:today", "tracking:rate_cards"]


@pytest.mark.parametrize("persona", ["customer_a_user", "carrier_user", "outsider"])
@pytest.mark.parametrize("url_name", STAFF_SCREENS)
def test_planning_screens_are_for_staff_only(request, login, persona, url_name):
    assert login(request.getfixturevalue(persona)).get(reverse(url_name)).status_code == 403


def test_anonymous_visitors_are_sent_to_login(client):
    assert client.get(reverse("tracking:index")).status_code == 302


def test_a_customer_cannot_open_a_shipment_even_its_own(login, customer_a_user, make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    house = master.consolidated_houses.get().house
    assert login(customer_a_user).get(house.get_absolute_url()).status_code == 403


def test_planning_index_lists_orders_to_plan_and_open_masters(login, ops_user, make_order):
    waiting = make_order()
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    response = login(ops_user).get(reverse("tracking:index"), {"branch": "all"})
    assert response.status_code == 200
    assert [o.reference for o in response.context["orders"]] == [waiting.reference]
    assert [row.shipment for row in response.context["masters"]] == [master]


def test_planning_index_filters_return_the_fragment_for_htmx(login, ops_user, make_order):
    make_order()
    response = login(ops_user).get(reverse("tracking:index"), {"mode": "air"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="planning-lists"' in body
    assert "<html" not in body
    assert "Nothing to plan" in body
    assert "HX-Request" in response["Vary"]


def test_planning_index_runs_a_constant_number_of_queries(login, ops_user, make_order, django_assert_max_num_queries):
    client = login(ops_user)
    make_order()
    planning.shipment_plan_direct(order=make_order(), by=ops_user)
    client.get(reverse("tracking:index"))
    with django_assert_max_num_queries(14) as few:
        client.get(reverse("tracking:index"))
    for _ in range(6):
        make_order()
        consolidation.consolidation_create(orders=[make_order(), make_order()], container_type="22G1", by=ops_user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("tracking:index"))
    assert len(response.context["masters"]) == 7


def test_ops_consolidate_book_and_confirm_in_the_browser_flow(login, ops_user, make_order, ocean_carriers):
    client = login(ops_user)
    orders = [make_order(lines=[lcl_line(1500, 6)], requested_pickup_on=PICKUP) for _ in range(3)]
    response = client.post(
        reverse("tracking:consolidate"),
        {"order": [o.reference for o in orders], "container_type": "22G1", "containers": 1},
    )
    master = Shipment.objects.masters().get()
    assert response.status_code == 302
    assert response.url == master.get_absolute_url()
    page = client.get(master.get_absolute_url())
    assert page.status_code == 200
    assert "Ranking carriers" in page.content.decode()
    ranking = client.get(reverse("tracking:shipment_ranking", args=[master.reference]), HTTP_HX_REQUEST="true")
    body = ranking.content.decode()
    assert 'id="ranking"' in body
    assert "<html" not in body
    assert "Maersk" in body
    assert "Hapag-Lloyd" in body
    assert "Score 89.6 = cost 60.0" in body
    assert "Choose" in body
    client.post(reverse("tracking:booking_choose", args=[master.reference]), {"carrier": ocean_carriers[0].pk})
    booking = Booking.objects.get()
    client.post(reverse("tracking:booking_send", args=[booking.pk]))
    assert len(mail.outbox) == 1
    response = client.post(
        reverse("tracking:booking_confirm", args=[booking.pk]),
        {
            "carrier_reference": "MAEU262001234",
            "departure_at": "2026-12-04T18:00",
            "arrival_at": "2027-01-07T06:00",
            "cargo_cutoff_at": "2026-12-03T12:00",
            "vessel_name": "Maersk Essen",
            "vessel_imo": "IMO 9456769",
            "voyage_number": "249W",
        },
    )
    assert response.status_code == 302
    assert {Order.objects.get(pk=o.pk).status for o in orders} == {"planned"}
    board = client.get(reverse("tracking:schedule"), {"start": "2026-12-01", "branch": "all"})
    departures = [leg.shipment for day in board.context["days"] for leg in day.departures]
    cutoffs = [(label, b.carrier_reference) for day in board.context["days"] for label, _, b in day.cutoffs]
    assert departures == [master]
    assert cutoffs == [("Cargo", "MAEU262001234")]


def test_confirm_form_shows_errors_without_changing_anything(login, ops_user, make_order, ocean_carriers):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    response = login(ops_user).post(
        reverse("tracking:booking_confirm", args=[booking.pk]),
        {"carrier_reference": "X1", "departure_at": "2026-12-04T18:00", "arrival_at": "2026-12-01T06:00"},
    )
    assert response.status_code == 400
    assert "The ETA is before the ETD." in response.content.decode()
    assert Booking.objects.get().status == "requested"


def test_consolidate_view_shows_the_capacity_error(login, ops_user, make_order):
    orders = [make_order(lines=[lcl_line(w, 10)]) for w in (12000, 12000, 11200)]
    response = login(ops_user).post(
        reverse("tracking:consolidate"),
        {"order": [o.reference for o in orders], "container_type": "42G1", "containers": 1},
        follow=True,
    )
    assert "these houses weigh 35,200 kg" in response.content.decode()
    assert not Shipment.objects.exists()


def test_a_refused_consolidation_keeps_the_lane_filter_and_the_ticked_orders(login, ops_user, make_order):
    orders = [make_order(lines=[lcl_line(w, 10)]) for w in (25000, 25000, 20000)]
    other = make_order(lines=[lcl_line(100, 1)])
    client = login(ops_user)
    filters = {"branch": "all", "mode": "ocean_lcl", "origin": "CNSHA", "destination": "DEHAM"}
    posted = {**filters, "order": [o.reference for o in orders], "container_type": "42G1", "containers": 2}
    response = client.post(reverse("tracking:consolidate"), posted)
    assert response.status_code == 302
    page = client.get(response.url)
    assert "these houses weigh 70,000 kg" in page.content.decode()
    assert (page.context["branch_id"], page.context["mode"]) == (None, "ocean_lcl")
    assert (page.context["origin"], page.context["destination"]) == ("CNSHA", "DEHAM")
    assert page.context["ticked"] == {o.reference for o in orders}
    body = page.content.decode()
    for order in orders:
        assert f'value="{order.reference}" aria-label="Select {order.reference}" checked>' in body
    assert f'value="{other.reference}" aria-label="Select {other.reference}">' in body  # not ticked
    assert '<option value="42G1" selected>' in body
    assert 'name="containers" id="id_containers" value="2">' in body
    assert not Shipment.objects.exists()


def test_consolidating_one_order_says_one_house(login, ops_user, make_order):
    order = make_order()
    response = login(ops_user).post(
        reverse("tracking:consolidate"), {"order": [order.reference], "container_type": "22G1", "containers": 1},
        follow=True,
    )  # fmt: skip
    assert f"{Shipment.objects.masters().get().reference} created with 1 house." in response.content.decode()


def test_deconsolidating_one_house_says_one_house(login, ops_user, make_order):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    Shipment.objects.filter(pk=master.pk).update(status="arrived")
    response = login(ops_user).post(reverse("tracking:deconsolidate", args=[master.reference]), follow=True)
    assert "Deconsolidated 1 house; plan their on-carriage and delivery." in response.content.decode()


def test_the_ranking_has_no_column_of_its_own_for_choose(login, ops_user, make_order, ocean_carriers):
    """At 1440 px the shipment page's side column is 476 px wide: "Choose" sits beside "Why" under the score, so
    the table's five columns fit it and the buttons show without scrolling sideways."""
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    body = login(ops_user).get(reverse("tracking:shipment_ranking", args=[master.reference]), **HX).content.decode()
    header = body[body.index("<thead>") : body.index("</thead>")]
    assert header.count("</th>") == 5
    assert body.count('<form class="float-end ms-2" method="post"') == 2  # one "Choose" per carrier
    assert 'aria-label="Choose Maersk">Choose</button>' in body


def test_order_plan_page_shows_cargo_and_options(login, ops_user, make_order, ocean_carriers):
    order = make_order(
        mode="ocean_fcl", lines=[{**lcl_line(4000, 20), "container_number": "CSQU3054383", "container_type": "22G1"}]
    )
    response = login(ops_user).get(reverse("tracking:order_plan", args=[order.reference]))
    assert response.status_code == 200
    assert [o.carrier.code for o in response.context["ranking"].options] == ["MAEU", "HLCU"]
    direct = login(ops_user).post(reverse("tracking:order_plan_direct", args=[order.reference]))
    master = Shipment.objects.masters().get()
    assert direct.url == master.get_absolute_url()
    assert [(box.iso_type, box.container_number) for box in master.containers.all()] == [("22G1", "CSQU3054383")]


def test_split_view_reports_bad_quantities_with_400(login, ops_user, make_order):
    order = make_order(lines=[lcl_line(1000, 4, pieces=10)])
    house = planning.house_create(order=order, by=ops_user)
    line = order.lines.get()
    response = login(ops_user).post(reverse("tracking:house_split", args=[house.reference]), {f"line_{line.pk}": 10})
    assert response.status_code == 400
    assert "keep at least one piece" in response.content.decode()
    ok = login(ops_user).post(reverse("tracking:house_split", args=[house.reference]), {f"line_{line.pk}": 4})
    assert ok.status_code == 302
    assert Shipment.objects.houses().count() == 2


def test_container_form_checks_the_iso_6346_number(login, ops_user, make_order):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    response = login(ops_user).post(
        reverse("tracking:container_add", args=[master.reference]),
        {"iso_type": "22G1", "container_number": "CSQU3054384"},
    )
    assert response.status_code == 400
    assert "fails the ISO 6346 check digit: the last digit should be 3" in response.content.decode()
    login(ops_user).post(
        reverse("tracking:container_add", args=[master.reference]),
        {"iso_type": "22G1", "container_number": "csqu 305438-3"},
    )
    assert master.containers.get().container_number == "CSQU3054383"


def test_leg_form_checks_the_imo_number(login, ops_user, make_order):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    response = login(ops_user).post(
        reverse("tracking:leg_add", args=[master.reference]),
        {
            "role": "on_carriage",
            "mode": "road_ftl",
            "origin": "DEHAM",
            "destination": "DE BER",
            "vessel_imo": "9321484",
        },
    )
    assert response.status_code == 400
    assert "not a valid IMO ship number" in response.content.decode()


@pytest.fixture
def today_legs(make_order, ops_user):
    """Masters whose main leg departs today (one per call)."""

    def make(count: int):
        start = timezone.now().replace(hour=23, minute=0, second=0, microsecond=0)
        masters = []
        for _ in range(count):
            master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
            leg_changes.leg_update(
                leg=master.legs.get(),
                data={"planned_departure_at": start, "planned_arrival_at": start + datetime.timedelta(days=30)},
            )
            masters.append(master)
        return masters

    return make


def test_execution_lists_todays_departures_and_records_them_with_htmx(login, ops_user, today_legs):
    (master,) = today_legs(1)
    client = login(ops_user)
    page = client.get(reverse("tracking:today"), {"branch": "all"})
    assert [leg.shipment for leg in page.context["execution"].departures] == [master]
    leg = master.legs.get()
    response = client.post(
        reverse("tracking:leg_record_actual", args=[leg.pk]), {"kind": "departure"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="leg-{leg.pk}"')
    assert "Arrived" in body
    master.refresh_from_db()
    assert master.status == "in_transit"


def test_execution_shows_the_error_in_the_row(login, ops_user, today_legs):
    (master,) = today_legs(1)
    leg = master.legs.get()
    response = login(ops_user).post(
        reverse("tracking:leg_record_actual", args=[leg.pk]), {"kind": "arrival"}, HTTP_HX_REQUEST="true"
    )
    assert "Record the departure of this leg before its arrival" in response.content.decode()


def test_schedule_and_execution_run_a_constant_number_of_queries(
    login, ops_user, today_legs, django_assert_max_num_queries
):
    client = login(ops_user)
    today_legs(1)
    client.get(reverse("tracking:schedule"))
    with django_assert_max_num_queries(12) as board:
        client.get(reverse("tracking:schedule"), {"branch": "all"})
    with django_assert_max_num_queries(12) as execution:
        client.get(reverse("tracking:today"), {"branch": "all"})
    today_legs(8)
    with django_assert_max_num_queries(len(board.captured_queries)):
        response = client.get(reverse("tracking:schedule"), {"branch": "all"})
    assert response.context["counts"]["departures"] == 9
    with django_assert_max_num_queries(len(execution.captured_queries)):
        client.get(reverse("tracking:today"), {"branch": "all"})


def test_schedule_board_htmx_filter_returns_the_board_fragment(login, ops_user, today_legs, carrier):
    today_legs(1)
    response = login(ops_user).get(
        reverse("tracking:schedule"), {"carrier": carrier.pk, "branch": "all"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert 'id="board"' in body
    assert "<html" not in body
    assert '<span class="fw-semibold text-body">0</span> departures' in body


def test_rate_card_screens(login, ops_user, ocean_carriers):
    client = login(ops_user)
    listing = client.get(reverse("tracking:rate_cards"))
    assert listing.status_code == 200
    assert "MAEU ocean_fcl 2026" in listing.content.decode()
    card = listing.context["page"].object_list[0]
    detail = client.get(reverse("tracking:rate_card_detail", args=[card.pk]))
    assert detail.status_code == 200
    assert "CNSHA" in detail.content.decode()


def test_booking_document_renders_the_request(login, ops_user, make_order, ocean_carriers):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[1], by=ops_user)
    response = login(ops_user).get(reverse("tracking:booking_document", args=[booking.pk]))
    assert response.status_code == 200
    assert "book@hlcu.test" in response.content.decode()
    assert "Port of loading" in response.content.decode()


def test_order_shipments_partial_renders_for_a_customer(make_order, ops_user, customer_a_user, rf):
    from django.template.loader import render_to_string

    from partners.scoping import scope_for_user
    from tracking.selectors import shipments_for_order

    order = make_order()
    planning.shipment_plan_direct(order=order, by=ops_user)
    html = render_to_string(
        "tracking/_order_shipments.html",
        {
            "order": order,
            "order_shipments": shipments_for_order(order, scope_for_user(customer_a_user)),
            "is_staff_user": False,
        },
    )
    assert "Main carriage" in html
    assert "/planning/" not in html
