"""The planning console keeps business records (tracking/admin.py, KEPT_RECORD): shipments, bookings and appointments
are cancelled on the planning screens, never deleted here; configuration (carrier services) still is, except a service
a booking was made on, which is switched off instead. Event and ETA lists open on the newest rows
(tracking/ingest/admin.py)."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.db import transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tracking.ingest.models import (
    Classifier,
    EtaHistory,
    MappingStatus,
    Scheme,
    SourceKind,
    SubjectType,
    TrackingEvent,
)
from tracking.models import Appointment, AppointmentKind, Booking, CarrierService, Shipment, ShipmentKind

KEPT = ("shipment", "booking", "appointment")


@pytest.fixture
def records(booked_fcl, locations):
    """The master, its house, its confirmed booking and a pickup appointment, as planning made them."""
    order, master = booked_fcl
    window = timezone.now() + datetime.timedelta(days=3)
    appointment = Appointment.objects.create(
        shipment=master,
        kind=AppointmentKind.PICKUP,
        location_id="CNSHA",
        window_start_at=window,
        window_end_at=window + datetime.timedelta(hours=2),
    )
    return {
        "shipment": master,
        "house": Shipment.objects.get(order=order, kind=ShipmentKind.HOUSE),
        "booking": Booking.objects.get(shipment=master),
        "appointment": appointment,
    }


def _counts() -> tuple[int, int, int]:
    return Shipment.objects.count(), Booking.objects.count(), Appointment.objects.count()


@pytest.mark.parametrize("model", KEPT)
def test_a_business_record_has_no_delete_page_for_a_superuser(client, admin_user, records, model):
    client.force_login(admin_user)
    before = _counts()
    url = reverse(f"admin:tracking_{model}_delete", args=[records[model].pk])

    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert _counts() == before


@pytest.mark.parametrize("model", KEPT)
def test_a_business_record_list_offers_no_delete_selected(client, admin_user, records, model):
    client.force_login(admin_user)
    url = reverse(f"admin:tracking_{model}_changelist")
    before = _counts()

    page = client.get(url)
    response = client.post(
        url, {"action": "delete_selected", "_selected_action": [records[model].pk], "post": "yes"}, follow=True
    )

    assert page.status_code == 200
    assert 'value="delete_selected"' not in page.content.decode()
    assert response.status_code == 200
    assert _counts() == before


@pytest.mark.parametrize("model", KEPT)
def test_a_business_records_page_sends_to_the_planning_screens_instead_of_deleting(client, admin_user, records, model):
    client.force_login(admin_user)
    master = records["shipment"]

    page = client.get(reverse(f"admin:tracking_{model}_change", args=[records[model].pk])).content.decode()

    assert 'class="deletelink"' not in page
    assert f'href="{reverse("tracking:shipment_detail", args=[master.reference])}"' in page
    assert "A business record, kept for good: the console does not delete it." in page


def test_a_house_has_no_delete_page_either(client, admin_user, records):
    """A house carries its order's cargo; it is cancelled with its order."""
    client.force_login(admin_user)

    response = client.post(reverse("admin:tracking_shipment_delete", args=[records["house"].pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Shipment.objects.filter(pk=records["house"].pk).exists()


def test_a_carrier_service_is_configuration_and_may_still_be_deleted(client, admin_user, ocean_carriers):
    """No booking was made on it (one entered by mistake): it goes."""
    maersk, _ = ocean_carriers
    service = CarrierService.objects.create(
        carrier=maersk, mode="ocean_fcl", name="AE7", origin_code="CNSHA", destination_code="DEHAM", transit_days=34
    )
    client.force_login(admin_user)

    page = client.get(reverse("admin:tracking_carrierservice_delete", args=[service.pk])).content.decode()
    response = client.post(reverse("admin:tracking_carrierservice_delete", args=[service.pk]), {"post": "yes"})

    assert 'id="switch-off-instead"' not in page
    assert response.status_code == 302
    assert not CarrierService.objects.filter(pk=service.pk).exists()


SWITCH_OFF = "To stop using it, switch it off instead: open it and untick <strong>Is active</strong>."


@pytest.fixture
def booked_service(records):
    """The Maersk service the master's booking was made on (as the ranking's option pins it: booking_request)."""
    booking = records["booking"]
    service = CarrierService.objects.get(carrier=booking.carrier)
    Booking.objects.filter(pk=booking.pk).update(service=service)
    return service


def test_a_carrier_service_a_booking_was_made_on_is_not_deleted_and_the_page_says_to_switch_it_off(
    client, admin_user, records, booked_service
):
    """Deleting it emptied the booking's link (SET_NULL): the booking, a record kept for good, no longer said which
    service it was made on. The delete page lists the booking and says what to do instead."""
    client.force_login(admin_user)
    url = reverse("admin:tracking_carrierservice_delete", args=[booked_service.pk])

    page = client.get(url).content.decode()
    response = client.post(url, {"post": "yes"})

    assert SWITCH_OFF in page
    assert "would require deleting the following protected related objects" in page
    assert "your account doesn't have permission to delete" not in page  # bookings are protected, not taken along
    assert response.status_code == 200  # the same page again, nothing deleted
    assert CarrierService.objects.filter(pk=booked_service.pk).exists()
    assert Booking.objects.get(pk=records["booking"].pk).service_id == booked_service.pk


def test_delete_selected_keeps_a_carrier_service_a_booking_was_made_on(client, admin_user, records, booked_service):
    client.force_login(admin_user)
    url = reverse("admin:tracking_carrierservice_changelist")

    response = client.post(url, {"action": "delete_selected", "_selected_action": [booked_service.pk], "post": "yes"})

    assert response.status_code == 200
    assert SWITCH_OFF in response.content.decode()
    assert Booking.objects.get(pk=records["booking"].pk).service_id == booked_service.pk


def test_no_other_path_deletes_a_carrier_service_a_booking_was_made_on(records, booked_service):
    """The shell, a script, a carrier's organisation deleted with its services: the database keeps the booking's."""
    with pytest.raises(ProtectedError), transaction.atomic():
        CarrierService.objects.get(pk=booked_service.pk).delete()

    assert Booking.objects.get(pk=records["booking"].pk).service_id == booked_service.pk


def test_a_bookings_service_box_offers_active_services_or_the_one_it_has(client, admin_user, records, booked_service):
    """A service switched off is kept for the bookings made on it and offered to none."""
    booked_service.is_active = False
    booked_service.save(update_fields=["is_active"])
    hapag_service = CarrierService.objects.exclude(pk=booked_service.pk).get()
    query = {"app_label": "tracking", "model_name": "booking", "field_name": "service", "term": ""}
    client.force_login(admin_user)

    offered = {row["id"] for row in client.get("/admin/autocomplete/", query).json()["results"]}
    page = client.get(reverse("admin:tracking_booking_change", args=[records["booking"].pk]))

    assert offered == {str(hapag_service.pk)}
    choices = page.context["adminform"].form.fields["service"].queryset
    assert set(choices) == {booked_service, hapag_service}


def _event(master: Shipment, *, event_at: datetime.datetime, code: str) -> TrackingEvent:
    return TrackingEvent.objects.create(
        source="webhook:test",
        source_kind=SourceKind.WEBHOOK,
        scheme=Scheme.OMS,
        raw_code=code,
        reported_at=event_at,
        mapping_status=MappingStatus.UNMAPPED,
        classifier=Classifier.ACTUAL,
        sent_classifier=Classifier.ACTUAL,
        event_at=event_at,
        subject_type=SubjectType.SHIPMENT,
        subject_value=master.reference,
        content_key=uuid.uuid4(),
    )


def _listed(client, url: str) -> list[int]:
    return [row.pk for row in client.get(url).context["cl"].result_list]


def test_tracking_events_are_listed_newest_first(client, admin_user, booked_fcl):
    """Received last, listed first, whenever the event says it happened (a late report of last week's gate-in)."""
    _, master = booked_fcl
    now = timezone.now()
    first = _event(master, event_at=now - datetime.timedelta(hours=1), code="GATE_OUT")
    late_report = _event(master, event_at=now - datetime.timedelta(days=7), code="GATE_IN")
    client.force_login(admin_user)

    listed = _listed(client, reverse("admin:tracking_trackingevent_changelist"))

    assert listed.index(late_report.pk) < listed.index(first.pk)
    assert listed == sorted(listed, reverse=True)


def test_eta_history_is_listed_newest_first(client, admin_user, booked_fcl):
    _, master = booked_fcl
    now = timezone.now()
    rows = [
        EtaHistory.objects.create(
            shipment=master,
            milestone_id="ARRIVED",
            classifier=Classifier.ESTIMATED,
            estimated_at=now + datetime.timedelta(days=days),
            reported_at=now,
            source="test",
        )
        for days in (10, 12)
    ]
    client.force_login(admin_user)

    listed = _listed(client, reverse("admin:tracking_etahistory_changelist"))

    assert listed[:2] == [rows[1].pk, rows[0].pk]
