"""A carrier endpoint's time zone is checked as an organisation's is (partners.validators, the one check): a
misspelt zone is refused with the zone meant, and a zone typed in another case is stored as the tz database spells
it. Tracking had a copy of the check that said neither."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tracking.ingest.forms import MilestoneEntryForm
from tracking.ingest.models import CarrierEndpoint


def _errors(response) -> str:
    return " ".join(re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S))


def _endpoint_form(carrier, time_zone: str) -> dict:
    return {"carrier": carrier.pk, "kind": "karrio", "base_url": "", "credentials_env": "",
            "karrio_carrier_name": "dhl_express", "time_zone": time_zone, "rate_limit_per_minute": "60",
            "is_active": "on"}  # fmt: skip


def test_a_misspelt_endpoint_time_zone_is_refused_with_the_zone_meant(client, admin_user, carrier):
    client.force_login(admin_user)
    response = client.post(reverse("admin:tracking_carrierendpoint_add"), _endpoint_form(carrier, "Europe/Berln"))
    assert response.status_code == 200
    assert "Europe/Berln is not a time zone name" in _errors(response)
    assert "Did you mean Europe/Berlin?" in _errors(response)
    assert not CarrierEndpoint.objects.exists()


def test_an_endpoint_time_zone_is_stored_as_the_tz_database_spells_it(client, admin_user, carrier):
    client.force_login(admin_user)
    response = client.post(reverse("admin:tracking_carrierendpoint_add"), _endpoint_form(carrier, " asia/shanghai "))
    assert response.status_code == 302, _errors(response)
    assert CarrierEndpoint.objects.get().time_zone == "Asia/Shanghai"


def test_the_endpoint_model_checks_with_the_partners_validator(carrier):
    endpoint = CarrierEndpoint(carrier=carrier, kind="karrio", karrio_carrier_name="dhl_express", time_zone="Europe")
    with pytest.raises(ValidationError, match="Europe is not a time zone name"):
        endpoint.full_clean()


def test_a_milestone_typed_in_with_a_misspelt_time_zone_is_told_the_zone_meant(db):
    form = MilestoneEntryForm(data={"time_zone": "Asia/Shangai"})
    assert not form.is_valid()
    assert "Did you mean Asia/Shanghai?" in str(form.errors["time_zone"])
