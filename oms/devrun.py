"""`make run`: the whole of OMS on one machine, in the foreground, stopped by Ctrl-C.

    python -m oms.devrun            # what `make run` calls; PORT=8001 moves the web server

1. Uses DATABASE_URL / CELERY_BROKER_URL when set; otherwise starts the embedded PostgreSQL and the
   filesystem broker under var/ (oms/embedded.py) and exports DATABASE_URL to the children.
2. Defaults DEBUG=true for the children (this launcher is for local use only).
3. Runs `migrate`, `collectstatic` when DEBUG is false (with DEBUG the dev server serves static files
   from the app folders), and `seed_demo` when the database has no users yet; all three in one
   child process, `python -m oms.devrun prepare`, since every Django start costs 1-2 s of imports.
4. Starts three children: the web server on 127.0.0.1:$PORT, a Celery worker on every queue and
   Celery beat, then prints the URL and the demo logins.

The web server is Django's `runserver --noreload`, not gunicorn. Reasons: with DEBUG it serves
static files and shows Django's debug pages, so a fresh checkout works without collectstatic; it
runs wherever Python runs (gunicorn needs a POSIX fork server, so not on Windows); and its request
log is what a developer wants to read. `--noreload` because this launcher supervises its children:
the autoreloader would respawn the server under a grandchild whose restarts look like crashes, and
it would reload only the web tier while the worker kept running old code. After a code change,
Ctrl-C and `make run` again (a restart takes seconds; migrations and seeding are skipped when done).
Production runs gunicorn (docker-compose.yml).

Shutdown and crash recovery:
- Every child runs in its own session, so Ctrl-C reaches only this launcher, which then stops the
  children in order: SIGTERM to each child's process group (Celery's pool included), a grace
  period, then SIGKILL. It then stops the embedded PostgreSQL if this run started it (or inherited
  it from a launcher that crashed); a server someone else started, e.g. `make test`, is left alone.
- If a child dies on its own, everything is stopped and we exit non-zero, naming the child.
- On Linux each child asks the kernel for SIGTERM when the launcher dies (PR_SET_PDEATHSIG), so a
  `kill -9` of the launcher takes the children with it. Everywhere, var/run/devrun.json records
  the children, and the next run ends any that survived before starting (matched by PID and start
  time, so a reused PID is never hit). A flock on var/run/devrun.lock (released by the kernel on
  any death) tells a running launcher from a crashed one.
- A port held by anything else is reported with its PID and command line, never killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from oms import embedded

PROJECT_ROOT = embedded.PROJECT_ROOT
QUEUES = "default,imports,tracking,documents,billing"
# Celery's warm shutdown lets running tasks finish; on the filesystem broker even an idle worker
# takes about 8 s (it polls). After the grace period, or a second Ctrl-C, we kill.
GRACE_SECONDS = 30.0
# Mirrors partners/demo.py LOGINS (which needs Django loaded; the launcher does not load it).
DEMO_LOGINS = [
    ("admin@oms.example", "admin: staff screens and the admin console"),
    ("sales@oms.example", "sales, Hamburg branch"),
    ("ops@oms.example", "operations, Hamburg branch"),
    ("docs@oms.example", "documentation, Hamburg branch"),
    ("finance@oms.example", "finance, Hamburg branch"),
    ("ops.sha@oms.example", "operations, Shanghai branch"),
    ("portal@acme.example", "customer portal, Acme (ACME)"),
    ("portal@globex.example", "customer portal, Globex (GLOBEX)"),
    ("carrier@oms.example", "carrier partner (NORDTRUCK)"),
]


class DemoLogins(StrEnum):
    """What `prepare` found of the demo logins, for the banner: var/run/demo_logins (the state, never a password).
    The password comes from OMS_DEMO_PASSWORD when seed_demo creates a login and never changes afterwards
    (partners.demo.seed_partners), so a value set after the first run is not theirs: the banner must not name it."""

    SEEDED = "seeded"  # by this run, with OMS_DEMO_PASSWORD
    MATCHES = "matches"  # seeded before, and OMS_DEMO_PASSWORD signs them in
    DIFFERS = "differs"  # seeded before, with another password
    ABSENT = "absent"  # the database had people already, so nothing was seeded


class LaunchError(Exception):
    """Startup cannot go on; the message tells the user what to do."""


class StopRequested(Exception):
    """SIGINT or SIGTERM asked the launcher to stop."""


def say(message: str) -> None:
    print(f"oms: {message}", file=sys.stderr, flush=True)


# --- Children --------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_libc: Any = None


def _child_setup() -> None:
    """Runs in the child between fork and exec: die with the launcher (Linux)."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "pid": self.proc.pid, "create_time": _create_time(self.proc.pid)}


def web_environment(env: dict[str, str]) -> dict[str, str]:
    """The development server's environment: no persistent database connections unless CONN_MAX_AGE is set.

    runserver handles each request in a new thread, and a thread's persistent connection outlives the request
    until the garbage collector finds it (Django's docs: don't enable persistent connections with the development
    server). Measured on review servers with the default of 60 s: 17 to 51 idle connections each, until a shared
    PostgreSQL refused new clients; with 0, none. Production runs gunicorn, whose workers reuse theirs."""
    return {**env, "CONN_MAX_AGE": env.get("CONN_MAX_AGE") or "0"}


def _spawn(name: str, args: Sequence[str], env: dict[str, str]) -> Child:
    proc = subprocess.Popen(
        list(args),
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C goes to us only; we stop children in order
        preexec_fn=_child_setup if _libc is not None else None,  # we are single-threaded
    )
    return Child(name=name, proc=proc)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # each child leads its own session, so its pgid is its pid


def stop_children(children: Sequence[Child], hurry: Callable[[], bool] = lambda: False) -> None:
    """SIGTERM each child, wait up to GRACE_SECONDS, then SIGKILL each child's process group.

    SIGTERM goes to the child alone: Celery's main process shuts its pool down in order, whereas
    signalling the whole group would kill pool processes under a running task.
    """
    alive = [c for c in children if c.proc.poll() is None]
    if not alive:
        return
    say("stopping " + ", ".join(c.name for c in alive) + " (Ctrl-C again to kill them now) ...")
    for child in alive:
        with contextlib.suppress(ProcessLookupError):
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while any(c.proc.poll() is None for c in alive) and time.monotonic() < deadline and not hurry():
        time.sleep(0.1)
    for child in alive:
        if child.proc.poll() is None:
            say(f"killing {child.name}")
        _signal_group(child.proc.pid, signal.SIGKILL)  # also reaps a group left behind by its leader
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=5)


# --- State of the previous run ---------------------------------------------------------------


def run_dir() -> Path:
    return embedded.var_dir() / "run"


def _create_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


class State:
    """var/run/devrun.json: what this run started, for the next run to clean up after a crash."""

    def __init__(self) -> None:
        self.path = run_dir() / "devrun.json"
        self.data: dict[str, Any] = {"launcher": os.getpid(), "owns_postgres": False, "children": []}

    def load_previous(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return {}

    def save(self, children: Sequence[Child] = ()) -> None:
        self.data["children"] = [c.record() for c in children if c.proc.poll() is None]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2))
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _acquire_launcher_lock() -> None:
    """An exclusive flock for the launcher's lifetime; the kernel drops it however we die."""
    folder = run_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "devrun.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        previous = State().load_previous().get("launcher", "?")
        raise LaunchError(
            f"another `make run` (pid {previous}) is already running with {embedded.var_dir()}; "
            "stop it first (Ctrl-C in its terminal, or `kill <pid>`)."
        ) from None
    os.set_inheritable(fd, False)  # deliberately never closed: the lock lives as long as we do


def end_survivors(previous: dict[str, Any]) -> None:
    """Stop children of a crashed launcher that are still running (same PID and start time)."""
    import psutil

    survivors = []
    for record in previous.get("children", []):
        pid, created = record.get("pid"), record.get("create_time")
        if pid and created and _create_time(pid) == created:
            survivors.append((record.get("name", "?"), pid))
    if not survivors:
        return
    say(
        "a previous `make run` ended without cleaning up; stopping what it left: "
        + ", ".join(f"{name} (pid {pid})" for name, pid in survivors)
    )
    for _, pid in survivors:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    procs = []
    for _, pid in survivors:
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(pid))
    psutil.wait_procs(procs, timeout=GRACE_SECONDS)
    for _, pid in survivors:
        _signal_group(pid, signal.SIGKILL)  # what is left of each group, pool processes included


# --- Checks ----------------------------------------------------------------------------------


def _port_holder(port: int) -> str:
    import psutil

    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                with contextlib.suppress(psutil.Error):
                    return f"pid {conn.pid}: {' '.join(psutil.Process(conn.pid).cmdline())}"
                return f"pid {conn.pid}"
    return "a process this user cannot inspect"


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise LaunchError(
                f"port {port} on 127.0.0.1 is already in use by {_port_holder(port)}.\n"
                f"     Stop that process, or choose another port: PORT={port + 1} make run"
            ) from None


def _wait_for_port(port: int, children: Sequence[Child], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_children(children)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise LaunchError(f"the web server did not open port {port} within {timeout:.0f} s")


class ChildDied(Exception):
    def __init__(self, child: Child, code: int) -> None:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        super().__init__(f"{child.name} {how}; stopping everything (its output is above).")


def _check_children(children: Sequence[Child]) -> None:
    for child in children:
        code = child.proc.poll()
        if code is not None:
            raise ChildDied(child, code)


# --- Steps -----------------------------------------------------------------------------------


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _run_step(name: str, args: Sequence[str], env: dict[str, str]) -> None:
    """Run one setup command as a supervised child, so Ctrl-C and crashes are handled alike."""
    child = _spawn(name, args, env)
    try:
        code = child.proc.wait()
    finally:
        stop_children([child])
    if code != 0:
        raise LaunchError(f"`{name}` failed with exit code {code} (its output is above).")


def _manage(*args: str) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "manage.py"), *args]


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "oms", *args]


# --- The launcher ----------------------------------------------------------------------------


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signum).name)


def main() -> int:
    global _libc
    if sys.platform == "linux":
        _libc = ctypes.CDLL(None, use_errno=True)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    began = time.monotonic()
    children: list[Child] = []
    state: State | None = None
    stop_postgres = False
    hurry = False
    try:
        try:
            port = int(os.environ.get("PORT", "8000"))
        except ValueError:
            raise LaunchError(f"PORT must be a number, not {os.environ['PORT']!r}") from None
        _acquire_launcher_lock()  # held until this process exits; never inherited by children
        state = State()
        previous = state.load_previous()
        # A crashed launcher's embedded PostgreSQL is ours to stop now, even if we fail early.
        stop_postgres = bool(previous.get("owns_postgres"))
        end_survivors(previous)
        ensure_port_free(port)

        env = dict(os.environ)
        env.setdefault("DEBUG", "true")
        env.setdefault("OMS_SITE_URL", f"http://127.0.0.1:{port}")  # the links in mail point at this server
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
        using_embedded_db = not env.get("DATABASE_URL")
        if using_embedded_db:
            was_running = embedded.status().running
            say(f"starting the embedded PostgreSQL ({embedded.pgdata_dir()}) ...")
            env["DATABASE_URL"] = embedded.start()
            # Ours to stop if we start it now, or if the launcher that started it crashed.
            stop_postgres = stop_postgres or not was_running
            say(f"database: {env['DATABASE_URL']}")
        else:
            say(f"database: {_redact(env['DATABASE_URL'])} (from DATABASE_URL)")
        state.data["owns_postgres"] = stop_postgres
        state.save()
        if env.get("CELERY_BROKER_URL"):
            say(f"broker: {_redact(env['CELERY_BROKER_URL'])} (from CELERY_BROKER_URL)")
        else:
            embedded.broker_transport_options()  # creates the folders
            say(f"broker: filesystem, {embedded.var_dir() / 'broker'}")

        demo_logins_path().unlink(missing_ok=True)
        _run_step("prepare", [sys.executable, "-m", "oms.devrun", "prepare"], env)
        demo = demo_logins_read()

        beat_pidfile = run_dir() / "celerybeat.pid"
        beat_pidfile.unlink(missing_ok=True)  # survivors are gone (above): any pidfile is stale
        children.append(_spawn("web", _manage("runserver", f"127.0.0.1:{port}", "--noreload"), web_environment(env)))
        children.append(_spawn("worker", _celery("worker", "-l", "info", "-Q", QUEUES, "--concurrency", "2"), env))
        beat = _celery(
            "beat",
            *("-l", "info"),
            *("--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"),
            *("--pidfile", str(beat_pidfile)),
            *("--schedule", str(run_dir() / "celerybeat-schedule")),
        )
        children.append(_spawn("beat", beat, env))
        state.save(children)
        _wait_for_port(port, children)
        _print_banner(port, env, time.monotonic() - began, demo)
        while True:
            _check_children(children)
            time.sleep(0.3)
    except StopRequested as stop:
        say(f"{stop} received")
        return_code = 0
    except (LaunchError, ChildDied, embedded.EmbeddedError) as exc:
        say(f"error: {exc}")
        return_code = 1
    finally:
        # A second Ctrl-C while stopping means "faster": skip the grace period.
        def hurry_up(signum: int, frame: FrameType | None) -> None:
            nonlocal hurry
            hurry = True

        signal.signal(signal.SIGINT, hurry_up)
        signal.signal(signal.SIGTERM, hurry_up)
        stop_children(children, hurry=lambda: hurry)
        if stop_postgres:
            say("stopping the embedded PostgreSQL ...")
            embedded.stop()
        if state is not None:
            state.remove()
    say("stopped.")
    return return_code


def demo_logins_path() -> Path:
    return run_dir() / "demo_logins"


def demo_logins_read() -> DemoLogins | None:
    """What this run's `prepare` wrote; None when it wrote nothing readable."""
    try:
        return DemoLogins(demo_logins_path().read_text().strip())
    except (OSError, ValueError):
        return None


def _demo_lines(password: str, demo: DemoLogins | None) -> list[str]:
    """The banner's demo logins, naming a password only when it signs them in."""
    if demo is DemoLogins.ABSENT:
        return ["No demo logins: the database had people already, so seed_demo did not run."]
    logins = [f"    {email:<24} {role}" for email, role in DEMO_LOGINS]
    if demo in (DemoLogins.SEEDED, DemoLogins.MATCHES):
        return [f"Demo logins (seed_demo), password {password!r}:", *logins]
    if demo is DemoLogins.DIFFERS:
        heading = (
            f"Demo logins (seed_demo). Their password is not {password!r} (OMS_DEMO_PASSWORD) but the one they were "
            "first seeded with: make run seeds only an empty database and never changes a password "
            "(`manage.py changepassword <email>` sets one):"
        )
    else:
        heading = "Demo logins (seed_demo), with the password they were first seeded with:"
    return [heading, *logins]


def _print_banner(port: int, env: dict[str, str], elapsed: float, demo: DemoLogins | None) -> None:
    password = env.get("OMS_DEMO_PASSWORD") or "demo"
    lines = ["", f"OMS is running at http://127.0.0.1:{port}/  (ready in {elapsed:.1f} s)"]
    lines += _demo_lines(password, demo)
    lines += [
        f"Health: http://127.0.0.1:{port}/healthz  http://127.0.0.1:{port}/readyz",
        "Ctrl-C stops it all.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _timed(name: str, step: Callable[[], object]) -> None:
    started = time.monotonic()
    step()
    say(f"{name}: {time.monotonic() - started:.1f} s")


def prepare() -> int:
    """The setup steps, in one Django process (each `manage.py` start costs 1-2 s of imports).

    Equivalent to `manage.py migrate --noinput`, then `manage.py collectstatic --noinput` when
    DEBUG is false, then `manage.py seed_demo` when the database has no users yet. Writes what it found of
    the demo logins to var/run/demo_logins for the banner.
    """
    import django
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    django.setup()
    _timed("migrate", lambda: call_command("migrate", interactive=False))
    if not settings.DEBUG:  # with DEBUG, runserver serves static files straight from the app folders
        _timed("collectstatic", lambda: call_command("collectstatic", interactive=False, verbosity=0))
    if not get_user_model().objects.exists():
        _timed("seed_demo", lambda: call_command("seed_demo"))
        demo = DemoLogins.SEEDED
    else:
        demo = demo_logins_check(password=settings.OMS_DEMO_PASSWORD)
    demo_logins_path().parent.mkdir(parents=True, exist_ok=True)
    demo_logins_path().write_text(demo.value)
    return 0


def demo_logins_check(*, password: str) -> DemoLogins:
    """Whether the demo logins, seeded by an earlier run, take `password`. One login stands for all: seed_demo
    gives them one password. One hash (Argon2: a fraction of a second) on each restart."""
    from django.contrib.auth import get_user_model

    login = get_user_model().objects.filter(email=DEMO_LOGINS[0][0]).first()
    if login is None:
        return DemoLogins.ABSENT
    return DemoLogins.MATCHES if login.check_password(password) else DemoLogins.DIFFERS


if __name__ == "__main__":
    sys.exit(prepare() if sys.argv[1:] == ["prepare"] else main())
