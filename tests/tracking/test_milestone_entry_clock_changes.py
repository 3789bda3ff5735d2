"""A milestone typed on the order card at a local time the clocks skip or repeat (review B, defect 2, on the screen
the milestone files share parse_time with): refused with a message the card's fields can act on (the time given in
UTC: a datetime field takes no offset), never stored an hour off."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tracking.ingest.models import TrackingEvent


@pytest.mark.parametrize(
    ("when", "said"),
    [
        ("2026-03-29T02:30", "does not exist in Europe/Berlin: the clocks jump from +01:00 to +02:00 past it."),
        ("2026-10-25T02:30", "happens twice in Europe/Berlin: the clocks go back from +02:00 to +01:00 and repeat it."),
    ],
)
def test_a_local_time_the_clock_skips_or_repeats_is_refused_on_the_card(booked_fcl, ops_user, login, when, said):
    order, _ = booked_fcl
    client = login(ops_user)

    response = client.post(
        reverse("tracking_ingest:order_event_add", args=[order.reference]),
        {"milestone": "ARRIVED", "classifier": "EST", "occurred_at": when, "time_zone": "Europe/Berlin"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert said in page
    assert "or give it in UTC." in page
    assert not TrackingEvent.objects.filter(milestone_id="ARRIVED").exists()
