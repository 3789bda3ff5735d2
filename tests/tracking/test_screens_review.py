"""Bad input on the planning screens answers a page or a message, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from tracking.models import Shipment


@pytest.mark.parametrize("name", ["tracking:index", "tracking:schedule", "tracking:today"])
def test_a_branch_of_non_ascii_digits_shows_the_default_branch(login, ops_user, branch, name):
    # "²".isdigit() is True but int("²") raises: the filter must not answer 500
    response = login(ops_user).get(reverse(name), {"branch": "²"})

    assert response.status_code == 200
    assert response.context["branch_id"] == branch.pk


def test_a_carrier_of_non_ascii_digits_shows_every_carrier(login, ops_user):
    response = login(ops_user).get(reverse("tracking:schedule"), {"carrier": "٣"})

    assert response.status_code == 200
    assert response.context["carrier_id"] is None


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01", "2026-W60", "x\x00"])
def test_a_board_start_out_of_range_falls_back_to_today(login, ops_user, start):
    response = login(ops_user).get(reverse("tracking:schedule"), {"start": start})

    assert response.status_code == 200
    assert response.context["start"] == response.context["today"]


def test_a_board_start_given_as_an_iso_week_starts_on_its_monday(login, ops_user):
    response = login(ops_user).get(reverse("tracking:schedule"), {"start": "2026-W10"})

    assert response.status_code == 200
    assert response.context["start"].isoformat() == "2026-03-02"


@pytest.mark.parametrize("field", ["origin", "destination"])
def test_a_nul_byte_in_the_lane_filter_finds_nothing(make_order, login, ops_user, field):
    make_order()

    response = login(ops_user).get(reverse("tracking:index"), {field: "CN\x00SHA"})

    assert response.status_code == 200
    assert response.context["orders_total"] == 0


def test_consolidating_a_reference_with_a_nul_byte_is_refused_with_a_message(make_order, login, ops_user):
    make_order()

    response = login(ops_user).post(
        reverse("tracking:consolidate"), {"order": ["X\x00"], "containers": "1"}, follow=True
    )

    assert response.status_code == 200
    assert not Shipment.objects.masters().exists()


@pytest.mark.parametrize("master", ["abc", "", "\x00", "²"])
def test_adding_to_a_master_that_is_no_id_returns_to_the_plan_page(make_order, login, ops_user, master):
    order = make_order()

    response = login(ops_user).post(reverse("tracking:order_add_to_master", args=[order.reference]), {"master": master})

    assert response.status_code == 302
    assert response["Location"] == reverse("tracking:order_plan", args=[order.reference])
    assert not Shipment.objects.houses().filter(order=order).exists()


def test_adding_to_a_master_that_does_not_exist_is_404(make_order, login, ops_user):
    order = make_order()

    response = login(ops_user).post(
        reverse("tracking:order_add_to_master", args=[order.reference]), {"master": "999999999"}
    )

    assert response.status_code == 404


def test_a_leg_due_at_midnight_today_is_due_today_not_overdue(make_order, login, ops_user):
    client = login(ops_user)
    order = make_order()
    client.post(reverse("tracking:order_plan_direct", args=[order.reference]))
    master = Shipment.objects.masters().get()
    today = timezone.localdate().isoformat()
    leg = {"role": "main", "mode": "ocean_lcl", "origin": "CNSHA", "destination": "DEHAM"}
    client.post(reverse("tracking:leg_add", args=[master.reference]), {**leg, "planned_departure_at": f"{today}T00:00"})

    execution = client.get(reverse("tracking:today"), {"branch": "all"}).context["execution"]

    assert [leg.shipment for leg in execution.departures] == [master]
    assert execution.overdue == []
