"""The ingest service: raw first then mapped, dedupe, out-of-order arrival, actual vs estimated, status
following milestones through the lifecycle only, unmapped codes and re-mapping."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order, OrderStatus, OrderTransition
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import CONTAINER, ETA, ETD, NOW, dcsa_event, oms_event
from tracking.ingest import estimates, mapping, recording, remapping, selectors, services
from tracking.ingest import events as domain_events
from tracking.ingest.formats import dcsa_event as read_dcsa
from tracking.ingest.formats import oms_event as read_oms
from tracking.ingest.models import EtaHistory, MappingAlert, MappingRule, MappingStatus, SourceKind, TrackingEvent
from tracking.ingest.services import Source
from tracking.models import Leg, LegRole, Shipment, ShipmentStatus

H = datetime.timedelta(hours=1)
FEED = Source(kind=SourceKind.WEBHOOK, name="feed")


def ingest(*raw, source=FEED):
    return services.events_ingest(
        events=[read_dcsa(e) if "eventType" in e else read_oms(e) for e in raw], source=source
    )


def main_leg(master):
    return Leg.objects.get(shipment=master, role=LegRole.MAIN)


def test_an_event_is_stored_raw_and_mapped(booked_fcl):
    _order, master = booked_fcl
    raw = dcsa_event("EQUIPMENT", "LOAD", ETD - 6 * H, event_id="e-load", place="CNSHA")
    result = ingest(raw)
    assert (result.stored, result.duplicates, result.unmapped) == (1, 0, 0)
    event = TrackingEvent.objects.get()
    assert event.raw_payload == raw
    assert (event.scheme, event.raw_code, event.source, event.source_event_id) == (
        "dcsa",
        "EQUIPMENT:LOAD:LADEN",
        "webhook:feed",
        "e-load",
    )
    assert (event.milestone_id, event.classifier, event.mapping_status) == ("LOADED", "ACT", MappingStatus.MAPPED)
    assert (event.subject_type, event.subject_value, event.location_code, event.location_role) == (
        "container",
        CONTAINER,
        "CNSHA",
        "origin",
    )
    assert event.shipment == master
    assert event.leg == main_leg(master)
    assert event.event_at == ETD - 6 * H
    assert event.event_offset_minutes == 0


def test_the_same_event_twice_is_stored_once(booked_fcl):
    raw = dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1")
    first, second = ingest(raw), ingest(raw)
    assert (first.stored, second.stored, second.duplicates) == (1, 0, 1)
    assert TrackingEvent.objects.count() == 1


def test_the_same_fact_under_another_id_is_stored_once(booked_fcl):
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1"))
    again = ingest(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1-resent-by-another-system"))
    assert again.duplicates == 1
    assert TrackingEvent.objects.count() == 1


def test_duplicates_inside_one_batch_are_stored_once(booked_fcl):
    raw = oms_event("DEPARTED", ETD, place="CNSHA")
    result = ingest(raw, raw, dict(raw))
    assert (result.stored, result.duplicates) == (1, 2)


def test_the_database_refuses_a_second_copy_even_without_the_service(booked_fcl):
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep-1"))
    event = TrackingEvent.objects.get()
    event.pk = None
    with pytest.raises(Exception, match="tracking_event_"):
        event.save()


def test_actual_departure_moves_the_order_in_transit_through_the_lifecycle(booked_fcl):
    order, master = booked_fcl
    assert order.status == OrderStatus.PLANNED
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD + H, event_id="dep"))
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT
    transition = OrderTransition.objects.filter(order=order).latest("at")
    assert (transition.name, transition.source, transition.target, transition.channel) == (
        "depart",
        "planned",
        "in_transit",
        "system",
    )
    assert transition.payload["milestone"] == "DEPARTED"
    assert main_leg(master).actual_departure_at == ETD + H
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.IN_TRANSIT


def test_estimated_events_change_the_eta_and_never_the_status(booked_fcl):
    order, master = booked_fcl
    ingest(dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - 2 * H))
    ingest(dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM", created=NOW - H))
    order.refresh_from_db()
    assert order.status == OrderStatus.PLANNED
    history = list(EtaHistory.objects.filter(shipment=master, milestone="ARRIVED").order_by("recorded_at", "id"))
    assert [(h.estimated_at, h.previous_at) for h in history] == [(ETA, None), (ETA + 30 * H, ETA)]
    assert history[-1].slip == 30 * H


def test_an_older_estimate_arriving_late_does_not_overwrite_a_newer_one(booked_fcl):
    _, master = booked_fcl
    ingest(dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM", created=NOW - H))
    ingest(dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - 5 * H))
    assert list(EtaHistory.objects.filter(shipment=master).values_list("estimated_at", flat=True)) == [ETA + 30 * H]


def test_a_planned_arrival_published_after_the_carriers_estimate_does_not_become_the_eta(booked_fcl):
    """Before the fix, a carrier re-sending its schedule (DCSA PLN ARRI at the planned time) after its estimate (EST,
    three days late) became the ETA: the API's eta, the public "Expected arrival" and the exception scan all lost
    the delay. A plan is not a newer estimate."""
    order, master = booked_fcl
    ingest(
        dcsa_event("TRANSPORT", "ARRI", ETA + 72 * H, classifier="EST", place="DEHAM", event_id="est-1",
                   created=NOW - 2 * H),
        dcsa_event("TRANSPORT", "ARRI", ETA, classifier="PLN", place="DEHAM", event_id="pln-1", created=NOW - H),
    )  # fmt: skip
    timeline = selectors.order_timeline(order=order, customer_safe=True)
    assert timeline.current_eta == ETA + 72 * H
    assert next(row for row in timeline.milestones if row.code == "ARRIVED").estimated_at == ETA + 72 * H
    assert list(EtaHistory.objects.filter(shipment=master).values_list("estimated_at", flat=True)) == [ETA + 72 * H]


def test_a_plan_stands_in_until_the_carriers_first_estimate_even_of_the_planned_time(booked_fcl):
    """Before the fix, an estimate of the very time the plan gave wrote nothing, so a later plan still replaced the
    ETA: the carrier's estimate of the planned time was lost to a schedule re-sent two days later."""
    order, master = booked_fcl
    ingest(
        dcsa_event("TRANSPORT", "ARRI", ETA, classifier="PLN", place="DEHAM", event_id="pln-1", created=NOW - 3 * H),
        dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", event_id="est-1", created=NOW - 2 * H),
        dcsa_event("TRANSPORT", "ARRI", ETA + 48 * H, classifier="PLN", place="DEHAM", event_id="pln-2",
                   created=NOW - H),
    )  # fmt: skip
    history = EtaHistory.objects.filter(shipment=master).order_by("reported_at", "id")
    assert list(history.values_list("classifier", "estimated_at", "previous_at")) == [
        ("PLN", ETA, None),  # no estimate yet: the plan is the expected arrival
        ("EST", ETA, ETA),  # the carrier's own estimate now, of the same time
    ]
    assert selectors.order_timeline(order=order, customer_safe=True).current_eta == ETA


def test_an_actual_event_reported_in_the_future_is_kept_as_reported_when_received(booked_fcl):
    before = timezone.now()
    result = ingest(dcsa_event("EQUIPMENT", "GTIN", ETD - 30 * H, created=NOW + datetime.timedelta(days=365)))
    after = timezone.now()
    assert result.stored == 1
    event = TrackingEvent.objects.get()
    assert before <= event.reported_at <= after
    assert result.newest_reported_at == event.reported_at  # what moves a poll's cursor
    assert event.raw_payload["eventCreatedDateTime"].startswith(str((NOW + datetime.timedelta(days=365)).year))


def test_an_estimate_reported_in_the_future_is_rejected_and_the_carriers_current_one_is_the_eta(booked_fcl):
    _, master = booked_fcl
    bogus = oms_event("ARRIVED", ETA, classifier="EST", place="DEHAM", event_id="est-1",
                      reported_at=(NOW + datetime.timedelta(days=300)).isoformat())  # fmt: skip
    result = ingest(bogus)
    assert result.stored == 0
    assert "The estimate says it was made on" in result.rejected[0][1]
    current = oms_event("ARRIVED", ETA + 48 * H, classifier="EST", place="DEHAM", event_id="est-2",
                        reported_at=NOW.isoformat())  # fmt: skip
    assert ingest(current).stored == 1
    latest = EtaHistory.objects.filter(shipment=master, milestone="ARRIVED").order_by("-reported_at", "-id").first()
    assert (latest.estimated_at, latest.reported_at) == (ETA + 48 * H, NOW)


def test_an_estimate_from_a_clock_a_little_ahead_counts_as_made_when_received_and_the_next_one_replaces_it(
    booked_fcl,
):
    _, master = booked_fcl
    ahead = timezone.now() + datetime.timedelta(minutes=3)  # within the tolerance: skew, not a wrong time
    assert ingest(dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=ahead)).stored == 1
    first = EtaHistory.objects.get(shipment=master)
    assert first.reported_at <= timezone.now() < ahead
    later = timezone.now()  # the carrier's next estimate, made after we received the first one
    ingest(dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM", created=later))
    latest = EtaHistory.objects.filter(shipment=master, milestone="ARRIVED").order_by("-reported_at", "-id").first()
    assert (latest.estimated_at, latest.previous_at) == (ETA + 30 * H, ETA)


def test_an_eta_that_goes_back_to_an_earlier_value_is_a_new_estimate_not_a_duplicate(booked_fcl):
    order, _ = booked_fcl
    ingest(dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - 5 * H, event_id="e1"))
    ingest(dcsa_event("TRANSPORT", "ARRI", ETA + 30 * H, classifier="EST", place="DEHAM", created=NOW - 3 * H,
                      event_id="e2"))  # fmt: skip
    back = ingest(dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - H,
                             event_id="e3"))  # fmt: skip

    assert back.stored == 1, f"the newest estimate was not stored (duplicates={back.duplicates})"
    assert selectors.order_timeline(order=order, customer_safe=True).eta.estimated_at == ETA


@pytest.mark.parametrize("event_id", ["e1", "e1-resent-by-another-system", ""])
def test_the_same_estimate_delivered_again_is_still_a_duplicate(booked_fcl, event_id):
    first = dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - H, event_id="e1")
    again = dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - H, event_id=event_id)
    ingest(first)
    assert (ingest(again).duplicates, TrackingEvent.objects.count()) == (1, 1)


def test_an_estimate_from_a_clock_a_little_ahead_redelivered_is_still_a_duplicate(booked_fcl):
    """A carrier whose clock runs two minutes ahead (inside FUTURE_TOLERANCE) re-sends the same id-less estimate (a
    DCSA poll whose cursor overlaps): its identity keeps the report time it gave, not our receipt time."""
    ahead = timezone.now() + datetime.timedelta(minutes=2)
    event = dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=ahead)
    assert ingest(event).stored == 1
    again = ingest(event)
    assert (again.duplicates, TrackingEvent.objects.count()) == (1, 1)
    assert TrackingEvent.objects.get().reported_at < ahead  # stored as reported when received


def test_an_actual_event_reported_again_later_is_still_one_fact(booked_fcl):
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, created=ETD + H, event_id="d1"))
    assert ingest(dcsa_event("TRANSPORT", "DEPA", ETD, created=ETD + 5 * H, event_id="d2")).duplicates == 1


# --- the vessel's calls at the other end: DOMAIN.md §1.8, ARRI @POD is ARRIVED, DEPA @POL is DEPARTED ------------


def test_a_vessel_arriving_at_the_port_of_loading_does_not_mark_the_order_arrived(booked_fcl):
    order, _ = booked_fcl
    ingest(dcsa_event("TRANSPORT", "ARRI", ETD - 12 * H, place="CNSHA", event_id="arri-pol"))

    order.refresh_from_db()
    event = TrackingEvent.objects.get(source_event_id="arri-pol")
    assert order.status == OrderStatus.PLANNED, "the order is 'arrived' before its vessel even left the POL"
    assert (event.milestone_id, event.mapping_status) == (None, MappingStatus.NOT_A_MILESTONE)


def test_an_estimated_vessel_arrival_at_the_port_of_loading_does_not_replace_the_destination_eta(booked_fcl):
    order, _ = booked_fcl
    ingest(
        dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - 3 * H, event_id="eta-pod"),
        dcsa_event("TRANSPORT", "ARRI", NOW + 40 * H, classifier="EST", place="CNSHA", created=NOW - H,
                   event_id="eta-pol"),  # the carrier's schedule for the vessel's next call at Shanghai
    )  # fmt: skip

    timeline = selectors.order_timeline(order=order, customer_safe=True)
    assert timeline.eta is not None
    assert timeline.eta.estimated_at == ETA, f"the ETA became {timeline.eta.estimated_at:%Y-%m-%d %H:%M} (at Shanghai)"


def test_an_estimated_vessel_departure_from_the_port_of_discharge_does_not_replace_the_etd(booked_fcl):
    _, master = booked_fcl
    ingest(
        dcsa_event("TRANSPORT", "DEPA", ETD + 6 * H, classifier="EST", place="CNSHA", created=ETD - 3 * H,
                   event_id="etd-pol"),
        dcsa_event("TRANSPORT", "DEPA", ETA + 20 * H, classifier="EST", place="DEHAM", created=ETD - H,
                   event_id="etd-pod"),  # the vessel's departure from Hamburg, after our container is off
    )  # fmt: skip
    etd = EtaHistory.objects.filter(shipment=master, milestone="DEPARTED").order_by("-reported_at", "-id").first()
    assert etd.estimated_at == ETD + 6 * H


def test_a_partner_rule_for_anywhere_does_not_make_an_arrival_estimate_at_the_origin_the_eta(booked_fcl):
    _, master = booked_fcl
    MappingRule.objects.create(scheme="x12_214", code="ZZ8", milestone_id="ARRIVED")  # role: anywhere
    ingest(
        dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - 3 * H, event_id="eta"),
        oms_event("X", NOW + 40 * H, classifier="EST", code="ZZ8", scheme="x12_214", place="CNSHA",
                  reported_at=(NOW - H).isoformat()) | {"milestone": None},
    )  # fmt: skip
    assert list(EtaHistory.objects.filter(shipment=master).values_list("estimated_at", flat=True)) == [ETA]


def test_re_mapping_after_the_rule_is_corrected_withdraws_the_wrong_eta(booked_fcl, monkeypatch):
    order, _ = booked_fcl
    # stored as before the fix: ARRI anywhere but in between was ARRIVED, and estimates were taken at any place
    rule = MappingRule.objects.get(scheme="dcsa", code="TRANSPORT:ARRI", location_role="origin")
    rule.delete()
    mapping.invalidate()
    with monkeypatch.context() as before_the_fix:
        before_the_fix.setattr(estimates, "ESTIMATE_NOT_AT", {})
        ingest(
            dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", place="DEHAM", created=NOW - 3 * H,
                       event_id="eta-pod"),
            dcsa_event("TRANSPORT", "ARRI", NOW + 40 * H, classifier="EST", place="CNSHA", created=NOW - H,
                       event_id="eta-pol"),
        )  # fmt: skip
    assert selectors.order_timeline(order=order, customer_safe=True).eta.estimated_at == NOW + 40 * H  # the defect
    rule.pk = None
    rule.save()

    assert remapping.events_remap(scheme="dcsa", code="TRANSPORT:ARRI") == 1

    assert TrackingEvent.objects.get(source_event_id="eta-pol").milestone_id is None
    assert selectors.order_timeline(order=order, customer_safe=True).eta.estimated_at == ETA


def _without_a_place(raw):
    del raw["transportCall"]["UNLocationCode"]  # optional in DCSA 2.2
    return raw


@pytest.mark.parametrize("delivered", ["together", "one by one"])
@pytest.mark.parametrize(("made", "eta"), [(ETD + 3 * H, ETA), (ETD - 3 * H, None)])
def test_an_estimated_arrival_without_a_place_means_the_same_in_a_delivery_with_the_departure(
    booked_fcl, delivered, made, eta
):
    """Review C: an EST ARRI with no place, made after the vessel left, became the ETA when it came alone, and was
    ignored (the vessel's call at the port of loading) when it came in the same delivery as the departure: only
    the shipment's status before the batch counted. It is downstream once the shipment had departed when it was
    made (eventCreatedDateTime), whichever delivery brings it; made before the departure, it stays at the origin."""
    _order, master = booked_fcl
    departure = dcsa_event("TRANSPORT", "DEPA", ETD + H, event_id="dep", created=ETD + 2 * H)
    arrival = _without_a_place(dcsa_event("TRANSPORT", "ARRI", ETA, classifier="EST", event_id="eta", created=made))
    for batch in [[departure, arrival]] if delivered == "together" else [[departure], [arrival]]:
        ingest(*batch)

    assert main_leg(master).actual_departure_at == ETD + H
    estimates = EtaHistory.objects.filter(shipment=master, milestone="ARRIVED")
    assert list(estimates.values_list("estimated_at", flat=True)) == ([eta] if eta else [])
    expected = ("ARRIVED", "destination") if eta else (None, "origin")
    assert TrackingEvent.objects.values_list("milestone_id", "location_role").get(source_event_id="eta") == expected


def test_a_feeds_second_actual_departure_at_another_time_leaves_the_leg_on_its_first(booked_fcl):
    """A machine feed sending the same milestone again at another time (another port call, an AIS reading, a
    transhipment: DCSA 2.2 does not say which) is kept as an event with a note; the leg keeps its first actual
    until operations correct it, and judging it costs no query (docs/tracking-events.md, "Corrected actual
    times"). A person's corrected file row does correct it (tests/tracking/test_ingest_files.py)."""
    _, master = booked_fcl
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD + H, event_id="dep-1"))
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD + 3 * H, event_id="dep-2"))

    assert main_leg(master).actual_departure_at == ETD + H
    assert TrackingEvent.objects.get(source_event_id="dep-2").effect.startswith("The leg keeps its departure")


def test_a_feeds_first_report_stands_when_one_batch_brings_two_for_a_leg_without_a_time(booked_fcl):
    """Review H, defect 1, to the rule for machine feeds: one delivery carries the carrier's departure and, reported an
    hour later, the same departure two hours earlier. The leg used to take the earliest time of the batch whatever
    its source. A feed's first report stands (its later one may be another port call), as it does across batches:
    the leg, the timeline (which reads the leg) and the later event's note agree. The earliest is not the rule."""
    order, master = booked_fcl
    first, later = ETD.replace(second=0), ETD.replace(second=0) - 2 * H

    ingest(
        dcsa_event("TRANSPORT", "DEPA", later, place="CNSHA", event_id="dep-2", created=NOW - 2 * H),
        dcsa_event("TRANSPORT", "DEPA", first, place="CNSHA", event_id="dep-1", created=NOW - 3 * H),
    )

    assert main_leg(master).actual_departure_at == first
    departed = next(row for row in selectors.order_timeline(order=order, customer_safe=True).milestones
                    if row.code == "DEPARTED")  # fmt: skip
    assert departed.actual_at == first
    assert TrackingEvent.objects.get(source_event_id="dep-2").effect.startswith(
        f"The leg takes the departure at {first:%Y-%m-%d %H:%M} UTC from its first report."
    )


def test_a_departure_corrected_on_the_order_page_of_a_direct_fcl_corrects_the_leg(booked_fcl, ops_user):
    """The order page names the order's house, the leg is its master's: a house alone on its master is the same goods,
    so the person's second entry corrects the time their first one set (review H, defect 3 counts a correction only
    for the same shipment), and the timeline shows the leg's time."""
    order, master = booked_fcl
    right = ETD.replace(second=0)
    for at in (right + 2 * H, right):
        recording.event_record_for_order(
            order=order, milestone="DEPARTED", occurred_at=at, by=ops_user, location="CNSHA"
        )

    assert main_leg(master).actual_departure_at == right
    departed = next(row for row in selectors.order_timeline(order=order, customer_safe=False).milestones
                    if row.code == "DEPARTED")  # fmt: skip
    assert departed.actual_at == right
    assert TrackingEvent.objects.get(event_at=right).effect.startswith("Corrects the departure recorded at")


def test_events_out_of_order_never_move_the_status_backwards(booked_fcl):
    order, master = booked_fcl
    ingest(
        dcsa_event("TRANSPORT", "ARRI", ETD + 20 * H, place="DEHAM", event_id="arr"),
        dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA", event_id="dep"),
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.ARRIVED
    ingest(dcsa_event("EQUIPMENT", "LOAD", ETD - H, place="CNSHA", event_id="late-load"))
    order.refresh_from_db()
    assert order.status == OrderStatus.ARRIVED
    assert list(OrderTransition.objects.filter(order=order).values_list("target", flat=True))[-2:] == [
        "in_transit",
        "arrived",
    ]
    leg = main_leg(master)
    assert (leg.actual_departure_at, leg.actual_arrival_at) == (ETD, ETD + 20 * H)


def test_an_arrival_before_its_departure_waits_for_the_departure_on_the_leg(booked_fcl):
    _, master = booked_fcl
    ingest(dcsa_event("TRANSPORT", "ARRI", ETD + 20 * H, place="DEHAM", event_id="arr"))
    assert main_leg(master).actual_arrival_at is None
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, place="CNSHA", event_id="dep"))
    leg = main_leg(master)
    assert (leg.actual_departure_at, leg.actual_arrival_at) == (ETD, ETD + 20 * H)


def test_delivery_walks_the_order_through_every_step_and_delivers_the_shipment(booked_fcl):
    order, master = booked_fcl
    ingest(dcsa_event("EQUIPMENT", "DROP", ETD + 2 * H, place="DEHAM", event_id="drop"))
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert list(OrderTransition.objects.filter(order=order).values_list("name", flat=True))[-3:] == [
        "depart",
        "arrive",
        "deliver",
    ]
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.DELIVERED


def test_an_order_not_yet_planned_keeps_its_status_and_the_event_says_why(make_order, order_data, fresh_mapping):
    order = make_order(mode="ocean_fcl", lines=order_data()["lines"])  # confirmed, on no shipment
    result = ingest(oms_event("DEPARTED", ETD, subject=("order", order.reference)))
    assert result.stored == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    event = TrackingEvent.objects.get()
    assert event.order == order
    assert "only once they are planned" in event.effect


def test_an_order_on_hold_is_left_alone(booked_fcl, ops_scope, ops_user):
    from orders import services as order_services

    order, _ = booked_fcl
    order_services.order_transition(
        order=order, name="hold", scope=ops_scope, channel="screen", by=ops_user, reason="Credit check"
    )
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep"))
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    assert "on hold" in TrackingEvent.objects.get().effect


def test_a_guard_that_refuses_leaves_the_order_and_records_the_reason(booked_fcl, monkeypatch):
    from orders import lifecycle

    order, _ = booked_fcl
    monkeypatch.setitem(lifecycle._guards, "depart", [lambda o: "Export declaration not filed yet."])
    ingest(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep"))
    order.refresh_from_db()
    assert order.status == OrderStatus.PLANNED
    assert "Export declaration not filed yet." in TrackingEvent.objects.get().effect
    monkeypatch.setitem(lifecycle._guards, "depart", [])
    remapping.order_status_sync(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT


def test_an_unmapped_code_is_kept_moves_nothing_and_raises_one_alert(booked_fcl):
    order, _ = booked_fcl
    result = ingest(
        oms_event("X", ETD, code="ZZ9", scheme="x12_214") | {"milestone": None},
        oms_event("X", ETD + H, code="ZZ9", scheme="x12_214") | {"milestone": None},
    )
    assert (result.stored, result.unmapped) == (2, 2)
    assert set(TrackingEvent.objects.values_list("mapping_status", "milestone")) == {("unmapped", None)}
    alert = MappingAlert.objects.get()
    assert (alert.scheme, alert.code, alert.event_count, alert.is_open) == ("x12_214", "ZZ9", 2, True)
    order.refresh_from_db()
    assert order.status == OrderStatus.PLANNED


def test_mapping_the_code_and_re_mapping_applies_the_stored_events(booked_fcl, admin_user):
    order, _ = booked_fcl
    ingest(oms_event("X", ETD, code="ZZ9", scheme="x12_214", place="CNSHA") | {"milestone": None})
    MappingRule.objects.create(scheme="x12_214", code="ZZ9", milestone_id="DEPARTED")
    changed, resolved = remapping.alert_resolve(alert=MappingAlert.objects.get(), by=admin_user)
    assert (changed, resolved) == (1, True)
    assert TrackingEvent.objects.get().milestone_id == "DEPARTED"
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT
    assert MappingAlert.objects.get().resolved_by == admin_user


def test_a_known_code_that_is_no_milestone_raises_no_alert(booked_fcl):
    result = ingest(dcsa_event("SHIPMENT", "ISSU", ETD, document="TRD"))
    assert (result.stored, result.unmapped) == (1, 0)
    assert TrackingEvent.objects.get().mapping_status == MappingStatus.NOT_A_MILESTONE
    assert not MappingAlert.objects.exists()


def test_an_actual_event_in_the_future_is_rejected(booked_fcl):
    result = ingest(dcsa_event("TRANSPORT", "DEPA", NOW + 2 * H, created=NOW))
    assert result.stored == 0
    assert "cannot lie in the future" in result.rejected[0][1]


def test_an_event_for_an_unknown_reference_is_kept_unlinked(booked_fcl):
    result = ingest(oms_event("DEPARTED", ETD, subject=("container", "MSKU9070323")))
    assert (result.stored, result.unlinked) == (1, 1)
    event = TrackingEvent.objects.get()
    assert event.shipment is None
    assert event.order is None


def test_milestone_recorded_is_announced_after_commit(booked_fcl, django_capture_on_commit_callbacks):
    order, _ = booked_fcl
    received = []
    domain_events.milestone_recorded.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ingest(dcsa_event("TRANSPORT", "DEPA", ETD, event_id="dep"))
    finally:
        domain_events.milestone_recorded.disconnect(dispatch_uid="t")
    assert [(kw["order_id"], kw["code"]) for kw in received] == [(order.pk, "DEPARTED")]


def test_a_batch_costs_the_same_queries_whatever_its_size(booked_fcl):
    def batch(size, offset):
        return [
            dcsa_event("EQUIPMENT", "GTIN", ETD - datetime.timedelta(minutes=offset + n), place="CNSHA")
            for n in range(size)
        ]

    ingest(*batch(5, 0))  # warm: first effects (in transit) happen here
    with CaptureQueriesContext(connection) as small:
        ingest(*batch(10, 100))
    with CaptureQueriesContext(connection) as large:
        ingest(*batch(500, 1000))
    assert len(large) == len(small)
    assert Order.objects.get().status == OrderStatus.IN_TRANSIT


@pytest.fixture
def booked_road(make_order, carrier, ops_user, ops_scope, fresh_mapping):
    """A road FTL order Hamburg → Warsaw, booked with Nordtruck: the shipment has one truck leg."""
    from tests.tracking.conftest import lcl_line
    from tests.tracking.test_ingest_support import book

    order = make_order(
        mode="road_ftl",
        incoterm="DAP",
        origin="DEHAM",
        destination="PLWAW",
        lines=[lcl_line(9000, 30, pieces=20, description="Beverages")],
    )
    master = book(order=order, carrier=carrier, ops_user=ops_user, ops_scope=ops_scope, reference="NT-1", bill="CMR-1")
    return Order.objects.get(pk=order.pk), master


def test_a_trucks_pick_up_and_delivery_are_its_legs_departure_and_arrival(booked_road):
    order, master = booked_road
    ingest(
        oms_event("PICKED_UP", ETD, subject=("bill", "CMR-1"), place="DEHAM", code="picked_up", scheme="karrio")
        | {"milestone": None}
    )
    leg = main_leg(master)
    assert leg.actual_departure_at == ETD
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.IN_TRANSIT
    ingest(oms_event("DELIVERED", ETD + 30 * H, subject=("bill", "CMR-1"), place="PLWAW"))
    leg.refresh_from_db()
    assert leg.actual_arrival_at == ETD + 30 * H
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.DELIVERED


def test_an_ocean_pick_up_is_not_the_vessels_departure(booked_fcl):
    order, master = booked_fcl
    ingest(dcsa_event("EQUIPMENT", "GTOT", ETD - 50 * H, event_id="pickup", place="CNSHA"))
    assert TrackingEvent.objects.get().milestone_id == "PICKED_UP"
    assert main_leg(master).actual_departure_at is None
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT
