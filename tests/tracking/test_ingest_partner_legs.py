"""What a partner may record with a milestone file (/tracking/uploads/): only on the legs it carries, for every
carrier organisation it belongs to."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from partners import services as partner_services
from partners.models import Role
from tests.factories import OrganisationFactory, UserFactory
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD
from tests.tracking.test_scoping import second_carrier, two_masters
from tracking.ingest.models import EventUpload, TrackingEvent
from tracking.models import LegRole
from tracking.services import planning

__all__ = ["second_carrier", "two_masters"]

WHEN = ETD.strftime("%Y-%m-%d %H:%M")


def _csv(*rows):
    text = "\r\n".join(["reference,reference_type,milestone,occurred_at,classifier,location", *rows]) + "\r\n"
    return SimpleUploadedFile("milestones.csv", text.encode(), content_type="text/csv")


def _upload(client, file):
    return client.post(reverse("tracking_ingest:upload"), {"file": file, "time_zone": "UTC"})


def test_an_on_carriage_trucker_cannot_record_the_ocean_carriers_departure(booked_fcl, login):
    """The trucker carries only the on-carriage leg DEHAM → PLWAW; the main leg CNSHA → DEHAM is Maersk's."""
    _order, master = booked_fcl
    trucker = OrganisationFactory(code="NTRK", name="Nordtruck", kinds=["carrier"])
    planning.leg_add(shipment=master, data={"role": LegRole.ON_CARRIAGE, "mode": "road_ftl", "carrier_id": trucker.pk,
                                            "origin_id": "DEHAM", "destination_id": "PLWAW"})  # fmt: skip
    main = master.legs.get(role=LegRole.MAIN)
    assert main.carrier_id != trucker.pk
    user = UserFactory(email="desk@ntrk.test")
    partner_services.membership_grant(user=user, organisation=trucker, role=Role.PARTNER)

    _upload(login(user), _csv(f"{master.reference},shipment,DEPARTED,{WHEN},ACT,CNSHA"))

    main.refresh_from_db()
    assert main.actual_departure_at is None, "a partner recorded the departure of a leg another carrier carries"
    assert not TrackingEvent.objects.filter(leg_id=main.pk).exists()
    assert "is on a leg you do not carry" in EventUpload.objects.get().errors[0]["message"]


def test_a_partner_in_two_carrier_organisations_can_report_on_each_ones_legs(
    two_masters, login, carrier, second_carrier, fresh_mapping
):
    master_a, master_b = two_masters
    user = UserFactory(email="dispatch@both.test")
    partner_services.membership_grant(user=user, organisation=carrier, role=Role.PARTNER)
    partner_services.membership_grant(user=user, organisation=second_carrier, role=Role.PARTNER)
    client = login(user)
    listing = client.get(reverse("portal:shipments")).content.decode()
    assert master_a.reference in listing
    assert master_b.reference in listing

    _upload(client, _csv(f"{master_a.reference},shipment,DEPARTED,{WHEN},ACT,",
                         f"{master_b.reference},shipment,DEPARTED,{WHEN},ACT,"))  # fmt: skip

    result = EventUpload.objects.get()
    assert result.errors == [], result.errors
    assert result.events_stored == 2


def test_the_milestone_file_pages_run_on_the_partners_own_clock(login, carrier):
    """A partner in Shanghai reads its uploads' times on its own clock, is told which, and the form's zone for times
    written without an offset starts as that clock (it was the server's UTC)."""
    carrier.time_zone = "Asia/Shanghai"
    carrier.save(update_fields=["time_zone"])
    user = UserFactory(email="desk@clock.test")
    partner_services.membership_grant(user=user, organisation=carrier, role=Role.PARTNER)
    client = login(user)
    page = client.get(reverse("tracking_ingest:upload")).content.decode()
    assert 'value="Asia/Shanghai"' in page
    upload = EventUpload.objects.create(file_name="m.csv", uploaded_by=user, partner=carrier)
    EventUpload.objects.filter(pk=upload.pk).update(created_at="2026-03-01T23:30:00+00:00")

    listing = client.get(reverse("tracking_ingest:upload")).content.decode()
    detail = client.get(reverse("tracking_ingest:upload_detail", args=[upload.pk])).content.decode()

    assert "2 Mar 07:30" in listing
    assert "(Asia/Shanghai)" in listing
    assert "2 Mar 2026 07:30 (Asia/Shanghai)" in detail
