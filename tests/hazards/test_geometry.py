"""Point-in-polygon on GeoJSON areas: ray casting, holes, MultiPolygons; checked against the real NYC outlines."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from apps.hazards.geometry import Bounds, geometry_bounds, geometry_check, geometry_contains
from tests.hazards.conftest import NYC_GEOJSON, nyc_centroids, square

# A 10 x 10 square (lon 0-10, lat 0-10) with a 2 x 2 hole in its middle (lon 4-6, lat 4-6).
FRAME: dict[str, Any] = {"type": "Polygon", "coordinates": [square(0, 0, 10), square(4, 4, 2)[::-1]]}
# An L: the square lon 0-10, lat 0-10 without its top-right quarter. Concave, so its bounding box lies.
ELL: dict[str, Any] = {"type": "Polygon", "coordinates": [
    [[0, 0], [10, 0], [10, 5], [5, 5], [5, 10], [0, 10], [0, 0]]]}


def contains(geometry: dict[str, Any], lat: float, lon: float) -> bool:
    return geometry_contains(geometry, latitude=lat, longitude=lon)


def test_a_point_inside_a_square_is_in_it_and_one_outside_is_not() -> None:
    box = {"type": "Polygon", "coordinates": [square(0, 0, 1)]}
    assert contains(box, 0.5, 0.5)
    assert not contains(box, 1.5, 0.5)
    assert not contains(box, 0.5, -0.5)


def test_a_point_in_the_hole_is_outside_the_polygon() -> None:
    assert contains(FRAME, 2, 2)
    assert not contains(FRAME, 5, 5)
    assert contains(FRAME, 5, 7)  # above the hole, still in the frame


def test_a_point_in_the_missing_corner_of_a_concave_polygon_is_outside_it() -> None:
    assert contains(ELL, 2, 8) and contains(ELL, 8, 2)
    assert not contains(ELL, 8, 8)


def test_a_multipolygon_holds_the_points_of_each_of_its_parts_and_not_the_gap_between() -> None:
    islands = {"type": "MultiPolygon", "coordinates": [[square(0, 0, 1)], [square(5, 5, 1)]]}
    assert contains(islands, 0.5, 0.5) and contains(islands, 5.5, 5.5)
    assert not contains(islands, 3, 3)


def test_a_ray_through_a_vertex_is_counted_once() -> None:
    diamond = {"type": "Polygon", "coordinates": [[[0, 5], [5, 0], [10, 5], [5, 10], [0, 5]]]}
    # The ray east from (lon 1, lat 5) passes exactly through the vertex at (10, 5).
    assert contains(diamond, 5, 1)
    # And from outside, through the vertex at (0, 5) and then (10, 5).
    assert not contains(diamond, 5, -1)


def test_the_bounds_cover_every_part() -> None:
    islands = {"type": "MultiPolygon", "coordinates": [[square(0, 0, 1)], [square(5, -3, 1)]]}
    assert geometry_bounds(islands) == Bounds(min_lat=-3, max_lat=1, min_lon=0, max_lon=6)


@pytest.mark.parametrize(
    ("geometry", "problem"),
    [
        (None, "missing"),
        ({"type": "Point", "coordinates": [0, 0]}, "not Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": []}, "no coordinates"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "fewer than 4"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "not closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, "x"], [1, 1], [0, 0]]]}, "not numeric"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 95], [1, 1], [0, 0]]]}, "on Earth"),
        ({"type": "MultiPolygon", "coordinates": [[]]}, "no rings"),
    ],
)
def test_a_geometry_that_is_not_a_usable_area_is_named_as_such(geometry: Any, problem: str) -> None:
    found = geometry_check(geometry)
    assert found is not None and problem in found


def test_the_nyc_outlines_are_all_usable_and_include_holes_and_multipolygons() -> None:
    features = json.loads(NYC_GEOJSON.read_text())["features"]
    assert [geometry_check(f["geometry"]) for f in features] == [None] * 178
    kinds = [f["geometry"]["type"] for f in features]
    assert (kinds.count("Polygon"), kinds.count("MultiPolygon")) == (155, 23)
    assert sum(1 for f in features if f["geometry"]["type"] == "Polygon" and len(f["geometry"]["coordinates"]) > 1) == 5


def _winding_number(lon: float, lat: float, ring: list[list[float]]) -> int:
    """An independent test (winding number, not ray casting) to check ours against."""
    winding = 0
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        cross = (x2 - x1) * (lat - y1) - (lon - x1) * (y2 - y1)
        if y1 <= lat < y2 and cross > 0:
            winding += 1
        elif y2 <= lat < y1 and cross < 0:
            winding -= 1
    return winding


def _contains_by_winding(geometry: dict[str, Any], lat: float, lon: float) -> bool:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return any(_winding_number(lon, lat, outer) != 0 and not any(_winding_number(lon, lat, h) for h in holes)
               for outer, *holes in polygons)


def test_every_nyc_centroid_lands_where_an_independent_method_puts_it() -> None:
    """Both methods agree for all 177 centroids against all 178 outlines.

    A centroid need not lie in its own area: 10024 (Upper West Side) and 10467 (Allerton) are concave,
    and their published centroids fall in 10025 and 10470.
    """
    areas = {f["properties"]["MODZCTA"]: f["geometry"] for f in json.loads(NYC_GEOJSON.read_text())["features"]}
    found: dict[str, list[str]] = {}
    for code, (lat, lon) in nyc_centroids().items():
        ours = [other for other, geometry in areas.items() if contains(geometry, lat, lon)]
        assert ours == [other for other, geometry in areas.items() if _contains_by_winding(geometry, lat, lon)]
        found[code] = ours
    assert len(found) == 177
    elsewhere = {code: hits for code, hits in found.items() if hits != [code]}
    assert elsewhere == {"10024": ["10025"], "10467": ["10470"]}
