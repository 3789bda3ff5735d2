import pytest
from django.http import Http404

from partners.scoping import scope_for_user
from tests.conftest import _member
from tests.factories import OrganisationFactory
from tracking import selectors
from tracking.models import LegRole, Shipment, ShipmentKind
from tracking.services import consolidation, leg_changes, planning


@pytest.fixture
def second_carrier(db):
    return OrganisationFactory(code="HLCU", name="Hapag-Lloyd", kinds=["carrier"])


@pytest.fixture
def two_masters(make_order, ops_user, carrier, second_carrier, customer_b):
    """One master per carrier; master A carries an ACME house and a GLOBEX house, master B an ACME house."""
    master_a = consolidation.consolidation_create(
        orders=[make_order(), make_order(customer_code="GLOBEX")], container_type="22G1", by=ops_user
    )
    master_b = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    leg_changes.leg_update(leg=master_a.legs.get(), data={"carrier_id": carrier.pk})
    leg_changes.leg_update(leg=master_b.legs.get(), data={"carrier_id": second_carrier.pk})
    return master_a, master_b


def test_staff_see_every_shipment_and_leg(two_masters, ops_scope):
    assert selectors.shipments_visible_to(scope=ops_scope).count() == 5  # 2 masters, 3 houses
    assert selectors.legs_visible_to(scope=ops_scope).count() == 2


def test_each_carrier_sees_only_what_it_carries(two_masters, carrier_user, second_carrier):
    master_a, master_b = two_masters
    first = scope_for_user(carrier_user)
    second = scope_for_user(_member("hanna@hlcu.test", second_carrier, "partner"))
    assert list(selectors.shipments_visible_to(scope=first)) == [master_a]
    assert list(selectors.shipments_visible_to(scope=second)) == [master_b]
    assert [leg.shipment for leg in selectors.legs_visible_to(scope=first)] == [master_a]
    assert [leg.shipment for leg in selectors.legs_visible_to(scope=second)] == [master_b]


def test_each_customer_sees_only_its_own_houses_and_the_legs_carrying_them(
    two_masters, customer_a_user, customer_b_user
):
    master_a, master_b = two_masters
    acme, globex = scope_for_user(customer_a_user), scope_for_user(customer_b_user)
    acme_houses = selectors.shipments_visible_to(scope=acme)
    assert {house.kind for house in acme_houses} == {ShipmentKind.HOUSE}
    assert {house.order.customer.code for house in acme_houses} == {"ACME"}
    assert acme_houses.count() == 2
    assert [house.order.customer.code for house in selectors.shipments_visible_to(scope=globex)] == ["GLOBEX"]
    assert {leg.shipment for leg in selectors.legs_visible_to(scope=acme)} == {master_a, master_b}
    assert {leg.shipment for leg in selectors.legs_visible_to(scope=globex)} == {master_a}


def test_shipments_for_order_follow_the_same_scope(
    two_masters, customer_a_user, customer_b_user, carrier_user, ops_scope
):
    master_a, _ = two_masters
    acme_order = next(
        link.house.order for link in master_a.consolidated_houses.all() if link.house.order.customer.code == "ACME"
    )
    assert len(selectors.shipments_for_order(acme_order, ops_scope)) == 1
    houses = selectors.shipments_for_order(acme_order, scope_for_user(customer_a_user))
    assert houses[0].master_links[0].master == master_a  # type: ignore[attr-defined]  # prefetched with to_attr
    assert selectors.shipments_for_order(acme_order, scope_for_user(customer_b_user)) == []
    assert selectors.shipments_for_order(acme_order, scope_for_user(carrier_user)) == []


def test_outsiders_see_nothing(two_masters, outsider):
    scope = scope_for_user(outsider)
    assert not selectors.shipments_visible_to(scope=scope).exists()
    assert not selectors.legs_visible_to(scope=scope).exists()


def test_the_order_shipments_tag_renders_what_the_viewer_may_see(two_masters, rf, customer_a_user, customer_b_user):
    from django.template import Context, Template

    master_a, _ = two_masters
    acme_order = next(
        link.house.order for link in master_a.consolidated_houses.all() if link.house.order.customer.code == "ACME"
    )
    template = Template("{% load planning %}{% order_shipments order %}")
    for user, sees in ((customer_a_user, True), (customer_b_user, False)):
        request = rf.get("/")
        request.user = user
        html = template.render(Context({"request": request, "order": acme_order}))
        assert (master_a.reference in html) is sees
        assert "/planning/" not in html


def test_a_carrier_carries_the_legs_of_its_shipment_that_have_no_carrier_of_their_own(
    make_order, ops_user, carrier, carrier_user, second_carrier
):
    """Ingest lets a partner report on a leg without a carrier of its own on a shipment it is the carrier of ("who
    carries a leg: its own carrier, else the shipment's"), but the partner's scope went by the leg's own carrier: the
    on-carriage Nordtruck runs and reports on was not among its legs, and a master whose legs named no carrier was
    not among its shipments. A leg another carrier runs on that shipment stays that carrier's."""
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    Shipment.objects.filter(pk=master.pk).update(carrier=carrier)  # as a confirmed booking leaves it
    main = master.legs.get()
    on_carriage = leg_changes.leg_add(shipment=master, data={"role": LegRole.ON_CARRIAGE, "mode": "road_ftl",
                                                          "origin_id": "DEHAM", "destination_id": "PLWAW"})  # fmt: skip
    last_mile = leg_changes.leg_add(shipment=master, data={"role": LegRole.LAST_MILE, "mode": "road_ftl",
                                                        "carrier_id": second_carrier.pk, "origin_id": "PLWAW",
                                                        "destination_id": "PLLCJ"})  # fmt: skip
    nordtruck = scope_for_user(carrier_user)
    hapag = scope_for_user(_member("hanna@hlcu.test", second_carrier, "partner"))

    assert {leg.pk for leg in selectors.legs_visible_to(scope=nordtruck)} == {main.pk, on_carriage.pk}
    assert [leg.pk for leg in selectors.legs_visible_to(scope=hapag)] == [last_mile.pk]
    assert list(selectors.shipments_visible_to(scope=nordtruck)) == [master]
    assert list(selectors.shipments_visible_to(scope=hapag)) == [master]
    assert selectors.leg_get_for(scope=nordtruck, pk=on_carriage.pk) == on_carriage
    with pytest.raises(Http404):
        selectors.leg_get_for(scope=nordtruck, pk=last_mile.pk)
