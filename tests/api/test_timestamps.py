"""Every timestamp the API answers has one form: RFC 3339, UTC, `Z`, six fractional digits."""

from __future__ import annotations

import re
from typing import Any

from tests.base import World, signed_in_client

ONE_FORM = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
LOOKS_LIKE_A_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def _timestamps(body: Any) -> list[str]:
    if isinstance(body, dict):
        return [t for v in body.values() for t in _timestamps(v)]
    if isinstance(body, list):
        return [t for v in body for t in _timestamps(v)]
    return [body] if isinstance(body, str) and LOOKS_LIKE_A_TIMESTAMP.match(body) else []


def test_calls_briefings_and_sessions_answer_timestamps_in_one_form(world: World) -> None:
    omar = signed_in_client(world.omar)
    ava = signed_in_client(world.ava)
    bodies = [omar.get("/api/v1/me").json(), omar.get("/api/v1/calls").json(), ava.get("/api/v1/cases").json()]
    for call in omar.get("/api/v1/calls").json()["results"]:
        bodies.append(omar.get(f"/api/v1/calls/{call['id']}/briefing").json())
    stamps = _timestamps(bodies)
    assert stamps and [s for s in stamps if not ONE_FORM.match(s)] == []
