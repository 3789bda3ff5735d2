"""Which template an order runs on: trade direction seen from the branch, and the most specific match."""

from __future__ import annotations

import pytest

from workflows.models import OrderWorkflow, TradeDirection
from workflows.services.matching import template_match
from workflows.services.profiles import branch_profile, trade_direction

from .conftest import definition


@pytest.mark.parametrize(
    ("origin", "destination", "branch", "direction"),
    [
        ("DE", "US", "DE", TradeDirection.EXPORT),
        ("CN", "DE", "DE", TradeDirection.IMPORT),
        ("DE", "DE", "DE", TradeDirection.DOMESTIC),
        ("CN", "US", "DE", TradeDirection.CROSS_TRADE),
        ("US", "US", "DE", TradeDirection.CROSS_TRADE),  # domestic elsewhere is cross-trade for us
        ("DE", "US", "", ""),  # the branch's country is unknown
    ],
)
def test_trade_direction(origin, destination, branch, direction):
    assert trade_direction(origin_country=origin, destination_country=destination, branch_country=branch) == direction


def test_the_branch_country_comes_from_its_calendar_else_its_registered_address(branch):
    from partners.models import Address

    assert branch_profile(branch_id=branch.pk).country == ""
    Address.objects.create(organisation=branch, kind="billing", line1="x", city="Paris", country="FR")
    Address.objects.create(organisation=branch, kind="registered", line1="y", city="Hamburg", country="DE")
    assert branch_profile(branch_id=branch.pk).country == "DE"
    from workflows.models import BranchCalendar

    BranchCalendar.objects.create(branch=branch, country="NL")
    assert branch_profile(branch_id=branch.pk).country == "NL"


def test_the_most_specific_active_published_template_wins(make_template, make_order, customer_a, ham):
    fallback = make_template("Any order", [definition("a")])
    by_mode = make_template("Ocean FCL", [definition("a")], mode="ocean_fcl")
    by_mode_direction = make_template("Ocean FCL import", [definition("a")], mode="ocean_fcl", trade_direction="import")
    make_template("Air import", [definition("a")], mode="air", trade_direction="import")
    order = make_order()
    assert template_match(order=order, direction="import") == by_mode_direction
    assert template_match(order=order, direction="export") == by_mode
    for_customer = make_template("Acme", [definition("a")], customer=customer_a)
    assert template_match(order=order, direction="import") == by_mode_direction  # two criteria beat one
    for_customer.mode, for_customer.trade_direction = "ocean_fcl", "import"
    for_customer.save()
    assert template_match(order=order, direction="import") == for_customer  # three beat two
    for_customer.is_active = False
    for_customer.save()
    assert template_match(order=order, direction="import") == by_mode_direction
    loose = {"pieces": 20, "package_type": "PX", "gross_weight_kg": "4200.5", "description": "LED lamps"}  # no box
    assert template_match(order=make_order(mode="ocean_lcl", lines=[loose]), direction="export") == fallback


def test_on_a_tie_the_customer_beats_the_branch(make_template, make_order, customer_a, ham):
    make_template("HAM", [definition("a")], branch=ham)
    for_customer = make_template("Acme", [definition("a")], customer=customer_a)
    assert template_match(order=make_order(), direction="import") == for_customer


def test_a_template_without_a_published_version_matches_nothing(make_order, ham):
    from workflows.models import WorkflowTemplate

    WorkflowTemplate.objects.create(name="Unfinished")
    assert template_match(order=make_order(), direction="import") is None


def test_the_order_keeps_the_match_it_started_with(make_template, make_order, ops_team, committed):
    first = make_template("Ocean", [definition("a")], mode="ocean_fcl")
    with committed():
        order = make_order(submit=True)
    make_template("Ocean import", [definition("a")], mode="ocean_fcl", trade_direction="import")
    assert OrderWorkflow.objects.get(order=order).template == first
