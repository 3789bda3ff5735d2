"""An organisation's time zone is a real IANA zone (review D): "Europe/Berln" was saved, and zone_named then put
a branch's business hours, SLAs and every time on its screens on the server's clock without a word."""

from __future__ import annotations

import logging
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from partners.models import Organisation
from partners.time_zones import zone_named
from partners.validators import time_zone_spelt, validate_time_zone


def _errors(response) -> str:
    return " ".join(re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S))


def _org_form(**fields) -> dict:
    data = {
        "code": "BETA", "name": "Beta Corp", "legal_name": "", "kinds": ["customer"], "default_currency": "EUR",
        "time_zone": "UTC", "is_active": "on", "may_place_orders": "on",
    }  # fmt: skip
    for prefix in ("addresses", "contacts", "memberships"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data | fields


def test_an_organisation_with_a_misspelt_time_zone_is_refused_with_the_zone_meant(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("admin:partners_organisation_add"), _org_form(time_zone="Europe/Berln"))
    assert response.status_code == 200
    assert "Europe/Berln is not a time zone name" in _errors(response)
    assert "Did you mean Europe/Berlin?" in _errors(response)
    assert not Organisation.objects.filter(code="BETA").exists()


@pytest.mark.parametrize(
    ("typed", "stored"), [("Europe/Berlin", "Europe/Berlin"), (" asia/shanghai ", "Asia/Shanghai")]
)
def test_an_organisation_with_a_real_time_zone_is_saved_as_the_tz_database_spells_it(client, admin_user, typed, stored):
    client.force_login(admin_user)
    response = client.post(reverse("admin:partners_organisation_add"), _org_form(time_zone=typed))
    assert response.status_code == 302, _errors(response)
    assert Organisation.objects.get(code="BETA").time_zone == stored


@pytest.mark.parametrize("name", ["Europe/Berln", "Europe", "", "../etc/passwd", "UTC "])
def test_the_validator_refuses_what_is_no_zone(name):
    with pytest.raises(ValidationError, match="not a time zone name"):
        validate_time_zone(name)


def test_a_name_differing_only_in_case_is_spelt_as_the_tz_database_does():
    assert time_zone_spelt("AMERICA/NEW_YORK") == "America/New_York"
    assert time_zone_spelt("Mars/Olympus") == "Mars/Olympus"  # left for the validator to refuse


def test_a_zone_saved_before_the_check_falls_back_to_the_servers_and_is_logged(caplog):
    """A row older than the validator must not break a screen, but it is no longer silent; a folder of the tz
    database ("Europe") raised IsADirectoryError from ZoneInfo, a 500 on every page of that branch."""
    with caplog.at_level(logging.WARNING, logger="partners.time_zones"):
        for name in ("Europe/Berln", "Europe"):
            assert zone_named(name) == timezone.get_default_timezone()
    assert "'Europe/Berln' is not a time zone name" in caplog.text
    assert "'Europe' is not a time zone name" in caplog.text
    assert zone_named("Asia/Shanghai").key == "Asia/Shanghai"  # type: ignore[attr-defined]


def test_the_organisation_form_picks_parent_and_account_branch_by_typing(client, admin_user):
    """Every organisation in one drop-down, twice per form: pickers instead, as elsewhere in the console."""
    client.force_login(admin_user)
    body = client.get(reverse("admin:partners_organisation_add")).content.decode()
    for name in ("parent", "account_branch"):
        field = re.search(rf'<select[^>]*id="id_{name}"[^>]*>', body)
        assert field is not None
        assert "admin-autocomplete" in field.group(0)
