"""How a batch of events reaches tracking_trackingevent: three statements, whatever the batch size.

1. `CREATE TEMPORARY TABLE IF NOT EXISTS pg_temp.tracking_event_batch (…) ON COMMIT DELETE ROWS; DELETE FROM
   pg_temp.tracking_event_batch`: this session's staging table (created once per database session; afterwards
   the statement only checks the catalog), emptied of an earlier batch of the same transaction (a file upload
   ingests its chunks in one transaction; usually there is none: the commit empties it). It has no indexes
   and writes no WAL. Created per batch rather than at connect time so that it also works behind a
   transaction-pooling proxy (any server connection gets it in the batch's own transaction).
2. `COPY pg_temp.tracking_event_batch FROM STDIN (FORMAT BINARY)`: the rows in PostgreSQL's binary row format,
   written by psycopg's C code: no SQL text to build, no literals to quote and parse again, timestamps and
   numbers as their bytes.
3. `INSERT INTO tracking_trackingevent … SELECT … FROM pg_temp.tracking_event_batch ON CONFLICT DO NOTHING
   RETURNING id, content_key`: the dedupe (both unique keys are arbiters, so a re-sent event is skipped by
   the database, also against a concurrent batch) and the ids of the rows that were new.

Measured on the benchmark's batches of 1,000 DCSA events (bench/tracking_ingest.py, same machine, same run):
this path takes about half the time of the former single `INSERT … SELECT FROM jsonb_to_recordset(<the batch as
one JSON document>)` (the server parsed the whole document, then every value again from its JSON text, and the
client quoted half a megabyte into the SQL), and a third of `INSERT … SELECT FROM unnest(<one array per
column>)` (psycopg adapts list parameters element by element in Python). The raw payload is cast to jsonb
once, in the INSERT; COPY of the same rows into a table with the same indexes (the benchmark's anchor) does the
same parse.

COPY is not a `cursor.execute`: Django's execute wrappers never see it, and must not (they may rewrite the SQL:
django-pghistory prefixes every statement with a `SELECT set_config(…)`, which COPY cannot carry; no table
touched here has history triggers). `copy_rows` writes it into the query log like any statement when queries
are logged (DEBUG, `django_assert_num_queries`, CaptureQueriesContext, the benchmark's counter), so every
statement of a batch is counted.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from typing import Any

from django.db import connection

# (column, staging type, how the INSERT reads it): one value per row, in the order of the COPY rows.
ROW_COLUMNS = (
    ("source_event_id", "text", ""),
    ("scheme", "text", ""),
    ("raw_code", "text", ""),
    ("raw_payload", "text", "::jsonb"),  # the JSON text; parsed once, by the INSERT
    ("reported_at", "timestamptz", ""),
    ("mapping_status", "text", ""),
    ("milestone_id", "text", ""),
    ("classifier", "text", ""),
    ("sent_classifier", "text", ""),
    ("event_at", "timestamptz", ""),
    ("event_offset_minutes", "int2", ""),
    ("location_code", "text", ""),
    ("location_text", "text", ""),
    ("location_role", "text", ""),
    ("subject_type", "text", ""),
    ("subject_value", "text", ""),
    ("reason", "text", ""),
    ("shipment_id", "int8", ""),
    ("leg_id", "int8", ""),
    ("order_id", "int8", ""),
    ("content_key", "text", "::uuid"),  # compared as text in Python, stored as uuid
    ("id_key", "text", "::uuid"),
)
# The same for every row of a batch: parameters of the INSERT.
BATCH_COLUMNS = {
    "source": "%(source)s",
    "source_kind": "%(kind)s",
    "received_at": "%(now)s",
    "effect": "''",
    "contradiction": "''",  # judged by following.follow_legs, written with the effects
    "recorded_by_id": "%(by)s",
    "partner_id": "%(partner)s",  # whose own mapping rules the sender's events follow (Source.partner_id)
}
STAGE = "pg_temp.tracking_event_batch"
# Created once per session; emptied before every batch too, because several batches may share a transaction
# (a file upload, a poll's pages) and ON COMMIT DELETE ROWS only empties it at the commit. One round trip.
_STAGE_COLUMNS = ", ".join(f"{name} {kind}" for name, kind, _ in ROW_COLUMNS)
_PREPARE_STAGE = f"CREATE TEMPORARY TABLE IF NOT EXISTS tracking_event_batch ({_STAGE_COLUMNS}) ON COMMIT DELETE ROWS; DELETE FROM {STAGE}"  # noqa: E501, S608 - constant names only
_COPY_STAGE = f"COPY {STAGE} ({', '.join(name for name, _, _ in ROW_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_TARGET = ", ".join([*BATCH_COLUMNS, *(name for name, _, _ in ROW_COLUMNS)])
_SELECT = ", ".join([*BATCH_COLUMNS.values(), *(f"b.{name}{cast}" for name, _, cast in ROW_COLUMNS)])
_INSERT = f"INSERT INTO tracking_trackingevent ({_TARGET}) SELECT {_SELECT} FROM {STAGE} AS b ON CONFLICT DO NOTHING RETURNING id, content_key::text"  # noqa: E501, S608 - constant names only
_TYPES = [kind for _, kind, _ in ROW_COLUMNS]


def copy_rows(sql: str, types: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """`COPY … FROM STDIN (FORMAT BINARY)` of `rows` (values of `types`), logged like any other statement."""
    connection.validate_no_broken_transaction()
    with connection.cursor() as cursor:
        debug = getattr(cursor, "debug_sql", None)  # a CursorDebugWrapper when queries are logged
        with (
            connection.wrap_database_errors,
            debug(sql) if debug else nullcontext(),
            cursor.cursor.copy(sql) as copy,  # the psycopg cursor under Django's wrapper
        ):
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)


def insert_batch(
    rows: Iterable[Sequence[Any]],
    *,
    source: str,
    kind: str,
    now: datetime.datetime,
    by: int | None,
    partner: int | None = None,
) -> dict[str, int]:
    """Store the rows (values in ROW_COLUMNS order) unless either unique key already holds them; returns
    content key → id of the rows that were new. Inside the batch's transaction only: the staging table empties
    itself at every commit."""
    if not connection.in_atomic_block:
        raise RuntimeError("insert_batch runs inside the batch's transaction (transaction.atomic).")
    with connection.cursor() as cursor:
        cursor.execute(_PREPARE_STAGE)
    copy_rows(_COPY_STAGE, _TYPES, rows)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, {"source": source, "kind": kind, "now": now, "by": by, "partner": partner})
        return {key: pk for pk, key in cursor.fetchall()}


# JSON as a raw payload is stored: compact, unicode kept (jsonb normalises it anyway). One encoder for every
# call: json.dumps with options builds a new encoder each time, which costs as much as encoding an event.
dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
