"""Positions as devices send them, around Omar's beat in Rainier Valley."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.common.wire import wire_datetime

RAINIER = (47.5301, -122.2700)


def fix(*, at: datetime | None = None, ago_s: float = 0.0, lat: float = RAINIER[0], lon: float = RAINIER[1],
        **extra: Any) -> dict[str, Any]:
    when = (at or timezone.now()) - timedelta(seconds=ago_s)
    return {"latitude": lat, "longitude": lon, "reported_at": wire_datetime(when), "accuracy_m": 8.0,
            "heading_deg": 90.0, "speed_mps": 12.0, **extra}


def post_positions(client: Any, *fixes: dict[str, Any]) -> Any:
    return client.post("/api/v1/me/positions", {"positions": list(fixes)}, format="json")
