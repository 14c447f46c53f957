"""health_hotspot_at on New York: the area a call's position lies in, its latest rate, hot or not, fresh or stale."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.hazards.selectors import HotspotFinding, health_hotspot_at
from tests.hazards.conftest import NYC_NAME, NYC_PPE, nyc_centroids

# 10001's latest figure is for the week ending 2025-10-04: 32.59 per 100,000.
WEEK = date(2025, 10, 4)
FRESH = datetime(2025, 10, 18, 23, 59, tzinfo=UTC)  # 14 days after: the last day it counts as current
STALE = datetime(2025, 10, 19, 0, 0, tzinfo=UTC)


def at_10001(now: datetime = FRESH) -> HotspotFinding | None:
    lat, lon = nyc_centroids()["10001"]
    return health_hotspot_at(latitude=lat, longitude=lon, now=now)


def test_a_point_in_chelsea_is_found_in_modzcta_10001(nyc: str, db: None) -> None:
    assert at_10001() == HotspotFinding(
        dataset_name=NYC_NAME, disease="COVID-19", area_code="10001", area_label="10001, 10118", week_ending=WEEK,
        rate=32.59, threshold=100, is_hotspot=False, stale=False, ppe_advice=NYC_PPE,
        rate_unit="cases per 100,000 per week",
    )


def test_it_takes_one_query(nyc: str, db: None) -> None:
    with CaptureQueriesContext(connection) as queries:
        at_10001()
    assert len(queries) == 1


def test_the_area_is_a_hotspot_when_its_rate_reaches_the_threshold(nyc: str, db: None, settings: Any) -> None:
    settings.HOTSPOT_WEEKLY_RATE = 32
    found = at_10001()
    assert found is not None and found.is_hotspot and found.threshold == 32
    settings.HOTSPOT_WEEKLY_RATE = 33
    found = at_10001()
    assert found is not None and not found.is_hotspot and found.threshold == 33


def test_figures_older_than_the_maximum_age_are_stale(nyc: str, db: None, settings: Any) -> None:
    assert settings.HEALTH_DATA_MAX_AGE_DAYS == 14
    fresh, stale = at_10001(FRESH), at_10001(STALE)
    assert fresh is not None and not fresh.stale
    assert stale is not None and stale.stale and stale.rate == 32.59
    settings.HEALTH_DATA_MAX_AGE_DAYS = 15
    found = at_10001(STALE)
    assert found is not None and not found.stale


def test_a_point_outside_every_area_finds_nothing(nyc: str, db: None) -> None:
    # The Atlantic, south of the Rockaways; and Seattle.
    assert health_hotspot_at(latitude=40.50, longitude=-73.80, now=FRESH) is None
    assert health_hotspot_at(latitude=47.60, longitude=-122.33, now=FRESH) is None


def test_a_point_in_the_area_without_rates_finds_nothing(nyc: str, db: None) -> None:
    from apps.hazards.geometry import geometry_contains
    from apps.hazards.models import HealthArea

    # In Jamaica Bay: inside 99999 (which the CSVs have no column for) and inside no other area.
    lat, lon = 40.616588, -73.826307
    holding = [a.code for a in HealthArea.objects.all() if geometry_contains(a.geometry, latitude=lat, longitude=lon)]
    assert holding == ["99999"]
    assert health_hotspot_at(latitude=lat, longitude=lon, now=FRESH) is None


def test_every_centroid_finds_the_area_it_lies_in(nyc: str, db: None) -> None:
    found = {code: health_hotspot_at(latitude=lat, longitude=lon, now=FRESH)
             for code, (lat, lon) in nyc_centroids().items()}
    areas = {code: f.area_code if f else None for code, f in found.items()}
    # Two concave areas have their centroid in a neighbour (see tests/hazards/test_geometry.py).
    assert {code: hit for code, hit in areas.items() if hit != code} == {"10024": "10025", "10467": "10470"}
