"""The offline basemap: the demo city's streets, cut into small tiles the map draws as vector lines.

No tile server is reachable from a patrol car's network in every deployment, and the demo has none, so
the streets ship with the repo (fixtures/data/maps, fixtures/data/SOURCES.md). The files stay as they
were copied; they are read once per process, on the first tile asked for, and cut into two grids:

- zoom 14 (about 1.6 km square at Seattle's latitude): every street segment, for the view around a call;
- zoom 12 (about 6.6 km): arterials, parks, and the New York health areas' outlines (the only shapes the
  repo has for New York), for the console's whole-city view.

A feature belongs to the one tile holding the centre of its bounding box, so nothing is drawn twice;
the map loads the tiles around its view, so a segment crossing a tile edge still shows. Coordinates are
rounded to 5 decimals (about 1 m) for streets and 4 (about 10 m) for areas: what the browser downloads
around one call stays around 10-20 KiB gzipped per tile.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent.parent / "fixtures" / "data"
STREETS = DATA / "maps" / "seattle_streets_snd_2015.topojson"
ARTERIALS = DATA / "maps" / "seattle_arterials_sdot_2018.geojson"
PARKS = DATA / "maps" / "seattle_parks_osm.geojson"
NYC_AREAS = DATA / "health" / "nyc_MODZCTA_2010_WGS1984.geo.json"

STREET_ZOOM = 14
OVERVIEW_ZOOM = 12
ZOOMS = (OVERVIEW_ZOOM, STREET_ZOOM)
ATTRIBUTION = "© City of Seattle · parks © OpenStreetMap (ODbL) · NYC DOHMH"

Line = list[float]  # flat: lon, lat, lon, lat, ...


def tile_of(longitude: float, latitude: float, zoom: int) -> tuple[int, int]:
    """The Web Mercator (XYZ) tile holding a point, as Leaflet numbers them."""
    n = 2 ** zoom
    lat = math.radians(max(-85.0511, min(85.0511, latitude)))
    x = int((longitude + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(lat)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _flat(points: Iterable[Iterable[float]], digits: int) -> Line:
    """Rounded and flattened, with repeated points dropped (rounding merges close neighbours)."""
    out: Line = []
    for point in points:
        lon, lat = (round(float(v), digits) for v in list(point)[:2])
        if len(out) >= 2 and out[-2] == lon and out[-1] == lat:
            continue
        out += [lon, lat]
    return out


def _centre(line: Line) -> tuple[float, float]:
    lons, lats = line[0::2], line[1::2]
    return (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2


def _topojson_lines(path: Path) -> Iterator[list[list[float]]]:
    """The LineStrings of a quantized TopoJSON file, decoded to lon/lat (topojson specification 2.1.4)."""
    topo = json.loads(path.read_text())
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs: list[list[list[float]]] = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append([x * sx + tx, y * sy + ty])
        arcs.append(points)
    for collection in topo["objects"].values():
        for geometry in collection.get("geometries", []):
            kind = geometry.get("type")
            parts = {"LineString": [geometry.get("arcs")], "MultiLineString": geometry.get("arcs")}.get(kind) or []
            for part in parts:
                points = []
                for index in part:
                    arc = arcs[index] if index >= 0 else arcs[~index][::-1]
                    points += arc if not points else arc[1:]  # consecutive arcs share their joining point
                yield points


def _geojson_parts(path: Path) -> Iterator[list[list[float]]]:
    """Each LineString, and each polygon's outer ring, of a GeoJSON FeatureCollection."""
    for feature in json.loads(path.read_text(encoding="utf-8-sig"))["features"]:
        geometry = feature.get("geometry") or {}
        kind, coordinates = geometry.get("type"), geometry.get("coordinates") or []
        if kind == "LineString":
            yield coordinates
        elif kind == "MultiLineString":
            yield from coordinates
        elif kind == "Polygon" and coordinates:
            yield coordinates[0]
        elif kind == "MultiPolygon":
            yield from (polygon[0] for polygon in coordinates if polygon)


def _add(tiles: dict[tuple[int, int, int], dict[str, list[Line]]], layer: str, zoom: int,
         parts: Iterable[list[list[float]]], digits: int) -> None:
    for part in parts:
        line = _flat(part, digits)
        if len(line) < 4:
            continue
        x, y = tile_of(*_centre(line), zoom)
        tiles[(zoom, x, y)].setdefault(layer, []).append(line)


_BUILDING = threading.Lock()


def _tiles() -> dict[tuple[int, int, int], bytes]:
    with _BUILDING:  # two first requests at once build it once
        return _tiles_built()


@lru_cache(maxsize=1)
def _tiles_built() -> dict[tuple[int, int, int], bytes]:
    """Every tile with anything in it, as gzipped JSON: built once per process (about 2 s, 830 KB)."""
    tiles: dict[tuple[int, int, int], dict[str, list[Line]]] = defaultdict(dict)
    _add(tiles, "streets", STREET_ZOOM, _topojson_lines(STREETS), 5)
    _add(tiles, "arterials", OVERVIEW_ZOOM, _geojson_parts(ARTERIALS), 5)
    _add(tiles, "parks", OVERVIEW_ZOOM, _geojson_parts(PARKS), 4)
    _add(tiles, "areas", OVERVIEW_ZOOM, _geojson_parts(NYC_AREAS), 4)
    return {key: gzip.compress(json.dumps(layers, separators=(",", ":")).encode(), mtime=0)
            for key, layers in tiles.items()}


EMPTY = gzip.compress(b"{}", mtime=0)


def basemap_tile(*, zoom: int, x: int, y: int) -> bytes | None:
    """A tile's layers as gzipped JSON ({"streets": [[lon, lat, ...], ...]}), or None for a tile that cannot be."""
    if zoom not in ZOOMS or not (0 <= x < 2 ** zoom and 0 <= y < 2 ** zoom):
        return None
    return _tiles().get((zoom, x, y), EMPTY)


def basemap_info() -> dict[str, Any]:
    """What the page needs to know to draw the offline basemap."""
    return {"street_zoom": STREET_ZOOM, "overview_zoom": OVERVIEW_ZOOM, "attribution": ATTRIBUTION}
