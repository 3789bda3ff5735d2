"""The screens: inbox (filters, keyset pages, query guard), one exception and its actions (acknowledge, take,
note, resolve with a root cause; plain and htmx), the weekly view, the order/shipment panels and the badge.
Customers and carriers get 403 on every one of them."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tracking.exceptions.models import ExceptionEntry, ExceptionKind, ShipmentException

from .conftest import detect


@pytest.fixture
def overdue(booked_fcl):
    """(order, master, exception): the booked FCL's departure is six days overdue."""
    order, master = booked_fcl
    detect(master)
    return order, master, ShipmentException.objects.get()


def last_week() -> tuple[datetime.datetime, str]:
    """(Wednesday 12:00 UTC of last week, its ISO week "2026-W49"): weekly-view data placed in a whole past week,
    so a test run early on a Monday does not see its hours-old rows fall into the week before."""
    today = timezone.now().astimezone(datetime.UTC).date()
    wednesday = today - datetime.timedelta(days=today.weekday() + 7) + datetime.timedelta(days=2)
    moment = datetime.datetime.combine(wednesday, datetime.time(12), tzinfo=datetime.UTC)
    return moment, "{}-W{:02d}".format(*moment.isocalendar()[:2])


def make_resolved(master, count, *, customer=None):
    now, _ = last_week()
    ShipmentException.objects.bulk_create(
        ShipmentException(
            kind=ExceptionKind.NO_MOVEMENT, severity=1 + n % 4, status="resolved", shipment=master, mode=master.mode,
            customer=customer, carrier_id=master.carrier_id, detail=f"Silent #{n}",
            opened_at=now - datetime.timedelta(hours=n + 2),
            resolved_at=now - datetime.timedelta(hours=1), is_auto_resolved=n % 2 == 0,
        )
        for n in range(count)
    )  # fmt: skip


def test_the_inbox_lists_open_exceptions_for_staff(login, ops_user, overdue):
    _, master, exception = overdue
    response = login(ops_user).get(reverse("tracking_exceptions:inbox"))
    assert response.status_code == 200
    assert master.reference in response.text
    assert exception.get_kind_display() in response.text


@pytest.mark.parametrize("persona", ["customer_a_user", "carrier_user"])
@pytest.mark.parametrize(
    ("name", "post"), [("inbox", False), ("weekly", False), ("detail", False), ("acknowledge", True), ("resolve", True),
                  ("note_add", True), ("take", True)],
)  # fmt: skip
def test_customers_and_carriers_are_refused(request, login, overdue, persona, name, post):
    client = login(request.getfixturevalue(persona))
    url = reverse(f"tracking_exceptions:{name}", args=[] if name in ("inbox", "weekly") else [overdue[2].pk])
    response = client.post(url, {"root_cause": "carrier", "text": "x"}) if post else client.get(url)
    assert response.status_code == 403
    assert ShipmentException.objects.get().status == "open"
    assert not ExceptionEntry.objects.filter(verb="noted")


def test_anonymous_visitors_are_sent_to_the_login(client, overdue):
    response = client.get(reverse("tracking_exceptions:detail", args=[overdue[2].pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_inbox_filters_by_kind_and_customer(login, ops_user, overdue):
    client = login(ops_user)
    assert overdue[1].reference in client.get("/exceptions/?kind=milestone_overdue&customer=acme").text
    assert overdue[1].reference not in client.get("/exceptions/?kind=customs_hold").text
    assert overdue[1].reference not in client.get("/exceptions/?customer=GLOBEX").text


def test_the_inbox_answers_htmx_with_the_results_only(login, ops_user, overdue):
    response = login(ops_user).get("/exceptions/?severity=2", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="exc-results"' in response.text
    assert "<html" not in response.text
    assert "HX-Request" in response["Vary"]


def test_the_inbox_pages_by_keyset_without_gaps_or_repeats(login, ops_user, booked_fcl):
    _, master = booked_fcl
    make_resolved(master, 60)
    client = login(ops_user)
    seen = []
    url = "/exceptions/?view=resolved&sort=severity"
    for _ in range(3):
        response = client.get(url)
        seen += [row.pk for row in response.context["page"].rows]
        if not response.context["next_url"]:
            break
        url = "/exceptions/" + response.context["next_url"]
    assert len(seen) == 60 == len(set(seen))
    severities = [ShipmentException.objects.get(pk=pk).severity for pk in seen]
    assert severities == sorted(severities, reverse=True)


def test_the_inbox_costs_the_same_queries_for_many_rows(login, ops_user, booked_fcl, customer_a,
                                                        django_assert_max_num_queries):  # fmt: skip
    _, master = booked_fcl
    make_resolved(master, 60, customer=customer_a)
    client = login(ops_user)
    client.get("/exceptions/?view=resolved")  # warm the session
    # session, user, the viewer's branch clock, the page (milestone names in the same query), the tab counts, the
    # navigation's badges
    with django_assert_max_num_queries(6):
        response = client.get("/exceptions/?view=resolved&sort=customer")
    assert len(response.context["page"].rows) == 50


def test_acknowledging_records_who_and_takes_an_unowned_exception(login, ops_user, overdue):
    response = login(ops_user).post(reverse("tracking_exceptions:acknowledge", args=[overdue[2].pk]))
    assert response.status_code == 302
    exception = ShipmentException.objects.get()
    assert exception.status == "acknowledged"
    assert exception.acknowledged_by == ops_user
    assert exception.owner == ops_user
    assert exception.entries.filter(verb="acknowledged", by=ops_user).exists()


def test_acknowledging_twice_says_so(login, ops_user, overdue):
    client = login(ops_user)
    client.post(reverse("tracking_exceptions:acknowledge", args=[overdue[2].pk]))
    response = client.post(reverse("tracking_exceptions:acknowledge", args=[overdue[2].pk]), follow=True)
    assert "already acknowledged" in response.text


def test_a_note_is_added_by_a_plain_post_and_by_htmx(login, ops_user, overdue):
    client = login(ops_user)
    url = reverse("tracking_exceptions:note_add", args=[overdue[2].pk])
    assert client.post(url, {"text": "Called Maersk: vessel delayed at Ningbo."}).status_code == 302
    response = client.post(url, {"text": "Customer informed."}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="exc-history"' in response.text
    assert "<html" not in response.text
    assert "Called Maersk" in response.text
    assert "Customer informed." in response.text
    assert ExceptionEntry.objects.filter(verb="noted", by=ops_user).count() == 2


def test_an_empty_note_is_refused(login, ops_user, overdue):
    response = login(ops_user).post(reverse("tracking_exceptions:note_add", args=[overdue[2].pk]), {"text": " "})
    assert response.status_code == 302
    assert not ExceptionEntry.objects.filter(verb="noted").exists()


def test_resolving_needs_a_root_cause(login, ops_user, overdue):
    response = login(ops_user).post(reverse("tracking_exceptions:resolve", args=[overdue[2].pk]), {"note": "done"})
    assert response.status_code == 400
    assert ShipmentException.objects.get().status == "open"


def test_resolving_by_hand_records_root_cause_and_note(login, ops_user, overdue):
    response = login(ops_user).post(
        reverse("tracking_exceptions:resolve", args=[overdue[2].pk]),
        {"root_cause": "carrier", "note": "Blank sailing; rebooked on the next vessel."},
    )
    assert response.status_code == 302
    exception = ShipmentException.objects.get()
    assert exception.status == "resolved"
    assert exception.resolved_by == ops_user
    assert not exception.is_auto_resolved
    assert exception.root_cause == "carrier"
    assert exception.resolution_note.startswith("Blank sailing")
    assert exception.entries.filter(verb="resolved", by=ops_user).exists()


def test_taking_an_exception_makes_it_yours(login, admin_user, overdue):
    login(admin_user).post(reverse("tracking_exceptions:take", args=[overdue[2].pk]))
    exception = ShipmentException.objects.get()
    assert exception.owner == admin_user
    assert "took it" in exception.entries.get(verb="assigned").text


def test_the_detail_page_shows_history_and_actions(login, ops_user, overdue):
    response = login(ops_user).get(reverse("tracking_exceptions:detail", args=[overdue[2].pk]))
    assert response.status_code == 200
    assert "Acknowledge" in response.text
    assert "Resolve" in response.text
    assert "overdue" in response.text


def test_the_weekly_view_counts_by_type_customer_carrier_and_lane(login, ops_user, overdue, customer_a,
                                                                  django_assert_max_num_queries):  # fmt: skip
    _, master, exception = overdue
    make_resolved(master, 6, customer=customer_a)
    moment, week = last_week()
    ShipmentException.objects.filter(pk=exception.pk).update(opened_at=moment)
    client = login(ops_user)
    client.get(f"/exceptions/weekly/?week={week}")
    with django_assert_max_num_queries(5):  # session, user, the viewer's branch's zone, the grouping sets, the badges
        response = client.get(f"/exceptions/weekly/?week={week}")
    groups = {dimension: rows for _, dimension, rows in response.context["groups"]}
    by_kind = {row.code: row for row in groups["kind"]}
    assert by_kind["no_movement"].opened == 6
    assert by_kind["no_movement"].resolved == 6
    assert by_kind["no_movement"].auto_resolved == 3
    assert by_kind["no_movement"].median is not None
    assert by_kind["milestone_overdue"].still_open == 1
    assert {row.code for row in groups["customer"]} == {"ACME"}
    assert [row.code for row in groups["carrier"]] == ["MAEU"]
    assert [row.label for row in groups["lane"]] == ["CNSHA → DEHAM"]


def test_the_order_and_shipment_pages_load_a_panel(login, ops_user, overdue):
    order, master, exception = overdue
    client = login(ops_user)
    assert (
        reverse("tracking_exceptions:order_panel", args=[order.reference])
        in client.get(reverse("orders:detail", args=[order.reference])).text
    )
    panel = client.get(reverse("tracking_exceptions:order_panel", args=[order.reference]))
    assert exception.get_absolute_url() in panel.text
    shipment_panel = client.get(reverse("tracking_exceptions:shipment_panel", args=[master.reference]))
    assert exception.get_absolute_url() in shipment_panel.text


def test_the_navigation_badge_counts_open_exceptions_of_mine_or_nobodys(login, ops_user, overdue,
                                                                        django_assert_max_num_queries):  # fmt: skip
    from workflows.selectors import nav_counts

    with django_assert_max_num_queries(1):
        assert nav_counts(user=ops_user)["exceptions"] == 1
    ShipmentException.objects.update(status="acknowledged")
    assert nav_counts(user=ops_user)["exceptions"] == 0
