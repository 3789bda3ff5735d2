"""Bulk import of 100,000 CSV rows through the real upload service, against PostgreSQL COPY of the same rows.

    python -m bench.import_orders [--rows 100000]

The script creates and migrates a scratch database (oms_bench_import, on the server of DATABASE_URL),
seeds customers, a branch, an operations user and the demo UN/LOCODE set, and generates a realistic file:
about 45,000 orders over every mode, a third of them with several cargo lines, containers with valid
ISO 6346 check digits on FCL lines and valid air waybills on air lines.

It times, in one run:
- the preview (`import_job_create`: stored, read twice as a stream, every order validated, duplicates
  looked up; nothing written but the job);
- the import (`import_job_confirm`: validated again, then every order written by orders.bulk with its
  lines, equipment, references, submit transition and pghistory events) — the figure reported;
- the anchor: `COPY scratch FROM STDIN (FORMAT csv)` of the same file into a table of the same columns.

Peak memory is the process's maximum resident set size (getrusage), which includes Django itself.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.common import report, setup_django

DB_NAME = "oms_bench_import"
TARGET_RATIO = 6
TARGET_PEAK_MB = 500


def _scratch_database_url() -> str:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return urlunsplit(parts._replace(path=f"/{DB_NAME}"))


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


def copy_anchor(path: Path) -> float:
    """Seconds to COPY the file into a typed scratch table with the same columns, a primary key and an index
    on the order key (the physical lower bound for loading these rows)."""
    from django.db import connection

    from orders.imports.columns import TEMPLATE_COLUMNS

    columns = ", ".join(f'"{name}" {ANCHOR_TYPES.get(name, "text")}' for name in TEMPLATE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_anchor")
        cursor.execute(f"CREATE TABLE bench_copy_anchor (id bigserial PRIMARY KEY, {columns})")
        cursor.execute("CREATE INDEX bench_copy_anchor_key ON bench_copy_anchor (customer_code, customer_reference)")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = _scratch_database_url()
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
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.rows:,} rows, {order_count:,} orders, {size_mb:.1f} MB", flush=True)

        anchor_s = copy_anchor(path)
        print(f"COPY anchor: {anchor_s:.2f} s = {args.rows / anchor_s:,.0f} rows/s", flush=True)

        started = time.perf_counter()
        with path.open("rb") as handle:
            job = service.import_job_create(
                upload=File(handle, name="orders.csv"), scope=scope, source="screen", by=user
            )
        preview_s = time.perf_counter() - started
        print(f"preview: {preview_s:.2f} s = {args.rows / preview_s:,.0f} rows/s ({job.status}, "
              f"{job.orders_valid:,} valid, {job.error_count} errors)", flush=True)  # fmt: skip
        if job.status != ImportStatus.CHECKED or job.error_count:
            print(list(job.errors.values_list("row", "column", "message")[:10]), file=sys.stderr)
            return 1

        started = time.perf_counter()
        job = service.import_job_confirm(job=job, by=user, mode="all_or_nothing")
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
    rows_per_s = args.rows / import_s
    copy_rows_per_s = args.rows / anchor_s
    ratio = import_s / anchor_s
    report(
        bench="import_orders", metric="rows_per_s", value=round(rows_per_s), unit="rows/s",
        anchor="copy_rows_per_s", anchor_value=round(copy_rows_per_s), ratio=round(ratio, 2),
        target=f"ratio <= {TARGET_RATIO} and peak < {TARGET_PEAK_MB} MB", peak_mb=round(peak_mb),
        preview_rows_per_s=round(args.rows / preview_s), orders=order_count,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
