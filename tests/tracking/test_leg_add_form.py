"""Adding a leg on a shipment's page: the form starts from the leg usually added (a pre-carriage truck to where the
main carriage starts, or the main carriage of a master that has none), and the message names the leg added, as
correcting and removing one do.

From review I (defect 6 and the walk): "Leg added." did not say which leg; the form defaulted to "Main carriage"
under a summary reading "(pre-carriage, on-carriage, last mile)"."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from partners import services as partner_services
from partners.models import Role
from tests.factories import OrganisationFactory, UserFactory
from tracking.models import Leg, LegRole
from tracking.services import planning


def test_adding_a_leg_says_which_leg_was_added(login, make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    response = login(ops_user).post(
        reverse("tracking:leg_add", args=[master.reference]),
        {"role": "pre_carriage", "mode": "road_ftl", "origin": "CNSZH", "destination": "CNSHA"},
    )
    assert response.status_code == 302
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == ["Pre-carriage CNSZH → CNSHA added."]


def test_the_form_starts_from_a_pre_carriage_to_where_the_main_carriage_starts(login, make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(mode="ocean_fcl"), by=ops_user)  # CNSHA → DEHAM
    form = login(ops_user).get(master.get_absolute_url()).context["leg_form"]
    assert form.initial == {"role": LegRole.PRE_CARRIAGE, "mode": "road_ftl", "destination": "CNSHA"}
    page = form.as_div()
    assert '<option value="pre_carriage" selected>' in page
    assert '<option value="road_ftl" selected>' in page


def test_loose_cargo_is_fed_by_a_groupage_truck(login, make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)  # LCL
    assert login(ops_user).get(master.get_absolute_url()).context["leg_form"].initial["mode"] == "road_ltl"


def test_a_master_without_a_main_carriage_is_offered_one_over_its_lane(login, make_order, ops_user):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    Leg.objects.filter(shipment=master).delete()
    form = login(ops_user).get(master.get_absolute_url()).context["leg_form"]
    assert form.initial == {"role": LegRole.MAIN, "mode": "ocean_lcl", "origin": "CNSHA", "destination": "DEHAM"}


@pytest.mark.parametrize("kind", ["agent", "warehouse"])
def test_an_agent_or_warehouse_given_the_partner_role_can_be_given_the_leg_it_runs(login, make_order, ops_user, kind):
    """Review B: the console grants the partner role in an agent or a warehouse as in a carrier, and the portal greeted
    its people with "No open shipments are assigned to you", for good: the leg form offered carriers only ("Select
    a valid choice"), so the destination agent arranging the delivery, or a warehouse running it with its own trucks,
    could never be put on the leg it runs (docs/planning.md, "Who runs a leg")."""
    runner = OrganisationFactory(code="WAWRUN", name="Warsaw Runner", kinds=[kind])
    person = UserFactory(email="desk@wawrun.test")
    partner_services.membership_grant(user=person, organisation=runner, role=Role.PARTNER)
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)

    response = login(ops_user).post(
        reverse("tracking:leg_add", args=[master.reference]),
        {"role": "on_carriage", "mode": "road_ftl", "carrier": runner.pk, "origin": "DEHAM", "destination": "PLWAW"},
    )

    assert response.status_code == 302
    on_carriage = master.legs.get(carrier=runner)
    listed = login(person).get(reverse("portal:shipments")).context["page"]
    assert [leg.pk for leg in listed] == [on_carriage.pk]


def test_the_leg_form_offers_who_runs_legs_and_no_one_else(login, make_order, ops_user, carrier):
    """Carriers, agents and warehouses run legs; a vendor, a customer or a closed agent does not."""
    agent = OrganisationFactory(code="AGT", name="Agent", kinds=["agent"])
    warehouse = OrganisationFactory(code="WHS", name="Warehouse", kinds=["warehouse"])
    OrganisationFactory(code="VND", name="VND", kinds=["vendor"])
    OrganisationFactory(code="SHUT", name="SHUT", kinds=["agent"], is_active=False)
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    form = login(ops_user).get(master.get_absolute_url()).context["leg_form"]
    assert set(form.fields["carrier"].queryset) == {carrier, agent, warehouse}
