"""Partner memberships in an organisation that runs no legs are ended (docs/planning.md, "Who runs a leg"; docs/
operations.md, "Repairs on upgrade").

The partner role is held only in a carrier, an agent or a warehouse (partners.models.PARTNER_KINDS): the partner
portal shows the legs an organisation runs, and a vendor runs none. The console and membership_grant refuse it since,
but memberships granted before, when a vendor could hold it, stayed active: their people sign in to a portal that
shows nothing, and the organisation's page refused to save.

They are ended as the console ends a membership (is_active off, the row kept; membership_revoke), and each
organisation's notes, which its console page shows, say on which day, by which migration, whose, why, and how to undo
it. A person's role group follows (services.user_groups_sync: the partner group goes unless another active partner
membership in an active organisation keeps it). Any organisation without a carrier, agent or warehouse kind counts:
a vendor alone, or a customer and vendor. Idempotent: an ended membership is not found again. Reversing it does
nothing: reactivating them would give back a role that membership_check refuses; an organisation that does run legs
gets that kind ticked and the memberships its note names ticked active again, in the console.

Written with the historical models, not the live services: they change with the code, and this must do what it did on
the day it shipped.
"""

from collections import defaultdict

from django.db import migrations
from django.utils import timezone

LEG_RUNNER_KINDS = ["agent", "carrier", "warehouse"]  # PARTNER_KINDS on the day
PARTNER = "partner"
REPAIR = "partners/0008"


def _note(organisation, emails, today):
    return (
        f"{today.isoformat()}, {REPAIR}: ended the partner role of {', '.join(emails)}. The partner role is held only "
        "in a carrier, an agent or a warehouse (the partner portal shows the legs an organisation runs), and "
        f"{organisation.code} is none of these. If it does run legs, tick that kind and tick their memberships "
        "active again."
    )


def end_partner_memberships_outside_leg_runners(apps, schema_editor):
    Membership = apps.get_model("partners", "Membership")
    Group = apps.get_model("auth", "Group")
    misfits = (
        Membership.objects.filter(role=PARTNER, is_active=True)
        .exclude(organisation__kinds__overlap=LEG_RUNNER_KINDS)
        .select_related("organisation", "user")
        .order_by("organisation_id", "user__email")
    )
    by_organisation = defaultdict(list)
    for membership in misfits:
        by_organisation[membership.organisation].append(membership)
    if not by_organisation:
        return
    today = timezone.localdate()
    people = set()
    for organisation, memberships in by_organisation.items():
        Membership.objects.filter(pk__in=[m.pk for m in memberships]).update(is_active=False)
        note = _note(organisation, [m.user.email for m in memberships], today)
        organisation.notes = f"{organisation.notes.rstrip()}\n\n{note}" if organisation.notes.strip() else note
        organisation.save(update_fields=["notes", "updated_at"])
        people.update(m.user for m in memberships)
    partner_group = Group.objects.filter(name=f"role:{PARTNER}").first()
    if partner_group is None:
        return
    for person in people:
        still_partner = Membership.objects.filter(
            user=person, role=PARTNER, is_active=True, organisation__is_active=True
        ).exists()
        if not still_partner:
            person.groups.remove(partner_group)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("partners", "0007_organisation_time_zone_help"),
    ]

    operations = [
        migrations.RunPython(end_partner_memberships_outside_leg_runners, migrations.RunPython.noop),
    ]
