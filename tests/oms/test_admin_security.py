"""The admin console keeps access, keys and secrets safe: who may hand out privileges, which actions view-only
staff get, what stays read-only on change, and that changelists do not run a query per row."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from orders.models import Integration, IntegrationKind, Location
from orders.webhooks_signatures import generate_secret
from partners import services
from partners.admin import may_grant_admin
from partners.models import ApiKey, Membership, OrganisationKind, Role, User
from partners.roles import OMS_APPS, roles_sync
from tests.conftest import _member
from tests.factories import OrganisationFactory, UserFactory
from tracking.ingest.models import CarrierEndpoint, MappingAlert, WebhookSource


def form_data(response: Any) -> dict[str, Any]:
    """What the admin change form posts when nothing is changed."""
    data: dict[str, Any] = {}

    def add(form: Any) -> None:
        for name, field in form.fields.items():
            if getattr(field, "disabled", False):
                continue
            value = form.initial.get(name, field.initial)
            value = value() if callable(value) else value
            value = field.prepare_value(value) if value is not None else ""
            if isinstance(value, (list, tuple)):
                data[form.add_prefix(name)] = [str(v) for v in value]
            elif isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
            else:
                data[form.add_prefix(name)] = "" if value is None else str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = str(formset.management_form.initial.get(name, ""))
        for form in formset.initial_forms:
            add(form)
            data[form.add_prefix(formset.model._meta.pk.name)] = str(form.instance.pk)
    return data


def _staff(email: str, organisation: Any, role: str) -> User:
    return _member(email, organisation, role, is_staff=True)


# --- 1. Roles and privileges ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.SALES, Role.FINANCE, Role.OPERATIONS, Role.DOCUMENTATION])
def test_non_admin_roles_cannot_change_users_memberships_or_api_keys(branch, role):
    roles_sync()
    user = User.objects.get(pk=_staff(f"{role}@oms.test", branch, role).pk)
    for model in ("user", "membership", "apikey"):
        for action in ("add", "change", "delete"):
            assert not user.has_perm(f"partners.{action}_{model}"), f"{role} may {action} {model}"


def test_sales_and_finance_keep_what_they_need_on_organisations(branch):
    roles_sync()
    sales = User.objects.get(pk=_staff("s@oms.test", branch, Role.SALES).pk)
    finance = User.objects.get(pk=_staff("f@oms.test", branch, Role.FINANCE).pk)
    assert sales.has_perm("partners.add_organisation")
    assert sales.has_perm("partners.change_organisation")
    assert finance.has_perm("partners.change_organisation")
    assert sales.has_perm("partners.view_user")
    assert finance.has_perm("partners.view_membership")


def test_admin_role_keeps_every_partners_permission(company):
    roles_sync()
    user = User.objects.get(pk=_staff("a@oms.test", company, Role.ADMIN).pk)
    assert user.has_perm("partners.change_user")
    assert user.has_perm("partners.add_membership")


def test_finance_staff_cannot_make_itself_superuser(branch, login):
    finance = _staff("fin@oms.test", branch, Role.FINANCE)
    client = login(finance)
    url = f"/admin/partners/user/{finance.pk}/change/"
    data = form_data(client.get(url))  # view only
    data.update({"is_superuser": "on", "is_staff": "on"})
    assert client.post(url, data).status_code == 403
    finance.refresh_from_db()
    assert not finance.is_superuser


def test_sales_staff_cannot_grant_itself_the_admin_role(company, branch, login):
    sales = _staff("sal@oms.test", branch, Role.SALES)
    response = login(sales).post(
        "/admin/partners/membership/add/",
        {"user": sales.pk, "organisation": company.pk, "role": Role.ADMIN, "is_active": "on"},
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user=sales, role=Role.ADMIN).exists()
    assert not User.objects.get(pk=sales.pk).groups.filter(name="role:admin").exists()


def _user_editor(branch: Any) -> User:
    """A non-superuser who may change users, e.g. someone given the permission by exception."""
    editor = _staff("editor@oms.test", branch, Role.OPERATIONS)
    editor.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="partners", codename__in=[
            "view_user", "change_user", "view_membership", "add_membership", "change_membership",
        ])
    )  # fmt: skip
    return User.objects.get(pk=editor.pk)


def test_privilege_fields_are_read_only_for_non_superusers(branch, login):
    editor = _user_editor(branch)
    target = _staff("target@oms.test", branch, Role.OPERATIONS)
    client = login(editor)
    url = f"/admin/partners/user/{target.pk}/change/"
    data = form_data(client.get(url))
    assert not {"is_superuser", "is_staff", "user_permissions", "groups"} & set(data)
    data.update({"is_superuser": "on", "user_permissions": [str(Permission.objects.get(codename="delete_order").pk)]})
    assert client.post(url, data).status_code == 302
    target.refresh_from_db()
    assert not target.is_superuser
    assert not target.user_permissions.exists()


def test_a_superuser_may_change_privilege_fields(admin_user, branch, login):
    target = _staff("t2@oms.test", branch, Role.OPERATIONS)
    client = login(admin_user)
    url = f"/admin/partners/user/{target.pk}/change/"
    data = form_data(client.get(url))
    data["is_superuser"] = "on"
    assert client.post(url, data).status_code == 302
    target.refresh_from_db()
    assert target.is_superuser


def test_non_superusers_cannot_edit_a_superuser(admin_user, branch, login):
    client = login(_user_editor(branch))
    assert client.get(f"/admin/partners/user/{admin_user.pk}/change/").status_code == 200  # view only
    assert client.post(f"/admin/partners/user/{admin_user.pk}/password/", {}).status_code == 403


def test_only_administrators_give_the_admin_role(company, branch, login):
    editor = _user_editor(branch)
    target = _staff("t3@oms.test", branch, Role.OPERATIONS)
    response = login(editor).post(
        "/admin/partners/membership/add/",
        {"user": target.pk, "organisation": company.pk, "role": Role.ADMIN, "is_active": "on"},
    )
    assert response.status_code == 200
    assert "Only an administrator or a superuser" in response.content.decode()
    assert not Membership.objects.filter(user=target, role=Role.ADMIN).exists()


def test_an_admin_role_user_may_give_the_admin_role(company, branch, login):
    roles_sync()
    chief = _staff("chief@oms.test", company, Role.ADMIN)
    target = _staff("t4@oms.test", branch, Role.OPERATIONS)
    response = login(chief).post(
        "/admin/partners/membership/add/",
        {"user": target.pk, "organisation": company.pk, "role": Role.ADMIN, "is_active": "on"},
    )
    assert response.status_code == 302
    assert Membership.objects.filter(user=target, role=Role.ADMIN).exists()


def test_the_data_migration_resyncs_role_permissions():
    import importlib

    migration = importlib.import_module("partners.migrations.0004_roles_resync")
    assert migration.resync_roles.__module__ == migration.__name__


# --- 1b. Role groups end with the membership and with the organisation (reviewer's proofs first) -----------------


@pytest.fixture
def ops_console_user(branch):
    roles_sync()
    return _member("ops-console@oms.test", branch, Role.OPERATIONS, is_staff=True)


def _has_role_group(user: User, role: str) -> bool:
    return User.objects.get(pk=user.pk).groups.filter(name=f"role:{role}").exists()


def test_deactivating_the_branch_ends_its_peoples_admin_console_permissions(ops_console_user, branch, login):
    client = login(ops_console_user)
    assert client.get("/admin/orders/integration/").status_code == 200  # as operations, before
    # The branch is closed (deactivated, as the console's Organisation form does): its people are switched off.
    branch.is_active = False
    branch.save()
    services.user_groups_sync(user=ops_console_user)  # even a resync keeps the group
    assert client.get("/").status_code in (302, 403)  # the staff screens already refuse them (no scope)
    # ...but the configuration console still grants operations' model permissions through the role group.
    assert client.get("/admin/orders/integration/").status_code == 403


def test_closing_and_reopening_a_branch_takes_and_gives_back_the_role_group(ops_console_user, branch):
    branch.is_active = False
    branch.save()  # no explicit resync: partners.receivers does it on every save
    assert not _has_role_group(ops_console_user, Role.OPERATIONS)
    branch.is_active = True
    branch.save(update_fields=["is_active"])
    assert _has_role_group(ops_console_user, Role.OPERATIONS)


def test_closing_a_branch_in_the_console_takes_its_peoples_role_groups(ops_console_user, branch, admin_user, login):
    client = login(admin_user)
    url = f"/admin/partners/organisation/{branch.pk}/change/"
    data = form_data(client.get(url))
    data.pop("is_active")
    assert client.post(url, data).status_code == 302
    assert not _has_role_group(ops_console_user, Role.OPERATIONS)


def test_an_administrator_of_a_closed_organisation_may_not_grant_the_admin_role(company):
    chief = _staff("chief-closed@oms.test", company, Role.ADMIN)
    assert may_grant_admin(chief)
    company.is_active = False
    company.save()
    assert not may_grant_admin(User.objects.get(pk=chief.pk))


def test_deleting_memberships_in_bulk_from_the_console_takes_the_role_group_away(
    ops_console_user, company, admin_user, login
):
    membership = Membership.objects.get(user=ops_console_user, role=Role.OPERATIONS)
    client = login(admin_user)
    response = client.post(
        "/admin/partners/membership/",
        {"action": "delete_selected", "_selected_action": [membership.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    user = User.objects.get(pk=ops_console_user.pk)
    assert not user.groups.filter(name="role:operations").exists()
    assert not user.has_perm("orders.change_order")


def test_deleting_an_organisation_takes_its_peoples_role_groups_away(ops_console_user, admin_user, login):
    other = OrganisationFactory(code="BRE", name="OMS Bremen", kinds=[OrganisationKind.BRANCH])
    services.membership_grant(user=ops_console_user, organisation=other, role=Role.DOCUMENTATION)
    assert _has_role_group(ops_console_user, Role.DOCUMENTATION)
    response = login(admin_user).post(f"/admin/partners/organisation/{other.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not _has_role_group(ops_console_user, Role.DOCUMENTATION)
    assert _has_role_group(ops_console_user, Role.OPERATIONS)  # the membership in HAM still grants it


def test_deleting_a_person_with_memberships_still_works(ops_console_user):
    User.objects.get(pk=ops_console_user.pk).delete()  # the cascade's membership receivers must not re-add groups
    assert not User.objects.filter(pk=ops_console_user.pk).exists()
    assert not Membership.objects.filter(user_id=ops_console_user.pk).exists()


# --- 2. Actions need the change permission, and mass changes a confirmation ------------------------------------


def test_view_only_staff_are_offered_no_custom_action(branch):
    user = _staff("viewer@oms.test", branch, Role.DOCUMENTATION)
    user.user_permissions.add(
        *Permission.objects.filter(codename__startswith="view_", content_type__app_label__in=OMS_APPS)
    )
    user = User.objects.get(pk=user.pk)
    request = RequestFactory().get("/admin/")
    request.user = user
    offenders = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OMS_APPS or model_admin.has_change_permission(request):
            continue
        custom = [name for name in model_admin.get_actions(request) if name != "delete_selected"]
        if custom:
            offenders.append(f"{model._meta.label}: {custom}")
    assert not offenders


def _docs_staff(branch: Any) -> User:
    user = _staff("docs@oms.test", branch, Role.DOCUMENTATION)
    assert user.has_perm("tracking.view_webhooksource")
    assert not user.has_perm("tracking.change_webhooksource")
    return user


def test_view_only_staff_cannot_rotate_webhook_secrets(branch, carrier, login):
    source = WebhookSource.objects.create(name="maersk", carrier=carrier)
    old = source.secret
    client = login(_docs_staff(branch))
    client.post("/admin/tracking/webhooksource/", {"action": "rotate_secret", "_selected_action": [source.pk],
                                                   "post": "yes"})  # fmt: skip
    source.refresh_from_db()
    assert source.secret == old


def test_view_only_staff_cannot_revoke_api_keys(branch, customer_a, login):
    keys = [services.api_key_create(organisation=customer_a, name=f"k{i}")[0] for i in range(2)]
    client = login(_docs_staff(branch))
    client.post("/admin/partners/apikey/", {"action": "revoke_keys", "_selected_action": [k.pk for k in keys],
                                            "post": "yes"})  # fmt: skip
    assert not ApiKey.objects.filter(revoked_at__isnull=False).exists()


def test_rotating_a_secret_asks_for_confirmation_first(admin_user, carrier, login):
    source = WebhookSource.objects.create(name="msc", carrier=carrier)
    old = source.secret
    client = login(admin_user)
    page = client.post("/admin/tracking/webhooksource/", {"action": "rotate_secret", "_selected_action": [source.pk]})
    assert page.status_code == 200
    assert 'name="post" value="yes"' in page.content.decode()
    source.refresh_from_db()
    assert source.secret == old
    client.post("/admin/tracking/webhooksource/", {"action": "rotate_secret", "_selected_action": [source.pk],
                                                   "post": "yes"})  # fmt: skip
    source.refresh_from_db()
    assert source.secret != old
    assert source.previous_secret == old


def test_remapping_asks_for_confirmation_first(admin_user, carrier, login):
    alert = MappingAlert.objects.create(scheme="dcsa", code="XYZ", partner=carrier)
    page = login(admin_user).post(
        "/admin/tracking/mappingalert/", {"action": "remap_and_resolve", "_selected_action": [alert.pk]}
    )
    assert page.status_code == 200
    assert "Are you sure?" in page.content.decode()


# --- 3. API keys -------------------------------------------------------------------------------------------------


def test_a_revoked_key_cannot_be_unrevoked_or_moved(admin_user, customer_a, customer_b, login, client):
    key, raw = services.api_key_create(organisation=customer_a, name="ERP")
    services.api_key_revoke(api_key=key)
    revoked_at = ApiKey.objects.get(pk=key.pk).revoked_at
    staff = login(admin_user)
    url = f"/admin/partners/apikey/{key.pk}/change/"
    data = form_data(staff.get(url))
    assert "organisation" not in data
    assert not any(name.startswith("revoked_at") for name in data)
    data.update({"revoked_at_0": "", "revoked_at_1": "", "organisation": str(customer_b.pk), "name": "ERP 2"})
    assert staff.post(url, data).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at == revoked_at
    assert key.organisation == customer_a
    assert key.name == "ERP 2"
    staff.logout()
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_sales_ticking_branch_on_a_customer_does_not_turn_its_api_key_into_a_staff_key(
    branch, customer_a, customer_b, customer_a_user, login, client
):
    roles_sync()
    _key, raw = services.api_key_create(organisation=customer_a, name="ACME ERP")
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").json()["audience"] == "customer"

    # A sales person (no right to users, memberships or API keys) edits the customer in the console.
    sales = _member("sales-console@oms.test", branch, Role.SALES, is_staff=True)
    staff = login(sales)
    url = f"/admin/partners/organisation/{customer_a.pk}/change/"
    data = form_data(staff.get(url))
    data["kinds"] = ["customer", "branch"]
    response = staff.post(url, data)
    assert response.status_code == 200  # refused: a customer is never also ours
    assert "cannot also be a customer" in str(response.context["adminform"].form.errors["kinds"])
    customer_a.refresh_from_db()
    assert customer_a.kinds == ["customer"]
    staff.logout()

    # The customer's own people stay customers...
    login(customer_a_user)
    assert client.get("/api/v1/me/").json()["audience"] == "customer"
    client.logout()
    # ...and so does the customer's integration key, never OMS staff over every customer's data.
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert me["audience"] == "customer", me


@pytest.mark.parametrize("kinds", [["branch", "carrier"], ["company", "vendor"]])
def test_the_console_refuses_any_mix_of_our_kinds_with_a_partners(admin_user, branch, login, kinds):
    client = login(admin_user)
    url = f"/admin/partners/organisation/{branch.pk}/change/"
    data = form_data(client.get(url))
    data["kinds"] = kinds
    assert client.post(url, data).status_code == 200
    branch.refresh_from_db()
    assert branch.kinds == ["branch"]


# --- 4. Integrations ---------------------------------------------------------------------------------------------


def _edit_integration(client: Any, integration: Integration, **changes: Any) -> Any:
    url = f"/admin/orders/integration/{integration.pk}/change/"
    data = form_data(client.get(url))
    data.update(changes)
    response = client.post(url, data)
    integration.refresh_from_db()
    return response


def test_editing_an_integration_with_the_secret_blank_keeps_it(admin_user, customer_a, login):
    integration = Integration.objects.create(customer=customer_a, kind="generic", name="ERP", secret="whsec_abc")
    response = _edit_integration(login(admin_user), integration, name="ERP (prod)", secret="")
    assert response.status_code == 302
    assert integration.secret == "whsec_abc"
    assert integration.name == "ERP (prod)"


def test_a_new_integration_secret_only_when_asked(admin_user, customer_a, login):
    integration = Integration.objects.create(customer=customer_a, kind="generic", name="ERP", secret="whsec_abc")
    client = login(admin_user)
    assert _edit_integration(client, integration, secret="", new_secret="on").status_code == 302
    assert integration.secret.startswith("whsec_")
    assert integration.secret != "whsec_abc"


def test_an_integration_stays_with_its_customer(admin_user, customer_a, customer_b, login):
    integration = Integration.objects.create(customer=customer_a, kind="generic", name="ERP", secret="whsec_abc")
    assert _edit_integration(login(admin_user), integration, customer=str(customer_b.pk)).status_code == 302
    assert integration.customer == customer_a


def test_an_integration_keeps_its_kind(admin_user, customer_a, login):
    integration = Integration.objects.create(customer=customer_a, kind="generic", name="ERP", secret="whsec_abc")
    assert _edit_integration(login(admin_user), integration, kind="shopify").status_code == 302
    assert integration.kind == "generic"  # its sender keeps posting to the generic endpoint, signed as before


def test_a_new_generic_integration_gets_a_generated_secret(admin_user, customer_a, login):
    response = login(admin_user).post(
        "/admin/orders/integration/add/",
        {"customer": customer_a.pk, "kind": "generic", "name": "Shop", "secret": "", "is_active": "on",
         "destination_by_country": "{}", "default_service_level": "standard", "default_incoterm": "DAP"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Integration.objects.get(name="Shop").secret.startswith("whsec_")


def test_view_only_staff_do_not_see_an_integrations_signing_secret(branch, customer_a, login):
    roles_sync()
    integration = Integration.objects.create(
        customer=customer_a, kind="generic", name="ERP", secret="whsec_acme_signing_secret_0123456789"
    )
    finance = _member("fin-console@oms.test", branch, Role.FINANCE, is_staff=True)
    user = User.objects.get(pk=finance.pk)
    assert user.has_perm("orders.view_integration")
    assert not user.has_perm("orders.change_integration")
    page = login(finance).get(f"/admin/orders/integration/{integration.pk}/change/")
    assert page.status_code == 200
    assert "whsec_acme_signing_secret_0123456789" not in page.content.decode()
    assert "whsec_acm…" in page.content.decode()  # its first characters (a quarter at most), to tell secrets apart


def test_a_short_integration_secret_shows_no_more_than_a_quarter(branch, customer_a, login):
    integration = Integration.objects.create(customer=customer_a, kind="generic", name="ERP", secret="s3cr3t-typed")
    page = login(_staff("fin-short@oms.test", branch, Role.FINANCE)).get(
        f"/admin/orders/integration/{integration.pk}/change/"
    )
    assert "s3cr3t" not in page.content.decode()
    assert "s3c…" in page.content.decode()


# --- 5. Webhook sources --------------------------------------------------------------------------------------------


def test_view_only_staff_do_not_see_webhook_secrets(branch, carrier, login):
    source = WebhookSource.objects.create(name="hapag", carrier=carrier, previous_secret="whsec_previous_secret_x")
    page = login(_docs_staff(branch)).get(f"/admin/tracking/webhooksource/{source.pk}/change/").content.decode()
    assert source.secret not in page
    assert "whsec_previous_secret_x" not in page
    assert source.secret[:10] + "…" in page


# --- 6. Carrier credentials --------------------------------------------------------------------------------------


def _endpoint_post(carrier: Any, env_name: str) -> dict[str, Any]:
    return {"carrier": carrier.pk, "kind": "dcsa", "base_url": "https://carrier.example/x", "credentials_env": env_name,
            "karrio_carrier_name": "", "time_zone": "UTC", "rate_limit_per_minute": 60, "is_active": "on"}  # fmt: skip


@pytest.mark.parametrize("env_name", ["DATABASE_URL", "SECRET_KEY", "OMS_CARRIER_", "oms_carrier_x"])
def test_carrier_credentials_outside_the_prefix_are_refused(admin_user, carrier, login, env_name):
    response = login(admin_user).post("/admin/tracking/carrierendpoint/add/", _endpoint_post(carrier, env_name))
    assert response.status_code == 200
    assert "OMS_CARRIER_" in response.content.decode()
    assert not CarrierEndpoint.objects.exists()


def test_carrier_credentials_with_the_prefix_are_accepted(admin_user, carrier, login, monkeypatch):
    monkeypatch.setenv("OMS_CARRIER_TEST_TOKEN", "tok")
    response = login(admin_user).post(
        "/admin/tracking/carrierendpoint/add/", _endpoint_post(carrier, "OMS_CARRIER_TEST_TOKEN")
    )
    assert response.status_code == 302
    from tracking.ingest.adapters import tracking_adapter
    from tracking.ingest.adapters.dcsa import DcsaAdapter
    from tracking.ingest.adapters.karrio import KarrioAdapter

    adapter = cast(DcsaAdapter | KarrioAdapter, tracking_adapter(CarrierEndpoint.objects.get()))
    assert adapter._headers()["Authorization"] == "Bearer tok"


@pytest.mark.parametrize("kind", ["dcsa", "karrio"])
def test_adapters_refuse_to_read_other_variables(carrier, kind):
    from tracking.ingest.adapters import CarrierRefused, tracking_adapter
    from tracking.ingest.adapters.dcsa import DcsaAdapter
    from tracking.ingest.adapters.karrio import KarrioAdapter

    endpoint = CarrierEndpoint.objects.create(carrier=carrier, kind=kind, base_url="https://x.example",
                                              credentials_env="DATABASE_URL")  # fmt: skip
    with pytest.raises(CarrierRefused, match="OMS_CARRIER_"):
        cast(DcsaAdapter | KarrioAdapter, tracking_adapter(endpoint))._headers()


# --- 9. Changelists do not run a query per row ---------------------------------------------------------------------


def test_every_foreign_key_in_a_list_is_selected_with_the_rows(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    missing = []
    for model, model_admin in admin.site._registry.items():
        selected = model_admin.get_list_select_related(request)
        query_selected = model_admin.get_queryset(request).query.select_related
        if query_selected:  # the changelist applies list_select_related only when get_queryset selected nothing
            selected = True if query_selected is True else tuple(query_selected)
        if selected is True:
            continue
        covered = {path.split("__")[0] for path in selected or ()}
        for name in model_admin.get_list_display(request):
            if not isinstance(name, str):  # a callable column is no field
                continue
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:  # a method or property, not a field
                continue
            if not isinstance(field, models.ForeignKey) or name in covered:
                continue
            if selected is False and not field.null:
                continue  # Django's select_related() follows non-null foreign keys by itself
            missing.append(f"{type(model_admin).__name__}.{name}")
    assert not missing


def _organisations(n: int, tag: str) -> None:
    for i in range(n):
        parent = OrganisationFactory(code=f"P{tag}{i}", kinds=[OrganisationKind.COMPANY])
        OrganisationFactory(code=f"C{tag}{i}", parent=parent)


def _alerts(n: int, tag: str) -> None:
    for i in range(n):
        carrier = OrganisationFactory(code=f"CR{tag}{i}", kinds=[OrganisationKind.CARRIER])
        MappingAlert.objects.create(scheme="dcsa", code=f"X{tag}{i}", partner=carrier)


def _sources(n: int, tag: str) -> None:
    for i in range(n):
        carrier = OrganisationFactory(code=f"WC{tag}{i}", kinds=[OrganisationKind.CARRIER])
        WebhookSource.objects.create(name=f"src-{tag}-{i}", carrier=carrier)


def _teams(n: int, tag: str) -> None:
    from workflows.models import Team

    for i in range(n):
        branch = OrganisationFactory(code=f"B{tag}{i}", kinds=[OrganisationKind.BRANCH])
        Team.objects.create(name=f"t{tag}{i}", function="operations", branch=branch,
                            lead=UserFactory(email=f"l{tag}{i}@x.test"))  # fmt: skip


def _keys(n: int, tag: str) -> None:
    for i in range(n):
        services.api_key_create(organisation=OrganisationFactory(code=f"K{tag}{i}"), name=f"k{i}")


def _memberships(n: int, tag: str) -> None:
    for i in range(n):
        _member(f"m{tag}{i}@x.test", OrganisationFactory(code=f"M{tag}{i}"), Role.CUSTOMER)


def _integrations(n: int, tag: str) -> None:
    for i in range(n):
        Integration.objects.create(customer=OrganisationFactory(code=f"I{tag}{i}"), kind="generic", name=f"i{tag}{i}",
                                   secret="whsec_x")  # fmt: skip


def _templates(n: int, tag: str) -> None:
    from workflows import services as workflow_services
    from workflows.models import WorkflowTemplate

    for i in range(n):
        template = WorkflowTemplate.objects.create(name=f"wt{tag}{i}")
        template.current_version = workflow_services.version_draft_start(template=template, by=None)
        template.save(update_fields=["current_version"])


CHANGELISTS = {
    "partners/organisation": _organisations,
    "partners/apikey": _keys,
    "partners/membership": _memberships,
    "orders/integration": _integrations,
    "tracking/mappingalert": _alerts,
    "tracking/webhooksource": _sources,
    "workflows/team": _teams,
    "workflows/workflowtemplate": _templates,
    "workflows/workflowversion": _templates,
}


@pytest.mark.parametrize("path", list(CHANGELISTS))
def test_changelist_queries_do_not_grow_with_rows(path, admin_user, login):
    client = login(admin_user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/admin/{path}/").status_code == 200
        return len(queries.captured_queries)

    CHANGELISTS[path](2, "A")
    few = count()
    CHANGELISTS[path](4, "B")
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/admin/{path}/")
    assert len(queries.captured_queries) == few, "\n".join(q["sql"][:300] for q in queries.captured_queries)


# --- 10. Messages ---------------------------------------------------------------------------------------------------


def test_a_new_api_key_does_not_travel_in_a_cookie(admin_user, customer_a, login):
    response = login(admin_user).post("/admin/partners/apikey/add/", {"organisation": customer_a.pk, "name": "ERP"})
    assert response.status_code == 302
    assert "messages" not in response.cookies
    raw = [str(m) for m in response.wsgi_request._messages]
    assert any("oms_" in m for m in raw)


# --- 6. The beat's periodic tasks ----------------------------------------------------------------------------------


def test_the_beats_actions_need_the_change_permission(branch, admin_user, login):
    from django.contrib.auth.models import Permission
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    task = PeriodicTask.objects.create(name="requeue", task="orders.tasks.requeue_stalled_imports", interval=every)
    viewer = _docs_staff(branch)
    viewer.user_permissions.add(Permission.objects.get(codename="view_periodictask"))
    client = login(viewer)
    page = client.get("/admin/django_celery_beat/periodictask/")
    assert page.status_code == 200
    assert "run_tasks" not in page.content.decode()
    client.post("/admin/django_celery_beat/periodictask/", {"action": "disable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.enabled  # not switched off by someone who may only look

    admin = login(admin_user)
    assert "run_tasks" in admin.get("/admin/django_celery_beat/periodictask/").content.decode()
    admin.post("/admin/django_celery_beat/periodictask/", {"action": "disable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert not task.enabled


def test_the_add_integration_page_names_no_endpoint_and_offers_only_customers_and_branches(
    admin_user, customer_a, branch, carrier, login
):
    """The id is drawn before saving (uuid4) but is not the saved integration's: the add page must not show an
    address built on it. Customers and branches are the only organisations an integration can name: the pickers
    (autocomplete, review D) offer only those."""
    client = login(admin_user)
    body = client.get("/admin/orders/integration/add/").content.decode()
    assert "/api/v1/webhooks/" not in body
    assert "Shown after saving." in body

    def offered(field: str) -> set[str]:
        query = {"app_label": "orders", "model_name": "integration", "field_name": field, "term": ""}
        return {result["text"] for result in client.get("/admin/autocomplete/", query).json()["results"]}

    assert offered("customer") == {str(customer_a)}
    assert offered("default_branch") == {str(branch)}


def _closed_branch_integration(customer, branch) -> Integration:
    return Integration.objects.create(
        customer=customer, kind=IntegrationKind.GENERIC, name="SAP", secret=generate_secret(),
        default_origin=Location.objects.get(code="DEHAM"), default_branch=branch,
    )  # fmt: skip


def _integration_form(integration: Integration, **changes) -> dict:
    data = {
        "name": integration.name, "secret": "", "default_origin": integration.default_origin_id,
        "default_branch": integration.default_branch_id, "default_service_level": integration.default_service_level,
        "default_incoterm": integration.default_incoterm, "destination_by_country": "{}", "is_active": "on",
    }  # fmt: skip
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_an_integration_whose_branch_was_closed_can_still_be_deactivated(
    customer_a, branch, locations, admin_user, login
):
    """The stored default branch stays offered once closed: saving the page for anything else keeps it."""
    integration = _closed_branch_integration(customer_a, branch)
    branch.is_active = False
    branch.save(update_fields=["is_active"])
    client = login(admin_user)
    url = f"/admin/orders/integration/{integration.pk}/change/"
    page = client.get(url).content.decode()
    branch_select = page.split('name="default_branch"', 1)[1].split("</select>", 1)[0]
    assert f'value="{branch.pk}" selected' in branch_select, "the stored branch is not even shown"
    response = client.post(url, _integration_form(integration, is_active=None))  # untick "active", change nothing else
    assert response.status_code == 302, "the change form refused the integration's own default branch"
    integration.refresh_from_db()
    assert (integration.is_active, integration.default_branch_id) == (False, branch.pk)
