"""The `make run` launcher's crash recovery and checks (no database, no children of its own)."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from oms import devrun


@pytest.fixture
def leftover() -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session, like a child a crashed launcher left behind."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def test_survivor_of_a_crashed_run_is_stopped(leftover: subprocess.Popen[bytes]) -> None:
    created = psutil.Process(leftover.pid).create_time()

    devrun.end_survivors({"children": [{"name": "web", "pid": leftover.pid, "create_time": created}]})

    assert leftover.wait(timeout=5) is not None


def test_reused_pid_is_left_alone(leftover: subprocess.Popen[bytes]) -> None:
    # Same PID, different start time: after a reboot the number belongs to someone else.
    created = psutil.Process(leftover.pid).create_time() - 3600

    devrun.end_survivors({"children": [{"name": "web", "pid": leftover.pid, "create_time": created}]})

    assert leftover.poll() is None


def test_port_in_use_is_reported_with_the_process_holding_it() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        with pytest.raises(devrun.LaunchError, match=rf"port {port} .* pid {os.getpid()}"):
            devrun.ensure_port_free(port)


def test_free_port_passes() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    devrun.ensure_port_free(port)


def test_passwords_are_not_printed() -> None:
    assert devrun._redact("postgres://oms:s3cret@db:5432/oms") == "postgres://oms:***@db:5432/oms"
    assert devrun._redact("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"


def test_the_development_server_keeps_no_persistent_connections_unless_told() -> None:
    """runserver's thread per request would leave a persistent connection behind per thread."""
    from oms.devrun import web_environment

    assert web_environment({"DEBUG": "true"})["CONN_MAX_AGE"] == "0"
    assert web_environment({"CONN_MAX_AGE": "30"})["CONN_MAX_AGE"] == "30"
