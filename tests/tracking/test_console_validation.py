"""The tracking console checks codes as they are stored (upper case) and says in words what the models'
constraints refuse (review D): a lower-case mapping code is saved, and its duplicate refused, without a raw
"Constraint … is violated" or a 500."""

from __future__ import annotations

import re

from django.urls import reverse

from tracking.ingest.models import CarrierEndpoint, MappingRule, Milestone
from tracking.ingest.standards import seed_reference_data

RAW_CONSTRAINT = "Constraint “"


def _errors(response) -> str:
    return " ".join(re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S))


def test_a_mapping_rule_typed_in_lower_case_is_saved_upper_case(client, admin_user):
    """The code's help text says it is "compared without regard to case", but the form checked the database's
    upper-case constraint before save_model upper-cased it: EasyPost's and AfterShip's lower-case statuses were
    refused with 'Constraint “mapping_rule_code_upper” is violated.'"""
    client.force_login(admin_user)
    form = {"scheme": "easypost", "code": " arrived_at_facility ", "is_active": "on"}
    response = client.post(reverse("admin:tracking_mappingrule_add"), form)
    assert RAW_CONSTRAINT not in response.content.decode()
    assert response.status_code == 302, _errors(response)
    assert MappingRule.objects.filter(scheme="easypost", code="ARRIVED_AT_FACILITY").exists()


def test_a_lower_case_duplicate_of_a_mapping_rule_is_refused_in_words(client, admin_user):
    """The duplicate check compares the stored (upper-case) code: "in_transit" beside the standard EasyPost rule
    IN_TRANSIT is its duplicate, refused on the form rather than by the database (a 500). The standard rules are
    seeded here: a transactional test before this one may have emptied the tables the data migration filled."""
    seed_reference_data(Milestone, MappingRule)
    assert MappingRule.objects.filter(scheme="easypost", code="IN_TRANSIT", partner=None, location_role="").exists()
    before = MappingRule.objects.count()
    client.force_login(admin_user)
    form = {"scheme": "easypost", "code": "in_transit", "is_active": "on"}
    response = client.post(reverse("admin:tracking_mappingrule_add"), form)
    assert response.status_code == 200
    assert RAW_CONSTRAINT not in response.content.decode()
    assert "already exists" in _errors(response)
    assert MappingRule.objects.count() == before


def _milestone_form(**fields) -> dict:
    return {"code": "GATE_CHECK", "name": "Gate check", "rank": "15", "definition": "", "order_status": "",
            "is_customer_visible": "on", "is_active": "on", **fields}  # fmt: skip


def test_a_milestone_code_is_stored_upper_case(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("admin:tracking_milestone_add"), _milestone_form(code="gate_check"))
    assert response.status_code == 302, _errors(response)
    assert Milestone.objects.filter(code="GATE_CHECK").exists()


def test_a_milestone_code_of_the_wrong_shape_is_refused_in_words(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("admin:tracking_milestone_add"), _milestone_form(code="GATE-2"))
    assert response.status_code == 200
    assert RAW_CONSTRAINT not in response.content.decode()
    assert "letters and underscores" in _errors(response)
    assert not Milestone.objects.filter(code__startswith="GATE").exists()


def test_a_carrier_endpoint_without_requests_is_refused_in_words(client, admin_user, carrier):
    client.force_login(admin_user)
    form = {"carrier": carrier.pk, "kind": "dcsa", "base_url": "https://api.carrier.example/dcsa/tnt",
            "credentials_env": "", "karrio_carrier_name": "", "time_zone": "UTC", "rate_limit_per_minute": "0",
            "is_active": "on"}  # fmt: skip
    response = client.post(reverse("admin:tracking_carrierendpoint_add"), form)
    assert response.status_code == 200
    assert RAW_CONSTRAINT not in response.content.decode()
    assert "at least 1 request a minute" in _errors(response)
    assert not CarrierEndpoint.objects.exists()
