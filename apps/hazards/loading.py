"""Loading a health dataset: areas from a GeoJSON FeatureCollection, weekly rates from a CSV.

Any publisher's files, not only New York's: the area code is whichever feature
property names it, and rates come either "wide" (one row per week, one column
per area, e.g. NYC's `CASERATE_10001`) or "long" (one row per area and week).

Both files are read and checked in full before anything is written, and the
write is one transaction, so a bad file leaves the previous load untouched.
Loading the same name again replaces that dataset's areas and rates; areas
keep their ids, so links a phone holds to an area stay valid.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Agency
from apps.hazards.geometry import Bounds, geometry_bounds, geometry_check
from apps.hazards.models import HealthArea, HealthDataset, HealthRate

DEFAULT_PPE_ADVICE = "Carry gloves and a mask for this call; follow your agency's infection-control guidance."
# Rows per INSERT: under SQLite's 32,766 bound variables with room to spare (4 columns a rate).
_BATCH = 2000


class HealthDataError(ValueError):
    """A file that cannot be loaded, with where and why."""


@dataclass(frozen=True)
class AreaShape:
    code: str
    label: str
    geometry: dict[str, Any]
    bounds: Bounds


@dataclass
class RateTable:
    """Weekly rates by area code, as read from a CSV."""

    rates: dict[str, dict[date, float]] = field(default_factory=dict)
    empty_cells: int = 0

    @property
    def count(self) -> int:
        return sum(len(weeks) for weeks in self.rates.values())


@dataclass(frozen=True)
class LoadResult:
    dataset: HealthDataset
    areas: int
    areas_with_rates: int
    rates: int
    latest_week: date | None
    empty_cells: int
    # Codes the rates file names that no area in the GeoJSON has (NYC: CITY and the five boroughs).
    unknown_areas: list[str]
    # Areas the previous load had and this one does not: deleted with their rates.
    removed_areas: list[str]


def _code(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() if value is not None else ""


def read_areas(path: Path, *, area_property: str, label_property: str = "") -> list[AreaShape]:
    """Every feature of a GeoJSON FeatureCollection of Polygons/MultiPolygons (lon/lat) as an area."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            collection = json.load(handle)
    except (OSError, ValueError) as exc:
        raise HealthDataError(f"{path}: not readable as JSON ({exc})") from exc
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise HealthDataError(f"{path}: not a GeoJSON FeatureCollection")
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise HealthDataError(f"{path}: the FeatureCollection has no features")
    areas: dict[str, AreaShape] = {}
    for number, feature in enumerate(features, start=1):
        where = f"{path}: feature {number}"
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            raise HealthDataError(f"{where} has no properties")
        code = _code(properties.get(area_property))
        if not code:
            raise HealthDataError(f"{where} has no {area_property!r} property")
        if code in areas:
            raise HealthDataError(f"{where}: area {code} appears twice")
        geometry = feature.get("geometry")
        problem = geometry_check(geometry)
        if problem:
            raise HealthDataError(f"{where} (area {code}): {problem}")
        label = str(properties.get(label_property) or "") if label_property else ""
        areas[code] = AreaShape(code=code, label=label[:200], geometry=geometry, bounds=geometry_bounds(geometry))
    return list(areas.values())


def _parse_week(value: str, week_format: str, where: str) -> date:
    try:
        return datetime.strptime(value.strip(), week_format).date()  # noqa: DTZ007 (a calendar date, no time)
    except ValueError as exc:
        raise HealthDataError(f"{where}: {value!r} is not a date in the format {week_format}") from exc


def _parse_rate(value: str, where: str) -> float:
    try:
        rate = float(value)
    except ValueError as exc:
        raise HealthDataError(f"{where}: {value!r} is not a number") from exc
    if not math.isfinite(rate) or rate < 0:
        raise HealthDataError(f"{where}: {value!r} is not a rate (finite, not negative)")
    return rate


def _rows(path: Path) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line number, header, row) for every data row, each row as long as the header."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise HealthDataError(f"{path}: not readable ({exc})") from exc
    with handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise HealthDataError(f"{path}: the file is empty")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise HealthDataError(f"{path}, line {reader.line_num}: {len(row)} cells, the header has "
                                      f"{len(header)}")
            yield reader.line_num, header, row


def _column(header: list[str], name: str, path: Path) -> int:
    if name not in header:
        raise HealthDataError(f"{path}: no column {name!r}")
    return header.index(name)


def _add(table: RateTable, code: str, week: date, value: str, where: str) -> None:
    if not value.strip():
        table.empty_cells += 1
        return
    weeks = table.rates.setdefault(code, {})
    if week in weeks:
        raise HealthDataError(f"{where}: a second rate for area {code}, week ending {week}")
    weeks[week] = _parse_rate(value.strip(), where)


def read_wide_rates(path: Path, *, week_column: str, week_format: str, rate_column_prefix: str) -> RateTable:
    """One row per week; one column per area, named prefix + area code."""
    table = RateTable()
    columns: list[tuple[int, str]] | None = None
    week_index = 0
    for line, header, row in _rows(path):
        if columns is None:
            week_index = _column(header, week_column, path)
            columns = [(i, name[len(rate_column_prefix):]) for i, name in enumerate(header)
                       if name.startswith(rate_column_prefix) and len(name) > len(rate_column_prefix)]
            if not columns:
                raise HealthDataError(f"{path}: no column starts with {rate_column_prefix!r}")
        where = f"{path}, line {line}"
        week = _parse_week(row[week_index], week_format, where)
        for index, code in columns:
            _add(table, code, week, row[index], f"{where}, column {header[index]}")
    return table


def read_long_rates(path: Path, *, week_column: str, week_format: str, area_column: str,
                    rate_column: str) -> RateTable:
    """One row per area and week."""
    table = RateTable()
    columns: tuple[int, int, int] | None = None
    for line, header, row in _rows(path):
        if columns is None:
            columns = (_column(header, week_column, path), _column(header, area_column, path),
                       _column(header, rate_column, path))
        week_index, area_index, rate_index = columns
        where = f"{path}, line {line}"
        week = _parse_week(row[week_index], week_format, where)
        code = _code(row[area_index])
        if not code:
            raise HealthDataError(f"{where}: no area code in column {area_column!r}")
        _add(table, code, week, row[rate_index], where)
    return table


def rows_to_write(areas: list[AreaShape], rates: RateTable) -> int:
    """How many areas and rates health_dataset_load will write: the total of its progress reports."""
    codes = {area.code for area in areas}
    return len(areas) + sum(len(weeks) for code, weeks in rates.rates.items() if code in codes)


def health_dataset_load(
    *,
    name: str,
    disease: str,
    areas: list[AreaShape],
    rates: RateTable,
    ppe_advice: str | None = None,
    rate_unit: str | None = None,
    source: str = "",
    agency_oris: list[str] | None = None,
    progress: Callable[[int], object] = lambda n: None,
) -> LoadResult:
    """Create or replace the dataset `name` with these areas and rates, in one transaction.

    `progress(n)` is told of every n areas and rates written (for a progress bar).
    ppe_advice, rate_unit and agency_oris left as None keep what an earlier load set (or the
    defaults: the advice above, cases per 100,000 per week, every agency).
    """
    agencies = None
    if agency_oris is not None:
        agencies = list(Agency.objects.filter(ori__in=agency_oris))
        unknown_oris = sorted(set(agency_oris) - {a.ori for a in agencies})
        if unknown_oris:
            raise HealthDataError(f"No agency has the ORI {', '.join(unknown_oris)}")
    codes = {area.code for area in areas}
    unknown = sorted(set(rates.rates) - codes)
    with transaction.atomic():
        dataset = HealthDataset.objects.select_for_update().filter(name=name).first()
        if dataset is None:
            dataset = HealthDataset(name=name, ppe_advice=DEFAULT_PPE_ADVICE)
        dataset.disease = disease
        dataset.source = source[:300]
        dataset.loaded_at = timezone.now()
        if ppe_advice is not None:
            dataset.ppe_advice = ppe_advice
        if rate_unit is not None:
            dataset.rate_unit = rate_unit
        dataset.save()
        if agencies is not None:
            dataset.agencies.set(agencies)

        previous = {area.code: area for area in HealthArea.objects.filter(dataset=dataset)}
        removed = sorted(set(previous) - codes)
        HealthArea.objects.filter(dataset=dataset, code__in=removed).delete()
        HealthRate.objects.filter(area__dataset=dataset).delete()

        fresh: list[HealthArea] = []
        kept: list[HealthArea] = []
        for shape in areas:
            weeks = rates.rates.get(shape.code, {})
            latest = max(weeks) if weeks else None
            area = previous.get(shape.code) or HealthArea(dataset=dataset, code=shape.code)
            area.label = shape.label
            area.geometry = shape.geometry
            area.min_lat, area.max_lat = shape.bounds.min_lat, shape.bounds.max_lat
            area.min_lon, area.max_lon = shape.bounds.min_lon, shape.bounds.max_lon
            area.latest_week = latest
            area.latest_rate = weeks[latest] if latest is not None else None
            (kept if area.pk else fresh).append(area)
        HealthArea.objects.bulk_create(fresh, batch_size=_BATCH)
        HealthArea.objects.bulk_update(kept, ["label", "geometry", "min_lat", "max_lat", "min_lon", "max_lon",
                                              "latest_week", "latest_rate"], batch_size=500)
        progress(len(areas))

        area_ids = dict(HealthArea.objects.filter(dataset=dataset).values_list("code", "pk"))
        batch: list[HealthRate] = []
        for code, weeks in rates.rates.items():
            if code not in area_ids:
                continue
            for week, rate in weeks.items():
                batch.append(HealthRate(area_id=area_ids[code], week_ending=week, rate=rate))
                if len(batch) == _BATCH:
                    HealthRate.objects.bulk_create(batch)
                    progress(len(batch))
                    batch = []
        HealthRate.objects.bulk_create(batch)
        progress(len(batch))

    loaded = [rates.rates[code] for code in codes if rates.rates.get(code)]
    return LoadResult(
        dataset=dataset,
        areas=len(areas),
        areas_with_rates=len(loaded),
        rates=sum(len(weeks) for weeks in loaded),
        latest_week=max((max(weeks) for weeks in loaded), default=None),
        empty_cells=rates.empty_cells,
        unknown_areas=unknown,
        removed_areas=removed,
    )
