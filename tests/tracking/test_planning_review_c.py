"""Planning refusals that review C found naming houses that were never made: a house made for the attempt (from a
ticked or chosen order) is rolled back with the refusal, so the refusal names its order (docs/planning.md, "A
refusal names what the planner picked")."""

import re

import pytest
from django.urls import reverse

from tests.tracking.test_planning_review_b import booked_acme_master, dg_line  # noqa: F401 - a fixture
from tracking.errors import PlanningError
from tracking.models import CarrierPreference, PreferenceKind, Shipment
from tracking.services import consolidation, planning


def _houses_named(message: str) -> list[str]:
    return re.findall(r"\bH-[A-Z]+-\d{2}-\d{6}\b", message)


def _message(response) -> str:
    return next(str(message) for message in response.context["messages"])


def test_a_consolidation_refused_for_dangerous_goods_names_the_orders_ticked(login, make_order, ops_user):
    """Planning → tick detonating cord and ammonium nitrate → Consolidate: the refusal named H-… references of the
    houses it had just rolled back, which no search finds."""
    oxidiser = make_order(lines=[dg_line("1942", "5.1", description="Ammonium nitrate")])
    explosive = make_order(lines=[dg_line("0065", "1.1D", description="Detonating cord")])

    response = login(ops_user).post(
        reverse("tracking:consolidate"),
        {"order": [oxidiser.reference, explosive.reference], "container_type": "22G1", "containers": 1},
        follow=True,
    )

    message = _message(response)
    assert "may not share a container" in message
    assert not Shipment.objects.exists()  # all or nothing
    assert _houses_named(message) == []
    assert f"on order {oxidiser.reference}" in message
    assert f"Put order {explosive.reference} on another master." in message


def test_an_order_refused_on_a_master_booked_with_a_carrier_its_customer_excludes_is_named(
    login,
    make_order,
    ops_user,
    ocean_carriers,
    customer_b,
    booked_acme_master,  # noqa: F811 - a fixture
):
    """Shipment page → Add house → a Globex order, on a master booked with Maersk, which Globex excludes: "put
    H-…-000069 on another master" named the house made for the attempt and rolled back with it."""
    maersk, reason = ocean_carriers[0], "Globex contract: no Maersk"
    CarrierPreference.objects.create(carrier=maersk, kind=PreferenceKind.EXCLUDED, customer=customer_b, reason=reason)
    globex = make_order(customer_code="GLOBEX")

    response = login(ops_user).post(
        reverse("tracking:house_add", args=[booked_acme_master.reference]),
        {"candidate": f"order:{globex.pk}"},
        follow=True,
    )

    message = _message(response)
    assert message == (
        f"Globex Retail excludes Maersk (Globex contract: no Maersk), and {booked_acme_master.reference} is booked "
        f"with Maersk: put order {globex.reference} on another master."
    )
    assert not Shipment.objects.houses().filter(order=globex).exists()


def test_an_order_for_another_lane_is_named_when_added_to_a_master(make_order, ops_user):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    ningbo = make_order(origin="CNNGB")
    with pytest.raises(PlanningError) as refused:
        consolidation.order_add_to_master(order=ningbo, master=master, by=ops_user)
    assert str(refused.value) == (
        f"Order {ningbo.reference} goes CNNGB → DEHAM; {master.reference} goes CNSHA → DEHAM."
    )


def test_a_house_that_exists_is_still_named_by_its_reference(make_order, ops_user):
    """A house chosen on the shipment page (a part split off earlier) exists before and after the refusal."""
    master = consolidation.consolidation_create(
        orders=[make_order(lines=[dg_line("1203", "3", description="Gasoline")])], container_type="22G1"
    )
    on_board = consolidation.live_houses(master)[0]
    oxidiser = planning.house_create(order=make_order(lines=[dg_line("1942", "5.1")]), by=ops_user)
    with pytest.raises(PlanningError) as refused:
        consolidation.house_add(master=master, house=oxidiser, by=ops_user)
    assert f"UN1942 (class 5.1) on {oxidiser.reference} must be separated from" in str(refused.value)
    assert f"UN1203 (class 3) on {on_board.reference}" in str(refused.value)
    assert f"Put {oxidiser.reference} on another master." in str(refused.value)
