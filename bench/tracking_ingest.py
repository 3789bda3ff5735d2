"""Tracking events through the real service path, against PostgreSQL COPY of the same rows.

    python -m bench.tracking_ingest [--events 1000000] [--batch 1000] [--orders 100] [--profile FILE]

The script creates and migrates a scratch database (oms_bench_tracking, on the server of DATABASE_URL), seeds
a branch, a customer, Maersk and `--orders` ocean FCL orders of three containers each, planned and booked
through the planning services, and a signed webhook source. It then sends `--events` DCSA T&T 2.2 events
(about 480 bytes each as JSON) in deliveries of `--batch`, each signed like a carrier would sign it, to
`tracking.ingest.webhooks.webhook_receive`: the webhook's own handler, so every delivery is verified
(HMAC over timestamp and body), parsed, deduplicated, mapped, stored (COPY into a staging table, one
INSERT … ON CONFLICT DO NOTHING) and applied (ETA history, leg actuals, shipment and order status through the
lifecycle, the domain events after commit, with whatever receivers the project connects). About 1 % of the
events repeat one already sent and 0.5 % carry a code without a mapping. Only the handler is timed;
building and signing the deliveries is the sender's work. For quick iterations pass `--events 50000` (seeding
takes half a minute either way); `--profile FILE` writes cProfile stats of the timed calls.

Statements are counted from Django's query log (switched on for the run, cleared per delivery), not with an
execute wrapper: the service's COPYs are no cursor.execute and wrappers never see them; the log has them.
BEGIN/COMMIT are counted apart.

The anchor, in the same run: the stored rows are exported, then loaded with `COPY … FROM STDIN` into a
scratch table with the events table's columns, constraints and indexes (the same rows into the same
structure: the ratio is then what our path costs beyond loading the data); the faster of two loads counts
(the stricter anchor on a noisy machine). For reference the JSON also carries COPY into a table with a
primary key only.

It prints progress, then one JSON line: events per second over every delivery (the figure that counts), the
ratio of our time per event to COPY's, statements per delivery (median and maximum: the maximum is a delivery
in which orders first move, through the lifecycle and the workflows it triggers, one order at a time), the
deliveries that moved orders and their seconds, the rate of the other deliveries, and per-delivery latency.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import fresh_database_url, percentile, report, setup_django

DB_NAME = "oms_bench_tracking"
TARGET_RATIO = 7.5
TARGET_RATE = 5000
SECRET = "whsec_bench_secret_0123456789abcdefghijklmnop"  # noqa: S105 - the scratch database's only source


def _container(n: int) -> str:
    from stdnum import iso6346

    body = f"BNCU{n:06d}"
    return body + iso6346.calc_check_digit(body)


def _seed(orders: int) -> list[dict[str, Any]]:
    """Booked FCL shipments; returns what the carrier knows of each: B/L, containers, ports."""
    from django.core.management import call_command
    from django.utils import timezone

    from orders import services as order_services
    from orders.locations import locations_load_demo
    from orders.models import Channel
    from partners import services
    from partners.models import Organisation, OrganisationKind, Role, User
    from partners.scoping import scope_for_user
    from tracking.ingest.models import WebhookSource
    from tracking.models import Shipment
    from tracking.services import booking as booking_services
    from tracking.services import planning

    call_command("migrate", verbosity=0)
    locations_load_demo()
    company = Organisation.objects.create(code="OMS", name="OMS Logistics", kinds=[OrganisationKind.COMPANY])
    branch = Organisation.objects.create(
        code="HAM", name="OMS Hamburg", kinds=[OrganisationKind.BRANCH], parent=company
    )
    Organisation.objects.create(code="ACME", name="Acme", kinds=[OrganisationKind.CUSTOMER], account_branch=branch)
    maersk = Organisation.objects.create(code="MAEU", name="Maersk", kinds=[OrganisationKind.CARRIER])
    user = User.objects.create_user("bench@oms.test", "bench-password-not-secret")
    services.membership_grant(user=user, organisation=branch, role=Role.OPERATIONS)
    scope = scope_for_user(user)
    WebhookSource.objects.create(name="bench", secret=SECRET)
    etd = timezone.now() - datetime.timedelta(days=800)
    known = []
    for n in range(orders):
        boxes = [_container(3 * n + k) for k in range(3)]
        data = {
            "customer_code": "ACME", "customer_reference": f"PO-{n:05d}", "branch_code": "HAM", "mode": "ocean_fcl",
            "incoterm": "FOB", "origin": "CNSHA", "destination": "DEHAM", "shipper_name": "Shanghai Bright Co.",
            "consignee_name": "Acme", "requested_pickup_on": etd.date(), "description": "LED lamps",
            "lines": [{"pieces": 10, "package_type": "PX", "gross_weight_kg": "4200", "volume_m3": "28",
                       "description": "LED lamps", "hs_code": "940542", "container_number": box,
                       "container_type": "45G1"} for box in boxes],
        }  # fmt: skip
        order = order_services.order_create(data=data, scope=scope, channel=Channel.API, by=user, submit=True)
        order = order_services.order_transition(order=order, name="confirm", scope=scope, channel=Channel.API, by=user)
        master = planning.shipment_plan_direct(order=order, by=user)
        booking = booking_services.booking_request(shipment=master, carrier=maersk, by=user)
        booking_services.booking_confirm(
            booking=booking, carrier_reference=f"BK{n:08d}", departure_at=etd,
            arrival_at=etd + datetime.timedelta(days=600), scope=scope, by=user,
        )  # fmt: skip
        bill = f"MAEU{n:09d}"
        Shipment.objects.filter(pk=master.pk).update(bill_number=bill)
        known.append({"bill": bill, "containers": boxes})
    return known


_EQUIPMENT = (("GTIN", "CNSHA", "POTE"), ("LOAD", "CNSHA", "POTE"), ("DISC", "DEHAM", "POTE"),
              ("GTOT", "DEHAM", "POTE"), ("LOAD", "SGSIN", "POTE"))  # fmt: skip


def _iso(at: datetime.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(n: int, shipment: dict[str, Any], start: datetime.datetime) -> dict[str, Any]:
    """The n-th event: every one unique (its own id and minute), about 400 bytes of DCSA JSON."""
    at = start + datetime.timedelta(minutes=n)
    kind = n % 20
    event: dict[str, Any] = {
        "eventID": str(uuid.UUID(int=n + 1)), "eventCreatedDateTime": _iso(at), "eventClassifierCode": "ACT",
        "eventDateTime": _iso(at),
        "documentReferences": [{"documentReferenceType": "TRD", "documentReferenceValue": shipment["bill"]}],
    }  # fmt: skip
    if kind < 12:
        code, place, facility = _EQUIPMENT[kind % len(_EQUIPMENT)]
        event.update(eventType="EQUIPMENT", equipmentEventTypeCode=code, emptyIndicatorCode="LADEN",
                     equipmentReference=shipment["containers"][n % 3])  # fmt: skip
    else:
        code = "DEPA" if kind < 15 else "ARRI"
        place, facility = ("CNSHA", "POTE") if code == "DEPA" else ("DEHAM", "POTE")
        event.update(eventType="TRANSPORT", transportEventTypeCode=code)
        if kind >= 18:  # an estimate: the ETA moves with every report
            event.update(eventClassifierCode="EST", eventDateTime=_iso(at + datetime.timedelta(days=30)))
    if n % 200 == 7:
        event.update(eventType="TRANSPORT", transportEventTypeCode="OMIT")  # no mapping: stored, alerted
        event.pop("equipmentEventTypeCode", None)
    event["transportCall"] = {"transportCallID": f"TC-{place}-{n % 97}", "modeOfTransport": "VESSEL",
                              "UNLocationCode": place, "facilityTypeCode": facility}  # fmt: skip
    return event


def _deliveries(total: int, batch: int, known: list[dict[str, Any]]) -> Iterator[bytes]:
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=total + 60)
    previous: list[dict[str, Any]] = []
    for first in range(0, total, batch):
        # twenty events in a row per shipment: its milestones come in their usual order (departures first)
        events = [_event(n, known[(n // 20) % len(known)], start) for n in range(first, min(first + batch, total))]
        for index in range(0, len(events), 100):  # ~1 %: a carrier resending an event it sent before
            if previous:
                events[index] = previous[index % len(previous)]
        previous = events
        yield json.dumps({"events": events}, separators=(",", ":")).encode()


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def _count(log: Any) -> tuple[int, int]:
    """(statements, transaction control) in Django's query log: every execute and the service's COPYs (a COPY
    is not a cursor.execute, so execute wrappers never see it; tracking/ingest/storage.py logs it here)."""
    control = sum(1 for entry in log if entry["sql"].startswith(TRANSACTION_CONTROL))
    return len(log) - control, control


@dataclass
class Run:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds per delivery
    statements: list[int] = field(default_factory=list)  # per delivery
    control: list[int] = field(default_factory=list)  # BEGIN/COMMIT/savepoints per delivery
    totals: dict[str, int] = field(default_factory=dict)


def ingest(total: int, batch: int, known: list[dict[str, Any]], profile: Any = None) -> Run:
    from django.db import connection

    from tracking.ingest import webhooks

    run = Run(totals={"received": 0, "stored": 0, "duplicates": 0, "unmapped": 0, "rejected": 0})
    payload_bytes = 0
    connection.force_debug_cursor = True  # log every statement (DEBUG or not); the log is cleared per delivery
    for done, body in enumerate(_deliveries(total, batch, known), start=1):
        timestamp = str(int(time.time()))
        headers = {webhooks.TIMESTAMP_HEADER: timestamp,
                   webhooks.SIGNATURE_HEADER: webhooks.sign(secret=SECRET, timestamp=timestamp, body=body)}  # fmt: skip
        payload_bytes += len(body)
        connection.queries_log.clear()
        if profile is not None:
            profile.enable()
        started = time.perf_counter()
        outcome = webhooks.webhook_receive(source_name="bench", headers=headers, body=body)
        elapsed = time.perf_counter() - started
        if profile is not None:
            profile.disable()
        run.seconds += elapsed
        run.latencies.append(elapsed)
        if outcome.status != 200:
            raise SystemExit(f"delivery {done} answered {outcome.status}: {outcome.body}")
        statements, control = _count(connection.queries_log)
        run.statements.append(statements)
        run.control.append(control)
        for key in run.totals:
            value = outcome.body[key]
            run.totals[key] += len(value) if isinstance(value, list) else value
        if done % 50 == 0 or done * batch >= total:
            recent = run.latencies[-50:]
            print(f"  {done * batch:>9,} events  {done * batch / run.seconds:>8,.0f}/s overall  "
                  f"{len(recent) * batch / sum(recent):>8,.0f}/s last {len(recent)} deliveries  "
                  f"{statistics.median(run.statements[-50:]):.0f} statements/delivery", flush=True)  # fmt: skip
    connection.force_debug_cursor = False
    run.totals["avg_event_bytes"] = round(payload_bytes / max(run.totals["received"], 1))
    return run


def _copy_into(cursor: Any, dump: Any, definition: str) -> tuple[float, int]:
    dump.seek(0)
    cursor.execute("DROP TABLE IF EXISTS bench_copy_anchor")
    cursor.execute(f"CREATE TABLE bench_copy_anchor ({definition})")
    started = time.perf_counter()
    with cursor.copy("COPY bench_copy_anchor FROM STDIN") as copy:
        while chunk := dump.read(1 << 20):
            copy.write(chunk)
    elapsed = time.perf_counter() - started
    cursor.execute("SELECT count(*) FROM bench_copy_anchor")
    (rows,) = cursor.fetchone()
    cursor.execute("DROP TABLE bench_copy_anchor")
    return elapsed, rows


def copy_anchor() -> dict[str, tuple[float, int]]:
    """Seconds to COPY every stored event row (exported first) into a scratch table: with the events table's
    columns, constraints and indexes (the anchor: the same rows into the same structure), and with its
    columns and a primary key only (for reference)."""
    from django.db import connection

    with tempfile.TemporaryFile() as dump, connection.cursor() as cursor:
        with cursor.copy("COPY tracking_trackingevent TO STDOUT") as copy:
            for chunk in copy:
                dump.write(chunk)
        same = min(_copy_into(cursor, dump, "LIKE tracking_trackingevent INCLUDING ALL") for _ in range(2))
        bare = _copy_into(cursor, dump, "LIKE tracking_trackingevent INCLUDING DEFAULTS, PRIMARY KEY (id)")
    return {"same": same, "bare": bare}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats of the timed handler calls to FILE")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = fresh_database_url(DB_NAME)
    os.environ["CELERY_BROKER_URL"] = "memory://"
    setup_django()
    logging.getLogger("tracking").setLevel(logging.ERROR)  # one warning per unmapped code per delivery is noise here
    started = time.perf_counter()
    known = _seed(args.orders)
    print(f"seeded {args.orders} booked shipments in {time.perf_counter() - started:.1f} s", flush=True)
    profile = cProfile.Profile() if args.profile else None
    run = ingest(args.events, args.batch, known, profile)
    totals, seconds = run.totals, run.seconds
    rate = totals["received"] / seconds
    print(f"ingest: {seconds:.1f} s = {rate:,.0f} events/s; {totals}", flush=True)
    if profile is not None:
        profile.dump_stats(args.profile)
        print(f"profile: {args.profile} (python -m pstats {args.profile}, then: sort tottime, stats 30)", flush=True)
    # The usual delivery, and the few in which orders move and legs get their actual times (each order goes
    # through the lifecycle and the workflows it triggers, per order: more statements, more time).
    usual = statistics.median(run.statements)
    moving = [index for index, count in enumerate(run.statements) if count > 2 * usual]
    moving_s = sum(run.latencies[index] for index in moving)
    steady_rate = (len(run.latencies) - len(moving)) * args.batch / (seconds - moving_s)
    copies = copy_anchor()
    copy_s, rows = copies["same"]
    copy_rate = rows / copy_s
    bare_rate = copies["bare"][1] / copies["bare"][0]
    print(
        f"COPY anchor (same indexes, faster of two): {rows:,} rows in {copy_s:.2f} s = {copy_rate:,.0f} rows/s; "
        f"with a primary key only: {bare_rate:,.0f} rows/s",
        flush=True,
    )
    ratio = copy_rate / rate
    latencies = sorted(run.latencies)
    report(
        bench="tracking_ingest", metric="events_per_s", value=round(rate), unit="events/s",
        anchor="copy_events_per_s", anchor_value=round(copy_rate), ratio=round(ratio, 2),
        target=f"ratio <= {TARGET_RATIO} (>= {TARGET_RATE}/s)", events=totals["received"], batch=args.batch,
        stored=totals["stored"], duplicates=totals["duplicates"], unmapped=totals["unmapped"],
        avg_event_bytes=totals["avg_event_bytes"],
        statements_per_batch_median=usual, statements_per_batch_max=max(run.statements),
        transaction_control_per_batch_median=statistics.median(run.control),
        batches_moving_orders=len(moving), batches_moving_orders_s=round(moving_s, 1),
        steady_events_per_s=round(steady_rate),
        batch_ms_p50=round(percentile(latencies, 50) * 1000), batch_ms_p95=round(percentile(latencies, 95) * 1000),
        batch_ms_max=round(latencies[-1] * 1000),
        copy_primary_key_only_events_per_s=round(bare_rate), ratio_to_primary_key_only=round(bare_rate / rate, 2),
        ingest_s=round(seconds, 1), copy_s=round(copy_s, 2),
        passed=ratio <= TARGET_RATIO and rate >= TARGET_RATE,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
