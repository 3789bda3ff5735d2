"""Duplicating an order: the entry form prefilled from it, for the same customer's next shipment. A named place
OMS derived for the source is derived again for the copy's term and lane; one someone typed is kept."""

from __future__ import annotations

from django.urls import reverse

from orders import services
from orders.models import Order
from tests.orders.test_views_edit_conflict import _FormReader


def duplicate_form(client, source: Order) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(client.get(reverse("orders:duplicate", args=[source.reference])).content.decode())
    return reader.values


def test_a_duplicated_order_on_another_lane_does_not_keep_the_source_orders_derived_named_place(
    login, ops_user, order_factory
):
    """FOB CNSHA → DEHAM, whose named place "Shanghai" OMS derived; the clerk duplicates it and changes the origin to
    Ningbo: the copy read "FOB Shanghai" from Ningbo, a wrong point of delivery on every document."""
    source = order_factory(submit=True)
    assert (source.incoterm, source.named_place) == ("FOB", "Shanghai")  # derived: nobody typed it
    ops = login(ops_user)
    form = duplicate_form(ops, source)
    assert form["named_place"] == ""  # left for intake to derive, as the placeholder says
    form |= {"origin": "CNNGB", "customer_reference": "PO-NEXT", "requested_pickup_on": "2026-12-08", "action": "draft"}

    assert ops.post(reverse("orders:new"), form).status_code == 302

    duplicate = Order.objects.get(customer_reference="PO-NEXT")
    assert (duplicate.origin_id, duplicate.named_place) == ("CNNGB", "Ningbo")


def test_a_duplicated_order_with_another_incoterm_gets_the_place_of_that_term(login, ops_user, order_factory):
    source = order_factory(submit=True)
    ops = login(ops_user)
    form = duplicate_form(ops, source) | {
        "incoterm": "DAP", "customer_reference": "PO-DAP", "requested_pickup_on": "2026-12-08", "action": "draft",
    }  # fmt: skip

    assert ops.post(reverse("orders:new"), form).status_code == 302

    assert Order.objects.get(customer_reference="PO-DAP").named_place == "Hamburg"


def test_a_named_place_someone_typed_is_duplicated_as_typed(ops_user, order_factory):
    source = order_factory(named_place="Yangshan Deep Water Port")
    assert services.order_duplicate_data(order=source)["named_place"] == "Yangshan Deep Water Port"
