"""Carrier endpoints validate their time zone (a name that is none crashed every Karrio poll), and databases seeded
before get the rules that keep a vessel's calls from being the goods' milestones: DCSA TRANSPORT:ARRI (X12 315 VA)
at the port of loading and TRANSPORT:DEPA (VD) at the port of discharge map to no milestone
(tracking/ingest/standards.py). Seeding adds only the rules that are missing and never edits one an operator
changed. Events stored before are corrected with the console's "Re-map stored events" (docs/tracking-events.md)."""

from django.db import migrations, models

import tracking.ingest.models


def seed_missing_rules(apps, schema_editor):
    from tracking.ingest.standards import seed_reference_data

    seed_reference_data(apps.get_model("tracking", "Milestone"), apps.get_model("tracking", "MappingRule"))


class Migration(migrations.Migration):

    dependencies = [
        ("tracking", "0009_exception_house"),
    ]

    operations = [
        migrations.AlterField(
            model_name="carrierendpoint",
            name="time_zone",
            field=models.CharField(
                default="UTC",
                help_text="For sources that send local times without an offset (Karrio); an IANA name, e.g. Europe/Berlin.",
                max_length=40,
                validators=[tracking.ingest.models.validate_time_zone],
            ),
        ),
        migrations.RunPython(seed_missing_rules, migrations.RunPython.noop),
    ]
