"""The reader's clock comes with the scope (`Scope.time_zone`, read with the memberships the login backend loads):
staff read on their first branch's, customers and partners on their own organisation's, company-wide staff on the
server's. `viewer_zone` then costs no query, so every portal screen can name its clock for free; a scope built by
hand is looked up, with the same answer."""

from __future__ import annotations

import zoneinfo

import pytest
from django.utils import timezone

from partners import services
from partners.backends import MembershipModelBackend
from partners.models import Organisation, OrganisationKind, Role
from partners.scoping import Scope, scope_for_api_key, scope_for_user
from partners.time_zones import viewer_zone
from tests.factories import OrganisationFactory, UserFactory


def _zone(organisation: Organisation, name: str) -> None:
    organisation.time_zone = name
    organisation.save(update_fields=["time_zone"])


@pytest.fixture
def zones(company, branch, customer_a, customer_b, carrier):
    """HAM in Berlin and a later branch SHA in Shanghai; ACME in Chicago, Globex in Shanghai, Nordtruck in Warsaw.
    The company itself (no branch) is in Tokyo: a zone no one reads on."""
    _zone(company, "Asia/Tokyo")
    _zone(branch, "Europe/Berlin")
    _zone(customer_a, "America/Chicago")
    _zone(customer_b, "Asia/Shanghai")
    _zone(carrier, "Europe/Warsaw")
    return OrganisationFactory(code="SHA", kinds=[OrganisationKind.BRANCH], parent=company, time_zone="Asia/Shanghai")


def test_each_reader_has_its_own_clock(zones, ops_user, admin_user, customer_a_user, customer_b_user, carrier_user):
    services.membership_grant(user=ops_user, organisation=zones, role=Role.OPERATIONS)  # HAM first, by id
    services.membership_grant(user=admin_user, organisation=zones, role=Role.ADMIN)  # the company's, then SHA
    hq = UserFactory(email="hq@oms.test")
    services.membership_grant(user=hq, organisation=zones.parent, role=Role.ADMIN)
    for user, expected, name in (
        (ops_user, "Europe/Berlin", "Europe/Berlin"),
        (admin_user, "Asia/Shanghai", "Asia/Shanghai"),  # a branch's, never the company's own
        (hq, "UTC", ""),  # company-wide staff: the server's zone
        (customer_a_user, "America/Chicago", "America/Chicago"),
        (customer_b_user, "Asia/Shanghai", "Asia/Shanghai"),
        (carrier_user, "Europe/Warsaw", "Europe/Warsaw"),
    ):
        scope = scope_for_user(user)
        assert scope.time_zone == name, user.email
        assert viewer_zone(scope) == zoneinfo.ZoneInfo(expected), user.email
        by_hand = Scope(scope.audience, scope.organisation_ids, scope.roles)  # no zone: looked up
        assert viewer_zone(by_hand) == viewer_zone(scope), user.email


def test_the_clock_of_a_signed_in_person_costs_no_query(zones, customer_a_user, django_assert_num_queries):
    user = MembershipModelBackend().get_user(customer_a_user.pk)  # as every request loads its person
    with django_assert_num_queries(0):
        assert viewer_zone(scope_for_user(user)) == zoneinfo.ZoneInfo("America/Chicago")


def test_a_zone_saved_before_the_check_falls_back_to_the_servers(customer_a, customer_a_user, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    Organisation.objects.filter(pk=customer_a.pk).update(time_zone="America/Chicgo")  # past the validator
    assert viewer_zone(scope_for_user(customer_a_user)) == timezone.get_default_timezone()


def test_an_api_keys_scope_has_its_organisations_clock(zones, branch, customer_a, company):
    for organisation, expected in ((customer_a, "America/Chicago"), (branch, "Europe/Berlin"), (company, "")):
        key, _ = services.api_key_create(organisation=organisation, name="BI")
        assert scope_for_api_key(key).time_zone == expected
