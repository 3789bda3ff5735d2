"""A milestone entered by hand with a mistyped year (the date picker lets 0001 or 9999 through) is refused with a
message, never stored and never a server error (review B follow-up). Ingest's own window applies (2000 … two years
ahead, tracking.ingest.checks.event_problem), which is narrower than the planning forms' 1900 … 9000
(tracking.forms.EARLIEST_DAY/LATEST_DAY); a time whose UTC value leaves the calendar is refused by parse_time."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tracking.ingest.models import TrackingEvent

CASES = [
    ("0001-01-01T10:00", "UTC", "is outside 2000"),
    ("0001-01-01T00:30", "Asia/Shanghai", "outside the calendar"),  # 1 BC in UTC
    ("9999-12-31T10:00", "UTC", "is outside 2000"),
    ("9999-12-31T23:30", "America/New_York", "outside the calendar"),  # year 10000 in UTC
]


@pytest.mark.parametrize("classifier", ["ACT", "EST"])
@pytest.mark.parametrize(("when", "zone", "said"), CASES)
def test_a_mistyped_year_is_refused_on_the_card(booked_fcl, ops_user, login, classifier, when, zone, said):
    order, _ = booked_fcl
    client = login(ops_user)
    client.raise_request_exception = False
    before = TrackingEvent.objects.count()

    response = client.post(
        reverse("tracking_ingest:order_event_add", args=[order.reference]),
        {"milestone": "ARRIVED", "classifier": classifier, "occurred_at": when, "time_zone": zone, "location": "DEHAM"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert said in response.content.decode()
    assert TrackingEvent.objects.count() == before
    assert client.get(reverse("tracking_ingest:order_timeline", args=[order.reference])).status_code == 200


def test_a_mistyped_year_is_refused_without_htmx_too(booked_fcl, ops_user, login):
    order, _ = booked_fcl
    client = login(ops_user)
    client.raise_request_exception = False

    response = client.post(
        reverse("tracking_ingest:order_event_add", args=[order.reference]),
        {"milestone": "ARRIVED", "classifier": "ACT", "occurred_at": "0001-01-01T10:00", "time_zone": "UTC"},
    )

    assert response.status_code == 302
    assert any("outside 2000" in str(message) for message in get_messages(response.wsgi_request))
    assert not TrackingEvent.objects.filter(milestone_id="ARRIVED").exists()
