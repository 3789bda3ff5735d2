"""The weekly view runs on the viewer's branch's clock (docs/exceptions.md, "Screens"; docs/planning.md, "Time
zones"): its weeks are Monday 00:00 to Monday 00:00 in the viewer's own branch's zone, which the page names, so one
exception opened late on a Sunday (UTC) counts in different weeks in Berlin and in Shanghai; and a week in which
summer time starts or ends is 167 or 169 hours long, its neighbours one ISO week away. Data is placed in past weeks,
so a run early on a Monday (in any zone) sees the same."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import oms_date
from partners.models import OrganisationKind, Role
from tests.conftest import _member
from tests.factories import OrganisationFactory
from tracking.exceptions.models import ExceptionKind, ShipmentException

UTC = datetime.UTC
WEEKLY = reverse("tracking_exceptions:weekly")


@pytest.fixture
def berlin_ops(branch, ops_user):
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    return ops_user


@pytest.fixture
def sha_ops(company):
    sha = OrganisationFactory(
        code="SHA", name="OMS Shanghai", kinds=[OrganisationKind.BRANCH], parent=company, time_zone="Asia/Shanghai"
    )
    return _member("ops.sha@oms.test", sha, Role.OPERATIONS)


def opened_at(master, *moments: datetime.datetime) -> None:
    """Exceptions opened at these moments (resolved an hour later: one shipment has one open of a kind)."""
    ShipmentException.objects.bulk_create(
        ShipmentException(
            kind=ExceptionKind.NO_MOVEMENT, shipment=master, mode=master.mode, carrier_id=master.carrier_id,
            detail="Silent", opened_at=moment, status="resolved", resolved_at=moment + datetime.timedelta(hours=1),
            is_auto_resolved=True,
        )
        for moment in moments
    )  # fmt: skip


def iso_week(day: datetime.date) -> str:
    return "{}-W{:02d}".format(*day.isocalendar()[:2])


def hours(context) -> float:
    """The week's length in hours (aware datetimes in one zone subtract as wall times: compare in UTC)."""
    return (context["end"].astimezone(UTC) - context["start"].astimezone(UTC)) / datetime.timedelta(hours=1)


def opened_in(client, week: str) -> int:
    response = client.get(WEEKLY, {"week": week})
    assert response.status_code == 200
    return response.context["total"]


def test_an_exception_opened_on_sunday_evening_utc_falls_in_each_viewers_own_week(
    client, booked_fcl, berlin_ops, sha_ops, django_assert_max_num_queries
):
    _, master = booked_fcl
    today = timezone.now().astimezone(UTC).date()
    last_monday = today - datetime.timedelta(days=today.weekday() + 7)
    sunday = last_monday - datetime.timedelta(days=1)
    opened_at(master, datetime.datetime.combine(sunday, datetime.time(20), tzinfo=UTC))  # Mon 04:00 in Shanghai
    week_before, last_week = iso_week(sunday), iso_week(last_monday)

    client.force_login(berlin_ops)  # Sunday 21:00 or 22:00 in Berlin: the week before last
    assert (opened_in(client, week_before), opened_in(client, last_week)) == (1, 0)
    page = client.get(WEEKLY, {"week": week_before}).text
    week = f"{oms_date(sunday - datetime.timedelta(days=6), 'weekday')} – {oms_date(sunday, 'weekday')}"
    assert f"{week} · days in Europe/Berlin" in page

    client.force_login(sha_ops)  # Monday 04:00 in Shanghai: last week
    assert (opened_in(client, week_before), opened_in(client, last_week)) == (0, 1)
    client.get(WEEKLY, {"week": last_week})
    with django_assert_max_num_queries(5):  # session, user, the viewer's branch zone, the grouping sets, the badges
        response = client.get(WEEKLY, {"week": last_week})
    assert response.context["zone"] == "Asia/Shanghai"
    assert response.context["start"] == datetime.datetime.combine(sunday, datetime.time(16), tzinfo=UTC)
    assert "days in Asia/Shanghai" in response.text


def test_a_week_when_summer_time_starts_is_167_hours_and_navigation_steps_one_week(client, booked_fcl, berlin_ops):
    _, master = booked_fcl
    sunday_late = datetime.datetime(2026, 3, 29, 21, 30, tzinfo=UTC)  # Sun 23:30 CEST: the clocks went forward at 02:00
    monday_early = datetime.datetime(2026, 3, 29, 22, 30, tzinfo=UTC)  # Mon 30 Mar 00:30 CEST
    opened_at(master, sunday_late, monday_early)
    client.force_login(berlin_ops)
    response = client.get(WEEKLY, {"week": "2026-W13"})
    context = response.context
    assert context["start"] == datetime.datetime(2026, 3, 22, 23, tzinfo=UTC)  # Mon 23 Mar 00:00 CET
    assert context["end"] == datetime.datetime(2026, 3, 29, 22, tzinfo=UTC)  # Mon 30 Mar 00:00 CEST
    assert hours(context) == 167
    assert (context["previous_week"], context["next_week"]) == ("2026-W12", "2026-W14")
    assert context["total"] == 1  # Sunday 23:30, not Monday 00:30
    week = f"{oms_date(datetime.date(2026, 3, 23), 'weekday')} – {oms_date(datetime.date(2026, 3, 29), 'weekday')}"
    assert f"{week} · days in Europe/Berlin" in response.text  # Mon 23 Mar – Sun 29 Mar (2026 when not this year)
    assert opened_in(client, "2026-W14") == 1
    assert client.get(WEEKLY, {"week": "2026-W14"}).context["previous_week"] == "2026-W13"


def test_a_week_when_summer_time_ends_is_169_hours(client, berlin_ops):
    client.force_login(berlin_ops)
    context = client.get(WEEKLY, {"week": "2026-W43"}).context  # the clocks go back on Sunday 25 Oct
    assert context["start"] == datetime.datetime(2026, 10, 18, 22, tzinfo=UTC)  # Mon 19 Oct 00:00 CEST
    assert hours(context) == 169
    assert (context["previous_week"], context["next_week"]) == ("2026-W42", "2026-W44")
    assert client.get(WEEKLY, {"week": "2027-W01"}).context["previous_week"] == "2026-W53"


def test_without_a_week_the_viewers_current_week_is_shown(client, sha_ops, monkeypatch, settings):
    settings.SESSION_COOKIE_AGE = 3 * 365 * 24 * 3600  # the clock moves; the session must not expire
    monkeypatch.setattr(timezone, "now", lambda: datetime.datetime(2026, 12, 6, 20, tzinfo=UTC))  # Mon 04:00 there
    client.force_login(sha_ops)
    context = client.get(WEEKLY).context
    assert context["week_label"] == "2026-W50"  # still 2026-W49 in UTC
    assert context["start"] == datetime.datetime(2026, 12, 6, 16, tzinfo=UTC)
    assert context["next_week"] == ""
