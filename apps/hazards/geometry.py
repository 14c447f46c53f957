"""Point-in-area tests on GeoJSON Polygons and MultiPolygons, without GEOS or PostGIS.

Coordinates are GeoJSON's: [longitude, latitude] pairs, each ring closed (its
last position repeats its first). A polygon is an outer ring followed by its
holes. Health areas are a few hundred city-sized polygons, so plain ray casting
on the few whose bounding box holds the point costs well under a millisecond.

A point exactly on an edge may count as inside or outside: neighbouring areas
share their edges, and either of the two is an acceptable answer there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apps.common.jsonbody import json_number
from apps.places.geo import on_earth

AREA_TYPES = ("Polygon", "MultiPolygon")

Ring = Sequence[Sequence[float]]


@dataclass(frozen=True)
class Bounds:
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float


def _in_ring(longitude: float, latitude: float, ring: Ring) -> bool:
    """Even-odd rule: a ray going east from the point crosses the ring an odd number of times."""
    inside = False
    x1, y1 = ring[-1][0], ring[-1][1]
    for position in ring:
        x2, y2 = position[0], position[1]
        # Half-open in y, so a ray through a vertex counts the two edges meeting there once, not twice.
        if (y1 > latitude) != (y2 > latitude):
            x_cross = x1 + (latitude - y1) * (x2 - x1) / (y2 - y1)
            if longitude < x_cross:
                inside = not inside
        x1, y1 = x2, y2
    return inside


def _in_polygon(longitude: float, latitude: float, rings: Sequence[Ring]) -> bool:
    outer, *holes = rings
    return _in_ring(longitude, latitude, outer) and not any(_in_ring(longitude, latitude, h) for h in holes)


def _polygons(geometry: Mapping[str, Any]) -> list[Sequence[Ring]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"not an area geometry: {kind!r} (expected one of {', '.join(AREA_TYPES)})")


def geometry_contains(geometry: Mapping[str, Any], *, latitude: float, longitude: float) -> bool:
    """Whether a GeoJSON Polygon or MultiPolygon holds the point (outside its holes)."""
    return any(_in_polygon(longitude, latitude, rings) for rings in _polygons(geometry))


def geometry_bounds(geometry: Mapping[str, Any]) -> Bounds:
    positions = [p for rings in _polygons(geometry) for ring in rings for p in ring]
    lons = [p[0] for p in positions]
    lats = [p[1] for p in positions]
    return Bounds(min_lat=min(lats), max_lat=max(lats), min_lon=min(lons), max_lon=max(lons))


def geometry_check(geometry: Any) -> str | None:
    """What is wrong with a would-be area geometry, or None when it is usable."""
    if not isinstance(geometry, Mapping):
        return "the geometry is missing or not an object"
    if geometry.get("type") not in AREA_TYPES:
        return f"the geometry type is {geometry.get('type')!r}, not Polygon or MultiPolygon"
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates:
        return "the geometry has no coordinates"
    polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
    for rings in polygons:
        if not isinstance(rings, list) or not rings:
            return "a polygon has no rings"
        for ring in rings:
            problem = _ring_check(ring)
            if problem:
                return problem
    return None


def _ring_check(ring: Any) -> str | None:
    # A closed ring needs three distinct corners plus the repeated first one.
    if not isinstance(ring, list) or len(ring) < 4:
        return "a ring has fewer than 4 positions"
    for position in ring:
        if not isinstance(position, list) or len(position) < 2:
            return f"a position is not [longitude, latitude]: {position!r}"
        lon, lat = position[0], position[1]
        if not all(json_number(v) and math.isfinite(v) for v in (lon, lat)):
            return f"a position is not numeric: {position!r}"
        if not on_earth(lat, lon):
            return f"a position is not longitude, latitude on Earth: {position!r}"
    if ring[0][:2] != ring[-1][:2]:
        return "a ring is not closed (its last position must repeat its first)"
    return None
