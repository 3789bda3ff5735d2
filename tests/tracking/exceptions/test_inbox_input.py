"""The inbox and the weekly view with odd input: a cursor that does not parse shows the first page, a NUL in a
search matches nothing, a week far from now shows the current one; none of them is a server error. And the
Resolved tab counts what it lists: the last 7 days."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tracking.exceptions import selectors
from tracking.exceptions.models import ShipmentException

from .conftest import detect
from .test_views import make_resolved

INBOX = reverse("tracking_exceptions:inbox")


@pytest.fixture
def overdue(booked_fcl):
    _, master = booked_fcl
    detect(master)
    return master, ShipmentException.objects.get()


@pytest.mark.parametrize(
    "after",
    ["x|y|z", "3|2026-01-01T00:00:00+00:00|abc", "²|2026-01-01T00:00:00+00:00|1", "3|2026-01-01T00:00:00|1",
     "3|not-a-date|1", "99999|2026-01-01T00:00:00+00:00|1", "3|2026-01-01T00:00:00+00:00|" + "9" * 30, "1|2"],
)  # fmt: skip
def test_a_bad_cursor_is_ignored(login, ops_user, overdue, after):
    _, exception = overdue
    response = login(ops_user).get(INBOX, {"after": after})
    assert response.status_code == 200
    assert [row.pk for row in response.context["page"].rows] == [exception.pk]
    assert response.context["page"].is_first
    assert response.context["filters"].after == ""


def test_a_good_cursor_still_pages(login, ops_user, booked_fcl):
    _, master = booked_fcl
    make_resolved(master, 3)
    client = login(ops_user)
    rows = client.get(INBOX, {"view": "resolved", "sort": "oldest"}).context["page"].rows
    after = f"{rows[0].opened_at.isoformat()}|{rows[0].pk}"
    response = client.get(INBOX, {"view": "resolved", "sort": "oldest", "after": after})
    assert [row.pk for row in response.context["page"].rows] == [row.pk for row in rows[1:]]
    assert not response.context["page"].is_first


@pytest.mark.parametrize("query", [{"q": "a\x00b"}, {"customer": "\x00"}, {"q": "\x00"}])
def test_a_nul_in_a_search_matches_nothing(login, ops_user, overdue, query):
    response = login(ops_user).get(INBOX, query)
    assert response.status_code == 200
    assert response.context["page"].rows == []
    assert "No exception matches" in response.text


def test_the_resolved_tab_counts_and_lists_the_last_seven_days(login, ops_user, overdue):
    master, _ = overdue
    make_resolved(master, 3)  # resolved last week
    old = list(ShipmentException.objects.filter(status="resolved").values_list("pk", flat=True)[:1])
    ShipmentException.objects.filter(pk__in=old).update(resolved_at=timezone.now() - datetime.timedelta(days=10))
    response = login(ops_user).get(INBOX, {"view": "resolved"})
    tab = next(t for t in response.context["tabs"] if t["label"] == "Resolved")
    rows = response.context["page"].rows
    assert tab["count"] == len(rows) == 2
    assert old[0] not in [row.pk for row in rows]
    assert f"resolved in the last {selectors.RESOLVED_DAYS} days" in response.text


@pytest.mark.parametrize("week", ["0001-W01", "9999-W52", "1999-W52", "2101-W01", "2026-W99", "\x00"])
def test_a_week_out_of_range_shows_the_current_week(login, ops_user, overdue, week):
    response = login(ops_user).get(reverse("tracking_exceptions:weekly"), {"week": week})
    assert response.status_code == 200
    today = timezone.now().date()
    assert response.context["start"].date() == today - datetime.timedelta(days=today.weekday())


def test_a_week_in_range_is_shown(login, ops_user, overdue):
    response = login(ops_user).get(reverse("tracking_exceptions:weekly"), {"week": "2026-W10"})
    assert response.context["week_label"] == "2026-W10"
