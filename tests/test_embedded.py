"""The embedded default: stale pid-file detection, URL and broker shape, and one real start/stop/start.

None of these tests use Django's test database.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import environ
import psycopg
import pytest

from oms import embedded


def _write_pid_file(pgdata: Path, pid: int) -> Path:
    """A postmaster.pid in the layout PostgreSQL 18 writes (pid, pgdata, start, port, socket, ...)."""
    path = pgdata / "postmaster.pid"
    path.write_text(f"{pid}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n  2188583         9\nready   \n")
    return path


@pytest.fixture
def fake_pgdata(tmp_path: Path) -> Path:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("18\n")
    return pgdata


@pytest.fixture
def fake_postgres(tmp_path: Path) -> Path:
    """A harmless program whose process name is `postgres` (a copy of `sleep`)."""
    binary = tmp_path / "bin" / "postgres"
    binary.parent.mkdir()
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    return binary


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_pid_file_naming_a_dead_process_is_stale_and_removed(fake_pgdata: Path) -> None:
    path = _write_pid_file(fake_pgdata, _dead_pid())

    pid_file = embedded.read_pid_file(path)

    assert pid_file is not None
    assert embedded.pid_file_is_stale(pid_file, fake_pgdata)
    assert embedded.remove_stale_postmaster_pid(fake_pgdata) is True
    assert not path.exists()


def test_pid_file_naming_a_live_non_postgres_process_is_stale_and_removed(fake_pgdata: Path) -> None:
    # After a reboot the recorded PID can belong to anything: here, this very test process.
    path = _write_pid_file(fake_pgdata, os.getpid())

    pid_file = embedded.read_pid_file(path)

    assert pid_file is not None
    assert embedded.pid_file_is_stale(pid_file, fake_pgdata)
    assert embedded.remove_stale_postmaster_pid(fake_pgdata) is True
    assert not path.exists()


def test_truncated_pid_file_is_stale(fake_pgdata: Path) -> None:
    path = fake_pgdata / "postmaster.pid"
    path.write_text("")

    assert embedded.remove_stale_postmaster_pid(fake_pgdata) is True
    assert not path.exists()


@pytest.mark.skipif(sys.platform != "linux", reason="reads another process's cwd through /proc")
def test_postgres_of_another_data_folder_is_stale_but_left_running(
    fake_pgdata: Path, fake_postgres: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    proc = subprocess.Popen([str(fake_postgres), "30"], cwd=other)  # noqa: S603 - our copy of sleep
    try:
        path = _write_pid_file(fake_pgdata, proc.pid)

        assert embedded.remove_stale_postmaster_pid(fake_pgdata) is True
        assert not path.exists()
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(sys.platform != "linux", reason="reads another process's cwd through /proc")
def test_postgres_running_in_our_data_folder_is_not_stale(fake_pgdata: Path, fake_postgres: Path) -> None:
    proc = subprocess.Popen([str(fake_postgres), "30"], cwd=fake_pgdata)  # noqa: S603 - as above
    try:
        path = _write_pid_file(fake_pgdata, proc.pid)
        deadline = time.monotonic() + 5
        while not embedded.is_our_postmaster(proc.pid, fake_pgdata) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the exec has happened and /proc shows the new name

        assert embedded.remove_stale_postmaster_pid(fake_pgdata) is False
        assert path.exists()
    finally:
        proc.kill()
        proc.wait()


def test_database_url_is_a_unix_socket_url_django_environ_understands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OMS_VAR_DIR", str(tmp_path))

    config = environ.Env.db_url_config(embedded.database_url())

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "oms"
    assert config["USER"] == "postgres"
    assert config["OPTIONS"] == {"host": str(tmp_path / "pgrun")}


def test_socket_folder_falls_back_to_tmp_when_the_path_is_too_long(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OMS_VAR_DIR", str(tmp_path / ("x" * 120)))

    sock = embedded.socket_dir()

    assert sock.name.startswith("oms-pg-")
    assert len(str(sock / ".s.PGSQL.5432.lock")) <= 107
    assert embedded.socket_dir() == sock  # deterministic: settings and the server agree


def test_broker_reads_from_the_folder_it_writes_to(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OMS_VAR_DIR", str(tmp_path))

    options = embedded.broker_transport_options()

    assert options["data_folder_in"] == options["data_folder_out"] == str(tmp_path / "broker" / "queue")
    assert Path(options["data_folder_in"]).is_dir()
    assert Path(options["control_folder"]).is_dir()
    assert embedded.broker_url() == "filesystem://"


@pytest.mark.embedded
def test_embedded_server_starts_stops_and_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Under /tmp rather than tmp_path: pytest's base folder is 0700 and the server, run as root,
    # runs as another user; a short path also keeps the socket inside var/.
    var = Path(tempfile.mkdtemp(prefix="oms-embedded-test-"))
    monkeypatch.setenv("OMS_VAR_DIR", str(var))
    try:
        url = embedded.start()
        pid = embedded.status().pid
        assert embedded.start() == url  # already running: reused
        assert embedded.status().pid == pid
        assert embedded.remove_stale_postmaster_pid() is False  # a live server's file stays

        embedded.stop()
        assert not embedded.status().running
        embedded.stop()  # stopping a stopped server is fine

        assert embedded.start() == url
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("oms",)
    finally:
        embedded.stop()
        shutil.rmtree(var, ignore_errors=True)
