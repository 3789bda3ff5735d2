"""A readable webhook delivery with refused events is kept as a RejectedDelivery with status 200: its counts and its
first refusals (tracking/ingest/webhooks.py; docs/tracking-events.md, "Deliveries with problems"). The rows kept
before are unreadable deliveries (400): their counts stay 0 and their refusals empty, which is what they were.

The columns come with constant defaults, which PostgreSQL (11+) adds without rewriting the table; the table is small
(one row per delivery with a problem), so its index is built in the migration's transaction."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0023_tracking_event_contradiction"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="rejecteddelivery",
            options={
                "ordering": ["-received_at"],
                "verbose_name": "webhook delivery with problems",
                "verbose_name_plural": "webhook deliveries with problems",
            },
        ),
        migrations.AddField(
            model_name="rejecteddelivery",
            name="duplicates",
            field=models.PositiveIntegerField(default=0, help_text="Events we already had (stored once, not again)."),
        ),
        migrations.AddField(
            model_name="rejecteddelivery",
            name="events_received",
            field=models.PositiveIntegerField(default=0, help_text="Events in the delivery (0 when unreadable)."),
        ),
        migrations.AddField(
            model_name="rejecteddelivery",
            name="events_stored",
            field=models.PositiveIntegerField(default=0, help_text="Events stored: new to us and accepted."),
        ),
        migrations.AddField(
            model_name="rejecteddelivery",
            name="refusals",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The first 50 refused events: their index in the delivery (from 0), the sender's event id (eventID, or id in our format) and the reason the sender was given.",
            ),
        ),
        migrations.AddField(
            model_name="rejecteddelivery",
            name="refused_count",
            field=models.PositiveIntegerField(
                default=0, help_text="Events refused, all of them (the list below keeps the first 50)."
            ),
        ),
        migrations.AlterField(
            model_name="rejecteddelivery",
            name="reason",
            field=models.CharField(help_text="Why, in the words the sender got (the first refusal's).", max_length=300),
        ),
        migrations.AlterField(
            model_name="rejecteddelivery",
            name="status_code",
            field=models.PositiveSmallIntegerField(
                help_text="As answered: 400 the body could not be read (nothing stored); 200 it was read and some or all of its events were refused."
            ),
        ),
        migrations.AddIndex(
            model_name="rejecteddelivery",
            index=models.Index(fields=["-received_at"], name="rejected_delivery_newest"),
        ),
    ]
