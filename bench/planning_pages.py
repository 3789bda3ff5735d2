"""Today and the schedule board for an operations user of one branch, at three years of planning history.

    python -m bench.planning_pages [--masters 20000] [--samples 100]

The script uses its own database (oms_bench_planning, on the server of DATABASE_URL): created and migrated on
the first run, filled by set-wise INSERTs, and reused by later runs while it holds the same volume. Two branches
(HAM, measured, with 60 % of the masters; SHA, the rest), `--masters` sea masters with 10 legs and 10
appointments each (200,000 of each by default) spread evenly from three years ago to 60 days ahead: legs in the
past have actual times a few hours off the plan, 1 in 20 masters is cancelled, 1 in 25 appointments cancelled,
1 in 10 windows runs over three days, and every master has one confirmed booking with its three cut-offs. The
rows are dated from the moment of the fill, so "today" is always a busy day in the middle of the data.

It measures, in one run, with the Django test client in this process (DEBUG off, so the production code paths):
- `/planning/today/` and `/planning/schedule/` as the branch's operations user sees them (their own branch, its
  clock): the whole request, middleware, scoping, selectors and templates, p50/p95 over `--samples` requests,
  with this process's CPU time and the number of queries each page sends;
- the same reads without the request and the template (`selectors.execution_for`, `selectors.schedule_board`);
- the anchor: the bare SQL each page needs, the rows of the day (Today: windows open today, legs due to depart or
  arrive today, the week's unrecorded ones) and of the fortnight (the board: legs by best time, cut-offs,
  windows) read by their indexes with no scoping joins and no rendering, measured the same way.
The last line is the JSON result; the value is the slower page's p95, the anchor its bare SQL's p95.

Target p95 <= 50 ms per page: both are pages people keep open and reload through the day, and the staff layout
alone costs 15-30 ms on the development machine (README, "Measured figures"), so 50 ms leaves the page's own
reads about 20 ms, several times the bare SQL, for scoping, objects and templates.
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from typing import Any

from bench.common import report
from bench.order_list import measuring_process, summary, timed_ms

DB_NAME = "oms_bench_planning"
TARGET_P95_MS = 50.0
USER_EMAIL = "bench-planning@oms.example"
LEGS_PER_MASTER = 10
APPOINTMENTS_PER_MASTER = 10

FILL_SQL = """
INSERT INTO tracking_shipment (reference, kind, mode, bill_number, status, notes, created_at, updated_at, branch_id,
  carrier_id, origin_id, destination_id)
SELECT 'M-BENCH-' || g, 'master', 'sea_fcl', '', CASE WHEN g %% 20 = 0 THEN 'cancelled' ELSE 'booked' END, '',
  now(), now(), CASE WHEN g %% 5 < 3 THEN %(ham)s ELSE %(sha)s END, %(carrier)s, 'CNSHA', 'DEHAM'
FROM generate_series(1, %(masters)s) g;

CREATE TEMPORARY TABLE bench_slot ON COMMIT DROP AS
SELECT g, s.id AS shipment_id,
  now() - interval '3 years' + (g::float / %(rows)s) * (interval '3 years 60 days') AS at
FROM generate_series(0, %(rows)s - 1) g
JOIN tracking_shipment s ON s.reference = 'M-BENCH-' || (g / 10 + 1);

INSERT INTO tracking_leg (sequence, role, mode, vessel_name, vessel_imo, voyage_number, flight_number, truck_plate,
  train_number, origin_id, destination_id, shipment_id, carrier_id, planned_departure_at, planned_arrival_at,
  actual_departure_at, actual_arrival_at)
SELECT (g %% 10) + 1, 'main', 'sea_fcl', 'BENCH EXPRESS', '', '', '', '', '', 'CNSHA', 'DEHAM', shipment_id,
  %(carrier)s, at, at + interval '20 days',
  CASE WHEN at + interval '6 hours' < now() THEN at + ((g %% 13) - 4) * interval '1 hour' END,
  CASE WHEN at + interval '20 days 6 hours' < now() THEN at + interval '20 days' + ((g %% 25) - 6) * interval '1 hour'
  END
FROM bench_slot;

INSERT INTO tracking_appointment (kind, address, window_start_at, window_end_at, status, reference, contact, notes,
  location_id, shipment_id)
SELECT CASE WHEN g %% 2 = 0 THEN 'pickup' ELSE 'delivery' END, '', at,
  at + CASE WHEN g %% 10 = 0 THEN interval '3 days' ELSE interval '4 hours' END,
  CASE WHEN g %% 25 = 0 THEN 'cancelled' ELSE 'confirmed' END, '', '', '', 'DEHAM', shipment_id
FROM bench_slot;

INSERT INTO tracking_booking (status, quoted_currency, selection, carrier_reference, documentation_cutoff_at,
  vgm_cutoff_at, cargo_cutoff_at, roll_count, rejection_reason, sent_via, request_text, requested_at, carrier_id,
  shipment_id, cancel_reason)
SELECT 'confirmed', 'EUR', '{}', 'BK' || shipment_id, at - interval '3 days', at - interval '2 days',
  at - interval '1 day', 0, '', 'email', '', at - interval '20 days', %(carrier)s, shipment_id, ''
FROM bench_slot WHERE g %% 10 = 0;
"""


# --- The data ---------------------------------------------------------------------------------


def seed_reference_data() -> Any:
    """Two places, our company with two branches, a carrier and the measured operations user; idempotent."""
    from orders.models import Location
    from partners import services
    from partners.models import Organisation, OrganisationKind, Role, User

    for code, country, name in (("DEHAM", "DE", "Hamburg"), ("CNSHA", "CN", "Shanghai")):
        Location.objects.get_or_create(code=code, defaults={"country": country, "name": name, "name_ascii": name})
    company, _ = Organisation.objects.get_or_create(
        code="OMS", defaults={"name": "OMS Logistics", "kinds": [OrganisationKind.COMPANY]}
    )
    for code, name, zone in (("HAM", "OMS Hamburg", "Europe/Berlin"), ("SHA", "OMS Shanghai", "Asia/Shanghai")):
        Organisation.objects.get_or_create(
            code=code,
            defaults={"name": name, "kinds": [OrganisationKind.BRANCH], "parent": company, "time_zone": zone},
        )
    Organisation.objects.get_or_create(
        code="MAEU", defaults={"name": "Maersk Line", "kinds": [OrganisationKind.CARRIER]}
    )
    user, created = User.objects.get_or_create(email=USER_EMAIL, defaults={"full_name": "Bench Planning"})
    if created:
        services.membership_grant(user=user, organisation=Organisation.objects.get(code="HAM"), role=Role.OPERATIONS)
    return user


def fill(masters: int) -> float:
    """Replace the planning rows with `masters` masters and their legs, windows and bookings; returns seconds."""
    from django.db import connection, transaction

    from partners.models import Organisation

    ids = dict(Organisation.objects.filter(code__in=["HAM", "SHA", "MAEU"]).values_list("code", "pk"))
    params = {"ham": ids["HAM"], "sha": ids["SHA"], "carrier": ids["MAEU"], "masters": masters}
    params["rows"] = masters * LEGS_PER_MASTER
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE tracking_shipment CASCADE")
        # The history triggers are off: a bulk fill has no one to attribute (bench.order_list does the same).
        cursor.execute("SET LOCAL session_replication_role = replica")
        for statement in FILL_SQL.split(";\n"):
            if statement.strip():
                cursor.execute(statement, params)
    with connection.cursor() as cursor:
        for table in ("tracking_shipment", "tracking_leg", "tracking_appointment", "tracking_booking"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


# --- Measuring --------------------------------------------------------------------------------


def pages(user: Any, samples: int) -> dict[str, dict[str, float]]:
    """Each page through the test client: wall and CPU time per request, and its queries."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    results = {}
    for name, path, marker in (
        ("today", "/planning/today/", b"Pickups"),
        ("schedule", "/planning/schedule/", b"Departures"),
    ):

        def get(path: str = path, marker: bytes = marker) -> None:
            response = client.get(path, secure=True)
            assert response.status_code == 200, response.status_code
            assert marker in response.content

        results[name] = summary(*timed_ms(get, samples=samples))
        with CaptureQueriesContext(connection) as sent:
            get()
        results[name]["queries"] = len(sent.captured_queries)
    return results


def selectors_alone(user: Any, samples: int) -> dict[str, dict[str, float]]:
    """The pages' reads without the request and the template: `execution_for` and `schedule_board` as the views
    call them for this user (their branch, its clock), rows made into objects."""
    from django.utils import timezone

    from partners.models import Organisation
    from partners.scoping import scope_for_user
    from partners.time_zones import branch_zone
    from tracking import selectors
    from tracking.views_schedule import BOARD_CELL_ENTRIES, BOARD_DAYS, TODAY_SECTION_ROWS

    scope = scope_for_user(user)
    branch = Organisation.objects.get(code="HAM")
    zone = branch_zone(branch)
    today = timezone.localdate(timezone=zone)

    def execution() -> None:  # as the page reads it: the first rows of each section and the counts
        selectors.execution_for(scope=scope, day=today, branch_id=branch.pk, zone=zone, per_section=TODAY_SECTION_ROWS)

    def board() -> None:
        selectors.schedule_board(  # as the page reads it: the first entries of each day and the counts
            scope=scope, start=today, days=BOARD_DAYS, branch_id=branch.pk, zone=zone, per_cell=BOARD_CELL_ENTRIES
        )

    return {
        "today_selector": summary(*timed_ms(execution, samples=samples)),
        "schedule_selector": summary(*timed_ms(board, samples=samples)),
    }


def bare_sql(samples: int) -> dict[str, dict[str, float]]:
    """The anchor: the rows each page shows, read by their indexes, no scoping joins, no objects, no template."""
    from django.db import connection
    from django.utils import timezone

    from partners.models import Organisation
    from partners.time_zones import branch_zone
    from tracking.selectors import _in_window
    from tracking.views_schedule import BOARD_DAYS

    zone = branch_zone(Organisation.objects.get(code="HAM"))
    today = timezone.localdate(timezone=zone)
    day_begin, day_end = _in_window(today, 1, zone)
    board_begin, board_end = _in_window(today, BOARD_DAYS, zone)
    week_ago = day_begin - datetime.timedelta(days=7)
    today_sql = [
        (
            "SELECT * FROM tracking_appointment WHERE window_end_at > %(b)s AND window_start_at < %(e)s "
            "AND status <> 'cancelled' ORDER BY window_start_at",
            {"b": day_begin, "e": day_end},
        ),
        (
            "SELECT * FROM tracking_leg WHERE planned_departure_at >= %(b)s AND planned_departure_at < %(e)s "
            "ORDER BY planned_departure_at",
            {"b": day_begin, "e": day_end},
        ),
        (
            "SELECT * FROM tracking_leg WHERE planned_arrival_at >= %(b)s AND planned_arrival_at < %(e)s "
            "ORDER BY planned_arrival_at",
            {"b": day_begin, "e": day_end},
        ),
        (
            "SELECT * FROM tracking_leg WHERE (planned_departure_at >= %(w)s AND planned_departure_at < %(b)s "
            "AND actual_departure_at IS NULL) OR (planned_arrival_at >= %(w)s AND planned_arrival_at < %(b)s "
            "AND actual_arrival_at IS NULL) ORDER BY planned_departure_at",
            {"w": week_ago, "b": day_begin},
        ),
    ]
    board_sql = [
        (
            f"SELECT * FROM tracking_leg WHERE (actual_{kind}_at >= %(b)s AND actual_{kind}_at < %(e)s) "  # noqa: S608
            f"OR (actual_{kind}_at IS NULL AND planned_{kind}_at >= %(b)s AND planned_{kind}_at < %(e)s) "
            f"ORDER BY COALESCE(actual_{kind}_at, planned_{kind}_at), id",
            {"b": board_begin, "e": board_end},
        )
        for kind in ("departure", "arrival")
    ] + [
        (
            "SELECT * FROM tracking_booking WHERE status IN ('confirmed', 'rolled') AND ("
            "documentation_cutoff_at BETWEEN %(b)s AND %(e)s OR vgm_cutoff_at BETWEEN %(b)s AND %(e)s "
            "OR cargo_cutoff_at BETWEEN %(b)s AND %(e)s)",
            {"b": board_begin, "e": board_end},
        ),
        (
            "SELECT * FROM tracking_appointment WHERE window_start_at >= %(b)s AND window_start_at < %(e)s "
            "AND status <> 'cancelled' ORDER BY window_start_at",
            {"b": board_begin, "e": board_end},
        ),
    ]
    results = {}
    for name, statements in (("today", today_sql), ("schedule", board_sql)):

        def run(statements: list[tuple[str, dict[str, Any]]] = statements) -> None:
            with connection.cursor() as cursor:
                for sql, params in statements:
                    cursor.execute(sql, params)
                    cursor.fetchall()

        results[f"{name}_bare_sql"] = summary(*timed_ms(run, samples=samples))
        with connection.cursor() as cursor:
            rows = 0
            for sql, params in statements:
                cursor.execute(sql, params)
                rows += len(cursor.fetchall())
        results[f"{name}_bare_sql"]["rows"] = rows
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--masters", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--database", default=DB_NAME, help="scratch database on the server of DATABASE_URL")
    args = parser.parse_args()
    wall = time.monotonic()
    load_before = os.getloadavg()[0]

    measuring_process(args.database)

    from tracking.models import Appointment, Leg, Shipment

    user = seed_reference_data()
    fill_s = 0.0
    # Refilled once the rows are a day old too: they are dated from the fill, and "today" must stay in the middle.
    fresh = Shipment.objects.filter(created_at__gte=time_ago(hours=20)).count() == args.masters
    if Shipment.objects.count() != args.masters or not fresh:
        print(f"filling {args.masters:,} masters, {args.masters * LEGS_PER_MASTER:,} legs and appointments…")
        fill_s = fill(args.masters)
        print(f"filled in {fill_s:.1f} s", flush=True)

    results: dict[str, dict[str, float]] = {}
    results |= pages(user, args.samples)
    results |= selectors_alone(user, args.samples)
    results |= bare_sql(args.samples)
    for name, figures in results.items():
        extra = "   ".join(f"{key} {value:g}" for key, value in figures.items() if key not in ("p50", "p95"))
        print(f"{name:<18} p50 {figures['p50']:>7.2f} ms   p95 {figures['p95']:>7.2f} ms   {extra}", flush=True)

    worst = max(("today", "schedule"), key=lambda page: results[page]["p95"])
    value = results[worst]["p95"]
    anchor = results[f"{worst}_bare_sql"]["p95"]
    report(
        bench="planning_pages",
        metric="p95_ms_slower_page",
        value=value,
        unit="ms",
        anchor=f"{worst}_bare_sql_p95_ms",
        anchor_value=anchor,
        ratio=round(value / anchor, 3),
        target=f"p95 <= {TARGET_P95_MS:g} ms",
        meets_target=value <= TARGET_P95_MS,
        slower_page=worst,
        masters=args.masters,
        legs=Leg.objects.count(),
        appointments=Appointment.objects.count(),
        samples=args.samples,
        fill_s=round(fill_s, 1),
        **{f"{name}_{stat}": figure for name, figures in results.items() for stat, figure in figures.items()},
        load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)],  # 1-minute, before and after
        wall_s=round(time.monotonic() - wall, 1),
    )


def time_ago(*, hours: int) -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(hours=hours)


if __name__ == "__main__":
    main()
