"""Migration partners/0009: active API keys of organisations a key may not belong to (none of API_KEY_KINDS: a vendor
alone) are revoked, the row kept, and the organisation's notes say which keys, when, why and what to do. Keys of
every other organisation are left alone, a second run changes nothing, and unapplying it leaves them revoked. Run with
the historical models of the migration's own state, as tests/partners/test_partner_memberships_ended.py does."""

from __future__ import annotations

import datetime
import importlib
import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from partners.models import ApiKey, Organisation, OrganisationKind
from partners.services import api_key_create
from tests.factories import OrganisationFactory

MIGRATION = ("partners", "0009_api_keys_outside_key_kinds_revoked")
PREVIOUS = ("partners", "0008_partner_memberships_outside_leg_runners_ended")


def revoke_keys() -> None:
    """The migration's function with the historical models of the state it runs in."""
    historical = MigrationExecutor(connection).loader.project_state(MIGRATION).apps
    module = importlib.import_module(f"{MIGRATION[0]}.migrations.{MIGRATION[1]}")
    module.revoke_api_keys_outside_key_kinds(historical, None)


def issued_before_the_rule(organisation: Organisation, name: str) -> ApiKey:
    """A key as api_key_create made it when a vendor could get one (no check today's has)."""
    _, prefix, key_hash = ApiKey.generate()
    return ApiKey.objects.create(organisation=organisation, name=name, prefix=prefix, key_hash=key_hash)


@pytest.fixture
def world(db):
    printco = OrganisationFactory(code="PRINTCO", kinds=[OrganisationKind.VENDOR], notes="Pays late.")
    carrier = OrganisationFactory(code="NORDTRUCK", kinds=[OrganisationKind.CARRIER, OrganisationKind.VENDOR])
    customer = OrganisationFactory(code="PACKCO", kinds=[OrganisationKind.CUSTOMER])
    already = issued_before_the_rule(printco, "Old ERP")
    ApiKey.objects.filter(pk=already.pk).update(revoked_at=timezone.now() - datetime.timedelta(days=30))
    return {
        "printco": printco,
        "revoked": [issued_before_the_rule(printco, "Invoices"), issued_before_the_rule(printco, "Archive")],
        "kept": [
            api_key_create(organisation=carrier, name="TMS")[0],
            api_key_create(organisation=customer, name="ERP")[0],
        ],
        "already": ApiKey.objects.get(pk=already.pk),
    }


def test_a_vendors_active_keys_are_revoked_with_a_note(world):
    revoke_keys()

    revoked = dict(ApiKey.objects.values_list("pk", "revoked_at"))
    assert all(revoked[key.pk] is not None for key in world["revoked"])
    assert all(revoked[key.pk] is None for key in world["kept"])
    assert revoked[world["already"].pk] == world["already"].revoked_at  # its own day kept
    archive, invoices = sorted(world["revoked"], key=lambda key: key.name)
    today = timezone.localdate().isoformat()
    assert Organisation.objects.get(pk=world["printco"].pk).notes == (
        "Pays late.\n\n"
        f"{today}, partners/0009: revoked API key(s) Archive (oms_{archive.prefix}_…), Invoices "
        f"(oms_{invoices.prefix}_…). A key sees the orders its organisation places (a customer) or the legs it runs "
        "(a carrier, an agent or a warehouse), and PRINTCO does neither, so the key could see nothing. If it does, "
        "tick that kind and issue it a new key."
    )
    assert ApiKey.objects.active().filter(organisation=world["printco"]).count() == 0


def test_a_revoked_vendor_key_is_refused_as_revoked(world, client):
    raw_key, prefix, key_hash = ApiKey.generate()
    ApiKey.objects.create(organisation=world["printco"], name="Feed", prefix=prefix, key_hash=key_hash)
    assert client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Bearer {raw_key}").status_code == 403  # before

    revoke_keys()

    response = client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert response.status_code == 401
    assert "Unknown or revoked API key." in response.content.decode()


def test_a_second_run_changes_nothing(world):
    revoke_keys()
    keys = dict(ApiKey.objects.values_list("pk", "revoked_at"))
    notes = dict(Organisation.objects.values_list("pk", "notes"))

    revoke_keys()

    assert dict(ApiKey.objects.values_list("pk", "revoked_at")) == keys
    assert dict(Organisation.objects.values_list("pk", "notes")) == notes
    assert len(re.findall("partners/0009", notes[world["printco"].pk])) == 1


def test_a_database_without_such_keys_is_left_as_it_is(db):
    customer = OrganisationFactory(code="PACKCO", kinds=[OrganisationKind.CUSTOMER])
    api_key_create(organisation=customer, name="ERP")
    before = list(ApiKey.objects.values_list("pk", "revoked_at"))
    notes = list(Organisation.objects.values_list("pk", "notes", "updated_at"))

    revoke_keys()

    assert list(ApiKey.objects.values_list("pk", "revoked_at")) == before
    assert list(Organisation.objects.values_list("pk", "notes", "updated_at")) == notes


@pytest.mark.django_db(transaction=True)
def test_unapplying_the_migration_leaves_the_keys_revoked():
    """Reversible, doing nothing: a revoked key is never un-revoked."""
    key = issued_before_the_rule(OrganisationFactory(code="PRINTCO", kinds=[OrganisationKind.VENDOR]), "Invoices")
    revoke_keys()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([PREVIOUS])
        assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert MIGRATION in MigrationExecutor(connection).loader.applied_migrations
