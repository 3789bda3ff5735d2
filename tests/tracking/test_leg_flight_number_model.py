"""A flight number is checked on the Leg model too (migration 0020), not only in the planning forms: the console's
form for a leg, and any other model form or `full_clean`, refused nothing ("LH 8210 XX" was stored as typed). The
check is a validator, no database constraint: flight numbers stored before it stay as they are."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.test import RequestFactory

from tracking.models import Leg
from tracking.services import planning

REFUSED = "LH 8210 XX is not a flight number"


@pytest.fixture
def air_leg(make_order, ops_user) -> Leg:
    master = planning.shipment_plan_direct(order=make_order(mode="air", incoterm="FCA"), by=ops_user)
    return master.legs.get()


def _console_form(leg: Leg, admin_user, **changes):
    """The form the console builds for a leg (a ModelAdmin's form, every editable field), filled as saved."""
    request = RequestFactory().post("/")
    request.user = admin_user
    form_class = admin.ModelAdmin(Leg, admin.site).get_form(request, obj=leg)
    data = {name: "" if value is None else value for name, value in model_to_dict(leg).items()}
    return form_class({**data, **changes}, instance=leg)


def test_the_console_refuses_what_is_no_flight_number_with_what_one_looks_like(air_leg, admin_user):
    form = _console_form(air_leg, admin_user, flight_number="LH 8210 XX")

    assert not form.is_valid()
    (error,) = form.errors["flight_number"]
    assert error.startswith(REFUSED)
    assert "e.g. LH8210" in error
    air_leg.refresh_from_db()
    assert air_leg.flight_number == ""


def test_the_console_keeps_a_flight_number_as_carriers_write_it(air_leg, admin_user):
    form = _console_form(air_leg, admin_user, flight_number="lh 8210")

    assert form.is_valid(), form.errors
    form.save()
    air_leg.refresh_from_db()
    assert air_leg.flight_number == "LH8210"


def test_full_clean_refuses_what_is_no_flight_number(air_leg):
    air_leg.flight_number = "LH 8210 XX"

    with pytest.raises(ValidationError) as refused:
        air_leg.full_clean()

    assert refused.value.message_dict["flight_number"][0].startswith(REFUSED)


def test_a_flight_number_stored_before_the_check_is_kept(air_leg):
    """A validator, no constraint: the database keeps what it holds (migration 0020 runs on databases with such
    values), and the leg is refused only when its flight number is next edited through a form."""
    Leg.objects.filter(pk=air_leg.pk).update(flight_number="LH 8210 XX")
    air_leg.refresh_from_db()

    air_leg.save()

    assert Leg.objects.get(pk=air_leg.pk).flight_number == "LH 8210 XX"
