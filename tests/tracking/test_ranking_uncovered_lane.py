"""A lane no rate card covers is no dead end in the ranking: the carrier options say what is missing (a buy rate on
that lane for that mode) and what to do, with a link into the console for those who may add one.

From review I (the walk): DEHAM → CNSHA ranked "No carrier can take this … see why below", and nothing followed."""

from __future__ import annotations

import datetime

from django.urls import reverse

from finance.models import RateCard
from tracking.services import planning, ranking


def _options(client, master) -> str:
    return client.get(
        reverse("tracking:shipment_ranking", args=[master.reference]), HTTP_HX_REQUEST="true"
    ).content.decode()


def test_a_lane_without_a_rate_card_says_what_is_missing(login, make_order, ops_user, ocean_carriers, order_data):
    # The carriers' cards cover CNSHA → DEHAM only.
    order = make_order(mode="ocean_fcl", origin="DEHAM", destination="CNSHA", lines=order_data()["lines"])
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    assert ranking.ranking_for_shipment(shipment=master).lane_uncovered

    body = _options(login(ops_user), master)
    assert "No rate card covers this lane" in body
    assert 'covers <span class="font-monospace">DEHAM → CNSHA</span> for Ocean FCL' in body
    assert "An admin adds one in the console (a buy rate for this lane on a carrier's Ocean FCL rate card)" in body
    assert "/console/" not in body
    assert "/admin/" not in body
    assert "No carrier can take this" not in body


def test_an_admin_gets_the_link_to_add_the_rate(login, make_order, ops_user, admin_user, ocean_carriers, order_data):
    order = make_order(mode="ocean_fcl", origin="DEHAM", destination="CNSHA", lines=order_data()["lines"])
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    body = _options(login(admin_user), master)
    line_url = reverse("admin:finance_rateline_add") + "?origin_code=DEHAM&amp;destination_code=CNSHA"
    card_url = reverse("admin:finance_ratecard_add") + "?direction=buy&amp;mode=ocean_fcl"
    assert f'An admin adds one in the console: <a href="{line_url}">a rate line for this lane</a>' in body
    assert f'<a href="{card_url}">a new buy rate card</a>' in body


def test_carriers_left_out_on_a_covered_lane_still_say_why_below(login, make_order, ops_user, ocean_carriers):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)  # LCL: the cards are FCL
    RateCard.objects.filter(mode="ocean_fcl").update(mode="ocean_lcl", expires_on=datetime.date(2026, 1, 31))
    result = ranking.ranking_for_shipment(shipment=master)
    assert result.excluded
    assert not result.lane_uncovered
    body = _options(login(ops_user), master)
    assert "No carrier can take this" in body
    assert "Left out" in body
    assert "No rate card covers this lane" not in body
