"""Unit positions on the stream socket: reports coming in, live positions going out. docs/locations.md.

Kept apart from consumers.py, which carries the event log: positions are live state, not events. In: a
`{"type": "position", ...}` message is checked at once (a bad one answers `{"type": "error", "code": ...}`
and keeps the socket), then waits up to LOCATIONS_BATCH_WINDOW_MS with every other socket's of the process
and is written in one batch (two statements, bench/avl.py). Out: each written batch reaches every process
as one wake (apps.delivery.wake.live_publish), is matched once against all its sockets (LiveBatch, with any
other batch that came while the last pass ran), and each socket sends at most one position a second per
unit, the newest (a held one goes when its second is up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from django.conf import settings

from apps.locations import selectors, services
from apps.locations.live import LiveBatch, PositionScope, live_frame

logger = logging.getLogger(__name__)

class PositionIntake:
    """The position reports of every socket of one event loop, written together (held by the loop's stream hub)."""

    _RETRY_SECONDS = 1.0

    def __init__(self, write: Callable[[list[services.ReportIn]], Awaitable[Any]]) -> None:
        self.pending: list[services.ReportIn] = []
        self.write = write
        self.task: asyncio.Task[None] | None = None

    def add(self, report: services.ReportIn) -> None:
        self.pending.append(report)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        # Gather a moment before the first write; after it, what came in during a write is the next batch at once.
        # So a lone report waits LOCATIONS_BATCH_WINDOW_MS, and under load a batch is what one write time brings.
        await asyncio.sleep(settings.LOCATIONS_BATCH_WINDOW_MS / 1000)
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await self.write(batch)
            except Exception:  # a database hiccup: keep them (the newest fix still wins) and try again
                logger.warning("position reports not written; retrying", exc_info=True)
                self.pending = batch + self.pending
                await asyncio.sleep(self._RETRY_SECONDS)


class LiveView:
    """What one socket shows of the live positions: its user's scope, and one update a second per unit."""

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self.send = send
        self.scope: PositionScope | None = None
        self.near_from: tuple[float, float] | None = None
        self.last_report: datetime | None = None
        self._sent_at: dict[int, float] = {}
        self._held: dict[int, str] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._interval = settings.LOCATIONS_LIVE_INTERVAL_MS / 1000

    def set_scope(self, scope: PositionScope | None, near_from: tuple[float, float] | None) -> None:
        self.scope = scope
        if near_from is not None:
            self.near_from = near_from

    async def offer(self, batch: LiveBatch) -> None:
        scope = self.scope
        if scope is None:
            return
        own = batch.latest_of(scope.own_unit_id)
        if own is not None:
            self.near_from = own
        visible = batch.visible(scope, self.near_from)
        if not visible:
            return
        now = asyncio.get_running_loop().time()
        ready: dict[int, str] = {}
        for unit_id, encoded in visible:
            if now - self._sent_at.get(unit_id, -1e9) >= self._interval:
                ready[unit_id] = encoded  # the newest of this batch
            else:
                self._held[unit_id] = encoded
        for unit_id in ready:
            self._sent_at[unit_id] = now
            self._held.pop(unit_id, None)
        if ready:
            await self.send(live_frame(list(ready.values())))
        self._arm()

    def _arm(self) -> None:
        if not self._held or self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        due = min(self._sent_at.get(u, 0.0) for u in self._held) + self._interval
        self._timer = loop.call_at(due, lambda: loop.create_task(self._flush()))

    async def _flush(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        ready = {u: e for u, e in self._held.items() if now - self._sent_at.get(u, -1e9) >= self._interval - 0.005}
        for unit_id in ready:
            self._sent_at[unit_id] = now
            del self._held[unit_id]
        if ready:
            with contextlib.suppress(Exception):  # the socket closed meanwhile
                await self.send(live_frame(list(ready.values())))
        self._arm()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def report(self, *, user_id: int, content: dict[str, Any]) -> services.ReportIn | None:
        """A report from this socket, checked; None for a duplicate. Raises DomainError for a bad one."""
        report = services.report_clean(user_id=user_id, raw=content)
        if not services.rate_check(previous=self.last_report, reported_at=report.reported_at):
            return None
        if self.last_report is not None and report.reported_at < self.last_report:
            return None  # out of order: the unit's newer fix is already on its way
        self.last_report = report.reported_at
        return report


ScopeAndPoint = tuple[PositionScope | None, tuple[float, float] | None]


async def live_scopes_refresh(views: dict[LiveView, int],
                              refresh: Callable[[list[int], set[int]], Awaitable[dict[int, ScopeAndPoint]]]) -> None:
    """Work out again, together, the scopes of one loop's live views (user by view): a referral or an assignment
    changes what a user may see. Where an officer's unit is comes with the stream once it moves; it is read only
    for those without."""
    found = await refresh(sorted(set(views.values())), {uid for view, uid in views.items() if view.near_from is None})
    for view, user_id in views.items():
        view.set_scope(*found.get(user_id, (None, None)))


def scopes_with_points(user_ids: list[int], located: set[int] | None = None,
                       ) -> dict[int, tuple[PositionScope | None, tuple[float, float] | None]]:
    """Each user's scope and, for an officer, where their unit last was (the centre of "near me").

    `located`: only these users need the point (default all)."""
    scopes = selectors.position_scopes_for(user_ids=user_ids)
    own = [s.own_unit_id for uid, s in scopes.items() if s is not None and s.own_unit_id is not None
           and (located is None or uid in located)]
    points = selectors.unit_points(unit_ids=own) if own else {}
    return {uid: (scope, points.get(scope.own_unit_id) if scope and scope.own_unit_id else None)
            for uid, scope in scopes.items()}

