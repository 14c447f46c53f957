"""The whole dispatch chain: CAD request to briefing on the officer's socket, p50/p95.

On a throw-away PostgreSQL database (`rtcc_bench_dispatch`) and a redis-server
of its own on a free port, it runs the production processes: two Daphne, one
Celery worker (concurrency 2) and the delivery dispatcher. 200 officers, each
on a unit of their own, hold an open stream websocket (half on each Daphne).
A CAD integration account then creates calls through the API
(`PUT /api/v1/cad/calls/<event_number>`) and puts one unit on each
(`POST .../assignments`). The briefing reaches the officer as an event on their
stream once the worker has assembled it (`briefings.assemble`, after commit)
and written the event.

Two phases, 200 calls each, on the same sockets:

1. **Offered load** (the target): calls arrive as a CAD sends them, at their
   own times whatever the earlier ones are doing (Poisson arrivals, `--rate`
   calls per second, default 20). That is 72,000 calls an hour; the Seattle
   extract in fixtures/data/calls/ has 706 calls cleared in a day, 57 in its
   busiest hour. This is open loop, so a slow server cannot slow the arrivals
   down and hide its own queue.
2. **Saturation**: `--lanes` CAD clients (default 4) send back to back, each
   the next call as soon as its last one is answered, so the CAD goes as fast
   as the web processes let it. It prints the rate the whole chain sustains on
   this machine and the burst's latency. Where the worker falls behind the
   CAD, its queue grows for as long as the burst lasts and the median by tenth
   of the run climbs: then the latency says how long the burst was.

Latency is from the start of the assignment request (the request that puts the
officer on the call) to the event's arrival on their socket; the figure from
the start of the call's creation is printed too, and the latency by tenth of
the run shows whether a queue built up. The baseline, measured in the same run
on the same sockets, is the bare delivery floor: the bench writes one event per
officer itself (`event_append`, a PostgreSQL transaction and one Redis PUBLISH)
and times it to the socket.

    .venv/bin/python bench/dispatch.py [--calls 200] [--rate 20] [--lanes 4] [--keep]

Target: p95 <= 1 s at the offered load. Last line: `dispatch p95_ms=<n>` (the
offered-load phase, from the assignment). Every process it starts is killed at
the end, also on Ctrl-C; the databases DATABASE_URL names are never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from _support import ROOT, Stats, django_on, fresh_database, parse_args, server_url, with_database

sys.path.insert(0, str(ROOT))

from tests.harness.client import StreamClient, connect_clients, http_client
from tests.harness.processes import Stack

BENCH_DB = "rtcc_bench_dispatch"
SEED = 20_261_124
TARGET_P95_MS = 1000.0
# A briefing that has not arrived this long after the last CAD request is counted missing.
ARRIVAL_TIMEOUT_S = 15.0
CAD_TYPES = (("DISTURB", "Disturbance"), ("DV", "Domestic violence"), ("WELF", "Welfare check"),
             ("THEFT", "Theft"), ("MH", "Person in crisis"))
STREETS = ("RAINIER AVE S", "AURORA AVE N", "BEACON AVE S", "DELRIDGE WAY SW", "BROADWAY E", "PIKE ST")


@dataclass
class Officer:
    user_id: int
    call_sign: str
    token: str
    client: StreamClient | None = None


@dataclass
class Timing:
    event_number: str
    officer: Officer
    call_id: int = 0
    create_at: float = 0.0
    assign_at: float = 0.0
    assigned_at: float = 0.0


def seed(n: int) -> tuple[int, str, str, list[Officer]]:
    """An agency, its CAD account, an analyst, and n officers each alone on a unit; returns tokens."""
    from apps.accounts.models import Agency, Role, Unit, User
    from apps.accounts.services import DeviceInfo, session_issue
    from apps.briefings.services import recommendation_rules_seed
    from apps.calls.models import CadTypeMapping, Category

    agency = Agency.objects.create(name="Bench City Police Department", ori="WA0990000")
    recommendation_rules_seed(agency_id=agency.pk)
    CadTypeMapping.objects.bulk_create([
        CadTypeMapping(agency=agency, code="DISTURB", category=Category.DISTURBANCE, priority=3),
        CadTypeMapping(agency=agency, code="DV", category=Category.DOMESTIC, priority=1),
        CadTypeMapping(agency=agency, code="WELF", category=Category.WELFARE_CHECK, priority=3),
        CadTypeMapping(agency=agency, code="THEFT", category=Category.PROPERTY, priority=4),
        CadTypeMapping(agency=agency, code="MH", category=Category.MENTAL_HEALTH, priority=2),
    ])

    def session(user: User, kind: str) -> str:
        info = DeviceInfo(name=f"{user.username} {kind}", kind=kind, platform="android")
        return session_issue(user=user, device_info=info, ip="127.0.0.1").token

    cad = User.objects.create(username="cad", role=Role.INTEGRATION, agency=agency)
    analyst = User.objects.create(username="analyst", role=Role.ANALYST, agency=agency)
    officers = []
    for i in range(n):
        user = User.objects.create(username=f"officer{i:04d}", role=Role.OFFICER, agency=agency)
        unit = Unit.objects.create(agency=agency, call_sign=f"B{i:04d}", district="South", beat=f"R{i % 9}")
        unit.members_on_shift.add(user)
        officers.append(Officer(user_id=user.pk, call_sign=unit.call_sign, token=session(user, "terminal")))
    return agency.pk, session(cad, "desktop"), session(analyst, "desktop"), officers


def _call_body(rng: random.Random) -> dict[str, Any]:
    code, description = rng.choice(CAD_TYPES)
    return {"cad_code": code, "cad_description": description,
            "address": f"{rng.randint(1, 99)}XX BLOCK OF {rng.choice(STREETS)}",
            "latitude": round(rng.uniform(47.50, 47.73), 6), "longitude": round(rng.uniform(-122.42, -122.25), 6),
            "narrative": "Caller reports a disturbance; no weapons seen.",
            "received_at": datetime.now(UTC).isoformat()}


async def connect_all(officers: list[Officer], ports: list[int]) -> None:
    clients = [StreamClient(token=o.token, port=ports[i % len(ports)]) for i, o in enumerate(officers)]
    for officer, client in zip(officers, clients, strict=True):
        officer.client = client
    await connect_clients(clients)


async def baseline(officers: list[Officer], rounds: int) -> Stats:
    """Our own event_append per officer, timed to the socket: the delivery floor under the chain."""
    from asgiref.sync import sync_to_async

    from apps.delivery.services import event_append

    samples: list[float] = []
    for n in range(rounds):
        for officer in officers:
            client = officer.client
            if client is None:
                continue
            before = len(client.events)
            started = time.monotonic()
            await sync_to_async(event_append)(users=[officer.user_id], type="alert", op="baseline",
                                              object_type="bench.baseline", object_id=str(n), payload={})
            if await client.wait_for(before + 1, 5.0):
                samples.append((client.events[before].at - started) * 1000)
    return Stats(samples)


async def _send_call(http: Any, base: str, headers: dict[str, str], timing: Timing, body: dict[str, Any]) -> None:
    """What a CAD sends for one call: create it, then put the officer's unit on it."""
    timing.create_at = time.monotonic()
    created = await http.put(f"{base}/{timing.event_number}", json=body, headers=headers)
    if created.status_code != 201:
        raise RuntimeError(f"CAD PUT answered {created.status_code}: {created.text[:300]}")
    timing.call_id = int(created.json()["id"])
    timing.assign_at = time.monotonic()
    assigned = await http.post(f"{base}/{timing.event_number}/assignments",
                               json={"unit": timing.officer.call_sign}, headers=headers)
    if assigned.status_code != 201:
        raise RuntimeError(f"CAD assignment answered {assigned.status_code}: {assigned.text[:300]}")
    timing.assigned_at = time.monotonic()


def _base(ports: list[int], n: int) -> str:
    return f"http://127.0.0.1:{ports[n % len(ports)]}/api/v1/cad/calls"


async def dispatch_paced(cad_token: str, timings: list[Timing], ports: list[int], rate: float,
                         rng: random.Random) -> float:
    """Open loop: each call starts at its Poisson arrival time; returns the largest lag behind that schedule (s)."""
    headers = {"Authorization": f"Bearer {cad_token}"}
    lags: list[float] = []

    async def one(http: Any, n: int, timing: Timing, due: float, body: dict[str, Any]) -> None:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        lags.append(time.monotonic() - due)
        await _send_call(http, _base(ports, n), headers, timing, body)

    async with http_client() as http:
        due = time.monotonic()
        calls = []
        for n, timing in enumerate(timings):
            calls.append(one(http, n, timing, due, _call_body(rng)))
            due += rng.expovariate(rate)
        await asyncio.gather(*calls)
    return max(lags, default=0.0)


async def dispatch_lanes(cad_token: str, timings: list[Timing], ports: list[int], lanes: int,
                         rng: random.Random) -> None:
    """Closed loop: each lane sends its next call as soon as the last one is answered."""
    headers = {"Authorization": f"Bearer {cad_token}"}
    queue: asyncio.Queue[Timing] = asyncio.Queue()
    for timing in timings:
        queue.put_nowait(timing)

    async def lane(n: int) -> None:
        async with http_client() as http:
            while not queue.empty():
                await _send_call(http, _base(ports, n), headers, queue.get_nowait(), _call_body(rng))

    await asyncio.gather(*(lane(n) for n in range(lanes)))


def _arrival(timing: Timing) -> float | None:
    client = timing.officer.client
    if client is None:
        return None
    for received in client.events:
        message = received.message
        if message.get("type") == "briefing" and message.get("payload", {}).get("call_id") == timing.call_id:
            return received.at
    return None


async def wait_arrivals(timings: list[Timing], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_arrival(t) is None for t in timings):
        await asyncio.sleep(0.05)


def _line(name: str, stats: Stats) -> str:
    return (f"  {name:<34} n={len(stats.samples):>4}  p50 {stats.median:7.1f} ms  p95 {stats.p95:7.1f} ms  "
            f"max {stats.max:7.1f} ms")


async def report(timings: list[Timing], cad_seconds: float, floor: Stats) -> float:
    """Print one phase's figures; returns its p95 from the assignment (nan when nothing arrived)."""
    from asgiref.sync import sync_to_async
    from django.db.models import Count

    from apps.delivery.models import Push

    from_assign, from_create, requests, missing = [], [], [], []
    for timing in timings:
        requests.append((timing.assigned_at - timing.assign_at) * 1000)
        arrived = _arrival(timing)
        if arrived is None:
            missing.append(timing)
            continue
        from_assign.append((arrived - timing.assign_at) * 1000)
        from_create.append((arrived - timing.create_at) * 1000)
    print(_line("assignment request (HTTP only)", Stats(requests)))
    if from_assign:
        print(_line("assignment -> briefing on socket", Stats(from_assign)))
        print(_line("call create -> briefing on socket", Stats(from_create)))
    print(_line("baseline: event_append -> socket", floor))
    arrivals = sorted(a for a in (_arrival(t) for t in timings) if a is not None)
    if len(arrivals) > 1:
        calls = {t.call_id for t in timings}
        ops = await sync_to_async(lambda: dict(Push.objects.filter(type="briefing", call_id__in=calls)
                                               .values_list("op").annotate(n=Count("*")).order_by()))()
        # Throughput-bound when briefings land more slowly than the CAD creates calls: the queue grows.
        print(f"  offered {len(timings) / cad_seconds:.1f} calls/s; briefings reached sockets at "
              f"{(len(arrivals) - 1) / (arrivals[-1] - arrivals[0]):.1f}/s (first to last); briefing pushes by op "
              f"{ops} ('assigned': assembled again after the assignment)")
        tenths = sorted((t.assign_at, a - t.assign_at) for t in timings if (a := _arrival(t)) is not None)
        size = max(1, len(tenths) // 10)
        medians = [Stats([x[1] * 1000 for x in tenths[k:k + size]]).median for k in range(0, len(tenths), size)]
        print("  median by tenth of the run (ms): " + " ".join(f"{m:.0f}" for m in medians))
    print(f"  missing briefings: {len(missing)} of {len(timings)} (waited {ARRIVAL_TIMEOUT_S:.0f} s)")
    if missing:
        from apps.briefings.models import Briefing

        sample = missing[0]
        versions = await sync_to_async(lambda: list(Briefing.objects.filter(call_id=sample.call_id)
                                                    .values_list("current_version", flat=True)))()
        print(f"  e.g. call {sample.event_number} (id {sample.call_id}): briefing versions {versions}, "
              f"no event for officer {sample.officer.user_id}")
    return Stats(from_assign).p95 if from_assign else float("nan")


async def run_async(args: argparse.Namespace, stack: Stack) -> float:
    from asgiref.sync import sync_to_async

    _agency_id, cad_token, _analyst_token, officers = await sync_to_async(seed)(args.calls)
    print(f"seeded 1 agency, 1 CAD account, {len(officers)} officers on {len(officers)} units", file=sys.stderr)
    web = [stack.daphne("daphne1"), stack.daphne("daphne2")]
    stack.worker("worker", concurrency=2)
    stack.dispatcher()
    ports = [p.port for p in web if p.port is not None]
    started = time.monotonic()
    await connect_all(officers, ports)
    print(f"{len(officers)} sockets open on {len(ports)} Daphne processes in {time.monotonic() - started:.1f} s",
          file=sys.stderr)

    floor = await baseline(officers, rounds=1)
    rng = random.Random(SEED)
    paced = [Timing(event_number=f"B26-{i:06d}", officer=o) for i, o in enumerate(officers)]
    started = time.monotonic()
    lag = await dispatch_paced(cad_token, paced, ports, args.rate, rng)
    cad_seconds = time.monotonic() - started
    await wait_arrivals(paced, ARRIVAL_TIMEOUT_S)
    print(f"offered load: {len(paced)} calls created and assigned by the CAD at {args.rate:g}/s (Poisson, open "
          f"loop; the sender was at most {lag * 1000:.0f} ms behind its schedule), 2 Daphne, 1 Celery worker "
          f"(concurrency 2), dispatcher running")
    p95 = await report(paced, cad_seconds, floor)
    met = p95 <= TARGET_P95_MS and all(_arrival(t) is not None for t in paced)
    print(f"  ratio (chain p95 / delivery floor p95): {p95 / floor.p95:.1f}x; target p95 <= {TARGET_P95_MS:.0f} ms: "
          f"{'met' if met else 'NOT met'}")

    if args.lanes:
        burst = [Timing(event_number=f"B26-{len(paced) + i:06d}", officer=o) for i, o in enumerate(officers)]
        started = time.monotonic()
        await dispatch_lanes(cad_token, burst, ports, args.lanes, rng)
        cad_seconds = time.monotonic() - started
        await wait_arrivals(burst, ARRIVAL_TIMEOUT_S)
        arrivals = [a for t in burst if (a := _arrival(t)) is not None]
        sustained = len(arrivals) / (max(arrivals) - started) if arrivals else 0.0
        print(f"saturation: {len(burst)} calls sent back to back from {args.lanes} CAD lanes in {cad_seconds:.1f} s; "
              f"the chain sustained {sustained:.1f} calls/s (first request to last briefing)")
        await report(burst, cad_seconds, floor)

    clients = [o.client for o in officers if o.client is not None]
    print(f"  duplicates {sum(len(c.duplicates) for c in clients)}, gaps {sum(len(c.gaps) for c in clients)} "
          f"(both phases, every socket)")
    for client in clients:
        await client.close()
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200, help="calls (and officers with a socket), default 200")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="offered load in calls per second (Poisson arrivals), default 20")
    parser.add_argument("--lanes", type=int, default=4,
                        help="back-to-back CAD lanes in the saturation phase, default 4; 0 skips the phase")
    parser.add_argument("--keep", action="store_true",
                        help=f"leave the {BENCH_DB} database and the process logs in place")
    args = parse_args(parser, smoke=dict(calls=10, rate=5.0, lanes=1))

    url = server_url()
    p95 = float("nan")
    with fresh_database(url, BENCH_DB, keep=args.keep):
        stack = Stack(database_url=with_database(url, BENCH_DB),
                      wake_channel=f"rtcc-bench-dispatch-{secrets.token_hex(4)}.wake", keep_logs=args.keep)
        try:
            stack.redis()
            os.environ.update({"REDIS_URL": stack.redis_url, "RTCC_DELIVERY_WAKE_CHANNEL": stack.wake_channel,
                               "RTCC_SECRET_KEY": stack.secret_key})
            os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
            with django_on(url, BENCH_DB):
                logging.getLogger("httpx").setLevel(logging.WARNING)
                p95 = asyncio.run(run_async(args, stack))
        finally:
            stack.close()
    print(f"dispatch p95_ms={p95:.0f}")


if __name__ == "__main__":
    main()
