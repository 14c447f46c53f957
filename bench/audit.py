"""Audited actions per second from 1, 4 and 16 processes against plain inserts, and the sequencing lag.

On a throw-away PostgreSQL database (`rtcc_bench_audit_<name>`, on the server DATABASE_URL names,
<name> being that URL's database) it starts 16 writer processes and the delivery dispatcher, whose
loop runs the audit sequencer (docs/audit.md). Each writer, in phases of a few seconds, runs one
action per transaction as fast as it can:

- **audited**: `audit_record(...)` for an officer reading a case (one officer per writer), then COMMIT;
- **plain**: one INSERT of the same values into `bench_plain`, a copy of the audit table with its
  columns and indexes (CREATE TABLE ... LIKE ... INCLUDING ALL) less what only the log needs (the
  `txid` column and its index), and no trigger or sequencer;

each also **slow**: 2 ms more work (a sleep, as a request that audits early and commits late)
after the write and before COMMIT. 1, 4 and 16 writers take part in turn, plain and audited
interleaved so both see the same machine. The ratio is plain/s ÷ audited/s at each concurrency.

The sequencing lag is, for each audited row of the 16-writer phases, from the writer's COMMIT
returning to the row's log position being written (`AuditLeaf.sequenced_at`, taken just before the
sequencer inserts its batch); p95 over the non-slow 16-writer phase. After the run, every row must
be in the log and `audit_verify` must pass.

    .venv/bin/python bench/audit.py [--seconds 4] [--smoke] [--keep]

Targets: plain/audited <= 1.5 at every concurrency, lag p95 <= 1,000 ms. Last line:
`audit ratio_1=<r> ratio_16=<r> ratio_16_slow=<r> per_s_16=<n> seal_lag_p95_ms=<n>`. Every process it
starts is stopped at the end; the databases DATABASE_URL names are never touched.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from _support import ROOT, Stats, django_on, fresh_database, server_url, setup_django, with_database
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

CONCURRENCY = (1, 4, 16)
SLOW_S = 0.002
TARGET_RATIO = 1.5
TARGET_LAG_MS = 1000.0
PLAIN_INSERT = (
    "INSERT INTO bench_plain (at, actor_id, actor_username, agency_id_snapshot, action, object_type, object_id, "
    "object_ids, detail, ip, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '', '')"
)


def _writer(url: str, db: str, number: int, commands: Connection) -> None:
    """One writer process: waits for a phase, runs it until its end time, answers with what it did."""
    setup_django(url, db)
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.audit.services import audit_record

    officer = User.objects.get(username=f"officer{number}")
    cursor = connection.cursor()
    commands.send("ready")
    while True:
        message = commands.recv()
        if message is None:
            return
        mode, slow, start_at, stop_at = message
        while time.time() < start_at:
            time.sleep(0.001)
        done = 0
        commits: list[tuple[int, float]] = []
        while time.time() < stop_at:
            with transaction.atomic():
                if mode == "audited":
                    event = audit_record(actor=officer, action="read", object_type="cases.case", object_id=done,
                                         ip="127.0.0.1")
                else:
                    cursor.execute(PLAIN_INSERT, [timezone.now(), officer.pk, officer.username, officer.agency_id,
                                                  "read", "cases.case", str(done), "[]", "{}", "127.0.0.1"])
                if slow:
                    time.sleep(SLOW_S)
            if mode == "audited":
                commits.append((event.pk, time.time()))
            done += 1
        commands.send((done, commits))


def _phase(pipes: list[Connection], n: int, mode: str, slow: bool, seconds: float) -> tuple[int, list[Any]]:
    start_at = time.time() + 0.1
    for pipe in pipes[:n]:
        pipe.send((mode, slow, start_at, start_at + seconds))
    answers = [pipe.recv() for pipe in pipes[:n]]
    commits = [c for _, cs in answers for c in cs]
    return sum(done for done, _ in answers), commits


def _cell(pipes: list[Connection], n: int, slow: bool, seconds: float, rounds: int) -> tuple[float, float, list[Any]]:
    """Plain and audited in `rounds` alternations, so a change in the machine's load hits both alike."""
    plain = audited = 0
    commits: list[Any] = []
    for _ in range(rounds):
        done, _ = _phase(pipes, n, "plain", slow, seconds / rounds)
        plain += done
        done, some = _phase(pipes, n, "audited", slow, seconds / rounds)
        audited += done
        commits += some
    return plain / seconds, audited / seconds, commits


def _wait_sequenced(timeout: float) -> int:
    from apps.audit.services import unsequenced

    deadline = time.monotonic() + timeout
    while (left := unsequenced()[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _wait_for_sequencer(dispatcher: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the dispatcher's first pass holds the log's lease, so lag counts sequencing, not its start-up."""
    from apps.audit.models import AuditLogHead

    deadline = time.monotonic() + timeout
    while not AuditLogHead.objects.exclude(holder="").exists():
        if dispatcher.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the delivery dispatcher did not start sequencing")
        time.sleep(0.1)


def _lags_ms(commits: list[tuple[int, float]]) -> list[float]:
    from apps.audit.models import AuditLeaf

    placed: dict[int, datetime] = {}
    ids = [event_id for event_id, _ in commits]
    for i in range(0, len(ids), 5000):
        placed |= dict(AuditLeaf.objects.filter(event_id__in=ids[i:i + 5000]).values_list("event_id", "sequenced_at"))
    return [(placed[event_id].timestamp() - committed) * 1000 for event_id, committed in commits if event_id in placed]


def run(args: argparse.Namespace, url: str, db: str) -> str:
    from django.db import connection

    from apps.accounts.models import Agency, Role, User

    agency = Agency.objects.create(name="Bench City", ori="WA0000000")
    # One officer per writer, as concurrent requests come from different people.
    for number in range(max(CONCURRENCY)):
        User.objects.create_user(username=f"officer{number}", password=None, role=Role.OFFICER,
                                 agency=agency)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_plain (LIKE audit_auditevent INCLUDING ALL)")
        cursor.execute("ALTER TABLE bench_plain DROP COLUMN txid")  # and its index: only the sequencer reads it
    connection.close()

    concurrency = CONCURRENCY
    seconds = 0.5 if args.smoke else args.seconds
    env = os.environ | {"DATABASE_URL": with_database(url, db), "RTCC_AUDIT_SIGNING_KEY": args.key}
    dispatcher = subprocess.Popen([sys.executable, "manage.py", "delivery_dispatcher"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Fork: each writer starts with Django set up (16 spawned interpreters took ~20 s of a --smoke run);
    # the parent holds no database connection by now.
    ctx = mp.get_context("fork")
    pipes: list[Connection] = []
    writers = []
    try:
        for number in range(max(concurrency)):
            ours, theirs = ctx.Pipe()
            process = ctx.Process(target=_writer, args=(url, db, number, theirs), daemon=True)
            process.start()
            pipes.append(ours)
            writers.append(process)
        for pipe in pipes:
            pipe.recv()  # "ready": Django is set up
        _wait_for_sequencer(dispatcher, 60)
        print(f"{len(writers)} writers and the dispatcher started; {seconds:g} s a phase", file=sys.stderr)
        ratios: dict[tuple[int, bool], float] = {}
        rates: dict[tuple[int, bool], float] = {}
        lags: list[float] = []
        print(f"{'writers':>7} {'2 ms more':>9} {'plain/s':>9} {'audited/s':>9} {'plain/audited':>13}")
        for slow in (False, True):
            for n in concurrency:
                plain, audited, commits = _cell(pipes, n, slow, seconds, 1 if args.smoke else 4)
                if n == max(concurrency):
                    left = _wait_sequenced(10)
                    if left:
                        print(f"  {left} rows still unsequenced 10 s after the phase", file=sys.stderr)
                    if not slow:
                        lags = _lags_ms(commits)
                ratios[n, slow] = plain / audited
                rates[n, slow] = audited
                print(f"{n:>7} {'yes' if slow else 'no':>9} {plain:>9.0f} {audited:>9.0f} {plain / audited:>13.2f}")
    finally:
        for pipe in pipes:
            pipe.send(None)
        for process in writers:
            process.join(5)
            if process.is_alive():
                process.kill()
        left = _wait_sequenced(10)
        dispatcher.terminate()
        dispatcher.wait(10)
    lag = Stats(lags or [float("nan")])
    print(f"sequencing lag, 16 writers: p50 {lag.median:.0f} ms, p95 {lag.p95:.0f} ms, max {lag.max:.0f} ms "
          f"over {len(lags)} rows; unsequenced at the end: {left}")
    out = subprocess.run([sys.executable, "manage.py", "audit_verify", "--verbosity", "0"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=False)
    print(f"audit_verify: {(out.stdout or out.stderr).strip()}")
    worst = max(ratios.values())
    print(f"targets: plain/audited <= {TARGET_RATIO} at every concurrency: "
          f"{'met' if worst <= TARGET_RATIO else 'MISSED'} (worst {worst:.2f}); lag p95 <= {TARGET_LAG_MS:.0f} ms: "
          f"{'met' if lag.p95 <= TARGET_LAG_MS else 'MISSED'}")
    top = max(concurrency)
    return (f"audit ratio_1={ratios[1, False]:.2f} ratio_16={ratios[top, False]:.2f} "
            f"ratio_16_slow={ratios[top, True]:.2f} per_s_16={rates[top, False]:.0f} seal_lag_p95_ms={lag.p95:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each phase, default 4 s")
    parser.add_argument("--smoke", action="store_true", help="half-second phases: a check that it runs")
    parser.add_argument("--keep", action="store_true", help="leave the bench database in place")
    args = parser.parse_args()
    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    args.key = base64.b64encode(raw).decode()
    os.environ["RTCC_AUDIT_SIGNING_KEY"] = args.key

    url = server_url()
    db = f"rtcc_bench_audit_{urlsplit(url).path.strip('/') or 'default'}"
    line = "audit (not run)"
    with fresh_database(url, db, keep=args.keep), django_on(url, db):
        line = run(args, url, db)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    print(line)


if __name__ == "__main__":
    main()
