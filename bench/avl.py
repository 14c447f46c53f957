"""Unit locations at city scale: 2,000 units reporting every 5 s to 20 consoles, then one officer needs help.

Runs what production runs (Procfile) on a throw-away PostgreSQL database (`rtcc_bench_avl`) and a
redis-server of its own: two Daphne processes and one Celery worker, with the delivery dispatcher. Seeds
one agency: 2,000 officers each on the shift of a unit of their own, signed in on a terminal, spread over
40 x 40 km around Seattle (a district of 60 of them within 2.5 km of Rainier Valley), 20 analysts at the
consoles. Client processes (asyncio, `websockets`) open every socket as the terminal does (ticket over
HTTP, Origin, hello).

Phase 1: each unit sends `{"type": "position", ...}` on its socket every 5 s (400 a second in all, each
unit at its own moment in the 5 s) for --seconds (60), driving at 12 m/s; every console watches the
whole agency. Measured: report to console (the device's timestamp to the `unit.position` frame on each
console, same clock), what never reached the database or a console (lost), and the database writes per
report (each batch is one statement: the track's rows and the upsert of the latest points; a batch's rows
share one received_at, so the writes are counted from the database itself).

Phase 2: the units keep reporting; the officer in the middle of the district presses the emergency
(POST /api/v1/emergencies, as the phone API does, from an HTTP client made before the press). Measured:
press to the `emergency.raised` event on every terminal within the emergency radius (those the push reached),
p95, and where it went (press to emergency_raise's first write, then to the push written).

    .venv/bin/python bench/avl.py [--units 2000] [--consoles 20] [--seconds 60] [--smoke]

Targets: report to console p95 <= 1,000 ms, lost = 0, <= 1 write per report, emergency p95 <= 500 ms.
`--smoke`: 80 units, 3 consoles, 8 s and 5 s after the press; exits non-zero when anything is lost or nothing
arrives.
Last line: `avl report_to_console_p95_ms=<n> lost=<n> emergency_p95_ms=<n>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from _support import ROOT, bench_parser, latency_line, parse_args, pct
from _ws import (
    HOST,
    ClientProcesses,
    Processes,
    Subscriber,
    run_client_loop,
    run_on_servers,
    split,
    stack_start,
    stream_world_seed,
)

BENCH_DB = "rtcc_bench_avl"
LOG_DIR = ROOT / "var" / "bench" / "avl"
CENTRE = (47.5301, -122.2700)  # Rainier Valley
SPREAD_DEG = (0.36, 0.53)  # about 40 x 40 km
DISTRICT = 60  # units within 2.5 km of the centre: the emergency's neighbours
INTERVAL_S = 5.0
SPEED_MPS = 12.0
WIRE = "%Y-%m-%dT%H:%M:%S.%fZ"


def _epoch(stamp: str) -> float:
    # fromisoformat reads our wire format (Z included) about ten times faster than strptime.
    return datetime.fromisoformat(stamp).timestamp()


class LiveClock(Subscriber):
    """When each fix's live wake was published (as a subscriber sees it): report to wake, the server's part."""

    def __init__(self, redis_url: str, channel: str) -> None:
        super().__init__(redis_url, [channel], name="live-clock")
        self.to_wake_ms: list[float] = []

    def heard(self, channel: str, data: bytes) -> None:
        now = time.time()
        body = json.loads(data)
        if body.get("k") == "live":
            self.to_wake_ms += [(now - _epoch(item["reported_at"])) * 1000 for item in body["d"]["items"]]


# --- Client processes ---------------------------------------------------------------------------------------


class _Clients:
    """The sockets of one client process: units that report and hear emergencies, consoles that watch."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sockets: dict[int, Any] = {}
        self.specs: dict[int, dict[str, Any]] = {}
        self.sent: list[tuple[int, str]] = []  # (user id, reported_at)
        self.seen: Counter[str] = Counter()  # "unit_id|reported_at" -> consoles that got it
        self.latency_ms: list[float] = []
        self.emergency_at: dict[int, float] = {}
        self.errors: list[str] = []
        self.frames = 0

    async def _open(self, http: Any, spec: dict[str, Any]) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        response = await http.post(spec["http"] + "/api/v1/stream/ticket",
                                   headers={"Authorization": f"Bearer {spec['token']}"})
        response.raise_for_status()
        ws = await connect(spec["ws"] + "?ticket=" + response.json()["ticket"], origin=Origin(f"http://{HOST}"),
                           compression=None, ping_interval=None, open_timeout=60, max_queue=None)
        await ws.send(json.dumps({"type": "hello", "epoch": None, "offset": 0}))
        while json.loads(await ws.recv())["type"] != "ready":
            pass
        self.sockets[spec["id"]] = ws
        asyncio.get_running_loop().create_task(self._read(spec, ws))

    async def _connect_one(self, http: Any, gate: asyncio.Semaphore, spec: dict[str, Any]) -> None:
        async with gate:
            self.specs[spec["id"]] = spec
            try:
                await self._open(http, spec)
            except Exception as exc:
                self.errors.append(f"connect {spec['id']}: {type(exc).__name__}: {exc}")

    async def _read(self, spec: dict[str, Any], ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        console = spec["kind"] == "console"
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "unit.position":
                    self.frames += 1
                    if console:
                        for p in message["positions"]:
                            stamp = p["reported_at"]
                            self.latency_ms.append((now - _epoch(stamp)) * 1000)
                            self.seen[f"{p['unit_id']}|{stamp}"] += 1
                elif kind == "emergency" and message.get("op") == "raised":
                    self.emergency_at.setdefault(spec["id"], now)
                elif kind == "error":
                    self.errors.append(raw[:200])
                elif "offset" in message:
                    await ws.send(json.dumps({"type": "ack", "offset": message["offset"]}))

    async def _drive(self, spec: dict[str, Any], start_at: float, until: float, rng: random.Random) -> None:
        ws = self.sockets[spec["id"]]
        lat, lon = spec["at"]
        heading = rng.uniform(0, 2 * math.pi)
        moment = start_at + spec["phase"]
        while moment < until:
            await asyncio.sleep(max(0.0, moment - time.time()))
            step = SPEED_MPS * INTERVAL_S
            lat += step * math.cos(heading) / 111_320
            lon += step * math.sin(heading) / (111_320 * math.cos(math.radians(lat)))
            heading += rng.uniform(-0.3, 0.3)
            stamp = datetime.now(UTC).strftime(WIRE)
            await ws.send(json.dumps({"type": "position", "latitude": round(lat, 6), "longitude": round(lon, 6),
                                      "reported_at": stamp, "accuracy_m": 6.0,
                                      "heading_deg": round(math.degrees(heading) % 360, 1),
                                      "speed_mps": SPEED_MPS}))
            self.sent.append((spec["id"], stamp))
            moment += INTERVAL_S

    async def run(self) -> None:
        import httpx

        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=32)) as http:
            while True:
                command = await loop.run_in_executor(None, self.conn.recv)
                name = command["cmd"]
                if name == "quit":
                    break
                if name == "connect":
                    gate = asyncio.Semaphore(32)
                    await asyncio.gather(*(self._connect_one(http, gate, s) for s in command["specs"]))
                    self.conn.send({"connected": len(self.sockets), "errors": self.errors[:3]})
                elif name == "drive":
                    rng = random.Random(command["seed"])
                    units = [s for s in self.specs.values() if s["kind"] == "unit" and s["id"] in self.sockets]
                    await asyncio.gather(*(self._drive(s, command["start_at"], command["until"], rng) for s in units))
                    await asyncio.sleep(command["drain"])
                    self.conn.send({"sent": self.sent, "seen": dict(self.seen), "latency_ms": self.latency_ms,
                                    "emergency_at": self.emergency_at, "errors": self.errors[:5],
                                    "frames": self.frames})
                    self.sent, self.seen, self.latency_ms = [], Counter(), []
        for ws in self.sockets.values():
            with contextlib.suppress(Exception):
                await ws.close()


def _client_process(conn: Connection) -> None:
    run_client_loop(_Clients(conn).run)


class Pool(ClientProcesses):
    """The unit and console client processes: `send` one command to each, then wait for their `replies`."""

    def __init__(self, processes: int) -> None:
        super().__init__(_client_process, processes)

    def send(self, commands: list[dict[str, Any]]) -> None:
        for conn, command in zip(self.conns, commands, strict=True):
            conn.send(command)

    def replies(self, timeout: float) -> list[dict[str, Any]]:
        out = []
        for conn in self.conns:
            if not conn.poll(timeout):
                raise TimeoutError("a client process did not answer")
            out.append(conn.recv())
        return out


# --- The driver ---------------------------------------------------------------------------------------------


def seed(units: int, consoles: int, rng: random.Random) -> dict[str, Any]:
    """Officers on a unit each (stream_world_seed's officers), analysts with sessions, starting positions."""
    from apps.accounts.models import Role, Unit, User
    from apps.accounts.services import DeviceInfo, session_issue

    seeded = stream_world_seed(units)
    users = User.objects.filter(pk__in=[uid for uid, _ in seeded.officers]).order_by("pk")
    agency_id = users[0].agency_id
    assert agency_id is not None  # noqa: S101 (seeded just above)
    made = Unit.objects.bulk_create([Unit(agency_id=agency_id, call_sign=f"U{i:04d}") for i in range(units)])
    through = Unit.members_on_shift.through
    through.objects.bulk_create([through(unit_id=unit.pk, user_id=uid)
                                 for unit, (uid, _) in zip(made, seeded.officers, strict=True)])
    starts = {}
    for i, (uid, _) in enumerate(seeded.officers):
        if i < DISTRICT:  # the first is the one who will need help, at the centre
            radius, angle = (0.0 if i == 0 else rng.uniform(200, 2500)), rng.uniform(0, 2 * math.pi)
            starts[uid] = (CENTRE[0] + radius * math.cos(angle) / 111_320,
                           CENTRE[1] + radius * math.sin(angle) / (111_320 * math.cos(math.radians(CENTRE[0]))))
        else:
            starts[uid] = (CENTRE[0] + rng.uniform(-SPREAD_DEG[0] / 2, SPREAD_DEG[0] / 2),
                           CENTRE[1] + rng.uniform(-SPREAD_DEG[1] / 2, SPREAD_DEG[1] / 2))
    tokens = []
    for i in range(consoles):
        analyst = User.objects.create(username=f"console{i:02d}", role=Role.ANALYST, agency_id=agency_id)
        tokens.append((analyst.pk, session_issue(user=analyst, ip=HOST, device_info=DeviceInfo(
            name="console", kind="desktop", platform="web")).token))
    unit_of = {uid: unit.pk for unit, (uid, _) in zip(made, seeded.officers, strict=True)}
    return {"officers": seeded.officers, "consoles": tokens, "starts": starts, "unit_of": unit_of}


def run(args: argparse.Namespace, database_url: str, procs: Processes) -> int:
    import httpx

    from apps.delivery.models import Delivery, Push
    from apps.emergencies.models import Emergency
    from apps.locations.models import PositionReport

    rng = random.Random(7)
    load_start = os.getloadavg()
    world = seed(args.units, args.consoles, rng)
    stack = stack_start(procs, database_url=database_url, celery_concurrency=1)
    procs.start("dispatcher", [str(ROOT / ".venv/bin/python"), "manage.py", "delivery_dispatcher"], env=stack.env)
    print(f"seeded {args.units:,} units on shift and {args.consoles} consoles; 2 Daphne on {stack.ports}, Celery, "
          f"the dispatcher, redis-server; load average {load_start[0]:.1f} {load_start[1]:.1f} {load_start[2]:.1f} "
          f"on {os.cpu_count()} cores")
    specs = [{"id": uid, "kind": "unit", "token": token, "http": stack.http(i), "ws": stack.ws(i),
              "at": world["starts"][uid], "phase": rng.uniform(0, INTERVAL_S)}
             for i, (uid, token) in enumerate(world["officers"])]
    specs += [{"id": uid, "kind": "console", "token": token, "http": stack.http(i), "ws": stack.ws(i)}
              for i, (uid, token) in enumerate(world["consoles"])]
    pool = Pool(args.processes)
    try:
        t0 = time.perf_counter()
        pool.send([{"cmd": "connect", "specs": part} for part in split(specs, args.processes)])
        replies = pool.replies(timeout=600)
        connected = sum(r["connected"] for r in replies)
        print(f"connected {connected:,} of {len(specs):,} sockets in {time.perf_counter() - t0:.1f} s; "
              f"errors: {[e for r in replies for e in r['errors']] or 'none'}")
        if connected != len(specs):
            raise SystemExit("not every socket connected; see var/bench/avl/*.log")
        time.sleep(args.settle)  # every socket's scope is in place (LOCATIONS_SCOPE_REFRESH_SECONDS)

        clock = LiveClock(stack.redis_url, stack.wake_channel)
        clock.start()
        clock.subscribed.wait(10)
        # Phase 1 and 2 in one drive: the emergency is pressed `seconds` in, the units go on 10 s more.
        start_at = time.time() + 2.0
        until = start_at + args.seconds + args.after
        pool.send([{"cmd": "drive", "start_at": start_at, "until": until, "seed": i, "drain": 4.0}
                   for i in range(args.processes)])
        press_at = start_at + args.seconds
        officer_id, officer_token = world["officers"][0]
        # The phone's HTTP client exists long before the press: making one loads a TLS context (120 ms idle,
        # several times that on this loaded machine), which is the phone's time, not the server's.
        phone = httpx.Client(base_url=stack.http(0), timeout=30, headers={"Authorization": f"Bearer {officer_token}"})
        time.sleep(max(0.0, press_at - time.time()))
        pressed = time.time()
        response = phone.post("/api/v1/emergencies", json={"source": "phone"})
        answered = time.time()
        phone.close()
        if response.status_code != 201:
            raise SystemExit(f"emergency refused: {response.status_code} {response.text[:300]}")
        replies = pool.replies(timeout=args.seconds + args.after + 120)
        load_end = os.getloadavg()
        clock.stopping.set()
    finally:
        pool.stop()

    sent = [(uid, stamp) for r in replies for uid, stamp in r["sent"]]
    seen: Counter[str] = Counter()
    for r in replies:
        seen.update(r["seen"])
    latency = [ms for r in replies for ms in r["latency_ms"]]
    unit_of = world["unit_of"]
    stored = {(u, at.strftime(WIRE)) for u, at in PositionReport.objects.values_list("unit_id", "reported_at")}
    not_stored = sum(1 for uid, stamp in sent if (unit_of[uid], stamp) not in stored)
    console_missing = sum(args.consoles - min(seen.get(f"{unit_of[uid]}|{stamp}", 0), args.consoles)
                          for uid, stamp in sent)
    lost = not_stored + console_missing
    batches = PositionReport.objects.values("received_at").distinct().count()
    writes_per_report = batches / max(len(stored), 1)  # one statement a batch on PostgreSQL

    emergency = Emergency.objects.get(officer_id=officer_id)
    told = set(Delivery.objects.filter(push_id=emergency.push_id or 0).values_list("user_id", flat=True))
    in_radius = told & set(unit_of)
    arrivals = {int(k): v for r in replies for k, v in r["emergency_at"].items()}
    emergency_ms = [(arrivals[uid] - pressed) * 1000 for uid in in_radius if uid in arrivals]
    emergency_missing = len(in_radius - set(arrivals))
    errors = [e for r in replies for e in r["errors"]]

    print(f"\nphase 1: {len(sent):,} reports sent ({len(sent) / (args.seconds + args.after):.0f}/s), "
          f"{len(stored):,} stored; not stored {not_stored}, (report, console) pairs missing {console_missing}; "
          f"errors on sockets: {errors or 'none'}")
    print("  " + latency_line("report to console", latency))
    print("  " + latency_line("  of which report to its live wake (received, batched, written, published)",
                              clock.to_wake_ms))
    print(f"  database writes: {batches:,} batches, one statement each, for {len(stored):,} reports = "
          f"{writes_per_report:.3f} per report")
    print(f"phase 2: the emergency's request answered in {(answered - pressed) * 1000:.0f} ms; "
          f"{len(in_radius)} terminals within the radius, {len(emergency_ms)} got it, "
          f"{emergency_missing} missing")
    print("  " + latency_line("press to terminal", emergency_ms))
    # Where the press waited, from the server's own clock (same machine): the request reaching the service, the
    # transaction up to the push's recipients, then commit, wake and the frames.
    pushed_at = Push.objects.get(pk=emergency.push_id).created_at.timestamp() if emergency.push_id else pressed
    raised_at = emergency.raised_at.timestamp()
    print(f"    of which press to emergency_raise's first write {(raised_at - pressed) * 1000:.0f} ms, "
          f"then to the push written {(pushed_at - raised_at) * 1000:.0f} ms")
    print(f"load average {load_end[0]:.1f} {load_end[1]:.1f} {load_end[2]:.1f} at the end (2 cores shared)")
    p95, e95 = pct(latency, 95), pct(emergency_ms, 95)
    met = p95 <= 1000 and lost == 0 and writes_per_report <= 1 and e95 <= 500 and emergency_missing == 0
    print(f"targets: report to console p95 <= 1000 ms, lost 0, <= 1 write per report, emergency p95 <= 500 ms "
          f"-> {'met' if met else 'NOT met'}")
    print(f"avl report_to_console_p95_ms={p95:.0f} lost={lost + emergency_missing} emergency_p95_ms={e95:.0f}")
    broken = not latency or not emergency_ms or lost or emergency_missing or not in_radius
    return 1 if broken else 0


def main() -> None:
    parser = bench_parser(__doc__, database=BENCH_DB)
    parser.add_argument("--units", type=int, default=2_000)
    parser.add_argument("--consoles", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="phase 1: seconds of reports")
    parser.add_argument("--after", type=float, default=10.0, help="phase 2: seconds of reports after the press")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds between connecting and reporting")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    args = parse_args(parser, smoke=dict(units=80, consoles=3, seconds=8.0, after=5.0))
    sys.exit(run_on_servers(args, run, database=BENCH_DB, log_dir=LOG_DIR))


if __name__ == "__main__":
    main()
