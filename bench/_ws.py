"""What the websocket benchmarks share: server processes, phone-like stream clients, a wake clock, a bare baseline.

- `Processes` is the harness's `Stack` (tests/harness/processes.py, the fault tests'
  too) as the benches run it: logs in var/bench/<bench>, servers at WARNING.
  `stack_start` starts our servers on it (redis-server, two Daphne, Celery) in their
  own process groups on 127.0.0.1; every one of them is killed at the end, also on
  Ctrl-C or SIGTERM (`terminate_on_sigterm`).
- `ClientPool` runs stream clients in separate processes (a 2-core machine cannot
  time 1,000 sockets from the process that drives the servers). Every client is the
  harness's `StreamClient` (tests/harness/client.py), doing what a phone does
  (docs/delivery.md): a ticket over HTTP with its bearer token (or, coming back, the
  resume ticket its last socket handed over), the socket with an Origin, a hello with
  its last epoch and offset, a cumulative ack; it records when
  each event arrived and every offset it applied. The same client talks to the bare
  baseline, which skips only the ticket.
- `WakeClock` (a `Subscriber`) subscribes to Redis channels and notes when each message was
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
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Self, TypeVar

from _support import ROOT, server_url, servers_database

# The process harness and the stream client are tests/harness, shared with the fault tests.
sys.path.insert(0, str(ROOT))

from tests.harness.client import StreamClient
from tests.harness.processes import HOST, Proc, Stack, free_port, terminate_on_sigterm

__all__ = ["HOST", "ClientPool", "ClientProcesses", "Processes", "Seeded", "Subscriber", "WakeClock",
           "baseline_start", "free_port", "run_client_loop", "run_on_servers", "split", "stack_start",
           "stream_bench_start", "stream_specs", "stream_world_seed", "terminate_on_sigterm"]

# How long a client holds its cumulative ack, as the terminal does (apps/web/static/web/rtcc.js).
ACK_DELAY = 0.25


# --- Server processes ---------------------------------------------------------------------------------------


class Processes(Stack):
    """A bench's processes: their logs in `log_dir` (kept), the servers logging at WARNING."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(log_dir=log_dir, log_level="WARNING")


T = TypeVar("T")


def run_on_servers(args: argparse.Namespace, run: Callable[[argparse.Namespace, str, Processes], T], *,
                   database: str, log_dir: Path) -> T:
    """`run(args, database_url, procs)` for a bench that starts our servers: on a fresh database `database`
    (Django started on it), with every process it starts stopped at the end, also on SIGTERM, before the
    database is dropped (or kept with --keep)."""
    procs = Processes(log_dir)
    with terminate_on_sigterm(), \
            servers_database(server_url(), database, keep=args.keep, stop_servers=procs.stop_all) as database_url:
        return run(args, database_url, procs)


def stack_start(procs: Stack, *, database_url: str, daphnes: int = 2, uvloop: bool = False,
                celery_concurrency: int = 2) -> Stack:
    """Our production processes for one bench run: a redis-server of its own, Daphnes, one Celery worker.

    The redis-server is the bench's alone, so its Celery queue, cache and wakes cross nobody's.
    """
    procs.database_url = database_url
    procs.wake_channel = f"rtcc.bench.{os.getpid()}.{secrets.token_hex(4)}.wake"
    procs.redis()
    web = [procs.daphne(f"daphne{i + 1}", uvloop=uvloop, wait=False) for i in range(daphnes)]
    procs.worker("celery", concurrency=celery_concurrency, wait=False)
    procs.ready()
    # The first request loads what the first ticket needs; do it before anything is measured.
    import httpx

    for proc in web:
        httpx.get(f"http://{HOST}:{proc.port}/api/v1/stream/ticket", timeout=30)
    return procs


def baseline_start(procs: Stack, *, port: int, redis_url: str, channel: str, uvloop: bool = False) -> Proc:
    argv = [sys.executable, str(Path(__file__).resolve()), "baseline", "--port", str(port), "--redis", redis_url,
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


class Subscriber(threading.Thread):
    """A thread subscribed to Redis channels that hands each message to `heard` as it arrives.

    As a context manager it returns once subscribed, and stops the thread at the end.
    """

    def __init__(self, redis_url: str, channels: Sequence[str], *, name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.redis_url, self.channels = redis_url, list(channels)
        self.subscribed = threading.Event()
        self.stopping = threading.Event()

    def heard(self, channel: str, data: bytes) -> None:
        raise NotImplementedError

    def run(self) -> None:
        import redis

        pubsub = redis.Redis.from_url(self.redis_url).pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(*self.channels)
        self.subscribed.set()
        while not self.stopping.is_set():
            message = pubsub.get_message(timeout=0.5)
            if message is not None:
                self.heard(message["channel"].decode(), message["data"])
        pubsub.close()

    def __enter__(self) -> Self:
        self.start()
        self.subscribed.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.join(5)


class WakeClock(Subscriber):
    """When each message was published on these channels, as a subscriber sees it (time.monotonic)."""

    def __init__(self, redis_url: str, channels: Sequence[str]) -> None:
        super().__init__(redis_url, channels, name="wake-clock")
        self.seen: dict[tuple[str, int], float] = {}

    def heard(self, channel: str, data: bytes) -> None:
        t = time.monotonic()
        key = message_key(data)
        if key is not None:
            self.seen.setdefault((channel, key), t)


# --- Stream clients (run in ClientPool's processes) ------------------------------------------------------------


@dataclass
class _Phone:
    id: int
    kind: str  # which receipts it counts towards: "rtcc" (our server), "bare" (the baseline), ...
    client: StreamClient

    def position(self) -> dict[str, Any]:
        """Where it stands and what it applied (reconnect_storm checks it against the event log)."""
        c = self.client
        # Every phone here connected once, and a first connection is a resync: resyncs counts the later ones.
        return {"id": self.id, "kind": self.kind, "epoch": c.epoch, "offset": c.offset,
                "start_epoch": c.start_epoch, "start_offset": c.start_offset,
                "applied": [r.message["offset"] for r in c.events], "duplicates": len(c.duplicates),
                "resyncs": max(c.resyncs - 1, 0), "problems": c.problems[:3], "connected": c.connected}


class _ClientWorker:
    """The event loop of one client process: commands from the driver over a pipe, replies and notices back."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.phones: list[_Phone] = []
        self.receipts: list[tuple[str, int, float]] = []
        self.counts: dict[tuple[str, int], int] = defaultdict(int)
        self.per_kind: dict[str, int] = defaultdict(int)

    def receipt(self, kind: str, key: Any, t: float) -> None:
        if not isinstance(key, int):
            return
        self.receipts.append((kind, key, t))
        self.counts[kind, key] += 1
        if self.counts[kind, key] == self.per_kind[kind]:
            # Every socket of this process that should have it has it: the driver may send the next one.
            self.conn.send({"got": [kind, key]})

    async def run(self) -> None:
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
        await asyncio.gather(*(p.client.close() for p in self.phones), return_exceptions=True)

    def phone(self, spec: dict[str, Any]) -> _Phone:
        kind = spec["kind"]

        def applied(message: dict[str, Any], at: float) -> None:
            self.receipt(kind, message.get("payload", {}).get("push"), at)

        client = StreamClient(token=spec.get("token", ""), port=spec["port"], path=spec.get("path", StreamClient.path),
                              ack_delay=ACK_DELAY, on_event=applied)
        return _Phone(id=spec["id"], kind=kind, client=client)

    async def do_connect(self, specs: list[dict[str, Any]], concurrency: int = 32) -> dict[str, Any]:
        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []

        async def one(spec: dict[str, Any]) -> None:
            phone = self.phone(spec)
            async with gate:
                try:
                    await phone.client.connect(timeout=30.0)
                except Exception as exc:
                    failures.append(f"{spec['id']}: {type(exc).__name__}: {exc}")
                    return
            self.phones.append(phone)
            self.per_kind[phone.kind] += 1

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

        async def one(phone: _Phone, delay: float) -> None:
            await asyncio.sleep(delay)
            try:
                durations.append(await phone.client.reconnect())
            except Exception as exc:
                failures.append(f"{phone.id}: {type(exc).__name__}: {exc}")

        resumed_before = sum(p.client.resumed for p in self.phones)
        await asyncio.gather(*(one(p, rng.uniform(0, within)) for p in self.phones))
        return {"durations": durations, "resumed": sum(p.client.resumed for p in self.phones) - resumed_before,
                "phases": [p.client.phases for p in self.phones if "hello" in p.client.phases],
                "failures": failures[:5], "failed": len(failures),
                "retries": sum(p.client.retries for p in self.phones),
                "retried_for": sorted({p.client.retried_for for p in self.phones if p.client.retried_for})[:3]}

    async def do_positions(self) -> dict[str, Any]:
        return {"clients": [p.position() for p in self.phones]}

    async def do_close(self) -> dict[str, Any]:
        await asyncio.gather(*(p.client.close() for p in self.phones), return_exceptions=True)
        closed = len(self.phones)
        self.phones.clear()
        self.per_kind.clear()
        return {"closed": closed}


def run_client_loop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """A client process's event loop: uvloop's when it is installed, asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


def _client_process(conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when clients stop
    run_client_loop(_ClientWorker(conn).run)


class ClientProcesses:
    """`processes` spawned processes running `target`, each at the far end of its own pipe (`conns[i]`).

    `stop` asks every one to quit ({"cmd": "quit"}) and kills any still running 10 s later.
    """

    def __init__(self, target: Callable[[Connection], None], processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for _ in range(processes):
            parent, child = context.Pipe()
            proc = context.Process(target=target, args=(child,), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

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


class ClientPool(ClientProcesses):
    """Stream clients spread over `processes` processes; `call` sends one command to each and gathers replies."""

    def __init__(self, processes: int = 2) -> None:
        self.got: set[tuple[str, int, int]] = set()
        super().__init__(_client_process, processes)

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

    def connect(self, specs: Sequence[dict[str, Any]]) -> tuple[int, list[str]]:
        """Open the sockets `specs` name, spread over the processes: how many connected, and the first failures."""
        replies = self.call("connect", [{"specs": part} for part in split(specs, len(self.conns))])
        return sum(r["connected"] for r in replies), [f for r in replies for f in r["failures"]]


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


def stream_bench_start(procs: Stack, *, officers: int, database_url: str, uvloop: bool) -> tuple[Seeded, Stack]:
    """What a stream bench starts from: the world seeded (stream_world_seed), then our servers on it."""
    seeded = stream_world_seed(officers)
    print(f"seeded 1 analyst and {officers:,} officers with phone sessions, 1 call with a briefing")
    return seeded, stack_start(procs, database_url=database_url, uvloop=uvloop)


def stream_specs(stack: Stack, officers: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    """One client per officer, spread over the Daphnes as a load balancer would."""
    return [{"id": uid, "kind": "rtcc", "token": token, "port": stack.ports[i % len(stack.ports)]}
            for i, (uid, token) in enumerate(officers)]


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
