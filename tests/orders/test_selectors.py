"""The order selectors: scoping, filters, search, sorting, keyset pagination, location search, history."""

from __future__ import annotations

import base64
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import history_entries, selectors, services
from orders.models import Channel, Order, OrderStatus
from orders.selectors import OrderFilters
from partners.models import OrganisationKind
from partners.scoping import scope_for_user
from tests.factories import OrganisationFactory

AIR_LINE = {"pieces": 3, "package_type": "CT", "gross_weight_kg": "120", "volume_m3": "1.2", "description": "Phones"}
ROAD_LINE = {"pieces": 10, "package_type": "PX", "gross_weight_kg": "5000", "description": "Beverages"}


@pytest.fixture
def staff(ops_user):
    return scope_for_user(ops_user)


@pytest.fixture
def sha_branch(company):
    return OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH], parent=company)


@pytest.fixture
def mixed_orders(order_factory, customer_b, sha_branch):
    """Three orders across customers, modes, branches, lanes, states and dates."""
    fcl = order_factory(customer_reference="ACM-FCL-1", requested_pickup_on="2026-12-01")
    air = order_factory(
        customer_reference="ACM-AIR-2", mode="air", incoterm="FCA", origin="DEFRA", destination="USNYC",
        requested_pickup_on="2026-11-10", requested_delivery_on="2026-11-12", lines=[AIR_LINE],
        shipper_name="Frankfurt Medical GmbH", submit=True,
    )  # fmt: skip
    road = order_factory(
        customer_code="GLOBEX", customer_reference="GLO-ROAD-3", branch_code="SHA", mode="road_ftl",
        incoterm="DAP", origin="DEHAM", destination="PLWAW", requested_pickup_on="2026-12-20",
        requested_delivery_on="2026-12-22", lines=[ROAD_LINE], consignee_name="Warszawa Napoje", submit=True,
    )  # fmt: skip
    return fcl, air, road


def refs(page) -> list[str]:
    return [order.customer_reference for order in page]


def list_for(scope, **filters) -> list[str]:
    return refs(selectors.order_list_for(scope=scope, filters=OrderFilters(**filters)))


# --- Scoping -----------------------------------------------------------------------------------


def test_staff_see_every_order_newest_first(staff, mixed_orders):
    assert list_for(staff) == ["GLO-ROAD-3", "ACM-AIR-2", "ACM-FCL-1"]


def test_a_customer_sees_only_its_own_orders(customer_a_user, customer_b_user, mixed_orders):
    assert list_for(scope_for_user(customer_a_user)) == ["ACM-AIR-2", "ACM-FCL-1"]
    assert list_for(scope_for_user(customer_b_user)) == ["GLO-ROAD-3"]


def test_partners_and_outsiders_see_no_orders_yet(carrier_user, outsider, mixed_orders):
    assert list_for(scope_for_user(carrier_user)) == []
    assert list_for(scope_for_user(outsider)) == []


def test_order_get_for_is_404_for_another_customers_order(customer_b_user, mixed_orders):
    from django.http import Http404

    fcl, _, road = mixed_orders
    scope = scope_for_user(customer_b_user)
    assert selectors.order_get_for(scope=scope, reference=road.reference.lower()) == road
    with pytest.raises(Http404):
        selectors.order_get_for(scope=scope, reference=fcl.reference)


# --- Filters and search ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "submitted"}, ["GLO-ROAD-3", "ACM-AIR-2"]),
        ({"status": "draft"}, ["ACM-FCL-1"]),
        ({"customer": "acme"}, ["ACM-AIR-2", "ACM-FCL-1"]),
        ({"customer": "NOBODY"}, []),
        ({"mode": "air"}, ["ACM-AIR-2"]),
        ({"branch": "SHA"}, ["GLO-ROAD-3"]),
        ({"origin": "DEHAM"}, ["GLO-ROAD-3"]),
        ({"destination": "de ham"}, ["ACM-FCL-1"]),
        ({"origin": "DEFRA", "destination": "USNYC"}, ["ACM-AIR-2"]),
        ({"pickup_from": datetime.date(2026, 12, 1)}, ["GLO-ROAD-3", "ACM-FCL-1"]),
        ({"pickup_to": datetime.date(2026, 12, 1)}, ["ACM-AIR-2", "ACM-FCL-1"]),
        ({"status": "submitted", "customer": "ACME"}, ["ACM-AIR-2"]),
    ],
)
def test_filters(staff, mixed_orders, filters, expected):
    assert list_for(staff, **filters) == expected


def test_created_date_range_covers_whole_days(staff, mixed_orders):
    fcl, air, _ = mixed_orders
    local = timezone.get_current_timezone()
    Order.objects.filter(pk=fcl.pk).update(created_at=datetime.datetime(2026, 3, 1, 23, 59, tzinfo=local))
    Order.objects.filter(pk=air.pk).update(created_at=datetime.datetime(2026, 3, 2, 0, 0, tzinfo=local))
    day = datetime.date(2026, 3, 1)
    assert list_for(staff, created_from=day, created_to=day) == ["ACM-FCL-1"]
    assert list_for(staff, created_from=day + datetime.timedelta(days=1)) == ["GLO-ROAD-3", "ACM-AIR-2"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Warszawa", ["GLO-ROAD-3"]),  # a party
        ("phones", ["ACM-AIR-2"]),  # goods on a line
        ("ACM-AIR-2", ["ACM-AIR-2"]),  # the customer's reference
        ("CSQU3054383", ["ACM-FCL-1"]),  # a container number
        ("globex", ["GLO-ROAD-3"]),  # the customer's code
        ("nothing-like-this", []),
    ],
)
def test_full_text_search(staff, mixed_orders, query, expected):
    assert list_for(staff, q=query) == expected


def test_a_query_that_looks_like_our_reference_matches_it_exactly(staff, mixed_orders):
    _, air, _ = mixed_orders
    # Even when the search text does not know the order (e.g. rows loaded in bulk without it).
    Order.objects.filter(pk=air.pk).update(search_text="")
    assert list_for(staff, q=air.reference.lower()) == ["ACM-AIR-2"]


def test_search_combines_with_filters(staff, mixed_orders):
    assert list_for(staff, q="acme", status="draft") == ["ACM-FCL-1"]


# --- Sorting and keyset pagination -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-created", ["GLO-ROAD-3", "ACM-AIR-2", "ACM-FCL-1"]),
        ("created", ["ACM-FCL-1", "ACM-AIR-2", "GLO-ROAD-3"]),
        ("pickup", ["ACM-AIR-2", "ACM-FCL-1", "GLO-ROAD-3"]),
        ("-pickup", ["GLO-ROAD-3", "ACM-FCL-1", "ACM-AIR-2"]),
        ("customer", ["ACM-AIR-2", "ACM-FCL-1", "GLO-ROAD-3"]),  # code A–Z, newest first within
        ("-customer", ["GLO-ROAD-3", "ACM-AIR-2", "ACM-FCL-1"]),
        ("no-such-sort", ["GLO-ROAD-3", "ACM-AIR-2", "ACM-FCL-1"]),
    ],
)
def test_sorts(staff, mixed_orders, sort, expected):
    assert list_for(staff, sort=sort) == expected


def test_reference_sort(staff, mixed_orders):
    by_reference = sorted(mixed_orders, key=lambda o: o.reference)
    assert list_for(staff, sort="reference") == [o.customer_reference for o in by_reference]
    assert list_for(staff, sort="-reference") == [o.customer_reference for o in reversed(by_reference)]


@pytest.fixture
def many_orders(order_factory):
    """31 orders, a third of them created at the very same instant, so only the id tells them apart."""
    orders = [order_factory(requested_pickup_on=f"2026-12-{1 + n % 5:02d}") for n in range(31)]
    same = timezone.now()
    Order.objects.filter(pk__in=[o.pk for o in orders[5:15]]).update(created_at=same)
    return orders


def walk(scope, *, sort: str, page_size: int = 25) -> tuple[list[int], list[selectors.OrderPage]]:
    """Follow the next links to the end; return every id seen and the pages."""
    seen, pages, cursor = [], [], ""
    while True:
        page = selectors.order_list_for(
            scope=scope, filters=OrderFilters(sort=sort, cursor=cursor, page_size=page_size)
        )
        pages.append(page)
        seen += [o.pk for o in page]
        if not page.next_cursor:
            return seen, pages
        cursor = page.next_cursor


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_keyset_pages_neither_repeat_nor_skip_rows(staff, many_orders, sort):
    seen, pages = walk(staff, sort=sort)
    assert len(seen) == len(set(seen)) == 31
    expected = list(
        selectors.order_queryset_for(scope=staff, filters=OrderFilters(sort=sort)).values_list("pk", flat=True)
    )
    assert seen == expected
    assert [len(p) for p in pages] == [25, 6]
    assert pages[0].previous_cursor is None
    assert pages[0].is_first
    assert pages[1].next_cursor is None
    assert not pages[1].is_first


def test_previous_cursor_goes_back_to_the_same_page(staff, many_orders):
    first = selectors.order_list_for(scope=staff, filters=OrderFilters(page_size=25))
    second = selectors.order_list_for(scope=staff, filters=OrderFilters(page_size=25, cursor=first.next_cursor))
    back = selectors.order_list_for(scope=staff, filters=OrderFilters(page_size=25, cursor=second.previous_cursor))
    assert [o.pk for o in back] == [o.pk for o in first]
    assert back.is_first
    assert back.previous_cursor is None
    assert back.next_cursor is not None


def test_a_cursor_from_another_sort_or_tampered_starts_over(staff, many_orders):
    first = selectors.order_list_for(scope=staff, filters=OrderFilters())
    wrong_types = base64.urlsafe_b64encode(b'{"s":"pickup","d":"next","k":[1,2]}').decode()
    for cursor in (first.next_cursor, "not-base64!", wrong_types, first.next_cursor[:-4]):
        page = selectors.order_list_for(scope=staff, filters=OrderFilters(sort="pickup", cursor=cursor))
        assert page.is_first, cursor


def test_list_is_one_query_whatever_the_page_size(staff, many_orders):
    for size in (25, 100):
        with CaptureQueriesContext(connection) as queries:
            page = selectors.order_list_for(scope=staff, filters=OrderFilters(page_size=size))
            shown = [(o.customer.code, o.customer.name, o.origin.name, o.destination.name) for o in page]
        assert len(shown) == min(size, 31)
        assert len(queries) == 1, size


def test_list_reads_no_offset_and_no_count(staff, many_orders):
    first = selectors.order_list_for(scope=staff, filters=OrderFilters())
    with CaptureQueriesContext(connection) as queries:
        selectors.order_list_for(scope=staff, filters=OrderFilters(cursor=first.next_cursor))
    sql = queries[0]["sql"].upper()
    assert "OFFSET" not in sql
    assert "COUNT(" not in sql
    assert '("ORDERS_ORDER"."CREATED_AT", "ORDERS_ORDER"."ID") <' in sql  # a row comparison the index can seek


# --- Locations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "first"),
    [("DEHAM", "DEHAM"), ("de ham", "DEHAM"), ("hamburg", "DEHAM"), ("FRA", "DEFRA"), ("rotterdam", "NLRTM")],
)
def test_location_search_finds_by_code_iata_and_name(locations, query, first):
    found = selectors.location_search(query=query)
    assert found[0].code == first


def test_location_search_leaves_retired_codes_out(locations):
    from orders.models import Location

    Location.objects.filter(code="DEHAM").update(is_active=False)
    assert "DEHAM" not in [loc.code for loc in selectors.location_search(query="hamburg")]
    assert selectors.location_search(query="  ") == []


# --- History -----------------------------------------------------------------------------------


def test_history_tells_who_did_what_through_which_channel(staff, ops_user, sales_user, order_factory, order_data):
    order = order_factory(customer_reference="PO-H1")
    data = services.order_as_data(order)
    data["requested_pickup_on"] = "2026-12-03"
    data["lines"][0]["hs_code"] = "940360"
    order = services.order_update(
        order=order, data=data, scope=scope_for_user(sales_user), by=sales_user, channel=Channel.API
    )
    order = services.order_submit(order=order, scope=staff, by=ops_user, channel=Channel.SCREEN)
    services.order_cancel(order=order, scope=staff, by=ops_user, channel=Channel.SCREEN, reason="Customer withdrew")

    history = history_entries.order_history_for(order=selectors.order_get_for(scope=staff, reference=order.reference))

    assert [e.title for e in history] == ["Created as draft", "Edited", "Submitted", "Cancelled"]
    created, edited, submitted, cancelled = history
    assert (created.who, created.channel) == ("ops@oms.test", "Staff screen")
    assert created.notes == ["1 cargo line", "1 container"]
    assert (edited.who, edited.channel) == ("sales@oms.test", "API")
    changes = {c.label: (c.old, c.new) for c in edited.changes}
    assert changes["Requested pickup"] == ("2026-12-01", "2026-12-03")
    assert changes["Line 1 · HS code"] == ("940542", "940360")
    assert submitted.changes[0] == history_entries.Change("Status", "Draft", "Submitted")
    assert cancelled.reason == "Customer withdrew"


def test_history_titles_every_lifecycle_transition_in_the_past_tense(staff, ops_user, order_factory):
    order = order_factory(submit=True)
    order = services.order_transition(
        order=order, name="hold", scope=staff, by=ops_user, channel=Channel.SCREEN, reason="Credit check"
    )
    services.order_transition(order=order, name="release", scope=staff, by=ops_user, channel=Channel.SCREEN)
    history = history_entries.order_history_for(order=order)
    assert [e.title for e in history] == ["Created and submitted", "Put on hold", "Released"]
    assert history[1].reason == "Credit check"
    assert history[2].changes == [history_entries.Change("Status", "On hold", "Submitted")]


def test_history_shows_added_and_removed_lines(staff, order_factory):
    order = order_factory()
    data = services.order_as_data(order)
    data["lines"].append({"pieces": 2, "gross_weight_kg": "10", "description": "Spare bulbs", "package_type": "BX"})
    services.order_update(order=order, data=data, scope=staff, channel=Channel.SCREEN)
    data["lines"] = data["lines"][1:]
    services.order_update(order=order, data=data, scope=staff, channel=Channel.SCREEN)

    history = history_entries.order_history_for(order=order)

    assert history[1].notes == ["Line 2 added: 2 × BX Spare bulbs"]
    # The first line went; the spare bulbs, now line 1, are unchanged (lines are paired by what they hold).
    assert [c for c in history[2].changes if c.label.startswith("Line")] == []
    assert history_entries.Change("Pieces", "22", "2") in history[2].changes  # the order's totals
    assert history[2].notes == [
        "Line 1 removed: 20 × PX LED lamps",
        "Container CSQU3054383 removed: 45G1, seals SEAL123",
    ]


def test_removing_the_first_cargo_line_is_not_recorded_as_removing_the_line_that_stays(ops_user, order_factory):
    """Pumps and Valves; the clerk removes the pumps. Lines are rewritten on each save, and paired by position the
    history read "Line 1 · Description Pumps → Valves" and "Line 2 removed: ... Valves": the opposite of what
    happened, in the record a disputed order is checked against."""
    order = order_factory(
        lines=[
            {"pieces": 1, "gross_weight_kg": "10", "description": "Pumps"},
            {"pieces": 2, "gross_weight_kg": "20", "description": "Valves"},
        ]
    )
    data = services.order_as_data(order)
    data["lines"] = data["lines"][1:]  # Pumps removed, Valves kept
    services.order_update(order=order, data=data, scope=scope_for_user(ops_user), by=ops_user, channel=Channel.SCREEN)

    edit = history_entries.order_history_for(order=order)[-1]

    assert edit.notes == ["Line 1 removed: 1 × PK Pumps"]
    assert [c for c in edit.changes if c.label.startswith("Line")] == []


def test_a_line_removed_while_another_changes_names_each_rightly(ops_user, order_factory):
    order = order_factory(
        lines=[
            {"pieces": 1, "gross_weight_kg": "10", "description": "Pumps"},
            {"pieces": 2, "gross_weight_kg": "20", "description": "Valves"},
        ]
    )
    data = services.order_as_data(order)
    data["lines"] = [data["lines"][1] | {"description": "Valve sets"}]
    services.order_update(order=order, data=data, scope=scope_for_user(ops_user), by=ops_user, channel=Channel.SCREEN)

    edit = history_entries.order_history_for(order=order)[-1]

    assert edit.notes == ["Line 1 removed: 1 × PK Pumps"]
    assert history_entries.Change("Line 1 (was 2) · Description", "Valves", "Valve sets") in edit.changes


def test_a_line_edited_in_place_is_one_line_changed(ops_user, order_factory):
    order = order_factory(lines=[{"pieces": 1, "gross_weight_kg": "10", "description": "Pumps"}])
    data = services.order_as_data(order)
    data["lines"][0] |= {"pieces": 3, "gross_weight_kg": "30"}
    services.order_update(order=order, data=data, scope=scope_for_user(ops_user), by=ops_user, channel=Channel.SCREEN)

    edit = history_entries.order_history_for(order=order)[-1]

    assert edit.notes == []
    changes = {c.label: (c.old, c.new) for c in edit.changes}
    assert changes["Line 1 · Pieces"] == ("1", "3")
    assert changes["Line 1 · Gross weight"] == ("10 kg", "30 kg")


def test_a_line_replaced_by_other_goods_is_told_as_removed_and_added(ops_user, order_factory):
    order = order_factory(lines=[{"pieces": 1, "gross_weight_kg": "10", "description": "Pumps"}])
    data = services.order_as_data(order)
    data["lines"] = [{"pieces": 5, "gross_weight_kg": "50", "description": "Bolts", "package_type": "PK"}]
    services.order_update(order=order, data=data, scope=scope_for_user(ops_user), by=ops_user, channel=Channel.SCREEN)

    edit = history_entries.order_history_for(order=order)[-1]

    assert edit.notes == ["Line 1 removed: 1 × PK Pumps", "Line 1 added: 5 × PK Bolts"]


def test_history_shows_quantities_and_money_as_the_rest_of_the_page_does(staff, order_factory):
    order = order_factory(
        lines=[{"pieces": 1200, "gross_weight_kg": "7320", "volume_m3": "12.5", "description": "Lamps"}]
    )
    data = services.order_as_data(order)
    data["lines"][0] |= {"gross_weight_kg": "7325.5", "volume_m3": None, "length_cm": "120"}
    data |= {"declared_value": "1234567.89", "currency": "USD"}
    services.order_update(order=order, data=data, scope=staff, channel=Channel.SCREEN)

    changes = {c.label: (c.old, c.new) for c in history_entries.order_history_for(order=order)[-1].changes}

    assert changes["Gross weight"] == ("7,320 kg", "7,325.5 kg")
    assert changes["Volume"] == ("12.5 m³", "—")
    assert changes["Declared value"] == ("—", "1,234,567.89 USD")
    assert changes["Line 1 · Gross weight"] == ("7,320 kg", "7,325.5 kg")
    assert changes["Line 1 · Length"] == ("—", "120 cm")


def test_history_names_an_api_key_when_one_acted(staff, order_factory, branch):
    from partners import services as partner_services

    key, _ = partner_services.api_key_create(organisation=branch, name="Hamburg ERP")
    order = order_factory()
    services.order_submit(order=order, scope=staff, api_key=key, channel=Channel.API)
    history = history_entries.order_history_for(order=order)
    assert (history[-1].title, history[-1].who, history[-1].channel) == ("Submitted", "API key “Hamburg ERP”", "API")


def test_history_costs_a_fixed_number_of_queries(staff, order_factory):
    order = order_factory()
    for day in range(2, 6):
        data = services.order_as_data(order)
        data["requested_pickup_on"] = f"2026-12-{day:02d}"
        services.order_update(order=order, data=data, scope=staff, channel=Channel.SCREEN)
    order = selectors.order_get_for(scope=staff, reference=order.reference)
    with CaptureQueriesContext(connection) as queries:
        history = history_entries.order_history_for(order=order)
    assert len(history) == 5
    assert len(queries) <= 2  # the events, and the people named in their contexts


def test_statuses_offered_by_the_filter_are_the_lifecycle_states():
    from orders.forms import OrderFilterForm

    offered = [value for value, _ in OrderFilterForm().fields["status"].choices if value]  # type: ignore[attr-defined]  # a ChoiceField
    assert offered == list(OrderStatus.values)
