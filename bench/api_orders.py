"""Order intake over the REST API through gunicorn, against a bare DRF ModelSerializer create of the same body.

    python -m bench.api_orders [--orders 5000] [--workers 2] [--budget 480]

The script creates and migrates a scratch database (oms_bench_api, on the server of DATABASE_URL), seeds
the demo UN/LOCODE set, a branch, a customer and the customer's API key, and starts gunicorn on a free
loopback port with `--workers 2` sync workers: a sync worker closes the connection after each response,
so the kernel hands each new connection to whichever worker is idle and two clients really use two
workers (gthread keep-alive connections can both stick to one worker). The same gunicorn serves the
project's URLs plus one anchor route, `/bench/anchor/orders/`, defined below: a plain DRF
`ModelSerializer` create of the order and its cargo lines, with the project's DRF defaults (API-key
authentication and the per-key throttle) and nothing else: no intake validation, no reference
sequence, no idempotency key, no totals or transitions in the response. Both write history rows, as
pghistory's triggers fire on every insert.

It times, in one run, POSTs of `--orders` orders with unique Idempotency-Keys over http.client
keep-alive connections, one connection at a time and then with two concurrent connections, for ours
(`/api/v1/orders/`) and for the anchor, taking turns in chunks of 250 so that a change in the load of
the machine falls on both alike; each request must answer 201. On a machine too loaded to finish in
`--budget` seconds the run stops after a whole round, and `orders_timed` says how many were timed.
Then it checks that every one of our orders exists once and that re-sending a few keys replays them.

The result line reports our orders/s one at a time, the anchor's, and ratio = our time ÷ anchor time
(target ≤ 2). The throttle counts in the default cache (the database cache unless CACHE_URL says
otherwise), as in production; OMS_API_RATE is raised so that it never refuses a request.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, cast

from bench.common import ROOT, fresh_database_url, median, percentile, report

DB_NAME = "oms_bench_api"
TARGET_RATIO = 2
OURS = "/api/v1/orders/"
ANCHOR = "/bench/anchor/orders/"
WARMUP = 100
CHUNK = 250
SERVER_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-api-orders-secret-key-not-for-production-5c1e8f7a9b2d4c6e",
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "OMS_API_RATE": "100000000/min",
    "LOG_LEVEL": "WARNING",
    "EMAIL_URL": "dummymail://",  # production mode names its mail; the benchmark sends none
}


# --- Served by gunicorn ----------------------------------------------------------------------------


def _anchor_view() -> Callable[..., Any]:
    """The bare DRF create: ModelSerializer validation of the same body, the order row and its lines."""
    from rest_framework import serializers, status
    from rest_framework.decorators import api_view
    from rest_framework.request import Request
    from rest_framework.response import Response

    from orders.models import CargoLine, Order
    from partners.models import ApiKey

    class BareLineSerializer(serializers.ModelSerializer):
        class Meta:
            model = CargoLine
            fields = ["pieces", "package_type", "gross_weight_kg", "volume_m3", "description", "hs_code"]

    class BareOrderSerializer(serializers.ModelSerializer):
        lines = BareLineSerializer(many=True)

        class Meta:
            model = Order
            fields = [
                "customer_reference", "mode", "incoterm", "origin", "destination", "shipper_name",
                "consignee_name", "description", "requested_pickup_on", "requested_delivery_on", "lines",
            ]  # fmt: skip

        def create(self, validated_data: dict[str, Any]) -> Order:
            lines = validated_data.pop("lines")
            order = Order.objects.create(**validated_data)
            CargoLine.objects.bulk_create(
                CargoLine(order=order, line_no=number, **line) for number, line in enumerate(lines, 1)
            )
            return order

    @api_view(["POST"])
    def create_order(request: Request) -> Response:
        serializer = BareOrderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = cast(ApiKey, request.auth).organisation
        serializer.save(customer=customer, branch_id=customer.account_branch_id, reference=f"B-{uuid.uuid4().hex[:18]}")
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    return create_order


def wsgi_application() -> Any:
    """gunicorn's application factory: the project's URLs plus the anchor route, in this module's urlpatterns."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.urls import include, path

    globals()["urlpatterns"] = [path(ANCHOR.strip("/") + "/", _anchor_view()), path("", include("oms.urls"))]
    settings.ROOT_URLCONF = __name__
    return get_wsgi_application()


# --- The harness -----------------------------------------------------------------------------------


def _seed() -> str:
    """Migrate and seed the scratch database; return the customer's raw API key."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from orders.locations import locations_load_demo
    from partners import services
    from partners.models import Organisation, OrganisationKind

    call_command("migrate", verbosity=0)
    locations_load_demo()
    company = Organisation.objects.create(code="OMS", name="OMS Logistics", kinds=[OrganisationKind.COMPANY])
    branch = Organisation.objects.create(
        code="HAM", name="OMS Hamburg", kinds=[OrganisationKind.BRANCH], parent=company
    )
    customer = Organisation.objects.create(
        code="BENCH", name="Bench Industrial", kinds=[OrganisationKind.CUSTOMER], account_branch=branch
    )
    return services.api_key_create(organisation=customer, name="Bench ERP")[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_gunicorn(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "gunicorn", "bench.api_orders:wsgi_application()", f"--bind=127.0.0.1:{port}",
        f"--workers={workers}", "--worker-class=sync", "--timeout=60", "--log-level=warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def order_body(reference: str) -> dict[str, Any]:
    """One realistic order of the intake vocabulary, which the anchor's ModelSerializer also accepts."""
    return {
        "customer_reference": reference, "mode": "ocean_fcl", "incoterm": "FOB", "origin": "CNSHA",
        "destination": "DEHAM", "shipper_name": "Shanghai Bright Lighting Co.", "consignee_name": "Bench Industrial",
        "description": "LED lamps", "requested_pickup_on": "2026-12-01", "requested_delivery_on": "2027-01-05",
        "lines": [{
            "pieces": 20, "package_type": "PX", "gross_weight_kg": "4200.500", "volume_m3": "28.4000",
            "description": "LED lamps", "hs_code": "940542",
        }],
    }  # fmt: skip


def _requests(path: str, prefix: str, count: int, raw_key: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """Encoded ahead of the clock, so the client's JSON work is not timed."""
    result = []
    for number in range(count):
        headers = {
            "Authorization": f"Bearer {raw_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"{prefix}-{number}-{uuid.uuid4()}",
        }
        result.append((path, json.dumps(order_body(f"{prefix}-{number:06d}")).encode(), headers))
    return result


def _send(port: int, batch: list[tuple[str, bytes, dict[str, str]]], latencies: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for path, body, headers in batch:
            started = time.perf_counter()
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            content = response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 201:
                raise RuntimeError(f"POST {path} answered {response.status}: {content[:500]!r}")
    finally:
        conn.close()


def _run_share(
    port: int, batch: list[tuple[str, bytes, dict[str, str]]], connections: int
) -> tuple[float, list[float]]:
    """POST the batch over `connections` concurrent keep-alive connections; (seconds, latencies)."""
    shares = [batch[index::connections] for index in range(connections)]
    latencies: list[list[float]] = [[] for _ in shares]
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            _send(port, shares[index], latencies[index])
        except BaseException as exc:  # re-raised by the main thread: a failed run must not look fast
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, [latency for share in latencies for latency in share]


def run_interleaved(
    port: int,
    batches: dict[str, list[tuple[str, bytes, dict[str, str]]]],
    connections: int,
    deadline: float = float("inf"),
) -> dict[str, dict[str, float]]:
    """Each batch in chunks of CHUNK requests, taking turns, so that a change in the machine's load
    (other processes, autovacuum) falls on both sides alike. Orders/s and latency per batch. Past the
    deadline (time.monotonic) no new round starts, so a loaded machine cannot stretch the run."""
    seconds = dict.fromkeys(batches, 0.0)
    latencies: dict[str, list[float]] = {name: [] for name in batches}
    longest = max(len(batch) for batch in batches.values())
    for start in range(0, longest, CHUNK):
        if time.monotonic() > deadline:
            break
        for name, batch in batches.items():
            elapsed, chunk_latencies = _run_share(port, batch[start : start + CHUNK], connections)
            seconds[name] += elapsed
            latencies[name] += chunk_latencies
    return {
        name: {
            "orders": len(latencies[name]),
            "per_s": round(len(latencies[name]) / seconds[name], 1),
            "seconds": round(seconds[name], 2),
            "p50_ms": round(median(latencies[name]) * 1000, 2),
            "p95_ms": round(percentile(latencies[name], 95) * 1000, 2),
        }
        for name in batches
    }


def _verify(port: int, batch: list[tuple[str, bytes, dict[str, str]]], prefix: str, expected: int) -> None:
    """Every order of ours exists exactly once, and a resent key replays instead of creating."""
    from orders.models import Order

    created = Order.objects.filter(customer_reference__startswith=f"{prefix}-").count()
    if created != expected:
        raise RuntimeError(f"{created} orders with prefix {prefix}, expected {expected}")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path, body, headers in batch[: min(20, expected)]:
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        response.read()
        if response.status != 201 or response.getheader("Idempotent-Replayed") != "true":
            raise RuntimeError(f"a resent key was not replayed: {response.status}")
    conn.close()
    if Order.objects.filter(customer_reference__startswith=f"{prefix}-").count() != expected:
        raise RuntimeError("a replay created an order")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=float, default=480, help="seconds of timed requests at most")
    args = parser.parse_args()

    os.environ.update(SERVER_ENV)
    os.environ["DATABASE_URL"] = fresh_database_url(DB_NAME)
    raw_key = _seed()
    port = _free_port()
    static_root = tempfile.TemporaryDirectory(prefix="oms-bench-static-")  # WhiteNoise wants one to exist
    server = _start_gunicorn(port, args.workers, {**os.environ, "STATIC_ROOT": static_root.name})
    try:
        run_interleaved(
            port,
            {
                "anchor": _requests(ANCHOR, "WARM-A", WARMUP, raw_key),
                "ours": _requests(OURS, "WARM-O", WARMUP, raw_key),
            },
            1,
        )
        started = time.monotonic()
        ours_batch = _requests(OURS, "OURS-1", args.orders, raw_key)
        serial = run_interleaved(
            port,
            {"anchor": _requests(ANCHOR, "ANCHOR-1", args.orders, raw_key), "ours": ours_batch},
            1,
            deadline=started + 0.65 * args.budget,
        )
        _verify(port, ours_batch, "OURS-1", int(serial["ours"]["orders"]))
        two = run_interleaved(
            port,
            {
                "anchor": _requests(ANCHOR, "ANCHOR-2", args.orders, raw_key),
                "ours": _requests(OURS, "OURS-2", args.orders, raw_key),
            },
            2,
            deadline=started + args.budget,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        static_root.cleanup()
    anchor_serial, ours_serial, anchor_two, ours_two = serial["anchor"], serial["ours"], two["anchor"], two["ours"]

    ratio = round(ours_serial["seconds"] / anchor_serial["seconds"], 2)
    print(f"ours   one at a time   {ours_serial}", flush=True)
    print(f"anchor one at a time   {anchor_serial}", flush=True)
    print(f"ours   two connections {ours_two}", flush=True)
    print(f"anchor two connections {anchor_two}", flush=True)
    report(
        bench="api_orders",
        metric="orders_per_s_serial",
        value=ours_serial["per_s"],
        unit="orders/s",
        anchor="bare_drf_create_per_s",
        anchor_value=anchor_serial["per_s"],
        ratio=ratio,
        target=f"ratio <= {TARGET_RATIO}",
        orders_timed=int(ours_serial["orders"]),
        orders_asked=args.orders,
        gunicorn=f"{args.workers} sync workers",
        ours_p50_ms=ours_serial["p50_ms"],
        ours_p95_ms=ours_serial["p95_ms"],
        anchor_p50_ms=anchor_serial["p50_ms"],
        ours_per_s_two_connections=ours_two["per_s"],
        anchor_per_s_two_connections=anchor_two["per_s"],
        ratio_two_connections=round(ours_two["seconds"] / anchor_two["seconds"], 2),
        met=ratio <= TARGET_RATIO,
    )


if __name__ == "__main__":
    main()
