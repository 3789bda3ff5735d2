import pytest

from partners import services
from partners.models import ApiKey, Organisation
from partners.scoping import Audience, scope_for_api_key, scope_for_user


def test_staff_scope_sees_every_organisation(ops_user, customer_a, customer_b):
    scope = scope_for_user(ops_user)
    assert scope.audience is Audience.STAFF
    assert set(scope.restrict(Organisation.objects.all(), customer="pk")) >= {customer_a, customer_b}


def test_customer_scope_sees_only_its_own_organisation(customer_a_user, customer_a, customer_b):
    scope = scope_for_user(customer_a_user)
    assert scope.audience is Audience.CUSTOMER
    assert list(scope.restrict(Organisation.objects.all(), customer="pk")) == [customer_a]


def test_partner_scope_sees_nothing_without_a_partner_lookup(carrier_user, customer_a):
    scope = scope_for_user(carrier_user)
    assert scope.audience is Audience.PARTNER
    assert not scope.restrict(Organisation.objects.all(), customer="pk").exists()


def test_partner_scope_sees_what_is_assigned_to_it(carrier_user, carrier, customer_a):
    scope = scope_for_user(carrier_user)
    assert list(scope.restrict(Organisation.objects.all(), customer="pk", partner="pk")) == [carrier]


def test_a_user_without_membership_sees_nothing(outsider, customer_a):
    scope = scope_for_user(outsider)
    assert scope.audience is Audience.NOBODY
    assert not scope.restrict(Organisation.objects.all(), customer="pk", partner="pk").exists()


def test_an_inactive_membership_gives_no_scope(customer_a_user, customer_a):
    membership = customer_a_user.memberships.get()
    services.membership_revoke(membership=membership)
    assert scope_for_user(customer_a_user).audience is Audience.NOBODY


def test_an_inactive_organisation_gives_its_members_no_scope(customer_a_user, customer_a):
    Organisation.objects.filter(pk=customer_a.pk).update(is_active=False)
    assert scope_for_user(customer_a_user).audience is Audience.NOBODY


def test_a_deactivated_user_has_no_scope(customer_a_user):
    customer_a_user.is_active = False
    assert scope_for_user(customer_a_user).audience is Audience.NOBODY


@pytest.mark.parametrize(
    ("organisation_fixture", "audience"),
    [("branch", Audience.STAFF), ("customer_a", Audience.CUSTOMER), ("carrier", Audience.PARTNER)],
)
def test_api_keys_carry_their_organisations_scope(request, organisation_fixture, audience):
    organisation = request.getfixturevalue(organisation_fixture)
    api_key, _ = services.api_key_create(organisation=organisation, name="integration")
    scope = scope_for_api_key(api_key)
    assert scope.audience is audience
    assert scope.organisation_ids == {organisation.pk}


@pytest.mark.parametrize(
    ("kinds", "audience"),
    [(["customer", "branch"], Audience.CUSTOMER), (["company", "carrier"], Audience.PARTNER)],
)
def test_a_key_of_an_organisation_both_ours_and_theirs_is_never_a_staff_key(kinds, audience):
    # The database refuses such an organisation (organisation_internal_or_external); the scope does not rely on it.
    api_key = ApiKey(organisation=Organisation(pk=1, code="MIXED", kinds=kinds))
    assert scope_for_api_key(api_key).audience is audience


def test_owns_is_true_for_staff_and_for_the_own_organisation_only(ops_user, customer_a_user, customer_a, customer_b):
    assert scope_for_user(ops_user).owns(customer_b.pk)
    customer_scope = scope_for_user(customer_a_user)
    assert customer_scope.owns(customer_a.pk)
    assert not customer_scope.owns(customer_b.pk)
    assert not customer_scope.owns(None)


def test_the_login_backend_loads_memberships_with_the_user_in_one_query(
    customer_a_user, customer_a, django_assert_num_queries
):
    from partners.backends import MembershipModelBackend
    from partners.scoping import organisation_for_user

    with django_assert_num_queries(1):
        user = MembershipModelBackend().get_user(customer_a_user.pk)
        scope = scope_for_user(user)
        organisation = organisation_for_user(user, scope)
    assert scope.audience is Audience.CUSTOMER
    assert scope.organisation_ids == {customer_a.pk}
    assert (organisation.pk, organisation.code, organisation.name) == (customer_a.pk, "ACME", customer_a.name)


def test_the_login_backend_sees_revoked_memberships_on_the_next_request(customer_a_user):
    from partners.backends import MembershipModelBackend

    services.membership_revoke(membership=customer_a_user.memberships.get())
    user = MembershipModelBackend().get_user(customer_a_user.pk)
    assert scope_for_user(user).audience is Audience.NOBODY


def test_the_login_backend_refuses_deactivated_people(customer_a_user):
    from partners.backends import MembershipModelBackend

    customer_a_user.is_active = False
    customer_a_user.save(update_fields=["is_active"])
    assert MembershipModelBackend().get_user(customer_a_user.pk) is None
