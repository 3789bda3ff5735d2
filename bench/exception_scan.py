"""The exception scan over active shipments, against a plain COPY of the same shipment rows.

    python -m bench.exception_scan [--shipments 100000] [--batch 1000]

The script creates and migrates a scratch database (oms_bench_exceptions, on the server of DATABASE_URL),
makes one booked ocean FCL order through the real services (order, house, master, main leg, booking) and
clones it set-wise into `--shipments` active shipments with a realistic mix, each with its own order, house,
leg and booking, two customers (ACME, GLOBEX):

    10 %  booked, the departure planned three days ago and not reported     → milestone overdue
    10 %  in transit, the latest ETA three days later than planned           → ETA slipped
     5 %  in transit, due sixteen days ago, nothing heard since departure    → no event (and overdue)
     5 %  in transit, held by customs                                        → customs hold
     5 %  booked, rolled to a sailing a week later                           → rolled booking
    65 %  on plan: booked for a later departure, or in transit with recent events and an ETA on plan

Every in-transit shipment has its departure event, a later event and an ETA estimate (about 3.7 events and
0.45 estimates per shipment). Then it runs the full scan (`tracking.exceptions.services.detection.exceptions_scan`: the
same code the beat task runs, batches of `--batch` committed one by one behind the cursor), counting queries
per batch, and runs it a second time, which must open nothing.

The anchor, in the same run: `COPY (SELECT …) TO STDOUT` of the same active shipment rows with their legs
and bookings — what merely reading the rows the scan looks at costs. ratio = scan time ÷ anchor time.
The last line is the JSON of bench.common.report().
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import fresh_database_url, report, setup_django

DB_NAME = "oms_bench_exceptions"
TARGET_SECONDS = 30.0


def _template() -> dict[str, int]:
    """One booked FCL order through the services: its order, house, master, leg and booking are cloned."""
    from django.core.management import call_command
    from django.utils import timezone

    from orders import services as order_services
    from orders.locations import locations_load_demo
    from orders.models import Channel
    from partners import services
    from partners.models import Organisation, OrganisationKind, Role, User
    from partners.scoping import scope_for_user
    from tracking.models import Booking, ConsolidatedHouse, Leg
    from tracking.services import booking as booking_services
    from tracking.services import planning

    call_command("migrate", verbosity=0)
    locations_load_demo()
    company = Organisation.objects.create(code="OMS", name="OMS Logistics", kinds=[OrganisationKind.COMPANY])
    branch = Organisation.objects.create(
        code="HAM", name="OMS Hamburg", kinds=[OrganisationKind.BRANCH], parent=company
    )
    acme = Organisation.objects.create(code="ACME", name="Acme", kinds=[OrganisationKind.CUSTOMER])
    globex = Organisation.objects.create(code="GLOBEX", name="Globex", kinds=[OrganisationKind.CUSTOMER])
    maersk = Organisation.objects.create(code="MAEU", name="Maersk", kinds=[OrganisationKind.CARRIER])
    user = User.objects.create_user("bench@oms.test", "bench-password-not-secret")
    services.membership_grant(user=user, organisation=branch, role=Role.OPERATIONS)
    scope = scope_for_user(user)
    etd = timezone.now() + datetime.timedelta(days=10)
    data = {
        "customer_code": "ACME", "customer_reference": "PO-TEMPLATE", "branch_code": "HAM", "mode": "ocean_fcl",
        "incoterm": "FOB", "origin": "CNSHA", "destination": "DEHAM", "shipper_name": "Shanghai Bright Co.",
        "consignee_name": "Acme", "requested_pickup_on": etd.date(), "description": "LED lamps",
        "lines": [{"pieces": 10, "package_type": "PX", "gross_weight_kg": "4200", "volume_m3": "28",
                   "description": "LED lamps", "hs_code": "940542", "container_type": "45G1"}],
    }  # fmt: skip
    order = order_services.order_create(data=data, scope=scope, channel=Channel.API, by=user, submit=True)
    order = order_services.order_transition(order=order, name="confirm", scope=scope, channel=Channel.API, by=user)
    master = planning.shipment_plan_direct(order=order, by=user)
    booking = booking_services.booking_request(shipment=master, carrier=maersk, by=user)
    booking_services.booking_confirm(
        booking=booking, carrier_reference="BK-TEMPLATE", departure_at=etd,
        arrival_at=etd + datetime.timedelta(days=34), scope=scope, by=user,
    )  # fmt: skip
    link = ConsolidatedHouse.objects.get(master=master)
    return {
        "order": order.pk, "house": link.house_id, "master": master.pk, "link": link.pk,
        "leg": Leg.objects.get(shipment=master).pk, "booking": Booking.objects.get(shipment=master).pk,
        "acme": acme.pk, "globex": globex.pk,
    }  # fmt: skip


def _columns(cursor: Any, table: str) -> list[str]:
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id' "
        "AND is_generated = 'NEVER' "
        "ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _clone(cursor: Any, table: str, template: int, n: int, overrides: dict[str, str], where: str = "true") -> int:
    """INSERT n copies of one row, each column as is unless overridden by an SQL expression of g (1 … n)."""
    columns = _columns(cursor, table)
    values = ", ".join(overrides.get(column, f"t.{column}") for column in columns)
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} "  # noqa: S608 - bench: our own names
        f"FROM {table} t, generate_series(1, %s) g WHERE t.id = %s AND ({where})",
        [n, template],
    )
    return cursor.rowcount


# g % 20 → the scenario (see the module docstring)
# (in SQL sent with parameters, so the modulo is written %%)
OVERDUE, SILENT, ROLLED = "g %% 20 IN (0, 1)", "g %% 20 = 4", "g %% 20 = 6"
IN_TRANSIT = "(g %% 20 IN (2, 3, 4, 5) OR g %% 20 >= 13)"
ID_OF = "(SELECT id FROM {table} WHERE reference = '{prefix}' || g)"


def _seed(n: int, ids: dict[str, int]) -> dict[str, int]:
    from django.db import connection, transaction

    order_id = ID_OF.format(table="orders_order", prefix="BN-")
    master_id = ID_OF.format(table="tracking_shipment", prefix="MB-")
    house_id = ID_OF.format(table="tracking_shipment", prefix="HB-")
    now = "now()"
    planned_departure = (
        f"CASE WHEN {OVERDUE} THEN {now} - interval '3 days' "
        f"WHEN {SILENT} THEN {now} - interval '50 days' "
        f"WHEN {IN_TRANSIT} THEN {now} - interval '6 days' ELSE {now} + interval '5 days' END"
    )
    status = f"CASE WHEN {IN_TRANSIT} THEN 'in_transit' ELSE 'booked' END"
    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # scratch data: no history triggers
        counts["orders"] = _clone(cursor, "orders_order", ids["order"], n, {
            "reference": "'BN-' || g", "customer_reference": "'PO-' || g",
            "customer_id": f"CASE WHEN g %% 2 = 0 THEN {ids['acme']} ELSE {ids['globex']} END",
        })  # fmt: skip
        _clone(cursor, "tracking_shipment", ids["house"], n, {"reference": "'HB-' || g", "order_id": order_id})
        counts["shipments"] = _clone(cursor, "tracking_shipment", ids["master"], n, {
            "reference": "'MB-' || g", "status": status, "bill_number": "'MAEU' || lpad(g::text, 9, '0')",
        })  # fmt: skip
        _clone(cursor, "tracking_consolidatedhouse", ids["link"], n, {"master_id": master_id, "house_id": house_id})
        _clone(cursor, "tracking_leg", ids["leg"], n, {
            "shipment_id": master_id, "planned_departure_at": planned_departure,
            "planned_arrival_at": f"{planned_departure} + interval '34 days'",
            "actual_departure_at": f"CASE WHEN {IN_TRANSIT} THEN {planned_departure} END",
        })  # fmt: skip
        _clone(cursor, "tracking_booking", ids["booking"], n, {
            "shipment_id": master_id, "carrier_reference": "'BK' || g",
            "status": f"CASE WHEN {ROLLED} THEN 'rolled' ELSE 'confirmed' END",
            "roll_count": f"CASE WHEN {ROLLED} THEN 1 ELSE 0 END",
            "original_departure_at": f"CASE WHEN {ROLLED} THEN {planned_departure} - interval '7 days' END",
            "confirmed_departure_at": planned_departure,
            "cargo_cutoff_at": f"{planned_departure} - interval '30 hours'",
        })  # fmt: skip
        cursor.execute("DELETE FROM tracking_shipment WHERE id IN (%s, %s)", [ids["master"], ids["house"]])
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_moves ON COMMIT DROP AS
            SELECT g, m.id AS master_id, l.id AS leg_id, o.id AS order_id, l.actual_departure_at AS departed
              FROM generate_series(1, %s) g
              JOIN tracking_shipment m ON m.reference = 'MB-' || g
              JOIN tracking_leg l ON l.shipment_id = m.id
              JOIN orders_order o ON o.reference = 'BN-' || g
             WHERE {IN_TRANSIT}
            """,  # noqa: S608 - constants
            [n],
        )
        events = [
            # the gate-in and the departure of every moving shipment
            ("RECEIVED_AT_ORIGIN", "EQUIPMENT:GTIN:LADEN", "departed - interval '2 days'", "true", "CNSHA"),
            ("DEPARTED", "TRANSPORT:DEPA", "departed", "true", "CNSHA"),
            # news since: all but the silent ones
            ("TRANSSHIPMENT", "TRANSPORT:ARRI", f"{now} - interval '1 day'", "g %% 20 <> 4", "SGSIN"),
            ("CUSTOMS_HOLD", "SHIPMENT:CUS:HOLD", f"{now} - interval '5 hours'", "g %% 20 = 5", "DEHAM"),
        ]
        counts["events"] = 0
        for milestone, code, at, where, place in events:
            cursor.execute(
                f"""
                INSERT INTO tracking_trackingevent (source, source_kind, source_event_id, scheme, raw_code,
                    raw_payload, received_at, reported_at, mapping_status, milestone_id, classifier, sent_classifier,
                    event_at, location_code, location_text, location_role, subject_type, subject_value, reason,
                    shipment_id, leg_id, order_id, effect, content_key)
                SELECT 'bench', 'webhook', '', 'dcsa', %s, '{{}}', {now}, {at}, 'mapped', %s, 'ACT', 'ACT', {at},
                       %s, '', '', 'shipment', 'MB-' || g, '', master_id, leg_id, NULL, '', gen_random_uuid()
                  FROM bench_moves WHERE {where}
                """,  # noqa: S608 - constants
                [code, milestone, place],
            )
            counts["events"] += cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO tracking_etahistory (shipment_id, order_id, milestone_id, classifier, estimated_at,
                                             previous_at, reported_at, event_id, source, recorded_at)
            SELECT b.master_id, NULL, 'ARRIVED', 'EST',
                   l.planned_arrival_at
                   + CASE WHEN b.g %% 20 IN (2, 3) THEN interval '3 days' ELSE interval '2 hours' END,
                   l.planned_arrival_at, {now} - interval '1 day', NULL, 'bench', {now}
              FROM bench_moves b JOIN tracking_leg l ON l.id = b.leg_id
             WHERE b.g %% 20 IN (2, 3) OR b.g %% 5 = 0
            """,  # noqa: S608 - constants
            [],
        )
        counts["estimates"] = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return counts


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def scan(batch: int) -> tuple[float, Any, list[int]]:
    """One full scan, timed, with the queries of each batch (from one batch's id read to the next)."""
    from django.db import connection

    from tracking.exceptions.services import detection

    counter, per_batch = QueryCounter(), []
    real = detection._scan_batch

    def counted(cursor_id: int, size: int) -> list[int]:
        if counter.count:
            per_batch.append(counter.count)
        counter.count = 0
        return real(cursor_id, size)

    detection._scan_batch = counted  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            result = detection.exceptions_scan(batch_size=batch)
        elapsed = time.perf_counter() - started
    finally:
        detection._scan_batch = real  # type: ignore[assignment]
    return elapsed, result, per_batch


def copy_anchor() -> tuple[float, int]:
    """Seconds to COPY the active shipments with their legs and bookings out of the database."""
    from django.db import connection

    sql = """
        COPY (SELECT s.*, l.*, b.* FROM tracking_shipment s
                JOIN tracking_leg l ON l.shipment_id = s.id
                LEFT JOIN tracking_booking b ON b.shipment_id = s.id
               WHERE s.kind = 'master' AND s.status IN ('booked', 'in_transit', 'arrived')) TO STDOUT
    """
    sink, rows = io.BytesIO(), 0
    with connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(sql) as copy:
            for chunk in copy:
                sink.write(chunk)
        elapsed = time.perf_counter() - started
    rows = sink.getvalue().count(b"\n")
    return elapsed, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = fresh_database_url(DB_NAME)
    os.environ["CELERY_BROKER_URL"] = "memory://"  # the announce tasks are queued, not run: the scan is measured
    setup_django()
    started = time.perf_counter()
    counts = _seed(args.shipments, _template())
    print(f"seeded {counts} in {time.perf_counter() - started:.1f} s", flush=True)

    from django.db.models import Count

    from tracking.exceptions.models import ShipmentException

    seconds, first, per_batch = scan(args.batch)
    by_kind = dict(ShipmentException.objects.values_list("kind").annotate(n=Count("pk")).order_by("kind"))
    print(f"scan: {first.shipments:,} shipments in {seconds:.2f} s = {first.shipments / seconds:,.0f}/s, "
          f"{first.batches} batches, opened {first.opened:,} {by_kind}; queries per batch: median "
          f"{statistics.median(per_batch):.0f}, max {max(per_batch)}", flush=True)  # fmt: skip
    again_seconds, second, _ = scan(args.batch)
    print(f"second scan: {again_seconds:.2f} s, opened {second.opened}, resolved {second.resolved}", flush=True)
    anchor_seconds, rows = copy_anchor()
    print(f"anchor: COPY of {rows:,} active shipment rows (with leg and booking) in {anchor_seconds:.2f} s", flush=True)
    report(
        bench="exception_scan", metric="shipments_per_s", value=round(first.shipments / seconds),
        unit="shipments/s", anchor="copy_active_shipments_s", anchor_value=round(anchor_seconds, 3),
        ratio=round(seconds / anchor_seconds, 1), target=f"full scan of 100,000 < {TARGET_SECONDS:.0f} s",
        shipments=first.shipments, scan_s=round(seconds, 2), batch=args.batch, batches=first.batches,
        queries_per_batch_median=statistics.median(per_batch), queries_per_batch_max=max(per_batch),
        opened=first.opened, opened_by_kind=by_kind, second_scan_opened=second.opened,
        second_scan_resolved=second.resolved, second_scan_s=round(again_seconds, 2), events=counts["events"],
        estimates=counts["estimates"], passed=seconds < TARGET_SECONDS * args.shipments / 100_000
        and second.opened == 0,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
