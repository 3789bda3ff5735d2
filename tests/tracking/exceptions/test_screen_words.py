"""The exception screens speak plain words: milestone names and reasons instead of codes, thresholds and
durations in one style ("25 h", "3 d 4 h", "30 d"), carriers by name, one timestamp format, the weekly view
sorted with clear headings. Name lookups ride in the screens' existing queries."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from tracking.exceptions import codes
from tracking.exceptions.models import ExceptionKind, ExceptionRule, ShipmentException
from tracking.exceptions.rules import REASON_LABELS, duration_text, reason_label
from tracking.models import Shipment

from .conftest import detect, ingest
from .test_rules import departed
from .test_views import last_week, make_resolved

H = datetime.timedelta(hours=1)
# "30.0 days", "1.5 h", "0.0 h": the decimal style these screens no longer use
DECIMAL_SPAN = re.compile(r"\d\.\d+ ?(days|h)\b")
TIMESTAMP = re.compile(r"\b\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}\b")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (datetime.timedelta(seconds=20), "< 1 min"),
        (datetime.timedelta(minutes=40, seconds=59), "40 min"),
        (25 * H, "25 h"),
        (47 * H + datetime.timedelta(minutes=59), "47 h"),
        (48 * H, "2 d"),
        (76 * H, "3 d 4 h"),
        (7 * 24 * H + 20 * H, "7 d"),
        (30 * 24 * H + 5 * H, "30 d"),
        (-25 * H, "25 h"),
    ],
)
def test_durations_read_in_one_style(delta, text):
    assert duration_text(delta) == text


def test_every_reason_the_rules_set_has_words():
    from_codes = {
        "customs_hold",
        *codes.CARRIER_HOLD_CODES.values(),
        *codes.CARRIER_HOLD_REASONS.values(),
        *codes.CUSTOMS_REASONS.values(),
        *codes.DAMAGE_CODES.values(),
    }
    from_rules = {"late_departure", "late_arrival", "eta_slip", "no_events", "booking_rolled", "cargo_cutoff_missed",
                  "delivery_failed", "returned_to_sender"}  # fmt: skip
    assert from_codes | from_rules <= set(REASON_LABELS)
    assert reason_label("brand_new_reason") == "Brand new reason"


@pytest.fixture
def overdue(booked_fcl):
    order, master = booked_fcl
    detect(master)
    return order, master, ShipmentException.objects.get()


def test_the_detector_writes_words_and_whole_units(overdue):
    _, _, exception = overdue
    assert exception.detail.startswith("Leg 1 departure was planned for ")
    assert exception.detail.endswith(": 6 d overdue.")  # planned six days ago; not "6.0 days"
    assert "DEPARTED" not in exception.detail
    assert not DECIMAL_SPAN.search(exception.detail)
    assert TIMESTAMP.search(exception.detail)


def test_the_inbox_names_the_milestone_and_the_carrier(login, ops_user, overdue):
    page = login(ops_user).get(reverse("tracking_exceptions:inbox")).text
    assert '<span class="oms-chip">Departure</span>' in page  # awaited, as a noun: not "Departed"
    assert ">DEPARTED<" not in page
    assert '<span title="MAEU">Maersk</span>' in page
    assert "6 d overdue." in page
    assert "minutes" not in page  # no timesince
    assert TIMESTAMP.search(page)
    assert not DECIMAL_SPAN.search(page)


def test_the_detail_says_reason_threshold_and_times_in_words(login, ops_user, overdue):
    _, _, exception = overdue
    page = login(ops_user).get(reverse("tracking_exceptions:detail", args=[exception.pk])).text
    assert "Late departure" in page
    assert "late_departure" not in page
    assert "Rule: after 24 h" in page
    assert not DECIMAL_SPAN.search(page)  # not "rule: 24.0 h"
    assert "Awaited milestone</dt><dd>Departed</dd>" in page
    assert "Maersk <span" in page
    assert " UTC</dd>" not in page  # times carry no zone of their own: the page says it once
    assert TIMESTAMP.search(page)


def test_a_rule_without_threshold_says_so(login, ops_user, overdue):
    _, _, exception = overdue
    ExceptionRule.objects.filter(pk=exception.rule_id).update(threshold_hours=0)
    page = login(ops_user).get(reverse("tracking_exceptions:detail", args=[exception.pk])).text
    assert "Rule: no threshold" in page


def test_the_events_behind_a_hold_are_named_not_coded(login, ops_user, booked_fcl, django_assert_max_num_queries):
    from .test_rules import dcsa_event

    _, master = booked_fcl
    now = timezone.now()
    ingest(departed(), dcsa_event("SHIPMENT", "HOLD", now - 3 * H, document="CUS", created=now - 3 * H))
    detect(master)
    hold = ShipmentException.objects.get(kind=ExceptionKind.CUSTOMS_HOLD)
    client = login(ops_user)
    client.get(reverse("tracking_exceptions:inbox"))  # warm the session
    with django_assert_max_num_queries(6):
        page = client.get(reverse("tracking_exceptions:detail", args=[hold.pk])).text
    assert "Held by customs" in page
    assert "Reported as</dt><dd>Customs hold</dd>" in page
    assert "Customs hold <span" in page  # the event behind it: its milestone's name …
    assert ">Actual</span>" in page  # … and that it is an actual event
    assert ">CUSTOMS_HOLD " not in page
    assert ">ACT<" not in page


def test_the_detail_page_reads_names_without_extra_queries(login, ops_user, overdue, customer_a,
                                                           django_assert_max_num_queries):  # fmt: skip
    """The milestone's name, the rule's customer and the carrier come with the exception's own query."""
    _, _, exception = overdue
    ExceptionRule.objects.filter(pk=exception.rule_id).update(customer=customer_a)
    client = login(ops_user)
    client.get(reverse("tracking_exceptions:inbox"))  # warm the session
    with django_assert_max_num_queries(5):
        page = client.get(reverse("tracking_exceptions:detail", args=[exception.pk])).text
    assert "Acme Industrial" in page


def test_the_weekly_view_sorts_lanes_and_speaks_plainly(login, ops_user, overdue, customer_a):
    _, master, _ = overdue
    make_resolved(master, 3, customer=customer_a)  # CNSHA → DEHAM: 4 exceptions
    other = Shipment.objects.filter(pk=master.pk).values_list("origin_id", "destination_id").get()
    assert other == ("CNSHA", "DEHAM")
    for origin in ("USNYC", "BEANR"):  # one exception each on two other lanes, named out of order
        lane = Shipment.objects.get(pk=master.pk)
        lane.pk, lane.reference, lane.origin_id = None, f"M-{origin}", origin
        lane.save()
        make_resolved(lane, 1)
    moment, week = last_week()
    ShipmentException.objects.filter(opened_at__gt=moment).update(opened_at=moment)  # the detected one, into that week
    response = login(ops_user).get(reverse("tracking_exceptions:weekly"), {"week": week})
    groups = {dimension: rows for _, dimension, rows in response.context["groups"]}
    assert [row.label for row in groups["lane"]] == ["CNSHA → DEHAM", "BEANR → DEHAM", "USNYC → DEHAM"]
    page = response.text
    for heading in ("High or critical", "Resolved on its own", "Median time to resolve", "Average time to resolve"):
        assert heading in page
    for jargon in ("High+", "by itself", "Median h", "Avg h"):
        assert jargon not in page
    assert '<span class="text-secondary small">MAEU</span>' in page  # the carrier by name, its code beside it
    no_movement = next(row for row in groups["kind"] if row.code == "no_movement")
    assert no_movement.median_text == duration_text(no_movement.median)
    assert re.search(r">\d+ h<", page)
    assert not DECIMAL_SPAN.search(page)
