"""A milestone the goods went past without anyone reporting it (walk H4: a road delivery with no arrival event, a
voyage with no transhipment) is not awaited any more.

Before: such a row kept its plan's state, "expected", so on a delivered order the public page listed "Arrived ·
<planned time> planned" under "Delivered", and the order's card drew it with the blue ring of a step still to come
(its late estimate in red). Now the row is `passed`: a pale ring on the green line, no time on the public page, and
"not reported, a later step was" for screen readers.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse

from oms.templatetags.oms_dates import oms_datetime
from portal.links import tracking_link_create
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETA, ETD, NOW, dcsa_event, oms_event
from tracking.ingest import selectors, services
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import SourceKind
from tracking.ingest.services import Source

pytestmark = pytest.mark.usefixtures("fresh_rate_window")

H = datetime.timedelta(hours=1)


@pytest.fixture
def delivered_without_arrival(booked_fcl):
    """The booked FCL order: departed, then delivered at Hamburg; the carrier never reported the arrival."""
    order, _ = booked_fcl
    services.events_ingest(
        events=[read_dcsa(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="d"))],
        source=Source(kind=SourceKind.DCSA, name="MAEU"),
    )
    delivered = oms_event("DELIVERED", NOW - 2 * H, place="DEHAM", subject=("order", order.reference))
    services.events_ingest(events=[read_oms(delivered)], source=Source(kind=SourceKind.WEBHOOK, name="acme"))
    order.refresh_from_db()
    return order


def _rows(order):
    return {row.code: row for row in selectors.order_timeline(order=order, customer_safe=True).milestones}


def test_a_milestone_before_the_furthest_reported_one_is_passed_not_expected(delivered_without_arrival):
    rows = _rows(delivered_without_arrival)
    assert rows["ARRIVED"].planned_at == ETA  # the plan is still there for whoever reads it
    assert rows["ARRIVED"].passed
    assert rows["TRANSSHIPMENT"].passed
    assert not rows["DELIVERED"].passed, "reported: done"
    assert not rows["DEPARTED"].passed, "reported: done"
    assert not rows["EMPTY_RETURNED"].passed  # after the delivery: still to come
    assert rows["ARRIVED"].state == "expected"  # the API's `state` keeps its contract; `passed` says the rest


def test_nothing_is_passed_while_nothing_later_happened(booked_fcl):
    order, _ = booked_fcl
    services.events_ingest(
        events=[read_dcsa(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="d"))],
        source=Source(kind=SourceKind.DCSA, name="MAEU"),
    )
    rows = _rows(order)
    assert not rows["ARRIVED"].passed, "the arrival is still to come after the departure"
    assert [code for code, row in rows.items() if row.passed] == [
        code for code, row in rows.items() if row.rank < rows["DEPARTED"].rank and not row.actual_at
    ]


def test_the_public_page_gives_a_passed_arrival_no_planned_time(delivered_without_arrival, customer_a_user, client):
    _, token = tracking_link_create(order=delivered_without_arrival, by=customer_a_user)
    page = client.get(reverse("public_tracking", args=[token])).content.decode()
    arrived = re.search(
        r'<li class="is-(\w+)[^"]*">\s*<span[^>]*></span>\s*<span>Arrived</span>\s*(.*?)</li>', page, re.S
    )
    assert arrived, "no Arrived step on the page"
    assert arrived.group(1) == "passed"
    assert "not reported" in arrived.group(2)
    assert oms_datetime(ETA) not in arrived.group(2)
    assert "planned" not in arrived.group(2)


@pytest.mark.parametrize("who", ["ops_user", "customer_a_user"])
def test_the_timeline_card_draws_a_passed_step_on_the_line_not_as_awaited(
    request, login, delivered_without_arrival, who
):
    order = delivered_without_arrival
    page = login(request.getfixturevalue(who)).get(f"/tracking/orders/{order.reference}/").content.decode()
    step = re.search(
        r'<li class="trk-step ([^"]*)">(?:(?!</li>).)*?<div class="trk-name">Arrived</div>(.*?)</li>', page, re.S
    )
    assert step, "no Arrived step on the card"
    assert step.group(1) == "is-passed"
    assert "not reported" in step.group(2)
    assert 'class="is-late"' not in step.group(2), "an estimate the goods went past is no late expectation"
