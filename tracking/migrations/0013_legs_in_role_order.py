"""Legs in role order: pre-carriage, main carriage, on-carriage, last mile.

`leg_add` used to append every leg at the end, so a pre-carriage added after the main carriage came after it:
the schedule, the today screen and a roll (which shifts the legs after the main one) read the legs in that
order, and a departure recorded at the truck's origin could land on the vessel. `leg_add` now keeps role order;
this renumbers the shipments whose legs were stored out of it (the other shipments are not touched). In two steps,
so that no two legs of a shipment hold one number at any moment (the unique constraint is checked row by row).

Statuses that out-of-order legs set (a master "arrived" when its pre-carriage truck arrived) are not repaired here:
they are facts operations recorded, and only a person can say what really happened. Reversing this migration
keeps the new numbers (they describe the same legs).
"""

from django.db import migrations

ROLE_ORDER = {"pre_carriage": 0, "main": 1, "on_carriage": 2, "last_mile": 3}
OFFSET = 10_000


def legs_in_role_order(apps, schema_editor):
    Leg = apps.get_model("tracking", "Leg")
    legs_of = {}
    for leg in Leg.objects.order_by("shipment_id", "sequence").only("pk", "shipment_id", "role", "sequence"):
        legs_of.setdefault(leg.shipment_id, []).append(leg)
    for shipment_id, legs in legs_of.items():
        ordered = sorted(legs, key=lambda leg: (ROLE_ORDER.get(leg.role, len(ROLE_ORDER)), leg.sequence))
        wanted = {leg.pk: number for number, leg in enumerate(ordered, start=1)}
        if all(leg.sequence == wanted[leg.pk] for leg in legs):
            continue
        for leg in legs:
            Leg.objects.filter(pk=leg.pk).update(sequence=leg.sequence + OFFSET)
        for leg in legs:
            Leg.objects.filter(pk=leg.pk).update(sequence=wanted[leg.pk])


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0012_booking_cancel_reason"),
    ]

    operations = [
        migrations.RunPython(legs_in_role_order, migrations.RunPython.noop),
    ]
