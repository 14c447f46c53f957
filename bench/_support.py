"""What the benchmarks share: a throw-away PostgreSQL database, COPY seeding, and percentiles."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
# The server CI runs (.ci/run); a bench makes its own database there and drops it at the end.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"

# The seeded people's names (briefing, case_list): common US first and last names.
FIRST_NAMES = ("James", "Maria", "Robert", "Linda", "Michael", "Patricia", "David", "Jennifer", "Jose", "Aisha",
               "William", "Elizabeth", "Carlos", "Susan", "Kevin", "Jessica", "Tyrone", "Sarah", "Luis", "Karen",
               "Daniel", "Nancy", "Anthony", "Lisa", "Mark", "Betty", "DeShawn", "Sandra", "Kim", "Ashley")
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
              "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
              "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Nguyen",
              "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Hill", "Green", "Baker")


def pct(samples: Sequence[float], p: int) -> float:
    """The p-th percentile (inclusive method); the one sample when there is one, NaN when there is none."""
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def latency_line(label: str, samples_ms: Sequence[float], *, digits: int = 0) -> str:
    """One latency figure as the benches print it: p50, p95, p99 and max in ms, and the sample count."""
    if not samples_ms:
        return f"{label}: no samples"
    return (f"{label}: p50={pct(samples_ms, 50):.{digits}f} ms p95={pct(samples_ms, 95):.{digits}f} ms "
            f"p99={pct(samples_ms, 99):.{digits}f} ms max={max(samples_ms):.{digits}f} ms (n={len(samples_ms):,})")


@dataclass(frozen=True)
class Stats:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return pct(self.samples, 95)

    @property
    def max(self) -> float:
        return max(self.samples)


def server_url() -> str:
    """The PostgreSQL server the bench makes its throw-away database on: DATABASE_URL's, or CI's."""
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def admin_execute(url: str, statement: sql.Composed) -> None:
    """Run one statement on the server's maintenance database, outside a transaction."""
    conninfo = with_database(url, "postgres").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(statement)


def drop_database(url: str, name: str) -> None:
    admin_execute(url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def recreate_database(url: str, name: str) -> None:
    drop_database(url, name)
    admin_execute(url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url: str, name: str) -> None:
    """Point Django at database `name` on the server `url` names, and start it."""
    os.environ["DATABASE_URL"] = with_database(url, name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc_server.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@contextmanager
def django_on(url: str, name: str, *, migrate: bool = True) -> Iterator[None]:
    """Django started on database `name` (migrated, unless `migrate` is off); its connections closed at the end,
    so that the database can be dropped."""
    setup_django(url, name)
    from django.db import connections

    try:
        if migrate:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
        yield
    finally:
        connections.close_all()


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, total: int, desc: str) -> int:
    """COPY rows into a table (what bulk_create does, ten times faster for six-figure counts); returns the count."""
    from django.db import connection

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    n = 0
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy, \
            tqdm(total=total, desc=desc, unit="rows", unit_scale=True, file=sys.stderr) as bar:
        for n, row in enumerate(rows, 1):
            copy.write_row(row)
            if n % 5_000 == 0:
                bar.update(5_000)
        bar.update(n - bar.n)
    return n


def reset_sequence(table: str) -> None:
    """Rows were copied with explicit ids: move the identity past them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), max(id)) FROM {}").format(
            sql.Identifier(table)).as_string(None), [table])


def bench_parser(doc: str | None, *, database: str) -> argparse.ArgumentParser:
    """A bench's argument parser: described by the first line of its docstring, with `--keep` for its database."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--keep", action="store_true", help=f"leave the {database} database in place")
    return parser


def parse_args(parser: argparse.ArgumentParser, *, smoke: dict[str, Any]) -> argparse.Namespace:
    """Parse the bench's arguments, with `--smoke`: the sizes in `smoke`, to see in seconds that it still runs.

    `make bench-smoke` (and so `.ci/run`) runs every bench this way; a smoke run that breaks exits non-zero.
    """
    parser.add_argument("--smoke", action="store_true", help=f"seconds, small sizes ({smoke}): does it still run")
    args = parser.parse_args()
    if args.smoke:
        for name, value in smoke.items():
            setattr(args, name, value)
    return args


def database_done(url: str, name: str, *, keep: bool) -> None:
    """The end of a run: drop the bench's database, or say that it was kept (--keep)."""
    if keep:
        print(f"kept database {name}", file=sys.stderr)
    else:
        drop_database(url, name)


@contextmanager
def fresh_database(url: str, name: str, *, keep: bool) -> Iterator[None]:
    """A new, empty database `name` for the run; at the end dropped, or kept with --keep (database_done)."""
    recreate_database(url, name)
    try:
        yield
    finally:
        database_done(url, name, keep=keep)


@contextmanager
def servers_database(url: str, name: str, *, keep: bool, stop_servers: Callable[[], None]) -> Iterator[str]:
    """fresh_database and django_on for a bench that starts servers on it: yields the URL the servers are given,
    and stops them (`stop_servers`) before the drop, since they hold connections to the database."""
    with fresh_database(url, name, keep=keep):
        try:
            with django_on(url, name):
                yield with_database(url, name)
        finally:
            stop_servers()
