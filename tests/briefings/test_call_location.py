"""A located call never says "unknown location"."""

from __future__ import annotations

from apps.briefings.models import BriefingVersion
from apps.briefings.services import briefing_assemble
from tests.base import World
from tests.briefings.helpers import make_call


def _call_body(world: World, **extra: object) -> str:
    call = make_call(world, event="26-0400001", address="", **extra)  # type: ignore[arg-type]
    version = briefing_assemble(call_id=call.pk, reason=BriefingVersion.Reason.CALL_CREATED)
    assert version is not None
    return next(i["body"] for i in version.items if i["id"] == "call")


def test_a_call_with_coordinates_and_no_address_says_where_it_is(world: World) -> None:
    body = _call_body(world)
    assert "unknown location" not in body
    assert body.startswith("at 47.51950, -122.26900")
