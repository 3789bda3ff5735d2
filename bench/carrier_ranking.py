"""Carrier ranking for 10,000 orders against 50 carriers x 500 rate lines, against a bare cost loop.

    python -m bench.carrier_ranking [--orders 10000] [--carriers 50] [--lines 500]

The script creates and migrates a scratch database (oms_bench_ranking, on the server of DATABASE_URL)
and seeds the demo UN/LOCODE set, 50 carriers (half air, half LCL co-loaders), each with one buy rate
card of 500 lines (lane by UN/LOCODE, some by country and one catch-all, four weight breaks, a
minimum, a fixed and a percentage surcharge), a weekly service per lane, preferences and FX rates,
then 10,000 orders on those lanes (some off them, so some carriers are excluded with a reason).

It times, in one run:
- the batch ranking (`ranking_context_load` once, then `rank_orders()` over every order: cost with breaks,
  minimums and surcharges, FX, service and next departure, on-time record, preferences, score and
  explanation) — the figure reported, with its total queries (constant: they do not grow with orders);
- the single ranking the screens use (`ranking_for_order`) on a sample, asserting every ranking runs the
  same number of queries whatever the order;
- the anchor: the same cost computations (lane lookup, cheapest weight break, minimum, sort by cost) in
  plain Python over the same rows preloaded as tuples.
ratio = our time ÷ anchor time. Wall-clock figures suffer when other processes share the CPUs, so the
process CPU time of the batch and of the anchor is reported beside them (cpu_rankings_per_s, cpu_ratio).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.common import report, setup_django

if TYPE_CHECKING:
    from partners.models import Organisation

DB_NAME = "oms_bench_ranking"
TARGET_RANKINGS_PER_S = 500
ORIGINS = (
    "CNSHA",
    "CNNGB",
    "CNSZX",
    "CNTAO",
    "HKHKG",
    "KRPUS",
    "SGSIN",
    "CNPVG",
    "JPTYO",
    "TWKHH",
    "VNSGN",
    "THBKK",
    "MYPKG",
    "INNSA",
    "AEJEA",
    "CNXMN",
    "CNTSN",
    "IDJKT",
    "PHMNL",
    "CNDLC",
    "KRINC",
    "JPOSA",
    "LKCMB",
    "BDCGP",
    "PKKHI",
)
DESTINATIONS = (
    "DEHAM",
    "NLRTM",
    "BEANR",
    "DEBRV",
    "FRLEH",
    "GBFXT",
    "ESVLC",
    "ITGOA",
    "PLGDN",
    "SEGOT",
    "USLAX",
    "USNYC",
    "USSAV",
    "USHOU",
    "CAVAN",
    "DEFRA",
    "NLAMS",
    "USCHI",
    "BRSSZ",
    "AUSYD",
)
MODES = ("air", "ocean_lcl")
TODAY = datetime.datetime.now(tz=datetime.UTC).date()  # pickups ahead of today: ranking never clamps them


def _scratch_database_url(*, reuse: bool) -> str:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    if reuse:
        return urlunsplit(parts._replace(path=f"/{DB_NAME}"))
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return urlunsplit(parts._replace(path=f"/{DB_NAME}"))


def _lanes(lines: int) -> list[tuple[str, str]]:
    """`lines` lanes: UN/LOCODE pairs, then country pairs, then one catch-all."""
    pairs = [(o, d) for o in ORIGINS for d in DESTINATIONS]
    countries = sorted({(o[:2], d[:2]) for o, d in pairs})
    lanes = pairs[: max(0, lines - 41)] + countries[:40] + [("", "")]
    return lanes[:lines]


def _seed(rnd: random.Random, *, carriers: int, lines: int, orders: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from finance.models import ExchangeRate, RateBasis, RateBreak, RateCard, RateLine, Surcharge, SurchargeKind
    from orders.locations import locations_load_demo
    from orders.models import Location, Order
    from partners.models import Organisation, OrganisationKind
    from tracking.models import CarrierPreference, CarrierRecord, CarrierService

    call_command("migrate", verbosity=0)
    locations_load_demo()
    known = set(Location.objects.values_list("code", flat=True))
    missing = sorted({*ORIGINS, *DESTINATIONS} - known)
    Location.objects.bulk_create(Location(code=code, country=code[:2], name=code) for code in missing)
    branch = Organisation.objects.create(code="HAM", name="OMS Hamburg", kinds=[OrganisationKind.BRANCH])
    customers = [
        Organisation.objects.create(code=f"CUST{n}", name=f"Customer {n}", kinds=[OrganisationKind.CUSTOMER])
        for n in range(10)
    ]
    lanes = _lanes(lines)
    for n in range(carriers):
        mode = MODES[n % 2]
        carrier = Organisation.objects.create(code=f"CAR{n:03d}", name=f"Carrier {n}", kinds=[OrganisationKind.CARRIER])
        card = RateCard.objects.create(
            name=f"CAR{n:03d} {mode} 2026",
            party=carrier,
            mode=mode,
            currency="USD" if n % 3 else "EUR",
            effective_on=TODAY - datetime.timedelta(days=30),
            # every seventh card runs out after two months: later orders see it excluded, with the date
            expires_on=TODAY + datetime.timedelta(days=400 if n % 7 else 60),
        )
        basis = RateBasis.PER_KG if mode == "air" else RateBasis.PER_WM
        rate_lines = RateLine.objects.bulk_create(
            RateLine(
                card=card,
                origin_code=o,
                destination_code=d,
                basis=basis,
                minimum_amount=Decimal(rnd.randint(50, 120)),
                charge_code="FRT",
            )
            for o, d in lanes
        )
        base = Decimal(rnd.randint(180, 420)) / 100 if mode == "air" else Decimal(rnd.randint(40, 90))
        RateBreak.objects.bulk_create(
            RateBreak(line=line, from_quantity=Decimal(q), rate=(base * factor).quantize(Decimal("0.0001")))
            for line in rate_lines
            for q, factor in ((0, Decimal(1)), (45, Decimal("0.85")), (100, Decimal("0.75")), (300, Decimal("0.68")))
        )
        Surcharge.objects.create(card=card, code="FSC", name="Fuel", basis=basis, amount=Decimal("0.35"))
        Surcharge.objects.create(card=card, code="PSS", name="Peak", kind=SurchargeKind.PERCENT, percent=Decimal(8))
        CarrierService.objects.bulk_create(
            CarrierService(
                carrier=carrier,
                mode=mode,
                name=f"S{n}-{o}{d}",
                origin_code=o,
                destination_code=d,
                transit_days=rnd.randint(2, 8) if mode == "air" else rnd.randint(24, 45),
                departure_weekdays=sorted(rnd.sample(range(7), rnd.randint(1, 5))),
            )
            for o, d in lanes
            if o
        )
        if n % 4:
            CarrierRecord.objects.create(
                carrier=carrier, on_time_score=Decimal(rnd.randint(55, 98)) / 100, measured_legs=rnd.randint(10, 400)
            )
        if n % 10 == 3:
            CarrierPreference.objects.create(
                carrier=carrier, kind="excluded", customer=customers[n % 10], reason="customer contract"
            )
        if n % 10 == 6:
            CarrierPreference.objects.create(carrier=carrier, kind="preferred", origin_code="CN", reason="CN desk")
    ExchangeRate.objects.create(
        base_currency="EUR", quote_currency="USD", rate=Decimal("1.08"), rate_on=TODAY - datetime.timedelta(days=30)
    )
    Order.objects.bulk_create(_orders(rnd, orders, customers, branch), batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh bulk-loaded tables: give the planner statistics, as autovacuum would


def _orders(rnd: random.Random, count: int, customers: list, branch: Organisation) -> list:
    from orders.models import Order

    result = []
    for n in range(count):
        mode = MODES[n % 2]
        origin = rnd.choice(ORIGINS) if n % 20 else "USNYC"  # one in twenty off every lane but the catch-all
        weight = Decimal(rnd.randint(5, 2500)) if mode == "air" else Decimal(rnd.randint(200, 9000))
        volume = (weight / Decimal(rnd.randint(120, 400))).quantize(Decimal("0.001"))
        result.append(
            Order(
                reference=f"BEN-26-{n:06d}",
                customer=customers[n % len(customers)],
                customer_reference=f"B{n}",
                branch=branch,
                mode=mode,
                origin_id=origin,
                destination_id=rnd.choice(DESTINATIONS),
                requested_pickup_on=TODAY + datetime.timedelta(days=rnd.randint(0, 300)),
                shipper_name="Shipper",
                consignee_name="Consignee",
                gross_weight_kg_total=weight,
                volume_m3_total=volume,
                pieces_total=rnd.randint(1, 40),
                status="confirmed",
                service_level=rnd.choice(("economy", "standard", "standard", "express")),
            )
        )
    return result


def _anchor(orders: list, rows: list[tuple]) -> tuple[float, int]:
    """The same cost computations in plain Python over preloaded tuples: lane lookup (most specific first),
    cheapest weight break, minimum, sort by cost. Returns (seconds, options priced)."""
    from orders.cargo import VOLUMETRIC_KG_PER_M3

    by_lane: dict[tuple[str, str, str], list[tuple[int, Decimal, tuple]]] = {}
    for carrier_id, mode, origin, destination, minimum, breaks in rows:
        by_lane.setdefault((mode, origin, destination), []).append((carrier_id, minimum, breaks))
    started = time.perf_counter()
    priced = 0
    for order in orders:
        factor = VOLUMETRIC_KG_PER_M3[order.mode]
        if order.mode == "air":
            quantity = max(order.gross_weight_kg_total, order.volume_m3_total * factor)
        else:
            quantity = max(order.gross_weight_kg_total / 1000, order.volume_m3_total)
        costs: dict[int, Decimal] = {}
        for o, d in (
            (order.origin_id, order.destination_id),
            (order.origin_id[:2], order.destination_id[:2]),
            ("", ""),
        ):
            for carrier_id, minimum, breaks in by_lane.get((order.mode, o, d), ()):
                if carrier_id in costs:
                    continue
                amount = min(max(quantity, q) * rate for q, rate in breaks)
                costs[carrier_id] = max(amount, minimum)
        priced += len(costs)
        sorted(costs.items(), key=lambda item: item[1])
    return time.perf_counter() - started, priced


def _anchor_rows() -> list[tuple]:
    from finance.models import RateBreak, RateLine

    breaks: dict[int, list[tuple[Decimal, Decimal]]] = {}
    for line_id, q, rate in RateBreak.objects.values_list("line_id", "from_quantity", "rate"):
        breaks.setdefault(line_id, []).append((q, rate))
    return [
        (carrier_id, mode, o, d, minimum, tuple(breaks[pk]))
        for pk, carrier_id, mode, o, d, minimum in RateLine.objects.values_list(
            "pk", "card__party_id", "card__mode", "origin_code", "destination_code", "minimum_amount"
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--carriers", type=int, default=50)
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--sample", type=int, default=300, help="orders ranked one by one, as the screens do")
    parser.add_argument("--reuse-data", action="store_true", help="keep the scratch database of the last run")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = _scratch_database_url(reuse=args.reuse_data)
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order
    from tracking.services.ranking import rank_orders, ranking_context_load, ranking_for_order

    rnd = random.Random(2026)
    if not args.reuse_data:
        print(f"seeding {args.carriers} carriers × {args.lines} lines, {args.orders} orders…", flush=True)
        _seed(rnd, carriers=args.carriers, lines=args.lines, orders=args.orders)

    with CaptureQueriesContext(connection) as batch_queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        orders = list(Order.objects.order_by("pk"))
        context = ranking_context_load(modes=MODES)
        options = excluded = 0
        for _order, result in rank_orders(orders=orders, context=context):
            options += len(result.options)
            excluded += len(result.excluded)
        batch_s, batch_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    rankings_per_s = len(orders) / batch_s

    per_ranking: set[int] = set()
    started = time.perf_counter()
    for order in orders[: args.sample]:
        with CaptureQueriesContext(connection) as single:
            ranking_for_order(order=order)
        per_ranking.add(len(single.captured_queries))
    single_s = time.perf_counter() - started
    assert len(per_ranking) == 1, f"queries per ranking vary: {sorted(per_ranking)}"

    anchor_rows = _anchor_rows()
    cpu_started = time.process_time()
    anchor_s, priced = _anchor(orders, anchor_rows)
    anchor_cpu_s = time.process_time() - cpu_started
    ratio = batch_s / anchor_s
    print(
        f"batch: {len(orders)} rankings in {batch_s:.2f} s ({rankings_per_s:,.0f}/s; CPU {batch_cpu_s:.2f} s), "
        f"{len(batch_queries.captured_queries)} queries in all; {options:,} options, {excluded:,} excluded"
    )
    print(
        f"single: {args.sample} rankings in {single_s:.2f} s ({args.sample / single_s:,.0f}/s), "
        f"{per_ranking.pop()} queries each"
    )
    print(
        f"anchor: {len(orders)} bare cost loops in {anchor_s:.2f} s ({len(orders) / anchor_s:,.0f}/s), "
        f"{priced:,} prices; ratio {ratio:.1f}"
    )
    report(
        bench="carrier_ranking",
        metric="rankings_per_s",
        value=round(rankings_per_s),
        unit="rankings/s",
        anchor="bare_cost_loop_per_s",
        anchor_value=round(len(orders) / anchor_s),
        ratio=round(ratio, 2),
        target=f">= {TARGET_RANKINGS_PER_S} rankings/s, constant queries",
        queries_batch_total=len(batch_queries.captured_queries),
        queries_per_ranking_batch=round(len(batch_queries.captured_queries) / len(orders), 4),
        queries_per_single_ranking=len(single.captured_queries),
        single_rankings_per_s=round(args.sample / single_s),
        cpu_rankings_per_s=round(len(orders) / batch_cpu_s),
        cpu_ratio=round(batch_cpu_s / anchor_cpu_s, 2),
        orders=len(orders),
        carriers=args.carriers,
        lines_per_carrier=args.lines,
        options=options,
        excluded=excluded,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
