"""The event stream websocket, /ws/v1/stream. Protocol: docs/delivery.md.

Thin: redeem the ticket, then read the log through apps.delivery and forward.
The database is the record; a wake-up (apps/delivery/wake.py) carries the next
event so an up-to-date socket sends it without a query, and any other socket
reads the log. What serves every socket of the process (the registry, the wake
subscription, the session sweep, the batched database calls) is the stream
runtime, apps/delivery/stream.py; this holds one socket's hello, acks and sends.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs

from autobahn.exception import Disconnected
from django.conf import settings

from apps.common.errors import DomainError, Unavailable
from apps.delivery import selectors, stream, wire
from apps.delivery.stream import stream_db
from apps.locations import services as locations
from apps.locations.live import LIVE_KIND
from mobile_api.v1.stream_positions import (
    LiveView,
    PositionIntake,
    ScopeAndPoint,
    live_scopes_refresh,
    scopes_with_points,
)


class StreamConsumer(stream.SocketConsumer):
    session_id: int
    user_id: int
    epoch: str | None = None
    last_sent: int = 0
    started = False
    closing = False
    connection_id: int | None = None
    resume = False  # the hello asked for a ticket for the next socket
    resume_ticket: str | None = None  # the last one handed over, replaced by the next

    async def connect(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._live = LiveView(lambda text: self.send(text_data=text))
        # One sender at a time: a wake, a replay and a periodic check never interleave their events.
        self._send_lock = asyncio.Lock()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        ticket = (query.get("ticket") or [""])[0]
        # Accept first, then redeem, then close with a code if the ticket is no good: a refused handshake tells
        # the client nothing, and a handshake held open for the redeem failed at Daphne's 5 s handshake limit in
        # a reconnect storm, so each phone came back with a new ticket and the storm fed itself
        # (bench/reconnect_storm.py). The hello that follows waits for this: Channels hands a consumer its
        # messages one at a time.
        await self.accept()
        session = await stream.hub().redeem(ticket)
        if session is None:
            self.closing = True
            await self.close(code=wire.CLOSE_UNAUTHENTICATED)
            return
        self.session_id, self.user_id = session.pk, session.device.user_id
        self._tasks = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._watch_session())]

    async def disconnect(self, code: int) -> None:
        self.closing = True
        for task in self._tasks:
            task.cancel()
        if self.started:
            self._live.close()
            await stream.leave(self)
        if self.connection_id is not None:
            await stream.hub().disconnected(self.connection_id)
            self.connection_id = None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.closing:
            return
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "pong":
            return
        if kind == "ack" and self.started:
            await self._receive_ack(content)
            return
        if kind == "position" and self.started:
            await self._receive_position(content)
            return
        if kind != "hello" or self.started:
            await self._refuse("expected one hello first")
            return
        epoch, offset, resume = content.get("epoch"), content.get("offset", 0), content.get("resume", False)
        bad_epoch = epoch is not None and not isinstance(epoch, str)
        if bad_epoch or isinstance(offset, bool) or not isinstance(offset, int) or not isinstance(resume, bool):
            await self._refuse("hello needs epoch (string or null), offset (integer) and resume (boolean, optional)")
            return
        # Under the send lock from here to "ready": a wake-up or a periodic check that comes meanwhile waits,
        # then finds the position the replay reached, never the empty one before it.
        async with self._send_lock:
            self.started = True
            if epoch is not None:
                self.epoch, self.last_sent = epoch, offset
            # Listen before reading, so an event committed during the replay still wakes this socket.
            await stream.join(self)
            hub = stream.hub()
            # The hello's two reads in flight together, each batched with the other sockets' of the process.
            opened, scope = await asyncio.gather(
                hub.hello((self.session_id, self.user_id, epoch, offset)),
                hub.feature(_live_scope_many, lambda: stream.Batched(_live_scope_many))(self.user_id))
            self.connection_id = opened.connection_id
            self._live.set_scope(*scope)
            hub.every(_live_scopes_round, settings.LOCATIONS_SCOPE_REFRESH_SECONDS, _live_scopes_round)
            if epoch is not None and offset > 0:
                # The hello says the device stored everything up to there: a cumulative ack (the one it
                # meant to send may have been lost with the old socket).
                hub.ack(self.user_id, epoch, offset)
            # No position (or one this stream no longer has): a resync, and the client fetches state over the API.
            if await self._send_replay(opened.first):
                await self._catch_up()
            if not self.closing:
                await self.send(text_data=wire.position_text("ready", self.epoch or "", self.last_sent))
        if resume and not self.closing:
            self.resume = True
            await self.send_resume_ticket()
            hub.every(_resume_round, settings.DELIVERY_RESUME_TICKET_SECONDS / 2, _resume_round)

    async def send_resume_ticket(self) -> None:
        """A ticket for this session's next socket, handed over this one; it replaces the last one handed over.

        A phone that drops comes back with it at once, without a ticket request over HTTP (in a reconnect
        storm that request was most of the wait: bench/reconnect_storm.py). Sent after "ready", never before.
        """
        try:
            ticket = await stream.hub().resume((self.session_id, self.resume_ticket))
        except Unavailable:
            return  # the cache is away: the phone asks over HTTP next time, as it would without one
        self.resume_ticket = ticket
        if not self.closing:
            await self.send(text_data=wire.control_text(
                "ticket", ticket=ticket, expires_in=settings.DELIVERY_RESUME_TICKET_SECONDS))

    async def wake_event(self, epoch: str, offset: int, prefix: str) -> None:
        """A new event for this user: send it as it came if it is the next one, else read the log."""
        if not self.started or self.closing:
            return
        async with self._send_lock:
            if self.closing:
                return
            if epoch == self.epoch and offset == self.last_sent + 1:
                await self.send(text_data=wire.event_text(prefix, epoch, offset))
                self.last_sent = offset
            elif epoch != self.epoch or offset > self.last_sent:
                await self._catch_up()

    async def wake_event_now(self, epoch: str, offset: int, prefix: str) -> bool:
        """Send the event if it is the next one and nothing else is sending; False to leave it to wake_event.

        Never waits, so one task can serve every socket of a broadcast in turn. It takes no lock:
        acquiring a free lock still queues behind a waiter that was woken but has not run yet, and by
        the time this ran again that waiter had sent further, so the event went out a second time
        (bench/reconnect_storm.py). Nothing here suspends between the check and the send (Daphne's
        send hands the frame to the transport at once), and the position moves before the send, so a
        sender that runs next starts after this event.
        """
        if (not self.started or self.closing or self._send_lock.locked() or epoch != self.epoch
                or offset != self.last_sent + 1):
            return False
        self.last_sent = offset
        await self.send(text_data=wire.event_text(prefix, epoch, offset))
        return True

    async def wake_check(self) -> None:
        """Re-check the session now, and pick up anything a lost wake-up left behind."""
        if not self.started or self.closing:
            return
        # Under the send lock: a wake-up that arrives while the check runs waits for its verdict.
        async with self._send_lock:
            live, epoch, last = await self._check()
            if not live:
                with contextlib.suppress(Exception):
                    await self._revoke()
                return
            if epoch is not None and (epoch != self.epoch or last > self.last_sent):
                await self._catch_up()

    async def wake_live(self, kind: str, batch: Any) -> None:
        """Live state (unit positions): what this user may see of it, at most one a second per unit."""
        if kind == LIVE_KIND and self.started and not self.closing:
            await self._live.offer(batch)

    async def _receive_position(self, content: dict[str, Any]) -> None:
        # A bad fix is answered and the socket stays: an officer's stream must not drop over a GPS glitch.
        try:
            report = self._live.report(user_id=self.user_id, content=content)
        except DomainError as exc:
            await self.send_json({"type": "error", "code": exc.code, "message": exc.message, "fields": exc.fields})
            return
        if report is not None:
            stream.hub().feature(PositionIntake, lambda: PositionIntake(_positions_write)).add(report)

    async def _receive_ack(self, content: dict[str, Any]) -> None:
        offset = content.get("offset")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            await self._refuse("ack needs an integer offset")
            return
        if self.epoch is not None:
            # Only what was sent on this socket counts as delivered, whatever the client claims.
            stream.hub().ack(self.user_id, self.epoch, min(offset, self.last_sent))

    async def _catch_up(self) -> None:
        """Send everything after the last offset sent, one bounded batch at a time (hold the send lock)."""
        while not self.closing:
            # The session is checked with every read: a revoked device gets nothing more, even between checks.
            result = await stream.hub().replay((self.session_id, self.user_id, self.epoch, self.last_sent))
            if not await self._send_replay(result):
                return

    async def _send_replay(self, result: selectors.ReplayResult | None) -> bool:
        """Send one batch read from the log (a revoked session, a resync, or events); True when more follow."""
        if result is None:
            await self._revoke()
            return False
        if result.resync:
            await self._resync(result.epoch, result.offset)
            return False
        for event in result.events:
            if self.closing:
                return False
            await self.send(text_data=wire.event_frame(event))
            self.last_sent = event.offset
        return result.more and not self.closing

    async def _resync(self, epoch: str, offset: int) -> None:
        self.epoch, self.last_sent = epoch, offset
        await self.send(text_data=wire.position_text("resync", epoch, offset))

    async def _refuse(self, message: str) -> None:
        self.closing = True
        await self.send(text_data=wire.control_text("error", message=message))
        await self.close(code=wire.CLOSE_BAD_MESSAGE)

    async def _revoke(self) -> None:
        if self.closing:
            return
        self.closing = True
        await self.send(text_data=wire.control_text("revoked"))
        await self.close(code=wire.CLOSE_REVOKED)

    async def _heartbeat(self) -> None:
        # DELIVERY_HEARTBEAT_SECONDS (25 s): carrier NATs drop idle flows at 30-60 s.
        while not self.closing:
            await asyncio.sleep(settings.DELIVERY_HEARTBEAT_SECONDS)
            if not self.closing:
                await self.send(text_data=wire.control_text("ping"))

    async def _watch_session(self) -> None:
        # Until its hello a socket checks its own session; after it, the runtime's sweep checks every socket
        # of the process in one query.
        while not self.closing and not self.started:
            await asyncio.sleep(settings.DELIVERY_SESSION_CHECK_SECONDS)
            if self.started or self.closing:
                return
            if not await self._session_live():
                with contextlib.suppress(Exception):
                    await self._revoke()
                return

    @stream_db
    def _session_live(self) -> bool:
        return selectors.stream_session_live(session_id=self.session_id)

    @stream_db
    def _check(self) -> tuple[bool, str | None, int]:
        return selectors.stream_check(session_id=self.session_id, user_id=self.user_id)


@stream_db
def _positions_write(reports: list[locations.ReportIn]) -> None:
    locations.positions_record(reports=reports)


def _live_scope_many(user_ids: list[int]) -> list[ScopeAndPoint]:
    # The hellos of a reconnect storm read their scopes in one round trip (stream.Batched runs it on the threads).
    found = scopes_with_points(user_ids)
    return [found[user_id] for user_id in user_ids]


@stream_db
def _live_scopes(user_ids: list[int], located: set[int]) -> dict[int, ScopeAndPoint]:
    return scopes_with_points(user_ids, located)


async def _resume_round(sockets: list[stream.StreamSocket]) -> None:
    # Every socket's new ticket before its last one expires, the whole loop's in a few round trips (Batched).
    async def one(socket: StreamConsumer) -> None:
        with contextlib.suppress(Disconnected):  # it closed meanwhile; anything else reaches the round's log
            await socket.send_resume_ticket()

    await asyncio.gather(*(one(s) for s in sockets if isinstance(s, StreamConsumer) and s.resume))


async def _live_scopes_round(sockets: list[stream.StreamSocket]) -> None:
    views = {s._live: s.user_id for s in sockets if isinstance(s, StreamConsumer)}
    if views:
        await live_scopes_refresh(views, _live_scopes)
