"""A carrier's actual time that contradicts its leg's recorded actual times (an arrival three weeks before the recorded
departure) is kept but not applied: it moves no order, announces nothing, counts for no reader, and staff see it
flagged on the timeline and in the tracking monitor; a person typing one is refused in the form (walk finding H5;
docs/tracking-events.md, "An actual time that contradicts its leg").

Before the fix the event was stored with "Leg not updated: The arrival is before the recorded departure. HAM-… is now
arrived.": the order moved to arrived, and the staff card, the portal and the public link said "Arrived" three weeks
before the vessel sailed."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from orders.models import Order, OrderStatus, OrderTransition
from portal.links import tracking_link_create
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, dcsa_event, deliver_signed, oms_event
from tracking.ingest import events as domain_events
from tracking.ingest import remapping, selectors, services
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.goods import annotated_goods_status, with_goods_step
from tracking.ingest.models import SourceKind, TrackingEvent
from tracking.ingest.services import Source
from tracking.models import Leg, LegRole, Shipment, ShipmentStatus

H = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
EARLY = ETD - 21 * DAY  # three weeks before the recorded departure


def _main_leg(master: Shipment) -> Leg:
    return Leg.objects.get(shipment=master, role=LegRole.MAIN)


def _arrived_row(timeline: selectors.Timeline) -> selectors.MilestoneRow:
    return next(row for row in timeline.milestones if row.code == "ARRIVED")


@pytest.fixture
def departed(booked_fcl, webhook_source, client):
    """The booked master's vessel sailed (DCSA DEPA at ETD, signed webhook): the order is in transit."""
    order, master = booked_fcl
    deliver_signed(client, dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep"))
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT
    return order, master


@pytest.fixture
def announced(monkeypatch):
    """The milestone records ingest hands workflows, notifications and exception detection (one call per batch)."""
    seen: list[domain_events.MilestoneRecorded] = []
    original = domain_events.note_milestones

    def note(*, sender: object, records: list[domain_events.MilestoneRecorded]) -> None:
        seen.extend(records)
        original(sender=sender, records=records)

    monkeypatch.setattr(domain_events, "note_milestones", note)
    return seen


def test_a_dcsa_arrival_before_the_recorded_departure_is_kept_not_applied(client, departed, announced):
    order, master = departed

    answer = deliver_signed(client, dcsa_event("TRANSPORT", "ARRI", EARLY, place="DEHAM", event_id="arr-early"))

    assert (answer["stored"], answer["rejected"]) == (1, [])  # a carrier's data is never lost
    event = TrackingEvent.objects.get(source_event_id="arr-early")
    assert event.milestone_id == "ARRIVED"
    assert not event.is_applied
    assert event.contradiction == (
        f"the arrival ({EARLY.day} {EARLY:%b %Y, %H:%M} UTC) is before the recorded departure "
        f"({ETD.day} {ETD:%b %Y, %H:%M} UTC)"
    )
    assert event.effect.startswith(f"Not applied: {event.contradiction}.")
    assert "now arrived" not in event.effect
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT
    assert not OrderTransition.objects.filter(order=order, target=OrderStatus.ARRIVED).exists()
    assert _main_leg(master).actual_arrival_at is None
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.IN_TRANSIT
    assert [record.code for record in announced] == []  # no workflow, notification or exception hears of it
    again = deliver_signed(client, dcsa_event("TRANSPORT", "ARRI", EARLY, place="DEHAM", event_id="arr-early"))
    assert again["duplicates"] == 1  # the same event again is still a duplicate


def test_the_order_does_not_catch_up_to_an_event_not_applied(client, departed):
    order, _ = departed
    deliver_signed(client, dcsa_event("TRANSPORT", "ARRI", EARLY, place="DEHAM", event_id="arr-early"))

    assert remapping.order_status_sync(order_id=order.pk) == ""
    assert remapping.orders_catch_up() == 0
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_TRANSIT


def test_a_departure_after_the_recorded_arrival_is_kept_not_applied(client, departed):
    _order, master = departed
    arrived_at = ETD + 3 * DAY
    deliver_signed(client, dcsa_event("TRANSPORT", "ARRI", arrived_at, place="DEHAM", event_id="arr"))
    assert _main_leg(master).actual_arrival_at == arrived_at

    deliver_signed(client, dcsa_event("TRANSPORT", "DEPA", arrived_at + DAY, event_id="dep-late"))

    event = TrackingEvent.objects.get(source_event_id="dep-late")
    assert "the departure" in event.contradiction
    assert "is after the recorded arrival" in event.contradiction
    leg = _main_leg(master)
    assert (leg.actual_departure_at, leg.actual_arrival_at) == (ETD, arrived_at)


def test_a_batch_keeps_its_good_departure_when_a_contradicting_arrival_comes_with_it(
    client, booked_fcl, webhook_source, announced
):
    """Before the fix `leg_record_actual` refused both together: the departure was lost too."""
    order, master = booked_fcl

    deliver_signed(
        client,
        dcsa_event("TRANSPORT", "ARRI", EARLY, place="DEHAM", event_id="arr-early"),
        dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep"),
    )

    leg = _main_leg(master)
    assert (leg.actual_departure_at, leg.actual_arrival_at) == (ETD, None)
    assert TrackingEvent.objects.get(source_event_id="dep").is_applied
    assert "before the recorded departure" in TrackingEvent.objects.get(source_event_id="arr-early").contradiction
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_TRANSIT
    assert [record.code for record in announced] == ["DEPARTED"]


def test_an_arrival_that_waited_for_a_later_departure_does_not_block_it(booked_fcl):
    """An arrival came first (no departure yet: it waits); the departure then comes after it. The departure is
    recorded; the arrival is marked not applied, its effect kept."""
    _order, master = booked_fcl
    feed = Source(kind=SourceKind.WEBHOOK, name="feed")
    services.events_ingest(events=[read_oms(oms_event("ARRIVED", EARLY, place="DEHAM"))], source=feed)
    services.events_ingest(events=[read_oms(oms_event("DEPARTED", ETD, place="CNSHA"))], source=feed)

    leg = _main_leg(master)
    assert (leg.actual_departure_at, leg.actual_arrival_at) == (ETD, None)
    waited = TrackingEvent.objects.get(milestone_id="ARRIVED")
    assert "before the recorded departure" in waited.contradiction
    assert "Not applied" in waited.effect


def test_staff_see_it_struck_and_customers_never(client, departed, login, ops_user, customer_a_user):
    order, _ = departed
    deliver_signed(client, dcsa_event("TRANSPORT", "ARRI", EARLY, place="DEHAM", event_id="arr-early"))
    order.refresh_from_db()

    staff = selectors.order_timeline(order=order, customer_safe=False)
    assert _arrived_row(staff).actual_at is None
    assert staff.arrived_at is None
    assert staff.held_back == ""
    assert [item.event.source_event_id for item in staff.not_applied] == ["arr-early"]
    page = login(ops_user).get(reverse("tracking_ingest:order_timeline", args=[order.reference])).content.decode()
    assert f"Not applied: the arrival ({EARLY.day} {EARLY:%b %Y}" in page
    assert "trk-struck" in page

    timeline = selectors.order_timeline(order=order, customer_safe=True)
    assert _arrived_row(timeline).actual_at is None
    assert _arrived_row(timeline).events == []
    assert timeline.arrived_at is None
    assert timeline.not_applied == []
    assert timeline.last_event_at == TrackingEvent.objects.get(source_event_id="dep").received_at
    portal = login(customer_a_user).get(reverse("tracking_ingest:order_timeline", args=[order.reference]))
    assert "Not applied" not in portal.content.decode()
    assert "Arrived" not in portal.context["goods_status"].label
    assert portal.context["timeline"].arrived_at is None
    _link, token = tracking_link_create(order=order, by=customer_a_user)
    public = client.get(reverse("public_tracking", args=[token]))
    assert (public.context["state"], public.context["arrived_at"]) == ("In transit", None)
    assert "Not applied" not in public.content.decode()
    assert annotated_goods_status(with_goods_step(Order.objects.filter(pk=order.pk)).get()) == OrderStatus.IN_TRANSIT


def test_a_person_typing_such_an_arrival_is_refused_in_the_form_with_both_times(departed, login, ops_user):
    order, _ = departed
    before = TrackingEvent.objects.count()
    typed = EARLY.astimezone(datetime.timezone(datetime.timedelta(hours=1)))

    response = login(ops_user).post(
        reverse("tracking_ingest:order_event_add", args=[order.reference]),
        {"milestone": "ARRIVED", "classifier": "ACT", "occurred_at": typed.strftime("%Y-%m-%dT%H:%M"),
         "time_zone": "Europe/Berlin", "location": "DEHAM"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip

    assert response.status_code == 200
    errors = response.context["entry_form"].non_field_errors()
    assert len(errors) == 1
    recorded = ETD.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert f"The arrival ({typed.day} {typed:%b %Y, %H:%M} CET) is before the recorded departure" in errors[0]
    assert f"({recorded.day} {recorded:%b %Y, %H:%M} CET)" in errors[0]
    assert TrackingEvent.objects.count() == before  # not stored
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_TRANSIT


def test_the_monitor_lists_the_events_not_applied_at_a_constant_cost(
    client, departed, login, ops_user, django_assert_max_num_queries
):
    order, master = departed
    deliver_signed(client, dcsa_event("TRANSPORT", "ARRI", EARLY, place="DEHAM", event_id="arr-1"))
    staff = login(ops_user)
    staff.get("/tracking/")  # warm the session
    with django_assert_max_num_queries(9) as few:
        staff.get("/tracking/")
    deliver_signed(client, *(dcsa_event("TRANSPORT", "ARRI", EARLY + n * H, place="DEHAM", event_id=f"arr-{n}")
                       for n in range(2, 8)))  # fmt: skip

    with django_assert_max_num_queries(9) as many:
        response = staff.get("/tracking/")

    assert len(many) == len(few)
    listed = response.context["not_applied"]
    assert [event.source_event_id for event in listed] == [f"arr-{n}" for n in range(7, 0, -1)]
    assert all(event.shipment == master for event in listed)
    assert all(event.orders_concerned == [order] for event in listed)  # the order on the master, to open
    page = response.content.decode()
    assert "Events not applied" in page
    assert master.reference in page


def test_the_timeline_costs_the_same_queries_with_events_not_applied(
    client, departed, login, ops_user, django_assert_max_num_queries
):
    order, _ = departed
    staff = login(ops_user)
    url = reverse("tracking_ingest:order_timeline", args=[order.reference])
    deliver_signed(client, dcsa_event("TRANSPORT", "ARRI", EARLY, place="DEHAM", event_id="arr-1"))
    staff.get(url)
    with django_assert_max_num_queries(20) as few:
        staff.get(url)
    deliver_signed(client, *(dcsa_event("TRANSPORT", "ARRI", EARLY + n * H, place="DEHAM", event_id=f"arr-{n}")
                       for n in range(2, 8)))  # fmt: skip

    with django_assert_max_num_queries(20) as many:
        response = staff.get(url)

    assert len(many) == len(few)
    assert len(response.context["timeline"].not_applied) == 7


def test_exception_rules_do_not_read_an_event_not_applied(client, departed):
    """A departure answers a cut-off and counts as news of the goods for the exception rules (exceptions.facts);
    one its leg's recorded arrival rules out is no such fact: the rules read the applied departure only."""
    from tracking.exceptions import facts

    order, master = departed
    arrived_at = ETD + 3 * DAY
    deliver_signed(client, dcsa_event("TRANSPORT", "ARRI", arrived_at, place="DEHAM", event_id="arr"))
    deliver_signed(client, dcsa_event("TRANSPORT", "DEPA", arrived_at + DAY, event_id="dep-late"))
    late = TrackingEvent.objects.get(source_event_id="dep-late")
    assert late.contradiction

    departures = [signal for signal in facts.order_signals(order.pk) if signal.milestone == "DEPARTED"]
    assert [signal.id for signal in departures] == [TrackingEvent.objects.get(source_event_id="dep").id]
    assert facts.shipment_facts([master.pk])[master.pk].last_actual_at == arrived_at
