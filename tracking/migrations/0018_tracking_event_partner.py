"""Each tracking event records the partner whose own mapping rules it follows (ingest's `Source.partner_id`), so
that re-mapping maps it with its own sender's rules and an alert's re-map touches only its sender's events
(docs/decisions/0006-tracking-event-partner.md). A soft link, like the table's others: no foreign key, no index.

The events stored before are given the partner ingest had for their source, as relinking._source_of finds it: a
webhook source's carrier, and the carrier a DCSA, Karrio or simulated poll is named after. Files, screens and
our own feeds have none."""

import django.db.models.deletion
from django.db import migrations, models

FILL = """
UPDATE tracking_trackingevent e SET partner_id = w.carrier_id
FROM tracking_webhooksource w
WHERE e.source_kind = 'webhook' AND e.source = 'webhook:' || w.name AND w.carrier_id IS NOT NULL;

UPDATE tracking_trackingevent e SET partner_id = o.id
FROM partners_organisation o
WHERE e.source_kind IN ('dcsa', 'karrio', 'simulated') AND e.source = e.source_kind || ':' || o.code;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0007_organisation_time_zone_help"),
        ("tracking", "0017_carrier_help_texts"),
    ]

    operations = [
        migrations.AddField(
            model_name="trackingevent",
            name="partner",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                help_text="The carrier or partner whose own mapping rules the sender's events follow (its feed, EDI "
                "or webhook). Blank: the generic rules (our own feeds, files, screens).",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="partners.organisation",
            ),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
