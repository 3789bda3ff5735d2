import pytest
from django.core.management import CommandError, call_command

from partners.models import ApiKey, Membership, Organisation, User
from partners.services import api_key_authenticate
from tracking.ingest.models import MappingRule, Milestone
from tracking.ingest.standards import seed_reference_data


@pytest.fixture(autouse=True)
def _reference_data(db):
    """The demo's workflows are published against the milestone list the migrations load, which a truncating test
    that ran before on this database may have emptied."""
    seed_reference_data(Milestone, MappingRule)


def test_seed_demo_creates_the_demo_world_and_is_idempotent(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    counts = (Organisation.objects.count(), User.objects.count(), Membership.objects.count())
    call_command("seed_demo")
    assert (Organisation.objects.count(), User.objects.count(), Membership.objects.count()) == counts
    assert set(Organisation.objects.values_list("code", flat=True)) >= {"OMS", "HAM", "SHA", "ACME", "GLOBEX"}
    for email in ("admin@oms.example", "ops@oms.example", "portal@acme.example", "carrier@oms.example"):
        assert User.objects.get(email=email).check_password("demo")
    assert Organisation.objects.get(code="HAM").parent.code == "OMS"
    assert Organisation.objects.get(code="SHA").default_currency == "CNY"


def test_seed_demo_refuses_the_default_password_in_production_mode(db, settings):
    settings.DEBUG = False
    settings.OMS_DEMO_PASSWORD = "demo"
    with pytest.raises(CommandError, match="Refusing the default demo password"):
        call_command("seed_demo")


def test_seed_demo_accepts_a_chosen_password_in_production_mode(db, settings):
    settings.DEBUG = False
    call_command("seed_demo", password="a long chosen demo password")
    assert User.objects.get(email="ops@oms.example").check_password("a long chosen demo password")


def test_create_api_key_prints_a_key_that_works(customer_a, capsys):
    call_command("create_api_key", organisation="acme", name="ERP")
    raw_key = capsys.readouterr().out.strip()
    api_key = api_key_authenticate(raw_key=raw_key)
    assert api_key is not None
    assert api_key.organisation == customer_a
    assert ApiKey.objects.get().key_hash != raw_key


def test_create_api_key_for_an_unknown_organisation_fails_clearly(db):
    with pytest.raises(CommandError, match="No organisation with code NOPE"):
        call_command("create_api_key", organisation="NOPE", name="x")
