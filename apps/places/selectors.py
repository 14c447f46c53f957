"""Radius and nearest lookups on any model with latitude, longitude and a geohash `cell`.

The cell column's btree index narrows the search to the cells that cover the
circle; the exact great-circle distance then decides. Works the same on SQLite
and PostgreSQL (no PostGIS).
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from apps.places.geo import cells_within, distance_m

M = TypeVar("M", bound=Model)


def within_radius(queryset: QuerySet[M], *, latitude: float, longitude: float, radius_m: float,
                  limit: int | None = None) -> list[tuple[M, float]]:
    """(record, metres away) for every record within radius_m, nearest first."""
    candidates = queryset.filter(cell__in=cells_within(latitude, longitude, radius_m))
    found = []
    for record in candidates:
        lat, lon = record.latitude, record.longitude  # type: ignore[attr-defined]
        if lat is None or lon is None:
            continue
        metres = distance_m(latitude, longitude, lat, lon)
        if metres <= radius_m:
            found.append((record, metres))
    found.sort(key=lambda pair: pair[1])
    return found[:limit] if limit is not None else found


def nearest(queryset: QuerySet[M], *, latitude: float, longitude: float, max_radius_m: float = 5_000,
            limit: int = 1) -> list[tuple[M, float]]:
    """The `limit` nearest records within max_radius_m, widening the search ring by ring."""
    radius = 250.0
    while True:
        found = within_radius(queryset, latitude=latitude, longitude=longitude, radius_m=min(radius, max_radius_m),
                              limit=limit)
        if len(found) >= limit or radius >= max_radius_m:
            return found
        radius *= 2
