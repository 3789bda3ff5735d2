"""A carrier service's or preference's lane is saved as the ranking reads it (review R4): codes in capitals, each a
place or a country of the place list; a code the ranking could never match is refused in words."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import Location
from tracking.models import CarrierPreference, CarrierService
from tracking.services.ranking import ranking_context_load


@pytest.fixture
def places(db) -> None:
    Location.objects.create(code="DEHAM", name="Hamburg", name_ascii="Hamburg", country="DE")
    Location.objects.create(code="CNSHA", name="Shanghai", name_ascii="Shanghai", country="CN")


def _service(carrier, **overrides: str) -> dict[str, str]:
    data = {"carrier": str(carrier.pk), "mode": "ocean_fcl", "name": "AE7", "origin_code": "CNSHA",
            "destination_code": "DEHAM", "transit_days": "30", "departure_weekdays": "", "cargo_cutoff_hours": "24",
            "documentation_cutoff_hours": "48", "vgm_cutoff_hours": "24", "is_active": "on"}  # fmt: skip
    return {**data, **overrides}


def test_a_services_lane_typed_in_lower_case_is_saved_as_the_ranking_finds_it(admin_user, login, carrier, places):
    response = login(admin_user).post(
        reverse("admin:tracking_carrierservice_add"),
        _service(carrier, origin_code="cnsha", destination_code="de", departure_weekdays="4,1,1"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    service = CarrierService.objects.get(carrier=carrier)
    assert (service.origin_code, service.destination_code, service.departure_weekdays) == ("CNSHA", "DE", [1, 4])
    lanes = ranking_context_load(modes=["ocean_fcl"], lane=("CNSHA", "DEHAM"))
    assert lanes.services[(carrier.pk, "ocean_fcl")] == {("CNSHA", "DE"): [service]}


@pytest.mark.parametrize(("field", "typed", "says"), [
    ("destination_code", "Shang", "SHANG is not in the place list: type a place's UN/LOCODE (e.g. DEHAM)"),
    ("origin_code", "XXABC", "XXABC is not in the place list"),
    ("origin_code", "FR", "FR is not in the place list"),
    ("departure_weekdays", "1,8", "Departure days are 0 (Monday) to 6 (Sunday)."),
])  # fmt: skip
def test_a_service_whose_lane_no_order_can_have_is_refused_in_words(
    admin_user, login, carrier, places, field, typed, says
):
    response = login(admin_user).post(reverse("admin:tracking_carrierservice_add"), _service(carrier, **{field: typed}))

    assert response.status_code == 200
    assert says in " ".join(response.context["adminform"].form.errors[field])
    assert not CarrierService.objects.exists()


def test_a_preferences_lane_is_saved_in_capitals_and_a_blank_end_stays_any(admin_user, login, carrier, places):
    data = {"carrier": str(carrier.pk), "kind": "preferred", "customer": "", "mode": "", "origin_code": "deham",
            "destination_code": "", "reason": "Fast"}  # fmt: skip

    response = login(admin_user).post(reverse("admin:tracking_carrierpreference_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    preference = CarrierPreference.objects.get(carrier=carrier)
    assert (preference.origin_code, preference.destination_code) == ("DEHAM", "")


def test_a_service_keeps_the_lane_it_has_once_its_place_has_left_the_list(admin_user, login, carrier, places):
    service = CarrierService.objects.create(
        carrier=carrier, mode="ocean_fcl", name="AE7", origin_code="CNSHA", destination_code="NLRTM", transit_days=30
    )
    url = reverse("admin:tracking_carrierservice_change", args=[service.pk])

    response = login(admin_user).post(url, _service(carrier, destination_code="NLRTM", transit_days="28"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    service.refresh_from_db()
    assert (service.destination_code, service.transit_days) == ("NLRTM", 28)
