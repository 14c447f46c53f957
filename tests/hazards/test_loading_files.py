"""load_health_areas on small made-up files: the long CSV layout, reloading, and files it refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.hazards.loading import DEFAULT_PPE_ADVICE
from apps.hazards.models import HealthArea, HealthDataset, HealthRate
from apps.hazards.selectors import health_hotspot_at
from tests.hazards.conftest import square, square_areas

pytestmark = pytest.mark.django_db

LONG_CSV = """area,week,rate
1,2025-01-04,10
1,2025-01-11,
2,2025-01-04,150
2,2025-01-11,100
3,2025-01-11,5
"""


def load(geojson: Path, rates: Path, *args: str) -> str:
    out = StringIO()
    call_command("load_health_areas", "--name", "Made-up flu", "--disease", "Influenza", "--geojson", str(geojson),
                 "--area-property", "zone", "--label-property", "name", "--rates", str(rates),
                 "--week-column", "week", "--week-format", "%Y-%m-%d", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def load_long(geojson: Path, rates: Path, *args: str) -> str:
    return load(geojson, rates, "--long", "--area-column", "area", "--rate-column", "rate", *args)


@pytest.fixture
def squares(tmp_path: Path) -> Path:
    # Numeric codes in the GeoJSON, as some publishers write them: 1 and 2.
    return square_areas(tmp_path / "squares.geo.json", 1, 2)


@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    path = tmp_path / "rates.csv"
    path.write_text(LONG_CSV)
    return path


def test_a_long_csv_loads_one_rate_per_row_and_skips_empty_ones(squares: Path, long_csv: Path) -> None:
    output = load_long(squares, long_csv)

    assert "2 areas (2 with rates), 3 weekly rates, latest week ending 2025-01-11; 1 empty cells skipped" in output
    one, two = HealthArea.objects.get(code="1"), HealthArea.objects.get(code="2")
    assert (one.label, one.latest_week, one.latest_rate) == ("Zone 1", date(2025, 1, 4), 10.0)
    assert (two.latest_week, two.latest_rate) == (date(2025, 1, 11), 100.0)
    assert (one.min_lat, one.max_lat, one.min_lon, one.max_lon) == (10.0, 11.0, 0.0, 1.0)
    assert HealthDataset.objects.get().ppe_advice == DEFAULT_PPE_ADVICE


def test_rows_for_an_area_not_in_the_geojson_are_reported_and_not_loaded(squares: Path, long_csv: Path) -> None:
    output = load_long(squares, long_csv)

    assert "Rates for 1 codes that are not areas in the GeoJSON were not loaded: 3" in output
    assert HealthRate.objects.count() == 3


def test_a_rate_equal_to_the_threshold_is_a_hotspot(squares: Path, long_csv: Path, settings: Any) -> None:
    load_long(squares, long_csv, "--ppe", "Masks for everyone.")
    settings.HOTSPOT_WEEKLY_RATE = 100
    now = datetime(2025, 1, 12, tzinfo=UTC)

    hot = health_hotspot_at(latitude=10.5, longitude=1.5, now=now)
    cool = health_hotspot_at(latitude=10.5, longitude=0.5, now=now)

    assert hot is not None and (hot.area_code, hot.rate, hot.is_hotspot, hot.ppe_advice) == (
        "2", 100.0, True, "Masks for everyone.")
    assert cool is not None and (cool.area_code, cool.rate, cool.is_hotspot) == ("1", 10.0, False)
    assert health_hotspot_at(latitude=10.5, longitude=2.5, now=now) is None


def test_a_wide_csv_with_a_prefix_loads_like_the_long_one(squares: Path, tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text("week,RATE_ALL,RATE_1,RATE_2\n2025-01-04,80,10,150\n2025-01-11,60,,100\n")

    output = load(squares, wide, "--rate-column-prefix", "RATE_")

    assert "2 areas (2 with rates), 3 weekly rates" in output and "not loaded: ALL" in output
    assert HealthArea.objects.get(code="1").latest_rate == 10.0


def test_loading_again_replaces_the_rates_removes_dropped_areas_and_keeps_ppe_advice(
        squares: Path, long_csv: Path, tmp_path: Path) -> None:
    load_long(squares, long_csv, "--ppe", "Masks for everyone.")
    area_one = HealthArea.objects.get(code="1").pk
    one_square = square_areas(tmp_path / "one.geo.json", 1)
    fewer = tmp_path / "fewer.csv"
    fewer.write_text("area,week,rate\n1,2025-01-18,20\n")

    output = load_long(one_square, fewer)

    assert "Areas no longer in the GeoJSON were removed: 2" in output
    assert list(HealthArea.objects.values_list("pk", "code", "latest_week", "latest_rate")) == [
        (area_one, "1", date(2025, 1, 18), 20.0)]
    assert HealthRate.objects.count() == 1
    assert HealthDataset.objects.get().ppe_advice == "Masks for everyone."


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ("area,week,rate\n1,2025-01-04,ten\n", "'ten' is not a number"),
        ("area,week,rate\n1,2025-01-04,-3\n", "not a rate"),
        ("area,week,rate\n1,2025-01-04,nan\n", "not a rate"),
        ("area,week,rate\n1,04/01/2025,3\n", "is not a date in the format %Y-%m-%d"),
        ("area,week,rate\n1,2025-01-04,3\n1,2025-01-04,4\n", "a second rate for area 1"),
        ("area,week,rate\n1,2025-01-04\n", "line 2: 2 cells, the header has 3"),
        ("zone,week,rate\n1,2025-01-04,3\n", "no column 'area'"),
        ("", "the file is empty"),
    ],
    ids=["not-a-number", "negative", "nan", "wrong-date-format", "duplicate", "short-row", "no-area-column", "empty"],
)
def test_a_bad_rates_file_is_refused_and_the_previous_load_stays(squares: Path, long_csv: Path, tmp_path: Path,
                                                                 rates: str, message: str) -> None:
    load_long(squares, long_csv)
    before = list(HealthRate.objects.values_list("pk", "rate"))
    bad = tmp_path / "bad.csv"
    bad.write_text(rates)

    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        load_long(squares, bad)

    assert list(HealthRate.objects.values_list("pk", "rate")) == before


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([{"type": "Feature", "properties": {"zone": "A"}, "geometry": {"type": "Point", "coordinates": [0, 0]}}],
         "feature 1 \\(area A\\): the geometry type is 'Point'"),
        ([{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [square(0, 0, 1)]}}],
         "feature 1 has no 'zone' property"),
        ([{"type": "Feature", "properties": {"zone": "A"}, "geometry": {"type": "Polygon",
                                                                        "coordinates": [square(0, 0, 1)]}}] * 2,
         "feature 2: area A appears twice"),
        ([], "has no features"),
    ],
    ids=["point", "no-code", "duplicate-code", "no-features"],
)
def test_a_bad_geojson_is_refused_and_nothing_is_written(tmp_path: Path, long_csv: Path,
                                                         features: list[Any], message: str) -> None:
    import json

    bad = tmp_path / "bad.geo.json"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": features}))

    with pytest.raises(CommandError, match=message):
        load_long(bad, long_csv)

    assert not HealthDataset.objects.exists()


def test_a_file_that_is_not_geojson_is_refused(tmp_path: Path, long_csv: Path) -> None:
    bad = tmp_path / "bad.geo.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="not readable as JSON"):
        load_long(bad, long_csv)
    bad.write_text('{"type": "Feature"}')
    with pytest.raises(CommandError, match="not a GeoJSON FeatureCollection"):
        load_long(bad, long_csv)


def test_the_command_asks_for_the_columns_each_layout_needs(squares: Path, long_csv: Path) -> None:
    with pytest.raises(CommandError, match="--long needs --area-column and --rate-column"):
        load(squares, long_csv, "--long")
    with pytest.raises(CommandError, match="needs --rate-column-prefix"):
        load(squares, long_csv)


def test_a_dataset_named_for_an_agency_serves_only_that_agency(squares: Path, long_csv: Path, world: Any) -> None:
    now = datetime(2025, 1, 12, tzinfo=UTC)
    output = load_long(squares, long_csv, "--agency", world.agency.ori)

    assert f"Used in the briefings of: {world.agency.ori}." in output
    assert health_hotspot_at(agency_id=world.agency.pk, latitude=10.5, longitude=1.5, now=now) is not None
    assert health_hotspot_at(agency_id=world.other_agency.pk, latitude=10.5, longitude=1.5, now=now) is None
    assert health_hotspot_at(latitude=10.5, longitude=1.5, now=now) is None

    # Reloading without --agency keeps the choice; naming both agencies shares it.
    load_long(squares, long_csv)
    assert health_hotspot_at(agency_id=world.other_agency.pk, latitude=10.5, longitude=1.5, now=now) is None
    load_long(squares, long_csv, "--agency", world.agency.ori, "--agency", world.other_agency.ori)
    assert health_hotspot_at(agency_id=world.other_agency.pk, latitude=10.5, longitude=1.5, now=now) is not None


def test_a_dataset_named_for_no_agency_serves_every_agency(squares: Path, long_csv: Path, world: Any) -> None:
    now = datetime(2025, 1, 12, tzinfo=UTC)
    assert "Used in the briefings of: every agency." in load_long(squares, long_csv)
    for agency_id in (world.agency.pk, world.other_agency.pk, None):
        assert health_hotspot_at(agency_id=agency_id, latitude=10.5, longitude=1.5, now=now) is not None


def test_an_unknown_agency_is_refused_and_nothing_is_written(squares: Path, long_csv: Path, world: Any) -> None:
    with pytest.raises(CommandError, match="No agency has the ORI XX0000000"):
        load_long(squares, long_csv, "--agency", "XX0000000")
    assert not HealthDataset.objects.exists()
