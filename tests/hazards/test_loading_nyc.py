"""load_health_areas on the real New York files: 178 MODZCTA outlines and 293 weeks of case rates."""

from __future__ import annotations

from datetime import date

from apps.hazards.models import HealthArea, HealthDataset, HealthRate
from tests.hazards.conftest import NYC_NAME, NYC_PPE, load_nyc, nyc_latest


def test_it_loads_178_areas_of_which_177_have_rates(nyc: str, db: None) -> None:
    dataset = HealthDataset.objects.get()
    assert (dataset.name, dataset.disease, dataset.ppe_advice) == (NYC_NAME, "COVID-19", NYC_PPE)
    assert dataset.areas.count() == 178
    assert dataset.areas.filter(latest_rate__isnull=False).count() == 177
    assert "178 areas (177 with rates)" in nyc


def test_the_area_without_rates_is_kept_with_no_rate(nyc: str, db: None) -> None:
    area = HealthArea.objects.get(code="99999")
    assert (area.latest_week, area.latest_rate, area.rates.count()) == (None, None, 0)


def test_the_latest_week_is_the_week_ending_2025_10_11(nyc: str, db: None) -> None:
    assert HealthRate.objects.order_by("-week_ending").first().week_ending == date(2025, 10, 11)  # type: ignore[union-attr]
    assert "latest week ending 2025-10-11" in nyc


def test_an_areas_latest_rate_is_its_last_non_empty_cell_in_the_csv(nyc: str, db: None) -> None:
    # 10001 (Chelsea) has no figure for the last week, 10/11/2025: its latest is the week before.
    week, rate = nyc_latest("10001")
    assert (week, rate) == ("10/04/2025", 32.59)
    area = HealthArea.objects.get(code="10001")
    assert (area.latest_week, area.latest_rate, area.label) == (date(2025, 10, 4), rate, "10001, 10118")
    # 10002 has one for the last week.
    area = HealthArea.objects.get(code="10002")
    assert (area.latest_week, area.latest_rate) == (date(2025, 10, 11), nyc_latest("10002")[1])


def test_empty_cells_are_skipped_and_every_other_cell_is_a_rate(nyc: str, db: None) -> None:
    # 177 areas x 293 weeks, less the empty cells (early weeks, small areas).
    assert HealthRate.objects.count() == 46_579
    assert "5282 empty cells skipped" in nyc
    assert HealthRate.objects.get(area__code="10001", week_ending=date(2025, 10, 4)).rate == 32.59
    assert not HealthRate.objects.filter(area__code="10001", week_ending=date(2025, 10, 11)).exists()


def test_the_bounding_box_is_the_outlines_extent(nyc: str, db: None) -> None:
    area = HealthArea.objects.get(code="10001")
    assert (area.min_lat, area.max_lat) == (40.743451, 40.759744)
    assert area.min_lon < -73.997137 < area.max_lon


def test_city_and_borough_columns_are_reported_as_unknown_areas_not_loaded(nyc: str, db: None) -> None:
    assert "Rates for 6 codes that are not areas in the GeoJSON were not loaded: BK, BX, CITY, MN, QN, SI" in nyc
    assert not HealthArea.objects.filter(code__in=["CITY", "BX"]).exists()


def test_loading_again_replaces_the_rates_and_keeps_the_area_ids(nyc: str, db: None) -> None:
    ids = dict(HealthArea.objects.values_list("code", "pk"))
    HealthRate.objects.filter(area__code="10001").update(rate=999.0)
    HealthArea.objects.filter(code="10001").update(latest_rate=999.0)

    output = load_nyc()

    assert output.startswith(f"Loaded '{NYC_NAME}': 178 areas (177 with rates), 46579 weekly rates")
    assert (HealthDataset.objects.count(), HealthArea.objects.count(), HealthRate.objects.count()) == (1, 178, 46_579)
    assert dict(HealthArea.objects.values_list("code", "pk")) == ids
    assert HealthArea.objects.get(code="10001").latest_rate == 32.59
    assert not HealthRate.objects.filter(rate=999.0).exists()
