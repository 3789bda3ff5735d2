"""An actual event that contradicts its leg's recorded actual times (an arrival before the recorded departure, a
departure after the recorded arrival) is kept but not applied; `contradiction` says why (docs/tracking-events.md,
"An actual time that contradicts its leg"). Blank for every event stored before: they were applied.

The column comes with a constant default, which PostgreSQL (11+) adds without rewriting the table. The partial index
holds only the events not applied (few), for the tracking monitor's list; built concurrently, as 0016's: the events
table is the largest and ingest keeps writing to it meanwhile."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tracking", "0022_booking_service_kept"),
    ]

    operations = [
        migrations.AddField(
            model_name="trackingevent",
            name="contradiction",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Not applied: how this actual event contradicts its leg's recorded actual times (an arrival "
                "before the recorded departure, a departure after the recorded arrival). Kept, shown to staff only; "
                "it moves no order and counts for no reader. Blank: applied as usual.",
                max_length=300,
            ),
        ),
        AddIndexConcurrently(
            model_name="trackingevent",
            index=models.Index(
                condition=models.Q(("contradiction", ""), _negated=True),
                fields=["-received_at"],
                name="tracking_event_not_applied",
            ),
        ),
    ]
