"""Starting and stopping the production processes on free 127.0.0.1 ports, for fault tests and benches.

Each process runs in its own session (process group), so a kill reaches a Celery
worker's pool children too, and `Stack` kills everything it started when its
`with` block ends, whatever happened inside. Output goes to a log file per
process, read back when a process does not come up (and by tests that wait for
a line in it).

Only the standard library: bench scripts import this before Django is set up.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# Environment a parent test or shell may hold that would change how a server process behaves (a test that
# imported rtcc_server.asgi holds the Daphne's pool size, which a worker must not inherit).
_SCRUBBED = ("CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE", "RTCC_FCM_CREDENTIALS_FILE", "RTCC_DB_POOL_SIZE")


def free_port() -> int:
    """A port free now on 127.0.0.1 (another process could take it before we bind; unlikely on a test box)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def database_url_for(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None
    # How to tell it is up; `Stack.ready()` runs it for processes started with wait=False.
    up: Callable[[], None] | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def signal_group(self, sig: int) -> None:
        # The process leads its own group (start_new_session): this reaches its children and nothing else.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL the process and its children, as a crash would."""
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL what is left after `timeout`."""
        if self.alive():
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Children (a worker's pool) may outlive their parent's exit.
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=2)

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode} before {what}:\n"
                                   + self.log()[-3000:])
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no {what} after {timeout:.0f} s:\n" + self.log()[-3000:])

    def wait_for_log(self, text: str, timeout: float = 30.0, *, after: int = 0) -> int:
        """Wait until `text` appears in the log after character `after`; returns where it ends."""
        found = 0

        def seen() -> bool:
            nonlocal found
            position = self.log().find(text, after)
            found = position + len(text) if position >= 0 else 0
            return position >= 0

        self.wait_for(seen, repr(text), timeout)
        return found


@dataclass
class Stack:
    """The processes of one test or bench run; every one is killed when the `with` block ends."""

    database_url: str
    redis_url: str = ""
    wake_channel: str = field(default_factory=lambda: f"rtcc-faults-{secrets.token_hex(4)}.wake")
    fcm_endpoint: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rtcc-faults-")))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(40))
    keep_logs: bool = False

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # A crash is what these processes are tested against: no graceful shutdown needed at the end.
        for proc in reversed(self.procs):
            proc.kill()
        if self.keep_logs:
            print(f"process logs kept in {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        env.update({
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "RTCC_SECRET_KEY": self.secret_key,
            "RTCC_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "RTCC_DELIVERY_WAKE_CHANNEL": self.wake_channel,
            "RTCC_VAR_DIR": str(self.workdir / "var"),
            "RTCC_LOG_LEVEL": "INFO",
            "RTCC_TLS": "false",  # plain HTTP on 127.0.0.1: no HTTPS redirect
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
        })
        if self.fcm_endpoint:
            env.update({"RTCC_FCM_PROJECT_ID": "rtcc-fake", "RTCC_FCM_ENDPOINT": self.fcm_endpoint})
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, argv: list[str], *, port: int | None = None, env: dict[str, str] | None = None) -> Proc:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(argv, cwd=ROOT, env=env if env is not None else self.env(),  # noqa: S603
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        proc = Proc(name=name, popen=popen, log_path=log_path, port=port)
        self.procs.append(proc)
        return proc

    def redis(self, port: int | None = None, name: str = "redis") -> Proc:
        """A redis-server of our own (no persistence: a kill loses what it held, as a crash would)."""
        port = port or free_port()
        proc = self._spawn(name, [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(self.workdir)], port=port)
        proc.wait_for(lambda: port_open(port), f"redis on port {port}", 10)
        if not self.redis_url:
            self.redis_url = f"redis://127.0.0.1:{port}/0"
        return proc

    def ready(self) -> None:
        """Wait for every process started with wait=False (starting them together saves seconds a test)."""
        for proc in self.procs:
            if proc.up is not None:
                proc.up()
                proc.up = None

    def _started(self, proc: Proc, up: Callable[[], None], wait: bool) -> Proc:
        proc.up = up
        if wait:
            self.ready()
        return proc

    def daphne(self, name: str = "daphne", port: int | None = None, *, wait: bool = True) -> Proc:
        port = port or free_port()
        proc = self._spawn(name, [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                  "rtcc_server.asgi:application"], port=port)
        return self._started(proc, lambda: proc.wait_for(lambda: port_open(port), f"daphne on {port}", 60), wait)

    def worker(self, name: str = "worker", concurrency: int = 2, *, wait: bool = True) -> Proc:
        proc = self._spawn(name, [sys.executable, "-m", "celery", "-A", "rtcc_server", "worker",
                                  f"--concurrency={concurrency}", "--pool=prefork", "--loglevel=INFO",
                                  "--without-gossip", "--without-mingle", "--without-heartbeat",
                                  "-n", f"{name}-{secrets.token_hex(3)}@%h"])

        def up() -> None:
            proc.wait_for_log(" ready.", timeout=60)

        return self._started(proc, up, wait)

    def dispatcher(self, name: str = "dispatcher", *, wait: bool = True) -> Proc:
        proc = self._spawn(name, [sys.executable, "manage.py", "delivery_dispatcher", "--verbosity", "2"])
        # It says nothing until it has work; up means Django has started (its first database connection).
        db_port = urlsplit(self.database_url).port or 5432
        return self._started(
            proc, lambda: proc.wait_for(lambda: _has_db_connection(proc.pid, db_port), "dispatcher up", 60), wait)

    def fake_fcm(self, name: str = "fake-fcm") -> tuple[Proc, str]:
        """The fake FCM in a process of its own (so it never shares a GIL with the sender); returns its URL."""
        proc = self._spawn(name, [sys.executable, "-m", "tests.fakes.fcm_server", "--port", "0", "--seconds", "3600"])
        end = proc.wait_for_log("fake-fcm url=", timeout=20)
        url = proc.log()[end:].split()[0]
        self.fcm_endpoint = url
        return proc, url


def _has_db_connection(pid: int, port: int) -> bool:
    """Whether the process holds a TCP connection to the database's port (read from /proc, no tools needed)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[2].endswith(f":{port:04X}") and fields[9] in inodes:
                return True
    return False


def pool_children(proc: Proc) -> list[int]:
    """Pids of the direct children of a process (a prefork worker's pool), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == proc.pid:
                children.append(int(entry.name))
    return sorted(children)
