"""Positions over the stream: reported on the socket, written in batches, live to those who may see them,
at most one a second per unit per viewer; a bad fix is answered and the socket stays."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from apps.locations.models import PositionReport
from tests.base import World, signed_in_client
from tests.delivery.helpers import WAIT, open_stream, ticket_for
from tests.locations.helpers import fix

pytestmark = pytest.mark.django_db(transaction=True)


async def _next_of(comm: Any, kind: str, timeout: float = WAIT) -> dict[str, Any]:
    while True:
        message = await comm.receive_json_from(timeout=timeout)
        if message["type"] == kind:
            return message  # type: ignore[no-any-return]


def test_a_report_on_omars_socket_reaches_avas_console_and_is_stored(world: World) -> None:
    omar, ava, xavier = (ticket_for(signed_in_client(u)) for u in (world.omar, world.ava, world.xavier))

    async def scenario() -> None:
        officer, _ = await open_stream(omar)
        console, _ = await open_stream(ava)
        other, _ = await open_stream(xavier)
        await officer.send_json_to({"type": "position", **fix(ago_s=1)})
        frame = await _next_of(console, "unit.position")
        [position] = frame["positions"]
        assert position["call_sign"] == "2A12" and position["latitude"] == 47.5301
        assert position["heading_deg"] == 90.0 and position["jump"] is False and position["emergency_id"] is None
        assert await other.receive_nothing(timeout=0.5)  # Xavier: nothing of this agency
        for comm in (officer, console, other):
            await comm.disconnect()

    async_to_sync(scenario)()
    assert PositionReport.objects.filter(unit=world.unit).count() == 1


def test_a_viewer_gets_a_unit_at_most_once_a_second_the_newest(world: World) -> None:
    omar, ava = (ticket_for(signed_in_client(u)) for u in (world.omar, world.ava))

    async def scenario() -> None:
        officer, _ = await open_stream(omar)
        console, _ = await open_stream(ava)
        await officer.send_json_to({"type": "position", **fix(ago_s=3)})
        first = await _next_of(console, "unit.position")
        await officer.send_json_to({"type": "position", **fix(ago_s=2, lat=47.5305)})
        await officer.send_json_to({"type": "position", **fix(ago_s=1, lat=47.5309)})
        loop = asyncio.get_running_loop()
        started = loop.time()
        second = await _next_of(console, "unit.position")
        # Held until a second after the first, and only the newest of the two sent meanwhile.
        assert [p["latitude"] for p in first["positions"] + second["positions"]] == [47.5301, 47.5309]
        assert loop.time() - started > 0.5
        for comm in (officer, console):
            await comm.disconnect()

    async_to_sync(scenario)()
    assert PositionReport.objects.count() == 3  # every fix is on the track


def test_a_bad_fix_is_answered_and_the_socket_stays(world: World) -> None:
    omar = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        officer, _ = await open_stream(omar)
        await officer.send_json_to({"type": "position", **fix(lat=95.0)})
        error = await _next_of(officer, "error")
        assert error["code"] == "position_out_of_range"
        await officer.send_json_to({"type": "position", **fix(ago_s=2)})
        await officer.send_json_to({"type": "position", **fix(ago_s=1.8)})
        assert (await _next_of(officer, "error"))["code"] == "position_rate_exceeded"
        await officer.send_json_to({"type": "position", **fix(ago_s=0)})
        await asyncio.sleep(0.5)
        await officer.disconnect()

    async_to_sync(scenario)()
    assert PositionReport.objects.count() == 2


def test_omar_off_shift_reports_reach_nobody_and_are_not_stored(world: World) -> None:
    world.unit.members_on_shift.remove(world.omar)
    omar, ava = (ticket_for(signed_in_client(u)) for u in (world.omar, world.ava))

    async def scenario() -> None:
        officer, _ = await open_stream(omar)
        console, _ = await open_stream(ava)
        await officer.send_json_to({"type": "position", **fix(ago_s=1)})
        assert await console.receive_nothing(timeout=0.6)
        for comm in (officer, console):
            await comm.disconnect()

    async_to_sync(scenario)()
    assert not PositionReport.objects.exists()
