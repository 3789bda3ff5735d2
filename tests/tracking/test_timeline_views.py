"""The timeline: the staff card (full, htmx fragment, 15 s body), the customer-safe version, the API,
manual entry on the order page, and scoping with two customers and two carriers."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from oms.templatetags.oms_dates import oms_date, oms_datetime
from orders.models import OrderStatus
from partners import services as partner_services
from partners.models import Role
from tests.factories import UserFactory
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import BILL, ETA, ETD, NOW, dcsa_event, oms_event
from tracking.ingest import selectors, services
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import (
    AdapterKind,
    CarrierEndpoint,
    SourceKind,
    SubjectType,
    TrackingEvent,
    TrackingSubscription,
)
from tracking.ingest.services import Source

H = datetime.timedelta(hours=1)


@pytest.fixture
def tracked(booked_fcl):
    """The booked FCL order after a few events: gate-in, loaded, departed, an ETA that slipped, one unknown code."""
    order, master = booked_fcl
    raw = [
        dcsa_event("EQUIPMENT", "GTIN", ETD - 30 * H, event_id="g"),
        dcsa_event("EQUIPMENT", "LOAD", ETD - 6 * H, event_id="l"),
        dcsa_event("TRANSPORT", "DEPA", ETD, event_id="d"),
        dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=ETD - 2 * H, event_id="e1"),
        dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM", created=NOW - H, event_id="e2"),
    ]
    source = Source(kind=SourceKind.DCSA, name="MAEU")
    services.events_ingest(events=[read_dcsa(e) for e in raw], source=source)
    unknown = oms_event("X", ETD + H, code="ZZ9", scheme="x12_214") | {"milestone": None}
    services.events_ingest(events=[read_oms(unknown)], source=Source(kind=SourceKind.WEBHOOK, name="acme"))
    order.refresh_from_db()
    return order, master


def member(email, organisation, role):
    user = UserFactory(email=email)
    partner_services.membership_grant(user=user, organisation=organisation, role=role)
    return user


@pytest.fixture
def maersk_user(ocean_carriers):
    return member("desk@maersk.test", ocean_carriers[0], Role.PARTNER)


@pytest.fixture
def hapag_user(ocean_carriers):
    return member("desk@hapag.test", ocean_carriers[1], Role.PARTNER)


def page(client, order, **extra):
    return client.get(f"/tracking/orders/{order.reference}/", **extra)


def test_staff_see_every_milestone_with_plan_estimate_actual_and_the_raw_events(login, ops_user, tracked):
    order, _ = tracked
    response = page(login(ops_user), order)
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Departed",
        "Loaded",
        "Received at origin",
        "EQUIPMENT:LOAD:LADEN",
        "dcsa:MAEU",
        "Record a milestone",
        "later than planned",
        "How the ETA moved (2 estimates)",
        "x12_214 ZZ9",
        "Legs",
        "Maersk Essen",
    ):
        assert text in html, text
    assert order.status == OrderStatus.IN_TRANSIT


def test_the_order_page_fragment_loads_then_refreshes_its_body_every_15_seconds(login, ops_user, tracked):
    order, _ = tracked
    client = login(ops_user)
    card = page(client, order, HTTP_HX_REQUEST="true")
    assert b"<html" not in card.content
    assert b'id="order-timeline"' in card.content
    assert b'hx-trigger="every 15s"' in card.content
    assert "HX-Request" in card["Vary"]
    body = client.get(f"/tracking/orders/{order.reference}/?part=body", HTTP_HX_REQUEST="true")
    assert body.content.decode().lstrip().startswith('<div id="order-timeline-body"')
    assert b"Record a milestone" not in body.content  # the form is outside what refreshes


def test_the_placeholder_needs_only_the_order(rf, tracked):
    from django.template.loader import render_to_string

    order, _ = tracked
    html = render_to_string("tracking/ingest/_order_timeline.html", {"order": order})
    assert f'hx-get="/tracking/orders/{order.reference}/"' in html
    assert 'hx-trigger="load"' in html


def test_a_customer_sees_its_own_timeline_without_codes_sources_or_errors(login, customer_a_user, tracked):
    order, _ = tracked
    html = page(login(customer_a_user), order).content.decode()
    assert "Departed" in html
    assert "oms-portal" in html
    for hidden in ("EQUIPMENT:LOAD:LADEN", "dcsa:MAEU", "x12_214", "Record a milestone", "Source"):
        assert hidden not in html, hidden


def test_another_customer_gets_404(login, customer_b_user, tracked):
    order, _ = tracked
    assert page(login(customer_b_user), order).status_code == 404


def test_the_carrier_sees_the_order_it_carries_and_another_carrier_does_not(
    login, client, maersk_user, hapag_user, tracked
):
    order, _ = tracked
    assert page(login(maersk_user), order).status_code == 200
    client.logout()
    assert page(login(hapag_user), order).status_code == 404


def test_the_api_timeline_for_staff_has_the_events_behind_each_milestone(login, ops_user, tracked):
    order, _ = tracked
    data = login(ops_user).get(f"/api/v1/orders/{order.reference}/timeline/").json()
    assert data["order"] == order.reference
    assert data["status"] == "in_transit"
    departed = next(m for m in data["milestones"] if m["code"] == "DEPARTED")
    assert departed["state"] == "done"
    assert departed["location"] == "CNSHA"
    assert departed["events"][0]["code"] == "TRANSPORT:DEPA"
    assert [h["estimated_at"] for h in data["eta_history"]][-1].startswith((ETA + 30 * H).strftime("%Y-%m-%dT%H"))
    assert data["tracking_stale"] is False
    assert data["legs"][0]["conveyance"].startswith("Maersk Essen")


def test_the_api_timeline_for_a_customer_key_is_customer_safe_and_scoped(client, customer_a, customer_b, tracked):
    order, _ = tracked
    own = partner_services.api_key_create(organisation=customer_a, name="ERP")[1]
    other = partner_services.api_key_create(organisation=customer_b, name="ERP")[1]
    url = f"/api/v1/orders/{order.reference}/timeline/"
    data = client.get(url, HTTP_AUTHORIZATION=f"Bearer {own}").json()
    assert "tracking_stale" not in data
    assert all("events" not in milestone for milestone in data["milestones"])
    assert "ZZ9" not in str(data)
    missing = client.get(url, HTTP_AUTHORIZATION=f"Bearer {other}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def _missing_required(schema: dict, body: dict) -> list[str]:
    components = schema["components"]["schemas"]
    missing = [name for name in components["Timeline"]["required"] if name not in body]
    for milestone in body["milestones"]:
        missing += [f"milestones[].{name}" for name in components["MilestoneOut"]["required"] if name not in milestone]
    return sorted(set(missing))


def test_every_timeline_answer_has_what_the_schema_requires(client, login, ops_user, customer_a, tracked):
    # The staff-only fields are left out for customers: the schema lists them as optional, not as required and null,
    # so a client generated from it parses a customer's timeline.
    order, _ = tracked
    url = f"/api/v1/orders/{order.reference}/timeline/"
    schema = client.get("/api/schema/?format=json").json()
    own = partner_services.api_key_create(organisation=customer_a, name="ERP")[1]
    customers = client.get(url, HTTP_AUTHORIZATION=f"Bearer {own}").json()
    staffs = login(ops_user).get(url).json()

    assert _missing_required(schema, customers) == []
    assert _missing_required(schema, staffs) == []
    assert "tracking_stale" not in customers
    assert all("events" not in milestone for milestone in customers["milestones"])
    staff_only = (schema["components"]["schemas"]["Timeline"]["properties"]["tracking_stale"],
                  schema["components"]["schemas"]["MilestoneOut"]["properties"]["events"])  # fmt: skip
    assert [field["description"].startswith("Staff keys only") for field in staff_only] == [True, True]
    assert [field.get("nullable", False) for field in staff_only] == [False, False]  # staff always get a value


def test_the_api_timeline_for_a_carrier_key_only_covers_what_it_carries(client, ocean_carriers, tracked):
    order, _ = tracked
    maersk, hapag = ocean_carriers
    url = f"/api/v1/orders/{order.reference}/timeline/"
    maersk_key = partner_services.api_key_create(organisation=maersk, name="EDI")[1]
    hapag_key = partner_services.api_key_create(organisation=hapag, name="EDI")[1]
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {maersk_key}").status_code == 200
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {hapag_key}").status_code == 404


def test_operations_record_a_milestone_by_hand_and_the_card_comes_back(login, ops_user, tracked):
    order, master = tracked
    arrived = (ETD + 20 * H).astimezone(datetime.timezone(datetime.timedelta(hours=1))).replace(second=0)
    response = login(ops_user).post(
        f"/tracking/orders/{order.reference}/events/",
        {
            "milestone": "ARRIVED",
            "classifier": "ACT",
            "occurred_at": arrived.strftime("%Y-%m-%dT%H:%M"),
            "time_zone": "Europe/Berlin",
            "location": "de ham",
            "note": "Berthed at CTA",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b'id="order-timeline"' in response.content
    event = TrackingEvent.objects.get(milestone="ARRIVED", classifier="ACT")
    assert (event.source_kind, event.recorded_by, event.location_code, event.reason) == (
        "manual",
        ops_user,
        "DEHAM",
        "Berthed at CTA",
    )
    assert event.event_offset_minutes == 60
    order.refresh_from_db()
    assert order.status == OrderStatus.ARRIVED
    assert master.legs.get().actual_arrival_at == arrived


@pytest.mark.parametrize("zone", ["Europe", "Asia", "Europe/Hamburg", "CET+1"])
def test_a_time_zone_that_is_no_zone_is_a_form_error_not_a_500(login, ops_user, tracked, zone):
    order, _ = tracked
    client = login(ops_user)
    client.raise_request_exception = False
    response = client.post(
        f"/tracking/orders/{order.reference}/events/",
        {"milestone": "DEPARTED", "classifier": "ACT", "occurred_at": "2026-03-05T08:55", "time_zone": zone,
         "location": "CNSHA", "note": ""},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.status_code == 200, f"time zone {zone!r} gave {response.status_code}"
    assert "is not a time zone name" in response.content.decode()
    assert not TrackingEvent.objects.filter(source_kind="manual").exists()


def test_a_raw_event_shows_the_local_time_at_the_place_it_was_sent_with(login, ops_user, booked_fcl):
    order, _ = booked_fcl
    shanghai = datetime.timezone(datetime.timedelta(hours=8))
    loaded_at = (ETD - 6 * H).astimezone(shanghai)
    raw = dcsa_event("EQUIPMENT", "LOAD", loaded_at, event_id="load-1")
    raw["eventDateTime"] = loaded_at.isoformat()  # 2026-…T14:00:00+08:00, as a Shanghai terminal sends it
    services.events_ingest(events=[read_dcsa(raw)], source=Source(kind=SourceKind.DCSA, name="MAEU"))

    with timezone.override("America/New_York"):  # whatever the server's zone: the place's time, not the viewer's
        html = page(login(ops_user), order).content.decode()

    assert f"{oms_datetime(loaded_at)} +0800" in html, "the row titled 'Local time at the place' shows another time"


def test_a_manual_actual_in_the_future_is_refused_with_the_reason(login, ops_user, tracked):
    order, _ = tracked
    later = (NOW + 48 * H).strftime("%Y-%m-%dT%H:%M")
    response = login(ops_user).post(
        f"/tracking/orders/{order.reference}/events/",
        {"milestone": "DELIVERED", "classifier": "ACT", "occurred_at": later, "time_zone": "UTC"},
        HTTP_HX_REQUEST="true",
    )
    assert b"cannot lie in the future" in response.content
    assert not TrackingEvent.objects.filter(milestone="DELIVERED").exists()


@pytest.mark.parametrize("who", ["sales_user", "customer_a_user"])
def test_only_operations_record_milestones(request, login, tracked, who):
    order, _ = tracked
    response = login(request.getfixturevalue(who)).post(
        f"/tracking/orders/{order.reference}/events/",
        {"milestone": "ARRIVED", "classifier": "ACT", "occurred_at": "2026-11-20T10:00", "time_zone": "UTC"},
    )
    assert response.status_code == 403
    assert not TrackingEvent.objects.filter(milestone="ARRIVED", classifier="ACT").exists()


def test_the_monitor_lists_feeds_alerts_and_latest_events(login, ops_user, tracked):
    html = login(ops_user).get("/tracking/").content.decode()
    assert "Codes without a mapping" in html
    assert "ZZ9" in html
    assert "TRANSPORT:DEPA" in html


def test_the_monitor_is_for_staff(login, customer_a_user):
    assert login(customer_a_user).get("/tracking/").status_code == 403


@pytest.fixture
def arrived(tracked):
    """The tracked order (its ETA slipped to 30 h late) after the vessel arrived at DEHAM an hour ago."""
    order, master = tracked
    event = dcsa_event("TRANSPORT", "ARRI", NOW - H, place="DEHAM", event_id="a")
    services.events_ingest(events=[read_dcsa(event)], source=Source(kind=SourceKind.DCSA, name="MAEU"))
    order.refresh_from_db()
    return order, master


def test_the_api_timeline_gives_the_actual_arrival_and_no_eta_once_arrived(login, ops_user, arrived):
    order, _ = arrived
    data = login(ops_user).get(f"/api/v1/orders/{order.reference}/timeline/").json()
    assert data["eta"] is None
    assert datetime.datetime.fromisoformat(data["arrived_at"]) == NOW - H
    assert data["delivered_at"] is None
    assert len(data["eta_history"]) == 2  # the estimates are kept


def test_the_api_timeline_gives_the_eta_while_on_the_way(login, ops_user, tracked):
    order, _ = tracked
    data = login(ops_user).get(f"/api/v1/orders/{order.reference}/timeline/").json()
    assert datetime.datetime.fromisoformat(data["eta"]) == ETA + 30 * H
    assert (data["arrived_at"], data["delivered_at"]) == (None, None)


def test_the_card_shows_the_arrival_not_an_eta_later_than_planned_once_arrived(login, ops_user, arrived):
    order, _ = arrived
    html = page(login(ops_user), order).content.decode()
    eta_block = html.split('class="trk-eta"', 1)[1].split("trk-steps", 1)[0]
    assert "later than planned" not in eta_block
    assert "ETA DEHAM" not in eta_block
    assert "Arrived" in eta_block
    assert oms_datetime(timezone.localtime(NOW - H), "weekday") in eta_block
    headline = eta_block.split('class="trk-eta-value">', 1)[1].split("</div>", 1)[0]
    assert oms_date(timezone.localtime(ETA + 30 * H), "weekday") not in headline  # only in how the ETA moved


def test_the_card_shows_the_slipped_eta_while_on_the_way(login, ops_user, tracked):
    order, _ = tracked
    html = page(login(ops_user), order).content.decode()
    assert "later than planned" in html
    assert timezone.localtime(ETA + 30 * H).strftime("%a %-d %b %Y, %H:%M") in html


def test_the_card_shows_the_delivery_once_delivered(login, customer_a_user, arrived):
    order, _ = arrived
    delivered = oms_event("DELIVERED", NOW - 10 * datetime.timedelta(minutes=1), subject=("bill", BILL), place="DEHAM")
    services.events_ingest(events=[read_oms(delivered)], source=Source(kind=SourceKind.WEBHOOK, name="feed"))
    html = page(login(customer_a_user), order).content.decode()
    eta_block = html.split('class="trk-eta"', 1)[1].split("trk-steps", 1)[0]
    assert "Delivered" in eta_block
    assert "ETA DEHAM" not in eta_block
    assert "later than planned" not in eta_block


def test_the_stale_notice_names_the_last_answer_not_the_flag(login, ops_user, booked_fcl, ocean_carriers):
    order, master = booked_fcl
    endpoint = CarrierEndpoint.objects.create(carrier=ocean_carriers[0], kind=AdapterKind.DCSA,
                                              base_url="https://dcsa.example")  # fmt: skip
    last_answer, flagged = NOW - 5 * H, NOW - H
    TrackingSubscription.objects.create(
        shipment=master, endpoint=endpoint, reference_type=SubjectType.BILL, reference=master.bill_number,
        last_success_at=last_answer, consecutive_failures=6, is_stale=True, stale_since=flagged,
        last_error="dcsa.example answered 500 Internal Server Error.",
    )  # fmt: skip
    notice = page(login(ops_user), order).content.decode().split("Tracking stale:", 1)[1].split("</div>", 1)[0]
    assert f"has not answered since {oms_datetime(timezone.localtime(last_answer))}" in notice
    assert f"flagged stale {oms_datetime(timezone.localtime(flagged))}" in notice


def test_a_milestone_recorded_through_htmx_says_what_it_did_on_the_same_page(login, ops_user, tracked):
    """Walk H4: the card came back without the message ("Arrived recorded." and what the event changed or could not),
    which waited in the session and appeared on whatever page the person opened next, out of context."""
    order, _ = tracked
    client = login(ops_user)
    arrived = (ETD + 20 * H).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/tracking/orders/{order.reference}/events/",
        {"milestone": "ARRIVED", "classifier": "ACT", "occurred_at": arrived, "time_zone": "UTC", "location": "DEHAM"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert 'id="oms-messages" class="oms-messages" aria-live="polite" hx-swap-oob="true"' in html
    assert "Arrived recorded." in html
    assert "Arrived recorded." not in client.get("/orders/").content.decode(), "shown again on the next page"


def test_the_card_refreshing_itself_leaves_the_messages_to_the_page(login, ops_user, tracked):
    order, _ = tracked
    html = login(ops_user).get(f"/tracking/orders/{order.reference}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="order-timeline"' in html
    assert "oms-messages" not in html


def test_a_future_actual_typed_on_the_form_is_refused_in_the_forms_words(login, ops_user, tracked):
    """Walk H4: the form said "send it as EST or PLN" with the time in UTC, the words of a carrier's feed; the person
    picked "Actual" in a list of Actual, Estimated and Planned and typed the time on Berlin's clock."""
    order, _ = tracked
    typed = (NOW + 48 * H).astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    response = login(ops_user).post(
        f"/tracking/orders/{order.reference}/events/",
        {"milestone": "DELIVERED", "classifier": "ACT", "occurred_at": typed.strftime("%Y-%m-%dT%H:%M"),
         "time_zone": "Europe/Berlin"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    html = response.content.decode()
    assert f"cannot lie in the future ({typed.day} {typed:%b %Y, %H:%M} Europe/Berlin)" in html
    assert "record it as Estimated or Planned" in html
    assert "EST or PLN" not in html
    assert not TrackingEvent.objects.filter(milestone="DELIVERED").exists()


def test_the_monitor_says_once_who_maps_a_code_instead_of_a_column_that_overflowed(
    login, ops_user, admin_user, tracked
):
    """Walk H4: operations read "an admin maps it" in a fourth column of the narrow card, which at 1280 px broke into a
    word a line and ran past the card's edge. They read it once under the codes; an admin keeps the "Map…" column."""
    ops_page = login(ops_user).get("/tracking/").content.decode()
    assert "an admin maps it" not in ops_page
    assert ops_page.count("An admin maps these codes in the configuration console") == 1
    assert "/admin/tracking/mappingalert/" not in ops_page
    admin_page = login(admin_user).get("/tracking/").content.decode()
    assert "Map…" in admin_page
    assert "/admin/tracking/mappingalert/" in admin_page
    assert "An admin maps these codes" not in admin_page


def test_an_update_less_than_a_minute_old_reads_just_now(login, ops_user, tracked):
    """Walk H4: the card's footer read "Last carrier update 0 minutes ago" (Django's timesince under a minute)."""
    order, _ = tracked
    html = page(login(ops_user), order).content.decode()
    assert "Last carrier update just now." in html
    assert "0\xa0minutes ago" not in html
    assert "0 minutes ago" not in html


def test_a_place_typed_by_hand_must_be_one_we_know(login, ops_user, tracked):
    """Walk H4: "QQQQQ" (five letters, no place) was stored, and the customer's timeline showed it as the place."""
    order, _ = tracked
    response = login(ops_user).post(
        f"/tracking/orders/{order.reference}/events/",
        {"milestone": "LOADED", "classifier": "ACT", "occurred_at": (ETD - 2 * H).strftime("%Y-%m-%dT%H:%M"),
         "time_zone": "UTC", "location": "QQQQQ"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert "QQQQQ is not in our UN/LOCODE list" in response.content.decode()
    assert not TrackingEvent.objects.filter(source_kind="manual").exists()


def test_the_legs_table_stacks_on_a_phone(login, customer_a_user, tracked):
    """Walk H4, 390 px: the card's Legs table (seven columns) ran 270 px past the screen inside its scroller. Below
    576 px it stacks each leg's facts under their names, as the portal's tables do (oms-table-stack)."""
    order, _ = tracked
    html = page(login(customer_a_user), order).content.decode()
    table = re.search(r'<table class="[^"]*trk-legs[^"]*">', html)
    assert table, "no Legs table"
    assert "oms-table-stack" in table.group(0)
    for label in ("Leg", "Carrier", "Route", "Planned", "Actual", "Conveyance"):
        assert f'data-label="{label}"' in html, label


def test_the_customers_last_update_is_that_of_what_they_are_shown(login, customer_a_user, ops_user, tracked):
    """Walk H4: a carrier's unmapped code (or a milestone kept internal) moved the customer's "Last carrier update", on
    her timeline and on the public link, with nothing new to see; staff still read the last event of any kind."""
    order, _ = tracked
    two_hours_ago = timezone.now() - 2 * H
    TrackingEvent.objects.exclude(mapping_status="unmapped").update(received_at=two_hours_ago)
    assert TrackingEvent.objects.filter(mapping_status="unmapped").exists()

    customer = selectors.order_timeline(order=order, customer_safe=True)
    staff = selectors.order_timeline(order=order, customer_safe=False)
    assert customer.last_event_at == two_hours_ago
    assert staff.last_event_at > two_hours_ago
    assert "Last carrier update 2\xa0hours ago." in page(login(customer_a_user), order).content.decode()
    assert "Last carrier update just now." in page(login(ops_user), order).content.decode()


def test_a_step_without_any_time_is_marked_bare_for_phones(login, customer_a_user, tracked):
    """Walk H4, 390 px: each step without a time showed "Planned — Estimated — Actual —" under its name, eleven times
    on an ocean order. Such a step is `is-bare`, and below 900 px it is its name alone (_styles.html)."""
    order, _ = tracked
    html = page(login(customer_a_user), order).content.decode()
    steps = r'<li class="trk-step ([^"]*)">.*?<div class="trk-name">([^<]+)</div>'
    classes = {name: css.split() for css, name in re.findall(steps, html, re.S)}
    assert "is-bare" in classes["Discharged"]
    assert "is-bare" not in classes["Departed"]
    assert "is-bare" not in classes["Arrived"]  # planned and estimated


def test_an_order_held_behind_its_milestones_says_what_it_waits_for(login, ops_user, ops_scope, booked_fcl):
    """The card said "… is on hold: status left as it is. It moves on by itself once that is done": "that" named
    nothing. It says what stands in the way, and that the order catches up once it no longer does."""
    from orders import services as order_services

    order, _ = booked_fcl
    order_services.order_transition(
        order=order, name="hold", scope=ops_scope, channel="screen", by=ops_user, reason="Credit check"
    )
    services.events_ingest(
        events=[read_dcsa(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="d"))],
        source=Source(kind=SourceKind.DCSA, name="MAEU"),
    )

    body = page(login(ops_user), order).content.decode()

    assert f"{order.reference} is on hold: status left as it is." in body
    assert "once that is done" not in body
    assert "catches up with them by itself once this no longer stands in its way" in body
