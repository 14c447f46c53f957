"""What the websocket benchmarks share: server processes, phone-like stream clients, a wake clock, a bare baseline.

- `Processes` starts our servers (redis-server, Daphne, Celery, the bare baseline)
  in their own process groups on 127.0.0.1 and kills every one of them at the end,
  also on Ctrl-C or SIGTERM.
- `ClientPool` runs stream clients in separate processes (a 2-core machine cannot
  time 1,000 sockets from the process that drives the servers). Every client does
  what a phone does (docs/delivery.md): a ticket over HTTP with its bearer token,
  the socket with an Origin, a hello with its last epoch and offset, an ack per
  event; it records when each event arrived and every offset it applied. The same
  client code talks to the bare baseline, which skips only the ticket.
- `WakeClock` subscribes to Redis channels and notes when each message was
  published (as seen by a subscriber, like the servers' own subscriptions).
- `python bench/_ws.py baseline --port P --redis URL --channel C`: a bare
  `websockets` server fed by one Redis SUBSCRIBE, forwarding each message to every
  socket; the yardstick our server is measured against.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
HOST = "127.0.0.1"
# Messages the server itself sends; anything else on the stream is an event.
CONTROL = frozenset({"ready", "resync", "ping", "revoked", "error"})
# How long a client holds its cumulative ack, as the terminal does (apps/web/static/web/rtcc.js).
ACK_DELAY = 0.25


# --- Server processes ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, *, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout:.0f} s")


class Processes:
    """Every process a bench starts, each in its own process group; `stop_all` ends them (SIGTERM, then SIGKILL)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
              port: int | None = None) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        # argv is built here from fixed paths and ports, never from outside input.
        proc = subprocess.Popen(list(argv), cwd=ROOT, env=env, stdout=log,  # noqa: S603
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.started[name] = proc
        if port is not None:
            wait_port(port, proc=proc)
        return proc

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        proc = self.started.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def stop_all(self) -> None:
        for name in reversed(list(self.started)):
            self.stop(name)


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """A SIGTERM unwinds like Ctrl-C, so every `finally` that kills a process runs."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def redis_start(procs: Processes, name: str = "redis") -> str:
    """A redis-server of the bench's own on a free port: its Celery queue, cache and wakes cross nobody's."""
    port = free_port()
    procs.start(name, ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
                       "--maxclients", "10000"], port=port)
    return f"redis://{HOST}:{port}/0"


def server_env(*, database_url: str, redis_url: str, wake_channel: str, **extra: str) -> dict[str, str]:
    """The environment our processes run with in production (rtcc_server/settings.py), pointed at the bench's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RTCC_", "DJANGO_", "CELERY_"))}
    env.update({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "RTCC_DELIVERY_WAKE_CHANNEL": wake_channel,
        "RTCC_SECRET_KEY": "bench-" + "k" * 40, "RTCC_ALLOWED_HOSTS": HOST, "DJANGO_SETTINGS_MODULE":
        "rtcc_server.settings", "RTCC_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", "RTCC_TLS": "false",
    })
    env.update(extra)
    return env


# Daphne builds its event loop when daphne.server is imported; installing uvloop's policy first makes it uvloop.
_DAPHNE_UVLOOP = ("import asyncio, sys, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "
                  "from daphne.cli import CommandLineInterface; sys.argv[0] = 'daphne'; "
                  "CommandLineInterface.entrypoint()")


def daphne_start(procs: Processes, name: str, port: int, env: dict[str, str], *,
                 uvloop: bool = False) -> subprocess.Popen[bytes]:
    """Daphne as the Procfile runs it (`daphne -b 127.0.0.1 -p <port> rtcc_server.asgi:application`)."""
    args = ["-b", HOST, "-p", str(port), "rtcc_server.asgi:application"]
    argv = [PYTHON, "-c", _DAPHNE_UVLOOP, *args] if uvloop else [str(ROOT / ".venv/bin/daphne"), *args]
    # rtcc_server/asgi.py gives every Daphne its connection pool; the worker keeps persistent connections.
    proc = procs.start(name, argv, env=env, port=port)
    # The first request loads the URLconf and DRF; do it before anything is measured.
    import httpx

    httpx.get(f"http://{HOST}:{port}/api/v1/stream/ticket", timeout=30)
    return proc


def celery_start(procs: Processes, env: dict[str, str], *, concurrency: int = 2) -> subprocess.Popen[bytes]:
    proc = procs.start("celery", [str(ROOT / ".venv/bin/celery"), "-A", "rtcc_server", "worker",
                                  "--loglevel=WARNING", f"--concurrency={concurrency}", "--without-gossip",
                                  "--without-mingle", "--without-heartbeat"], env=env)
    redis_url = env["REDIS_URL"]
    import redis

    # Ready when it consumes: a worker that is up has registered itself as a consumer of the "celery" queue.
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the Celery worker exited at start; see its log")
        if client.keys("_kombu.binding.*"):
            time.sleep(1.0)
            return proc
        time.sleep(0.2)
    raise TimeoutError("the Celery worker did not start within 60 s")


@dataclass
class Stack:
    """Our production processes for one bench run: Redis, Daphnes, one Celery worker."""

    env: dict[str, str]
    redis_url: str
    wake_channel: str
    ports: list[int]
    daphnes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def http(self, index: int) -> str:
        return f"http://{HOST}:{self.ports[index % len(self.ports)]}"

    def ws(self, index: int) -> str:
        return f"ws://{HOST}:{self.ports[index % len(self.ports)]}/ws/v1/stream"


def stack_start(procs: Processes, *, database_url: str, daphnes: int = 2, uvloop: bool = False,
                celery_concurrency: int = 2) -> Stack:
    redis_url = redis_start(procs)
    channel = f"rtcc.bench.{os.getpid()}.{secrets.token_hex(4)}.wake"
    env = server_env(database_url=database_url, redis_url=redis_url, wake_channel=channel)
    stack = Stack(env=env, redis_url=redis_url, wake_channel=channel, ports=[free_port() for _ in range(daphnes)])
    for i, port in enumerate(stack.ports):
        stack.daphnes.append(daphne_start(procs, f"daphne{i + 1}", port, env, uvloop=uvloop))
    celery_start(procs, env, concurrency=celery_concurrency)
    return stack


def baseline_start(procs: Processes, *, port: int, redis_url: str, channel: str,
                   uvloop: bool = False) -> subprocess.Popen[bytes]:
    argv = [PYTHON, str(Path(__file__).resolve()), "baseline", "--port", str(port), "--redis", redis_url,
            "--channel", channel, *(["--uvloop"] if uvloop else [])]
    return procs.start("baseline", argv, port=port)


# --- The wake clock --------------------------------------------------------------------------------------------


def message_key(data: bytes | str) -> int | None:
    """The push id a published message is about: our wake (`{"k": "ev", "m": <event prefix>}`) or a baseline event."""
    message = json.loads(data)
    if message.get("k") == "ev":
        message = json.loads(message["m"] + "}")
    elif message.get("k") is not None:
        return None
    push = (message.get("payload") or {}).get("push")
    return push if isinstance(push, int) else None


class WakeClock(threading.Thread):
    """When each message was published on these channels, as a subscriber sees it (time.monotonic)."""

    def __init__(self, redis_url: str, channels: Sequence[str]) -> None:
        super().__init__(daemon=True, name="wake-clock")
        self.redis_url, self.channels = redis_url, list(channels)
        self.seen: dict[tuple[str, int], float] = {}
        self.subscribed = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        import redis

        pubsub = redis.Redis.from_url(self.redis_url).pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(*self.channels)
        self.subscribed.set()
        while not self.stopping.is_set():
            message = pubsub.get_message(timeout=0.5)
            if message is None:
                continue
            t = time.monotonic()
            key = message_key(message["data"])
            channel = message["channel"].decode()
            if key is not None:
                self.seen.setdefault((channel, key), t)
        pubsub.close()

    def __enter__(self) -> WakeClock:
        self.start()
        self.subscribed.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.join(5)


# --- Stream clients (run in ClientPool's processes) ------------------------------------------------------------


class StreamClient:
    """One phone: ticket, socket, hello with its last position, ack per event; notes what it applied and when."""

    def __init__(self, spec: dict[str, Any], worker: _ClientWorker) -> None:
        self.spec, self.worker = spec, worker
        self.id: int = spec["id"]
        self.kind: str = spec["kind"]
        self.epoch: str | None = None
        self.offset = 0
        self.start_epoch: str | None = None
        self.start_offset = 0
        self.applied: list[int] = []
        self.resyncs = 0
        self.retries = 0
        self.problems: list[str] = []
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.ack_offset = 0
        self.ack_timer: asyncio.TimerHandle | None = None
        # Where the last (re)connect spent its time, in seconds: the old socket's close, the ticket request,
        # the websocket handshake, and the hello until "ready" (the server's replay).
        self.phases: dict[str, float] = {}

    async def open(self, *, timeout: float = 30.0) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        url = self.spec["ws"]
        token = self.spec.get("token")
        t0 = time.monotonic()
        if token:
            response = await self.worker.http.post(self.spec["http"] + "/api/v1/stream/ticket",
                                                   headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 201:
                raise RuntimeError(f"ticket refused: {response.status_code} {response.text[:200]}")
            url += "?ticket=" + response.json()["ticket"]
        self.ready = asyncio.Event()
        t1 = time.monotonic()
        self.ws = await connect(url, origin=Origin(self.spec["origin"]), compression=None, ping_interval=None,
                                open_timeout=timeout, close_timeout=5, max_queue=None)
        t2 = time.monotonic()
        await self.ws.send(json.dumps({"type": "hello", "epoch": self.epoch, "offset": self.offset}))
        self.reader = asyncio.create_task(self._read(self.ws))
        await asyncio.wait_for(self.ready.wait(), timeout)
        self.phases.update(ticket=t1 - t0, socket=t2 - t1, hello=time.monotonic() - t2)

    async def _read(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                t = time.monotonic()
                if ws is not self.ws:
                    return  # a socket this phone has already given up on: it shows nothing from it
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    continue
                if kind == "resync":
                    # A first connection (or a gap the server no longer has): take its position, refetch state.
                    self.epoch, self.offset = message["epoch"], message["offset"]
                    if self.start_epoch is None:
                        self.start_epoch, self.start_offset = self.epoch, self.offset
                    else:
                        self.resyncs += 1
                    continue
                if kind == "ready":
                    self.ready.set()
                    continue
                if kind in CONTROL:
                    self.problems.append(f"{kind}: {raw[:100]!r}")
                    continue
                offset = message["offset"]
                if message["epoch"] != self.epoch:
                    self.problems.append(f"event of epoch {message['epoch']} on stream of epoch {self.epoch}")
                self.applied.append(offset)
                self.offset = offset
                self.worker.receipt(self.kind, message.get("payload", {}).get("push"), t)
                self._ack_later(ws, offset)

    def _ack_later(self, ws: Any, offset: int) -> None:
        # Acks are cumulative: one per ACK_DELAY covers every event applied meanwhile (docs/delivery.md).
        self.ack_offset = offset
        if self.ack_timer is None:
            self.ack_timer = asyncio.get_running_loop().call_later(ACK_DELAY, self._ack_send, ws)

    def _ack_send(self, ws: Any) -> None:
        self.ack_timer = None
        task = asyncio.create_task(ws.send(f'{{"type":"ack","offset":{self.ack_offset}}}'))
        self.worker.background.add(task)
        task.add_done_callback(self.worker.background.discard)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.reader, 10)
        self.ws = self.reader = None

    async def reconnect(self, *, budget: float = 60.0) -> float:
        """Drop the socket and come back as a phone does: new ticket, hello with the last applied position.

        A failed attempt (a refused or timed-out handshake) is retried after a short random pause, as
        phones do, until `budget` seconds have passed; the time returned includes the retries.
        """
        start = time.monotonic()
        await self.close()
        self.phases = {"close": time.monotonic() - start}
        while True:
            try:
                await self.open()
                return time.monotonic() - start
            except Exception:
                await self.close()
                self.retries += 1
                if time.monotonic() - start > budget:
                    raise
                await asyncio.sleep(random.uniform(0.5, 1.5))


class _ClientWorker:
    """The event loop of one client process: commands from the driver over a pipe, replies and notices back."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.clients: list[StreamClient] = []
        self.receipts: list[tuple[str, int, float]] = []
        self.counts: dict[tuple[str, int], int] = defaultdict(int)
        self.per_kind: dict[str, int] = defaultdict(int)
        self.http: Any = None
        self.background: set[asyncio.Task[None]] = set()

    def receipt(self, kind: str, key: Any, t: float) -> None:
        if not isinstance(key, int):
            return
        self.receipts.append((kind, key, t))
        self.counts[kind, key] += 1
        if self.counts[kind, key] == self.per_kind[kind]:
            # Every socket of this process that should have it has it: the driver may send the next one.
            self.conn.send({"got": [kind, key]})

    async def run(self) -> None:
        import httpx

        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self.http = httpx.AsyncClient(timeout=60, limits=limits)
        loop = asyncio.get_running_loop()
        commands: asyncio.Queue[dict[str, Any]] = asyncio.Queue()


        def read_commands() -> None:
            # A thread, not loop.add_reader: that would make the pipe non-blocking, and a large reply then
            # fails half-sent.
            while True:
                try:
                    command = self.conn.recv()
                except (EOFError, OSError):
                    command = {"cmd": "quit"}
                loop.call_soon_threadsafe(commands.put_nowait, command)
                if command["cmd"] == "quit":
                    return

        threading.Thread(target=read_commands, daemon=True, name="commands").start()
        while True:
            command = await commands.get()
            name = command["cmd"]
            if name == "quit":
                break
            try:
                reply = await getattr(self, "do_" + name)(**command.get("args", {}))
            except Exception as exc:  # reported to the driver, which stops the bench
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            self.conn.send({"reply": reply})
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)
        await self.http.aclose()

    async def do_connect(self, specs: list[dict[str, Any]], concurrency: int = 32) -> dict[str, Any]:
        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []

        async def one(spec: dict[str, Any]) -> None:
            client = StreamClient(spec, self)
            async with gate:
                try:
                    await client.open()
                except Exception as exc:
                    failures.append(f"{spec['id']}: {type(exc).__name__}: {exc}")
                    return
            self.clients.append(client)
            self.per_kind[client.kind] += 1

        await asyncio.gather(*(one(spec) for spec in specs))
        return {"connected": len(specs) - len(failures), "failures": failures[:5], "failed": len(failures)}

    async def do_receipts(self) -> dict[str, Any]:
        receipts, self.receipts = self.receipts, []
        self.counts.clear()
        return {"receipts": receipts}

    async def do_storm(self, within: float, seed: int) -> dict[str, Any]:
        """Every client drops its socket at a random moment within `within` seconds and comes straight back."""
        rng = random.Random(seed)
        durations: list[float] = []
        failures: list[str] = []

        async def one(client: StreamClient, delay: float) -> None:
            await asyncio.sleep(delay)
            try:
                durations.append(await client.reconnect())
            except Exception as exc:
                failures.append(f"{client.id}: {type(exc).__name__}: {exc}")

        await asyncio.gather(*(one(c, rng.uniform(0, within)) for c in self.clients))
        return {"durations": durations, "phases": [c.phases for c in self.clients if "hello" in c.phases],
                "failures": failures[:5], "failed": len(failures),
                "retries": sum(c.retries for c in self.clients)}

    async def do_positions(self) -> dict[str, Any]:
        return {"clients": [{"id": c.id, "kind": c.kind, "epoch": c.epoch, "offset": c.offset,
                             "start_epoch": c.start_epoch, "start_offset": c.start_offset, "applied": c.applied,
                             "resyncs": c.resyncs, "problems": c.problems[:3], "connected": c.ws is not None}
                            for c in self.clients]}

    async def do_close(self) -> dict[str, Any]:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)
        closed = len(self.clients)
        self.clients.clear()
        self.per_kind.clear()
        return {"closed": closed}


def _client_process(conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when clients stop
    try:
        import uvloop

        uvloop.run(_ClientWorker(conn).run())
    except ImportError:
        asyncio.run(_ClientWorker(conn).run())


class ClientPool:
    """Stream clients spread over `processes` processes; `call` sends one command to each and gathers replies."""

    def __init__(self, processes: int = 2) -> None:
        context = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        self.got: set[tuple[str, int, int]] = set()
        for _ in range(processes):
            parent, child = context.Pipe()
            proc = context.Process(target=_client_process, args=(child,), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take(self, index: int, message: dict[str, Any]) -> dict[str, Any] | None:
        if "got" in message:
            kind, key = message["got"]
            self.got.add((kind, key, index))
            return None
        return message["reply"]

    def call(self, cmd: str, args: Sequence[dict[str, Any]] | dict[str, Any] | None = None,
             *, timeout: float = 300.0) -> list[dict[str, Any]]:
        per_proc = args if isinstance(args, list) else [args or {}] * len(self.conns)
        for conn, proc_args in zip(self.conns, per_proc, strict=True):
            conn.send({"cmd": cmd, "args": proc_args})
        replies: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(replies) < len(self.conns):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"clients did not answer {cmd!r} within {timeout:.0f} s")
            for ready in wait([c for i, c in enumerate(self.conns) if i not in replies], remaining):
                index = self.conns.index(ready)  # type: ignore[arg-type]
                reply = self._take(index, self.conns[index].recv())
                if reply is not None:
                    if "error" in reply:
                        raise RuntimeError(f"client process {index}: {reply['error']}")
                    replies[index] = reply
        return [replies[i] for i in range(len(self.conns))]

    def wait_got(self, kind: str, key: int, *, expect: Sequence[int], timeout: float) -> bool:
        """Wait until every process in `expect` said all its `kind` sockets got `key`; False on timeout."""
        deadline = time.monotonic() + timeout
        while not all((kind, key, i) in self.got for i in expect):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for ready in wait(self.conns, remaining):
                index = self.conns.index(ready)  # type: ignore[arg-type]
                self._take(index, self.conns[index].recv())
        return True

    def stop(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.send({"cmd": "quit"})
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        self.procs.clear()


def split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """Round-robin: part i gets items i, i + parts, ..."""
    return [list(items[i::parts]) for i in range(parts)]


# --- Seeding (in the driver, after _support.setup_django) ------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    analyst_token: str
    officers: list[tuple[int, str]]  # (user id, bearer token)
    call_id: int


def stream_world_seed(officers: int) -> Seeded:
    """One agency, an analyst and `officers` officers each signed in on one phone, and a call with a briefing.

    Sessions are written directly (the sign-in path, MFA included, is not what the
    stream benches measure); tokens are made as `session_issue` makes them.
    """
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from apps.accounts.models import Agency, Device, DeviceSession, Role, User
    from apps.accounts.services import DeviceInfo, session_issue, token_hash
    from apps.briefings.models import Briefing, BriefingVersion
    from apps.calls.models import Call, Category

    now = timezone.now()
    agency = Agency.objects.create(name="Bench City Police Department", ori="WA0990000")
    password = make_password(None)
    analyst = User.objects.create(username="bench-analyst", role=Role.ANALYST, agency=agency, password=password)
    analyst_token = session_issue(user=analyst, device_info=DeviceInfo(name="desk", kind="desktop", platform="web"),
                                  ip=HOST).token
    users = User.objects.bulk_create([User(username=f"officer{i:05d}", role=Role.OFFICER, agency=agency,
                                           password=password, first_name="Officer", last_name=str(i))
                                      for i in range(officers)])
    devices = Device.objects.bulk_create([Device(user=u, name="phone", kind="phone", platform="android",
                                                 last_seen_at=now) for u in users])
    tokens = [secrets.token_urlsafe(32) for _ in users]
    DeviceSession.objects.bulk_create([
        DeviceSession(device=d, token_hash=token_hash(t), created_at=now, last_used_at=now,
                      expires_at=now + timedelta(seconds=settings.SESSION_MAX_SECONDS))
        for d, t in zip(devices, tokens, strict=True)])
    call = Call.objects.create(agency=agency, event_number="BENCH-1", cad_code="DISTURB", cad_description="Disturbance",
                               category=Category.DISTURBANCE, priority=2, address="92XX BLOCK OF RAINIER AV S",
                               received_at=now)
    # One stored version, written directly: the benches push it, they do not measure how it is assembled.
    briefing = Briefing.objects.create(call=call, agency=agency, current_version=1)
    BriefingVersion.objects.create(briefing=briefing, number=1, reason=BriefingVersion.Reason.CALL_CREATED,
                                   created_at=now, items=[])
    return Seeded(analyst_token=analyst_token, officers=[(u.pk, t) for u, t in zip(users, tokens, strict=True)],
                  call_id=call.pk)


def stream_specs(stack: Stack, officers: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    """One client per officer, spread over the Daphnes as a load balancer would."""
    return [{"id": uid, "kind": "rtcc", "token": token, "http": stack.http(i), "ws": stack.ws(i),
             "origin": stack.http(i)} for i, (uid, token) in enumerate(officers)]


# --- The bare baseline server ----------------------------------------------------------------------------------


async def _baseline(port: int, redis_url: str, channel: str) -> None:
    from redis import asyncio as aioredis
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed

    sockets: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            hello = json.loads(await ws.recv())
            if hello.get("type") != "hello":
                await ws.close(4400)
                return
            # What our server answers a first connection: a position, then ready.
            await ws.send('{"type":"resync","epoch":"baseline","offset":0}')
            await ws.send('{"type":"ready","epoch":"baseline","offset":0}')
            sockets.add(ws)
            try:
                async for raw in ws:
                    json.loads(raw)  # acks: read like our server reads them, nothing stored
            finally:
                sockets.discard(ws)

    async with serve(handler, HOST, port, compression=None, ping_interval=None, max_queue=None):
        client = aioredis.from_url(redis_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel)
        while True:
            message = await pubsub.get_message(timeout=5.0)
            if message is not None:
                broadcast(sockets, message["data"].decode())


def main() -> None:
    parser = argparse.ArgumentParser(description="A bare websockets server fed by one Redis SUBSCRIBE.")
    parser.add_argument("role", choices=["baseline"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        if args.uvloop:
            import uvloop

            uvloop.run(_baseline(args.port, args.redis, args.channel))
        else:
            asyncio.run(_baseline(args.port, args.redis, args.channel))


if __name__ == "__main__":
    main()
