"""The event stream websocket, /ws/v1/stream. Protocol: docs/delivery.md.

Thin: redeem the ticket, then read the log through apps.delivery and forward.
The database is the record; a channel-layer message only says "look again".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from apps.accounts.models import DeviceSession
from apps.delivery import selectors, services

CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403
CLOSE_BAD_MESSAGE = 4400


class StreamConsumer(AsyncJsonWebsocketConsumer):
    session_id: int
    user_id: int
    group: str
    epoch: str | None = None
    last_sent: int = 0
    started = False
    closing = False

    async def connect(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        ticket = (query.get("ticket") or [""])[0]
        session = await self._redeem(ticket)
        # Accept, then close with a code: a refused handshake tells the client nothing.
        await self.accept()
        if session is None:
            self.closing = True
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.session_id, self.user_id = session.pk, session.device.user_id
        self.group = services.stream_group(self.user_id)
        self._tasks = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._watch_session())]

    async def disconnect(self, code: int) -> None:
        self.closing = True
        for task in self._tasks:
            task.cancel()
        if self.started:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.closing:
            return
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "pong":
            return
        if kind != "hello" or self.started:
            await self._refuse("expected one hello first")
            return
        epoch, offset = content.get("epoch"), content.get("offset", 0)
        bad_epoch = epoch is not None and not isinstance(epoch, str)
        if bad_epoch or isinstance(offset, bool) or not isinstance(offset, int):
            await self._refuse("hello needs epoch (string or null) and offset (integer)")
            return
        # Join before reading, so an event committed during the replay still wakes this socket.
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.started = True
        if epoch is None:
            # No position yet: the client takes the current one and fetches state over the API.
            current, last = await self._position()
            await self._resync(current, last)
        else:
            self.epoch, self.last_sent = epoch, offset
            await self._catch_up()
        if not self.closing:
            await self.send_json({"type": "ready", "epoch": self.epoch, "offset": self.last_sent})

    async def stream_wake(self, message: dict[str, Any]) -> None:
        if self.started and not self.closing:
            await self._catch_up()

    async def _catch_up(self) -> None:
        """Send everything after the last offset sent, one bounded batch at a time."""
        while not self.closing:
            result = await self._events_after()
            if result is None:
                await self._revoke()
                return
            if result.resync:
                await self._resync(result.epoch, result.offset)
                return
            for event in result.events:
                if self.closing:
                    return
                await self.send_json(selectors.event_message(event))
                self.last_sent = event.offset
            if not result.more:
                return

    async def _resync(self, epoch: str, offset: int) -> None:
        self.epoch, self.last_sent = epoch, offset
        await self.send_json({"type": "resync", "epoch": epoch, "offset": offset})

    async def _refuse(self, message: str) -> None:
        self.closing = True
        await self.send_json({"type": "error", "message": message})
        await self.close(code=CLOSE_BAD_MESSAGE)

    async def _revoke(self) -> None:
        if self.closing:
            return
        self.closing = True
        await self.send_json({"type": "revoked"})
        await self.close(code=CLOSE_REVOKED)

    async def _heartbeat(self) -> None:
        # DELIVERY_HEARTBEAT_SECONDS (25 s): carrier NATs drop idle flows at 30-60 s.
        while not self.closing:
            await asyncio.sleep(settings.DELIVERY_HEARTBEAT_SECONDS)
            if not self.closing:
                await self.send_json({"type": "ping"})

    async def _watch_session(self) -> None:
        while not self.closing:
            await asyncio.sleep(settings.DELIVERY_SESSION_CHECK_SECONDS)
            if not await self._session_live():
                with contextlib.suppress(Exception):
                    await self._revoke()
                return

    @database_sync_to_async
    def _redeem(self, ticket: str) -> DeviceSession | None:
        return services.stream_ticket_redeem(ticket=ticket)

    @database_sync_to_async
    def _position(self) -> tuple[str, int]:
        return services.stream_position(user_id=self.user_id)

    @database_sync_to_async
    def _session_live(self) -> bool:
        return selectors.stream_session_live(session_id=self.session_id)

    @database_sync_to_async
    def _events_after(self) -> selectors.ReplayResult | None:
        # The session is checked with every read: a revoked device gets nothing more, even between checks.
        if not selectors.stream_session_live(session_id=self.session_id):
            return None
        return selectors.events_after(user=self.user_id, epoch=self.epoch, offset=self.last_sent,
                                      limit=settings.DELIVERY_BATCH_SIZE)
