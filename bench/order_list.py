"""The staff order list at 1,000,000 orders: keyset pages against OFFSET pagination with an exact COUNT.

    python -m bench.order_list [--orders 1000000] [--samples 200]

The script uses its own database (oms_bench_list, on the server of DATABASE_URL): created and migrated
(`manage.py migrate` in a subprocess) on the first run, loaded with the orders by PostgreSQL COPY, and
reused by later runs while it holds them. The orders are realistic in shape: 50 customers of very
different sizes, 2 branches, the 20 demo lanes over all 7 modes, two years of history in which old
orders are closed and recent ones spread over the live states.

It measures the list as a person filters it (one state and one customer, newest first, 25 a page) on
page 1 and on page 500 (reached by following the keyset cursor), each in one run:
- in-process: `views.order_list` for a logged-in operations user, i.e. `selectors.order_list_for` plus
  the real template, navigation and permissions (and the selector alone, for the split);
- through gunicorn (2 workers) on loopback with a session cookie: the server's own time per request
  (gunicorn's access log, %(D)s) and what the client waited;
- the anchor: the same filter by raw SQL with OFFSET and an exact COUNT, page 1 and page 500;
- for scale, the same staff layout with next to nothing in it (the organisation list of our 2 branches).
The last line is the JSON result; the value is gunicorn's server-time p95 on page 500. In-process
figures also give the process's CPU time per request (`*_cpu_p50_ms`), and `load_average` records how
busy the machine was: on a shared machine the wall clock counts time spent waiting for a core.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.common import ROOT, percentile, report, setup_django

DB_NAME = "oms_bench_list"
CUSTOMERS = 50
PAGE_SIZE = 25
DEEP_PAGE = 500
TARGET_P95_MS = 25.0
USER_EMAIL = "bench-ops@oms.example"
MEASURED_CUSTOMER = "C005"  # a mid-sized customer: about 40,000 orders, 30,000 of them closed
MEASURED_STATUS = "closed"
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
SPAN = datetime.timedelta(days=730)


# --- The database -----------------------------------------------------------------------------


def bench_database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def migrate(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "true"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def collect_static() -> Path:
    """Production mode serves hashed static names from a manifest, so collect once, as a deploy does."""
    static_root = ROOT / "var" / "bench" / "static"
    if not (static_root / "staticfiles.json").exists():
        env = {**os.environ, "DEBUG": "true", "STATIC_ROOT": str(static_root)}
        command = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"]
        subprocess.run(command, cwd=ROOT, env=env, check=True)
    return static_root


def measuring_process(database: str) -> str:
    """Migrate the scratch database and set this process up to measure pages as production serves them (collected
    static files, DEBUG off so no query log, a mail backend that sends nothing); the database's URL."""
    url = bench_database_url(database)
    migrate(url)
    os.environ["STATIC_ROOT"] = str(collect_static())
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"  # no query log in the measuring process
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0f3c9a7e51d84b2f96a0c7e3d5b1f2a4c6e8d0b2")
    os.environ.setdefault("EMAIL_URL", "dummymail://")  # production mode names its mail; the benchmark sends none
    setup_django()
    return url


def seed_reference_data() -> Any:
    """Locations, our company with two branches, 50 customers and an operations user; idempotent."""
    from orders.locations import locations_load_demo
    from orders.models import Location
    from partners import services
    from partners.models import Organisation, OrganisationKind, Role, User

    if Location.objects.count() < 300:
        locations_load_demo()
    company, _ = Organisation.objects.get_or_create(
        code="OMS", defaults={"name": "OMS Logistics", "kinds": [OrganisationKind.COMPANY]}
    )
    branches = {}
    for code, name in (("HAM", "OMS Hamburg"), ("SHA", "OMS Shanghai")):
        branches[code], _ = Organisation.objects.get_or_create(
            code=code, defaults={"name": name, "kinds": [OrganisationKind.BRANCH], "parent": company}
        )
    for n in range(1, CUSTOMERS + 1):
        Organisation.objects.get_or_create(
            code=f"C{n:03d}",
            defaults={
                "name": f"Customer {n:03d} Trading",
                "kinds": [OrganisationKind.CUSTOMER],
                "account_branch": branches["HAM" if n % 3 else "SHA"],
            },
        )
    user, created = User.objects.get_or_create(email=USER_EMAIL, defaults={"full_name": "Bench Operations"})
    if created:
        services.membership_grant(user=user, organisation=branches["HAM"], role=Role.OPERATIONS)
    return user


# --- Loading a million orders -----------------------------------------------------------------

COLUMNS = (
    "reference", "customer_id", "customer_reference", "branch_id", "mode", "service_level", "incoterm",
    "named_place", "shipper_name", "shipper_address", "consignee_name", "consignee_address", "notify_name",
    "notify_address", "origin_id", "origin_address", "destination_id", "destination_address",
    "requested_pickup_on", "requested_delivery_on", "description", "declared_value_amount",
    "declared_value_currency", "special_instructions", "pieces_total", "gross_weight_kg_total",
    "volume_m3_total", "chargeable_weight_kg", "channel", "status", "status_before_hold", "submitted_at",
    "cancelled_at", "cancel_reason", "created_at", "updated_at", "search_text",
)  # fmt: skip
# Orders older than two months have mostly run their course; recent ones are spread over the live states.
OLD_STATES = (("closed", 86), ("invoiced", 4), ("completed", 2), ("cancelled", 8))
RECENT_STATES = (
    ("draft", 6), ("submitted", 14), ("confirmed", 14), ("planned", 14), ("in_transit", 22), ("arrived", 8),
    ("delivered", 8), ("completed", 6), ("on_hold", 3), ("cancelled", 5),
)  # fmt: skip
SHIPPERS = ("Shenzhen Bright Lighting Co.", "Ningbo Sunpower Ltd.", "Hanse Maschinenbau GmbH", "Busan Auto Parts Co.")
CONSIGNEES = ("Nordwind Handel GmbH", "Rhine Valley Distribution", "Great Lakes Supply Co.", "Bayside Retail Inc.")


def _weighted(choices: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [c for c, _ in choices], [w for _, w in choices]


def order_rows(count: int, *, customers: list[tuple[int, str, str]], branches: dict[str, int]) -> Iterator[tuple]:
    """`count` orders, oldest first, with references per branch and year as OMS issues them."""
    from orders.cargo import chargeable_weight_kg
    from orders.demo import LANES

    rnd = random.Random(20260101)
    weights = [1 / (rank**0.7) for rank in range(1, len(customers) + 1)]  # a few big customers, a long tail
    old_states, recent_states = _weighted(OLD_STATES), _weighted(RECENT_STATES)
    recent_from = START + SPAN - datetime.timedelta(days=60)
    serials: dict[tuple[str, int], int] = {}
    step = SPAN / count
    customer_picks = rnd.choices(customers, weights=weights, k=count)
    old_picks = rnd.choices(old_states[0], weights=old_states[1], k=count)
    recent_picks = rnd.choices(recent_states[0], weights=recent_states[1], k=count)
    for i in range(count):
        created = START + step * i
        customer_id, customer_code, customer_name = customer_picks[i]
        mode, origin, destination, incoterm, branch, goods, hs_code, _package = LANES[rnd.randrange(len(LANES))]
        key = (branch, created.year % 100)
        serials[key] = serials.get(key, 0) + 1
        reference = f"{branch}-{key[1]:02d}-{serials[key]:06d}"
        customer_reference = f"{customer_code}-PO-{i:07d}"
        status = recent_picks[i] if created >= recent_from else old_picks[i]
        pickup = (created + datetime.timedelta(days=rnd.randint(1, 21))).date()
        pieces = rnd.randint(1, 60)
        kilos = pieces * rnd.randint(5, 400)
        weight = Decimal(kilos)
        volume = Decimal(kilos * 10_000 // rnd.randint(120, 400)).scaleb(-4)  # 120 to 400 kg per m³
        shipper, consignee = rnd.choice(SHIPPERS), rnd.choice(CONSIGNEES)
        submitted = created + datetime.timedelta(minutes=5) if status != "draft" else None
        cancelled = created + datetime.timedelta(days=1) if status == "cancelled" else None
        yield (
            reference, customer_id, customer_reference, branches[branch], mode, "standard", incoterm, "",
            shipper, "", consignee, "", "", "", origin, "", destination, "", pickup,
            pickup + datetime.timedelta(days=rnd.randint(2, 35)), goods, Decimal(rnd.randint(2, 400) * 250),
            "EUR", "", pieces, weight, volume,
            chargeable_weight_kg(mode=mode, gross_weight_kg=weight, volume_m3=volume), "api", status,
            "submitted" if status == "on_hold" else "", submitted, cancelled,
            "Customer withdrew." if cancelled else "", created, created,
            f"{reference} {customer_reference} {customer_code} {customer_name} {shipper} {consignee} {origin} "
            f"{destination} {goods} {hs_code}",
        )  # fmt: skip


def load_orders(count: int) -> float:
    """COPY `count` orders in (replacing any there were); returns seconds."""
    from django.db import connection, transaction

    from partners.models import Organisation

    customers = list(
        Organisation.objects.filter(code__regex=r"^C\d{3}$").order_by("code").values_list("pk", "code", "name")
    )
    branches = dict(Organisation.objects.filter(code__in=["HAM", "SHA"]).values_list("code", "pk"))
    started = time.perf_counter()
    # One transaction: an interrupted load leaves the table, its indexes and constraints as they were.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE orders_order CASCADE")
        # Checked row by row, foreign keys and indexes cost more than the copy itself; rebuilt afterwards,
        # each is one sort or one join. The history triggers are off: a bulk load has no one to attribute.
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'orders_order'::regclass AND contype IN ('f', 'u') ORDER BY contype DESC"
        )
        constraints = cursor.fetchall()  # unique ones first: they are rebuilt before the foreign keys
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'orders_order' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'orders_order'::regclass)"
        )
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE orders_order DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("ALTER TABLE orders_order DISABLE TRIGGER USER")
        raw = cursor.connection  # psycopg 3 connection
        with raw.cursor().copy(f"COPY orders_order ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in order_rows(count, customers=customers, branches=branches):
                copy.write_row(row)
        _stage("copied", started)
        cursor.execute("ALTER TABLE orders_order ENABLE TRIGGER USER")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE orders_order ADD CONSTRAINT "{name}" {definition}')
        _stage("constraints rebuilt and checked", started)
        for _, definition in indexes:
            cursor.execute(definition)
        _stage("indexes built", started)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE orders_order")
    _stage("vacuumed and analysed", started)
    return time.perf_counter() - started


def _stage(what: str, started: float) -> None:
    print(f"  {what} after {time.perf_counter() - started:.1f} s", flush=True)


# --- Measuring --------------------------------------------------------------------------------


def timed_ms(fn: Callable[[], Any], *, samples: int, warmup: int = 10) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each call. On a shared machine the wall clock includes waiting
    for a core; this process's CPU time does not, so the two together tell contention from cost."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(samples):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def summary(samples: list[float], cpu: list[float] | None = None) -> dict[str, float]:
    figures = {"p50": round(percentile(samples, 50), 2), "p95": round(percentile(samples, 95), 2)}
    if cpu:
        figures["cpu_p50"] = round(percentile(cpu, 50), 2)
    return figures


def list_query(cursor: str = "") -> str:
    from urllib.parse import urlencode

    params = {"status": MEASURED_STATUS, "customer": MEASURED_CUSTOMER}
    if cursor:
        params["cursor"] = cursor
    return urlencode(params)


def deep_cursor(scope: Any, deep_page: int) -> str:
    """The cursor of page `deep_page`, reached the way a reader gets there: following "next"."""
    from orders import selectors

    cursor = ""
    for _ in range(deep_page - 1):
        page = selectors.order_list_for(
            scope=scope,
            filters=selectors.OrderFilters(status=MEASURED_STATUS, customer=MEASURED_CUSTOMER, cursor=cursor),
        )
        if not page.next_cursor:
            raise SystemExit(f"the filter has fewer than {deep_page} pages")
        cursor = page.next_cursor
    return cursor


def in_process(user: Any, scope: Any, cursors: dict[str, str], samples: int) -> dict[str, dict[str, float]]:
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails

    from orders import selectors, views

    factory = RequestFactory()
    results = {}
    for page, cursor in cursors.items():

        def render_page(cursor: str = cursor) -> None:
            request = factory.get("/orders/?" + list_query(cursor))
            request.user = user
            request.session = SessionStore()
            request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
            request.htmx = HtmxDetails(request)  # type: ignore[attr-defined]
            response = views.order_list(request)
            assert response.status_code == 200
            assert response.content.count(b'class="oms-code" href="/orders/') == PAGE_SIZE

        def select(cursor: str = cursor) -> None:
            filters = selectors.OrderFilters(status=MEASURED_STATUS, customer=MEASURED_CUSTOMER, cursor=cursor)
            assert len(selectors.order_list_for(scope=scope, filters=filters)) == PAGE_SIZE

        results[f"inproc_{page}"] = summary(*timed_ms(render_page, samples=samples))
        results[f"selector_{page}"] = summary(*timed_ms(select, samples=samples))
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The backend that signs people in (the first is django-axes' lockout check, which loads nobody).
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key or ""


def through_gunicorn(url: str, user: Any, cursors: dict[str, str], samples: int) -> dict[str, dict[str, float]]:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-order-list-", suffix=".log")[1])
    env = {
        **os.environ, "DATABASE_URL": url, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false",
        "SECRET_KEY": "bench-only-secret-key-0f3c9a7e51d84b2f96a0c7e3d5b1f2a4c6e8d0b2", "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING", "EMAIL_URL": "dummymail://",  # production mode names its mail; none is sent
    }  # fmt: skip
    command = [
        sys.executable, "-m", "gunicorn", "oms.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--access-logfile", str(log), "--access-logformat", "%(U)s %(q)s %(s)s %(D)s",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cookie = f"sessionid={session_cookie(user)}"
    try:
        deadline = time.monotonic() + 30
        while _get(port, "/healthz", cookie)[0] != 200:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)
        # The staff layout's floor: a page with the same navigation, session and permissions but two rows.
        paths = {page: "/orders/?" + list_query(cursor) for page, cursor in cursors.items()}
        paths["layout_floor"] = "/organisations/?kind=branch"
        results = {}
        for page, path in paths.items():
            for _ in range(10):  # warm both workers
                _get(port, path, cookie)
            log.write_text("")
            client = []
            for _ in range(samples):
                started = time.perf_counter()
                status, body = _get(port, path, cookie)
                client.append((time.perf_counter() - started) * 1000)
                assert status == 200, status
                if page != "layout_floor":
                    assert body.count(b'class="oms-code" href="/orders/') == PAGE_SIZE
            time.sleep(0.3)  # let the workers flush their access log
            server_ms = [int(line.split()[-1]) / 1000 for line in log.read_text().splitlines() if " 200 " in line]
            results[f"http_{page}"] = summary(client)
            results[f"server_{page}"] = summary(server_ms)
        return results
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.unlink(missing_ok=True)


def _get(port: int, path: str, cookie: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        connection.close()


def offset_count_anchor(samples: int, deep_page: int) -> dict[str, dict[str, float]]:
    """The same page the classic way: an exact COUNT for "page x of y", then LIMIT/OFFSET."""
    from django.db import connection

    from partners.models import Organisation

    customer_id = Organisation.objects.get(code=MEASURED_CUSTOMER).pk
    count_sql = "SELECT count(*) FROM orders_order WHERE customer_id = %s AND status = %s"
    page_sql = (
        "SELECT o.id, o.reference, o.customer_reference, o.mode, o.status, o.requested_pickup_on, o.pieces_total,"
        " o.gross_weight_kg_total, o.chargeable_weight_kg, o.created_at, c.code, c.name, b.code,"
        " lo.name, ld.name FROM orders_order o"
        " JOIN partners_organisation c ON c.id = o.customer_id JOIN partners_organisation b ON b.id = o.branch_id"
        " JOIN orders_location lo ON lo.code = o.origin_id JOIN orders_location ld ON ld.code = o.destination_id"
        " WHERE o.customer_id = %s AND o.status = %s ORDER BY o.created_at DESC, o.id DESC LIMIT %s OFFSET %s"
    )
    results = {}
    for page, number in (("page1", 1), ("deep", deep_page)):

        def run(offset: int = (number - 1) * PAGE_SIZE) -> None:
            with connection.cursor() as cursor:
                cursor.execute(count_sql, [customer_id, MEASURED_STATUS])
                cursor.fetchone()
                cursor.execute(page_sql, [customer_id, MEASURED_STATUS, PAGE_SIZE, offset])
                assert len(cursor.fetchall()) == PAGE_SIZE

        def count_only() -> None:
            with connection.cursor() as cursor:
                cursor.execute(count_sql, [customer_id, MEASURED_STATUS])
                cursor.fetchone()

        results[f"offset_count_{page}"] = summary(timed_ms(run, samples=samples)[0])
        if page == "page1":
            results["count_only"] = summary(timed_ms(count_only, samples=samples)[0])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--deep-page", type=int, default=DEEP_PAGE)
    parser.add_argument("--database", default=DB_NAME, help="scratch database on the server of DATABASE_URL")
    args = parser.parse_args()
    wall = time.monotonic()
    load_before = os.getloadavg()[0]

    url = measuring_process(args.database)

    from django.db import connection

    from orders.models import Order
    from partners.scoping import scope_for_user

    user = seed_reference_data()
    existing = Order.objects.count()
    load_s = 0.0
    if existing < args.orders:
        print(f"loading {args.orders:,} orders by COPY…", flush=True)
        load_s = load_orders(args.orders)
        print(f"loaded in {load_s:.1f} s", flush=True)
    total = Order.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM orders_order o JOIN partners_organisation c ON c.id = o.customer_id "
            "WHERE c.code = %s AND o.status = %s",
            [MEASURED_CUSTOMER, MEASURED_STATUS],
        )
        (matching,) = cursor.fetchone()

    scope = scope_for_user(user)
    cursors = {"page1": "", "deep": deep_cursor(scope, args.deep_page)}
    results: dict[str, dict[str, float]] = {}
    results |= in_process(user, scope, cursors, args.samples)
    results |= offset_count_anchor(args.samples, args.deep_page)
    results |= through_gunicorn(url, user, cursors, args.samples)
    for name, figures in results.items():
        cpu = f"   cpu p50 {figures['cpu_p50']:>6.2f} ms" if "cpu_p50" in figures else ""
        print(f"{name:<22} p50 {figures['p50']:>7.2f} ms   p95 {figures['p95']:>7.2f} ms{cpu}", flush=True)

    value = results["server_deep"]["p95"]
    anchor = results["offset_count_deep"]["p50"]
    worst = max(results[f"{kind}_{page}"]["p95"] for kind in ("server", "inproc") for page in ("page1", "deep"))
    report(
        bench="order_list",
        metric="p95_ms_deep_page",
        value=value,
        unit="ms",
        anchor="offset_count_deep_page_p50_ms",
        anchor_value=anchor,
        ratio=round(value / anchor, 3),
        target=f"p95 <= {TARGET_P95_MS:g} ms",
        meets_target=worst <= TARGET_P95_MS,
        orders=total,
        filter=f"status={MEASURED_STATUS} customer={MEASURED_CUSTOMER} newest first, {PAGE_SIZE} a page",
        matching_orders=matching,
        deep_page=args.deep_page,
        samples=args.samples,
        load_s=round(load_s, 1),
        **{f"{name}_{stat}_ms": value for name, figures in results.items() for stat, value in figures.items()},
        load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)],  # 1-minute, before and after
        wall_s=round(time.monotonic() - wall, 1),
    )


if __name__ == "__main__":
    main()
