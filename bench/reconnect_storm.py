"""Reconnect storm: 1,000 phones drop and come back within 10 s while briefings flow; nothing lost, nothing twice.

Runs what production runs (Procfile) on a throw-away PostgreSQL database
(`rtcc_bench_storm`) and a redis-server of its own: two Daphne processes and one
Celery worker. Seeds an agency with an analyst and 1,000 officers signed in on one
phone each, and a call with a briefing; client processes (bench/_ws.py) connect
1,000 sockets as phones do, spread over the two Daphnes.

While the analyst pushes the briefing to every officer through the API every
200 ms (from 2 s before the storm to 2 s after it), every client drops its
socket at a random moment within 10 s and comes straight back as a phone does:
a new socket opened with the resume ticket its last socket handed over (a ticket
over HTTP only if that one is refused), a hello with the epoch and offset of the
last event it applied. Every client records every offset it applied (and acks
each). When the pushes are done and every stream is quiet, each client's applied
offsets are checked against the durable event log in the database: an offset of
the user's stream after the client's first position that the client never
applied is lost, an offset applied twice is a duplicate.

    .venv/bin/python bench/reconnect_storm.py [--clients 1000] [--within 10] [--interval 0.2]

Prints the events written, lost and duplicated counts (target 0 and 0), resyncs,
deliveries left unacknowledged, and the reconnect time (close -> ready, ticket
included) p50/p95/max, with the push rate and the load. There is no baseline
server here: the figure is a count. The last line is
`storm lost=<n> dup=<d> p95_ms=<p>`.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from typing import Any

from _support import ROOT, bench_parser, parse_args, pct
from _ws import ClientPool, Processes, run_on_servers, stream_bench_start, stream_specs

BENCH_DB = "rtcc_bench_storm"
LOG_DIR = ROOT / "var" / "bench" / "storm"
MAX_PUSHES = 500


class Pusher(threading.Thread):
    """The analyst pushing the briefing to every officer every `interval` seconds until told to stop."""

    def __init__(self, base_url: str, token: str, call_id: int, interval: float) -> None:
        super().__init__(daemon=True, name="pusher")
        self.base_url, self.token, self.call_id, self.interval = base_url, token, call_id, interval
        self.stopping = threading.Event()
        self.pushed: list[int] = []
        self.refused: list[str] = []
        self.request_ms: list[float] = []

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base_url, timeout=30,
                          headers={"Authorization": f"Bearer {self.token}"}) as client:
            next_at = time.monotonic()
            while not self.stopping.is_set() and len(self.pushed) < MAX_PUSHES:
                t0 = time.monotonic()
                response = client.post(f"/api/v1/calls/{self.call_id}/briefing/push",
                                       json={"audience": {"kind": "role", "role": "officer"}})
                self.request_ms.append((time.monotonic() - t0) * 1000)
                if response.status_code == 202:
                    self.pushed.append(response.json()["id"])
                else:
                    self.refused.append(f"{response.status_code} {response.text[:200]}")
                next_at += self.interval
                self.stopping.wait(max(0.0, next_at - time.monotonic()))


def stream_heads(user_ids: list[int]) -> dict[int, tuple[str, int]]:
    from apps.delivery.models import UserStream

    return {s.user_id: (s.epoch, s.next_offset - 1) for s in UserStream.objects.filter(user_id__in=user_ids)}


def run(args: argparse.Namespace, database_url: str, procs: Processes) -> None:
    from apps.delivery.models import Delivery, Event, Push

    logging.getLogger("httpx").setLevel(logging.WARNING)
    t_start = time.perf_counter()
    seeded, stack = stream_bench_start(procs, officers=args.clients, database_url=database_url, uvloop=args.uvloop)
    print(f"servers: 2 Daphne ({'uvloop' if args.uvloop else 'asyncio'}) on ports {stack.ports}, 1 Celery worker "
          f"(concurrency 2), redis-server; load average {os.getloadavg()[0]:.1f}")
    user_ids = [uid for uid, _ in seeded.officers]
    specs = stream_specs(stack, seeded.officers)
    with ClientPool(args.processes) as pool:
        t0 = time.perf_counter()
        connected, failures = pool.connect(specs)
        print(f"connected {connected:,} sockets in {time.perf_counter() - t0:.1f} s; failures: {failures}")
        if connected != args.clients:
            raise SystemExit("not every socket connected; see var/bench/storm/*.log")

        pusher = Pusher(stack.http(0), seeded.analyst_token, seeded.call_id, args.interval)
        pusher.start()
        try:
            time.sleep(args.lead)
            t0 = time.perf_counter()
            storm = pool.call("storm", [{"within": args.within, "seed": 1000 + i} for i in range(args.processes)],
                              timeout=args.within + 120)
            storm_s = time.perf_counter() - t0
            time.sleep(args.lead)
        finally:
            pusher.stopping.set()
            pusher.join(30)
        durations = [d * 1000 for r in storm for d in r["durations"]]
        failures = [f for r in storm for f in r["failures"]]
        failed = sum(r["failed"] for r in storm)
        retries = sum(r["retries"] for r in storm)
        retried_for = sorted({why for r in storm for why in r["retried_for"]})[:3]
        resumed = sum(r["resumed"] for r in storm)
        print(f"storm: {len(durations):,} reconnects in {storm_s:.1f} s ({resumed:,} on a resume ticket, the rest "
              f"asked over HTTP), {retries} handshakes retried "
              f"({failed} never back within 60 s: {failures}; retried for {retried_for or 'nothing'}); "
              f"{len(pusher.pushed)} pushes every {args.interval * 1000:.0f} ms "
              f"(request p50 {pct(pusher.request_ms, 50):.0f} ms, refused: {pusher.refused[:3] or 'none'})")

        # Quiet: every push resolved, every client at the head of its stream (or the budget spent).
        deadline = time.monotonic() + args.settle
        while time.monotonic() < deadline and Push.objects.filter(state=Push.State.PENDING).exists():
            time.sleep(0.5)
        positions: list[dict[str, Any]] = []
        behind = -1
        while time.monotonic() < deadline:
            heads = stream_heads(user_ids)
            positions = [c for r in pool.call("positions") for c in r["clients"]]
            behind = sum(1 for c in positions if heads.get(c["id"], ("", 0)) != (c["epoch"], c["offset"]))
            if behind == 0:
                break
            time.sleep(1.0)
        time.sleep(1.0)  # the last acks
        positions = [c for r in pool.call("positions") for c in r["clients"]]
        pool.call("close")

    logged: dict[int, dict[str, set[int]]] = {}
    for user_id, epoch, offset in Event.objects.filter(user_id__in=user_ids).values_list("user_id", "epoch",
                                                                                         "offset"):
        logged.setdefault(user_id, {}).setdefault(epoch, set()).add(offset)
    lost = dup = extra = resyncs = written = 0
    problems: list[str] = []
    away = [c for c in positions if not c["connected"]]
    for client in positions:
        if not client["connected"]:
            continue  # never came back: its events wait in the log, and a later hello replays them
        expected = {o for o in logged.get(client["id"], {}).get(client["start_epoch"], set())
                    if o > client["start_offset"]}
        applied = client["applied"]
        written += len(expected)
        lost += len(expected - set(applied))
        dup += client["duplicates"]  # an offset it was sent again after applying it
        extra += len(set(applied) - expected)
        resyncs += client["resyncs"]
        problems += [f"{client['id']}: {p}" for p in client["problems"]]
    undelivered = Delivery.objects.filter(user_id__in=user_ids, delivered_at__isnull=True).count()
    print(f"\nevents written to {len(positions):,} streams: {written:,} ({written / max(len(positions), 1):.0f} "
          f"each); clients not at the head of their stream when checked: {behind}")
    print(f"clients that never came back (not counted below): {len(away)}")
    print(f"lost {lost}, duplicated {dup}, applied but not in the log {extra}, resyncs {resyncs}; "
          f"deliveries never marked delivered by an ack: {undelivered}")
    if problems:
        print(f"client problems ({len(problems)}): {problems[:5]}")
    phases = [p for r in storm for p in r["phases"]]
    print("where a reconnect waits, p50/p95 ms: " + ", ".join(
        f"{name} {pct([p[name] * 1000 for p in phases], 50):.0f}/{pct([p[name] * 1000 for p in phases], 95):.0f}"
        for name in ("close", "ticket", "socket", "hello")))
    print(f"reconnect (close -> ready, any ticket request included): p50={pct(durations, 50):.0f} ms "
          f"p95={pct(durations, 95):.0f} ms max={max(durations):.0f} ms (n={len(durations):,})")
    p95 = pct(durations, 95)
    met = lost == 0 and dup == 0 and not away
    print(f"target: lost 0, dup 0 -> {'met' if met else 'NOT met'}; total {time.perf_counter() - t_start:.0f} s, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"storm lost={lost} dup={dup} p95_ms={p95:.0f}")
    if not met:
        raise SystemExit(1)  # an event lost or shown twice is a broken stream, at any size


def main() -> None:
    parser = bench_parser(__doc__, database=BENCH_DB)
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument("--within", type=float, default=10.0, help="seconds over which every client reconnects")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between two pushes")
    parser.add_argument("--lead", type=float, default=2.0, help="seconds of pushes before and after the storm")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds allowed for the streams to go quiet")
    parser.add_argument("--processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--uvloop", action="store_true", help="run Daphne on uvloop")
    args = parse_args(parser, smoke=dict(clients=40, within=2.0, lead=1.0, settle=30.0))
    run_on_servers(args, run, database=BENCH_DB, log_dir=LOG_DIR)


if __name__ == "__main__":
    main()
