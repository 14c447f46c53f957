"""Briefing fan-out to 1,000 open sockets: wake-to-receipt against a bare server, push-to-receipt, memory per socket.

Runs what production runs (Procfile) on a throw-away PostgreSQL database
(`rtcc_bench_fanout`) and a redis-server of its own: two Daphne processes and one
Celery worker (concurrency 2). Seeds an agency with an analyst and 1,000 officers,
each signed in on one phone, and a call with a briefing. Client processes
(bench/_ws.py) then connect 1,000 sockets as phones do (ticket over HTTP with
the bearer token, Origin, hello, an ack per event), spread over the two Daphnes,
and 1,000 more with the same client code to the baseline: a bare `websockets`
server fed by one Redis SUBSCRIBE that forwards what is published to every socket.

The analyst pushes the briefing to every officer (`POST /api/v1/calls/{call}/briefing/push`,
audience role officer) 50 times, and between two pushes the bench publishes one
message to the baseline; each waits until every socket has it (plus --gap), so
nothing overlaps and both see the same machine noise. A subscriber in the bench
notes when each wake (ours) and each baseline message was published.

    .venv/bin/python bench/fanout.py [--clients 1000] [--pushes 50] [--uvloop] [--profile]

Prints (a) wake-to-receipt p50/p95/p99 (from the Redis PUBLISH to the socket)
for ours and for the baseline and the ratio of the p95s, (b) push-to-receipt
p50/p95/p99 from the analyst's request (the Celery hop and the transaction that
writes 1,000 events and delivery rows included) split into request-to-wake and
wake-to-receipt, and (c) Daphne RSS per socket (psutil: after connecting minus
before, over the sockets). Targets: ratio <= 3, push p95 <= 150 ms, <= 100 KiB
per socket. --profile runs py-spy on both Daphnes and the worker during the pushes
and writes their collapsed stacks (py-spy's raw format, which flamegraph.pl or
speedscope draw) under var/bench/fanout/. The last line is
`fanout p95_ms=<push-to-receipt p95> ratio=<r> kib_per_conn=<k>`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _support import ROOT, bench_parser, latency_line, parse_args, pct
from _ws import (
    ClientPool,
    Processes,
    WakeClock,
    baseline_start,
    free_port,
    run_on_servers,
    stream_bench_start,
    stream_specs,
)

BENCH_DB = "rtcc_bench_fanout"
LOG_DIR = ROOT / "var" / "bench" / "fanout"
KIB = 1024


def rss(pids: list[int]) -> int:
    import psutil

    return sum(psutil.Process(pid).memory_info().rss for pid in pids)


def py_spy(procs: Processes, name: str, pid: int, seconds: int) -> Path:
    out = LOG_DIR / f"{name}.txt"
    procs.start(f"py-spy-{name}", [str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(pid), "--duration",
                                   str(seconds), "--rate", "200", "--nonblocking", "--format", "raw",
                                   "--output", str(out)])
    return out


def run(args: argparse.Namespace, database_url: str, procs: Processes) -> None:
    import logging

    import httpx
    import redis

    logging.getLogger("httpx").setLevel(logging.WARNING)
    t_start = time.perf_counter()
    seeded, stack = stream_bench_start(procs, officers=args.clients, database_url=database_url, uvloop=args.uvloop)
    baseline_port, baseline_channel = free_port(), stack.wake_channel + ".baseline"
    baseline = baseline_start(procs, port=baseline_port, redis_url=stack.redis_url, channel=baseline_channel,
                              uvloop=args.uvloop)
    print(f"servers: 2 Daphne ({'uvloop' if args.uvloop else 'asyncio'}) on ports {stack.ports}, 1 Celery worker "
          f"(concurrency 2), redis-server, baseline on {baseline_port}; load average {os.getloadavg()[0]:.1f}")

    daphne_pids = [p.pid for p in stack.daphnes]
    time.sleep(1.0)
    before, baseline_before = rss(daphne_pids), rss([baseline.pid])
    ours = stream_specs(stack, seeded.officers)
    bare = [{"id": -uid, "kind": "bare", "port": baseline_port, "path": "/"} for uid, _ in seeded.officers]
    with ClientPool(args.processes) as pool:
        t0 = time.perf_counter()
        connected, failures = pool.connect(ours)
        print(f"connected {connected:,} sockets to our server in {time.perf_counter() - t0:.1f} s "
              f"(ticket, socket, hello, ready); failures: {failures}")
        t0 = time.perf_counter()
        bare_connected, _ = pool.connect(bare)
        print(f"connected {bare_connected:,} sockets to the baseline in {time.perf_counter() - t0:.1f} s")
        if connected != args.clients or bare_connected != args.clients:
            raise SystemExit("not every socket connected; see var/bench/fanout/*.log")
        time.sleep(2.0)
        after, baseline_after = rss(daphne_pids), rss([baseline.pid])
        kib_per_conn = (after - before) / connected / KIB
        baseline_kib = (baseline_after - baseline_before) / bare_connected / KIB

        expect = list(range(args.processes))
        analyst = httpx.Client(base_url=stack.http(0), timeout=30,
                               headers={"Authorization": f"Bearer {seeded.analyst_token}"})
        publisher = redis.Redis.from_url(stack.redis_url)
        pushed_at: dict[int, float] = {}
        request_ms: list[float] = []
        missed: list[str] = []
        stacks: list[Path] = []
        with WakeClock(stack.redis_url, [stack.wake_channel, baseline_channel]) as clock:
            if args.profile:
                # Shorter than the pushes take, so py-spy writes its file before the servers stop.
                seconds = int(args.pushes * 0.5) + 3
                stacks = [py_spy(procs, f"daphne{i + 1}", pid, seconds) for i, pid in enumerate(daphne_pids)]
                stacks.append(py_spy(procs, "celery", procs.get("celery").pid, seconds))
                time.sleep(1.0)
            deadline = time.monotonic() + args.budget
            for i in range(1, args.pushes + 1):
                if time.monotonic() > deadline:
                    print(f"time budget spent after {i - 1} pushes")
                    break
                t0 = time.monotonic()
                response = analyst.post(f"/api/v1/calls/{seeded.call_id}/briefing/push",
                                        json={"audience": {"kind": "role", "role": "officer"}})
                request_ms.append((time.monotonic() - t0) * 1000)
                if response.status_code != 202:
                    raise SystemExit(f"push refused: {response.status_code} {response.text[:300]}")
                push_id = response.json()["id"]
                pushed_at[push_id] = t0
                if not pool.wait_got("rtcc", push_id, expect=expect, timeout=args.timeout):
                    missed.append(f"push {push_id}")
                time.sleep(args.gap)
                body = {"type": "briefing", "op": "pushed", "object_type": "briefings.briefing", "object_id": "1",
                        "payload": {"call_id": seeded.call_id, "version": 1, "priority": 2, "push": i},
                        "offset": i, "epoch": "baseline"}
                publisher.publish(baseline_channel, json.dumps(body, separators=(",", ":")))
                if not pool.wait_got("bare", i, expect=expect, timeout=args.timeout):
                    missed.append(f"baseline {i}")
                time.sleep(args.gap)
            time.sleep(0.5)
        receipts = [r for reply in pool.call("receipts") for r in reply["receipts"]]
        pool.call("close")

    wake_ours: list[float] = []
    wake_bare: list[float] = []
    push_ms: list[float] = []
    to_wake_ms: list[float] = []
    for kind, key, t in receipts:
        if kind == "rtcc" and key in pushed_at:
            woke = clock.seen.get((stack.wake_channel, key))
            push_ms.append((t - pushed_at[key]) * 1000)
            if woke is not None:
                wake_ours.append((t - woke) * 1000)
        elif kind == "bare":
            woke = clock.seen.get((baseline_channel, key))
            if woke is not None:
                wake_bare.append((t - woke) * 1000)
    last_receipt: dict[int, float] = {}
    for kind, key, t in receipts:
        if kind == "rtcc" and key in pushed_at:
            last_receipt[key] = max(t, last_receipt.get(key, 0.0))
    slowest: list[tuple[float, int, float]] = []
    for push_id, t0 in pushed_at.items():
        woke = clock.seen.get((stack.wake_channel, push_id))
        if woke is not None:
            to_wake_ms.append((woke - t0) * 1000)
            if push_id in last_receipt:
                slowest.append(((last_receipt[push_id] - t0) * 1000, push_id, (woke - t0) * 1000))
    expected = len(pushed_at) * args.clients
    print(f"\nreceipts: ours {len(push_ms):,} of {expected:,}, baseline {len(wake_bare):,} of "
          f"{len(pushed_at) * args.clients:,}; not complete within {args.timeout:.0f} s: {missed or 'none'}")
    print("(a) " + latency_line("wake-to-receipt, ours    ", wake_ours, digits=1))
    print("    " + latency_line("wake-to-receipt, baseline", wake_bare, digits=1))
    ratio = pct(wake_ours, 95) / pct(wake_bare, 95)
    print(f"    ratio of p95s: {ratio:.2f}")
    print("(b) " + latency_line("push-to-receipt          ", push_ms, digits=1))
    print("    " + latency_line("  request to wake (HTTP, Celery hop, resolve + write 1,000 events)", to_wake_ms,
                             digits=1))
    slowest.sort(reverse=True)
    print("    slowest pushes (to the last socket = request to wake + wake to last socket): " + ", ".join(
        f"{total:.0f} = {woke:.0f} + {total - woke:.0f} ms" for total, _, woke in slowest[:3]))
    print(f"    the analyst's request itself (202): p50={pct(request_ms, 50):.1f} ms "
          f"p95={pct(request_ms, 95):.1f} ms")
    print(f"(c) Daphne RSS: {before / KIB / KIB:.1f} MiB before, {after / KIB / KIB:.1f} MiB after {connected:,} "
          f"sockets: {kib_per_conn:.1f} KiB per socket (baseline: {baseline_kib:.1f} KiB per socket)")
    if stacks:
        print("py-spy stacks: " + ", ".join(str(f.relative_to(ROOT)) for f in stacks))
    push_p95 = pct(push_ms, 95)
    met = ratio <= 3 and push_p95 <= 150 and kib_per_conn <= 100 and len(push_ms) == expected
    print(f"targets: ratio <= 3, push p95 <= 150 ms, <= 100 KiB per socket, every receipt -> "
          f"{'met' if met else 'NOT met'}; total {time.perf_counter() - t_start:.0f} s, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"fanout p95_ms={push_p95:.1f} ratio={ratio:.2f} kib_per_conn={kib_per_conn:.1f}")


def main() -> None:
    parser = bench_parser(__doc__, database=BENCH_DB)
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between one delivery and the next send")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds a push may take to reach everyone")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds the pushes may take in all")
    parser.add_argument("--uvloop", action="store_true", help="run Daphne and the baseline on uvloop")
    parser.add_argument("--profile", action="store_true", help="py-spy stacks of the servers during pushes")
    args = parse_args(parser, smoke=dict(clients=40, pushes=3, timeout=15.0, budget=60.0))
    run_on_servers(args, run, database=BENCH_DB, log_dir=LOG_DIR)


if __name__ == "__main__":
    main()
