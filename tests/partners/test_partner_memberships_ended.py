"""Migration partners/0008: partner memberships granted before the partner role needed an organisation that runs legs
(a carrier, an agent or a warehouse: PARTNER_KINDS) are ended, as the console ends a membership (is_active off), and
the organisation's notes say whose, when, why and how to undo it; their people's role group follows. Nothing else is
touched, a second run changes nothing, a database with none runs it quietly, and unapplying it leaves them ended.
Run with the historical models of the migration's own state, as tests/tracking/test_booked_orders_repair.py does."""

from __future__ import annotations

import importlib
import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from partners.models import Membership, Organisation, OrganisationKind, Role, User
from partners.roles import group_for
from tests.factories import OrganisationFactory, UserFactory
from tests.oms.test_admin_security import form_data

MIGRATION = ("partners", "0008_partner_memberships_outside_leg_runners_ended")
PREVIOUS = ("partners", "0007_organisation_time_zone_help")


def end_memberships() -> None:
    """The migration's function with the historical models of the state it runs in."""
    historical = MigrationExecutor(connection).loader.project_state(MIGRATION).apps
    module = importlib.import_module(f"{MIGRATION[0]}.migrations.{MIGRATION[1]}")
    module.end_partner_memberships_outside_leg_runners(historical, None)


def granted_before_the_rule(user: User, organisation: Organisation, *, is_active: bool = True) -> Membership:
    """A partner membership as membership_grant made it when a vendor could hold the role (no check today's has)."""
    return Membership.objects.create(user=user, organisation=organisation, role=Role.PARTNER, is_active=is_active)


def partner_group_holders() -> set[str]:
    return set(group_for(Role.PARTNER).user_set.values_list("email", flat=True))


@pytest.fixture
def world(db):
    printco = OrganisationFactory(code="PRINTCO", name="Print Co", kinds=[OrganisationKind.VENDOR], notes="Pays late.")
    dual = OrganisationFactory(code="PACKCO", kinds=[OrganisationKind.CUSTOMER, OrganisationKind.VENDOR])
    carrier = OrganisationFactory(code="NORDTRUCK", kinds=[OrganisationKind.CARRIER, OrganisationKind.VENDOR])
    vera, victor, both, charlie, gone = (
        UserFactory(email=f"{name}@example.com") for name in ("vera", "victor", "both", "charlie", "gone")
    )
    return {
        "printco": printco,
        "dual": dual,
        "carrier": carrier,
        "ended": [
            granted_before_the_rule(vera, printco),
            granted_before_the_rule(victor, printco),
            granted_before_the_rule(both, printco),
            granted_before_the_rule(victor, dual),  # a customer and vendor runs no legs either
        ],
        "kept": [
            granted_before_the_rule(both, carrier),
            granted_before_the_rule(charlie, carrier),
            Membership.objects.create(user=victor, organisation=dual, role=Role.CUSTOMER),
        ],
        "already_ended": granted_before_the_rule(gone, printco, is_active=False),
    }


def test_partner_memberships_in_organisations_that_run_no_legs_are_ended_with_a_note(world):
    everyone = {f"{name}@example.com" for name in ("vera", "victor", "both", "charlie")}
    assert partner_group_holders() == everyone  # not gone, whose membership had ended

    end_memberships()

    active = dict(Membership.objects.values_list("pk", "is_active"))
    assert [active[m.pk] for m in world["ended"]] == [False] * 4
    assert [active[m.pk] for m in world["kept"]] == [True] * 3
    assert active[world["already_ended"].pk] is False
    today = timezone.localdate().isoformat()
    printco = Organisation.objects.get(pk=world["printco"].pk)
    assert printco.notes == (
        "Pays late.\n\n"
        f"{today}, partners/0008: ended the partner role of both@example.com, vera@example.com, victor@example.com. "
        "The partner role is held only in a carrier, an agent or a warehouse (the partner portal shows the legs an "
        "organisation runs), and PRINTCO is none of these. If it does run legs, tick that kind and tick their "
        "memberships active again."
    )
    dual = Organisation.objects.get(pk=world["dual"].pk)
    assert dual.notes.startswith(f"{today}, partners/0008: ended the partner role of victor@example.com. ")
    assert Organisation.objects.get(pk=world["carrier"].pk).notes == ""
    # The role group follows: still a partner elsewhere (both, charlie) keeps it; victor stays a customer user.
    assert partner_group_holders() == {"both@example.com", "charlie@example.com"}
    assert User.objects.get(email="victor@example.com").groups.filter(name=f"role:{Role.CUSTOMER}").exists()


def test_a_second_run_changes_nothing(world):
    end_memberships()
    notes = dict(Organisation.objects.values_list("pk", "notes"))
    updated = dict(Organisation.objects.values_list("pk", "updated_at"))

    end_memberships()

    assert dict(Organisation.objects.values_list("pk", "notes")) == notes
    assert dict(Organisation.objects.values_list("pk", "updated_at")) == updated
    assert len(re.findall("partners/0008", notes[world["printco"].pk])) == 1


def test_a_database_without_such_memberships_is_left_as_it_is(carrier_user, customer_a_user):
    before = list(Membership.objects.values_list("pk", "is_active"))
    notes = list(Organisation.objects.values_list("pk", "notes", "updated_at"))

    end_memberships()

    assert list(Membership.objects.values_list("pk", "is_active")) == before
    assert list(Organisation.objects.values_list("pk", "notes", "updated_at")) == notes


def test_an_organisation_with_an_ended_membership_saves_in_the_console_and_refuses_to_reactivate_it(
    world, admin_user, login
):
    """Before: every membership row was checked against the organisation's kinds, ended or not, so the vendor's
    page could not be saved at all ("The partner role cannot be held in PRINTCO") once its memberships had ended."""
    end_memberships()
    client = login(admin_user)
    url = f"/admin/partners/organisation/{world['printco'].pk}/change/"
    data = form_data(client.get(url))
    data["name"] = "Print Company"

    response = client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert Organisation.objects.get(pk=world["printco"].pk).name == "Print Company"

    data = form_data(client.get(url))
    rows = [key for key, value in data.items() if key.endswith("-user") and value == str(world["ended"][0].user_id)]
    data[rows[0].replace("-user", "-is_active")] = "on"  # vera's membership ticked active again

    response = client.post(url, data)

    assert response.status_code == 200
    assert "The partner role cannot be held in PRINTCO (Vendor)" in response.content.decode()
    assert not Membership.objects.get(pk=world["ended"][0].pk).is_active


@pytest.mark.django_db(transaction=True)
def test_unapplying_the_migration_leaves_the_memberships_ended():
    """Reversible, doing nothing: reactivating them would give back a role membership_check refuses."""
    printco = OrganisationFactory(code="PRINTCO", kinds=[OrganisationKind.VENDOR])
    membership = granted_before_the_rule(UserFactory(), printco)
    end_memberships()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([PREVIOUS])
        assert not Membership.objects.get(pk=membership.pk).is_active
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert MIGRATION in MigrationExecutor(connection).loader.applied_migrations
