"""API keys of organisations whose key would see nothing are revoked (docs/operations.md, "Repairs on upgrade").

A key acts with its organisation's scope: ours (staff), a customer's orders, or the legs a carrier, an agent or a
warehouse runs (partners.models.API_KEY_KINDS). A vendor alone, or a customer-less vendor of any other kind, places no
orders and runs no legs: `api_key_check` refuses it a key, and a key issued before answers 403 at every call
(`api_key_use_check`). Left active, such a key is a live secret that nobody can use today and that would come back to
life, unnoticed, the day someone ticks a kind on the organisation. So it is revoked (revoked_at set, the row kept, as
the console's "Revoke" action does: a revoked key is never un-revoked), and the organisation's notes, which its console
page shows, say on which day, by which migration, which keys, why, and what to do: if the organisation does place
orders or run legs, tick that kind and issue it a new key.

Idempotent: a revoked key is not found again. Reversing it does nothing (a revoked key stays revoked). Written with the
historical models, not the live services: they change with the code, and this must do what it did on the day it
shipped.
"""

from collections import defaultdict

from django.db import migrations
from django.utils import timezone

KEY_KINDS = ["agent", "branch", "carrier", "company", "customer", "warehouse"]  # API_KEY_KINDS on the day
REPAIR = "partners/0009"
PREFIX = "oms"  # ApiKey.PREFIX on the day


def _note(organisation, keys, today):
    named = ", ".join(f"{key.name} ({PREFIX}_{key.prefix}_…)" for key in keys)
    return (
        f"{today.isoformat()}, {REPAIR}: revoked API key(s) {named}. A key sees the orders its organisation places "
        f"(a customer) or the legs it runs (a carrier, an agent or a warehouse), and {organisation.code} does neither, "
        "so the key could see nothing. If it does, tick that kind and issue it a new key."
    )


def revoke_api_keys_outside_key_kinds(apps, schema_editor):
    ApiKey = apps.get_model("partners", "ApiKey")
    misfits = (
        ApiKey.objects.filter(revoked_at__isnull=True)
        .exclude(organisation__kinds__overlap=KEY_KINDS)
        .select_related("organisation")
        .order_by("organisation_id", "name", "pk")
    )
    by_organisation = defaultdict(list)
    for key in misfits:
        by_organisation[key.organisation].append(key)
    if not by_organisation:
        return
    now = timezone.now()
    today = timezone.localdate(now)
    for organisation, keys in by_organisation.items():
        ApiKey.objects.filter(pk__in=[key.pk for key in keys]).update(revoked_at=now)
        note = _note(organisation, keys, today)
        organisation.notes = f"{organisation.notes.rstrip()}\n\n{note}" if organisation.notes.strip() else note
        organisation.save(update_fields=["notes", "updated_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0008_partner_memberships_outside_leg_runners_ended"),
    ]

    operations = [
        migrations.RunPython(revoke_api_keys_outside_key_kinds, migrations.RunPython.noop),
    ]
