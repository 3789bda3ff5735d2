"""The state a customer reads and filters her orders by says where the goods are, as the tracking link she sends
(tracking/ingest/goods.py; docs/tracking-events.md "The public link's state says where the goods are"): a held order, or
one a workflow task keeps behind its milestones, is on the way once its vessel sailed, in her list and its filter.
Review F, defect 2."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from orders import services as order_services
from orders.models import Channel, Order, OrderStatus
from portal.links import tracking_link_create
from tests.portal.test_public_tracking_state import _record
from tests.tracking.conftest import make_order, ocean_carriers, ops_scope
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import BILL, ETD, NOW, oms_event
from tracking.ingest import selectors as tracking_selectors
from tracking.ingest.goods import annotated_goods_status, goods_status, with_goods_step

pytestmark = pytest.mark.usefixtures("fresh_rate_window")

__all__ = ["make_order", "ocean_carriers", "ops_scope"]

H = datetime.timedelta(hours=1)


def _listed(client, state: str) -> list[str]:
    return [order.reference for order in client.get(reverse("portal:orders"), {"state": state}).context["page"]]


def _agrees_with_the_timeline(order: Order) -> str:
    """The list's state (SQL) and the public page's (from the timeline) for `order`: asserted equal, returned."""
    annotated = annotated_goods_status(with_goods_step(Order.objects.filter(pk=order.pk)).get())
    timeline = tracking_selectors.order_timeline(order=order, customer_safe=True)
    assert annotated == goods_status(order, timeline.milestone_status)
    return annotated


def test_a_held_order_whose_vessel_arrived_is_on_the_way_in_her_list_as_on_the_link_she_sent(
    booked_fcl, ops_user, ops_scope, login, customer_a_user
):
    """We hold her order (a claim, a billing query); meanwhile the vessel sails and arrives. The link she sent says
    "Arrived"; her list filed the order under "In progress" (its state before the hold) and its badge said "On
    hold"."""
    order, _master = booked_fcl
    order_services.order_transition(order=order, name="hold", scope=ops_scope, channel=Channel.SCREEN, by=ops_user,
                                    reason="Billing query.")  # fmt: skip
    _record(oms_event("DEPARTED", ETD, subject=("bill", BILL), place="CNSHA"),
            oms_event("ARRIVED", NOW - 2 * H, subject=("bill", BILL), place="DEHAM"))  # fmt: skip
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.status_before_hold) == (OrderStatus.ON_HOLD, OrderStatus.PLANNED)
    client = login(customer_a_user)
    _link, token = tracking_link_create(order=order, by=customer_a_user)
    assert client.get(reverse("public_tracking", args=[token])).context["state"] == "Arrived"

    assert order.reference in _listed(client, "moving")
    assert order.reference not in _listed(client, "open")
    assert _agrees_with_the_timeline(order) == OrderStatus.ARRIVED
    row = next(o for o in client.get(reverse("portal:orders")).context["page"] if o.pk == order.pk)
    assert (row.goods_label, row.is_held) == ("Arrived", True)  # "On hold" only as the second mark
    page = client.get(reverse("portal:home")).content.decode()
    assert '<span class="oms-badge state-arrived">Arrived</span> <span class="oms-badge state-on_hold">On hold' in page


def test_an_order_a_task_keeps_behind_its_departure_is_on_the_way_in_her_list(booked_fcl, login, customer_a_user):
    """A workflow task kept the order at "Confirmed" while the vessel departed with it: the public page says "In
    transit" (test_public_tracking_state.py); her list filed it under "In progress" only."""
    order, _master = booked_fcl
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CONFIRMED)  # a blocking task kept it from "planned"
    _record(oms_event("DEPARTED", ETD, subject=("bill", BILL), place="CNSHA"))
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.CONFIRMED
    client = login(customer_a_user)

    assert order.reference in _listed(client, "moving")
    assert order.reference not in _listed(client, "open")
    assert _agrees_with_the_timeline(order) == OrderStatus.IN_TRANSIT


def test_the_state_follows_the_order_where_its_milestones_are_not_further(make_order, booked_fcl, ops_user, ops_scope):
    """No milestone yet, a cancelled order, a held one before it left: the order's own status (before the hold)."""
    planned, _master = booked_fcl
    submitted = make_order(confirm=False)
    held = order_services.order_transition(order=make_order(), name="hold", scope=ops_scope, channel=Channel.SCREEN,
                                           by=ops_user, reason="Billing query.")  # fmt: skip
    cancelled = order_services.order_transition(order=make_order(), name="cancel", scope=ops_scope,
                                                 channel=Channel.SCREEN, by=ops_user, reason="Not needed.")  # fmt: skip
    assert _agrees_with_the_timeline(Order.objects.get(pk=planned.pk)) == OrderStatus.PLANNED
    assert _agrees_with_the_timeline(submitted) == OrderStatus.SUBMITTED
    assert _agrees_with_the_timeline(Order.objects.get(pk=held.pk)) == OrderStatus.CONFIRMED
    assert _agrees_with_the_timeline(Order.objects.get(pk=cancelled.pk)) == OrderStatus.CANCELLED


def test_the_list_and_its_filter_stay_one_query_with_the_goods_state(
    booked_fcl, make_order, login, customer_a_user, django_assert_max_num_queries
):
    order, _master = booked_fcl
    _record(oms_event("DEPARTED", ETD, subject=("bill", BILL), place="CNSHA"))
    for _ in range(3):
        make_order()
    client = login(customer_a_user)
    with django_assert_max_num_queries(12):
        listed = client.get(reverse("portal:orders"))
    with django_assert_max_num_queries(12):
        moving = client.get(reverse("portal:orders"), {"state": "moving"})
    assert len(listed.context["page"]) == 4
    assert [o.reference for o in moving.context["page"]] == [order.reference]


def test_the_tracking_page_heading_says_where_the_goods_are_to_the_customer(
    booked_fcl, ops_user, ops_scope, login, customer_a_user
):
    """The heading of her tracking page agrees with her order list: the goods' state, the hold as a second mark.
    Staff read the order's own status there."""
    order, _master = booked_fcl
    order_services.order_transition(order=order, name="hold", scope=ops_scope, channel=Channel.SCREEN, by=ops_user,
                                    reason="Billing query.")  # fmt: skip
    _record(oms_event("DEPARTED", ETD, subject=("bill", BILL), place="CNSHA"))
    url = reverse("tracking_ingest:order_timeline", args=[order.reference])

    page = login(customer_a_user).get(url).content.decode()
    heading = page[page.index("<h1>") : page.index("</h1>")]
    assert '<span class="oms-badge state-in_transit">In transit</span>' in heading
    assert '<span class="oms-badge state-on_hold">On hold</span>' in heading

    page = login(ops_user).get(url).content.decode()
    heading = page[page.index("<h1>") : page.index("</h1>")]
    assert '<span class="oms-badge state-on_hold">On hold</span>' in heading
    assert "In transit" not in heading
