"""Workflow fan-out: submit 10,000 orders through the real service with the demo templates and rules active.

    python -m bench.workflow_fanout [--orders 10000] [--processes 2] [--db-name NAME] [--broker URL]

The script creates and migrates a scratch database (oms_bench_workflow, on the server of DATABASE_URL) and
seeds the demo organisations and logins, the demo UN/LOCODE set, and the demo workflow set-up: teams in
both branches, account owners, business hours, the six templates and the automation rules (Globex is
auto-accept, so its orders are also confirmed, with that state's tasks). The draft orders are written
straight to the table (setting them up is not what is measured).

The orders are submitted as an external system submits them, through the API channel, so their workflow
handling is queued and done by the workflow worker in batches (docs/decisions/0004): the script starts a
real Celery worker (one process, on the Redis broker of --broker, default CELERY_BROKER_URL or
redis://127.0.0.1:6379/14, whose queue it empties first), as a deployment runs one beside its web workers.

It times, in one run:
- the figure: from the first submit until the workflow of every order is handled — the locked transition
  and its history row in `--processes` submitting processes (two by default: this machine's cores, as two
  web workers would), and in the worker, for each batch: binding the orders to their template version,
  creating and assigning their tasks with business-hours due times, notifying the assignees, running the
  rules (for Globex, the automatic confirmation, then that transition's own tasks). The worker shares the
  two cores with the submitters;
- how long the submits alone took, and how long the worker needed after the last one (its lag);
- queries per order: the submit's, for the first and the last thousand orders (constant: they must not
  grow), and the worker's, from a further thousand orders drained in this process; whether every
  transition's workflow handling happened (none left queued or unhandled);
- the anchor: a bare `Task.objects.bulk_create` of as many task rows as the run created, in batches of
  1,000 — the cost of merely storing the rows. ratio = our time ÷ anchor time;
- for context, the same submits of another tenth of the orders with the workflow receiver disconnected
  (what the transition alone costs on this machine now), and then the drain of their queue in this
  process (what the workflow costs per order in batches);
- where the time goes, in CPU milliseconds per order: the submitting processes' own (Python) and their
  database backends' (read from /proc when the server runs on this machine), and the worker's processes,
  measured over the run. Unlike the wall-clock figure these hardly move when other work shares the
  machine.

It runs in production mode (DEBUG off, as the test suite does): with DEBUG on, Django keeps every query
in a log and times it, work no server does.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench.common import fresh_database_url, report, setup_django

DB_NAME = "oms_bench_workflow"
PASSWORD = "bench-password-not-secret"  # noqa: S105 - logins of a throwaway scratch database
TARGET_ORDERS_PER_S = 200
SAMPLE = 1000


def _seed(count: int) -> list[int]:
    """Migrate, seed the demo set-up without demo orders, and write `count` draft orders; their ids."""
    from django.core.management import call_command

    from orders.demo import LANES
    from orders.locations import locations_load_demo
    from orders.models import CargoLine, Order
    from partners.demo import seed_partners
    from partners.models import Organisation
    from workflows import demo

    call_command("migrate", verbosity=0)
    seed_partners(password=PASSWORD)
    locations_load_demo()
    people = demo.seed_people(PASSWORD)
    demo.seed_templates(people["admin@oms.example"])
    demo.seed_rules(people)
    customers = [Organisation.objects.get(code=code) for code in ("ACME", "GLOBEX", "ACME", "ACME")]
    branches = {o.code: o for o in Organisation.objects.branches()}
    pickup = datetime.date.today() + datetime.timedelta(days=10)  # noqa: DTZ011 - a date a week or two ahead
    drafts, lines = [], []  # a draft is submitted with its cargo (lifecycle's submit check): one line each
    for n in range(count):
        mode, origin, destination, incoterm, branch, goods, hs_code, package = LANES[n % len(LANES)]
        customer = customers[n % len(customers)]
        line = CargoLine(
            line_no=1, pieces=10 + n % 30, package_type=package, description=goods, hs_code=hs_code,
            gross_weight_kg=Decimal(250 + (n % 50) * 40), volume_m3=Decimal("2.5"),
        )  # fmt: skip
        lines.append(line)
        drafts.append(Order(
            reference=f"BEN-26-{n:06d}", customer=customer, customer_reference=f"BENCH-{n:06d}",
            branch=branches[branch], mode=mode, incoterm=incoterm, origin_id=origin, destination_id=destination,
            shipper_name="Bench Shipper Ltd", consignee_name="Bench Consignee GmbH", requested_pickup_on=pickup,
            description=goods, declared_value_amount=(n % 40) * 2500 or None,
            declared_value_currency="EUR" if n % 40 else "",
            pieces_total=line.pieces, gross_weight_kg_total=line.gross_weight_kg, volume_m3_total=Decimal("2.5"),
        ))  # fmt: skip
    orders = Order.objects.bulk_create(drafts, batch_size=2000)
    for order, line in zip(orders, lines, strict=True):
        line.order = order
    CargoLine.objects.bulk_create(lines, batch_size=2000)
    return [order.pk for order in orders]


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def _backend_cpu_s(connection: Any) -> float | None:
    """CPU seconds the connection's database backend has used so far; None when it is not on this machine."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _submit_all(order_ids: list[int]) -> tuple[list[int], float, float | None]:
    """Submit every order through the service; the queries each submit took, and the CPU seconds this
    process and its database backend spent on them."""
    from django.db import connection

    from orders import services
    from orders.models import Channel, Order
    from partners.models import User
    from partners.scoping import scope_for_user

    ops = User.objects.get(email="ops@oms.example")
    scope = scope_for_user(ops)
    counter = _QueryCounter()
    per_order = []
    backend_before, cpu_before = _backend_cpu_s(connection), time.process_time()
    with connection.execute_wrapper(counter):
        for order_id in order_ids:
            before = counter.count
            order = Order.objects.get(pk=order_id)  # what a view or the API reads first
            services.order_submit(order=order, scope=scope, by=ops, channel=Channel.API)
            per_order.append(counter.count - before)
    cpu = time.process_time() - cpu_before
    backend_after = _backend_cpu_s(connection)
    backend = backend_after - backend_before if backend_before is not None and backend_after is not None else None
    return per_order, cpu, backend


@dataclass
class Submitted:
    elapsed: float  # wall seconds, all processes together
    per_order: list[int]  # queries of each submit, in submission order
    python_cpu_ms: float  # per order, summed over the processes
    database_cpu_ms: float | None  # per order, their backends; None when the server is elsewhere


def _submit_in_processes(order_ids: list[int], processes: int) -> Submitted:
    """Submit from `processes` processes at once: wall time, per-order query counts and CPU per order."""
    from django.db import connections

    connections.close_all()  # each process opens its own connection
    slices = [order_ids[n::processes] for n in range(processes)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        started = time.perf_counter()
        results = pool.map(_submit_all, slices)
        elapsed = time.perf_counter() - started
    per_order = [count for group in zip(*(r[0] for r in results), strict=False) for count in group]
    backends = [r[2] for r in results]
    database = None if None in backends else sum(b for b in backends if b is not None) * 1000 / len(order_ids)
    return Submitted(elapsed, per_order, sum(r[1] for r in results) * 1000 / len(order_ids), database)


def _bare_submits(order_ids: list[int], processes: int) -> Submitted:
    """The same submits without the workflow receiver (the transition alone): their transitions stay queued."""
    from orders import events
    from workflows.receivers import _order_status_changed

    events.order_status_changed.disconnect(_order_status_changed, dispatch_uid="workflows.order_status_changed")
    try:
        return _submit_in_processes(order_ids, processes)
    finally:
        events.order_status_changed.connect(_order_status_changed, dispatch_uid="workflows.order_status_changed")


@dataclass
class Drained:
    orders: int
    queries_per_order: float
    python_cpu_ms: float
    database_cpu_ms: float | None
    elapsed: float


def _drain_here() -> Drained:
    """Drain the queue in this process (what the worker does), counting its queries and CPU."""
    from django.db import connection

    from orders.models import QueuedTransition
    from workflows import services

    orders = QueuedTransition.objects.count()
    counter = _QueryCounter()
    backend_before, cpu_before, started = _backend_cpu_s(connection), time.process_time(), time.perf_counter()
    with connection.execute_wrapper(counter):
        services.queued_transitions_drain()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    backend_after = _backend_cpu_s(connection)
    backend = backend_after - backend_before if backend_before is not None and backend_after is not None else None
    per = 1000 / max(orders, 1)
    return Drained(orders, counter.count / max(orders, 1), cpu * per, None if backend is None else backend * per,
                   elapsed)  # fmt: skip


class Worker:
    """A real Celery worker on the bench's database and broker, in a session of its own."""

    APP_NAME = "oms-bench-worker"

    def __init__(self, database_url: str, broker: str) -> None:
        import subprocess
        import sys

        from bench.common import ROOT

        env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker,
               "CELERY_TASK_ALWAYS_EAGER": "false", "PGAPPNAME": self.APP_NAME}  # fmt: skip
        command = [sys.executable, "-m", "celery", "-A", "oms", "worker", "-Q", "default", "--concurrency=1",
                   "--without-gossip", "--without-mingle", "--loglevel=WARNING", "-n", "bench-workflow@%h"]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        from oms.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # A connection of its own, closed after: a pooled one would be inherited by the forked
            # submitters, whose after-fork clean-up then waits on the parent's socket.
            with app.connection_for_write() as connection:
                if app.control.ping(timeout=0.5, connection=connection):
                    return
        raise RuntimeError("the bench's Celery worker did not start")

    def cpu_s(self) -> float:
        """CPU seconds of the worker's processes (main and pool) so far."""
        import psutil

        main = psutil.Process(self.process.pid)
        total = 0.0
        for process in [main, *main.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
        return total

    def backends_cpu_s(self) -> float | None:
        """CPU seconds of the worker's database backends so far (None when the server is elsewhere)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [self.APP_NAME])
            pids = [row[0] for row in cursor.fetchall()]
        total = 0.0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self) -> None:
        self.process.terminate()  # a warm shutdown: the main process lets its pool finish the drain
        self.process.wait(timeout=60)


def _wait_until_handled(timeout: float = 600) -> float:
    """Wait until no transition is queued or unhandled; the moment it was so (perf_counter)."""
    from orders.models import OrderTransition, QueuedTransition
    from workflows.models import ProcessedTransition

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not QueuedTransition.objects.exists() and (
            OrderTransition.objects.count() == ProcessedTransition.objects.count()
        ):
            return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError("the worker did not handle every transition in time")


def _anchor(task_count: int) -> float:
    """A bare bulk_create of as many task rows, in batches of 1,000, each in its own transaction."""
    from django.db import transaction

    from orders.models import Order
    from workflows.models import Task

    order_ids = list(Order.objects.values_list("pk", flat=True)[:1000])
    rows = [Task(order_id=order_ids[n % len(order_ids)], name="Anchor task", team_function="operations")
            for n in range(task_count)]  # fmt: skip
    started = time.perf_counter()
    for start in range(0, len(rows), 1000):
        with transaction.atomic():
            Task.objects.bulk_create(rows[start : start + 1000])
    elapsed = time.perf_counter() - started
    Task.objects.filter(name="Anchor task").delete()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--db-name", default=DB_NAME, help="scratch database to (re)create")
    parser.add_argument("--broker", default=os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/14",
                        help="the Redis broker the worker uses (its queue is emptied first)")  # fmt: skip
    args = parser.parse_args()

    database_url = fresh_database_url(args.db_name)
    os.environ.update(DATABASE_URL=database_url, CELERY_BROKER_URL=args.broker, CELERY_TASK_ALWAYS_EAGER="false")
    os.environ.setdefault("EMAIL_URL", "dummymail://")
    os.environ.setdefault("DEBUG", "false")  # production mode: no query log (see the docstring)
    os.environ.setdefault("SECRET_KEY", f"bench-{os.urandom(24).hex()}")  # a throwaway key for this run
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    setup_django()

    import redis

    from orders.models import OrderTransition, QueuedTransition
    from workflows.models import ProcessedTransition, Task

    redis.Redis.from_url(args.broker).delete("default")  # a queue left by an earlier, interrupted run
    print(f"seeding {args.orders + args.orders // 10} draft orders into {args.db_name} …", flush=True)
    all_ids = _seed(args.orders + args.orders // 10)
    order_ids, bare_ids = all_ids[: args.orders], all_ids[args.orders :]
    worker = Worker(database_url, args.broker)
    try:
        worker.wait_ready()
        worker_cpu_before, worker_db_before = worker.cpu_s(), worker.backends_cpu_s()
        print(f"submitting from {args.processes} processes, one worker (load average before: "
              f"{os.getloadavg()[0]:.1f}) …", flush=True)  # fmt: skip
        started = time.perf_counter()
        run = _submit_in_processes(order_ids, args.processes)
        handled_at = _wait_until_handled()
        elapsed, lag = handled_at - started, handled_at - started - run.elapsed
        worker_cpu = (worker.cpu_s() - worker_cpu_before) * 1000 / len(order_ids)
        worker_db_after = worker.backends_cpu_s()
        worker_db = None if None in (worker_db_before, worker_db_after) else (
            (worker_db_after - worker_db_before) * 1000 / len(order_ids)  # type: ignore[operator]
        )  # fmt: skip
    finally:
        worker.stop()
    load = os.getloadavg()[0]
    tasks = Task.objects.count()
    unhandled = OrderTransition.objects.count() - ProcessedTransition.objects.count()
    per_order = run.per_order
    bare = _bare_submits(bare_ids, args.processes)
    bare_per_s = len(bare_ids) / bare.elapsed
    assert QueuedTransition.objects.count() == len(bare_ids), "the bare submits' transitions stay queued"
    drained = _drain_here()
    orders_per_s = len(order_ids) / elapsed
    first, last = per_order[:SAMPLE], per_order[-SAMPLE:]
    print(f"{len(order_ids)} orders handled in {elapsed:.1f} s: {orders_per_s:.0f} orders/s, {tasks} tasks "
          f"({tasks / elapsed:.0f} tasks/s); the submits took {run.elapsed:.1f} s "
          f"({len(order_ids) / run.elapsed:.0f}/s), the worker finished {lag:.2f} s after the last",
          flush=True)  # fmt: skip
    print(f"queries per order: the submit, first {SAMPLE} mean {statistics.mean(first):.1f}, last {SAMPLE} mean "
          f"{statistics.mean(last):.1f}, max {max(per_order)}; the worker {drained.queries_per_order:.2f} "
          f"(draining {drained.orders} here)", flush=True)  # fmt: skip
    anchor = _anchor(tasks)
    print(f"anchor: bulk_create of {tasks} task rows in {anchor:.2f} s; transitions left unhandled: {unhandled}; "
          f"the transition alone: {bare_per_s:.0f} orders/s; load average after: {load:.1f}", flush=True)  # fmt: skip
    print(f"CPU per order: submitting processes {run.python_cpu_ms:.1f} ms, their database backends "
          f"{_ms(run.database_cpu_ms)}; the worker {worker_cpu:.1f} ms, its backends {_ms(worker_db)}; "
          f"the transition alone {bare.python_cpu_ms:.1f} ms + {_ms(bare.database_cpu_ms)}; the workflow drained "
          f"here {drained.python_cpu_ms:.1f} ms + {_ms(drained.database_cpu_ms)} "
          f"({drained.orders / drained.elapsed:.0f} orders/s)", flush=True)  # fmt: skip
    report(
        bench="workflow_fanout", metric="orders_per_s", value=round(orders_per_s, 1), unit="orders/s",
        anchor="task_bulk_create_s", anchor_value=round(anchor, 3), ratio=round(elapsed / anchor, 1),
        target=f">= {TARGET_ORDERS_PER_S} orders/s, constant queries per order", orders=len(order_ids),
        tasks_created=tasks, tasks_per_s=round(tasks / elapsed, 1), elapsed_s=round(elapsed, 2),
        submit_s=round(run.elapsed, 2), worker_lag_s=round(lag, 2),
        queries_per_order_first=round(statistics.mean(first), 2),
        queries_per_order_last=round(statistics.mean(last), 2),
        queries_per_order_max=max(per_order), worker_queries_per_order=round(drained.queries_per_order, 2),
        processes=args.processes, transitions_unhandled=unhandled, load_average=round(load, 1),
        bare_submit_orders_per_s=round(bare_per_s, 1),
        python_cpu_ms_per_order=round(run.python_cpu_ms, 2), database_cpu_ms_per_order=_round(run.database_cpu_ms),
        worker_cpu_ms_per_order=round(worker_cpu, 2), worker_database_cpu_ms_per_order=_round(worker_db),
        bare_python_cpu_ms_per_order=round(bare.python_cpu_ms, 2),
        bare_database_cpu_ms_per_order=_round(bare.database_cpu_ms),
        drained_python_cpu_ms_per_order=round(drained.python_cpu_ms, 2),
        drained_database_cpu_ms_per_order=_round(drained.database_cpu_ms),
    )  # fmt: skip


def _ms(value: float | None) -> str:
    return "n/a (server elsewhere)" if value is None else f"{value:.1f} ms"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


if __name__ == "__main__":
    main()
