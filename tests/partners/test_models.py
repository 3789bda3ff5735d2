import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from partners.models import EXTERNAL_KINDS, INTERNAL_KINDS, Organisation, OrganisationKind, User
from partners.validators import validate_currency_code


def test_user_emails_are_unique_whatever_their_case(db):
    User.objects.create_user(email="Alice@Example.com", password="x")
    with pytest.raises(IntegrityError):
        User.objects.create(email="ALICE@example.COM")


def test_create_user_stores_the_email_lower_case(db):
    assert User.objects.create_user(email="Bob@Example.COM").email == "bob@example.com"


def test_organisation_code_must_be_upper_case_in_the_database(db):
    with pytest.raises(IntegrityError):
        Organisation.objects.create(code="acme", name="Acme", kinds=["customer"])


def test_organisation_needs_at_least_one_kind(db):
    with pytest.raises(IntegrityError):
        Organisation.objects.create(code="NOKIND", name="No kind", kinds=[])


def test_organisation_code_validator_explains_the_format(db):
    organisation = Organisation(code="AC-ME", name="Acme", kinds=["customer"])
    with pytest.raises(ValidationError) as excinfo:
        organisation.full_clean()
    assert "upper-case letters or digits" in str(excinfo.value)


@pytest.mark.parametrize("code", ["EUR", "USD", "JPY", "KWD"])
def test_currency_validator_accepts_iso_4217(code):
    validate_currency_code(code)


@pytest.mark.parametrize(
    ("code", "message"), [("eur", "capitals"), ("EURO", "three-letter"), ("XYZ", "not an ISO 4217")]
)
def test_currency_validator_rejects_with_a_reason(code, message):
    with pytest.raises(ValidationError, match=message):
        validate_currency_code(code)


def test_one_organisation_can_have_several_kinds(db):
    organisation = Organisation.objects.create(code="MAEU", name="Maersk", kinds=["carrier", "vendor"])
    assert list(Organisation.objects.of_kind("vendor")) == [organisation]
    assert list(Organisation.objects.of_kind("carrier")) == [organisation]
    assert organisation.get_kinds_display() == "Carrier, Vendor"


@pytest.mark.parametrize(
    "kinds", [["customer", "branch"], ["company", "customer"], ["branch", "carrier"], ["company", "vendor", "agent"]]
)
def test_an_organisation_is_ours_or_theirs_never_both(db, kinds):
    # Ours (company, branch) makes its API keys staff keys over every customer's data (partners.scoping).
    with pytest.raises(IntegrityError):
        Organisation.objects.create(code="MIXED", name="Mixed", kinds=kinds)


def test_every_kind_is_ours_or_theirs():
    assert set(OrganisationKind) == INTERNAL_KINDS | EXTERNAL_KINDS
    assert not INTERNAL_KINDS & EXTERNAL_KINDS
