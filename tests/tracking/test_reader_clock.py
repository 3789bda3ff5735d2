"""The portal and the search run on their reader's clock and name it (docs/planning.md, "Which clock a screen
uses"): a customer reads its orders, delays, tracking links and public page on its own organisation's clock, a
carrier its legs on its own, staff the search on their branch's. Until now the portal ran on the server's zone (UTC):
ACME in Chicago and Globex in Shanghai, whose cargo sails on one master, read its departure at the same "UTC" hour.
"""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oms.templatetags.oms_dates import oms_datetime
from orders.models import Order
from partners import services as partner_services
from partners.models import Organisation, Role
from portal.links import tracking_link_create
from portal.models import TrackingLink
from tests.factories import OrganisationFactory, UserFactory
from tests.tracking.conftest import lcl_line
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures (booked_fcl, fresh_mapping …)
from tests.tracking.test_ingest_support import NOW, oms_event
from tracking.exceptions.models import ExceptionKind, ShipmentException
from tracking.ingest import services as ingest_services
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import SourceKind
from tracking.ingest.services import Source
from tracking.models import ConsolidatedHouse
from tracking.services import consolidation

CHICAGO, SHANGHAI = zoneinfo.ZoneInfo("America/Chicago"), zoneinfo.ZoneInfo("Asia/Shanghai")
# One instant, 14 hours apart on the two clocks: often a different day too.
DEPARTED = (NOW - datetime.timedelta(hours=30)).replace(second=0)


def _at(moment: datetime.datetime, zone: datetime.tzinfo) -> str:
    """`moment` as the screens write it (oms_datetime: "6 Dec, 14:28") on `zone`'s clock."""
    return oms_datetime(moment.astimezone(zone))


def _zone(organisation: Organisation, name: str) -> None:
    organisation.time_zone = name
    organisation.save(update_fields=["time_zone"])


@pytest.fixture
def two_customers(customer_a, customer_b):
    """ACME in Chicago, Globex in Shanghai."""
    _zone(customer_a, "America/Chicago")
    _zone(customer_b, "Asia/Shanghai")
    return customer_a, customer_b


@pytest.fixture
def sailed(make_order, ops_user, two_customers, fresh_mapping):
    """(master, ACME's order, Globex's order): one master carrying both, which departed at DEPARTED."""
    acme = make_order(lines=[lcl_line(1500, 5)])
    globex = make_order(lines=[lcl_line(1500, 5)], customer_code="GLOBEX", consignee_name="Globex Retail")
    master = consolidation.consolidation_create(orders=[acme, globex], container_type="22G1", by=ops_user)
    event = oms_event("DEPARTED", DEPARTED, subject=("shipment", master.reference), place="CNSHA")
    ingest_services.events_ingest(events=[read_oms(event)], source=Source(kind=SourceKind.WEBHOOK, name="feed"))
    assert ConsolidatedHouse.objects.filter(master=master).count() == 2
    return master, Order.objects.get(pk=acme.pk), Order.objects.get(pk=globex.pk)


# --- The order's timeline ---------------------------------------------------------------------------------------


def test_each_customer_reads_the_same_departure_on_its_own_clock(sailed, login, customer_a_user, customer_b_user):
    _, acme, globex = sailed
    for user, order, zone, other in (
        (customer_a_user, acme, CHICAGO, SHANGHAI),
        (customer_b_user, globex, SHANGHAI, CHICAGO),
    ):
        response = login(user).get(reverse("tracking_ingest:order_timeline", args=[order.reference]))
        html = response.content.decode()
        assert response.status_code == 200
        assert _at(DEPARTED, zone) in html, f"{zone.key}: the departure is not on the customer's clock"
        assert _at(DEPARTED, other) not in html
        assert _at(DEPARTED, datetime.UTC) not in html, "the server's clock (UTC)"
        assert f"Times in {zone.key} (your organisation's clock)." in html


def test_the_timelines_refresh_stays_on_the_customers_clock(sailed, login, customer_b_user):
    _, _, globex = sailed
    url = reverse("tracking_ingest:order_timeline", args=[globex.reference])
    body = login(customer_b_user).get(url, {"part": "body"}, HTTP_HX_REQUEST="true").content.decode()
    assert _at(DEPARTED, SHANGHAI) in body
    assert "Times in Asia/Shanghai (your organisation's clock)." in body


def test_staff_keep_the_orders_branch_clock_on_the_timeline(sailed, login, ops_user, branch):
    _zone(branch, "Europe/Berlin")
    _, acme, _ = sailed
    html = login(ops_user).get(reverse("tracking_ingest:order_timeline", args=[acme.reference])).content.decode()
    assert _at(DEPARTED, zoneinfo.ZoneInfo("Europe/Berlin")) in html
    assert "Times in Europe/Berlin (the branch's clock;" in html
    assert "your organisation" not in html


# --- The portal's home: delays and holds -------------------------------------------------------------------------


def test_each_customer_reads_a_hold_on_the_master_on_its_own_clock(sailed, login, customer_a_user, customer_b_user):
    master, _, _ = sailed
    held = ShipmentException.objects.create(
        kind=ExceptionKind.CUSTOMS_HOLD, shipment=master, mode=master.mode, detail="Held at Hamburg customs",
        opened_at=DEPARTED,
    )  # fmt: skip
    for user, zone, other in ((customer_a_user, CHICAGO, SHANGHAI), (customer_b_user, SHANGHAI, CHICAGO)):
        html = login(user).get(reverse("portal:home")).content.decode()
        assert held.get_kind_display() in html
        reported = _at(DEPARTED, zone)
        assert f'<td class="tabular-nums text-nowrap" data-label="Reported">{reported}</td>' in html
        assert _at(DEPARTED, other) not in html
        assert f"resolved in the last 7 days · times in {zone.key}" in html


# --- A carrier's legs ---------------------------------------------------------------------------------------------


@pytest.fixture
def maersk_user(ocean_carriers):
    user = UserFactory(email="desk@maersk.test")
    partner_services.membership_grant(user=user, organisation=ocean_carriers[0], role=Role.PARTNER)
    return user


@pytest.mark.parametrize("zone", [CHICAGO, SHANGHAI], ids=lambda zone: zone.key)
def test_a_carrier_reads_the_legs_it_carries_on_its_own_clock(booked_fcl, ocean_carriers, maersk_user, login, zone):
    _zone(ocean_carriers[0], zone.key)
    order, master = booked_fcl
    departure = master.legs.get().planned_departure_at
    client = login(maersk_user)

    shipments = client.get(reverse("portal:shipments")).content.decode()
    assert _at(departure, zone) + ' <span class="text-secondary small">planned</span>' in shipments
    assert f"Departures and arrivals in {zone.key}, your organisation's clock" in shipments

    home = client.get(reverse("portal:home")).content.decode()
    assert _at(departure, zone) + ' <span class="text-secondary small">planned</span>' in home
    assert f"soonest first · times in {zone.key}" in home

    timeline = client.get(reverse("tracking_ingest:order_timeline", args=[order.reference])).content.decode()
    assert f"Times in {zone.key} (your organisation's clock)." in timeline


# --- Tracking links -----------------------------------------------------------------------------------------------


@pytest.fixture
def links(sailed, ops_user):
    """A link to each customer's order, made at DEPARTED and opened an hour later."""
    _, acme, globex = sailed
    made = {}
    for order in (acme, globex):
        link, token = tracking_link_create(order=order, by=ops_user, note="the consignee")
        TrackingLink.objects.filter(pk=link.pk).update(
            created_at=DEPARTED, opened_count=1, last_opened_at=DEPARTED + datetime.timedelta(hours=1)
        )
        made[order.reference] = (link, token)
    return made


def test_each_customer_reads_its_links_on_its_own_clock(sailed, links, login, customer_a_user, customer_b_user):
    _, acme, globex = sailed
    for user, order, zone, other in (
        (customer_a_user, acme, CHICAGO, SHANGHAI),
        (customer_b_user, globex, SHANGHAI, CHICAGO),
    ):
        client = login(user)
        made = _at(DEPARTED, zone)
        opened = "last " + _at(DEPARTED + datetime.timedelta(hours=1), zone)
        page = client.get(reverse("portal:tracking_links", args=[order.reference])).content.decode()
        assert made in page, f"{zone.key}: the link's making is not on the customer's clock"
        assert opened in page
        assert _at(DEPARTED, other) not in page
        assert f'Links made <span class="text-secondary small fw-normal">· times in {zone.key}</span>' in page

        link, _ = links[order.reference]
        revoke = client.get(reverse("portal:tracking_link_revoke", args=[order.reference, link.pk])).content.decode()
        assert made in revoke
        assert opened in revoke
        assert f'<p class="oms-page-subtitle">Times in {zone.key}.</p>' in revoke


def test_staff_read_an_orders_links_on_its_branchs_clock(sailed, links, login, ops_user, branch):
    _zone(branch, "Europe/Berlin")
    _, acme, _ = sailed
    page = login(ops_user).get(reverse("portal:tracking_links", args=[acme.reference])).content.decode()
    assert _at(DEPARTED, zoneinfo.ZoneInfo("Europe/Berlin")) in page
    assert "times in Europe/Berlin" in page


def test_the_public_page_runs_on_the_orders_customers_clock_and_names_it(sailed, links, client):
    _, acme, globex = sailed
    for order, zone, other in ((acme, CHICAGO, SHANGHAI), (globex, SHANGHAI, CHICAGO)):
        _, token = links[order.reference]
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("public_tracking", args=[token]))
        # The customer's zone comes with the link's own query: no query of the customer's row.
        assert not any('FROM "partners_organisation"' in query["sql"] for query in queries.captured_queries)
        html = response.content.decode()
        assert response.status_code == 200
        departed = _at(DEPARTED, zone)
        assert f'{departed} <span class="text-secondary">actual</span>' in html
        assert _at(DEPARTED, other) not in html
        assert f"Times in {zone.key}." in html
        assert order.customer.name not in html  # the zone is all of the customer the page shows
        assert order.customer.code not in html


# --- The search ---------------------------------------------------------------------------------------------------


def test_the_search_shows_when_an_order_was_created_on_the_viewers_clock(make_order, login, ops_user, branch, company):
    _zone(branch, "America/Chicago")
    shanghai = OrganisationFactory(code="SHA", name="OMS Shanghai", kinds=["branch"], parent=company)
    _zone(shanghai, "Asia/Shanghai")
    planner = UserFactory(email="planner@oms.test")
    partner_services.membership_grant(user=planner, organisation=shanghai, role=Role.OPERATIONS)
    order = make_order()
    Order.objects.filter(pk=order.pk).update(created_at=DEPARTED)

    for user, zone, other in ((ops_user, CHICAGO, SHANGHAI), (planner, SHANGHAI, CHICAGO)):
        html = login(user).get(reverse("search"), {"q": order.customer_reference}).content.decode()
        assert order.reference in html
        created = _at(DEPARTED, zone)
        assert f'<td class="tabular-nums">{created}</td>' in html, f"{zone.key}: not the viewer's clock"
        assert _at(DEPARTED, other) not in html
        assert f'<span class="text-secondary fw-normal small">times in {zone.key}</span>' in html
