"""API keys are revoked, never deleted, in the console (partners/admin.py, ApiKeyAdmin): the order history keeps only
the key's id, and deleting the key emptied "API key" on every transition it made. An organisation with keys is
closed rather than deleted; one made by mistake, with no keys and no records, may still be deleted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from partners import services
from partners.models import ApiKey, Organisation, OrganisationKind
from tests.factories import OrganisationFactory


@pytest.fixture
def api_key(customer_a, admin_user) -> ApiKey:
    api_key, _raw = services.api_key_create(organisation=customer_a, name="ERP", created_by=admin_user)
    return api_key


def test_an_api_key_has_no_delete_page_even_for_a_superuser(client, admin_user, api_key):
    client.force_login(admin_user)
    url = reverse("admin:partners_apikey_delete", args=[api_key.pk])

    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert ApiKey.objects.filter(pk=api_key.pk).exists()


def test_the_api_key_list_offers_revoke_and_no_delete_selected(client, admin_user, api_key):
    client.force_login(admin_user)
    url = reverse("admin:partners_apikey_changelist")

    choices = dict(client.get(url).context["action_form"].fields["action"].choices)
    client.post(url, {"action": "delete_selected", "_selected_action": [api_key.pk], "post": "yes"})

    assert "revoke_keys" in choices
    assert "delete_selected" not in choices
    assert ApiKey.objects.filter(pk=api_key.pk).exists()


def test_a_keys_page_offers_no_delete_button(client, admin_user, api_key):
    client.force_login(admin_user)

    page = client.get(reverse("admin:partners_apikey_change", args=[api_key.pk])).content.decode()

    assert 'class="deletelink"' not in page


def test_an_organisation_with_a_revoked_key_and_no_orders_is_closed_not_deleted(client, admin_user, api_key):
    """Its key may have acted on orders (a carrier's key records milestones on other customers' orders): the
    delete page names API keys as what may not be deleted and says to close the organisation instead."""
    services.api_key_revoke(api_key=api_key)
    organisation = api_key.organisation
    client.force_login(admin_user)
    url = reverse("admin:partners_organisation_delete", args=[organisation.pk])

    page = client.get(url)
    refused = client.post(url, {"post": "yes"})

    assert page.status_code == 200
    assert page.context["perms_lacking"] == {"API key"}
    assert 'id="close-instead"' in page.content.decode()
    assert refused.status_code == 403
    assert Organisation.objects.filter(pk=organisation.pk).exists()
    assert ApiKey.objects.filter(pk=api_key.pk).exists()


def test_an_organisation_with_keys_is_not_deleted_by_delete_selected_either(client, admin_user, api_key):
    organisation = api_key.organisation
    client.force_login(admin_user)
    form = {"action": "delete_selected", "_selected_action": [organisation.pk]}

    page = client.post(reverse("admin:partners_organisation_changelist"), form)
    refused = client.post(reverse("admin:partners_organisation_changelist"), {**form, "post": "yes"})

    assert 'id="close-instead"' in page.content.decode()
    assert refused.status_code == 403
    assert ApiKey.objects.filter(pk=api_key.pk).exists()


def test_an_organisation_made_by_mistake_without_keys_or_records_may_be_deleted(client, admin_user):
    typo = OrganisationFactory(code="ACMEE", name="Acme (typo)", kinds=[OrganisationKind.CUSTOMER])
    client.force_login(admin_user)

    response = client.post(reverse("admin:partners_organisation_delete", args=[typo.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Organisation.objects.filter(pk=typo.pk).exists()
