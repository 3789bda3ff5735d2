"""The schedule board's legs read by their best time: an index on COALESCE(actual, planned) for departures and
arrivals, in place of the partial indexes on the actual times alone (0020).

The fortnight's board lists the first 8 entries of each day (tracking.selectors.schedule_board). It numbered every
leg of the fortnight with ROW_NUMBER() over each local day to keep 8; it now reads each day's first legs with a
LATERAL subquery and a LIMIT (`_first_ids_of_each_day`), in the order of the leg's best time, which only an index
on that expression gives: the scan starts at the day's first instant and stops after the first 8 legs that pass
the filters. The day's totals and the one-day view filter on the same expression, a range scan of this index.

The partial indexes on the actual times served only the board's former OR of actual and planned times; nothing
reads by them now, and each recorded departure or arrival cost an entry in them.

Measured on PostgreSQL 15 with 200,000 legs over three years and two months ahead (bench/planning_pages.py, a
Hamburg operations user's fortnight, EXPLAIN ANALYZE with planning, median of 7, a loaded 2-core machine): each
day's first 8 departures (or arrivals) for the fortnight, 14 LIMIT scans of this index, 0.9-1.2 ms, where
numbering the fortnight's legs took 13-16 ms; the day's totals, a range scan of it, 2,500 entries for each kind.
More in docs/planning.md, "The board summarises a busy day".

Built concurrently, as 0016 and 0020: carrier events keep recording actual times on legs meanwhile.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models
from django.db.models.functions import Coalesce


class Migration(migrations.Migration):
    atomic = False  # concurrent index operations cannot run in a transaction

    dependencies = [
        ("tracking", "0020_flight_numbers_and_open_windows"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="leg",
            index=models.Index(Coalesce("actual_departure_at", "planned_departure_at"), name="leg_best_departure"),
        ),
        AddIndexConcurrently(
            model_name="leg",
            index=models.Index(Coalesce("actual_arrival_at", "planned_arrival_at"), name="leg_best_arrival"),
        ),
        RemoveIndexConcurrently(model_name="leg", name="leg_actual_departure"),
        RemoveIndexConcurrently(model_name="leg", name="leg_actual_arrival"),
    ]
