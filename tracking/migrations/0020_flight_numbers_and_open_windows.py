"""Flight numbers checked on the model, the indexes of Today and the schedule board, mapping-rule help texts.

Flight numbers: `Leg.flight_number` (and its history copy, LegEvent) gets the planning forms' check as a validator
(orders.identifiers.flight_number_problem). A validator is no database constraint: Django runs it in model forms
and `full_clean` (the console, any ModelForm), never on save, and this migration changes no column (`sqlmigrate`
prints nothing for these two fields). Flight numbers stored before it are left as they are, however they were
typed; a leg with one that is not a flight number is refused only when its flight number is next edited.

Indexes, measured on PostgreSQL 15 with 200,000 appointments and 200,000 legs over three years up to two months
ahead (20,000 masters; most legs in the past have actual times), running the exact queries `execution_for` and
`schedule_board` send (staff, all branches, the 14-day board), EXPLAIN ANALYZE, median of 5:

- Today's pickups and deliveries (`window_start_at < end AND window_end_at > begin`): `appointment_window_start`
  could not serve it (every window that started before tomorrow, the whole history), so a sequential scan of the
  table: 43 ms. With (window_end_at) alone: an index scan of every window not yet closed (10,576 rows, 2,222
  buffers), 19 ms. With (window_end_at, window_start_at): both bounds checked in the index, 255 entries and 44
  buffers read, the scan 0.4 ms and the query 15 ms. The composite is kept; the rest of the query is the join to
  the shipments, not the appointments.
- The board's departures and arrivals (actual time in the days, or no actual time and the plan in them): the OR
  could use no index, a sequential scan of every leg, 24 ms and 23 ms. With an index on each actual time the OR is
  a bitmap of the actual-time and planned-time indexes: 2,468 rows read of 200,000, the scan 0.7 ms (was 10.9 ms),
  the queries 17-19 ms. Partial (recorded times only): the same plans, and a leg costs no entry until it moves.
- Write cost: 50,000 appointments inserted in one statement took 256-342 ms without the composite and 335-474 ms
  with it (a shared machine, noisy): a few microseconds a row.

Built concurrently, as tracking_event_unlinked (0016): carrier events keep recording actual times on legs meanwhile.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

import tracking.models.shipments


class Migration(migrations.Migration):
    atomic = False  # AddIndexConcurrently cannot run in a transaction; the field changes run no SQL

    dependencies = [
        ("orders", "0017_customer_reference_case_insensitive"),
        ("partners", "0009_api_keys_outside_key_kinds_revoked"),
        ("tracking", "0019_console_help_texts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="leg",
            name="flight_number",
            field=models.CharField(
                blank=True,
                help_text="e.g. LH8401.",
                max_length=10,
                validators=[tracking.models.shipments.validate_flight_number],
            ),
        ),
        migrations.AlterField(
            model_name="legevent",
            name="flight_number",
            field=models.CharField(
                blank=True,
                help_text="e.g. LH8401.",
                max_length=10,
                validators=[tracking.models.shipments.validate_flight_number],
            ),
        ),
        migrations.AlterField(
            model_name="mappingrule",
            name="is_active",
            field=models.BooleanField(
                default=True,
                help_text="Off: the rule is ignored but kept. Events with the code then follow a more general rule, "
                "or wait unmapped with a mapping alert; events already stored keep their milestone until re-mapped.",
            ),
        ),
        migrations.AlterField(
            model_name="mappingrule",
            name="note",
            field=models.CharField(
                blank=True,
                help_text="Why the code maps this way (the source's documentation, what a partner said), for "
                "whoever changes the rule later. Not used in mapping.",
                max_length=200,
            ),
        ),
        AddIndexConcurrently(
            model_name="appointment",
            index=models.Index(fields=["window_end_at", "window_start_at"], name="appointment_window_open"),
        ),
        AddIndexConcurrently(
            model_name="leg",
            index=models.Index(
                condition=models.Q(("actual_departure_at__isnull", False)),
                fields=["actual_departure_at"],
                name="leg_actual_departure",
            ),
        ),
        AddIndexConcurrently(
            model_name="leg",
            index=models.Index(
                condition=models.Q(("actual_arrival_at__isnull", False)),
                fields=["actual_arrival_at"],
                name="leg_actual_arrival",
            ),
        ),
    ]
