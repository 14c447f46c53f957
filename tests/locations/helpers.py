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


def officer_on_a_unit_at(world: Any, call_sign: str, lat: float, lon: float) -> Any:
    """A new officer on shift on a new unit `call_sign`, whose first fix (3 s old) puts the unit at lat, lon."""
    from apps.accounts.models import Role, Unit
    from tests.base import make_user, signed_in_client

    unit = Unit.objects.create(agency=world.agency, call_sign=call_sign)
    officer = make_user(call_sign.lower(), Role.OFFICER, world.agency)
    unit.members_on_shift.add(officer)
    assert post_positions(signed_in_client(officer), fix(lat=lat, lon=lon, ago_s=3)).json()["recorded"] == 1
    return officer
