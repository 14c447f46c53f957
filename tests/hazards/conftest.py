from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

HEALTH = Path(settings.BASE_DIR) / "fixtures/data/health"
NYC_GEOJSON = HEALTH / "nyc_MODZCTA_2010_WGS1984.geo.json"
NYC_RATES = HEALTH / "nyc_caserate-by-modzcta.csv"
NYC_TOTALS = HEALTH / "nyc_data-by-modzcta.csv"
NYC_NAME = "NYC COVID-19 by MODZCTA"
NYC_PPE = "Gloves and a surgical mask; N95 and eye protection for close contact."


def load_nyc(**extra: Any) -> str:
    """The command line the project uses for New York, as documented in the report; returns its stdout."""
    out = StringIO()
    call_command(
        "load_health_areas", "--name", NYC_NAME, "--disease", "COVID-19", "--geojson", str(NYC_GEOJSON),
        "--area-property", "MODZCTA", "--label-property", "label", "--rates", str(NYC_RATES),
        "--week-column", "week_ending", "--week-format", "%m/%d/%Y", "--rate-column-prefix", "CASERATE_",
        "--ppe", NYC_PPE, stdout=out, stderr=StringIO(), **extra,
    )
    return out.getvalue()


@pytest.fixture(scope="module")
def nyc(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """New York's areas and rates, loaded once per module (about 47,000 rows) and rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        output = load_nyc()
        yield output
        transaction.set_rollback(True)


def nyc_centroids() -> dict[str, tuple[float, float]]:
    """MODZCTA -> (lat, lon) of its published centroid."""
    with NYC_TOTALS.open(newline="") as handle:
        return {row["MODIFIED_ZCTA"]: (float(row["lat"]), float(row["lon"])) for row in csv.DictReader(handle)}


def nyc_latest(code: str) -> tuple[str, float]:
    """(week_ending as in the CSV, rate) of the last non-empty weekly cell of an area, read straight from the file."""
    with NYC_RATES.open(newline="") as handle:
        rows = [(row["week_ending"], row[f"CASERATE_{code}"]) for row in csv.DictReader(handle)]
    week, value = next((w, v) for w, v in reversed(rows) if v.strip())
    return week, float(value)


def square(x: float, y: float, size: float) -> list[list[float]]:
    """A closed counter-clockwise ring, [lon, lat] positions."""
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


def square_areas(path: Path, *codes: Any) -> Path:
    """A made-up city of unit squares side by side along lat 10-11: the first at lon 0-1, the next at lon 1-2, ..."""
    features = [
        {"type": "Feature", "properties": {"zone": code, "name": f"Zone {code}"},
         "geometry": {"type": "Polygon", "coordinates": [square(float(i), 10.0, 1.0)]}}
        for i, code in enumerate(codes)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path
