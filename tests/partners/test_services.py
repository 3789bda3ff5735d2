import pytest

from partners import services
from partners.errors import PartnersError
from partners.models import PARTNER_KINDS, ApiKey, Membership, OrganisationKind, Role
from tests.factories import OrganisationFactory, UserFactory
from tracking.selectors import LEG_RUNNER_KINDS


def test_membership_grant_puts_the_user_in_the_role_group(branch):
    user = UserFactory()
    services.membership_grant(user=user, organisation=branch, role=Role.OPERATIONS)
    assert list(user.groups.values_list("name", flat=True)) == ["role:operations"]
    assert user.has_perm("partners.view_organisation")
    assert not user.has_perm("partners.delete_organisation")


def test_membership_grant_is_idempotent(branch):
    user = UserFactory()
    first = services.membership_grant(user=user, organisation=branch, role=Role.SALES)
    second = services.membership_grant(user=user, organisation=branch, role=Role.SALES)
    assert first.pk == second.pk


@pytest.mark.parametrize(
    ("organisation_fixture", "role"),
    [
        ("customer_a", Role.OPERATIONS),
        ("branch", Role.CUSTOMER),
        ("carrier", Role.CUSTOMER),
        ("customer_a", Role.PARTNER),
    ],
)
def test_membership_grant_refuses_a_role_the_organisation_cannot_hold(request, organisation_fixture, role):
    organisation = request.getfixturevalue(organisation_fixture)
    with pytest.raises(PartnersError, match="cannot be held"):
        services.membership_grant(user=UserFactory(), organisation=organisation, role=role)


@pytest.mark.parametrize("kinds", [["vendor"], ["customer", "vendor"]])
def test_membership_grant_refuses_the_partner_role_in_an_organisation_that_runs_no_leg(db, kinds):
    """The partner portal shows the legs an organisation runs (a carrier, an agent, a warehouse): a vendor runs none."""
    vendor = OrganisationFactory(code="PRINTCO", name="Print Co", kinds=kinds)
    with pytest.raises(PartnersError, match="The partner role cannot be held in PRINTCO") as refused:
        services.membership_grant(user=UserFactory(), organisation=vendor, role=Role.PARTNER)
    assert "runs no legs" in str(refused.value)
    assert not Membership.objects.filter(organisation=vendor).exists()


@pytest.mark.parametrize("kind", ["carrier", "agent", "warehouse"])
def test_membership_grant_gives_the_partner_role_in_an_organisation_that_runs_legs(db, kind):
    runner = OrganisationFactory(code="RUNNER", name="Runner", kinds=[kind, "vendor"])
    membership = services.membership_grant(user=UserFactory(), organisation=runner, role=Role.PARTNER)
    assert membership.role == Role.PARTNER


def test_membership_revoke_takes_the_group_away(branch):
    user = UserFactory()
    membership = services.membership_grant(user=user, organisation=branch, role=Role.FINANCE)
    services.membership_revoke(membership=membership)
    assert not user.groups.exists()


def test_api_key_is_stored_hashed_and_authenticates(customer_a):
    api_key, raw_key = services.api_key_create(organisation=customer_a, name="ERP")
    assert raw_key not in (api_key.key_hash, api_key.prefix)
    assert ApiKey.objects.get(pk=api_key.pk).key_hash == ApiKey.hash_secret(raw_key)
    assert services.api_key_authenticate(raw_key=raw_key) == api_key


def test_api_key_with_underscores_in_its_secret_authenticates(customer_a, monkeypatch):
    monkeypatch.setattr("secrets.token_urlsafe", lambda n: "abc_def_ghi")
    api_key, raw_key = services.api_key_create(organisation=customer_a, name="ERP")
    assert services.api_key_authenticate(raw_key=raw_key) == api_key


@pytest.mark.parametrize("raw_key", ["", "oms_", "oms_abc", "nope_abc_def", "oms_000000000000_wrong"])
def test_api_key_authenticate_refuses_malformed_or_unknown_keys(customer_a, raw_key):
    services.api_key_create(organisation=customer_a, name="ERP")
    assert services.api_key_authenticate(raw_key=raw_key) is None


def test_revoked_key_stops_working(customer_a):
    api_key, raw_key = services.api_key_create(organisation=customer_a, name="ERP")
    services.api_key_revoke(api_key=api_key)
    assert services.api_key_authenticate(raw_key=raw_key) is None


def test_key_of_an_inactive_organisation_stops_working(customer_a):
    _api_key, raw_key = services.api_key_create(organisation=customer_a, name="ERP")
    customer_a.is_active = False
    customer_a.save()
    assert services.api_key_authenticate(raw_key=raw_key) is None


def test_a_wrong_secret_with_a_known_prefix_is_refused(customer_a):
    _api_key, raw_key = services.api_key_create(organisation=customer_a, name="ERP")
    assert services.api_key_authenticate(raw_key=raw_key[:-2] + "xx") is None


def test_the_partner_role_fits_the_organisations_a_leg_may_be_given_to():
    """One rule: the kinds that may hold the partner role are those that run legs, all the partner portal shows."""
    assert set(LEG_RUNNER_KINDS) == PARTNER_KINDS


@pytest.mark.parametrize(
    ("kinds", "role", "left"),
    [
        ([OrganisationKind.CARRIER, OrganisationKind.VENDOR], Role.PARTNER, [OrganisationKind.VENDOR]),
        ([OrganisationKind.CUSTOMER, OrganisationKind.VENDOR], Role.CUSTOMER, [OrganisationKind.VENDOR]),
    ],
)
def test_an_organisation_keeps_the_kinds_its_peoples_roles_need(db, kinds, role, left):
    """Unticking the kind a role needs would leave its people signed in to nothing (a partner user of a vendor), so
    it is refused in words until their memberships end; an ended membership does not hold the kinds back."""
    organisation = OrganisationFactory(code="DUAL", kinds=kinds)
    membership = services.membership_grant(user=UserFactory(), organisation=organisation, role=role)

    with pytest.raises(PartnersError, match=rf"DUAL has people with the {Role(role).label.lower()} role"):
        services.organisation_kinds_check(organisation=organisation, kinds=left)

    membership.is_active = False
    membership.save()
    services.organisation_kinds_check(organisation=organisation, kinds=left)  # nobody's role needs it any more
