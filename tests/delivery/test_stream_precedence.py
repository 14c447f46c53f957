"""On a loop busy with a city's live positions, an event (an officer's emergency) goes out first.

The hub's own scheduling, with sockets that record what they were sent and when: what the terminals of
bench/avl.py see, without the 2,000 sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any

from apps.delivery.stream import Hub
from apps.locations.live import LIVE_KIND

CITY = 1_000  # sockets that every position batch is offered to
NEAR = 60  # the terminals the emergency reaches


class Recording:
    """A started socket that takes every event at once and records each frame in one shared timeline."""

    def __init__(self, user_id: int, timeline: list[tuple[str, int]]) -> None:
        self.user_id, self.session_id, self.epoch, self.last_sent = user_id, user_id, "e1", 0
        self.started, self.closing = True, False
        self.timeline = timeline

    async def wake_event(self, epoch: str, offset: int, prefix: str) -> None:
        raise AssertionError("every socket here takes the event at once")

    async def wake_event_now(self, epoch: str, offset: int, prefix: str) -> bool:
        self.last_sent = offset
        self.timeline.append(("event", self.user_id))
        return True

    async def wake_check(self) -> None:
        return None

    async def wake_live(self, kind: str, batch: Any) -> None:
        self.timeline.append(("live", self.user_id))


def _timeline(*, live_batches: int, event_after_sends: int) -> list[tuple[str, int]]:
    """Position batches already queued on the loop, then the emergency's wake once `event_after_sends`
    live frames have gone out."""
    timeline: list[tuple[str, int]] = []

    async def run() -> None:
        hub = Hub(asyncio.get_running_loop())
        for uid in range(1, CITY + 1):
            hub.sockets[uid] = {Recording(uid, timeline)}  # type: ignore[arg-type]
        batches = [hub.loop.create_task(hub.live_all("unit.position", object())) for _ in range(live_batches)]
        while sum(1 for kind, _ in timeline if kind == "live") < event_after_sends:
            await asyncio.sleep(0)
        hub.dispatch({"k": "ev", "m": "", "u": {str(uid): ["e1", 1] for uid in range(1, NEAR + 1)}})
        await asyncio.gather(*batches)
        await asyncio.sleep(0)  # any broadcast task still running

    asyncio.run(run())
    return timeline


def _live_before_last_event(timeline: list[tuple[str, int]]) -> tuple[int, int]:
    last_event = max(i for i, (kind, _) in enumerate(timeline) if kind == "event")
    live_before = sum(1 for kind, _ in timeline[:last_event] if kind == "live")
    return live_before, sum(1 for kind, _ in timeline if kind == "event")


def test_an_emergency_waits_for_no_queued_position_batch() -> None:
    # Five batches were queued when the emergency's wake arrived: before, the loop sent a hundred positions
    # of each before the first terminal heard of it; now the terminals are told first.
    live_before, events = _live_before_last_event(_timeline(live_batches=5, event_after_sends=0))
    assert events == NEAR
    assert live_before == 0


def test_an_emergency_mid_broadcast_waits_at_most_one_step_of_each_batch() -> None:
    live_before, events = _live_before_last_event(_timeline(live_batches=5, event_after_sends=150))
    assert events == NEAR
    # What was sent before the wake, plus at most the hundred each batch sends before its next yield.
    assert live_before <= 150 + 5 * 100
    assert live_before < 5 * CITY / 2


def test_every_position_still_goes_out_after_the_emergency() -> None:
    timeline = _timeline(live_batches=3, event_after_sends=250)
    assert sum(1 for kind, _ in timeline if kind == "live") == 3 * CITY



def _fix(unit_id: int) -> dict[str, Any]:
    return {"agency_id": 1, "unit_id": unit_id, "latitude": 47.53, "longitude": -122.27, "emergency_id": None,
            "reported_at": "2026-12-08T03:00:00.000000Z"}


def test_position_batches_that_queued_up_go_out_in_one_pass() -> None:
    # A task a written batch let every pass of the loop send a hundred of each queued batch, and each step of
    # an HTTP request (the emergency's POST) waited a whole pass. What came while one pass ran is the next one.
    passes: list[list[int]] = []

    class Console(Recording):
        async def wake_live(self, kind: str, batch: Any) -> None:
            if self.user_id == 1:
                passes.append([item["unit_id"] for item in batch.items])

    async def run() -> None:
        hub = Hub(asyncio.get_running_loop())
        for uid in range(1, CITY + 1):
            hub.sockets[uid] = {Console(uid, [])}  # type: ignore[arg-type]
        for unit_id in range(1, 5):  # four batches written before the process got to them
            hub.dispatch({"k": "live", "t": LIVE_KIND, "d": {"items": [_fix(unit_id)]}})
        await hub.live_senders[LIVE_KIND]
        hub.dispatch({"k": "live", "t": LIVE_KIND, "d": {"items": [_fix(5)]}})  # and one later, on its own
        await hub.live_senders[LIVE_KIND]

    asyncio.run(run())
    assert passes == [[1, 2, 3, 4], [5]]
