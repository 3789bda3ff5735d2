"""The portal's lists: a customer's orders (search, state, pages; each opens its tracking timeline) and the legs a
partner carries (with the orders on them; open until the leg's arrival is recorded), each scoped to the viewer's
organisation, tested with two of each."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderStatus
from tests.conftest import _member
from tests.tracking.conftest import add_on_carriage, make_order, ops_scope
from tests.tracking.test_scoping import second_carrier, two_masters
from tracking.ingest import files
from tracking.models import LegRole, Shipment, ShipmentStatus
from tracking.services import leg_changes, planning

__all__ = ["make_order", "ops_scope", "second_carrier", "two_masters"]


def _timeline(order: Order) -> str:
    return reverse("tracking_ingest:order_timeline", args=[order.reference])


def _nav(response) -> list[str]:
    return [item["label"] for item in response.context["nav_items"]]


def test_a_customer_lists_finds_and_filters_only_its_own_orders(make_order, login, customer_a_user, customer_b_user):
    mine = [make_order(), make_order(confirm=False)]
    theirs = make_order(customer_code="GLOBEX")
    client = login(customer_a_user)

    page = client.get(reverse("portal:orders")).content.decode()
    assert all(_timeline(order) in page for order in mine)
    assert theirs.reference not in page

    found = client.get(reverse("portal:orders"), {"q": mine[0].customer_reference}).content.decode()
    assert _timeline(mine[0]) in found
    assert mine[1].reference not in found
    by_ours = client.get(reverse("portal:orders"), {"q": mine[1].reference.lower()}).content.decode()
    assert _timeline(mine[1]) in by_ours
    assert mine[0].reference not in by_ours
    guessed = client.get(reverse("portal:orders"), {"q": theirs.reference}).content.decode()
    assert _timeline(theirs) not in guessed
    assert "No order matches" in guessed

    assert mine[1].status == OrderStatus.SUBMITTED
    in_progress = client.get(reverse("portal:orders"), {"state": "open"}).content.decode()
    assert all(order.reference in in_progress for order in mine)
    assert "No order matches" in client.get(reverse("portal:orders"), {"state": "delivered"}).content.decode()

    assert client.get(_timeline(mine[0])).status_code == 200  # the link leads somewhere they may go
    assert client.get(_timeline(theirs)).status_code == 404
    assert _nav(client.get(_timeline(mine[0]))) == ["Overview", "Orders", "Imports"]

    client.force_login(customer_b_user)
    page = client.get(reverse("portal:orders")).content.decode()
    assert theirs.reference in page
    assert all(order.reference not in page for order in mine)


def test_the_order_list_pages_with_a_fixed_number_of_queries(
    make_order, login, customer_a_user, django_assert_max_num_queries
):
    orders = [make_order(confirm=False) for _ in range(3)]
    client = login(customer_a_user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("portal:orders"))
    assert response.status_code == 200
    assert [order.reference for order in response.context["page"]] == [order.reference for order in orders[::-1]]


def test_each_partner_lists_only_the_legs_it_carries_with_the_orders_on_them(
    two_masters, login, carrier_user, second_carrier, django_assert_max_num_queries
):
    master_a, master_b = two_masters
    on_a = [link.house.order for link in master_a.consolidated_houses.select_related("house__order")]
    on_b = master_b.legs.get().shipment
    client = login(carrier_user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("portal:shipments"))
    page = response.content.decode()
    assert master_a.reference in page
    assert master_b.reference not in page
    assert all(_timeline(order) in page for order in on_a)
    assert all(client.get(_timeline(order)).status_code == 200 for order in on_a)
    assert _nav(response) == ["Overview", "Shipments", "Milestone files"]

    home = client.get(reverse("portal:home")).content.decode()
    assert master_a.reference in home
    assert reverse("portal:shipments") in home

    other = _member("hanna@hlcu.test", second_carrier, "partner")
    client.force_login(other)
    page = client.get(reverse("portal:shipments")).content.decode()
    assert on_b.reference in page
    assert master_a.reference not in page
    assert all(order.reference not in page for order in on_a)
    found = client.get(reverse("portal:shipments"), {"q": master_a.reference}).content.decode()
    assert "No shipment you carry matches" in found
    assert (
        "No arrived, delivered or cancelled legs yet."
        in client.get(reverse("portal:shipments"), {"show": "done"}).content.decode()
    )


def test_partner_finds_consolidated_master_by_an_order_reference_it_lists(two_masters, login, carrier_user):
    master_a, _ = two_masters
    order = master_a.consolidated_houses.select_related("house__order").first().house.order
    client = login(carrier_user)
    listing = client.get(reverse("portal:shipments")).content.decode()
    assert order.reference in listing  # the list shows the order on the master's row
    for query in (order.reference, order.customer_reference):
        found = client.get(reverse("portal:shipments"), {"q": query})
        assert master_a.reference in found.content.decode(), f"searching by {query} shown on the row finds nothing"
    found = client.get(reverse("portal:shipments"), {"q": master_a.reference})  # joined to its two houses
    assert len(found.context["page"].object_list) == 1, "a master's leg is listed once per house"


@pytest.mark.parametrize(("who", "url"), [("customer_a_user", "portal:shipments"), ("carrier_user", "portal:orders")])
def test_each_list_is_for_its_own_audience(request, login, who, url):
    assert login(request.getfixturevalue(who)).get(reverse(url)).status_code == 403


def test_strangers_see_neither(login, outsider):
    client = login(outsider)
    assert client.get(reverse("portal:orders")).status_code == 403
    assert client.get(reverse("portal:shipments")).status_code == 403


def test_a_leg_whose_arrival_is_recorded_is_done_for_its_carrier(two_masters, login, carrier_user, carrier):
    """Review A, defect 4: the partner's lists went by the shipment's status, so a finished pre-carriage (the box at
    the port) stayed under "Your next legs" and "Open" for the whole voyage, and the next pickups fell off the card."""
    master_a, _ = two_masters
    now = timezone.now()
    pre = leg_changes.leg_add(shipment=master_a, data={"role": LegRole.PRE_CARRIAGE, "mode": "road_ftl",
                                                    "carrier_id": carrier.pk, "origin_id": "CNNGB",
                                                    "destination_id": "CNSHA"})  # fmt: skip
    leg_changes.leg_record_actual(leg=pre, departed_at=now - timedelta(days=2), arrived_at=now - timedelta(days=1))
    main = master_a.legs.get(role=LegRole.MAIN)
    leg_changes.leg_record_actual(leg=main, departed_at=now - timedelta(hours=5))
    client = login(carrier_user)

    home = client.get(reverse("portal:home"))
    open_legs = client.get(reverse("portal:shipments"))
    done = client.get(reverse("portal:shipments"), {"show": "done"})

    assert [leg.pk for leg in home.context["legs"]] == [main.pk]
    assert [leg.pk for leg in open_legs.context["page"]] == [main.pk]
    assert [leg.pk for leg in done.context["page"]] == [pre.pk]
    assert "Arrived, delivered or cancelled" in done.content.decode()


def _status_of(page: str, reference: str, route: str) -> str:
    """The Status badge of the row of `reference` whose route reads `route` (e.g. "CNNGB → CNSHA")."""
    row = next(row for row in page.split("<tr>") if reference in row and route in row)
    return row.split('class="oms-badge', 1)[1].split(">", 1)[1].split("<", 1)[0]


def test_each_leg_row_says_how_far_that_leg_got(two_masters, login, carrier_user, carrier):
    """Review H, defect 5: the Status column showed the master's status, so a pre-carriage finished at the port read
    "In transit" under "Arrived, delivered or cancelled" (the master went in transit with the pickup). Each row says
    the leg's own state: Planned, Departed, Arrived; or its shipment's end, Delivered or Cancelled."""
    master_a, _ = two_masters
    now = timezone.now()
    pre = leg_changes.leg_add(shipment=master_a, data={"role": LegRole.PRE_CARRIAGE, "mode": "road_ftl",
                                                    "carrier_id": carrier.pk, "origin_id": "CNNGB",
                                                    "destination_id": "CNSHA"})  # fmt: skip
    leg_changes.leg_record_actual(leg=pre, departed_at=now - timedelta(days=2), arrived_at=now - timedelta(days=1))
    add_on_carriage(master_a, carrier.pk)
    client = login(carrier_user)

    done = client.get(reverse("portal:shipments"), {"show": "done"}).content.decode()
    assert _status_of(done, master_a.reference, "CNNGB → CNSHA") == "Arrived"
    assert "In transit" not in done
    open_legs = client.get(reverse("portal:shipments")).content.decode()
    assert _status_of(open_legs, master_a.reference, "CNSHA → DEHAM") == "Planned"
    assert _status_of(open_legs, master_a.reference, "DEHAM → PLWAW") == "Planned"

    leg_changes.leg_record_actual(leg=master_a.legs.get(role=LegRole.MAIN), departed_at=now - timedelta(hours=5))
    home = client.get(reverse("portal:home")).content.decode()
    assert _status_of(home, master_a.reference, "CNSHA → DEHAM") == "Departed"

    leg_changes.shipment_set_status(shipment=master_a, status=ShipmentStatus.DELIVERED)
    done = client.get(reverse("portal:shipments"), {"show": "done"}).content.decode()
    assert {_status_of(done, master_a.reference, route) for route in ("CNNGB → CNSHA", "CNSHA → DEHAM")} == {
        "Delivered"
    }


def test_next_legs_come_by_upcoming_departure_those_without_a_plan_last(two_masters, login, carrier_user, carrier):
    master_a, _ = two_masters
    main = master_a.legs.get(role=LegRole.MAIN)
    soon = timezone.now() + timedelta(days=1)
    data = {"role": LegRole.ON_CARRIAGE, "mode": "road_ftl", "carrier_id": carrier.pk, "origin_id": "DEHAM",
            "destination_id": "PLWAW", "planned_departure_at": soon}  # fmt: skip
    later = leg_changes.leg_add(shipment=master_a, data=data)
    home = login(carrier_user).get(reverse("portal:home"))
    assert [leg.pk for leg in home.context["legs"]] == [later.pk, main.pk]


@pytest.mark.parametrize(("who", "url"), [("carrier_user", "portal:shipments"), ("customer_a_user", "portal:orders")])
def test_a_nul_in_a_portal_search_finds_nothing_instead_of_failing(request, two_masters, login, who, url):
    """Review A, defect 6: a reference pasted from a scanner or a PDF can carry a NUL, which PostgreSQL refuses in a
    query: the portal's searches answered 500 where the staff search drops it (orders.selectors.search_text)."""
    client = login(request.getfixturevalue(who))
    response = client.get(reverse(url), {"q": "MAEU262000001\x00"})
    assert response.status_code == 200
    assert "MAEU262000001" in response.content.decode()  # quoted back without the NUL


def test_a_leg_without_its_own_carrier_is_listed_for_the_shipments_carrier(
    make_order, ops_user, login, carrier, carrier_user, django_assert_max_num_queries
):
    """Review B: a booked master (Nordtruck the carrier of the shipment and of its main leg) got an on-carriage
    without a carrier of its own. By the product's rule ("who carries a leg: its own carrier, else the shipment's",
    docs/tracking-events.md) Nordtruck carries it, and its milestone file reporting the delivery run was accepted;
    but its portal listed only the legs naming Nordtruck themselves, so the leg it had to run was under neither
    "Shipments you carry" nor "Your next legs"."""
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    Shipment.objects.filter(pk=master.pk).update(carrier=carrier)  # as a confirmed booking leaves it
    main = leg_changes.leg_update(leg=master.legs.get(), data={"carrier_id": carrier.pk})
    on_carriage = leg_changes.leg_add(shipment=master, data={"role": LegRole.ON_CARRIAGE, "mode": "road_ftl",
                                                          "origin_id": "DEHAM", "destination_id": "PLWAW"})  # fmt: skip
    at = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    rows = f"reference,milestone,occurred_at,location\r\n{master.reference},OUT_FOR_DELIVERY,{at},DEHAM\r\n"
    upload = files.upload_process(stream=io.BytesIO(rows.encode()), file_name="m.csv", by=carrier_user,
                                  partner=carrier, time_zone="UTC")  # fmt: skip
    assert (upload.error_count, upload.events_stored) == (0, 1), upload.errors  # ingest: Nordtruck's leg
    client = login(carrier_user)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("portal:shipments"))
    home = client.get(reverse("portal:home"))

    assert [leg.pk for leg in response.context["page"]] == [main.pk, on_carriage.pk]
    assert [leg.pk for leg in home.context["legs"]] == [main.pk, on_carriage.pk]
    assert "DEHAM → PLWAW" in response.content.decode()
