"""An appointment window that ends on another day says so (walk of 2026-12-07): the shipment's page, the schedule
board and Today wrote a window from one day 08:00 to the next day 17:00 as "08:00-17:00", the end's day lost."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import datetime_text
from partners.time_zones import branch_zone
from tracking.services import appointment_changes, planning


def _on_branch_clock(zone, day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)), zone)


@pytest.fixture
def window(make_order, ops_user):
    """A delivery window from today 08:00 to tomorrow 17:00 on the shipment branch's clock."""
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    zone = branch_zone(master.branch)
    today = timezone.localdate(timezone=zone)
    start, end = _on_branch_clock(zone, today, 8), _on_branch_clock(zone, today + datetime.timedelta(days=1), 17)
    appointment_changes.appointment_schedule(
        shipment=master,
        data={"kind": "delivery", "location_id": "DEHAM", "window_start_at": start, "window_end_at": end},
    )
    with timezone.override(zone):
        end_text = datetime_text(timezone.localtime(end, zone), "weekday")
        start_text = datetime_text(timezone.localtime(start, zone), "weekday")
    return master, start_text, end_text


def test_the_shipment_page_names_the_day_a_window_ends_on(login, ops_user, window):
    master, start_text, end_text = window

    body = login(ops_user).get(master.get_absolute_url()).content.decode()

    assert f"{start_text}–{end_text}" in body
    assert f"{start_text}–17:00" not in body


@pytest.mark.parametrize("page", ["tracking:schedule", "tracking:today"])
def test_the_board_and_today_name_the_day_a_window_ends_on(login, ops_user, window, page):
    master, _, end_text = window

    body = login(ops_user).get(reverse(page), {"branch": master.branch_id}).content.decode()

    assert master.reference in body
    assert f"08:00–{end_text}" in body
    assert "08:00–17:00" not in body


def test_a_window_within_one_day_stays_short(login, ops_user, make_order):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    zone = branch_zone(master.branch)
    today = timezone.localdate(timezone=zone)
    appointment_changes.appointment_schedule(
        shipment=master,
        data={
            "kind": "pickup",
            "location_id": "DEHAM",
            "window_start_at": _on_branch_clock(zone, today, 14),
            "window_end_at": _on_branch_clock(zone, today, 17),
        },
    )

    body = login(ops_user).get(reverse("tracking:today"), {"branch": master.branch_id}).content.decode()

    assert "14:00–17:00" in body
