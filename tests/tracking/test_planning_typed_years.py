"""A typed time whose year is mistyped (the date picker lets 0001 through) is a form error, never a row the pages
cannot read back: year 1 on Shanghai's clock is before year 1 in UTC, which PostgreSQL stores as a BC timestamp and
Python cannot read (review B, defect 1)."""

import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tracking.forms import LegForm, LocalDateTimeField
from tracking.models import Leg
from tracking.services import planning


@pytest.fixture
def sha_branch(branch):
    branch.time_zone = "Asia/Shanghai"
    branch.save(update_fields=["time_zone"])
    return branch


def test_a_departure_typed_as_year_1_on_today_is_a_form_error_not_a_500(login, make_order, ops_user, sha_branch):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    leg = master.legs.get()
    client = login(ops_user)
    client.raise_request_exception = False
    response = client.post(
        reverse("tracking:leg_record_actual", args=[leg.pk]),
        {"kind": "departure", "at": "0001-01-01T00:00", "zone": "Asia/Shanghai"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200  # the row comes back with the error
    assert "check the year" in response.content.decode()
    assert Leg.objects.get(pk=leg.pk).actual_departure_at is None
    assert client.get(master.get_absolute_url()).status_code == 200


def test_a_leg_planned_in_year_1_is_a_form_error_not_a_500(login, make_order, ops_user, sha_branch):
    master = planning.shipment_plan_direct(order=make_order(), by=ops_user)
    client = login(ops_user)
    client.raise_request_exception = False
    response = client.post(
        reverse("tracking:leg_add", args=[master.reference]),
        {"role": "on_carriage", "mode": "road_ftl", "origin": "DEHAM", "destination": "DEMUC",
         "planned_departure_at": "0001-01-01T00:00"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "0001-01-01 00:00 is not a date we plan for: check the year (between 1900 and 9000)." in (
        response.content.decode()
    )
    assert master.legs.count() == 1
    assert client.get(master.get_absolute_url()).status_code == 200, "the shipment page no longer opens"


@pytest.mark.parametrize(
    ("typed", "valid"),
    [
        ("0001-01-01T00:00", False),
        ("1899-12-31T23:59", False),
        ("1900-01-01T00:00", True),
        ("2026-12-07T07:30", True),
        ("9000-12-31T23:59", True),
        ("9001-01-01T00:00", False),
        ("9999-12-31T23:59", False),  # in UTC, on a clock west of Greenwich, past the calendar's end
    ],
)
def test_every_planning_time_field_takes_the_years_1900_to_9000(typed, valid, db):
    for zone in ("Asia/Shanghai", "America/Los_Angeles", "Pacific/Kiritimati"):
        form = LegForm(
            {"role": "main", "mode": "ocean_fcl", "origin": "DEHAM", "destination": "DEHAM",
             "planned_arrival_at": typed},
            zone=zoneinfo.ZoneInfo(zone),
        )  # fmt: skip
        form.is_valid()
        assert ("planned_arrival_at" not in form.errors) is valid, (zone, form.errors)


def test_a_field_without_a_zone_checks_the_year_too():
    field = LocalDateTimeField()
    with pytest.raises(ValidationError, match="check the year"):
        field.clean("0001-01-01T00:00")
    assert field.clean("2026-12-07T07:30") == datetime.datetime(2026, 12, 7, 7, 30, tzinfo=datetime.UTC)
