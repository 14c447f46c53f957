from __future__ import annotations

import math

import pytest

from apps.places.geo import (
    CELL_PRECISION,
    EARTH_RADIUS_M,
    MAX_COVER_CELLS,
    cell_block,
    cell_ranges_within,
    cells_within,
    distance_m,
    geohash_bounds,
    geohash_encode,
)

# A call at 92XX block of Rainier Ave S, Seattle (from the SPD file).
RAINIER = (47.51985, -122.26803)


def offset(latitude: float, longitude: float, bearing_deg: float, metres: float) -> tuple[float, float]:
    """The point `metres` away on a great circle, for checking coverage (destination-point formula)."""
    d = metres / EARTH_RADIUS_M
    bearing, lat1, lon1 = math.radians(bearing_deg), math.radians(latitude), math.radians(longitude)
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(bearing))
    lon2 = lon1 + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(lat1),
                             math.cos(d) - math.sin(lat1) * math.sin(lat2))
    return math.degrees(lat2), math.degrees(lon2)


@pytest.mark.parametrize(("latitude", "longitude", "precision", "cell"), [
    (57.64911, 10.40744, 11, "u4pruydqqvj"),  # the example on geohash.org and Wikipedia
    (42.6, -5.6, 5, "ezs42"),  # Wikipedia's worked example
    (0.0, 0.0, 5, "s0000"),
    (-90.0, -180.0, 4, "0000"),
    (90.0, 180.0, 4, "zzzz"),
])
def test_geohash_known_values(latitude: float, longitude: float, precision: int, cell: str) -> None:
    assert geohash_encode(latitude, longitude, precision) == cell


def test_a_cell_is_precision_7_by_default_and_prefixes_finer_cells() -> None:
    cell = geohash_encode(*RAINIER)
    assert len(cell) == CELL_PRECISION
    assert geohash_encode(*RAINIER, precision=11).startswith(cell)


def test_a_cells_bounds_hold_its_point_and_its_centre_encodes_back() -> None:
    cell = geohash_encode(*RAINIER)
    min_lat, max_lat, min_lon, max_lon = geohash_bounds(cell)
    assert min_lat <= RAINIER[0] < max_lat and min_lon <= RAINIER[1] < max_lon
    assert geohash_encode((min_lat + max_lat) / 2, (min_lon + max_lon) / 2) == cell
    # about 153 m x 153 m at the equator: 360 / 2**17 degrees of longitude, 180 / 2**18 of latitude
    assert max_lon - min_lon == pytest.approx(360 / 2**18)
    assert max_lat - min_lat == pytest.approx(180 / 2**17)


@pytest.mark.parametrize(("latitude", "longitude"), [(90.1, 0.0), (-91.0, 0.0), (0.0, 180.5), (0.0, -181.0)])
def test_a_position_off_the_earth_is_refused(latitude: float, longitude: float) -> None:
    with pytest.raises(ValueError, match="not a position on Earth"):
        geohash_encode(latitude, longitude)


def test_cell_block_is_the_cell_and_its_eight_neighbours() -> None:
    block = cell_block(*RAINIER)
    centre = geohash_encode(*RAINIER)
    assert len(block) == len(set(block)) == 9
    assert centre in block
    min_lat, max_lat, min_lon, max_lon = geohash_bounds(centre)
    height, width = max_lat - min_lat, max_lon - min_lon
    for cell in block:
        lat_lo, _, lon_lo, _ = geohash_bounds(cell)
        # each neighbour sits exactly one cell away, row and column
        assert round((lat_lo - min_lat) / height) in (-1, 0, 1)
        assert round((lon_lo - min_lon) / width) in (-1, 0, 1)


def test_cell_block_holds_every_point_within_one_cell_width() -> None:
    # A precision-7 cell is 153 m north-south but only 153 m x cos(latitude) east-west: 103 m in Seattle.
    _, _, min_lon, max_lon = geohash_bounds(geohash_encode(*RAINIER))
    width_m = distance_m(RAINIER[0], min_lon, RAINIER[0], max_lon)
    assert width_m == pytest.approx(103, abs=1)
    block = set(cell_block(*RAINIER))
    for bearing in range(0, 360, 5):
        assert geohash_encode(*offset(*RAINIER, bearing, width_m - 0.5)) in block, bearing


def test_cell_block_wraps_at_the_antimeridian() -> None:
    block = cell_block(0.0001, 179.9999)
    assert len(block) == 9
    assert any(cell.startswith("2") for cell in block)  # cells just west of -180


@pytest.mark.parametrize("radius_m", [50, 150, 500, 2000])
def test_cells_within_cover_every_point_at_the_radius(radius_m: float) -> None:
    cells = set(cells_within(*RAINIER, radius_m))
    assert geohash_encode(*RAINIER) in cells
    for bearing in range(0, 360, 10):
        for fraction in (0.5, 1.0):
            point = offset(*RAINIER, bearing, radius_m * fraction)
            assert geohash_encode(*point) in cells, (bearing, fraction)


def test_cells_within_grow_with_the_radius() -> None:
    assert len(cells_within(*RAINIER, 2000)) > len(cells_within(*RAINIER, 500)) > len(cells_within(*RAINIER, 50))


def _in_ranges(cell: str, ranges: list[tuple[str, str]]) -> bool:
    return any(low <= cell <= high for low, high in ranges)


@pytest.mark.parametrize(("centre", "radius_m"), [
    (RAINIER, 50), (RAINIER, 500), (RAINIER, 1000), (RAINIER, 5000),
    ((0.0001, 179.9999), 1000),  # across the antimeridian
    ((89.995, 10.0), 2000),  # over the pole
])
def test_cell_ranges_within_cover_every_point_at_the_radius(centre: tuple[float, float], radius_m: float) -> None:
    ranges = cell_ranges_within(*centre, radius_m)
    assert _in_ranges(geohash_encode(*centre), ranges)
    for bearing in range(0, 360, 5):
        for fraction in (0.5, 0.9, 1.0):
            latitude, longitude = offset(*centre, bearing, radius_m * fraction)
            cell = geohash_encode(latitude, (longitude + 540.0) % 360.0 - 180.0)
            assert _in_ranges(cell, ranges), (bearing, fraction)


@pytest.mark.parametrize("radius_m", [50, 1000, 5000, 50_000])
def test_cell_ranges_within_stay_few_whatever_the_radius(radius_m: float) -> None:
    ranges = cell_ranges_within(*RAINIER, radius_m)
    assert len(ranges) <= MAX_COVER_CELLS
    assert len(ranges) < len(cells_within(*RAINIER, radius_m)) or radius_m <= 50


def test_cell_ranges_within_leave_out_far_cells() -> None:
    ranges = cell_ranges_within(*RAINIER, 1000)
    assert not _in_ranges(geohash_encode(*offset(*RAINIER, 0, 5000)), ranges)
    assert not _in_ranges(geohash_encode(*offset(*RAINIER, 90, 5000)), ranges)


@pytest.mark.parametrize(("one", "other", "metres"), [
    ((0.0, 0.0), (1.0, 0.0), 2 * math.pi * EARTH_RADIUS_M / 360),  # one degree of a great circle: 111,195 m
    ((0.0, 0.0), (0.0, 1.0), 2 * math.pi * EARTH_RADIUS_M / 360),
    ((48.8566, 2.3522), (51.5074, -0.1278), 343_556),  # Paris to London, haversine on a 6,371 km sphere
])
def test_distance_between_known_points(one: tuple[float, float], other: tuple[float, float], metres: float) -> None:
    assert distance_m(*one, *other) == pytest.approx(metres, abs=1.0)
    assert distance_m(*other, *one) == pytest.approx(metres, abs=1.0)


def test_distance_to_itself_is_zero_and_offsets_measure_back() -> None:
    assert distance_m(*RAINIER, *RAINIER) == 0.0
    assert distance_m(*RAINIER, *offset(*RAINIER, 37, 420)) == pytest.approx(420, abs=0.01)
