"""Planning screens run on the branch's clock (docs/planning.md, "Time zones"): the schedule board and Today
take the day of the branch shown (the viewer's own for all branches), show its times and name its zone, and the
times typed into a shipment's forms are read on the clock of the shipment's branch, which the form names."""

import datetime
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.oms_dates import oms_date, oms_datetime
from partners.models import OrganisationKind as K
from partners.models import Role
from tests.conftest import _member
from tests.factories import OrganisationFactory
from tests.tracking.conftest import PICKUP
from tracking import adapters
from tracking.models import Appointment, Booking, Leg, Shipment
from tracking.services import booking as booking_services
from tracking.services import consolidation

NOW = datetime.datetime(2026, 12, 7, 23, 30, tzinfo=datetime.UTC)  # Tue 8 Dec 07:30 in Shanghai, Mon in UTC
DEPARTS = datetime.datetime(2026, 12, 8, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))  # sha_master's leg
UTC = datetime.UTC


@pytest.fixture
def sha(company):
    return OrganisationFactory(
        code="SHA", name="OMS Shanghai", kinds=[K.BRANCH], parent=company, time_zone="Asia/Shanghai"
    )


@pytest.fixture
def sha_ops(sha):
    return _member("ops.sha@oms.test", sha, Role.OPERATIONS)


@pytest.fixture
def berlin(branch):
    branch.time_zone = "Europe/Berlin"
    branch.save(update_fields=["time_zone"])
    return branch


@pytest.fixture
def sha_master(make_order, login, sha, sha_ops):
    """A Shanghai master, planned on screen, with a leg added departing Tue 8 Dec 10:00 Shanghai time."""
    client = login(sha_ops)
    order = make_order(branch_code="SHA")
    client.post(reverse("tracking:order_plan_direct", args=[order.reference]))
    master = Shipment.objects.masters().get()
    leg = {"role": "main", "mode": "ocean_lcl", "origin": "CNSHA", "destination": "DEHAM"}
    client.post(
        reverse("tracking:leg_add", args=[master.reference]), {**leg, "planned_departure_at": "2026-12-08T10:00"}
    )
    return master


def _at_now(monkeypatch, settings):
    settings.SESSION_COOKIE_AGE = 30 * 24 * 3600  # the clock moves; the session must not expire
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def _timed_leg(master):
    return master.legs.get(planned_departure_at__isnull=False)


def test_a_leg_typed_on_a_shanghai_shipment_is_read_on_shanghais_clock(sha_master):
    leg = _timed_leg(sha_master)
    assert leg.planned_departure_at == datetime.datetime(2026, 12, 8, 2, 0, tzinfo=UTC)


def test_today_for_a_shanghai_planner_is_the_day_in_shanghai(login, sha, sha_ops, sha_master, monkeypatch, settings):
    _at_now(monkeypatch, settings)
    response = login(sha_ops).get(reverse("tracking:today"))  # the planner's own branch by default
    assert response.status_code == 200
    execution = response.context["execution"]
    assert execution.day == datetime.date(2026, 12, 8)
    assert [leg.shipment for leg in execution.departures] == [sha_master]
    body = response.content.decode()
    assert f"{oms_date(execution.day, 'weekday')} · times in Asia/Shanghai" in body  # Tue 8 Dec
    assert oms_datetime(DEPARTS) in body  # the departure on Shanghai's clock, not 02:00
    assert '<input type="hidden" name="zone" value="Asia/Shanghai">' in body


def test_today_of_a_branch_chosen_is_that_branchs_day(login, ops_user, sha, sha_master, monkeypatch, settings):
    """A Hamburg planner (Hamburg's zone is UTC in these tests) looking at Shanghai sees Shanghai's Tuesday."""
    _at_now(monkeypatch, settings)
    client = login(ops_user)
    assert client.get(reverse("tracking:today")).context["execution"].day == datetime.date(2026, 12, 7)
    response = client.get(reverse("tracking:today"), {"branch": sha.pk})
    assert response.context["execution"].day == datetime.date(2026, 12, 8)
    assert [leg.shipment for leg in response.context["execution"].departures] == [sha_master]


def test_the_board_starts_on_the_branchs_today_and_shows_its_times(login, sha_ops, sha_master, monkeypatch, settings):
    _at_now(monkeypatch, settings)
    response = login(sha_ops).get(reverse("tracking:schedule"))
    assert response.context["start"] == datetime.date(2026, 12, 8)
    assert response.context["today"] == datetime.date(2026, 12, 8)
    first = response.context["days"][0]
    assert (first.day, [leg.shipment for leg in first.departures]) == (datetime.date(2026, 12, 8), [sha_master])
    body = response.content.decode()
    assert 'id="board-zone">Days and times in <span class="fw-semibold text-body">Asia/Shanghai</span>' in body
    assert "10:00 CNSHA→DEHAM" in body
    assert "1</span> departure</span>" in body  # one departure, not "1 departures"


def test_a_cut_off_is_on_the_day_and_hour_of_the_branchs_clock(
    login, sha, sha_ops, sha_master, ocean_carriers, monkeypatch, settings
):
    booking = booking_services.booking_request(shipment=sha_master, carrier=ocean_carriers[0], by=sha_ops)
    # VGM cut-off Tue 8 Dec 06:00 UTC: 14:00 in Shanghai
    Booking.objects.filter(pk=booking.pk).update(
        status="confirmed", carrier_reference="MAEU1", vgm_cutoff_at=datetime.datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
    )
    _at_now(monkeypatch, settings)
    response = login(sha_ops).get(reverse("tracking:schedule"))
    (label, _, _), *_ = response.context["days"][0].cutoffs
    assert label == "VGM"
    assert "VGM</span> 14:00" in response.content.decode()


def test_the_confirmation_form_reads_times_on_the_branchs_clock_and_says_so(
    login, ops_user, berlin, make_order, ocean_carriers
):
    master = consolidation.consolidation_create(orders=[make_order()], container_type="22G1", by=ops_user)
    booking = booking_services.booking_request(shipment=master, carrier=ocean_carriers[0], by=ops_user)
    client = login(ops_user)
    form = client.get(reverse("tracking:booking_confirm", args=[booking.pk])).content.decode()
    assert "Local time, Europe/Berlin." in form
    assert "Type times as the clock in Europe/Berlin shows them" in form
    response = client.post(
        reverse("tracking:booking_confirm", args=[booking.pk]),
        {
            "carrier_reference": "MAEU262001234",
            "departure_at": f"{PICKUP + datetime.timedelta(days=3)}T18:00",
            "arrival_at": f"{PICKUP + datetime.timedelta(days=40)}T06:00",
            "documentation_cutoff_at": "2026-12-03T12:00",  # CET, UTC+1
            "cargo_cutoff_at": "2026-07-03T12:00",  # CEST, UTC+2
        },
    )
    assert response.status_code == 302, response.content.decode()
    booking.refresh_from_db()
    assert booking.documentation_cutoff_at == datetime.datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    assert booking.cargo_cutoff_at == datetime.datetime(2026, 7, 3, 10, 0, tzinfo=UTC)
    roll = client.get(reverse("tracking:booking_roll", args=[booking.pk])).content.decode()
    assert "Local time, Europe/Berlin." in roll
    assert f"Current ETD {(PICKUP + datetime.timedelta(days=3)):%a %-d %b %Y}, 18:00." in roll


def test_a_time_the_branchs_clock_skips_is_a_form_error(login, ops_user, berlin, make_order):
    """Sun 29 Mar 2026 02:30 does not exist in Berlin (the clocks go from 02:00 to 03:00)."""
    client = login(ops_user)
    order = make_order()
    client.post(reverse("tracking:order_plan_direct", args=[order.reference]))
    master = Shipment.objects.masters().get()
    response = client.post(
        reverse("tracking:leg_add", args=[master.reference]),
        {"role": "main", "mode": "ocean_lcl", "origin": "CNSHA", "destination": "DEHAM",
         "planned_departure_at": "2026-03-29T02:30"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "couldn’t be interpreted in time zone Europe/Berlin" in response.content.decode()
    assert not Leg.objects.filter(shipment=master, planned_departure_at__isnull=False).exists()


def test_the_shipment_page_shows_and_takes_times_on_the_branchs_clock(login, sha_ops, sha_master):
    client = login(sha_ops)
    page = client.get(sha_master.get_absolute_url()).content.decode()
    assert "times in Asia/Shanghai" in page
    assert oms_datetime(DEPARTS) in page
    assert page.count("Local time, Asia/Shanghai.") == 4  # planned departure and arrival, appointment from and until
    response = client.post(
        reverse("tracking:appointment_add", args=[sha_master.reference]),
        {"kind": "pickup", "location": "CNSHA", "window_start_at": "2026-12-07T09:00",
         "window_end_at": "2026-12-07T12:00"},
    )  # fmt: skip
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.window_start_at == datetime.datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def test_a_recorded_time_is_read_on_the_clock_of_the_page_it_came_from(login, sha_ops, sha_master):
    leg = _timed_leg(sha_master)
    shanghai = datetime.timezone(datetime.timedelta(hours=8))  # no summer time
    yesterday = timezone.localdate(timezone=shanghai) - datetime.timedelta(days=1)
    response = login(sha_ops).post(
        reverse("tracking:leg_record_actual", args=[leg.pk]),
        {"kind": "departure", "at": f"{yesterday}T09:00", "zone": "Asia/Shanghai"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    leg.refresh_from_db()
    local = datetime.datetime.combine(yesterday, datetime.time(9, 0), tzinfo=shanghai)
    assert leg.actual_departure_at == local
    body = response.content.decode()
    assert f"dep. {oms_datetime(local)}" in body
    assert '<input type="hidden" name="zone" value="Asia/Shanghai">' in body


def test_the_booking_request_gives_dates_on_the_branchs_clock(sha_ops, sha_master, ocean_carriers):
    """The main leg departs Tue 8 Dec 10:00 in Shanghai; sent from a worker (UTC) it must not say 7 Dec."""
    Leg.objects.filter(shipment=sha_master).update(planned_departure_at=datetime.datetime(2026, 12, 7, 17, tzinfo=UTC))
    booking = booking_services.booking_request(shipment=sha_master, carrier=ocean_carriers[0], by=sha_ops)
    assert "planned 8 Dec 2026" in adapters.booking_document(booking).text  # mail always gives the year


def test_the_order_page_gives_the_shipments_dates_on_the_branchs_clock(login, sha_ops, sha_master):
    """06:00 on Tue 8 Dec in Shanghai is still Monday in UTC: the order page must say 08 Dec."""
    Leg.objects.filter(pk=_timed_leg(sha_master).pk).update(
        planned_departure_at=datetime.datetime(2026, 12, 7, 22, tzinfo=UTC)
    )
    order = sha_master.consolidated_houses.get().house.order
    page = login(sha_ops).get(reverse("orders:detail", args=[order.reference])).content.decode()
    assert "· dates in Asia/Shanghai" in page
    assert f"ETD {oms_date(datetime.date(2026, 12, 8))}" in page


def test_a_recorded_time_the_clock_skips_is_said_so(login, ops_user, berlin, make_order):
    client = login(ops_user)
    client.post(reverse("tracking:order_plan_direct", args=[make_order().reference]))
    leg = Shipment.objects.masters().get().legs.get()
    response = client.post(
        reverse("tracking:leg_record_actual", args=[leg.pk]),
        {"kind": "departure", "at": "2026-03-29T02:30", "zone": "Europe/Berlin"},
        HTTP_HX_REQUEST="true",
    )
    assert "couldn’t be interpreted in time zone Europe/Berlin" in response.content.decode()
    leg.refresh_from_db()
    assert leg.actual_departure_at is None
