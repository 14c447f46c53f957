"""Cameras around the briefing tests' Rainier Valley call, at known distances."""

from __future__ import annotations

import math
from typing import Any

from apps.calls.models import Call
from apps.cameras.models import Camera
from apps.cameras.services import camera_create
from apps.places.geo import EARTH_RADIUS_M
from tests.base import World
from tests.briefings.helpers import LAT, LON, make_call

STREAM_USER = "sdot-operator-7731"
STREAM_PASSWORD = "hunter2-Zq9!pass/word"  # a '/' and '!' that the URL must quote
M_PER_DEGREE = math.pi / 180 * EARTH_RADIUS_M  # the sphere apps.places.geo measures on


def offset(north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    return LAT + north_m / M_PER_DEGREE, LON + east_m / (M_PER_DEGREE * math.cos(math.radians(LAT)))


def camera_at(world: World, name: str, north_m: float, east_m: float = 0.0, *, kind: str = Camera.Kind.FIXED,
              sharing: str = Camera.Sharing.ALWAYS, sharing_radius_m: int = 500, agency: Any = None,
              source_kind: str = Camera.SourceKind.RTSP, source_url: str = "rtsp://cam.example.invalid:554/live",
              **extra: Any) -> Camera:
    lat, lon = offset(north_m, east_m)
    return camera_create(agency=agency or world.agency, name=name, kind=kind, owner=f"Owner of {name}",
                         latitude=lat, longitude=lon, source_kind=source_kind, source_url=source_url,
                         sharing=sharing, sharing_radius_m=sharing_radius_m, username=STREAM_USER,
                         password=STREAM_PASSWORD, **extra)


def active_call(world: World, event: str = "26-0100001", **extra: Any) -> Call:
    return make_call(world, event=event, **extra)
