"""Geohash cells and distances: spatial lookups without PostGIS.

A geohash cell is a short string; points in the same cell share it, so an
ordinary btree index answers "what is in these cells". Precision 7 cells are
about 153 m x 153 m at the equator (narrower east-west at higher latitudes),
so the 3x3 block around a point reaches at least one cell beyond it: about
150 m north-south, and about 100 m east-west at Seattle's latitude (47.6 N).
"""

from __future__ import annotations

import math

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
CELL_PRECISION = 7
EARTH_RADIUS_M = 6_371_000.0


def geohash_encode(latitude: float, longitude: float, precision: int = CELL_PRECISION) -> str:
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise ValueError(f"not a position on Earth: {latitude}, {longitude}")
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    chars: list[str] = []
    bits = 0
    value = 0
    even = True  # geohash interleaves bits, longitude first
    while len(chars) < precision:
        if even:
            mid = (lon_lo + lon_hi) / 2
            if longitude >= mid:
                value = value * 2 + 1
                lon_lo = mid
            else:
                value *= 2
                lon_hi = mid
        else:
            mid = (lat_lo + lat_hi) / 2
            if latitude >= mid:
                value = value * 2 + 1
                lat_lo = mid
            else:
                value *= 2
                lat_hi = mid
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
    return cells


def cells_within(latitude: float, longitude: float, radius_m: float) -> list[str]:
    """Precision-7 cells that together cover a circle of radius_m around the point.

    Callers filter the candidates by exact distance afterwards.
    """
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
    return sorted(cells)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    d_lat, d_lon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(d_lat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(d_lon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
