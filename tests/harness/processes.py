"""Starting and stopping the production processes on free 127.0.0.1 ports, for fault tests and benches.

Each process runs in its own session (process group), so a signal reaches a Celery
worker's pool children too, and `Stack` kills everything it started when its `with`
block ends, whatever happened inside (`stop_all` ends them gracefully instead: SIGTERM,
then SIGKILL). Output goes to a log file per process, read back when a process does
not come up (and by tests that wait for a line in it). `terminate_on_sigterm` makes a
SIGTERM unwind like Ctrl-C, so a bench killed from outside still ends its servers.

Only the standard library (and redis-py, imported when a worker is started): bench
scripts import this before Django is set up.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# A server process runs with production's defaults plus what the Stack sets: nothing a parent test or shell
# holds under these prefixes (a test's CELERY_TASK_ALWAYS_EAGER, a developer's RTCC_DEMO) reaches it.
_SCRUBBED_PREFIXES = ("RTCC_", "DJANGO_", "CELERY_")
# Daphne builds its event loop when daphne.server is imported; installing uvloop's policy first makes it uvloop.
_DAPHNE_UVLOOP = ("import asyncio, sys, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "
                  "from daphne.cli import CommandLineInterface; sys.argv[0] = 'daphne'; "
                  "CommandLineInterface.entrypoint()")


def daphne_endpoint(host: str, port: int) -> str:
    """Daphne's listening socket with the Procfile's accept queue (Twisted's default holds 50 connections: in a
    reconnect storm the kernel dropped the rest, and each dropped phone waited a SYN retry, 1 s then 3 s)."""
    return f"tcp:port={port}:interface={host}:backlog=1024"


def free_port() -> int:
    """A port free now on 127.0.0.1 (another process could take it before we bind; unlikely on a test box)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
        return True
    return False


def database_url_for(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """A SIGTERM unwinds like Ctrl-C, so every `finally` that ends a process runs."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def listening(port: int, what: str, *, timeout: float = 60.0) -> Callable[[Proc], None]:
    """An `up` check for Stack.start: something listens on `port`."""

    def up(proc: Proc) -> None:
        proc.wait_for(lambda: port_open(port), f"{what} on port {port}", timeout)

    return up


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None
    # What it is ("daphne", "worker", ...): Stack.daphnes finds the web servers by it.
    role: str = ""
    # How to tell it is up; `Stack.ready()` runs it for processes started with wait=False.
    up: Callable[[], None] | None = None
    # Once it has been killed or stopped its group is never signalled again (the id could be another's by then).
    ended: bool = False

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
        if self.ended:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL the process and its children, as a crash would."""
        self.signal_group(signal.SIGKILL)
        self.ended = True
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL what is left after `timeout`."""
        if self.alive():
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # Children (a worker's pool) may outlive their parent's exit.
        self.kill()

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
    """The processes of one test or bench run; every one is killed when the `with` block ends.

    Logs go to `workdir`: `log_dir` (a bench's var/bench/<name>) or a temporary folder,
    removed at the end unless `keep_logs`.
    """

    database_url: str = ""
    redis_url: str = ""
    wake_channel: str = field(default_factory=lambda: f"rtcc-harness-{secrets.token_hex(4)}.wake")
    fcm_endpoint: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(40))
    keep_logs: bool = False
    # The servers' RTCC_LOG_LEVEL and the workers' --loglevel: tests read INFO lines, benches keep it quiet.
    log_level: str = "INFO"
    # A folder of the caller's for the logs (left as it is at the end); without it, a temporary one.
    log_dir: Path | None = None
    workdir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir = self.log_dir or Path(tempfile.mkdtemp(prefix="rtcc-harness-"))
        self.workdir.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # A crash is what these processes are tested against: no graceful shutdown needed at the end.
        for proc in reversed(self.procs):
            proc.kill()
        if self.log_dir is not None:
            return
        if self.keep_logs:
            print(f"process logs kept in {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stop_all(self) -> None:
        """End every process gracefully (SIGTERM, then SIGKILL after 10 s), the last started first."""
        for proc in reversed(self.procs):
            proc.stop(timeout=10.0)

    def get(self, name: str) -> Proc:
        """The process last started under `name`."""
        return next(p for p in reversed(self.procs) if p.name == name)

    @property
    def daphnes(self) -> list[Proc]:
        return [p for p in self.procs if p.role == "daphne"]

    @property
    def ports(self) -> list[int]:
        return [p.port for p in self.daphnes if p.port is not None]

    def http(self, index: int) -> str:
        """Daphne number `index` (round-robin, as a load balancer spreads clients)."""
        return f"http://{HOST}:{self.ports[index % len(self.ports)]}"

    def ws(self, index: int) -> str:
        return f"ws://{HOST}:{self.ports[index % len(self.ports)]}/ws/v1/stream"

    @property
    def env(self) -> dict[str, str]:
        """The environment our processes run with in production (rtcc_server/settings.py), pointed at the Stack's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        env.update({
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DJANGO_SETTINGS_MODULE": "rtcc_server.settings",
            "RTCC_SECRET_KEY": self.secret_key,
            "RTCC_ALLOWED_HOSTS": f"{HOST},localhost",
            "RTCC_DELIVERY_WAKE_CHANNEL": self.wake_channel,
            "RTCC_VAR_DIR": str(self.workdir / "var"),
            "RTCC_LOG_LEVEL": self.log_level,
            "RTCC_TLS": "false",  # plain HTTP on 127.0.0.1: no HTTPS redirect
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
        })
        if self.fcm_endpoint:
            env.update({"RTCC_FCM_PROJECT_ID": "rtcc-fake", "RTCC_FCM_ENDPOINT": self.fcm_endpoint})
        env.update(self.extra_env)
        return env

    def start(self, name: str, argv: Sequence[str], *, port: int | None = None, env: dict[str, str] | None = None,
              role: str = "", up: Callable[[Proc], None] | None = None, wait: bool = True) -> Proc:
        """Run `argv` from the repository root in a process group of its own, its output in `<workdir>/<name>.log`.

        It is up when `up(proc)` returns, or, without `up`, when something listens on `port`;
        with wait=False, `ready()` waits for it later.
        """
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            # argv is built by our callers from fixed paths and ports, never from outside input.
            popen = subprocess.Popen(list(argv), cwd=ROOT, env=env if env is not None else self.env,  # noqa: S603
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        proc = Proc(name=name, popen=popen, log_path=log_path, port=port, role=role)
        self.procs.append(proc)
        if up is None and port is not None:
            up = listening(port, role or name)
        if up is not None:
            check = up
            proc.up = lambda: check(proc)
            if wait:
                self.ready()
        return proc

    def ready(self) -> None:
        """Wait for every process started with wait=False (starting them together saves seconds a test)."""
        for proc in self.procs:
            if proc.up is not None:
                proc.up()
                proc.up = None

    def redis(self, port: int | None = None, name: str = "redis") -> Proc:
        """A redis-server of our own (no persistence: a kill loses what it held, as a crash would)."""
        port = port or free_port()
        # --maxclients: a storm of 1,000 phones plus every server's connections.
        proc = self.start(name, [REDIS_SERVER, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly",
                                 "no", "--dir", str(self.workdir), "--maxclients", "10000"], port=port,
                          role="redis", up=listening(port, "redis", timeout=10))
        if not self.redis_url:
            self.redis_url = f"redis://{HOST}:{port}/0"
        return proc

    def daphne(self, name: str = "daphne", port: int | None = None, *, wait: bool = True,
               uvloop: bool = False) -> Proc:
        """Daphne as the Procfile runs it (`daphne -e tcp:port=<port>:interface=127.0.0.1:backlog=1024 ...`)."""
        port = port or free_port()
        args = ["-e", daphne_endpoint(HOST, port), "rtcc_server.asgi:application"]
        argv = [sys.executable, "-c", _DAPHNE_UVLOOP, *args] if uvloop else [sys.executable, "-m", "daphne", *args]
        return self.start(name, argv, port=port, role="daphne", wait=wait)

    def worker(self, name: str = "worker", concurrency: int = 2, *, wait: bool = True) -> Proc:
        """A Celery worker (prefork, as the Procfile runs it); up once it consumes from its broker."""
        node = f"{name}-{secrets.token_hex(3)}@{socket.gethostname()}"
        return self.start(name, [sys.executable, "-m", "celery", "-A", "rtcc_server", "worker",
                                 f"--concurrency={concurrency}", "--pool=prefork", f"--loglevel={self.log_level}",
                                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", node],
                          role="worker", up=lambda proc: proc.wait_for(lambda: self._consuming(node),
                                                                       "worker consuming", 60), wait=wait)

    def _consuming(self, node: str) -> bool:
        # The last thing a worker binds before it reports ready is its own control queue, in the broker,
        # whatever its log level: the set kombu's Redis transport keeps for the "celery.pidbox" exchange.
        import redis

        with redis.Redis.from_url(self.redis_url) as client:
            return any(member.endswith(f"{node}.celery.pidbox".encode())
                       for member in client.smembers("_kombu.binding.celery.pidbox"))

    def dispatcher(self, name: str = "dispatcher", *, wait: bool = True) -> Proc:
        # It says nothing until it has work; up means Django has started (its first database connection).
        db_port = urlsplit(self.database_url).port or 5432
        return self.start(name, [sys.executable, "manage.py", "delivery_dispatcher", "--verbosity", "2"],
                          role="dispatcher", wait=wait,
                          up=lambda proc: proc.wait_for(lambda: _has_db_connection(proc.pid, db_port),
                                                        "dispatcher up", 60))

    def fake_fcm(self, name: str = "fake-fcm") -> tuple[Proc, str]:
        """The fake FCM in a process of its own (so it never shares a GIL with the sender); returns its URL."""
        proc = self.start(name, [sys.executable, "-m", "tests.fakes.fcm_server", "--port", "0", "--seconds", "3600"])
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
