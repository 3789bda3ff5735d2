"""The planning console keeps business records (tracking/admin.py, KEPT_RECORD): shipments, bookings and appointments
are cancelled on the planning screens, never deleted here; configuration (carrier services) still is. Event and ETA
lists open on the newest rows (tracking/ingest/admin.py)."""

from __future__ import annotations

import datetime
import uuid

import pytest
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
    maersk, _ = ocean_carriers
    service = CarrierService.objects.create(
        carrier=maersk, mode="ocean_fcl", name="AE7", origin_code="CNSHA", destination_code="DEHAM", transit_days=34
    )
    client.force_login(admin_user)

    response = client.post(reverse("admin:tracking_carrierservice_delete", args=[service.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not CarrierService.objects.filter(pk=service.pk).exists()


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
