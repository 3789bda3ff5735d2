from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # The events held for a reference not known yet, found by that reference when it is recorded
    # (tracking/ingest/relinking.py). Partial: only unlinked events, a small part of the table. Built
    # concurrently: the events table is the largest and ingest keeps writing to it meanwhile.
    atomic = False

    dependencies = [
        ("tracking", "0015_constraint_messages"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="trackingevent",
            index=models.Index(
                condition=models.Q(("order__isnull", True), ("shipment__isnull", True)),
                fields=["subject_value"],
                name="tracking_event_unlinked",
            ),
        ),
    ]
