"""Personas (STYLE.md): our staff by role, two customer organisations, a carrier, an outsider."""

from __future__ import annotations

import datetime

import pytest

from partners import services
from partners.models import Organisation, Role, User
from partners.models import OrganisationKind as K
from tests.factories import OrganisationFactory, UserFactory

PASSWORD = "correct horse battery staple"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """A transactional test (transaction=True: real workers, races) ends by emptying every table, the milestones and
    generic mapping rules the migrations seed among them; the tests after it on the same worker found no milestone
    code ("BOOKING_CONFIRMED is not a milestone code"), depending on which test ran before. Seeded again once its
    fixtures are torn down, the flush included (four queries when nothing is missing)."""
    yield
    marker = item.get_closest_marker("django_db")
    flushed = marker is not None and marker.kwargs.get("transaction", False)
    if not (flushed or "transactional_db" in getattr(item, "fixturenames", ())):
        return
    from pytest_django.plugin import blocking_manager_key

    from tracking.ingest.models import MappingRule, Milestone
    from tracking.ingest.standards import seed_reference_data

    with item.config.stash[blocking_manager_key].unblock():
        seed_reference_data(Milestone, MappingRule)


@pytest.fixture(autouse=True)
def _no_exception_burst_left_behind():
    """Exception detection gathers changed orders per thread and flushes them at the end of the next request or
    task (tracking.exceptions.receivers): what one test gathered must not be flushed by the next, which may have
    no database (a test of the login redirect failed so, depending on which test ran before it)."""
    from tracking.exceptions import receivers

    yield
    receivers._pending.__init__()  # type: ignore[misc]  # empties the thread-local in place


@pytest.fixture
def eager_celery():
    """Queued Celery tasks run inline in the test's process (once the transaction that queued them commits, when
    they are queued on commit): tests see their effect and no broker fills up. The tests of task behaviour itself
    (on-commit, retries, a killed worker) use a real worker instead (tests/oms/test_celery_worker.py)."""
    from oms.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


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
    return OrganisationFactory(code="GLOBEX", name="Globex Retail", kinds=[K.CUSTOMER], default_currency="USD")


@pytest.fixture
def carrier(db) -> Organisation:
    return OrganisationFactory(code="NORDTRUCK", name="Nordtruck", kinds=[K.CARRIER, K.VENDOR])


def _member(email: str, organisation: Organisation, role: str, **extra) -> User:
    user = UserFactory(email=email, **extra)
    services.membership_grant(user=user, organisation=organisation, role=role)
    return user


@pytest.fixture
def schema(client, db) -> dict:
    """The API's OpenAPI schema, as /api/schema/ serves it."""
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def fresh_rate_window(db):
    """The public link's per-address limits (kept in the cache) start empty and leave nothing for the next test."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


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


@pytest.fixture
def locations(db):
    """The demo UN/LOCODE set (394 real places)."""
    from orders.locations import locations_load_demo

    locations_load_demo()


def _delivery_after(pickup: object) -> str:
    """The default delivery date for a pickup a test set: the fixed one, or later when the pickup passes it (a
    pickup relative to today must not outgrow the fixed date as the calendar moves on). Bad input stays as it is."""
    try:
        start = pickup if isinstance(pickup, datetime.date) else datetime.date.fromisoformat(str(pickup))
    except ValueError:
        return DEFAULT_DELIVERY
    return max(start + datetime.timedelta(days=35), datetime.date.fromisoformat(DEFAULT_DELIVERY)).isoformat()


DEFAULT_DELIVERY = "2027-01-05"


@pytest.fixture
def order_data(customer_a, branch, locations):
    """A valid raw order in the intake vocabulary; tweak it per test."""

    def make(**overrides):
        data = {
            "customer_code": "ACME",
            "customer_reference": "PO-1001",
            "branch_code": "HAM",
            "mode": "ocean_fcl",
            "incoterm": "FOB",
            "origin": "CNSHA",
            "destination": "DEHAM",
            "shipper_name": "Shanghai Bright Lighting Co.",
            "consignee_name": "Acme Industrial",
            "requested_pickup_on": "2026-12-01",
            "requested_delivery_on": DEFAULT_DELIVERY,
            "description": "LED lamps",
            "lines": [
                {
                    "pieces": 20,
                    "package_type": "PX",
                    "gross_weight_kg": "4200.5",
                    "volume_m3": "28.4",
                    "description": "LED lamps",
                    "hs_code": "9405.42",
                    "container_number": "CSQU3054383",
                    "container_type": "45G1",
                    "seal_numbers": "SEAL123",
                }
            ],
        }
        data.update(overrides)
        if "requested_pickup_on" in overrides and "requested_delivery_on" not in overrides:
            data["requested_delivery_on"] = _delivery_after(overrides["requested_pickup_on"])
        return data

    return make
