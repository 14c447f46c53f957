"""The event stream websocket, /ws/v1/stream. Protocol: docs/delivery.md.

Thin: redeem the ticket, then read the log through apps.delivery and forward.
The database is the record; a wake-up (apps/delivery/wake.py) carries the next
event so an up-to-date socket sends it without a query, and any other socket
reads the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connections

from apps.accounts.models import DeviceSession
from apps.common.errors import DomainError
from apps.delivery import selectors, services, wake
from apps.locations import services as locations
from apps.locations.live import LIVE_KIND, PositionScope
from mobile_api.v1.stream_positions import LiveView, PositionIntake, Scopes, scopes_with_points

logger = logging.getLogger(__name__)

# The sockets' reads and writes run on threads of their own. Channels' database_sync_to_async runs every
# call of the process on the one thread that also serves Django's views: in a reconnect storm (a cell
# tower comes back) 500 sockets each redeeming a ticket, recording the socket and replaying queued behind
# one another and behind the ticket requests, and handshakes timed out (bench/reconnect_storm.py). Each
# socket still makes its calls one at a time; these threads only let different sockets overlap. Four per
# process keep within a Daphne's connection pool (RTCC_DB_POOL_SIZE).
_DB_THREAD_COUNT = 4
_DB_THREADS = ThreadPoolExecutor(max_workers=_DB_THREAD_COUNT, thread_name_prefix="stream-db")


def _stream_db(func: Any) -> Any:
    """Like channels' database_sync_to_async (stale connections closed around the call), on _DB_THREADS.

    SQLite (the embedded demo and tests) keeps the one thread: its connections lock whole tables
    against each other, and one process with a handful of sockets has no storm to spread.
    """
    if connections["default"].vendor != "postgresql":
        return DatabaseSyncToAsync(func)
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_DB_THREADS)


def stream_db_close() -> None:
    """Close the database connections the stream threads hold (the end of a test run drops its database)."""
    # One task per thread: each waits for the others, so no thread takes two.
    barrier = threading.Barrier(_DB_THREAD_COUNT)

    def close() -> None:
        barrier.wait(timeout=10)
        connections.close_all()

    for future in [_DB_THREADS.submit(close) for _ in range(_DB_THREAD_COUNT)]:
        future.result(timeout=20)


CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403
CLOSE_BAD_MESSAGE = 4400


class StreamConsumer(AsyncJsonWebsocketConsumer):
    # No channel layer: wake-ups come through apps.delivery.wake (one subscription per process), so a
    # socket needs no channel of its own. With channels_redis 4.3 on redis-py 8 each socket's layer
    # receive died every few seconds (a 5 s socket timeout against a 5 s BZPOPMIN), taking the socket with it.
    channel_layer_alias = "stream-sockets-use-no-channel-layer"
    session_id: int
    user_id: int
    epoch: str | None = None
    last_sent: int = 0
    started = False
    closing = False
    connection_id: int | None = None

    async def connect(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._live = LiveView(lambda text: self.send(text_data=text))
        # One sender at a time: a wake, a replay and a periodic check never interleave their events.
        self._send_lock = asyncio.Lock()
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
        self._tasks = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._watch_session())]

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs aclose_old_connections() (a hop to the one database thread) before every handler;
        # here every ORM call goes through _stream_db, which closes stale connections itself.
        # Skipping the extra hop matters when 1,000 sockets ack a broadcast at once.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        for task in self._tasks:
            task.cancel()
        if self.started:
            _Sweep.leave(self)
            Scopes.leave(self._live)
            await wake.leave(self)
        if self.connection_id is not None:
            await self._disconnected(self.connection_id)
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
        epoch, offset = content.get("epoch"), content.get("offset", 0)
        bad_epoch = epoch is not None and not isinstance(epoch, str)
        if bad_epoch or isinstance(offset, bool) or not isinstance(offset, int):
            await self._refuse("hello needs epoch (string or null) and offset (integer)")
            return
        # Under the send lock from here to "ready": a wake-up or a periodic check that comes meanwhile waits,
        # then finds the position the replay reached, never the empty one before it.
        async with self._send_lock:
            self.started = True
            if epoch is not None:
                self.epoch, self.last_sent = epoch, offset
            _Sweep.join(self)
            self.connection_id = await self._connected()
            # Listen before reading, so an event committed during the replay still wakes this socket.
            await wake.join(self)
            self._live.set_scope(*(await self._live_scope()))
            Scopes.join(self._live, self.user_id, _live_scopes)
            if epoch is None:
                # No position yet: the client takes the current one and fetches state over the API.
                current, last = await self._position()
                await self._resync(current, last)
            else:
                if offset > 0:
                    # The hello says the device stored everything up to there: a cumulative ack (the one it
                    # meant to send may have been lost with the old socket).
                    _Acks.add(self.user_id, epoch, offset)
                await self._catch_up()
            if not self.closing:
                await self.send_json({"type": "ready", "epoch": self.epoch, "offset": self.last_sent})

    async def wake_event(self, epoch: str, offset: int, prefix: str) -> None:
        """A new event for this user: send it as it came if it is the next one, else read the log."""
        if not self.started or self.closing:
            return
        async with self._send_lock:
            if self.closing:
                return
            if epoch == self.epoch and offset == self.last_sent + 1:
                await self.send(text_data=wake.event_text(prefix, epoch, offset))
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
        await self.send(text_data=wake.event_text(prefix, epoch, offset))
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
            PositionIntake.add(report, _positions_write)

    async def _receive_ack(self, content: dict[str, Any]) -> None:
        offset = content.get("offset")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            await self._refuse("ack needs an integer offset")
            return
        if self.epoch is not None:
            # Only what was sent on this socket counts as delivered, whatever the client claims.
            _Acks.add(self.user_id, self.epoch, min(offset, self.last_sent))

    async def _catch_up(self) -> None:
        """Send everything after the last offset sent, one bounded batch at a time (hold the send lock)."""
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
        # Until its hello a socket checks its own session; after it, _Sweep checks every socket of the
        # process in one query.
        while not self.closing and not self.started:
            await asyncio.sleep(settings.DELIVERY_SESSION_CHECK_SECONDS)
            if self.started or self.closing:
                return
            if not await self._session_live():
                with contextlib.suppress(Exception):
                    await self._revoke()
                return

    @_stream_db
    def _redeem(self, ticket: str) -> DeviceSession | None:
        return services.stream_ticket_redeem(ticket=ticket)

    @_stream_db
    def _position(self) -> tuple[str, int]:
        return services.stream_position(user_id=self.user_id)

    @_stream_db
    def _session_live(self) -> bool:
        return selectors.stream_session_live(session_id=self.session_id)

    @_stream_db
    def _check(self) -> tuple[bool, str | None, int]:
        return selectors.stream_check(session_id=self.session_id, user_id=self.user_id)

    @_stream_db
    def _connected(self) -> int:
        return services.stream_connected(session_id=self.session_id, user_id=self.user_id)

    @_stream_db
    def _disconnected(self, connection_id: int) -> None:
        services.stream_disconnected(connection_id=connection_id)

    @_stream_db
    def _live_scope(self) -> tuple[PositionScope | None, tuple[float, float] | None]:
        return scopes_with_points([self.user_id])[self.user_id]

    @_stream_db
    def _events_after(self) -> selectors.ReplayResult | None:
        # The session is checked with every read: a revoked device gets nothing more, even between checks.
        if not selectors.stream_session_live(session_id=self.session_id):
            return None
        return selectors.events_after(user=self.user_id, epoch=self.epoch, offset=self.last_sent,
                                      limit=settings.DELIVERY_BATCH_SIZE)


@_stream_db
def _positions_write(reports: list[locations.ReportIn]) -> None:
    locations.positions_record(reports=reports)


@_stream_db
def _live_scopes(user_ids: list[int], located: set[int]) -> dict[int, tuple[PositionScope | None,
                                                                           tuple[float, float] | None]]:
    return scopes_with_points(user_ids, located)


@_stream_db
def _ack_many(acks: list[tuple[int, str, int]]) -> None:
    services.delivery_ack_many(acks=acks)


class _Acks:
    """The delivered acks of every socket of one event loop (one server process), written together.

    Each socket wrote its own before: a broadcast to 1,000 sockets brought 1,000 UPDATEs onto the
    one database thread, and the next handshakes and replays waited behind them. One write runs at a
    time; acks arriving meanwhile merge (the highest offset per user and epoch) into the next, so the
    batch grows with the load and a lone ack is written at once. An ack that is never written (the
    process dies first) costs a push alert after the ack timeout, never an event.
    """

    _by_loop: dict[asyncio.AbstractEventLoop, _Acks] = {}
    _RETRY_SECONDS = 1.0

    def __init__(self) -> None:
        self.pending: dict[tuple[int, str], int] = {}
        self.task: asyncio.Task[None] | None = None

    @classmethod
    def add(cls, user_id: int, epoch: str, offset: int) -> None:
        loop = asyncio.get_running_loop()
        acks = cls._by_loop.get(loop)
        if acks is None:
            acks = cls._by_loop[loop] = cls()
        key = (user_id, epoch)
        if offset > acks.pending.get(key, 0):
            acks.pending[key] = offset
        if acks.task is None or acks.task.done():
            acks.task = loop.create_task(acks.run(loop))

    async def run(self, loop: asyncio.AbstractEventLoop) -> None:
        while self.pending:
            batch, self.pending = self.pending, {}
            try:
                await _ack_many([(user_id, epoch, offset) for (user_id, epoch), offset in batch.items()])
            except Exception:  # a database hiccup: keep the acks (merged with newer ones) and try again
                logger.warning("stream acks not written; retrying", exc_info=True)
                for key, offset in batch.items():
                    self.pending[key] = max(offset, self.pending.get(key, 0))
                await asyncio.sleep(self._RETRY_SECONDS)
        # Nothing pending and no await since the check: no ack can slip in between.
        if self._by_loop.get(loop) is self:
            del self._by_loop[loop]


@_stream_db
def _check_many(sockets: list[tuple[int, int]]) -> dict[int, tuple[bool, str | None, int]]:
    return selectors.stream_checks(session_ids=[session_id for session_id, _ in sockets])


class _Sweep:
    """The periodic check of every started socket of one event loop (one server process), in one query.

    Each socket checked itself every 3 s before: with 500 sockets that was 170 queries a second
    queued on the one database thread that also redeems tickets and records acks, and handshakes
    timed out behind it. Only the sockets whose session ended, or whose stream moved past what they
    sent (a lost wake-up), then run their own check.
    """

    _by_loop: dict[asyncio.AbstractEventLoop, _Sweep] = {}
    _CHUNK = 2000  # session ids per query

    def __init__(self) -> None:
        self.sockets: set[StreamConsumer] = set()
        self.task: asyncio.Task[None] | None = None
        self.checks: set[asyncio.Task[None]] = set()

    @classmethod
    def join(cls, socket: StreamConsumer) -> None:
        loop = asyncio.get_running_loop()
        sweep = cls._by_loop.get(loop)
        if sweep is None:
            sweep = cls._by_loop[loop] = cls()
        sweep.sockets.add(socket)
        if sweep.task is None or sweep.task.done():
            sweep.task = loop.create_task(sweep.run())

    @classmethod
    def leave(cls, socket: StreamConsumer) -> None:
        loop = asyncio.get_running_loop()
        sweep = cls._by_loop.get(loop)
        if sweep is None:
            return
        sweep.sockets.discard(socket)
        if not sweep.sockets:
            del cls._by_loop[loop]
            if sweep.task is not None:
                sweep.task.cancel()

    async def run(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.DELIVERY_SESSION_CHECK_SECONDS)
            sockets = [s for s in self.sockets if s.started and not s.closing]
            verdicts: dict[int, tuple[bool, str | None, int]] = {}
            try:
                for start in range(0, len(sockets), self._CHUNK):
                    chunk = sockets[start:start + self._CHUNK]
                    verdicts.update(await _check_many([(s.session_id, s.user_id) for s in chunk]))
            except Exception:  # the sweep must outlive a database hiccup; the next one looks again
                logger.warning("stream session sweep failed; retrying", exc_info=True)
                continue
            for socket in sockets:
                live, epoch, last = verdicts.get(socket.session_id, (False, None, 0))
                if not live or (epoch is not None and (epoch != socket.epoch or last > socket.last_sent)):
                    task = asyncio.create_task(socket.wake_check())
                    self.checks.add(task)
                    task.add_done_callback(self.checks.discard)
