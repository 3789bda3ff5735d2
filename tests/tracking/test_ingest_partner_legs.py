"""What a partner may record with a milestone file (/tracking/uploads/) or its signed webhook: only on the legs it
carries, for every carrier organisation it belongs to, whichever reference it names; and what a delivery it reports
closes."""

import datetime
import zoneinfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from oms.templatetags.oms_dates import oms_datetime
from orders.models import Order, OrderStatus
from partners import services as partner_services
from partners.models import Role
from tests.factories import OrganisationFactory, UserFactory
from tests.tracking.conftest import add_on_carriage
from tests.tracking.test_ingest_support import *  # noqa: F403 - fixtures
from tests.tracking.test_ingest_support import ETD, NOW, SECRET, body_of, oms_event, signed_headers
from tests.tracking.test_scoping import second_carrier, two_masters
from tracking.ingest import selectors
from tracking.ingest.models import EventUpload, TrackingEvent, WebhookSource
from tracking.models import LegRole, Shipment, ShipmentStatus
from tracking.services import consolidation, leg_changes

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
    add_on_carriage(master, trucker.pk)
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

    assert oms_datetime(datetime.datetime(2026, 3, 2, 7, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))) in listing
    assert "(Asia/Shanghai)" in listing
    seven_thirty = datetime.datetime(2026, 3, 2, 7, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert f"{oms_datetime(seven_thirty)} (Asia/Shanghai)" in detail


def _on_carriage_trucker(master):
    """Nordtruck carries only the on-carriage DEHAM → PLWAW of the master; Maersk carries the main leg."""
    trucker = OrganisationFactory(code="NTRK", name="Nordtruck", kinds=["carrier"])
    add_on_carriage(master, trucker.pk)
    user = UserFactory(email="desk@ntrk.test")
    partner_services.membership_grant(user=user, organisation=trucker, role=Role.PARTNER)
    return trucker, user


@pytest.mark.parametrize("reference_type", ["order", ""])
def test_naming_the_order_does_not_let_a_trucker_record_the_ocean_departure(booked_fcl, login, reference_type):
    """Review A, defect 1: the order reference used to link to the order alone, on no leg, so the leg check never ran:
    the ocean departure was stored and the order went in transit. It now lands on the legs carrying the order's house,
    and is refused as when the shipment is named (a blank type is recognised as an order by its shape)."""
    order, master = booked_fcl
    _trucker, user = _on_carriage_trucker(master)

    _upload(login(user), _csv(f"{order.reference},{reference_type},DEPARTED,{WHEN},ACT,CNSHA"))

    upload = EventUpload.objects.get()
    assert upload.events_stored == 0
    assert f"DEPARTED for {master.reference} is on a leg you do not carry" in upload.errors[0]["message"]
    assert not TrackingEvent.objects.filter(milestone_id="DEPARTED").exists()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PLANNED


def test_naming_the_order_records_on_the_leg_the_trucker_carries(booked_fcl, login):
    """The same order reference for the trucker's own leg: the gate-out at DEHAM is the on-carriage's departure."""
    order, master = booked_fcl
    leg_changes.leg_record_actual(leg=master.legs.get(role=LegRole.MAIN), departed_at=ETD)
    _trucker, user = _on_carriage_trucker(master)
    left_port = (NOW - datetime.timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")

    _upload(login(user), _csv(f"{order.reference},order,DEPARTED,{left_port},ACT,DEHAM"))

    assert EventUpload.objects.get().errors == []
    event = TrackingEvent.objects.get(source="file:NTRK")
    on_carriage = master.legs.get(role=LegRole.ON_CARRIAGE)
    house = Shipment.objects.houses().get(order=order)
    assert (event.shipment_id, event.order_id, event.leg_id) == (house.pk, order.pk, on_carriage.pk)
    assert event.milestone_id == "OUT_FOR_DELIVERY"
    on_carriage.refresh_from_db()
    assert on_carriage.actual_departure_at is not None


def test_a_partners_webhook_naming_the_order_is_refused_on_a_leg_it_does_not_carry(client, booked_fcl):
    order, master = booked_fcl
    trucker, _user = _on_carriage_trucker(master)
    WebhookSource.objects.create(name="ntrk", secret=SECRET, carrier=trucker)
    body = body_of([oms_event("DEPARTED", ETD, subject=("order", order.reference), place="CNSHA")])
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed_headers(body).items()}

    answer = client.post("/api/v1/tracking/webhooks/ntrk/", data=body, content_type="application/json", **headers)

    assert answer.json()["stored"] == 0
    assert "is on a leg you do not carry" in answer.json()["rejected"][0]["message"]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PLANNED


def _houses(master):
    links = master.consolidated_houses.select_related("house__order__customer")
    return sorted((link.house for link in links), key=lambda house: house.order.customer.code)


def test_delivering_one_house_of_a_consolidation_delivers_that_house_only(
    two_masters, carrier_user, login, fresh_mapping
):
    """Review A, defect 2: master A carries an ACME house and a GLOBEX house for two consignees (groupage delivered
    drop by drop). ACME's delivery used to close the master and, through it, GLOBEX's house too."""
    master_a, _ = two_masters
    leg_changes.shipment_set_status(shipment=master_a, status=ShipmentStatus.IN_TRANSIT)
    acme, globex = _houses(master_a)
    client = login(carrier_user)

    _upload(client, _csv(f"{acme.reference},shipment,DELIVERED,{WHEN},ACT,DEHAM"))

    assert EventUpload.objects.get().events_stored == 1
    statuses = dict(Shipment.objects.filter(pk__in=[master_a.pk, acme.pk, globex.pk]).values_list("pk", "status"))
    assert statuses == {
        acme.pk: ShipmentStatus.DELIVERED,
        globex.pk: ShipmentStatus.IN_TRANSIT,
        master_a.pk: ShipmentStatus.IN_TRANSIT,
    }
    assert Order.objects.get(pk=globex.order_id).status != OrderStatus.DELIVERED
    assert master_a.reference in client.get(reverse("portal:shipments")).content.decode()

    _upload(client, _csv(f"{globex.reference},shipment,DELIVERED,{WHEN},ACT,DEHAM"))

    assert Shipment.objects.get(pk=globex.pk).status == ShipmentStatus.DELIVERED
    assert Shipment.objects.get(pk=master_a.pk).status == ShipmentStatus.DELIVERED, "every house delivered: it closes"


def test_a_delivery_reported_for_the_master_delivers_it_and_its_houses(two_masters, carrier_user, login, fresh_mapping):
    master_a, _ = two_masters
    leg_changes.shipment_set_status(shipment=master_a, status=ShipmentStatus.IN_TRANSIT)

    _upload(login(carrier_user), _csv(f"{master_a.reference},shipment,DELIVERED,{WHEN},ACT,DEHAM"))

    assert {house.status for house in Shipment.objects.filter(pk__in=[h.pk for h in _houses(master_a)])} == {
        ShipmentStatus.DELIVERED
    }
    assert Shipment.objects.get(pk=master_a.pk).status == ShipmentStatus.DELIVERED


H = datetime.timedelta(hours=1)


def _road_groupage(make_order, ops_user, carrier, *, departed=True):
    """Two road LTL orders (ACME, GLOBEX) on one groupage truck the partner carries; it has left unless told."""
    acme = make_order(mode="road_ltl", origin="DEHAM", destination="PLWAW", incoterm="FCA")
    globex = make_order(mode="road_ltl", origin="DEHAM", destination="PLWAW", incoterm="FCA", customer_code="GLOBEX")
    master = consolidation.consolidation_create(orders=[acme, globex], by=ops_user)
    main = master.legs.get(role=LegRole.MAIN)
    leg_changes.leg_update(leg=main, data={"carrier_id": carrier.pk})
    if departed:
        leg_changes.leg_record_actual(leg=main, departed_at=NOW - 30 * H)
    houses = {link.house.order.customer.code: link.house
              for link in master.consolidated_houses.select_related("house__order__customer")}  # fmt: skip
    return master, houses


def _actual_on_timeline(house, code):
    timeline = selectors.order_timeline(order=Order.objects.get(pk=house.order_id), customer_safe=True)
    return next(row for row in timeline.milestones if row.code == code).actual_at


def _house_event(house, code, at):
    return TrackingEvent.objects.get(shipment_id=house.pk, milestone_id=code, event_at=at)


def test_one_drop_of_a_groupage_truck_leaves_the_truck_open_until_its_last_drop(
    make_order, ops_user, carrier, carrier_user, customer_b, login, fresh_mapping
):
    """Review H, defect 2: ACME's drop (DELIVERED is a road leg's arrival) used to record the truck's arrival: the
    master became "Arrived" and left the partner's open list with GLOBEX's goods still on it. A house's delivery on a
    master carrying other live houses is that house's; the truck's leg arrives with its last drop."""
    master, houses = _road_groupage(make_order, ops_user, carrier)
    client = login(carrier_user)
    first, last = (NOW - 8 * H).replace(second=0), (NOW - 2 * H).replace(second=0)

    _upload(client, _csv(f"{houses['ACME'].reference},shipment,DELIVERED,{first:%Y-%m-%d %H:%M},ACT,PLWAW"))

    main = master.legs.get(role=LegRole.MAIN)
    assert main.actual_arrival_at is None
    assert Shipment.objects.get(pk=houses["ACME"].pk).status == ShipmentStatus.DELIVERED
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.IN_TRANSIT
    assert master.reference in client.get(reverse("portal:shipments")).content.decode()
    assert (
        "arrives when the master is reported or its last house is delivered"
        in _house_event(houses["ACME"], "DELIVERED", first).effect
    )

    _upload(client, _csv(f"{houses['GLOBEX'].reference},shipment,DELIVERED,{last:%Y-%m-%d %H:%M},ACT,PLWAW"))

    main.refresh_from_db()
    assert main.actual_arrival_at == last, "the truck arrives with its last drop"
    assert Shipment.objects.get(pk=master.pk).status == ShipmentStatus.DELIVERED
    assert Shipment.objects.get(pk=houses["ACME"].pk).status == ShipmentStatus.DELIVERED
    assert "last house delivered" in _house_event(houses["GLOBEX"], "DELIVERED", last).effect
    assert master.reference in client.get(reverse("portal:shipments"), {"show": "done"}).content.decode()


def test_a_delivered_house_stays_delivered_when_its_truck_is_reported_arrived(
    make_order, ops_user, carrier, carrier_user, customer_b, login, fresh_mapping
):
    """The truck's arrival at its last stop is the master's; it carries on to the houses still on it, never back to
    one already dropped (leg_changes.shipment_set_status)."""
    master, houses = _road_groupage(make_order, ops_user, carrier)
    drop = (NOW - 8 * H).replace(second=0)
    _upload(login(carrier_user), _csv(f"{houses['ACME'].reference},shipment,DELIVERED,{drop:%Y-%m-%d %H:%M},ACT,PLWAW"))

    leg_changes.shipment_set_status(shipment=Shipment.objects.get(pk=master.pk), status=ShipmentStatus.ARRIVED)

    assert Shipment.objects.get(pk=houses["ACME"].pk).status == ShipmentStatus.DELIVERED
    assert Shipment.objects.get(pk=houses["GLOBEX"].pk).status == ShipmentStatus.ARRIVED


def test_each_consignee_of_a_groupage_truck_keeps_its_own_delivery_time(
    make_order, ops_user, carrier, carrier_user, customer_b, login, fresh_mapping
):
    """Review H, defect 3: GLOBEX's drop six hours after ACME's was taken for the trucker correcting the leg's arrival
    ("Corrects the arrival recorded at …"), and ACME's timeline, which reads the leg, showed GLOBEX's time for goods
    received six hours earlier. Events about different houses never correct one another."""
    master, houses = _road_groupage(make_order, ops_user, carrier)
    client = login(carrier_user)
    acme_at, globex_at = (NOW - 8 * H).replace(second=0), (NOW - 2 * H).replace(second=0)

    for house, at in ((houses["ACME"], acme_at), (houses["GLOBEX"], globex_at)):
        _upload(client, _csv(f"{house.reference},shipment,DELIVERED,{at:%Y-%m-%d %H:%M},ACT,PLWAW"))

    assert TrackingEvent.objects.filter(milestone_id="DELIVERED").count() == 2
    assert _actual_on_timeline(houses["ACME"], "DELIVERED") == acme_at
    assert _actual_on_timeline(houses["GLOBEX"], "DELIVERED") == globex_at
    assert "Corrects the arrival" not in _house_event(houses["GLOBEX"], "DELIVERED", globex_at).effect
    assert master.legs.get(role=LegRole.MAIN).actual_arrival_at == globex_at


def test_the_first_pickup_of_a_groupage_collection_is_the_trucks_departure(
    make_order, ops_user, carrier, carrier_user, customer_b, login, fresh_mapping
):
    """Review H, defects 2 and 3 for a collection run: each house's PICKED_UP used to move the truck's departure, and
    with it every earlier house's pickup time. The first pickup sets it; another house's is its own; the trucker's
    corrected row for the house that set it corrects it (the same shipment from the same source)."""
    master, houses = _road_groupage(make_order, ops_user, carrier, departed=False)
    client = login(carrier_user)
    typo, globex_at, right = ((NOW - hours * H).replace(second=0) for hours in (12, 8, 10))
    acme, globex = houses["ACME"], houses["GLOBEX"]

    _upload(client, _csv(f"{acme.reference},shipment,PICKED_UP,{typo:%Y-%m-%d %H:%M},ACT,DEHAM"))
    _upload(client, _csv(f"{globex.reference},shipment,PICKED_UP,{globex_at:%Y-%m-%d %H:%M},ACT,DEHAM"))

    main = master.legs.get(role=LegRole.MAIN)
    assert main.actual_departure_at == typo
    assert "Corrects" not in _house_event(globex, "PICKED_UP", globex_at).effect
    assert _actual_on_timeline(globex, "PICKED_UP") == globex_at

    _upload(client, _csv(f"{acme.reference},shipment,PICKED_UP,{right:%Y-%m-%d %H:%M},ACT,DEHAM"))

    main.refresh_from_db()
    assert main.actual_departure_at == right
    assert _house_event(acme, "PICKED_UP", right).effect.startswith("Corrects the departure recorded at")
    assert _actual_on_timeline(acme, "PICKED_UP") == right, "the house whose pickup the leg holds shows the leg's"
    assert _actual_on_timeline(globex, "PICKED_UP") == globex_at
