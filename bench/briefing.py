"""Call briefing assembly: p95 latency, queries per briefing, and its cost over hand-written SQL.

Seeds a throw-away PostgreSQL database (`rtcc_bench_briefing`, on the server
DATABASE_URL names) with two agencies (a city and a county, split by latitude),
50,000 premises in a Seattle-sized box with hundred-block addresses, keys and
geohash cells (about 20% with recorded hazards), 200,000 people (about 1% with
caution flags, some with warrants and photos), 100,000 cases linking a premise
and one to three people (about 3% restricted), 1,000,000 calls over the last two
years (most at premises, skewed so a few premises have thousands), people named
on about 5% of the calls, a health dataset of 300 square areas with weekly rates
(some above HOTSPOT_WEEKLY_RATE), and the default co-responder rules.

Then, for 1,000 random calls among the most recent (live calls, across
premises), it times `briefing_items_build(call=..., now=...)` against one
hand-written SQL statement that reads the same sections (prior calls at the
address and nearby, people on cases at the premise and named in the call with
active warrants and photo ids, active hazards, the health area, the rules),
interleaved so both see the same machine noise. The call is fetched with
select_related("premise", "agency") before timing, as briefing_assemble does, for both
paths; that query (one) is neither timed nor counted. A third, informational path replays the assembly's
own statements through a raw cursor, which splits the gap between the two into
round trips and server time on one side and ORM and Python time on the other;
a table shows each section's queries, and --explain prints EXPLAIN (ANALYZE,
BUFFERS) of the slowest instance of the slowest sections.

    .venv/bin/python bench/briefing.py [--keep] [--reuse] [--explain] [--smoke]

--smoke seeds a few thousand rows and briefs 50 calls (seconds): it checks that the bench runs, that
the baseline still reads what the assembly reads, and the query count, not the latency. --keep then
--reuse keeps the seeded database between runs (the seed's clock is stored with it), so a change to
the assembly can be measured again without seeding a million calls anew.

Targets: p95 <= 50 ms, <= 12 queries a briefing, ratio (p95 over the SQL
baseline's p95) <= 1.5. The last line is `briefing p95_ms=<n> queries=<q>
ratio=<r>`, q the most queries any briefing took. The databases DATABASE_URL
names are never touched; `rtcc_bench_briefing` is dropped at the end unless
--keep is given.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from _support import (
    FIRST_NAMES,
    LAST_NAMES,
    Stats,
    admin_execute,
    copy_rows,
    database_done,
    django_on,
    recreate_database,
    reset_sequence,
    server_url,
)
from psycopg import sql
from tqdm import tqdm

BENCH_DB = "rtcc_bench_briefing"
SEED = 20_241_124

# A Seattle-sized box; the southern part belongs to the county (the second agency).
MIN_LAT, MAX_LAT, MIN_LON, MAX_LON = 47.50, 47.73, -122.42, -122.25
COUNTY_BELOW_LAT = 47.546
# Dense neighbourhoods (downtown, Capitol Hill, the U District, Rainier Valley, Ballard, White Center).
CENTRES = ((47.608, -122.335, 0.006), (47.620, -122.318, 0.005), (47.661, -122.313, 0.005),
           (47.545, -122.285, 0.008), (47.668, -122.384, 0.006), (47.515, -122.355, 0.006))
HISTORY_DAYS = 730
# Samples are drawn from this many of the newest calls: the calls a briefing is assembled for.
RECENT_CALLS = 20_000
HEALTH_ROWS, HEALTH_COLS = 20, 15

NAMED_STREETS = ("RAINIER AVE S", "AURORA AVE N", "MARTIN LUTHER KING JR WAY S", "BEACON AVE S", "DELRIDGE WAY SW",
                 "CALIFORNIA AVE SW", "LAKE CITY WAY NE", "GREENWOOD AVE N", "PHINNEY AVE N", "EASTLAKE AVE E",
                 "BROADWAY E", "PIKE ST", "PINE ST", "UNION ST", "MADISON ST", "JACKSON ST", "YESLER WAY",
                 "DENNY WAY", "MERCER ST", "WESTLAKE AVE N", "DEXTER AVE N", "ROOSEVELT WAY NE", "UNIVERSITY WAY NE",
                 "SAND POINT WAY NE", "HOLMAN RD NW", "LEARY WAY NW", "MARKET ST NW", "FAUNTLEROY WAY SW",
                 "ALASKA ST SW", "HENDERSON ST S", "CLOVERDALE ST S", "GRAHAM ST S", "ORCAS ST S", "COLUMBIAN WAY S",
                 "SWIFT AVE S", "EMPIRE WAY S", "ALKI AVE SW", "HARBOR AVE SW", "NICKERSON ST", "STONE WAY N")
DIRECTIONS = ("N", "NE", "NW", "S", "SW", "E", "W", "")
BUSINESSES = ("Mini Mart", "Motel", "Tavern", "Apartments", "Market", "Gas Station", "Shelter", "Pharmacy")
CAUTION_FLAGS = ('["armed"]', '["violent_to_officers"]', '["mental_health_crisis"]', '["narcotics"]',
                 '["flight_risk"]', '["armed", "narcotics"]')
OFFENSES = ("Failure to appear", "Assault 4", "Burglary 2", "DUI", "Theft 3", "Robbery 1", "Probation violation")
CASE_TYPES = ("Burglary", "Robbery", "Aggravated assault", "Auto theft", "Shooting", "Narcotics", "Fraud",
              "Homicide", "Missing person", "Arson", "Vandalism", "Domestic violence")
INVOLVEMENTS = ("suspect", "victim", "witness", "complainant", "other")
HAZARDS = (("dog", "Aggressive dog in the yard"), ("weapons", "Firearms reported in the residence"),
           ("violence_to_officers", "Occupant assaulted officers at a prior call"),
           ("hazmat", "Chemicals stored in the garage"), ("medical", "Occupant on home oxygen"),
           ("other", "Barricaded entry; use the rear door"))
# (code, description, category, priority, weight, narratives)
CAD_TYPES: tuple[tuple[str, str, str, int, int, tuple[str, ...]], ...] = (
    ("DISTURB", "Disturbance", "disturbance", 3, 14, ("Loud argument in the hallway", "Group fighting outside")),
    ("SUSPCIR", "Suspicious circumstances", "suspicious", 3, 12, ("Person looking into cars", "Door found open")),
    ("THEFT", "Theft", "property", 4, 10, ("Shoplifter left eastbound", "Package stolen from porch")),
    ("BURG", "Burglary", "property", 2, 5, ("Window broken, house entered", "Garage burglary overnight")),
    ("TRAFFIC", "Traffic stop", "traffic", 4, 9, ("Vehicle stopped for speeding", "Driver without lights")),
    ("COLLISION", "Collision", "traffic", 3, 5, ("Two cars, no injuries", "Hit and run, minor damage")),
    ("DV", "Domestic violence", "domestic", 1, 5, ("Caller says husband hit her", "Screaming, things thrown")),
    ("ASLT", "Assault", "violent", 1, 4, ("Man punched outside the bar", "Assault in progress")),
    ("WEAPON", "Person with a weapon", "weapons", 1, 2, ("Man waving a knife", "Subject with a gun in waistband")),
    ("SHOTS", "Shots fired", "weapons", 1, 2, ("Several shots heard", "Shooting reported in the lot")),
    ("MH", "Person in crisis", "mental_health", 2, 4, ("Suicidal male on the bridge", "Hearing voices, agitated")),
    ("WELF", "Welfare check", "welfare_check", 3, 5, ("Elderly neighbour not seen for days", "Check on tenant")),
    ("OD", "Overdose", "overdose", 1, 3, ("Unresponsive male, possible overdose", "Narcan given by friend")),
    ("MED", "Medical assist", "medical", 2, 3, ("Fall, needs lift assist", "Diabetic, confused")),
    ("ALARM", "Alarm", "alarm", 4, 7, ("Commercial alarm, front door", "Residential alarm, no keyholder")),
    ("ADMIN", "Administrative", "administrative", 5, 3, ("Report pickup", "Follow-up with victim")),
    ("MISC", "Other", "other", 4, 2, ("Lost property", "Found bicycle")),
    ("XYZ99", "", "unknown", 3, 1, ("Unmapped CAD code",)),
)


@dataclass(frozen=True)
class Sizes:
    premises: int
    people: int
    cases: int
    calls: int


@dataclass(frozen=True)
class Place:
    """A place calls come from: a premise (premise_id set) or an address with no premise record."""

    agency: int
    address: str
    key: str
    lat: float
    lon: float
    cell: str
    premise_id: int | None


@dataclass(frozen=True)
class Seeded:
    now: datetime
    hazards: int
    call_people: int
    hot_areas: int


# --- Seeding -------------------------------------------------------------------------------------------------


def _in_box(rng: random.Random) -> tuple[float, float]:
    """A point: two thirds spread over the city, a third in its dense neighbourhoods."""
    if rng.random() < 0.65:
        return rng.uniform(MIN_LAT, MAX_LAT), rng.uniform(MIN_LON, MAX_LON)
    lat0, lon0, sigma = rng.choice(CENTRES)
    lat = min(max(rng.gauss(lat0, sigma), MIN_LAT), MAX_LAT - 1e-6)
    lon = min(max(rng.gauss(lon0, sigma * 1.4), MIN_LON), MAX_LON - 1e-6)
    return lat, lon


def _street(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return rng.choice(NAMED_STREETS)
    n = rng.randrange(1, 151)
    kind = rng.choice(("AVE", "AV", "ST"))
    direction = rng.choice(DIRECTIONS)
    return f"{n} {kind} {direction}".strip() if kind != "ST" or not direction else f"{direction} {n} ST"


def _places(rng: random.Random, n: int, agencies: Sequence[int], taken: set[str],
            first_premise_id: int | None) -> list[Place]:
    """n places with distinct address keys (hundred blocks, spelled the way CAD exports them)."""
    from apps.places.geo import geohash_encode
    from apps.places.normalize import address_key

    places: list[Place] = []
    while len(places) < n:
        block = rng.randrange(1, 150) * 100
        street = _street(rng)
        style = rng.random()
        if style < 0.5:
            address = f"{block} BLOCK OF {street}"
        elif style < 0.8:
            address = f"{block // 100}XX BLOCK OF {street}"
        else:
            address = f"{block + rng.randrange(1, 99)} {street}"
        key = address_key(address)
        if not key or key in taken:
            continue
        taken.add(key)
        lat, lon = _in_box(rng)
        agency = agencies[1] if lat < COUNTY_BELOW_LAT else agencies[0]
        premise_id = None if first_premise_id is None else first_premise_id + len(places)
        places.append(Place(agency, address, key, round(lat, 6), round(lon, 6), geohash_encode(lat, lon), premise_id))
    return places


def _stamp(rng: random.Random, now: datetime, days: int = 3 * 365) -> tuple[datetime, datetime]:
    updated = now - timedelta(seconds=rng.randrange(days * 86_400))
    return updated - timedelta(seconds=rng.randrange(90 * 86_400)), updated


PREMISE_COLUMNS = ("id", "agency_id", "restriction", "created_at", "updated_at", "name", "address", "address_key",
                   "latitude", "longitude", "cell", "hazards")


def _premise_rows(rng: random.Random, premises: Sequence[Place], now: datetime) -> Iterator[tuple[Any, ...]]:
    for p in premises:
        created, updated = _stamp(rng, now)
        name = f"{rng.choice(LAST_NAMES)} {rng.choice(BUSINESSES)}" if rng.random() < 0.1 else ""
        notes = rng.choice(HAZARDS)[1] if rng.random() < 0.03 else ""
        restriction = "undercover" if rng.random() < 0.01 else ""
        yield (p.premise_id, p.agency, restriction, created, updated, name, p.address, p.key, p.lat, p.lon, p.cell,
               notes)


PEOPLE_COLUMNS = ("id", "agency_id", "restriction", "created_at", "updated_at", "first_name", "middle_name",
                  "last_name", "date_of_birth", "sex", "race", "height_cm", "weight_kg", "hair", "eyes",
                  "scars_marks_tattoos", "supervision", "supervision_detail", "caution_flags", "caution_notes",
                  "behavioral_health_guidance")


def _people_rows(rng: random.Random, agency_of: Sequence[int], now: datetime) -> Iterator[tuple[Any, ...]]:
    for pk, agency in enumerate(agency_of, 1):
        created, updated = _stamp(rng, now)
        restriction = "juvenile" if rng.random() < 0.03 else ""
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 58))
        supervision = rng.choices(("", "probation", "parole"), weights=(90, 7, 3))[0]
        flagged = rng.random() < 0.01
        flags = rng.choice(CAUTION_FLAGS) if flagged else "[]"
        notes = "Resisted arrest in the past; approach with backup." if flagged else ""
        guidance = "Speaks calmly when given space; ask about his dog." if rng.random() < 0.005 else ""
        yield (pk, agency, restriction, created, updated, rng.choice(FIRST_NAMES), "", rng.choice(LAST_NAMES), born,
               rng.choice("MF"), rng.choice("WBAIU"), rng.randrange(150, 200), rng.randrange(50, 130), "BRO", "BRO",
               "", supervision, "Reports weekly" if supervision else "", flags, notes, guidance)


def _warrant_rows(rng: random.Random, people: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    n = 0
    for person in range(1, people + 1):
        if rng.random() >= 0.03:
            continue
        for _ in range(rng.choice((1, 1, 2))):
            n += 1
            status = rng.choices(("active", "served", "recalled"), weights=(70, 25, 5))[0]
            issued = (now - timedelta(days=rng.randrange(2_000))).date()
            yield person, f"W{n:08d}", rng.choice(OFFENSES), issued, status, rng.random() < 0.8


def _photo_rows(rng: random.Random, people: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    for person in range(1, people + 1):
        if rng.random() >= 0.25:
            continue
        for _ in range(rng.choice((1, 1, 1, 2))):
            taken = now - timedelta(days=rng.randrange(3_000))
            digest = f"{rng.getrandbits(256):064x}"
            # width and height are NOT NULL without a database default: 0 is "stored before variants existed".
            yield (person, f"people/{taken:%Y/%m}/{digest[:16]}.jpg", digest, "image/jpeg", 0, 0, taken.date(), taken)


@dataclass
class CaseLinks:
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    people: list[tuple[int, int, str]] = field(default_factory=list)
    premises: list[tuple[int, int]] = field(default_factory=list)


def _cases(rng: random.Random, n: int, premises: Sequence[Place], premise_cum: Sequence[float],
           people_by_agency: dict[int, list[int]], now: datetime) -> CaseLinks:
    """Cases with one premise each (half drawn like calls, half uniformly) and one to three of its agency's people."""
    links = CaseLinks()
    numbers: Counter[int] = Counter()
    skewed = rng.choices(range(len(premises)), cum_weights=premise_cum, k=n // 2)
    uniform = [rng.randrange(len(premises)) for _ in range(n - len(skewed))]
    for pk, index in enumerate(skewed + uniform, 1):
        premise = premises[index]
        numbers[premise.agency] += 1
        created, updated = _stamp(rng, now)
        restriction = rng.choice(("juvenile", "sealed", "undercover")) if rng.random() < 0.03 else ""
        case_type = rng.choice(CASE_TYPES)
        links.cases.append((pk, premise.agency, restriction, created, updated,
                            f"{created.year}-{numbers[premise.agency]:07d}", case_type,
                            f"{case_type}, {premise.address}", rng.choice(("open", "active", "suspended", "closed")),
                            "", created, None))
        links.premises.append((pk, premise.premise_id or 0))
        for person in rng.sample(people_by_agency[premise.agency], rng.choice((1, 1, 2, 2, 3))):
            links.people.append((pk, person, rng.choice(INVOLVEMENTS)))
    return links


CASE_COLUMNS = ("id", "agency_id", "restriction", "created_at", "updated_at", "number", "case_type", "title",
                "status", "notes", "opened_at", "created_by_id")


def _hazard_rows(rng: random.Random, premises: Sequence[Place], people_by_agency: dict[int, list[int]],
                 now: datetime) -> Iterator[tuple[Any, ...]]:
    def expiry() -> datetime | None:
        roll = rng.random()
        if roll < 0.25:
            return now - timedelta(days=rng.randrange(1, 400))
        return now + timedelta(days=rng.randrange(1, 700)) if roll < 0.6 else None

    for premise in premises:
        if rng.random() >= 0.20:
            continue
        for _ in range(rng.choice((1, 1, 2))):
            kind, text = rng.choice(HAZARDS)
            yield (premise.agency, kind, premise.premise_id, None, text, rng.choice(("call", "officer", "record")),
                   now - timedelta(days=rng.randrange(1, 1_500)), expiry())
    for agency, people in people_by_agency.items():
        for person in rng.sample(people, len(people) // 100):
            kind, text = rng.choice(HAZARDS[1:3] + HAZARDS[4:5])
            yield (agency, kind, None, person, text, "record", now - timedelta(days=rng.randrange(1, 1_500)),
                   expiry())


HAZARD_COLUMNS = ("agency_id", "kind", "premise_id", "person_id", "description", "source", "reported_at",
                  "expires_at")

CALL_COLUMNS = ("id", "agency_id", "event_number", "source", "cad_code", "cad_description", "category",
                "cad_code_unmapped", "priority", "status", "address", "address_key", "latitude", "longitude", "cell",
                "located_by", "premise_id", "narrative", "received_at", "dispatched_at", "on_scene_at", "cleared_at",
                "created_at", "updated_at")
NO_PLACE = Place(0, "", "", math.nan, math.nan, "", None)


def _call_rows(rng: random.Random, n: int, places: Sequence[Place], place_cum: Sequence[float],
               agencies: Sequence[int], now: datetime) -> Iterator[tuple[Any, ...]]:
    """n calls in time order (ids ascend with received_at); 1% unlocated, the rest at a place drawn by weight."""
    start = now.timestamp() - HISTORY_DAYS * 86_400
    offsets = sorted(rng.random() * HISTORY_DAYS * 86_400 for _ in range(n))
    where = rng.choices(range(len(places)), cum_weights=place_cum, k=n)
    kinds = rng.choices(CAD_TYPES, weights=[t[4] for t in CAD_TYPES], k=n)
    numbers: Counter[int] = Counter()
    for i in range(n):
        received = datetime.fromtimestamp(start + offsets[i], UTC)
        place = places[where[i]] if rng.random() >= 0.01 else NO_PLACE
        agency = place.agency or agencies[0]
        numbers[agency] += 1
        code, description, category, priority, _, narratives = kinds[i]
        age_s = now.timestamp() - start - offsets[i]
        dispatched = received + timedelta(seconds=60 + rng.randrange(900))
        on_scene = dispatched + timedelta(seconds=120 + rng.randrange(1_200))
        if age_s < 3 * 3600:
            status = rng.choice(("received", "dispatched", "on_scene"))
            cleared = None
        else:
            status = "closed"
            cleared = on_scene + timedelta(seconds=600 + rng.randrange(5_400))
        located = "" if not place.cell else ("premise" if rng.random() < 0.2 else "cad")
        yield (i + 1, agency, f"{'SPD' if agency == agencies[0] else 'KCS'}{received:%y}-{numbers[agency]:07d}",
               "cad" if age_s < 86_400 else "import", code, description, category, category == "unknown", priority,
               status, place.address, place.key, None if not place.cell else place.lat,
               None if not place.cell else place.lon, place.cell, located, place.premise_id,
               rng.choice(narratives), received,
               dispatched if status != "received" else None, on_scene if status in ("on_scene", "closed") else None,
               cleared, received, cleared or received)


def _zipf_cum(rng: random.Random, n: int, exponent: float, offset: int) -> list[float]:
    """Cumulative weights of n items in random order, the k-th heaviest weighing (k + offset) ** -exponent."""
    weights = [(k + offset) ** -exponent for k in range(n)]
    rng.shuffle(weights)
    cum: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)
    return cum


def _health(rng: random.Random, now: datetime) -> int:
    """A dataset of HEALTH_ROWS x HEALTH_COLS squares over the box, eight weeks of rates; returns the hot count."""
    from django.conf import settings

    from apps.hazards.models import HealthArea, HealthDataset, HealthRate

    dataset = HealthDataset.objects.create(
        name="Bench respiratory illness", disease="Respiratory illness", source="bench/briefing.py",
        ppe_advice="Wear an N95 respirator and eye protection indoors.", loaded_at=now)
    height, width = (MAX_LAT - MIN_LAT) / HEALTH_ROWS, (MAX_LON - MIN_LON) / HEALTH_COLS
    latest = (now - timedelta(days=(now.weekday() - 5) % 7 or 7)).date()  # the last Saturday before today
    areas: list[HealthArea] = []
    series: list[tuple[date, list[float]]] = []
    for r in range(HEALTH_ROWS):
        for c in range(HEALTH_COLS):
            lat0, lon0 = MIN_LAT + r * height, MIN_LON + c * width
            lat1, lon1 = lat0 + height, lon0 + width
            ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
            rates = [round(rng.lognormvariate(math.log(45), 0.75), 1) for _ in range(8)]
            stale = rng.random() < 0.05
            week = latest - timedelta(days=35 if stale else 0)
            series.append((week, rates))
            areas.append(HealthArea(dataset=dataset, code=f"A{r:02d}{c:02d}", label=f"Area {r}-{c}",
                                    geometry={"type": "Polygon", "coordinates": [ring]}, min_lat=lat0, max_lat=lat1,
                                    min_lon=lon0, max_lon=lon1, latest_week=week, latest_rate=rates[0]))
    HealthArea.objects.bulk_create(areas)
    HealthRate.objects.bulk_create([
        HealthRate(area=area, week_ending=week - timedelta(weeks=k), rate=rate)
        for area, (week, rates) in zip(areas, series, strict=True) for k, rate in enumerate(rates)])
    return sum(1 for a in areas if (a.latest_rate or 0) >= settings.HOTSPOT_WEEKLY_RATE)


def seed(sizes: Sizes) -> Seeded:
    from django.db import connection

    from apps.accounts.models import Agency
    from apps.briefings.services import recommendation_rules_seed
    from apps.calls.models import Call
    from apps.cases.models import Case, CasePerson, Person, PersonPhoto, Premise, Warrant
    from apps.hazards.models import RecordHazard

    rng = random.Random(SEED)
    now = datetime.now(UTC).replace(microsecond=0)
    agencies = Agency.objects.bulk_create([
        Agency(name="Metro City Police Department", ori="XX0010000"),
        Agency(name="County Sheriff's Office", ori="XX0020000"),
    ])
    agency_ids = [a.pk for a in agencies]
    for agency in agency_ids:
        recommendation_rules_seed(agency_id=agency)

    t = time.perf_counter()
    taken: set[str] = set()
    premises = _places(rng, sizes.premises, agency_ids, taken, first_premise_id=1)
    # Addresses with no premise record: a fifth as many as premises, for the calls that come from elsewhere.
    elsewhere = _places(rng, sizes.premises // 5, agency_ids, taken, first_premise_id=None)
    print(f"addresses: {len(premises) + len(elsewhere):,} keys and cells in {time.perf_counter() - t:.1f} s",
          file=sys.stderr)
    copy_rows(Premise._meta.db_table, PREMISE_COLUMNS, _premise_rows(rng, premises, now), total=len(premises),
              desc="premises")

    agency_of = [agency_ids[1] if rng.random() < 0.2 else agency_ids[0] for _ in range(sizes.people)]
    people_by_agency: dict[int, list[int]] = defaultdict(list)
    for pk, agency in enumerate(agency_of, 1):
        people_by_agency[agency].append(pk)
    copy_rows(Person._meta.db_table, PEOPLE_COLUMNS, _people_rows(rng, agency_of, now), total=sizes.people,
              desc="people")
    copy_rows(Warrant._meta.db_table, ("person_id", "number", "offense", "issued_on", "status", "extraditable"),
              _warrant_rows(rng, sizes.people, now), total=sizes.people * 4 // 100, desc="warrants")
    copy_rows(PersonPhoto._meta.db_table,
              ("person_id", "image", "sha256", "content_type", "width", "height", "taken_on", "created_at"),
              _photo_rows(rng, sizes.people, now), total=sizes.people * 31 // 100, desc="photos")

    # Call volume by place: Zipf-like, so a few premises (a mini mart, a shelter) have thousands of calls.
    premise_cum = _zipf_cum(rng, len(premises), 0.9, 10)
    links = _cases(rng, sizes.cases, premises, premise_cum, people_by_agency, now)
    copy_rows(Case._meta.db_table, CASE_COLUMNS, links.cases, total=len(links.cases), desc="cases")
    copy_rows(CasePerson._meta.db_table, ("case_id", "person_id", "involvement"), links.people,
              total=len(links.people), desc="case people")
    copy_rows(Case.premises.through._meta.db_table, ("case_id", "premise_id"), links.premises,
              total=len(links.premises), desc="case premises")
    hazards = copy_rows(RecordHazard._meta.db_table, HAZARD_COLUMNS,
                        _hazard_rows(rng, premises, people_by_agency, now),
                        total=sizes.premises * 27 // 100 + sizes.people // 100, desc="hazards")

    # 85% of calls at premises, 14% at other addresses, 1% unlocated (_call_rows).
    places = premises + elsewhere
    premise_total = premise_cum[-1]
    elsewhere_cum = [premise_total + (i + 1) * premise_total * 14 / 85 / len(elsewhere) for i in range(len(elsewhere))]
    copy_rows(Call._meta.db_table, CALL_COLUMNS,
              _call_rows(rng, sizes.calls, places, premise_cum + elsewhere_cum, agency_ids, now),
              total=sizes.calls, desc="calls")

    # People named on 5% of calls: one or two of the agency's people, often someone on a case at the premise.
    on_cases: dict[int, list[int]] = defaultdict(list)
    case_premise = dict(links.premises)
    for case, person, _ in links.people:
        on_cases[case_premise[case]].append(person)
    named: list[tuple[int, int]] = []
    with connection.cursor() as cursor:
        # A fixed 5% (a multiplicative hash of the id), so every run names people on the same calls.
        cursor.execute("SELECT id, agency_id, premise_id FROM calls_call WHERE (id * 2654435761) %% 100 < %s", [5])
        for call_id, agency, premise_id in cursor.fetchall():
            known = on_cases.get(premise_id or 0, [])
            picks = {rng.choice(known) if known and rng.random() < 0.5 else rng.choice(people_by_agency[agency])
                     for _ in range(rng.choice((1, 1, 2)))}
            named += [(call_id, p) for p in sorted(picks)]
    copy_rows(Call.people.through._meta.db_table, ("call_id", "person_id"), named, total=len(named),
              desc="call people")

    for model in (Premise, Person, Case, Call):
        reset_sequence(model._meta.db_table)
    hot = _health(rng, now)

    # What autovacuum would have done by the time anyone reads these tables: statistics and visibility map.
    with connection.cursor() as cursor:
        for table in tqdm(connection.introspection.table_names(cursor), desc="vacuum analyze", file=sys.stderr):
            cursor.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)).as_string(None))
    seeded = Seeded(now=now, hazards=hazards, call_people=len(named), hot_areas=hot)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_seeded (sizes jsonb, seeded jsonb)")
        cursor.execute("INSERT INTO bench_seeded VALUES (%s, %s)", [
            json.dumps(sizes.__dict__),
            json.dumps({**seeded.__dict__, "now": now.isoformat()})])
    return seeded


def seeded_read(sizes: Sizes) -> Seeded | None:
    """What an earlier --keep run seeded, if it seeded these sizes (for --reuse)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if "bench_seeded" not in connection.introspection.table_names(cursor):
            return None
        cursor.execute("SELECT sizes, seeded FROM bench_seeded")
        row = cursor.fetchone()
    stored, seeded = (_json(v) for v in row)
    if stored != sizes.__dict__:
        return None
    return Seeded(now=datetime.fromisoformat(seeded["now"]), hazards=seeded["hazards"],
                  call_people=seeded["call_people"], hot_areas=seeded["hot_areas"])


# --- The hand-written baseline -------------------------------------------------------------------------------

# Every section the assembly reads, in one statement: one round trip.
BASELINE_SQL = """
WITH named AS MATERIALIZED (
    SELECT person_id FROM calls_call_people WHERE call_id = %(call)s
), block AS MATERIALIZED (
    SELECT id, address, hazards, updated_at, address_key, latitude, longitude FROM cases_premise
    WHERE %(has_block)s AND agency_id = %(agency)s AND restriction = ''
      AND (address_key = %(block)s OR cell = ANY(%(near)s)) AND address_key <> %(key)s
      AND id IS DISTINCT FROM %(premise)s
    ORDER BY address, id LIMIT 200
), linked AS MATERIALIZED (
    SELECT cp.person_id, row_number() OVER (ORDER BY c.opened_at DESC, cp.person_id) AS rank
    FROM cases_caseperson cp
    JOIN cases_case c ON c.id = cp.case_id
    JOIN cases_case_premises cpm ON cpm.case_id = c.id
    WHERE cpm.premise_id = %(premise)s AND c.restriction = '' AND c.agency_id = %(agency)s
    ORDER BY c.opened_at DESC, cp.person_id
    LIMIT %(linked_limit)s
), people AS MATERIALIZED (
    SELECT p.id, p.first_name, p.last_name, p.date_of_birth, p.caution_flags, p.caution_notes, p.supervision,
           p.supervision_detail, p.behavioral_health_guidance, p.updated_at,
           p.id IN (SELECT person_id FROM named) AS named
    FROM cases_person p
    WHERE p.id IN (SELECT person_id FROM named UNION SELECT person_id FROM linked)
      AND p.agency_id = %(agency)s AND p.restriction = ''
    ORDER BY named DESC, CASE WHEN p.id IN (SELECT person_id FROM named) THEN p.id END,
             (SELECT min(rank) FROM linked l WHERE l.person_id = p.id), p.id
    LIMIT %(people_limit)s
)
SELECT
  (SELECT json_agg(json_build_object(
      'id', p.id, 'named', p.named, 'first_name', p.first_name, 'last_name', p.last_name,
      'date_of_birth', p.date_of_birth, 'caution_flags', p.caution_flags, 'caution_notes', p.caution_notes,
      'supervision', p.supervision, 'supervision_detail', p.supervision_detail,
      'behavioral_health_guidance', p.behavioral_health_guidance, 'updated_at', p.updated_at,
      'warrants', (SELECT json_agg(json_build_object('number', w.number, 'offense', w.offense))
                   FROM cases_warrant w WHERE w.person_id = p.id AND w.status = 'active'),
      'photo_ids', (SELECT json_agg(ph.id ORDER BY ph.created_at DESC)
                    FROM cases_personphoto ph WHERE ph.person_id = p.id))
    ORDER BY p.named DESC, CASE WHEN p.named THEN p.id END,
             (SELECT min(rank) FROM linked l WHERE l.person_id = p.id), p.id) FROM people p),
  (SELECT json_agg(h ORDER BY h.reported_at DESC) FROM (
      SELECT h.id, h.kind, h.premise_id, h.person_id, h.description, h.source, h.reported_at, h.expires_at
      FROM hazards_recordhazard h
      WHERE (((h.premise_id = %(premise)s OR h.premise_id IN (SELECT id FROM block))
              AND (h.person_id IS NULL OR h.person_id IN (SELECT id FROM people)))
             OR (h.premise_id IS NULL AND h.person_id IN (SELECT id FROM people)))
        AND (h.expires_at IS NULL OR h.expires_at > %(now)s)) h),
  (SELECT json_agg(a ORDER BY a.latest_week DESC, a.latest_rate DESC, a.id) FROM (
      SELECT a.id, a.code, a.label, a.geometry, a.latest_week, a.latest_rate, d.name, d.disease, d.ppe_advice,
             d.rate_unit
      FROM hazards_healtharea a JOIN hazards_healthdataset d ON d.id = a.dataset_id
      WHERE (NOT EXISTS (SELECT 1 FROM hazards_healthdataset_agencies l WHERE l.healthdataset_id = a.dataset_id)
             OR EXISTS (SELECT 1 FROM hazards_healthdataset_agencies l
                        WHERE l.healthdataset_id = a.dataset_id AND l.agency_id = %(agency)s))
        AND a.min_lat <= %(lat)s AND a.max_lat >= %(lat)s AND a.min_lon <= %(lon)s AND a.max_lon >= %(lon)s
        AND a.latest_week IS NOT NULL AND a.latest_rate IS NOT NULL) a),
  (SELECT json_agg(r ORDER BY r.name) FROM (
      SELECT id, name, responder, categories, narrative_keywords, caution_flags
      FROM briefings_recommendationrule WHERE agency_id = %(agency)s AND enabled) r),
  (SELECT json_object_agg(x.category, x.n) FROM (
      SELECT category, count(*) AS n FROM calls_call
      WHERE agency_id = %(agency)s AND address_key = %(key)s AND %(key)s <> ''
        AND (NOT %(located)s OR cell = '' OR cell = ANY(%(near)s))
        AND received_at >= %(since)s AND received_at < %(received)s AND id <> %(call)s
      GROUP BY category) x),
  (SELECT json_agg(x ORDER BY x.received_at DESC) FROM (
      SELECT event_number, received_at, category, cad_description, cad_code FROM calls_call
      WHERE agency_id = %(agency)s AND address_key = %(key)s AND %(key)s <> ''
        AND (NOT %(located)s OR cell = '' OR cell = ANY(%(near)s))
        AND received_at >= %(since)s AND received_at < %(received)s AND id <> %(call)s
      ORDER BY received_at DESC LIMIT %(last_limit)s) x),
  (SELECT json_object_agg(x.category, x.n) FROM (
      SELECT category, count(*) AS n FROM calls_call
      WHERE agency_id = %(agency)s AND cell = ANY(%(cells)s) AND (%(key)s = '' OR address_key <> %(key)s)
        AND received_at >= %(since)s AND received_at < %(received)s AND id <> %(call)s
      GROUP BY category) x),
  (SELECT json_agg(b ORDER BY b.address, b.id) FROM block b)
"""
BASELINE_TABLES = {"calls_call": ("calls", "Call"), "cases_person": ("cases", "Person"),
                   "cases_premise": ("cases", "Premise"),
                   "cases_caseperson": ("cases", "CasePerson"), "cases_case": ("cases", "Case"),
                   "cases_warrant": ("cases", "Warrant"), "cases_personphoto": ("cases", "PersonPhoto"),
                   "hazards_recordhazard": ("hazards", "RecordHazard"), "hazards_healtharea": ("hazards", "HealthArea"),
                   "hazards_healthdataset": ("hazards", "HealthDataset"),
                   "briefings_recommendationrule": ("briefings", "RecommendationRule")}


def check_baseline_tables() -> None:
    """The baseline names tables by hand: make sure they are the models' tables."""
    from django.apps import apps

    from apps.calls.models import Call
    from apps.cases.models import Case
    from apps.hazards.models import HealthDataset

    found = {apps.get_model(app, model)._meta.db_table for app, model in BASELINE_TABLES.values()}
    found |= {Call.people.through._meta.db_table, Case.premises.through._meta.db_table,
              HealthDataset.agencies.through._meta.db_table}
    expected = set(BASELINE_TABLES) | {"calls_call_people", "cases_case_premises", "hazards_healthdataset_agencies"}
    if found != expected:
        raise SystemExit(f"baseline SQL names tables {sorted(expected - found)} the models do not have")


@dataclass
class Baseline:
    people: list[dict[str, Any]]
    hazards: list[dict[str, Any]]
    health: dict[str, Any] | None
    rules: list[dict[str, Any]]
    address_counts: dict[str, int]
    address_last: list[dict[str, Any]]
    nearby_counts: dict[str, int]
    block: list[dict[str, Any]] = field(default_factory=list)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def baseline_build(call: Any, now: datetime) -> Baseline:
    """The same sections as briefing_items_build, read with one hand-written statement."""
    from django.conf import settings
    from django.db import connection

    from apps.briefings.assembly import LAST_CALLS_SHOWN, PEOPLE_SHOWN
    from apps.hazards.geometry import geometry_contains
    from apps.places.geo import cell_block, cells_within
    from apps.places.normalize import block_key, key_is_block
    from apps.places.services import places_apart

    premise = call.premise if call.premise_id and call.premise and not call.premise.restriction else None
    located = call.latitude is not None and call.longitude is not None
    block = block_key(call.address_key)
    params = {
        "located": located, "near": cells_within(call.latitude, call.longitude, settings.PLACE_SAME_ADDRESS_M)
        if located else [], "block": block,
        "has_block": bool(call.address_key) and (block != call.address_key or key_is_block(call.address_key)),
        "call": call.pk, "agency": call.agency_id, "premise": premise.pk if premise else None, "now": now,
        "since": now - timedelta(days=settings.PRIOR_CALLS_DAYS), "received": call.received_at,
        "key": call.address_key, "cells": cell_block(call.latitude, call.longitude) if located else [],
        "lat": call.latitude, "lon": call.longitude, "linked_limit": PEOPLE_SHOWN * 2, "people_limit": PEOPLE_SHOWN,
        "last_limit": LAST_CALLS_SHOWN,
    }
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_SQL, params)
        row = cursor.fetchone()
    people, hazards, areas, rules, address_counts, address_last, nearby, candidates = (_json(v) for v in row)
    health = next((a for a in areas or [] if located and geometry_contains(
        a["geometry"], latitude=call.latitude, longitude=call.longitude)), None)
    # The hundred block's premises: the same block and near enough, as the assembly decides them.
    on_block = [b for b in candidates or [] if block_key(b["address_key"]) == block and not places_apart(
        call.latitude, call.longitude, b["latitude"], b["longitude"])][:settings.BLOCK_PREMISES_SHOWN]
    kept = {premise.pk if premise else None, *(b["id"] for b in on_block)}
    hazards = [h for h in hazards or [] if h["premise_id"] is None or h["premise_id"] in kept]
    return Baseline(people=people or [], hazards=hazards, health=health, rules=rules or [],
                    address_counts=address_counts or {}, address_last=address_last or [],
                    nearby_counts=nearby or {}, block=on_block)


# --- Measuring -----------------------------------------------------------------------------------------------


def query_kind(statement: str) -> str:
    """Which section of the assembly a captured query belongs to."""
    s = statement.replace('"', "")
    table = s.split(" FROM ", 1)[1].split()[0] if " FROM " in s else "?"
    if "calls_call_people" in s:
        return "people named in call"
    if table == "calls_call":
        if "GROUP BY" in s:
            if "UNION" in s:
                return "prior calls (counts, here and nearby)"
            return "prior calls at address (counts)" if "address_key =" in s else "prior calls nearby (counts)"
        return "prior calls at address (last 5)"
    if "UNION" in s and "cases_warrant" in s:
        return "warrants and photos"
    return {"cases_caseperson": "people on cases at premise", "cases_premise": "premises on the block",
            "cases_person": "people", "cases_warrant": "warrants (prefetch)", "cases_personphoto": "photos (prefetch)",
            "hazards_recordhazard": "record hazards", "hazards_healtharea": "health area",
            "briefings_recommendationrule": "rules"}.get(table, table)


@dataclass
class Captured:
    kind: str
    ms: float
    sql: str


def capture(fn: Callable[[], Any]) -> tuple[Any, list[Captured]]:
    """Run fn, recording each query's section, server round-trip time and interpolated SQL."""
    from django.db import connection

    found: list[Captured] = []

    def wrapper(execute: Callable[..., Any], statement: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        start = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            ms = (time.perf_counter() - start) * 1_000
            text = connection.ops.last_executed_query(context["cursor"].cursor, statement, params) or statement
            found.append(Captured(query_kind(statement), ms, text))

    with connection.execute_wrapper(wrapper):
        result = fn()
    return result, found


@dataclass
class Comparison:
    compared: Counter[str] = field(default_factory=Counter)
    equal: Counter[str] = field(default_factory=Counter)

    def add(self, section: str, same: bool) -> None:
        self.compared[section] += 1
        self.equal[section] += int(same)


def compare(items: list[dict[str, Any]], base: Baseline, now: datetime, result: Comparison) -> None:
    """Whether the baseline read the same data the assembly turned into items."""
    from django.conf import settings
    from django.utils import timezone

    by_id = {i["id"]: i for i in items}
    address = by_id.get("prior_calls:address")
    result.add("address counts", (address["data"]["by_category"] if address else {}) == base.address_counts)
    last = [c["event_number"] for c in address["data"]["last"]] if address else []
    result.add("address last 5", last == [c["event_number"] for c in base.address_last])
    nearby = by_id.get("prior_calls:nearby")
    result.add("nearby counts", (nearby["data"]["by_category"] if nearby else {}) == base.nearby_counts)
    health = by_id.get("health:hotspot")
    # The assembly says something about the area when it is hot, or when its figures are stale.
    area = base.health
    hot = area if area and (area["latest_rate"] >= settings.HOTSPOT_WEEKLY_RATE or (
        timezone.localdate(now) - date.fromisoformat(area["latest_week"])).days > settings.HEALTH_DATA_MAX_AGE_DAYS
    ) else None
    result.add("health", (health["data"]["area"] if health else None) == (hot["code"] if hot else None))
    orm_people = [int(i["id"].split(":")[1]) for i in items if i["section"] == "people"]
    base_people = [p["id"] for p in base.people]
    # Named people first (by id), then by their newest case at the premise, as the assembly orders them.
    names = {p["id"]: (p["last_name"], p["first_name"]) for p in base.people}
    orm_names = [i["title"] for i in items if i["section"] == "people"]
    result.add("people (names)", orm_names == [f"{names[pk][1]} {names[pk][0]}" for pk in base_people])
    if orm_people == base_people:
        orm_hazards = {int(i["id"].split(":")[1]) for i in items if i["id"].startswith("hazard:")}
        result.add("hazards (same people)", orm_hazards == {h["id"] for h in base.hazards})


def replay(statements: Sequence[str]) -> None:
    """The statements the assembly sent, as sent (parameters inlined), each its own round trip."""
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
            cursor.fetchall()


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1_000


def explain(label: str, found: Captured) -> None:
    from django.db import connection

    print(f"\n--- EXPLAIN (ANALYZE, BUFFERS) {label} ({found.ms:.2f} ms when captured)\n{found.sql}")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + found.sql)
        for (line,) in cursor.fetchall():
            print(f"    {line}")


def run(args: argparse.Namespace) -> None:
    from django.conf import settings
    from django.db import connection

    from apps.briefings.assembly import briefing_items_build
    from apps.calls.models import Call

    check_baseline_tables()
    t0 = time.perf_counter()
    sizes = Sizes(premises=args.premises, people=args.people, cases=args.cases, calls=args.calls)
    reused = seeded_read(sizes) if args.reuse else None
    seeded = reused or seed(sizes)
    seed_s = time.perf_counter() - t0
    print(f"{'reused' if reused else 'seeded'} {sizes.premises:,} premises, {sizes.people:,} people, "
          f"{sizes.cases:,} cases, {sizes.calls:,} calls, "
          f"{seeded.hazards:,} record hazards, {seeded.call_people:,} people named on calls, "
          f"{HEALTH_ROWS * HEALTH_COLS} health areas ({seeded.hot_areas} hot) in {seed_s:.1f} s")

    now = seeded.now
    recent = range(max(1, sizes.calls - RECENT_CALLS + 1), sizes.calls + 1)
    sample_ids = random.Random(SEED + 1).sample(recent, min(args.samples, len(recent)))
    calls = Call.objects.select_related("premise", "agency").in_bulk(sample_ids)
    sample = [calls[pk] for pk in sample_ids]
    premises = Counter(c.premise_id for c in sample)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM calls_call WHERE received_at >= %s "
                       "GROUP BY agency_id, address_key HAVING address_key <> '') x",
                       [now - timedelta(days=settings.PRIOR_CALLS_DAYS)])
        busiest = cursor.fetchone()[0]
    print(f"sample: {len(sample)} of the newest {RECENT_CALLS:,} calls, at {len(premises) - (None in premises)} "
          f"distinct premises ({premises[None]} not at a premise); busiest address has {busiest:,} calls in the "
          f"last {settings.PRIOR_CALLS_DAYS} days")

    # Untimed pass: queries per briefing (each with its section and time), the baseline checked against it, warm-up.
    queries: list[int] = []
    by_kind: dict[str, list[Captured]] = defaultdict(list)
    checked = Comparison()
    statements: list[list[str]] = []
    for call in tqdm(sample, desc="count and check", unit="call", file=sys.stderr, leave=False):
        items, found = capture(partial(briefing_items_build, call=call, now=now))
        queries.append(len(found))
        statements.append([q.sql for q in found])
        for q in found:
            by_kind[q.kind].append(q)
        compare(items, baseline_build(call, now), now, checked)

    # Timed pass: the paths turn about on each call, the order rotating. The replay (the assembly's own
    # statements through a raw cursor, no ORM and no items) splits the gap into round trips and Python.
    gc.collect()
    samples: dict[str, list[float]] = {"orm": [], "sql": [], "replay": []}
    start = time.perf_counter()
    for i, call in enumerate(tqdm(sample, desc="timing", unit="call", file=sys.stderr, leave=False)):
        if time.perf_counter() - start > args.budget:
            break
        paths: list[tuple[str, Callable[[], Any]]] = [
            ("orm", partial(briefing_items_build, call=call, now=now)),
            ("sql", partial(baseline_build, call, now)),
            ("replay", partial(replay, statements[i])),
        ]
        for name, fn in paths[i % 3:] + paths[:i % 3]:
            samples[name].append(timed(fn))
    orm_stats, sql_stats, replay_stats = Stats(samples["orm"]), Stats(samples["sql"]), Stats(samples["replay"])
    ratio = orm_stats.p95 / sql_stats.p95

    print("\nqueries by section (untimed pass, server round trip as seen by the client):")
    print(f"  {'section':36} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for kind, found_list in sorted(by_kind.items(), key=lambda kv: -Stats([q.ms for q in kv[1]]).p95):
        stats = Stats([q.ms for q in found_list])
        print(f"  {kind:36} {len(found_list):>5} {stats.median:>8.2f} {stats.p95:>8.2f} {stats.max:>8.2f}")
    print("baseline check (sections equal / compared): " + ", ".join(
        f"{s} {checked.equal[s]}/{checked.compared[s]}" for s in checked.compared))

    if args.explain:
        slowest = sorted(by_kind.items(), key=lambda kv: -Stats([q.ms for q in kv[1]]).p95)[:args.explain]
        for kind, found_list in slowest:
            explain(f"slowest '{kind}'", max(found_list, key=lambda q: q.ms))
        print()

    spread = Counter(queries)
    print(f"queries per briefing: median {statistics.median(queries):.0f}, max {max(queries)} "
          f"(distribution {dict(sorted(spread.items()))}); the call's own select_related fetch is not counted")
    print(f"briefing_items_build: median={orm_stats.median:.1f} ms p95={orm_stats.p95:.1f} ms "
          f"max={orm_stats.max:.1f} ms | SQL baseline (1 statement): median={sql_stats.median:.1f} ms "
          f"p95={sql_stats.p95:.1f} ms max={sql_stats.max:.1f} ms | ratio(p95)={ratio:.2f} | n={len(samples['orm'])}")
    print(f"informational: the assembly's own statements replayed through a raw cursor (same queries, no ORM, no "
          f"items): median={replay_stats.median:.1f} ms p95={replay_stats.p95:.1f} ms")
    met = orm_stats.p95 <= 50 and max(queries) <= 12 and ratio <= 1.5
    print(f"target: p95 <= 50 ms, <= 12 queries, ratio <= 1.5 -> {'met' if met else 'NOT met'}; "
          f"total {time.perf_counter() - t0:.0f} s")
    print(f"briefing p95_ms={orm_stats.p95:.1f} queries={max(queries)} ratio={ratio:.2f}")
    mismatched = [s for s in checked.compared if checked.equal[s] != checked.compared[s]]
    if args.smoke and (mismatched or max(queries) > 12):
        raise SystemExit(f"smoke: broken (sections differing from the baseline: {mismatched or 'none'}, "
                         f"most queries {max(queries)})")


def admin_execute_ignore_exists(url: str, name: str) -> None:
    """CREATE DATABASE name unless it exists (--reuse)."""
    from psycopg.errors import DuplicateDatabase

    with contextlib.suppress(DuplicateDatabase):
        admin_execute(url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keep", action="store_true", help=f"leave the {BENCH_DB}[_<db>] database in place")
    parser.add_argument("--explain", type=int, nargs="?", const=3, default=0, metavar="N",
                        help="EXPLAIN ANALYZE the slowest instance of the N slowest sections (default 3)")
    parser.add_argument("--samples", type=int, default=1_000, help="calls briefed (default 1,000)")
    parser.add_argument("--budget", type=float, default=180.0, help="seconds the timed pass may take")
    parser.add_argument("--premises", type=int, default=50_000)
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true",
                        help="brief the database an earlier --keep run seeded with the same sizes, if there is one")
    parser.add_argument("--smoke", action="store_true",
                        help="a few thousand rows, 50 calls: fails when the bench or the assembly's query count broke")
    args = parser.parse_args()
    if args.smoke:
        args.premises, args.people, args.cases, args.calls, args.samples = 2_000, 5_000, 2_000, 20_000, 50

    url = server_url()
    # Engineers sharing a server each name their own database: the bench's takes its name as a suffix.
    own = urlsplit(url).path.lstrip("/")
    bench_db = BENCH_DB if own in ("", "test", "postgres") else f"{BENCH_DB}_{own}"
    if args.smoke:  # never the full run's kept database
        bench_db += "_smoke"
    if not args.reuse:
        recreate_database(url, bench_db)
    else:
        admin_execute_ignore_exists(url, bench_db)
    try:
        with django_on(url, bench_db):
            run(args)
    finally:
        database_done(url, bench_db, keep=args.keep)


if __name__ == "__main__":
    main()
