"""The console's organisations and API keys (review C): which side an organisation is on (ours or theirs) decides
what its people and keys act as, so it is configured by the admin role and never moves across once it has people or
keys; a closed organisation gets no API key, and is refused in words. The pages that show an organisation's people or
a person's memberships inline cost the same queries however many rows they show (review D)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from partners import services
from partners.models import Address, ApiKey, Membership, Organisation, OrganisationKind, Role, User
from partners.roles import roles_sync
from tests.conftest import _member
from tests.factories import OrganisationFactory, UserFactory
from tests.oms.test_admin_security import form_data


def _errors(response: Any) -> str:
    return " ".join(re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S))


def _me(client: Client, raw_key: str) -> dict[str, Any]:
    return client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw_key}").json()


def _edit(client: Client, organisation: Organisation, **changes: Any) -> Any:
    url = f"/admin/partners/organisation/{organisation.pk}/change/"
    data = form_data(client.get(url))
    data.update(changes)
    response = client.post(url, data)
    organisation.refresh_from_db()
    return response


@pytest.fixture
def sales_console_user(branch) -> User:
    roles_sync()
    return _member("sales-console@oms.test", branch, Role.SALES, is_staff=True)


# ---- Ours or theirs ---------------------------------------------------------------------------------------------


def test_sales_cannot_turn_a_customer_with_an_api_key_into_a_branch(
    customer_a, customer_b, sales_console_user, login, client
):
    _key, raw = services.api_key_create(organisation=customer_a, name="ACME ERP")

    response = _edit(login(sales_console_user), customer_a, kinds=["branch"])  # replaced, not mixed
    client.logout()

    assert response.status_code == 200
    assert "has people or API keys as a customer" in _errors(response)
    assert customer_a.kinds == ["customer"]
    assert _me(client, raw)["audience"] == "customer"  # never an OMS staff key over every customer's data


@pytest.mark.parametrize(
    ("fixture", "kinds", "says"),
    [
        ("customer_a_user", ["company"], "cannot become our company or a branch"),
        ("ops_user", ["customer"], "cannot become a customer"),
    ],
)
def test_an_organisation_with_people_stays_on_its_side_even_for_an_administrator(
    request, admin_user, login, fixture, kinds, says
):
    person = request.getfixturevalue(fixture)
    organisation = person.memberships.get().organisation
    before = list(organisation.kinds)

    response = _edit(login(admin_user), organisation, kinds=kinds)

    assert response.status_code == 200
    assert says in _errors(response)
    assert organisation.kinds == before


def test_an_administrator_may_correct_the_side_of_an_organisation_without_people_or_keys(admin_user, login):
    typo = OrganisationFactory(code="BRE", name="OMS Bremen", kinds=[OrganisationKind.CUSTOMER])

    response = _edit(login(admin_user), typo, kinds=["branch"])

    assert response.status_code == 302
    assert typo.kinds == ["branch"]


def test_an_api_key_keeps_its_scope_when_the_administrator_edits_its_organisation(
    customer_a, admin_user, login, client
):
    _key, raw = services.api_key_create(organisation=customer_a, name="ACME ERP")

    assert _edit(login(admin_user), customer_a, kinds=["branch"]).status_code == 200
    client.logout()

    assert customer_a.kinds == ["customer"]
    assert _me(client, raw)["audience"] == "customer"


# ---- Who configures our own organisations -----------------------------------------------------------------------


def test_non_admin_roles_see_kinds_and_active_of_our_branch_read_only(branch, ops_user, sales_console_user, login):
    client = login(sales_console_user)
    url = f"/admin/partners/organisation/{branch.pk}/change/"
    form = client.get(url).context["adminform"].form
    assert "kinds" not in form.fields
    assert "is_active" not in form.fields

    data = form_data(client.get(url)) | {"kinds": ["customer"], "name": "OMS Hamburg Port"}
    data.pop("is_active", None)  # unticked, as a close would post it
    assert client.post(url, data).status_code == 302

    branch.refresh_from_db()
    assert branch.name == "OMS Hamburg Port"  # the rest stays theirs to edit
    assert branch.kinds == ["branch"]
    assert branch.is_active  # our staff keep their access
    assert User.objects.get(pk=ops_user.pk).groups.filter(name="role:operations").exists()


def test_an_administrator_may_close_a_branch(branch, admin_user, login):
    data = form_data(login(admin_user).get(f"/admin/partners/organisation/{branch.pk}/change/"))
    assert "kinds" in data
    data.pop("is_active")

    assert login(admin_user).post(f"/admin/partners/organisation/{branch.pk}/change/", data).status_code == 302

    branch.refresh_from_db()
    assert not branch.is_active


def test_only_an_administrator_makes_an_organisation_ours(sales_console_user, login):
    bare = OrganisationFactory(code="BETA", name="Beta Corp", kinds=[OrganisationKind.CUSTOMER])

    response = _edit(login(sales_console_user), bare, kinds=["branch"])

    assert response.status_code == 200
    assert "Only an administrator makes an organisation our company or a branch." in _errors(response)
    assert bare.kinds == ["customer"]


def test_sales_still_change_and_close_a_customer(customer_a, sales_console_user, login):
    data = form_data(login(sales_console_user).get(f"/admin/partners/organisation/{customer_a.pk}/change/"))
    data.pop("is_active")
    data["kinds"] = ["customer", "vendor"]

    response = login(sales_console_user).post(f"/admin/partners/organisation/{customer_a.pk}/change/", data)

    assert response.status_code == 302
    customer_a.refresh_from_db()
    assert customer_a.kinds == ["customer", "vendor"]
    assert not customer_a.is_active


# ---- Roles ------------------------------------------------------------------------------------------------------


def test_the_console_refuses_the_partner_role_in_a_vendor_only_organisation_in_words(admin_user, login):
    vendor = OrganisationFactory(code="PRINTCO", name="Print Co", kinds=[OrganisationKind.VENDOR])
    person = UserFactory()

    response = login(admin_user).post(
        "/admin/partners/membership/add/",
        {"user": person.pk, "organisation": vendor.pk, "role": Role.PARTNER, "is_active": "on"},
    )

    assert response.status_code == 200
    assert "The partner role cannot be held in PRINTCO (Vendor)" in _errors(response)
    assert not Membership.objects.filter(user=person).exists()


# ---- API keys ---------------------------------------------------------------------------------------------------


def test_an_api_key_for_a_closed_organisation_is_refused_in_words(customer_a, admin_user, login):
    Organisation.objects.filter(pk=customer_a.pk).update(is_active=False)

    response = login(admin_user).post("/admin/partners/apikey/add/", {"organisation": customer_a.pk, "name": "ERP"})

    assert response.status_code == 200
    assert "ACME is inactive; it cannot get an API key." in _errors(response)
    assert not ApiKey.objects.exists()


def test_the_api_key_organisation_picker_offers_active_organisations_only(customer_a, customer_b, admin_user, login):
    Organisation.objects.filter(pk=customer_b.pk).update(is_active=False)
    query = {"app_label": "partners", "model_name": "apikey", "field_name": "organisation", "term": ""}

    response = login(admin_user).get("/admin/autocomplete/", query)

    offered = {int(result["id"]) for result in response.json()["results"]}
    assert customer_a.pk in offered
    assert customer_b.pk not in offered


# ---- Pages that show rows inline (review D) ---------------------------------------------------------------------


def queries_with_3_rows(client: Client, path: str, add_rows: Callable[[int], None]) -> int:
    """The queries of the console page at `path` showing 3 inline rows; `add_rows(9)` then brings them to 12."""
    add_rows(3)
    client.get(path)  # the first page after signing in reads what later pages find cached
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    add_rows(9)
    return len(queries)


def test_an_organisations_console_page_costs_the_same_queries_for_3_and_12_people(
    customer_a, admin_user, login, django_assert_num_queries
):
    """Each membership row's person box and its title ("<person> · Customer user @ ACME") read the person and the
    organisation again: 16 queries with 3 people, 43 with 12."""
    client = login(admin_user)
    path = f"/admin/partners/organisation/{customer_a.pk}/change/"

    def add_people(n: int) -> None:
        for _ in range(n):
            services.membership_grant(user=UserFactory(), organisation=customer_a, role=Role.CUSTOMER)

    few = queries_with_3_rows(client, path, add_people)

    with django_assert_num_queries(few):
        body = client.get(path).content.decode()

    for person in User.objects.filter(memberships__organisation=customer_a):
        assert f'<option value="{person.pk}" selected>{escape(person)}</option>' in body  # the row's person box
        assert f"{escape(person)} · Customer user @ ACME" in body  # the row's title


def test_a_persons_console_page_costs_the_same_queries_for_3_and_12_memberships(
    admin_user, login, django_assert_num_queries
):
    """Each membership row's organisation box and its title read the organisation and the person again: 18 queries
    with 3 memberships, 45 with 12."""
    client = login(admin_user)
    person = UserFactory(full_name="Busy Broker")
    path = f"/admin/partners/user/{person.pk}/change/"

    def add_memberships(n: int) -> None:
        for _ in range(n):
            services.membership_grant(user=person, organisation=OrganisationFactory(), role=Role.CUSTOMER)

    few = queries_with_3_rows(client, path, add_memberships)

    with django_assert_num_queries(few):
        body = client.get(path).content.decode()

    for organisation in Organisation.objects.filter(memberships__user=person):
        assert f'<option value="{organisation.pk}" selected>{escape(organisation)}</option>' in body
        assert f"Busy Broker · Customer user @ {organisation.code}" in body


# ---- Layout -----------------------------------------------------------------------------------------------------


def test_an_organisations_addresses_are_stacked_in_short_rows(customer_a, admin_user, login):
    """At 1280 px the address table's eight columns (kind, two lines, postal code, city, region, country, delete)
    needed 1051 px in a 901 px column, so country and the delete box were cut off (checked in headless Chromium).
    Each address is now a block of short rows (a pair wraps when the column is narrow), which fits any width."""
    Address.objects.create(organisation=customer_a, line1="1 Main Street", city="Manchester", country="GB")

    body = login(admin_user).get(f"/admin/partners/organisation/{customer_a.pk}/change/").content.decode()

    group = re.search(r'<div class="js-inline-admin-formset inline-group"\s+id="addresses-group"\s+([^>]*)>', body)
    assert group is not None
    assert 'data-inline-type="stacked"' in group.group(1)
    rows = re.findall(r'<div class="form-row([^"]*)">', body[group.end() : body.index('id="contacts-group"')])
    fields_by_row = [re.findall(r"field-(\w+)", row) for row in rows if "field-" in row]
    assert fields_by_row[:4] == [["kind"], ["line1", "line2"], ["postal_code", "city"], ["region", "country"]]
