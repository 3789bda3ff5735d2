"""A real Celery worker as its own process on the test database and broker, for the tests of what happens when
a worker is killed. Each test module names its queue and its settings module (the test settings with a Redis
visibility timeout of seconds, so a message whose whole worker was killed comes back quickly)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def start_worker_process(queue: str, settings_module: str, **env: str) -> subprocess.Popen:
    """`celery worker` with one prefork child on `queue`, in its own session so that the whole worker (main
    process and pool child) can be killed together."""
    database = settings.DATABASES["default"]
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PYTHONPATH": str(ROOT),
        **env,
    }
    command = [sys.executable, "-m", "celery", "-A", "oms", "worker", "-Q", queue, "--concurrency=1",
               "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING",
               "-n", f"{queue}-{uuid.uuid4().hex[:4]}@%h"]  # fmt: skip
    return subprocess.Popen(  # noqa: S603 - our own interpreter running celery, no shell
        command, cwd=ROOT, env=environ, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def kill_worker(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool child: no chance to acknowledge or clean up."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
