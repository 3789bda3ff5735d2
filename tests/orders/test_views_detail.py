"""The order detail page and its transition buttons: allowed, forbidden, stale pages, races, htmx."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import oms_datetime
from orders import services, views
from orders.models import Channel, OrderStatus, OrderTransition
from partners.scoping import scope_for_user
from tests.tracking.conftest import make_order, ops_scope

__all__ = ["make_order", "ops_scope"]

DG_LINE = {
    "pieces": 4, "package_type": "DR", "gross_weight_kg": "800", "description": "Paint", "un_number": "1263",
    "dg_class": "3", "packing_group": "II",
}  # fmt: skip


def detail(order) -> str:
    return reverse("orders:detail", args=[order.reference])


def transition(order, name: str) -> str:
    return reverse("orders:transition", args=[order.reference, name])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def ops(login, ops_user):
    return login(ops_user)


def test_detail_shows_header_parties_cargo_equipment_totals_and_history(ops, order_factory, order_data):
    lines = [*order_data()["lines"], DG_LINE]
    order = order_factory(
        customer_reference="PO-DETAIL", shipper_address="Pudong Ave 1\nShanghai", notify_name="Notify GmbH",
        declared_value="12500", currency="EUR", special_instructions="Keep dry.", lines=lines,
    )  # fmt: skip
    response = ops.get(detail(order))
    page = response.content.decode()
    assert response.status_code == 200
    for text in (
        order.reference, "PO-DETAIL", "Acme Industrial", "Ocean FCL", "FOB", "Standard", "CN SHA", "DE HAM",
        "Shanghai Bright Lighting Co.", "Pudong Ave 1", "Notify GmbH",  # parties with addresses
        "LED lamps", "940542", "UN 1263 · class 3 · PG II",  # cargo with DG
        "CSQU3054383", "45G1", "40&#x27; high cube", "SEAL123",  # equipment
        "4,200.5", "5,000.5", "12,500.00 EUR", "Keep dry.",  # totals, value, instructions
        "Created as draft", "ops@oms.test", "Staff screen",  # history
    ):  # fmt: skip
        assert text in page, text
    assert "Chargeable weight" in page


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [("1500000", "JPY", "1,500,000 JPY"), ("1234.56", "KWD", "1,234.560 KWD"), ("85250", "USD", "85,250.00 USD")],
)
def test_the_declared_value_is_shown_to_its_currencys_minor_unit(
    login, sales_user, order_factory, value, currency, shown
):
    """DOMAIN.md §2.6: yen have no minor unit and the dinar has three decimals; the customs value on the documents
    is read from this card, so "1,500,000.00 JPY" is a wrong figure, not a style."""
    order = order_factory(declared_value=value, currency=currency)
    page = login(sales_user).get(detail(order)).content.decode()
    assert f"<dt>Declared value</dt><dd>{shown}</dd>" in page


def test_detail_offers_exactly_the_transitions_the_lifecycle_gives(ops, order_factory, login, finance_user):
    from orders import lifecycle

    order = order_factory()
    page = ops.get(detail(order)).content.decode()
    offered = lifecycle.available_transitions(order, scope_for_user(order.created_by))
    for t in offered:
        assert f'action="{transition(order, t["name"])}"' in page
    assert {t["name"] for t in offered} == {"submit", "cancel"}
    finance_page = login(finance_user).get(detail(order)).content.decode()
    assert transition(order, "submit") not in finance_page
    assert "Edit draft" not in finance_page


def test_a_blocked_transition_is_a_disabled_button_with_its_reason(ops, order_factory, monkeypatch):
    from orders import lifecycle

    monkeypatch.setitem(lifecycle._guards, "submit", [lambda order: "The customer's credit check is pending."])
    order = order_factory()
    page = ops.get(detail(order)).content.decode()
    assert "disabled" in page
    assert "The customer&#x27;s credit check is pending." in page


def test_detail_queries_do_not_grow_with_lines_or_history(ops, order_factory, order_data):
    small = order_factory()
    big = order_factory(lines=[dict(order_data()["lines"][0], container_number="") for _ in range(12)])
    for day in range(2, 6):
        data = services.order_as_data(big)
        data["requested_pickup_on"] = f"2026-12-{day:02d}"
        services.order_update(order=big, data=data, scope=scope_for_user(big.created_by), channel=Channel.SCREEN)
    counts = []
    for order in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert ops.get(detail(order)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_detail_query_count_is_bounded(ops, order_factory, django_assert_max_num_queries):
    order = order_factory()
    with django_assert_max_num_queries(20):
        ops.get(detail(order))


def test_unknown_reference_is_404(ops, locations):
    assert ops.get(reverse("orders:detail", args=["HAM-26-999999"])).status_code == 404


# --- Transitions -------------------------------------------------------------------------------


def test_submit(ops, order_factory):
    order = order_factory()
    response = ops.post(transition(order, "submit"), {"seen_status": "draft"})
    order.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == detail(order)
    assert order.status == OrderStatus.SUBMITTED
    assert OrderTransition.objects.get(order=order).channel == Channel.SCREEN
    assert messages_of(response) == [f"{order.reference} is now submitted."]


def test_cancel_needs_a_reason(ops, order_factory):
    order = order_factory()
    response = ops.post(transition(order, "cancel"), {"seen_status": "draft", "reason": "  "})
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT
    assert messages_of(response) == ["Say why, so the team and the customer know."]

    ops.post(transition(order, "cancel"), {"seen_status": "draft", "reason": "Customer withdrew"})
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "Customer withdrew")


def test_a_transition_the_role_may_not_take_is_refused(login, finance_user, order_factory):
    order = order_factory()
    response = login(finance_user).post(transition(order, "submit"), {"seen_status": "draft"})
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT
    assert messages_of(response) == ["Your role may not submit orders."]


def test_a_transition_from_the_wrong_state_is_refused(ops, order_factory):
    order = order_factory(submit=True)
    response = ops.post(transition(order, "submit"), {})
    assert "cannot be submitted" in messages_of(response)[0]
    assert OrderTransition.objects.filter(order=order).count() == 1


def test_a_page_older_than_the_order_cannot_win(ops, order_factory):
    order = order_factory()
    ops.post(transition(order, "cancel"), {"seen_status": "draft", "reason": "Duplicate"})  # someone else
    response = ops.post(transition(order, "submit"), {"seen_status": "draft"})  # the stale page
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert messages_of(response)[-1] == "The order changed meanwhile: it is now cancelled. Reload it and try again."


def test_a_lost_race_between_reading_and_locking_is_a_concurrent_change(ops, order_factory, monkeypatch):
    order = order_factory()
    stale = views.selectors.order_get_for(scope=scope_for_user(order.created_by), reference=order.reference)
    services.order_submit(order=order, scope=scope_for_user(order.created_by), channel=Channel.API)
    monkeypatch.setattr(views.selectors, "order_get_for", lambda **kwargs: stale)

    response = ops.post(transition(order, "cancel"), {"reason": "Too late"})

    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert messages_of(response) == ["The order changed meanwhile: it is now submitted. Reload it and try again."]


def test_other_lifecycle_transitions_go_through_the_generic_service(ops, order_factory):
    order = order_factory(submit=True)
    ops.post(transition(order, "hold"), {"seen_status": "submitted", "reason": "Credit check"})
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    assert OrderTransition.objects.filter(order=order, name="hold").get().reason == "Credit check"


def test_htmx_transition_returns_the_status_panel_and_refreshes_the_rest_out_of_band(ops, order_factory):
    order = order_factory()
    response = ops.post(transition(order, "submit"), {"seen_status": "draft"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section class="card oms-status-panel" id="status-panel"')
    assert "<html" not in page
    assert 'id="oms-messages" class="oms-messages" aria-live="polite" hx-swap-oob="true"' in page
    assert f"{order.reference} is now submitted." in page
    assert 'id="order-history" aria-labelledby="sec-history" hx-swap-oob="true"' in page
    assert 'id="order-status-badge" hx-swap-oob="true">Submitted<' in page
    assert "HX-Request" in response["Vary"]


def test_transitions_are_post_only_and_known(ops, order_factory):
    order = order_factory()
    assert ops.get(transition(order, "submit")).status_code == 405
    assert ops.post(transition(order, "teleport"), {}).status_code == 404


def test_the_page_of_an_order_runs_on_its_branchs_clock(ops, order_factory, branch):
    """As its tracking card and shipments do: a Shanghai order's page is read in Shanghai, and says so."""
    import datetime
    import zoneinfo

    from orders.models import Order

    branch.time_zone = "Asia/Shanghai"
    branch.save(update_fields=["time_zone"])
    order = order_factory(customer_reference="PO-CLOCK")
    created = datetime.datetime(2026, 12, 4, 18, 30, tzinfo=datetime.UTC)
    Order.objects.filter(pk=order.pk).update(created_at=created)

    page = ops.get(detail(order)).content.decode()

    assert "times in Asia/Shanghai" in page
    assert oms_datetime(created.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai"))) in page  # 5 Dec, 02:30 in 2026


def test_a_lines_dimensions_sit_under_its_goods_so_the_cargo_table_fits_the_page(ops, order_factory, order_data):
    """The cargo table gave dimensions a column of their own, a row of "—" on most orders, and needed 677 px of the
    664 px the main column has at 1280 px: it scrolled sideways with its DG column cut off."""
    measured = {**order_data()["lines"][0], "length_cm": "120", "width_cm": "100", "height_cm": "120.5"}
    order = order_factory(lines=[measured, {"pieces": 1, "gross_weight_kg": "5", "description": "Parts"}])

    page = ops.get(detail(order)).content.decode()
    cargo = page.split('id="sec-cargo"', 1)[1].split("</table>", 1)[0]
    headers = re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", cargo.split("</thead>", 1)[0])
    rows = re.findall(r"<tr>(.*?)</tr>", cargo.split("<tbody>", 1)[1].split("</tbody>", 1)[0], re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]

    assert "L×W×H cm" not in headers
    assert all(len(row) == len(headers) for row in cells)
    description = headers.index("Description")
    assert cells[0][description] == (
        'LED lamps<div class="small text-secondary tabular-nums" title="Length × width × height">120×100×120.5 cm</div>'
    )
    assert cells[1][description] == "Parts"
    hs_code = re.search(r'<td class="text-nowrap"><span class="oms-code">940542</span></td>', cargo)
    assert hs_code, "the HS code breaks like the description may"


def test_a_legs_planned_and_actual_times_take_a_line_each_on_the_orders_tracking_card(ops, make_order, ops_user):
    """The planned "30 Oct 19:00 → 4 Dec 19:00" and its actual twin, each kept on one line, made the legs table
    792 px wide in the 771 px of the order page's main column at 1440 px: the Actual column was cut mid-date."""
    import datetime

    from tracking.models import Leg
    from tracking.services import planning

    order = make_order()
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    departs = datetime.datetime(2026, 10, 30, 11, 0, tzinfo=datetime.UTC)
    Leg.objects.filter(shipment=master).update(
        planned_departure_at=departs, planned_arrival_at=departs + datetime.timedelta(days=35)
    )

    card = ops.get(reverse("tracking_ingest:order_timeline", args=[order.reference])).content.decode()
    legs = card.split('class="table table-sm mb-0 trk-legs', 1)[1].split("</table>", 1)[0]
    planned = re.findall(r"<td class=\"tabular-nums\"[^>]*>(.*?)</td>", legs, re.S)[0]

    departure, arrival = planned.split("<br>")
    assert departure == oms_datetime(timezone.localtime(departs))
    assert arrival == oms_datetime(timezone.localtime(departs + datetime.timedelta(days=35)))
    assert "→" not in planned
