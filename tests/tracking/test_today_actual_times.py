"""Today's "Departed" / "Arrived" record when the leg really moved (docs/planning.md, "Correcting and removing
legs" and "Typed times"): one click records now; a time given on the page's clock records that time, so that a
departure noticed late is not put on the customer's timeline, the leg history and the carrier's on-time record
as "now"; a time in the future is refused with why. A leg not recorded yet (overdue) asks for the time first.

From review I (defect 1): the overdue rows offered only "Departed" = now."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import datetime_text, oms_datetime
from tests.tracking.test_ingest_support import booked_fcl, fresh_mapping
from tracking.models import Leg, LegRole

__all__ = ["booked_fcl", "fresh_mapping"]  # fixtures

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.fixture
def berlin(branch):
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    return branch


@pytest.fixture
def overdue_main(berlin, booked_fcl):
    """A booked main carriage that was due to leave six days ago and has no actual departure: "Not recorded yet"."""
    _, master = booked_fcl
    return master.legs.get(role=LegRole.MAIN)


def _row(page: str, leg_pk: int) -> str:
    match = re.search(rf'<tr id="leg-{leg_pk}">(.*?)</tr>', page, re.S)
    assert match, "the leg is not listed on Today"
    return match.group(1)


def _forms(row: str) -> list[str]:
    return re.findall(r"<form\b.*?</form>", row, re.S)


def _record(client, leg, **data):
    return client.post(
        reverse("tracking:leg_record_actual", args=[leg.pk]),
        {"kind": "departure", "zone": "Europe/Berlin", **data},
        HTTP_HX_REQUEST="true",
    )


def test_a_leg_not_recorded_yet_asks_when_it_really_departed(login, ops_user, overdue_main):
    page = login(ops_user).get(reverse("tracking:today")).content.decode()
    assert "Not recorded yet" in page
    row = _row(page, overdue_main.pk)
    assert "Departed" in row
    (form,) = _forms(row)  # no one-click "now" on a leg due days ago: its time is asked for first
    assert 'name="at"' in form
    assert 'type="datetime-local"' in form
    assert '<input type="hidden" name="section" value="overdue">' in form
    now = timezone.localtime(timezone.now(), BERLIN)
    assert re.search(r'name="at" value="(\d{4}-\d\d-\d\dT\d\d:\d\d)"', form).group(1)[:10] == f"{now:%Y-%m-%d}"
    assert "Local time, Europe/Berlin; not later than now." in form


def test_the_time_given_is_recorded_on_the_pages_clock_and_the_row_stays_overdue_shaped(login, ops_user, overdue_main):
    departed = (timezone.localtime(timezone.now(), BERLIN) - datetime.timedelta(days=5)).replace(
        hour=7, minute=45, second=0, microsecond=0
    )
    response = _record(login(ops_user), overdue_main, at=f"{departed:%Y-%m-%dT%H:%M}", section="overdue")
    assert response.status_code == 200
    overdue_main.refresh_from_db()
    assert overdue_main.actual_departure_at == departed
    row = response.content.decode()
    assert f"dep. {oms_datetime(departed)}" in row
    assert "Arrived…" in row  # the arrival, too, is asked for with its time on this row
    assert '<input type="hidden" name="section" value="overdue">' in row


def test_a_leg_due_today_keeps_its_one_click_and_offers_a_time(login, ops_user, berlin, make_order):
    from tracking.services import planning

    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    main = master.legs.get()
    Leg.objects.filter(pk=main.pk).update(planned_departure_at=timezone.now())
    client = login(ops_user)
    row = _row(client.get(reverse("tracking:today")).content.decode(), main.pk)
    now_form, time_form = sorted(_forms(row), key=lambda form: 'name="at"' in form)
    assert 'name="at"' not in now_form  # one click: now, whatever time the page was opened
    assert f'form="record-{main.pk}"' in row
    assert f'id="record-{main.pk}"' in now_form
    assert 'name="at"' in time_form

    response = _record(client, main)  # the one click
    main.refresh_from_db()
    assert abs(main.actual_departure_at - timezone.now()) < datetime.timedelta(minutes=1)
    assert "Arrived" in response.content.decode()


def test_a_time_in_the_future_is_refused_with_why(login, ops_user, overdue_main):
    later = timezone.localtime(timezone.now(), BERLIN) + datetime.timedelta(hours=2)
    typed = f"{later:%Y-%m-%dT%H:%M}"
    response = _record(login(ops_user), overdue_main, at=typed, section="overdue")
    row = response.content.decode()
    with timezone.override(BERLIN):  # days as every screen writes them: "7 Dec, 22:49", the year when not this one
        assert f"{datetime_text(later)} is in the future: it is " in row
    assert "(Europe/Berlin). Give the time it really departed." in row
    assert f'name="at" value="{typed}"' in row  # back in the field, to be corrected
    overdue_main.refresh_from_db()
    assert overdue_main.actual_departure_at is None


def test_the_current_minute_is_not_the_future(login, ops_user, overdue_main):
    now = timezone.localtime(timezone.now(), BERLIN)
    _record(login(ops_user), overdue_main, at=f"{now:%Y-%m-%dT%H:%M}")
    overdue_main.refresh_from_db()
    assert overdue_main.actual_departure_at == now.replace(second=0, microsecond=0)


def test_without_htmx_a_refusal_is_a_message(login, ops_user, overdue_main):
    later = timezone.localtime(timezone.now(), BERLIN) + datetime.timedelta(days=1)
    response = login(ops_user).post(
        reverse("tracking:leg_record_actual", args=[overdue_main.pk]),
        {"kind": "departure", "zone": "Europe/Berlin", "at": f"{later:%Y-%m-%dT%H:%M}"},
        follow=True,
    )
    assert "is in the future" in response.content.decode()
    overdue_main.refresh_from_db()
    assert overdue_main.actual_departure_at is None
