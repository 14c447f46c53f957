"""Geohash cells and distances: spatial lookups without PostGIS.

A geohash cell is a short string; points in the same cell share it, so an
ordinary btree index answers "what is in these cells". Precision 7 cells are
about 153 m x 153 m at the equator (narrower east-west at higher latitudes),
so the 3x3 block around a point reaches at least one cell beyond it: about
150 m north-south, and about 100 m east-west at Seattle's latitude (47.6 N).
"""

from __future__ import annotations

import math
from functools import lru_cache

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
CELL_PRECISION = 7
EARTH_RADIUS_M = 6_371_000.0
# A radius search covers its circle with at most this many cells, choosing coarser ones as it
# grows: a 1 km circle is ~300 precision-7 cells but 16-25 of precision 6, and building,
# binding and planning a 300-item IN list cost a briefing ~15 ms. Callers filter by exact distance.
MAX_COVER_CELLS = 32


def _halve(x: float, lo: float, hi: float) -> tuple[int, float, float]:
    """One geohash bit: 1 when `x` is in the upper half of [lo, hi], and the half it is in."""
    mid = (lo + hi) / 2
    return (1, mid, hi) if x >= mid else (0, lo, mid)


def on_earth(latitude: float, longitude: float) -> bool:
    """A latitude in -90..90 and a longitude in -180..180 (NaN and infinities are neither): a place."""
    return -90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0


def no_fix(latitude: float, longitude: float) -> bool:
    """0, 0 exactly: what a phone or a modem without a fix sends, not a place (the Gulf of Guinea)."""
    return latitude == 0 and longitude == 0


def geohash_encode(latitude: float, longitude: float, precision: int = CELL_PRECISION) -> str:
    if not on_earth(latitude, longitude):
        raise ValueError(f"not a position on Earth: {latitude}, {longitude}")
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    chars: list[str] = []
    bits = 0
    value = 0
    even = True  # geohash interleaves bits, longitude first
    while len(chars) < precision:
        if even:
            bit, lon_lo, lon_hi = _halve(longitude, lon_lo, lon_hi)
        else:
            bit, lat_lo, lat_hi = _halve(latitude, lat_lo, lat_hi)
        value = value * 2 + bit
        even = not even
        bits += 1
        if bits == 5:
            chars.append(_BASE32[value])
            bits = 0
            value = 0
    return "".join(chars)


def geohash_bounds(cell: str) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of a cell."""
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    even = True
    for char in cell:
        value = _BASE32.index(char)
        for shift in range(4, -1, -1):
            bit = (value >> shift) & 1
            if even:
                mid = (lon_lo + lon_hi) / 2
                lon_lo, lon_hi = (mid, lon_hi) if bit else (lon_lo, mid)
            else:
                mid = (lat_lo + lat_hi) / 2
                lat_lo, lat_hi = (mid, lat_hi) if bit else (lat_lo, mid)
            even = not even
    return lat_lo, lat_hi, lon_lo, lon_hi


def cell_block(latitude: float, longitude: float, precision: int = CELL_PRECISION) -> list[str]:
    """The cell holding the point and its eight neighbours (fewer at the poles)."""
    return list(_cell_block(latitude, longitude, precision))


# A briefing asks for the same point's cells three times (prior calls, the block's premises, cameras), and
# a re-assembly asks again: ~100 geohash encodings a briefing, 1.3 ms of its Python time (bench/briefing.py).
@lru_cache(maxsize=4096)
def _cell_block(latitude: float, longitude: float, precision: int) -> tuple[str, ...]:
    lat_lo, lat_hi, lon_lo, lon_hi = geohash_bounds(geohash_encode(latitude, longitude, precision))
    height, width = lat_hi - lat_lo, lon_hi - lon_lo
    centre_lat, centre_lon = (lat_lo + lat_hi) / 2, (lon_lo + lon_hi) / 2
    cells: list[str] = []
    for d_lat in (-1, 0, 1):
        for d_lon in (-1, 0, 1):
            lat = centre_lat + d_lat * height
            lon = (centre_lon + d_lon * width + 540.0) % 360.0 - 180.0
            if -90.0 <= lat <= 90.0:
                cell = geohash_encode(lat, lon, precision)
                if cell not in cells:
                    cells.append(cell)
    return tuple(cells)


def cells_within(latitude: float, longitude: float, radius_m: float) -> list[str]:
    """Precision-7 cells that together cover a circle of radius_m around the point.

    Callers filter the candidates by exact distance afterwards.
    """
    return list(_cells_within(latitude, longitude, radius_m))


@lru_cache(maxsize=4096)
def _cells_within(latitude: float, longitude: float, radius_m: float) -> tuple[str, ...]:
    lat_lo, lat_hi, lon_lo, lon_hi = geohash_bounds(geohash_encode(latitude, longitude, CELL_PRECISION))
    height_m = (lat_hi - lat_lo) * math.pi / 180 * EARTH_RADIUS_M
    width_m = (lon_hi - lon_lo) * math.pi / 180 * EARTH_RADIUS_M * max(math.cos(math.radians(latitude)), 0.01)
    rows = math.ceil(radius_m / height_m)
    cols = math.ceil(radius_m / width_m)
    centre_lat, centre_lon = (lat_lo + lat_hi) / 2, (lon_lo + lon_hi) / 2
    cells: set[str] = set()
    for r in range(-rows, rows + 1):
        for c in range(-cols, cols + 1):
            lat = centre_lat + r * (lat_hi - lat_lo)
            if -90.0 <= lat <= 90.0:
                lon = (centre_lon + c * (lon_hi - lon_lo) + 540.0) % 360.0 - 180.0
                cells.add(geohash_encode(lat, lon, CELL_PRECISION))
    return tuple(sorted(cells))


def _grid(precision: int) -> tuple[int, int]:
    """(rows, columns) of the world's geohash grid at a precision: longitude takes the odd bit."""
    bits = 5 * precision
    return 2 ** (bits // 2), 2 ** ((bits + 1) // 2)


def _circle_box(latitude: float, longitude: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) around a circle on the sphere; longitudes may pass +-180."""
    d = radius_m / EARTH_RADIUS_M
    lat_lo, lat_hi = latitude - math.degrees(d), latitude + math.degrees(d)
    # Widest in longitude at asin(sin d / cos lat), not d / cos lat; a circle over a pole takes every longitude.
    reach = math.sin(d) / max(math.cos(math.radians(latitude)), 1e-12)
    if lat_lo <= -90.0 or lat_hi >= 90.0 or reach >= 1.0:
        return max(lat_lo, -90.0), min(lat_hi, 90.0), -180.0, 180.0
    d_lon = math.degrees(math.asin(reach)) + 1e-9
    return lat_lo, lat_hi, longitude - d_lon, longitude + d_lon


def _cover(box: tuple[float, float, float, float], precision: int) -> tuple[range, range]:
    """Row and column numbers of the cells meeting the box (columns not yet wrapped at +-180)."""
    lat_lo, lat_hi, lon_lo, lon_hi = box
    rows, cols = _grid(precision)
    height, width = 180.0 / rows, 360.0 / cols
    row_range = range(max(math.floor((lat_lo + 90.0) / height), 0),
                      min(math.floor((lat_hi + 90.0) / height), rows - 1) + 1)
    if lon_hi - lon_lo >= 360.0:
        return row_range, range(cols)
    return row_range, range(math.floor((lon_lo + 180.0) / width), math.floor((lon_hi + 180.0) / width) + 1)


def cell_ranges_within(latitude: float, longitude: float, radius_m: float) -> list[tuple[str, str]]:
    """Inclusive ranges of precision-7 cells that together cover a circle of radius_m around the point.

    `cell BETWEEN low AND high` for each range finds every point in the circle (and some
    outside: callers filter by exact distance). The cells are the finest precision whose
    cover needs no more than MAX_COVER_CELLS; runs of consecutive cells merge into one range.
    """
    return list(_cell_ranges_within(latitude, longitude, radius_m))


@lru_cache(maxsize=4096)
def _cell_ranges_within(latitude: float, longitude: float, radius_m: float) -> tuple[tuple[str, str], ...]:
    box = _circle_box(latitude, longitude, radius_m)
    for precision in range(CELL_PRECISION, 0, -1):
        row_range, col_range = _cover(box, precision)
        if len(row_range) * len(col_range) <= MAX_COVER_CELLS:
            break
    rows, cols = _grid(precision)
    height, width = 180.0 / rows, 360.0 / cols
    numbers = sorted({
        _cell_number(geohash_encode(-90.0 + (row + 0.5) * height, -180.0 + (col % cols + 0.5) * width, precision))
        for row in row_range for col in col_range})
    ranges: list[tuple[str, str]] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        tail = _BASE32[-1] * (CELL_PRECISION - precision)
        ranges.append((_cell_text(start, precision), _cell_text(previous, precision) + tail))
        if number is not None:
            start = previous = number
    return tuple(ranges)


def _cell_number(cell: str) -> int:
    number = 0
    for char in cell:
        number = number * 32 + _BASE32.index(char)
    return number


def _cell_text(number: int, precision: int) -> str:
    chars = []
    for _ in range(precision):
        number, digit = divmod(number, 32)
        chars.append(_BASE32[digit])
    return "".join(reversed(chars))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    d_lat, d_lon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(d_lat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(d_lon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
