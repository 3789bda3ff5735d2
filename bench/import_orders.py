"""Bulk import of 100,000 CSV rows through the real upload service, against PostgreSQL COPY of the same rows.

    python -m bench.import_orders [--rows 100000] [--statements] [--profile var/bench/import_orders.prof]
                                  [--db-name NAME] [--format csv|xlsx]

The script creates and migrates a scratch database (oms_bench_import, on the server of DATABASE_URL),
seeds customers, a branch, an operations user and the demo UN/LOCODE set, and generates a realistic file:
about 45,000 orders over every mode, a third of them with several cargo lines, containers with valid
ISO 6346 check digits on FCL lines and valid air waybills on air lines.

It times, in one run:
- the preview (`import_job_create`: stored, read twice as a stream, every order validated, duplicates
  looked up; nothing written but the job);
- the import (`import_job_confirm`: validated again, then every order written by orders.bulk with its
  lines, equipment, references, submit transition and pghistory events) — the figure reported;
- the anchor: `COPY scratch FROM STDIN (FORMAT csv)` of the same file into a table of the same columns, three
  times (a fresh table each time); the median is the anchor, so one lucky or unlucky second on a shared
  machine does not decide the ratio;
- the schema floor, after the import: the rows the import wrote (orders, lines, equipment, transitions, the
  workflow queue, the import's record and the history events, about 470,000) COPYed into copies of their
  tables with the same indexes, constraints and deferred foreign keys, and committed. It is what PostgreSQL
  alone needs to store this import in this schema, with no Python at all; `schema_floor_ratio` says how far
  the ratio could fall if the import's own work cost nothing (decision 0002, "Where the import stands").

Peak memory is the process's maximum resident set size (getrusage), which includes Django itself.

Besides the figure, it prints where the import's time went: the check the import repeats (read, group,
validate, duplicates) with the job's bookkeeping, the writes (orders.bulk), the commit (PostgreSQL checks the
deferred foreign keys then) and the cyclic garbage collector, with the number of statements and COPYs.
`--statements` adds the slowest statements with their count and time; with `--profile` the import runs
under cProfile (slower: compare profiles with profiles, never with timings) and its hottest functions are
printed. Another engineer's run of this benchmark would drop the same scratch database: `--db-name`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import datetime
import gc
import os
import pstats
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.common import report, setup_django

DB_NAME = "oms_bench_import"
TARGET_RATIO = 6
ANCHOR_RUNS = 3
TARGET_PEAK_MB = 500


def _scratch_database_url(db_name: str) -> str:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    return urlunsplit(parts._replace(path=f"/{db_name}"))


def _seed() -> object:
    from django.core.management import call_command

    from orders.locations import locations_load_demo
    from partners import services
    from partners.models import Organisation, OrganisationKind, Role, User

    call_command("migrate", verbosity=0)
    locations_load_demo()
    company = Organisation.objects.create(code="OMS", name="OMS Logistics", kinds=[OrganisationKind.COMPANY])
    branches = {
        code: Organisation.objects.create(
            code=code, name=f"OMS {code}", kinds=[OrganisationKind.BRANCH], parent=company
        )
        for code in ("HAM", "SHA")
    }
    for index, code in enumerate(("ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI", "STARK")):
        Organisation.objects.create(
            code=code, name=f"{code.title()} Ltd", kinds=[OrganisationKind.CUSTOMER],
            account_branch=branches["HAM" if index % 2 else "SHA"],
        )  # fmt: skip
    user = User.objects.create_user("bench@oms.test", "bench-password-not-secret")
    services.membership_grant(user=user, organisation=branches["HAM"], role=Role.OPERATIONS)
    return user


def _container(rnd: random.Random) -> str:
    from stdnum import iso6346

    body = rnd.choice(("MSCU", "MAEU", "HLXU", "CMAU")) + f"{rnd.randrange(1_000_000):06d}"
    return body + iso6346.calc_check_digit(body)


def _awb(rnd: random.Random) -> str:
    serial = rnd.randrange(1_000_000, 9_999_999)
    return f"{rnd.choice(('020', '160', '176'))}{serial}{serial % 7}"


def generate_csv(path: Path, *, rows: int, seed: int = 2026) -> int:
    """Write `rows` data rows (several lines for about a third of the orders); return the order count."""
    import csv

    from orders.demo import CONSIGNEES, LANES, SHIPPERS
    from orders.imports.columns import TEMPLATE_COLUMNS

    rnd = random.Random(seed)
    customers = ("ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI", "STARK")
    written = orders = 0
    today = datetime.date(2026, 12, 1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TEMPLATE_COLUMNS)
        writer.writeheader()
        while written < rows:
            mode, origin, destination, incoterm, _branch, goods, hs_code, package = LANES[orders % len(LANES)]
            customer = customers[orders % len(customers)]
            pickup = today + datetime.timedelta(days=rnd.randint(0, 60))
            order = {
                "customer_code": customer, "customer_reference": f"PO-{orders:07d}", "mode": mode,
                "incoterm": incoterm, "origin": origin, "destination": destination,
                "shipper_name": rnd.choice(SHIPPERS), "consignee_name": rnd.choice(CONSIGNEES),
                "requested_pickup_on": pickup.isoformat(),
                "requested_delivery_on": (pickup + datetime.timedelta(days=30)).isoformat(),
                "service_level": rnd.choice(("standard", "express", "economy")),
                "declared_value": str(rnd.randint(2, 400) * 250) if rnd.random() < 0.5 else "",
            }  # fmt: skip
            if order["declared_value"]:
                order["currency"] = rnd.choice(("EUR", "USD"))
            for line_no in range(rnd.choice((1, 1, 1, 1, 2, 3, 4, 5))):
                pieces = rnd.randint(1, 40)
                line = {
                    "pieces": str(pieces), "package_type": package, "description": goods, "hs_code": hs_code,
                    "gross_weight_kg": str(pieces * rnd.randint(8, 400)),
                    "volume_m3": f"{rnd.randint(1, 4000) / 100:.2f}",
                }  # fmt: skip
                if mode == "ocean_fcl":
                    line["container_number"] = _container(rnd)
                    line["container_type"] = rnd.choice(("22G1", "42G1", "45G1"))
                if mode == "air":
                    line["awb_number"] = _awb(rnd)
                # Spreadsheets often leave the order columns blank on an order's later rows.
                writer.writerow(
                    {
                        **(order if line_no == 0 or rnd.random() < 0.5 else {}),
                        **line,
                        "customer_code": customer,
                        "customer_reference": order["customer_reference"],
                    }
                )
                written += 1
                if written == rows:
                    break
            orders += 1
    return orders


ANCHOR_TYPES = {
    "pieces": "integer", "gross_weight_kg": "numeric(12,3)", "volume_m3": "numeric(12,4)", "length_cm": "numeric(8,1)",
    "width_cm": "numeric(8,1)", "height_cm": "numeric(8,1)", "declared_value": "numeric(14,2)",
    "requested_pickup_on": "date", "requested_delivery_on": "date",
}  # fmt: skip


def csv_to_xlsx(path: Path) -> Path:
    """The same rows as a workbook a person would save: numbers as numbers, dates as dates, empty cells empty."""
    import csv

    import openpyxl

    numbers = {name for name, kind in ANCHOR_TYPES.items() if kind != "date"}
    target = path.with_suffix(".xlsx")
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Orders")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sheet.append(header)
        kinds = ["number" if name in numbers else "date" if name in ANCHOR_TYPES else "text" for name in header]
        for row in reader:
            cells: list[object] = []
            for kind, value in zip(kinds, row, strict=True):
                if not value:
                    cells.append(None)
                elif kind == "number":
                    cells.append(float(value) if "." in value else int(value))
                elif kind == "date":
                    cells.append(datetime.date.fromisoformat(value))
                else:
                    cells.append(value)
            sheet.append(cells)
    workbook.save(target)
    return target


def _create_anchor_table(cursor: Any, table: str) -> None:
    """A typed table with the file's columns, a primary key and an index on the order key."""
    from orders.imports.columns import TEMPLATE_COLUMNS

    columns = ", ".join(f'"{name}" {ANCHOR_TYPES.get(name, "text")}' for name in TEMPLATE_COLUMNS)
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, {columns})")
    cursor.execute(f"CREATE INDEX {table}_key ON {table} (customer_code, customer_reference)")


def copy_anchor(path: Path) -> float:
    """Seconds to COPY the file into a typed scratch table with the same columns, a primary key and an index
    on the order key (the physical lower bound for loading these rows)."""
    from django.db import connection

    from orders.imports.columns import TEMPLATE_COLUMNS

    with connection.cursor() as cursor:
        _create_anchor_table(cursor, "bench_copy_anchor")
        names = ", ".join(f'"{name}"' for name in TEMPLATE_COLUMNS)
        started = time.perf_counter()
        with (
            path.open("rb") as handle,
            cursor.copy(f"COPY bench_copy_anchor ({names}) FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy_anchor")
    return elapsed


def bulk_create_rung(path: Path) -> float:
    """Seconds for the issue's middle rung on this machine: parse the file into typed values and `bulk_create`
    them into the anchor's table (batches of 1,000, one transaction), with no validation, history or second
    table. The issue measured it at 10,500 rows/s where COPY ran at 55,000 (5.2x COPY); the same rung here says
    how the machine weighs Python against PostgreSQL, which the ratio target depends on."""
    from django.db import connection, models, transaction

    from orders.imports.columns import TEMPLATE_COLUMNS

    field_of = {
        "integer": lambda: models.IntegerField(null=True),
        "date": lambda: models.DateField(null=True),
    }
    fields = {
        name: field_of.get(kind, lambda: models.DecimalField(max_digits=14, decimal_places=4, null=True))()
        if (kind := ANCHOR_TYPES.get(name))
        else models.TextField()
        for name in TEMPLATE_COLUMNS
    }
    meta = type("Meta", (), {"app_label": "bench", "db_table": "bench_bulk_create_rung", "managed": False})
    row_model: type[models.Model] = type(
        "BenchBulkCreateRow", (models.Model,), {"__module__": __name__, "Meta": meta, **fields}
    )
    parse_of: dict[str, Callable[[str], object]] = {"integer": int, "date": datetime.date.fromisoformat}
    parsers = [
        (name, parse_of.get(kind, Decimal) if (kind := ANCHOR_TYPES.get(name)) else None) for name in TEMPLATE_COLUMNS
    ]
    with connection.cursor() as cursor:
        _create_anchor_table(cursor, "bench_bulk_create_rung")
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as handle, transaction.atomic():
        reader = csv.reader(handle)
        next(reader)
        batch = []
        for cells in reader:
            values = {
                name: (parse(cell) if cell else None) if parse else cell
                for (name, parse), cell in zip(parsers, cells, strict=True)
            }
            batch.append(row_model(**values))
            if len(batch) == 1000:
                row_model._default_manager.bulk_create(batch)
                batch = []
        row_model._default_manager.bulk_create(batch)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_bulk_create_rung")
    return elapsed


# The tables an import writes, parents first, with the rows the benchmark's import left in them.
WRITTEN_TABLES = (
    "orders_order", "orders_cargoline", "orders_equipment", "orders_ordertransition", "orders_queuedtransition",
    "orders_importedorder", "orders_orderevent", "orders_cargolineevent", "orders_equipmentevent",
)  # fmt: skip


def schema_floor(tmp: Path) -> tuple[float, int]:
    """Seconds to COPY the rows the import wrote (every table, history included) into copies of their tables
    with the same indexes, constraints and deferred foreign keys, and commit; and the row count.

    What PostgreSQL alone needs to store this import in this schema, with no Python at all: the floor any
    import with the same rows, indexes and keys stands on. The rows are taken out with binary COPY into files
    first (not timed), so only the writes and the commit's key checks are measured."""
    from django.db import connection

    floor = {table: f"bench_floor_{table}" for table in WRITTEN_TABLES}
    rows = 0
    with connection.cursor() as cursor:
        for table in WRITTEN_TABLES:
            with (tmp / table).open("wb") as out, cursor.copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                for chunk in copy:
                    out.write(chunk)
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - our table names
            rows += cursor.fetchone()[0]
        cursor.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            [list(WRITTEN_TABLES)],
        )
        keys = cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        for table in WRITTEN_TABLES:
            cursor.execute(f"CREATE TABLE {floor[table]} (LIKE {table} INCLUDING ALL)")
        for table, definition in keys:
            parent = definition.split("REFERENCES ", 1)[1].split("(", 1)[0]
            if parent in floor:
                definition = definition.replace(f"REFERENCES {parent}(", f"REFERENCES {floor[parent]}(")
            cursor.execute(f"ALTER TABLE {floor[table]} ADD {definition}")
        cursor.execute("COMMIT")
        started = time.perf_counter()
        cursor.execute("BEGIN")
        for table in WRITTEN_TABLES:
            with (
                (tmp / table).open("rb") as handle,
                cursor.copy(f"COPY {floor[table]} FROM STDIN (FORMAT binary)") as copy,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
        cursor.execute("COMMIT")
        elapsed = time.perf_counter() - started
        cursor.execute(f"DROP TABLE {', '.join(floor.values())}")
    return elapsed, rows


class _Phases:
    """Where the import's time goes: time inside orders.bulk.orders_bulk_create (the writes; the rest is the
    check the import repeats and the commit), SQL statements and COPYs with their time, garbage collection."""

    def __init__(self) -> None:
        self.write_s = 0.0
        self.statements = 0
        self.copies = 0
        self.by_statement: dict[str, list[float]] = {}  # the statement's first words -> [count, seconds]
        self.gc_s = 0.0
        self._gc_started = 0.0

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_s += time.perf_counter() - self._gc_started

    def _note(self, what: str, started: float) -> None:
        entry = self.by_statement.setdefault(" ".join(what.split())[:90], [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - started

    @contextlib.contextmanager
    def watching(self) -> Iterator[_Phases]:
        from django.db import connection, connections
        from django.db.backends.signals import connection_created

        from orders import bulk

        create, copy_rows = bulk.orders_bulk_create, bulk.copy_rows

        def timed_create(**kwargs):
            started = time.perf_counter()
            try:
                return create(**kwargs)
            finally:
                self.write_s += time.perf_counter() - started

        def counted_copy(model, *args, **kwargs):
            self.copies += 1
            started = time.perf_counter()
            try:
                return copy_rows(model, *args, **kwargs)
            finally:
                self._note(f"COPY {model._meta.db_table} (with its rows built)", started)

        def count(execute, sql, params, many, context):
            self.statements += 1
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                self._note(sql, started)

        wrapper_class: Any = type(connections["default"])  # its private _commit is wrapped below
        commit = wrapper_class._commit

        def timed_commit(wrapper):
            started = time.perf_counter()
            try:
                return commit(wrapper)
            finally:
                self._note("COMMIT (deferred foreign-key checks)", started)

        def watch_connection(sender, connection, **kwargs):
            connection.execute_wrappers.append(count)

        bulk.orders_bulk_create, bulk.copy_rows, wrapper_class._commit = timed_create, counted_copy, timed_commit
        connection_created.connect(watch_connection)
        gc.callbacks.append(self._gc)
        try:
            with connection.execute_wrapper(count):
                yield self
        finally:
            bulk.orders_bulk_create, bulk.copy_rows, wrapper_class._commit = create, copy_rows, commit
            connection_created.disconnect(watch_connection)
            gc.callbacks.remove(self._gc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--profile", type=Path, help="run the import under cProfile and save its stats here")
    parser.add_argument("--db-name", default=DB_NAME, help="scratch database to (re)create")
    parser.add_argument("--statements", action="store_true", help="print the import's slowest SQL statements")
    parser.add_argument(
        "--format", choices=("csv", "xlsx"), default="csv",
        help="upload the rows as CSV (the default) or as an XLSX workbook; the anchor is COPY of the CSV either way",
    )  # fmt: skip
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = _scratch_database_url(args.db_name)
    os.environ["OMS_IMPORT_INLINE_MAX_BYTES"] = str(1 << 40)  # run in this process, no worker
    # The per-order events go to the worker in chunks (orders.bulk); here they are published to an in-memory
    # broker and not consumed: what receivers then do (workflows) is theirs to measure.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["OMS_IMPORT_MAX_ROWS"] = str(max(args.rows, 200_000))
    setup_django()
    from django.conf import settings
    from django.core.files import File

    from orders.imports import service
    from orders.models import CargoLine, ImportStatus, Order, OrderEvent, OrderTransition
    from partners.scoping import scope_for_user

    settings.DEBUG = False  # DEBUG keeps every query in memory
    user = _seed()
    scope = scope_for_user(user)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        order_count = generate_csv(path, rows=args.rows)
        upload_path = csv_to_xlsx(path) if args.format == "xlsx" else path
        size_mb = upload_path.stat().st_size / 1e6
        print(f"file: {args.rows:,} rows, {order_count:,} orders, {args.format}, {size_mb:.1f} MB", flush=True)

        anchor_runs = [copy_anchor(path) for _ in range(ANCHOR_RUNS)]
        anchor_s = statistics.median(anchor_runs)
        print(
            f"COPY anchor: {anchor_s:.2f} s = {args.rows / anchor_s:,.0f} rows/s "
            f"(median of {', '.join(f'{run:.2f}' for run in anchor_runs)} s)",
            flush=True,
        )

        rung_s = bulk_create_rung(path)
        print(
            f"the issue's rung, parse + bulk_create without validation: {rung_s:.2f} s = {args.rows / rung_s:,.0f} "
            f"rows/s = {rung_s / anchor_s:.1f}x COPY (the issue's machine: 10,500 rows/s = 5.2x COPY)",
            flush=True,
        )

        started = time.perf_counter()
        with upload_path.open("rb") as handle:
            job = service.import_job_create(
                upload=File(handle, name=upload_path.name), scope=scope, source="screen", by=user
            )
        preview_s = time.perf_counter() - started
        print(f"preview: {preview_s:.2f} s = {args.rows / preview_s:,.0f} rows/s ({job.status}, "
              f"{job.orders_valid:,} valid, {job.error_count} errors)", flush=True)  # fmt: skip
        if job.status != ImportStatus.CHECKED or job.error_count:
            print(list(job.errors.values_list("row", "column", "message")[:10]), file=sys.stderr)
            return 1

        profiler = cProfile.Profile() if args.profile else None
        with _Phases().watching() as phases:
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            job = service.import_job_confirm(job=job, by=user, mode="all_or_nothing")
            if profiler:
                profiler.disable()
            import_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if job.status != ImportStatus.IMPORTED or job.orders_created != order_count:
        print(f"import did not complete: {job.status} {job.orders_created} {job.file_error}", file=sys.stderr)
        return 1
    print(
        f"import: {import_s:.2f} s = {args.rows / import_s:,.0f} rows/s; orders {Order.objects.count():,}, "
        f"lines {CargoLine.objects.count():,}, transitions {OrderTransition.objects.count():,}, "
        f"history events {OrderEvent.objects.count():,}; peak RSS {peak_mb:.0f} MB",
        flush=True,
    )
    commit_s = phases.by_statement.get("COMMIT (deferred foreign-key checks)", [0, 0.0])[1]
    check_s = import_s - phases.write_s - commit_s
    print(
        f"  check (read twice, group, validate, look up duplicates) and job bookkeeping: {check_s:.2f} s; "
        f"write (orders.bulk: rows, COPY, history): {phases.write_s:.2f} s; commit (deferred foreign-key "
        f"checks): {commit_s:.2f} s; {phases.statements} statements and {phases.copies} COPYs; "
        f"garbage collection: {phases.gc_s:.2f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:  # after the peak was read: this holds no rows in memory
        floor_s, floor_rows = schema_floor(Path(tmp))
    print(
        f"schema floor: {floor_s:.2f} s = {floor_s / anchor_s:.1f}x the anchor to COPY the {floor_rows:,} rows the "
        f"import wrote into copies of their tables (same indexes, constraints, deferred foreign keys) and commit; "
        f"the import took {import_s / floor_s:.2f}x that",
        flush=True,
    )
    if args.statements:
        slowest = sorted(phases.by_statement.items(), key=lambda item: -item[1][1])[:15]
        for what, (count, seconds) in slowest:
            print(f"  {seconds:7.2f} s {count:6} x  {what}")
    if profiler:
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(args.profile)
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(45)
    rows_per_s = args.rows / import_s
    copy_rows_per_s = args.rows / anchor_s
    ratio = import_s / anchor_s
    report(
        bench="import_orders" if args.format == "csv" else "import_orders_xlsx", metric="rows_per_s",
        value=round(rows_per_s), unit="rows/s",
        anchor="copy_rows_per_s", anchor_value=round(copy_rows_per_s), ratio=round(ratio, 2),
        target=f"ratio <= {TARGET_RATIO} and peak < {TARGET_PEAK_MB} MB", peak_mb=round(peak_mb),
        preview_rows_per_s=round(args.rows / preview_s), orders=order_count, check_s=round(check_s, 2),
        write_s=round(phases.write_s, 2), commit_s=round(commit_s, 2), gc_s=round(phases.gc_s, 2),
        bulk_create_rows_per_s=round(args.rows / rung_s), bulk_create_ratio=round(rung_s / anchor_s, 2),
        import_to_bulk_create=round(import_s / rung_s, 2), schema_floor_s=round(floor_s, 2),
        schema_floor_rows=floor_rows, schema_floor_ratio=round(floor_s / anchor_s, 2),
        profiled=bool(profiler),
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
