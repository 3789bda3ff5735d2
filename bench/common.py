"""Shared plumbing for benchmarks: Django setup, timing, and the final JSON line."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def fresh_database_url(name: str) -> str:
    """A new, empty database `name` on the server of DATABASE_URL (dropped first if it exists): benchmarks
    measure on scratch databases, never on the data they were pointed at."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def timed(fn: Callable[[], Any], *, repeat: int = 1) -> list[float]:
    """Wall-clock seconds of each of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def report(**result: Any) -> None:
    """Print the result as the last line and keep a copy under var/bench/ for `make bench`."""
    line = json.dumps(result, sort_keys=False)
    out = ROOT / "var" / "bench" / f"{result['bench']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(line)
    print(line, flush=True)
