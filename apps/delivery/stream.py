"""The stream runtime of one server process: its sockets, its database threads, its batched reads and writes.

Protocol: docs/delivery.md. The consumer (mobile_api/v1/consumers.py) speaks the
protocol to one socket (hello, ack, send); everything that serves all the sockets
of a process lives here, in one `Hub` per event loop:

- the one registry of the loop's open sockets, by user;
- with Redis, the loop's one wake subscription (apps/delivery/wake.py publishes);
- the session sweep: every socket's session checked in one query;
- the database calls of the sockets, batched: tickets redeemed (and resume tickets
  issued), connections
  recorded and removed, replays read and acks written for many sockets in one
  round trip each (a hello's connection and first replay are one). In a
  reconnect storm (a cell tower comes back) a thousand
  sockets each made seven calls one by one, and the handshakes queued behind
  each other for seconds (bench/reconnect_storm.py); now a call that arrives
  while one of its kind runs joins the next, so a batch grows with the load
  and a lone call runs at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connections

from apps.accounts.models import DeviceSession
from apps.delivery import selectors, services, wake

logger = logging.getLogger(__name__)

# The sockets' reads and writes run on threads of their own, not on the request threads that serve Django's
# views (rtcc_server/asgi.py): the ticket requests of a storm would queue behind them. One
# batch of each kind runs at a time (five kinds), so five threads let them all overlap; they stay within a
# Daphne's connection pool (RTCC_DB_POOL_SIZE, 10).
_DB_THREAD_COUNT = 5
_DB_THREADS = ThreadPoolExecutor(max_workers=_DB_THREAD_COUNT, thread_name_prefix="stream-db")
# A new process waits at most this long for its subscription before it starts replaying anyway.
_SUBSCRIBE_WAIT_SECONDS = 2.0
_RECONNECT_SECONDS = 1.0
# Live state (positions) is sent to this many sockets before the loop runs other work.
_LIVE_YIELD_EVERY = 100
_ACK_RETRY_SECONDS = 1.0
# The senders of pushes whose receipts the loop's acks changed are told at most this often, once for all.
_RECEIPTS_EVERY_SECONDS = 0.5
_SWEEP_CHUNK = 2000  # session ids per sweep query
# Calls per batch: one replay batch is one statement with an OR per socket (SQLite parses it as a tree).
_BATCH_MAX = 100

T = TypeVar("T")
R = TypeVar("R")


def stream_db(func: Callable[..., T]) -> Any:
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


class StreamSocket(Protocol):
    user_id: int
    session_id: int
    epoch: str | None
    last_sent: int
    started: bool
    closing: bool

    async def wake_event(self, epoch: str, offset: int, prefix: str) -> None: ...

    async def wake_event_now(self, epoch: str, offset: int, prefix: str) -> bool: ...

    async def wake_check(self) -> None: ...

    async def wake_live(self, kind: str, batch: Any) -> None: ...


class SocketConsumer(AsyncJsonWebsocketConsumer):
    """Channels' JSON websocket consumer, fitted to the runtime: no channel layer, no per-message hop."""

    # No channel layer: wake-ups come through the hub's one subscription per process, so a socket needs
    # no channel of its own. With channels_redis 4.3 on redis-py 8 each socket's layer receive died every
    # few seconds (a 5 s socket timeout against a 5 s BZPOPMIN), taking the socket with it.
    channel_layer_alias = "stream-sockets-use-no-channel-layer"

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs aclose_old_connections() (a hop to the one database thread) before every handler;
        # here every ORM call goes through stream_db, which closes stale connections itself.
        # Skipping the extra hop matters when 1,000 sockets ack a broadcast at once.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Channels' own also runs aclose_old_connections(), a hop to the one database thread for every socket that
        # closes (a sixth of a reconnect storm's loop time); no socket holds a connection there.
        await self.disconnect(message["code"])
        raise StopConsumer


def _as_is(value: Any, *args: Any, **kwargs: Any) -> Any:
    return value


def autobahn_log_arguments_lazy() -> None:
    """Stop autobahn formatting the arguments of debug lines that are never written.

    Its websocket protocol builds each debug line's arguments before the logger looks at the level: per
    frame sent or received, a qualified name and two values coloured by click (hltype, hlval); per
    connection, a pprint of its forty options. Those ran for every ack and every event of a broadcast.
    The lines keep their values, uncoloured, should debug logging be turned on.
    """
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    for module, names in ((protocol, ("hltype", "hlval", "pformat")), (twisted_websocket, ("hltype", "hlval"))):
        for name in names:
            if not callable(getattr(module, name, None)):
                raise RuntimeError(f"autobahn changed: {module.__name__}.{name} is gone; check "
                                   "apps/delivery/stream.py autobahn_log_arguments_lazy")
            setattr(module, name, _as_is)


class Batched(Generic[T, R]):
    """One kind of database call from many sockets of a loop, made for all of them in one round trip.

    `many` takes the calls' arguments and answers in the same order. One batch runs at a time;
    calls arriving meanwhile wait for the next, so a lone call runs at once.
    """

    def __init__(self, many: Callable[[list[T]], Sequence[R]]) -> None:
        self.many = stream_db(many)
        self.pending: list[tuple[T, asyncio.Future[R]]] = []
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self.pending.append((item, future))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:_BATCH_MAX], self.pending[_BATCH_MAX:]
            try:
                results = await self.many([item for item, _ in batch])
            except Exception as exc:  # each caller sees the failure, as its own call would have
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


def _redeem_many(tickets: list[str]) -> list[DeviceSession | None]:
    return services.stream_tickets_redeem(tickets=tickets)


def _resume_many(sockets: list[tuple[int, str | None]]) -> list[str]:
    """A resume ticket for each (session id, the ticket it replaces): two round trips to the cache for the batch."""
    return services.stream_tickets_issue(session_ids=[session_id for session_id, _ in sockets],
                                         seconds=settings.DELIVERY_RESUME_TICKET_SECONDS,
                                         replacing=[old for _, old in sockets if old])


@dataclass(frozen=True)
class Opened:
    connection_id: int
    first: selectors.ReplayResult | None  # what to send first; None: the session no longer stands


def _hello_many(hellos: list[tuple[int, int, str | None, int]]) -> list[Opened]:
    """The database work of many hellos, (session id, user id, epoch, offset) each, in one round trip: the
    connection recorded, and what to send first: the replay after the position the device kept or, for a
    position this stream no longer has (or none), the current one to resync to (the stream made if new)."""
    ids = services.streams_connected(sockets=[(session_id, user_id) for session_id, user_id, _, _ in hellos])
    replays = selectors.stream_replays(requests=hellos, limit=settings.DELIVERY_BATCH_SIZE)
    opened = []
    for (_, user_id, _, _), connection_id, replay in zip(hellos, ids, replays, strict=True):
        if replay is not None and replay.resync and not replay.epoch:  # the user's first stream
            epoch, offset = services.stream_position(user_id=user_id)
            replay = selectors.ReplayResult(events=[], resync=True, epoch=epoch, offset=offset)
        opened.append(Opened(connection_id, replay))
    return opened


def _disconnected_many(connection_ids: list[int]) -> list[None]:
    services.streams_disconnected(connection_ids=connection_ids)
    return [None] * len(connection_ids)


def _replay_many(requests: list[tuple[int, int, str | None, int]]) -> list[selectors.ReplayResult | None]:
    return selectors.stream_replays(requests=requests, limit=settings.DELIVERY_BATCH_SIZE)


@stream_db
def _ack_many(acks: list[tuple[int, str, int]]) -> set[int]:
    return services.delivery_ack_many(acks=acks)


@stream_db
def _receipts_changed(push_ids: set[int]) -> None:
    services.receipts_changed(push_ids=push_ids)


@stream_db
def _check_many(sockets: list[tuple[int, int]]) -> dict[int, tuple[bool, str | None, int]]:
    return selectors.stream_checks(session_ids=[session_id for session_id, _ in sockets])


class Hub:
    """Everything one event loop (one server process) holds for its stream sockets."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sockets: dict[int, set[StreamSocket]] = {}
        self.listening = asyncio.Event()
        self.listener: asyncio.Task[None] | None = None
        self.sweeper: asyncio.Task[None] | None = None
        self.checks: set[asyncio.Task[None]] = set()
        self.acks: dict[tuple[int, str], int] = {}
        self.ack_writer: asyncio.Task[None] | None = None
        self.receipts: set[int] = set()
        self.receipts_writer: asyncio.Task[None] | None = None
        self.redeem = Batched(_redeem_many)
        self.resume = Batched(_resume_many)
        self.hello = Batched(_hello_many)
        self.disconnected = Batched(_disconnected_many)
        self.replay = Batched(_replay_many)
        self.features: dict[object, Any] = {}
        self.periodic: dict[object, asyncio.Task[None]] = {}
        # Broadcasts of events under way; live state waits while there are any (live_all).
        self.events_sending = 0
        self.events_sent = asyncio.Event()
        self.events_sent.set()
        # Live state not sent yet, by kind, and the one task a kind that sends it (live_send).
        self.live_pending: dict[str, list[dict[str, Any]]] = {}
        self.live_senders: dict[str, asyncio.Task[None]] = {}

    # --- The registry ---

    def add(self, socket: StreamSocket) -> None:
        self.sockets.setdefault(socket.user_id, set()).add(socket)
        if self.sweeper is None or self.sweeper.done():
            self.sweeper = self.loop.create_task(self.sweep())

    def discard(self, socket: StreamSocket) -> bool:
        """Forget the socket; True when it was the loop's last."""
        sockets = self.sockets.get(socket.user_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.sockets[socket.user_id]
        return not self.sockets

    def all_sockets(self) -> list[StreamSocket]:
        return [socket for sockets in self.sockets.values() for socket in sockets]

    def stop(self) -> list[asyncio.Task[None]]:
        stopped = [task for task in (self.listener, self.sweeper, *self.periodic.values()) if task is not None]
        for task in stopped:
            task.cancel()
        return stopped

    # --- What other apps keep per loop for their sockets (positions' intake, live scopes) ---

    def feature(self, key: object, make: Callable[[], T]) -> T:
        """The loop's one `key` object, made on first use; it goes with the hub when the last socket leaves.

        So a socket feature of another app (apps.locations' live positions) keeps no registry of its own.
        """
        found = self.features.get(key)
        if found is None:
            found = self.features[key] = make()
        return found

    def every(self, key: object, seconds: float, work: Callable[[list[StreamSocket]], Any]) -> None:
        """Run `await work(started sockets)` every `seconds` while the loop has sockets; one task per key."""
        running = self.periodic.get(key)
        if running is not None and not running.done():
            return

        async def run() -> None:
            while self.sockets:
                await asyncio.sleep(seconds)
                sockets = [s for s in self.all_sockets() if s.started and not s.closing]
                try:
                    await work(sockets)
                except Exception:  # the next round looks again
                    logger.warning("stream periodic work %r failed; retrying", key, exc_info=True)

        self.periodic[key] = self.loop.create_task(run())

    # --- Wakes ---

    def dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("k")
        if kind == "ev":
            targets = [(socket, epoch, offset) for user_id, (epoch, offset) in message["u"].items()
                       for socket in self.sockets.get(int(user_id), ())]
            if targets:
                # Counted from now, not from when its task first runs: a live pass ahead of it in the loop's
                # queue steps aside at its next yield instead of sending another hundred positions first.
                self.events_sending += 1
                self.events_sent.clear()
                self.loop.create_task(self.wake_all(targets, message["m"])).add_done_callback(self._event_sent)
        elif kind == "live":
            live_kind = message.get("t", "")
            if wake.live_prepare_for(live_kind) is not None and self.sockets:
                self.live_pending.setdefault(live_kind, []).append(message["d"])
                sender = self.live_senders.get(live_kind)
                if sender is None or sender.done():
                    self.live_senders[live_kind] = self.loop.create_task(self.live_send(live_kind))
        elif kind == "check":
            for user_id in message["u"]:
                for socket in self.sockets.get(int(user_id), ()):
                    self._check_soon(socket)

    async def wake_all(self, targets: list[tuple[StreamSocket, str, int]], prefix: str) -> None:
        # One task sends to every socket that can take the event at once; only the others (busy replaying,
        # or behind) get a task of their own. A task per socket cost a third of a 1,000-socket broadcast.
        for socket, epoch, offset in targets:
            try:
                sent = await socket.wake_event_now(epoch, offset, prefix)
            except Disconnected:
                continue  # it closed under us (its disconnect follows): the rest of the broadcast still goes out
            if not sent:
                self.loop.create_task(_quietly(socket.wake_event(epoch, offset, prefix)))

    def _event_sent(self, task: asyncio.Task[None]) -> None:
        # A done callback, so a broadcast that failed or was cancelled before it ran still stops holding live state.
        self.events_sending -= 1
        if not self.events_sending:
            self.events_sent.set()

    async def live_send(self, kind: str) -> None:
        # One pass over the sockets at a time, with everything that came during the last one: a task a message
        # let every pass of the loop send a hundred of each queued message, so each step of an HTTP request
        # (an officer's emergency) waited as long as the queue was deep (bench/avl.py).
        prepare = wake.live_prepare_for(kind)
        while prepare is not None and self.live_pending.get(kind):
            await self.live_all(kind, prepare(self.live_pending.pop(kind)))

    async def live_all(self, kind: str, batch: Any) -> None:
        # The batch was prepared once for every socket, as for events. The loop runs other work every
        # _LIVE_YIELD_EVERY sockets, and an event broadcast goes first: the pass stands aside until it is sent.
        await self.events_sent.wait()
        for count, socket in enumerate([s for sockets in list(self.sockets.values()) for s in sockets], 1):
            await socket.wake_live(kind, batch)
            if count % _LIVE_YIELD_EVERY == 0:
                await asyncio.sleep(0)
                await self.events_sent.wait()

    def check_all(self) -> None:
        for socket in self.all_sockets():
            self._check_soon(socket)

    def _check_soon(self, socket: StreamSocket) -> None:
        task = self.loop.create_task(socket.wake_check())
        self.checks.add(task)
        task.add_done_callback(self.checks.discard)

    async def listen(self) -> None:
        from redis import asyncio as aioredis

        first = True
        while True:
            client = aioredis.from_url(settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=30)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(settings.DELIVERY_WAKE_CHANNEL)
                self.listening.set()
                if not first:
                    # Wakes published while we were cut off are gone: every socket looks at the log.
                    self.check_all()
                first = False
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None:
                        self.dispatch(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must outlive a Redis restart: wait, resubscribe, catch up
                self.listening.clear()
                logger.warning("stream wake subscription lost; retrying", exc_info=True)
                await asyncio.sleep(_RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()

    # --- The session sweep ---

    async def sweep(self) -> None:
        """Every DELIVERY_SESSION_CHECK_SECONDS, every started socket's session and stream in one query."""
        while self.sockets:
            await asyncio.sleep(settings.DELIVERY_SESSION_CHECK_SECONDS)
            sockets = [s for s in self.all_sockets() if s.started and not s.closing]
            verdicts: dict[int, tuple[bool, str | None, int]] = {}
            try:
                for start in range(0, len(sockets), _SWEEP_CHUNK):
                    chunk = sockets[start:start + _SWEEP_CHUNK]
                    verdicts.update(await _check_many([(s.session_id, s.user_id) for s in chunk]))
            except Exception:  # the sweep must outlive a database hiccup; the next one looks again
                logger.warning("stream session sweep failed; retrying", exc_info=True)
                continue
            for socket in sockets:
                live, epoch, last = verdicts.get(socket.session_id, (False, None, 0))
                if not live or (epoch is not None and (epoch != socket.epoch or last > socket.last_sent)):
                    self._check_soon(socket)

    # --- Acks ---

    def ack(self, user_id: int, epoch: str, offset: int) -> None:
        """Mark delivered up to `offset`: written with the loop's other acks, the highest per user and epoch.

        An ack that is never written (the process dies first) costs a push alert after the ack
        timeout, never an event.
        """
        key = (user_id, epoch)
        if offset > self.acks.get(key, 0):
            self.acks[key] = offset
        if self.ack_writer is None or self.ack_writer.done():
            self.ack_writer = self.loop.create_task(self._write_acks())

    async def _write_acks(self) -> None:
        while self.acks:
            batch, self.acks = self.acks, {}
            try:
                changed = await _ack_many([(user_id, epoch, offset) for (user_id, epoch), offset in batch.items()])
            except Exception:
                logger.warning("stream acks not written; retrying", exc_info=True)
                for key, offset in batch.items():
                    if offset > self.acks.get(key, 0):
                        self.acks[key] = offset
                await asyncio.sleep(_ACK_RETRY_SECONDS)
                continue
            self.receipts |= changed
            if self.receipts and (self.receipts_writer is None or self.receipts_writer.done()):
                self.receipts_writer = self.loop.create_task(self._write_receipts())

    async def _write_receipts(self) -> None:
        # The consoles redraw a push's receipts on `receipt.changed`. The first change is told at once; what the
        # acks change in the next half second is told together after it, so the acks of a whole broadcast are
        # one event per push per half second, not one per ack batch, and a lone ack is told without delay.
        while self.receipts:
            batch, self.receipts = self.receipts, set()
            try:
                await _receipts_changed(batch)
            except Exception:  # the acks stand; a console that missed this redraws on its next event or reload
                logger.warning("receipt changes not announced", exc_info=True)
            await asyncio.sleep(_RECEIPTS_EVERY_SECONDS)


async def _quietly(send: Any) -> None:
    """A send to one socket that closes meanwhile ends there; its disconnect cleans up (no task error logged)."""
    with contextlib.suppress(Disconnected):
        await send


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_hubs_lock = threading.Lock()


def hub() -> Hub:
    """This event loop's hub, made on first use."""
    loop = asyncio.get_running_loop()
    with _hubs_lock:
        found = _hubs.get(loop)
        if found is None:
            found = _hubs[loop] = Hub(loop)
    return found


def hubs() -> list[Hub]:
    with _hubs_lock:
        return list(_hubs.values())


async def join(socket: StreamSocket) -> None:
    """Register the socket for wakes and sweeps; with Redis, returns once this process is subscribed (or 2 s)."""
    current = hub()
    current.add(socket)
    if settings.REDIS_URL:
        if current.listener is None:
            current.listener = current.loop.create_task(current.listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(current.listening.wait(), _SUBSCRIBE_WAIT_SECONDS)


async def leave(socket: StreamSocket) -> None:
    loop = asyncio.get_running_loop()
    current = _hubs.get(loop)
    if current is None or not current.discard(socket):
        return
    # The last socket of this loop: drop the subscription and the sweep (and the hub, whose loop may be
    # ending); batches and acks in flight finish on their own.
    with _hubs_lock:
        if _hubs.get(loop) is current:
            del _hubs[loop]
    for task in current.stop():
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
