"""The order list and its exports run on the viewer's own branch's clock and say so (docs/planning.md, "Which clock a
screen uses"); the API stays in UTC. From review I: HAM-26-000151, created 04:19 in Hamburg, read "03:19" (UTC) in
the list, also to a Shanghai planner (11:19 there), whose "created from / to" days ran 08:00 to 08:00."""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from oms.templatetags.oms_dates import oms_datetime
from orders.models import Order
from partners import services
from partners.models import OrganisationKind, Role
from partners.scoping import scope_for_user
from partners.time_zones import viewer_zone
from tests.factories import OrganisationFactory, UserFactory

UTC = datetime.UTC
LIST = reverse("orders:list")
CREATED = datetime.datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # Mon 7 Dec 07:30 in Shanghai, Sun 6 Dec in UTC
IN_SHANGHAI = oms_datetime(CREATED.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")))  # "7 Dec, 07:30" in 2026
IN_UTC = oms_datetime(CREATED)


@pytest.fixture
def shanghai_ops(ops_user, branch):
    branch.time_zone = "Asia/Shanghai"
    branch.save(update_fields=["time_zone"])
    return ops_user


@pytest.fixture
def early_order(order_factory):
    order = order_factory(submit=True)
    Order.objects.filter(pk=order.pk).update(created_at=CREATED)
    return order


def test_the_order_list_shows_when_an_order_was_created_on_the_viewers_clock(login, shanghai_ops, early_order):
    page = login(shanghai_ops).get(LIST).content.decode()
    assert early_order.reference in page
    assert IN_SHANGHAI in page, f"the created time is shown in UTC ({IN_UTC})"
    assert IN_UTC not in page
    assert "· times in Asia/Shanghai" in page  # the results bar names the clock
    assert 'title="Days in Asia/Shanghai"' in page  # and the Created filter the days it counts


def test_a_filter_change_answers_on_the_viewers_clock_too(login, shanghai_ops, early_order):
    fragment = login(shanghai_ops).get(LIST, {"status": "submitted"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="order-results"' in fragment
    assert IN_SHANGHAI in fragment
    assert "· times in Asia/Shanghai" in fragment


def test_the_order_lists_created_days_are_the_viewers_days(login, shanghai_ops, early_order):
    client = login(shanghai_ops)
    page = client.get(LIST, {"created_from": "2026-12-07", "created_to": "2026-12-07"})
    assert early_order.reference in page.content.decode(), "an order created on 7 Dec in Shanghai is not of 7 Dec"
    page = client.get(LIST, {"created_from": "2026-12-06", "created_to": "2026-12-06"})
    assert early_order.reference not in page.content.decode(), "6 Dec in UTC is 7 Dec in Shanghai"


def test_a_viewer_on_utc_keeps_the_utc_days(login, ops_user, early_order):
    client = login(ops_user)  # the branch of the fixtures runs on UTC
    assert early_order.reference in client.get(LIST, {"created_to": "2026-12-06"}).content.decode()
    assert IN_UTC in client.get(LIST).content.decode()


def csv_rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_export_writes_the_viewers_time_with_its_offset(login, shanghai_ops, early_order):
    response = login(shanghai_ops).get(
        reverse("orders:export", args=["csv"]), {"created_from": "2026-12-07", "created_to": "2026-12-07"}
    )
    (row,) = csv_rows(response)  # the export counts the viewer's days, as the list does
    assert row["reference"] == early_order.reference
    assert row["created_at"] == "2026-12-07T07:30:00+08:00"  # the column keeps its intake name
    assert datetime.datetime.fromisoformat(row["created_at"]) == CREATED  # the same instant, read exactly


def test_the_xlsx_export_names_the_zone_of_its_date_cells(login, shanghai_ops, early_order):
    response = login(shanghai_ops).get(reverse("orders:export", args=["xlsx"]))
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    header, row = list(workbook["Orders"].iter_rows(values_only=True))
    assert header[-1] == "created_at (Asia/Shanghai)"
    assert isinstance(row[-1], datetime.datetime)  # a date cell (Excel's hold no zone) ...
    assert row[-1].isoformat() == "2026-12-07T07:30:00"  # ... on the clock the header names


def test_the_export_file_is_named_on_the_viewers_clock(login, shanghai_ops, early_order, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: CREATED)
    response = login(shanghai_ops).get(reverse("orders:export", args=["csv"]))
    assert 'filename="orders-20261207-0730.csv"' in response["Content-Disposition"]


def test_the_api_keeps_utc(client, branch, early_order):
    branch.time_zone = "Asia/Shanghai"
    branch.save(update_fields=["time_zone"])
    key = services.api_key_create(organisation=branch, name="Shanghai BI")[1]
    url = reverse("api-order-detail", args=[early_order.reference])
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    assert datetime.datetime.fromisoformat(response.json()["created_at"]).utcoffset() == datetime.timedelta(0)


def test_the_lists_clock_is_the_viewers_branch_as_everywhere_else(company, branch, ops_user):
    """The list reads partners.time_zones.viewer_zone, from the zone the request's scope loads with the memberships
    (no query of its own): the first of the viewer's branches by id, else (company-wide staff) the server's zone."""
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    later = OrganisationFactory(code="SHA", kinds=[OrganisationKind.BRANCH], parent=company, time_zone="Asia/Shanghai")
    services.membership_grant(user=ops_user, organisation=later, role=Role.OPERATIONS)
    admin = UserFactory(email="hq@oms.test")
    services.membership_grant(user=admin, organisation=company, role=Role.ADMIN)
    for user, expected in ((ops_user, "Europe/Berlin"), (admin, "UTC")):
        assert viewer_zone(scope_for_user(user)) == zoneinfo.ZoneInfo(expected)
