"""Events held for a reference not known yet are attached once it is recorded (tracking/ingest/relinking.py).

Acceptance review G, defect 2: the carrier's gate-in for a box it released arrived before operations typed the
box's number on the master; it was stored unmatched and stayed so for good, while the next event for the box
linked at once.
"""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from orders.models import Order, OrderStatus, OrderTransition
from partners.models import Organisation
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, NOW, SECRET, body_of, dcsa_event, oms_event, signed_headers
from tracking.ingest import mapping, relinking
from tracking.ingest.models import MappingRule, SubjectType, TrackingEvent, WebhookSource
from tracking.models import ShipmentEquipment
from tracking.services import booking as booking_services
from tracking.services import container_changes, planning

URL = "/api/v1/tracking/webhooks/{}/"
H = datetime.timedelta(hours=1)
BOX = "MSKU9070323"  # a valid ISO 6346 number the master does not hold yet
HELD_BILL = "NOTYETKNOWN1"


def post(client, events, *, source="acme-tms"):
    body = body_of(events)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed_headers(body).items()}
    return client.post(URL.format(source), data=body, content_type="application/json", **extra)


def gate_in(event_id="gtin-1", at=ETD - 30 * H):
    return dcsa_event("EQUIPMENT", "GTIN", at, event_id=event_id, container=BOX, bill=HELD_BILL)


def record_box(master, django_capture_on_commit_callbacks, number=BOX):
    with django_capture_on_commit_callbacks(execute=True):
        container_changes.container_update(container=master.containers.get(), data={"container_number": number})


def test_an_event_for_a_box_not_yet_known_is_attached_once_the_box_is_recorded(
    client, booked_fcl, webhook_source, eager_celery, django_capture_on_commit_callbacks
):
    order, master = booked_fcl
    assert post(client, [gate_in()]).json()["unlinked"] == 1

    record_box(master, django_capture_on_commit_callbacks)

    held = TrackingEvent.objects.get(source_event_id="gtin-1")
    assert (held.shipment_id, held.milestone_id, held.location_role) == (master.pk, "RECEIVED_AT_ORIGIN", "origin")
    assert held.leg_id == master.legs.get().pk
    assert f"attached to {master.reference}" in held.effect
    # followed as a new event: the order took the step the gate-in implies
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_TRANSIT
    # and the carrier's next event for the box links at once, as before
    load = dcsa_event("EQUIPMENT", "LOAD", ETD - 3 * H, event_id="load-1", container=BOX, bill=HELD_BILL)
    assert post(client, [load]).json()["unlinked"] == 0
    assert TrackingEvent.objects.get(source_event_id="load-1").shipment_id == master.pk


def test_a_held_event_is_attached_and_followed_once(
    client, booked_fcl, webhook_source, eager_celery, django_capture_on_commit_callbacks
):
    order, master = booked_fcl
    post(client, [gate_in()])
    record_box(master, django_capture_on_commit_callbacks)
    moves = OrderTransition.objects.filter(order=order).count()

    assert relinking.events_relink(references=[(SubjectType.CONTAINER, BOX)]) == 0
    record_box(master, django_capture_on_commit_callbacks, number="CSQU3054383")
    record_box(master, django_capture_on_commit_callbacks)  # the number typed again

    assert OrderTransition.objects.filter(order=order).count() == moves
    assert TrackingEvent.objects.filter(source_event_id="gtin-1", shipment=master).count() == 1


def test_a_held_event_older_than_the_status_never_moves_the_order_back(
    client, booked_fcl, webhook_source, eager_celery, django_capture_on_commit_callbacks
):
    order, master = booked_fcl
    post(client, [gate_in()])
    arrived = dcsa_event("TRANSPORT", "ARRI", NOW - 2 * H, event_id="arri-1", place="DEHAM")
    assert post(client, [arrived]).json()["stored"] == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ARRIVED

    record_box(master, django_capture_on_commit_callbacks)

    assert TrackingEvent.objects.get(source_event_id="gtin-1").shipment_id == master.pk
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ARRIVED


def test_a_partner_s_held_event_is_attached_only_to_what_it_carries(
    client, booked_fcl, ocean_carriers, eager_celery, django_capture_on_commit_callbacks
):
    """Hapag-Lloyd's feed names a box that becomes known on a master Maersk carries: as at ingest, it stays
    unmatched for Hapag-Lloyd, while Maersk's own feed naming the same box is attached."""
    _, hapag = ocean_carriers
    maersk = Organisation.objects.get(code="MAEU")
    WebhookSource.objects.create(name="hlcu-feed", secret=SECRET, carrier=hapag)
    WebhookSource.objects.create(name="maeu-feed", secret=SECRET, carrier=maersk)
    _, master = booked_fcl
    assert post(client, [gate_in("hlcu-gtin")], source="hlcu-feed").json()["unlinked"] == 1
    assert post(client, [gate_in("maeu-gtin", at=ETD - 29 * H)], source="maeu-feed").json()["unlinked"] == 1

    record_box(master, django_capture_on_commit_callbacks)

    assert TrackingEvent.objects.get(source_event_id="hlcu-gtin").shipment_id is None
    assert TrackingEvent.objects.get(source_event_id="maeu-gtin").shipment_id == master.pk


@pytest.mark.parametrize("feed_now", ["given to Hapag-Lloyd", "no carrier's"])
def test_a_held_event_stays_its_senders_when_the_console_gives_its_feed_to_someone_else(
    client, booked_fcl, ocean_carriers, eager_celery, django_capture_on_commit_callbacks, feed_now
):
    """Maersk's feed held a gate-in in Maersk's own code for a box not typed in yet; then the console gives the feed to
    Hapag-Lloyd, or to no carrier. The event is Maersk's, as ingest stored it (TrackingEvent.partner, decision 0006):
    attached by what Maersk carries and mapped with Maersk's own rule, as re-mapping maps it; the feed as the console
    has it now would keep it from Maersk's box, or read Maersk's code with the generic rules (unmapped)."""
    maersk, hapag = ocean_carriers
    feed = WebhookSource.objects.create(name="maeu-feed", secret=SECRET, carrier=maersk)
    MappingRule.objects.create(scheme="dcsa", code="EQUIPMENT:ZGTI", partner=maersk, milestone_id="RECEIVED_AT_ORIGIN")
    mapping.invalidate()
    _, master = booked_fcl
    own_code = dcsa_event("EQUIPMENT", "ZGTI", ETD - 30 * H, event_id="zgti-1", container=BOX, bill=HELD_BILL)
    assert post(client, [own_code], source="maeu-feed").json()["unlinked"] == 1
    assert TrackingEvent.objects.get(source_event_id="zgti-1").partner_id == maersk.pk
    feed.carrier = hapag if feed_now == "given to Hapag-Lloyd" else None
    feed.save(update_fields=["carrier"])

    record_box(master, django_capture_on_commit_callbacks)

    event = TrackingEvent.objects.get(source_event_id="zgti-1")
    assert (event.shipment_id, event.mapping_status, event.milestone_id) == (master.pk, "mapped", "RECEIVED_AT_ORIGIN")
    assert event.partner_id == maersk.pk


def test_an_event_held_for_a_booking_reference_is_attached_when_the_carrier_confirms_it(
    client, make_order, order_data, ocean_carriers, ops_user, ops_scope, fresh_mapping, webhook_source,
    eager_celery, django_capture_on_commit_callbacks,
):  # fmt: skip
    maersk, _ = ocean_carriers
    order = make_order(mode="ocean_fcl", lines=order_data()["lines"])
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=maersk, by=ops_user)
    held = oms_event("RECEIVED_AT_ORIGIN", NOW - 5 * H, subject=("booking", "MAEU26NEW0001"), place="CNSHA", id="b-1")
    assert post(client, [held]).json()["unlinked"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_confirm(
            booking=booking, carrier_reference="MAEU26NEW0001", departure_at=NOW + 20 * H,
            arrival_at=NOW + 600 * H, scope=ops_scope, by=ops_user,
        )  # fmt: skip

    event = TrackingEvent.objects.get(source_event_id="b-1")
    assert (event.shipment_id, event.order_id, event.milestone_id) == (master.pk, None, "RECEIVED_AT_ORIGIN")


def test_recording_a_box_queues_the_relink_on_the_tracking_queue_after_commit(
    booked_fcl, monkeypatch, django_capture_on_commit_callbacks
):
    from tracking.ingest import tasks

    queued: list[tuple[object, object]] = []
    monkeypatch.setattr(tasks.relink_events, "apply_async", lambda args, queue: queued.append((args, queue)))
    _, master = booked_fcl
    box = master.containers.get()

    with django_capture_on_commit_callbacks(execute=True):
        container_changes.container_update(container=box, data={"seal_numbers": ["SEAL1"]})
    assert queued == []  # the number did not change: nothing to look for

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        container_changes.container_update(container=box, data={"container_number": "msku9070323"})
        assert queued == []  # not before the commit
    assert len(callbacks) == 1
    assert queued == [([[["container", BOX]]], "tracking")]
    assert ShipmentEquipment.objects.get(pk=box.pk).container_number == BOX


def _change_form_data(page) -> dict[str, object]:
    """The console's change form as it was served, inlines included: what a save without edits posts."""
    data: dict[str, object] = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
        forms.extend(formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = [str(v) for v in value] if isinstance(value, list) else value
    return data


def test_a_bill_number_set_in_the_console_attaches_the_events_held_for_it(
    client, admin_user, booked_fcl, webhook_source, eager_celery, django_capture_on_commit_callbacks
):
    _, master = booked_fcl
    departed = dcsa_event("TRANSPORT", "DEPA", ETD, event_id="depa-1", bill="MAEU269999999")
    assert post(client, [departed]).json()["unlinked"] == 1
    client.force_login(admin_user)
    url = reverse("admin:tracking_shipment_change", args=[master.pk])
    data = _change_form_data(client.get(url))

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(url, {**data, "bill_number": "maeu 269999999"})

    assert answer.status_code == 302, answer.context["errors"] if answer.context else answer
    event = TrackingEvent.objects.get(source_event_id="depa-1")
    assert (event.shipment_id, event.milestone_id) == (master.pk, "DEPARTED")
    assert master.legs.get().actual_departure_at == ETD


def test_a_container_number_typed_on_the_shipment_page_attaches_the_events_held_for_it(
    client, ops_user, booked_fcl, webhook_source, eager_celery, django_capture_on_commit_callbacks
):
    """The shipment page is where a box is numbered (the console shows containers read-only since review I): the
    number typed there attaches the carrier events held for it."""
    _, master = booked_fcl
    assert post(client, [gate_in()]).json()["unlinked"] == 1
    client.force_login(ops_user)
    box = master.containers.get()
    url = reverse("tracking:container_update", args=[master.reference, box.pk])

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(url, {"iso_type": box.iso_type, "container_number": BOX, "seal_numbers": "", "vgm_kg": ""})

    assert answer.status_code == 302
    assert ShipmentEquipment.objects.get(pk=box.pk).container_number == BOX
    assert TrackingEvent.objects.get(source_event_id="gtin-1").shipment_id == master.pk
