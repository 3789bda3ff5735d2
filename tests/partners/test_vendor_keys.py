"""API keys of an organisation that neither places orders (a customer) nor runs legs (a carrier, an agent or a
warehouse): a vendor alone. Its key acted as a partner key over the legs it runs, none, so every list answered empty
and the integrator could not tell a wrong key from a quiet day. Now it is not issued (service, console, command), an
organisation with a working key keeps the kind the key needs, and a key issued before answers 403 in words."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from partners import services
from partners.errors import PartnersError
from partners.models import PARTNER_KINDS, ApiKey, Organisation, OrganisationKind
from tests.factories import OrganisationFactory
from tests.oms.test_admin_security import form_data

VENDOR_REFUSAL = (
    "PRINTCO (Vendor) cannot get an API key: a key sees the orders its organisation places (a customer) or the legs "
    "it runs (a carrier, an agent or a warehouse), and PRINTCO does neither, so its key would find nothing. Tick the "
    "kind it plays on the organisation first."
)
VENDOR_KEY_403 = (
    "This API key belongs to PRINTCO (Vendor), which neither places orders (a customer) nor runs legs (a carrier, an "
    "agent or a warehouse), so there is nothing it may see. Ask the OMS administrator to tick the kind PRINTCO plays, "
    "or to revoke the key."
)


@pytest.fixture
def printco(db) -> Organisation:
    return OrganisationFactory(code="PRINTCO", name="Print Co", kinds=[OrganisationKind.VENDOR])


def issued_before_the_rule(organisation: Organisation) -> str:
    """A key as api_key_create made it for a vendor before it refused to; its raw secret."""
    raw_key, prefix, key_hash = ApiKey.generate()
    ApiKey.objects.create(organisation=organisation, name="Vendor ERP", prefix=prefix, key_hash=key_hash)
    return raw_key


def get(client: Client, path: str, raw_key: str) -> Any:
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {raw_key}")


# ---- Issuing ----------------------------------------------------------------------------------------------------


def test_a_vendor_alone_gets_no_api_key(printco):
    with pytest.raises(PartnersError) as refused:
        services.api_key_create(organisation=printco, name="Vendor ERP")

    assert str(refused.value) == VENDOR_REFUSAL
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("kind", [OrganisationKind.CUSTOMER, *sorted(PARTNER_KINDS)])
def test_a_vendor_that_places_orders_or_runs_legs_gets_one(db, kind):
    organisation = OrganisationFactory(code="DUAL", kinds=[kind, OrganisationKind.VENDOR])

    api_key, _raw = services.api_key_create(organisation=organisation, name="ERP")

    assert api_key.organisation == organisation


def test_the_console_refuses_a_vendors_key_in_words_and_does_not_offer_the_vendor(printco, carrier, admin_user, login):
    client = login(admin_user)

    response = client.post("/admin/partners/apikey/add/", {"organisation": printco.pk, "name": "Vendor ERP"})

    assert response.status_code == 200
    assert VENDOR_REFUSAL in unescape(response.content.decode())
    assert not ApiKey.objects.exists()
    query = {"app_label": "partners", "model_name": "apikey", "field_name": "organisation", "term": ""}
    offered = {int(row["id"]) for row in client.get("/admin/autocomplete/", query).json()["results"]}
    assert carrier.pk in offered
    assert printco.pk not in offered


def test_the_command_refuses_a_vendors_key_in_words(printco):
    with pytest.raises(CommandError, match=r"^PRINTCO \(Vendor\) cannot get an API key"):
        call_command("create_api_key", organisation="PRINTCO", name="Vendor ERP")
    assert not ApiKey.objects.exists()


# ---- Keeping the kind a working key needs -----------------------------------------------------------------------


def test_an_organisation_with_a_working_key_keeps_the_kind_the_key_needs(carrier):
    """Unticking carrier on a carrier and vendor would leave its integration seeing nothing; once the key is
    revoked, the kind may go."""
    api_key, _raw = services.api_key_create(organisation=carrier, name="Nordtruck TMS")

    with pytest.raises(PartnersError, match=r"^NORDTRUCK has an API key in use \(Nordtruck TMS\)"):
        services.organisation_kinds_check(organisation=carrier, kinds=[OrganisationKind.VENDOR])
    services.organisation_kinds_check(organisation=carrier, kinds=[OrganisationKind.AGENT, OrganisationKind.VENDOR])

    services.api_key_revoke(api_key=api_key)
    services.organisation_kinds_check(organisation=carrier, kinds=[OrganisationKind.VENDOR])


def test_a_vendor_with_a_key_issued_before_still_saves_its_page_in_the_console(printco, admin_user, login):
    """The key saw nothing before the save and sees nothing after: no kind it needed is unticked, so saving the vendor's
    page (its name, notes, addresses) is not refused. Before, every save was ("PRINTCO has an API key in use"): only
    revoking the key or ticking a kind let anyone edit the organisation (review, sixteenth session)."""
    issued_before_the_rule(printco)
    client = login(admin_user)
    url = f"/admin/partners/organisation/{printco.pk}/change/"
    data = form_data(client.get(url))
    data["name"] = "Print Company"

    response = client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert Organisation.objects.get(pk=printco.pk).name == "Print Company"
    services.organisation_kinds_check(organisation=printco, kinds=[OrganisationKind.VENDOR])


# ---- Using a key issued before ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/orders/"])
def test_a_vendors_key_issued_before_is_refused_in_words_while_a_carriers_works(client, printco, carrier, path):
    vendor_key = issued_before_the_rule(printco)
    _key, carrier_key = services.api_key_create(organisation=carrier, name="Nordtruck TMS")

    refused = get(client, path, vendor_key)
    answered = get(client, path, carrier_key)

    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": "permission_denied", "message": VENDOR_KEY_403, "fields": {}}
    assert answered.status_code == 200


def test_a_vendors_key_works_again_once_the_vendor_runs_legs(client, printco):
    vendor_key = issued_before_the_rule(printco)
    Organisation.objects.filter(pk=printco.pk).update(kinds=[OrganisationKind.WAREHOUSE, OrganisationKind.VENDOR])

    response = get(client, "/api/v1/me/", vendor_key)

    assert response.status_code == 200
    assert response.json() == {"audience": "partner", "organisations": ["PRINTCO"], "key_name": "Vendor ERP"}
