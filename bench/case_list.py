"""Permission-filtered case list: p95 latency and its cost over the same list unfiltered.

Seeds a throw-away PostgreSQL database (`rtcc_bench`, on the server DATABASE_URL
names) with two agencies, a few hundred officers, analysts and supervisors,
200,000 people, 50,000 cases (about 5% restricted) and 5,000 per-object grants
in django-guardian's direct foreign-key tables, some of them through groups.
Then it times `case_list_for_user` for one officer (page 1 and a few cursors
further) against the same keyset page over every case with the same audit
write, interleaved so both see the same machine noise.

    .venv/bin/python bench/case_list.py [--keep] [--explain]

Target: p95 <= 50 ms, ratio <= 3. The last line is
`case_list p95_ms=<n> ratio=<r>`. The databases DATABASE_URL names are never
touched; `rtcc_bench` is dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from _support import (
    FIRST_NAMES,
    LAST_NAMES,
    Stats,
    bench_parser,
    copy_rows,
    django_on,
    fresh_database,
    parse_args,
    server_url,
)
from psycopg import sql
from tqdm import tqdm

BENCH_DB = "rtcc_bench"
PAGE_SIZE = 50
# Pages timed for every list: the first screen and a few scrolls further.
PAGES = (1, 2, 3, 5, 10)
DEEP_PAGE = 100
SEED = 20_240_611

CASE_TYPES = ("Burglary", "Robbery", "Aggravated assault", "Auto theft", "Shooting", "Narcotics", "Fraud",
              "Homicide", "Missing person", "Arson", "Vandalism", "Domestic violence")
CASE_STATUSES = ("open", "active", "suspended", "closed")
HAIR = ("BLK", "BRO", "BLN", "RED", "GRY", "BLD")
EYES = ("BRO", "BLU", "GRN", "HAZ", "BLK")


@dataclass(frozen=True)
class Sizes:
    people: int
    cases: int
    grants: int


@dataclass(frozen=True)
class Seeded:
    officer_id: int
    officer_grants: int
    users: int
    groups: int


# --- Seeding -------------------------------------------------------------------------------------------------


def _stamp(rng: random.Random, now: datetime) -> tuple[datetime, datetime]:
    """created_at and updated_at spread over three years, updated after created."""
    updated = now - timedelta(seconds=rng.randrange(3 * 365 * 86_400))
    created = updated - timedelta(seconds=rng.randrange(90 * 86_400))
    return created, updated


def _people_rows(rng: random.Random, n: int, agencies: Sequence[int], now: datetime) -> Iterator[tuple[Any, ...]]:
    for _ in range(n):
        created, updated = _stamp(rng, now)
        restricted = rng.random() < 0.03
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 58))
        supervision = rng.choices(("", "probation", "parole"), weights=(90, 7, 3))[0]
        flags = rng.choice(('[]', '[]', '[]', '["armed"]', '["flight_risk"]', '["violent_to_officers"]'))
        yield (
            agencies[0] if rng.random() < 0.6 else agencies[1],
            "juvenile" if restricted else "",
            created, updated,
            rng.choice(FIRST_NAMES), "", rng.choice(LAST_NAMES), born,
            rng.choice("MF"), rng.choice("WBAIU"), rng.randrange(150, 200), rng.randrange(50, 130),
            rng.choice(HAIR), rng.choice(EYES), "",
            supervision, "", flags, "", "",
        )


PEOPLE_COLUMNS = (
    "agency_id", "restriction", "created_at", "updated_at",
    "first_name", "middle_name", "last_name", "date_of_birth",
    "sex", "race", "height_cm", "weight_kg",
    "hair", "eyes", "scars_marks_tattoos",
    "supervision", "supervision_detail", "caution_flags", "caution_notes", "behavioral_health_guidance",
)


def _case_rows(rng: random.Random, n: int, agencies: Sequence[int], creators: dict[int, list[int]],
               now: datetime) -> Iterator[tuple[Any, ...]]:
    numbers = dict.fromkeys(agencies, 0)
    for _ in range(n):
        agency = agencies[0] if rng.random() < 0.6 else agencies[1]
        numbers[agency] += 1
        created, updated = _stamp(rng, now)
        restriction = rng.choice(("juvenile", "sealed", "undercover")) if rng.random() < 0.05 else ""
        case_type = rng.choice(CASE_TYPES)
        yield (
            agency, restriction, created, updated,
            f"{created.year}-{numbers[agency]:06d}", case_type,
            f"{case_type}, {rng.randrange(100, 9999)} {rng.choice(LAST_NAMES)} St",
            rng.choice(CASE_STATUSES), "", created, rng.choice(creators[agency]),
        )


CASE_COLUMNS = ("agency_id", "restriction", "created_at", "updated_at", "number", "case_type", "title", "status",
                "notes", "opened_at", "created_by_id")


class GrantPicker:
    """Chooses grant targets the way an RTCC hands them out.

    Mostly restricted records (what grants are for), some records of the other
    agency (a joint task force), a few of the user's own unrestricted records
    (redundant, and excluded by the selector).
    """

    def __init__(self, rng: random.Random, rows: Sequence[tuple[int, int, str]]) -> None:
        self.rng = rng
        self.restricted = [pk for pk, _, restriction in rows if restriction]
        self.open_by_agency: dict[int, list[int]] = {}
        for pk, agency, restriction in rows:
            if not restriction:
                self.open_by_agency.setdefault(agency, []).append(pk)

    def pick(self, agency: int | None) -> int:
        roll = self.rng.random()
        if roll < 0.7 or agency is None:
            return self.rng.choice(self.restricted)
        if roll < 0.9:
            other = [a for a in self.open_by_agency if a != agency]
            return self.rng.choice(self.open_by_agency[self.rng.choice(other)])
        return self.rng.choice(self.open_by_agency[agency])


def _grant_set(picker: GrantPicker, holders: Sequence[tuple[int, int | None]], count: int,
               fixed: dict[int, int]) -> set[tuple[int, int]]:
    """`count` distinct (holder, object) pairs; holders in `fixed` get exactly that many."""
    pairs: set[tuple[int, int]] = set()
    agency_of = dict(holders)
    for holder, n in fixed.items():
        while sum(1 for h, _ in pairs if h == holder) < n:
            pairs.add((holder, picker.pick(agency_of[holder])))
    others = [h for h, _ in holders if h not in fixed]
    while len(pairs) < count:
        holder = picker.rng.choice(others)
        pairs.add((holder, picker.pick(agency_of[holder])))
    return pairs


def seed(sizes: Sizes) -> Seeded:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.db import connection

    from apps.accounts.models import Agency, Role, User
    from apps.cases.models import (
        Case,
        CaseGroupObjectPermission,
        CaseUserObjectPermission,
        Person,
        PersonGroupObjectPermission,
        PersonUserObjectPermission,
    )

    rng = random.Random(SEED)
    now = datetime.now(UTC)
    agencies = Agency.objects.bulk_create([
        Agency(name="Metro City Police Department", ori="XX0010000"),
        Agency(name="County Sheriff's Office", ori="XX0020000"),
    ])
    agency_ids = [a.pk for a in agencies]

    # A few hundred case-file users, so grants spread the way they do in a real center.
    unusable = make_password(None)
    staffing = {agency_ids[0]: {Role.OFFICER: 120, Role.ANALYST: 30, Role.SUPERVISOR: 20},
                agency_ids[1]: {Role.OFFICER: 90, Role.ANALYST: 25, Role.SUPERVISOR: 15}}
    users = [
        User(username=f"bench.{agency}.{role}.{i:03d}", role=role, agency_id=agency, password=unusable,
             badge_number=f"{agency}{i:04d}")
        for agency, roles in staffing.items() for role, n in roles.items() for i in range(n)
    ]
    User.objects.bulk_create(users)
    officer = User.objects.get(username=f"bench.{agency_ids[0]}.{Role.OFFICER}.000")
    holders = [(u.pk, u.agency_id) for u in User.objects.order_by("pk")]
    creators: dict[int, list[int]] = {}
    for pk, agency in holders:
        creators.setdefault(agency or 0, []).append(pk)

    # Task forces: groups of a dozen or two, across agencies; the measured officer is in one.
    groups = Group.objects.bulk_create([Group(name=f"Task force {i:02d}") for i in range(20)])
    membership: set[tuple[int, int]] = {(officer.pk, groups[0].pk)}
    colleagues = [h for h in holders if h[0] != officer.pk]
    for group in groups:
        for pk, _ in rng.sample(colleagues, rng.randrange(12, 21)):
            membership.add((pk, group.pk))
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=u, group_id=g) for u, g in sorted(membership)])

    copy_rows(Person._meta.db_table, PEOPLE_COLUMNS, _people_rows(rng, sizes.people, agency_ids, now),
              total=sizes.people, desc="people")
    copy_rows(Case._meta.db_table, CASE_COLUMNS, _case_rows(rng, sizes.cases, agency_ids, creators, now),
              total=sizes.cases, desc="cases")

    # 5,000 grants: 60% direct on cases, 30% direct on people, 10% through groups (70/30 cases/people).
    view_case = Permission.objects.get(content_type__app_label="cases", codename="view_case").pk
    view_person = Permission.objects.get(content_type__app_label="cases", codename="view_person").pk
    case_picker = GrantPicker(rng, list(Case.objects.values_list("pk", "agency_id", "restriction")))
    person_picker = GrantPicker(rng, list(Person.objects.values_list("pk", "agency_id", "restriction")))
    n_case_user = sizes.grants * 60 // 100
    n_person_user = sizes.grants * 30 // 100
    n_case_group = sizes.grants * 7 // 100
    n_person_group = sizes.grants - n_case_user - n_person_user - n_case_group
    group_holders: list[tuple[int, int | None]] = [(g.pk, None) for g in groups]
    officer_fixed_cases, officer_fixed_people = 25, 10

    with tqdm(total=sizes.grants, desc="grants", unit="rows", file=sys.stderr) as bar:
        case_user = _grant_set(case_picker, holders, n_case_user, {officer.pk: officer_fixed_cases})
        CaseUserObjectPermission.objects.bulk_create(
            [CaseUserObjectPermission(user_id=u, permission_id=view_case, content_object_id=o)
             for u, o in sorted(case_user)], batch_size=2_000)
        bar.update(len(case_user))
        person_user = _grant_set(person_picker, holders, n_person_user, {officer.pk: officer_fixed_people})
        PersonUserObjectPermission.objects.bulk_create(
            [PersonUserObjectPermission(user_id=u, permission_id=view_person, content_object_id=o)
             for u, o in sorted(person_user)], batch_size=2_000)
        bar.update(len(person_user))
        case_group = _grant_set(case_picker, group_holders, n_case_group, {})
        CaseGroupObjectPermission.objects.bulk_create(
            [CaseGroupObjectPermission(group_id=g, permission_id=view_case, content_object_id=o)
             for g, o in sorted(case_group)])
        bar.update(len(case_group))
        person_group = _grant_set(person_picker, group_holders, n_person_group, {})
        PersonGroupObjectPermission.objects.bulk_create(
            [PersonGroupObjectPermission(group_id=g, permission_id=view_person, content_object_id=o)
             for g, o in sorted(person_group)])
        bar.update(len(person_group))

    officer_groups = {g for u, g in membership if u == officer.pk}
    officer_grants = (officer_fixed_cases + officer_fixed_people
                      + sum(1 for g, _ in case_group if g in officer_groups)
                      + sum(1 for g, _ in person_group if g in officer_groups))

    # What autovacuum would have done by the time anyone reads these tables: statistics and visibility map.
    with connection.cursor() as cursor:
        for table in tqdm(connection.introspection.table_names(cursor), desc="vacuum analyze", file=sys.stderr):
            cursor.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)).as_string(None))
    return Seeded(officer_id=officer.pk, officer_grants=officer_grants, users=len(holders), groups=len(groups))


# --- Measuring -----------------------------------------------------------------------------------------------

Fetch = Callable[[str | None], Any]


def cursors_for(fetch: Fetch, pages: Sequence[int]) -> list[str | None]:
    """The cursor that opens each of `pages` (1-based), found by paging through with `fetch`."""
    wanted = set(pages)
    found: dict[int, str | None] = {1: None}
    cursor: str | None = None
    for page in range(1, max(pages)):
        cursor = fetch(cursor).next_cursor
        if cursor is None:
            raise SystemExit(f"only {page} pages to walk; seed more rows")
        if page + 1 in wanted:
            found[page + 1] = cursor
    return [found[p] for p in pages]


def timed(fetch: Fetch, cursor: str | None) -> float:
    start = time.perf_counter()
    fetch(cursor)
    return (time.perf_counter() - start) * 1_000


def interleaved(filtered: Fetch, baseline: Fetch, pages: Sequence[int], *, iterations: int, warmup: int,
                budget_s: float, desc: str) -> tuple[Stats, Stats, int]:
    """Time both paths turn about, over the same page positions, within a time budget."""
    filtered_cursors = cursors_for(filtered, pages)
    baseline_cursors = cursors_for(baseline, pages)
    for i in range(warmup):
        k = i % len(pages)
        filtered(filtered_cursors[k])
        baseline(baseline_cursors[k])
    gc.collect()
    f_samples: list[float] = []
    b_samples: list[float] = []
    start = time.perf_counter()
    with tqdm(total=iterations, desc=desc, unit="it", file=sys.stderr, leave=False) as bar:
        for i in range(iterations):
            if time.perf_counter() - start > budget_s:
                break
            k = i % len(pages)
            if i % 2 == 0:
                f_samples.append(timed(filtered, filtered_cursors[k]))
                b_samples.append(timed(baseline, baseline_cursors[k]))
            else:
                b_samples.append(timed(baseline, baseline_cursors[k]))
                f_samples.append(timed(filtered, filtered_cursors[k]))
            bar.update(1)
    return Stats(f_samples), Stats(b_samples), len(f_samples)


def explain(label: str, fetch: Fetch, cursor: str | None) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) every case-file SELECT one call issues."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fetch(cursor)
    selects = [q["sql"] for q in captured.captured_queries
               if q["sql"].lstrip().upper().startswith("SELECT") and '"cases_' in q["sql"]]
    for n, query in enumerate(selects, 1):
        print(f"\n--- EXPLAIN {label}, query {n}/{len(selects)}\n{query}")
        with connection.cursor() as cursor_:
            cursor_.execute("EXPLAIN (ANALYZE, BUFFERS) " + query)
            for (line,) in cursor_.fetchall():
                print(f"    {line}")


def run(args: argparse.Namespace) -> None:
    from apps.accounts.models import User
    from apps.audit.models import AuditEvent
    from apps.audit.services import audit_record
    from apps.cases.models import Case, Person
    from apps.cases.selectors import case_list_for_user, person_list_for_user
    from apps.common.pagination import Page, keyset_page

    t0 = time.perf_counter()
    sizes = Sizes(people=args.people, cases=args.cases, grants=args.grants)
    seeded = seed(sizes)
    print(f"seeded {sizes.people:,} people, {sizes.cases:,} cases, {sizes.grants:,} grants, "
          f"{seeded.users} users, {seeded.groups} groups in {time.perf_counter() - t0:.1f} s; "
          f"measured officer holds {seeded.officer_grants} grants (direct and through a group)")

    officer = User.objects.get(pk=seeded.officer_id)

    def baseline(model: type[Case] | type[Person]) -> Fetch:
        """The selector's path minus the permission filter: one keyset page over every row, the same audit row."""
        def page_of(cursor: str | None) -> Page[Any]:
            page = keyset_page([model._default_manager.all()], cursor=cursor, size=PAGE_SIZE)
            audit_record(actor=officer, action=AuditEvent.Action.READ, object_type=model._meta.label_lower,
                         objects=page.items, ip=None, detail={})
            return page
        return page_of

    def case_filtered(cursor: str | None) -> Page[Case]:
        return case_list_for_user(user=officer, cursor=cursor, size=PAGE_SIZE)

    def person_filtered(cursor: str | None) -> Page[Person]:
        return person_list_for_user(user=officer, cursor=cursor, size=PAGE_SIZE)

    case_baseline, person_baseline = baseline(Case), baseline(Person)

    pages = ", ".join(str(p) for p in PAGES)
    people_f, people_b, people_n = interleaved(person_filtered, person_baseline, PAGES, iterations=args.iterations,
                                               warmup=20, budget_s=args.budget / 2, desc="person_list")
    deep_f, deep_b, deep_n = interleaved(case_filtered, case_baseline, (DEEP_PAGE,), iterations=40, warmup=4,
                                         budget_s=args.budget / 4, desc=f"case_list page {DEEP_PAGE}")
    case_f, case_b, case_n = interleaved(case_filtered, case_baseline, PAGES, iterations=args.iterations,
                                         warmup=20, budget_s=args.budget, desc="case_list")

    if args.explain:
        walk = cursors_for(case_filtered, (1, 5, DEEP_PAGE))
        explain("case_list_for_user page 1", case_filtered, walk[0])
        explain("case_list_for_user page 5", case_filtered, walk[1])
        explain(f"case_list_for_user page {DEEP_PAGE}", case_filtered, walk[2])
        explain("unfiltered case page 5 (baseline)", case_baseline, cursors_for(case_baseline, (5,))[0])
        explain("person_list_for_user page 5", person_filtered, cursors_for(person_filtered, (5,))[0])
        explain("unfiltered person page 5 (baseline)", person_baseline, cursors_for(person_baseline, (5,))[0])
        print()

    def line(name: str, f: Stats, b: Stats, n: int) -> str:
        return (f"{name}: filtered median={f.median:.1f} ms p95={f.p95:.1f} ms | unfiltered median={b.median:.1f} ms "
                f"p95={b.p95:.1f} ms | ratio(p95)={f.p95 / b.p95:.2f} | n={n}")

    print(f"pages timed: {pages} (size {PAGE_SIZE}); each sample is the selector call including its audit write")
    print(line(f"person_list (informational, pages {pages})", people_f, people_b, people_n))
    print(line(f"case_list page {DEEP_PAGE} (informational)", deep_f, deep_b, deep_n))
    print(line(f"case_list pages {pages}", case_f, case_b, case_n))
    print(f"target: p95 <= 50 ms and ratio <= 3 -> "
          f"{'met' if case_f.p95 <= 50 and case_f.p95 / case_b.p95 <= 3 else 'NOT met'}; "
          f"total {time.perf_counter() - t0:.0f} s")
    print(f"case_list p95_ms={case_f.p95:.1f} ratio={case_f.p95 / case_b.p95:.2f}")


def main() -> None:
    parser = bench_parser(__doc__, database=BENCH_DB)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the selector's queries")
    parser.add_argument("--iterations", type=int, default=200, help="timed calls per path (default 200)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds the case-list timing may take")
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--grants", type=int, default=5_000)
    args = parse_args(parser, smoke=dict(iterations=5, budget=60.0, people=10_000, cases=40_000, grants=500))

    url = server_url()
    with fresh_database(url, BENCH_DB, keep=args.keep), django_on(url, BENCH_DB):
        run(args)


if __name__ == "__main__":
    main()
