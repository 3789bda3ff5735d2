"""Personas (STYLE.md): our staff by role, two customer organisations, a carrier, an outsider."""

from __future__ import annotations

import pytest

from partners import services
from partners.models import Organisation, Role, User
from partners.models import OrganisationKind as K
from tests.factories import OrganisationFactory, UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
def company(db) -> Organisation:
    return OrganisationFactory(code="OMS", name="OMS Logistics", kinds=[K.COMPANY])


@pytest.fixture
def branch(company) -> Organisation:
    return OrganisationFactory(code="HAM", name="OMS Hamburg", kinds=[K.BRANCH], parent=company)


@pytest.fixture
def customer_a(db) -> Organisation:
    return OrganisationFactory(code="ACME", name="Acme Industrial", kinds=[K.CUSTOMER])


@pytest.fixture
def customer_b(db) -> Organisation:
    return OrganisationFactory(
        code="GLOBEX", name="Globex Retail", kinds=[K.CUSTOMER], default_currency="USD"
    )


@pytest.fixture
def carrier(db) -> Organisation:
    return OrganisationFactory(code="NORDTRUCK", name="Nordtruck", kinds=[K.CARRIER, K.VENDOR])


def _member(email: str, organisation: Organisation, role: str, **extra) -> User:
    user = UserFactory(email=email, **extra)
    services.membership_grant(user=user, organisation=organisation, role=role)
    return user


@pytest.fixture
def ops_user(branch) -> User:
    return _member("ops@oms.test", branch, Role.OPERATIONS)


@pytest.fixture
def sales_user(branch) -> User:
    return _member("sales@oms.test", branch, Role.SALES)


@pytest.fixture
def finance_user(branch) -> User:
    return _member("finance@oms.test", branch, Role.FINANCE)


@pytest.fixture
def admin_user(company) -> User:
    return _member("admin@oms.test", company, Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def customer_a_user(customer_a) -> User:
    return _member("alice@acme.test", customer_a, Role.CUSTOMER)


@pytest.fixture
def customer_b_user(customer_b) -> User:
    return _member("bob@globex.test", customer_b, Role.CUSTOMER)


@pytest.fixture
def carrier_user(carrier) -> User:
    return _member("charlie@nordtruck.test", carrier, Role.PARTNER)


@pytest.fixture
def outsider(db) -> User:
    return UserFactory(email="mallory@nowhere.test")


@pytest.fixture
def login(client):
    def _login(user: User):
        client.force_login(user)
        return client

    return _login
