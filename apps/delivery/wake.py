"""Waking open stream sockets after an event is stored. Protocol: docs/delivery.md ("Waking").

The event log in the database is the record; this module only tells sockets to
look. One wake message per append, however many recipients it has:

- with Redis, one PUBLISH on one channel; each server process holds ONE
  subscription for all its sockets and hands the message to the local sockets
  of the users it names (stock `group_send` costs a Redis round trip per
  recipient: 0.9 s p95 for 1,000 recipients on this hardware, against tens of
  milliseconds this way);
- without Redis (the embedded demo and tests: one process), straight to the
  local sockets through their event loops.

A wake carries the event itself (one encoded prefix shared by all recipients,
plus each user's epoch and offset), so a socket that is up to date sends it
without reading the database; any socket that is not (it missed a wake, it is
replaying) reads the log instead. A lost wake costs latency, never an event:
every socket also looks at the log on its periodic session check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

# Recipients named per wake message: 5,000 ids keep one message under ~150 KB.
_USERS_PER_MESSAGE = 5000
# A new process waits at most this long for its subscription before it starts replaying anyway.
_SUBSCRIBE_WAIT_SECONDS = 2.0
_RECONNECT_SECONDS = 1.0
_LIVE_YIELD_EVERY = 100


class StreamSocket(Protocol):
    user_id: int

    async def wake_event(self, epoch: str, offset: int, prefix: str) -> None: ...

    async def wake_event_now(self, epoch: str, offset: int, prefix: str) -> bool: ...

    async def wake_check(self) -> None: ...

    async def wake_live(self, kind: str, batch: Any) -> None: ...


def event_prefix(*, type: str, op: str, object_type: str, object_id: str, payload: dict[str, Any]) -> str:
    """The event message up to its per-user fields, encoded once for every recipient."""
    body = json.dumps({"type": type, "op": op, "object_type": object_type, "object_id": object_id,
                       "payload": payload}, separators=(",", ":"))
    return body[:-1]


def event_text(prefix: str, epoch: str, offset: int) -> str:
    return f'{prefix},"offset":{offset},"epoch":"{epoch}"}}'


class _Hub:
    """The sockets of one event loop (one server process) and, with Redis, its one subscription."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sockets: dict[int, set[StreamSocket]] = {}
        self.listening = asyncio.Event()
        self.listener: asyncio.Task[None] | None = None

    def dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("k")
        if kind == "ev":
            targets = [(socket, epoch, offset) for user_id, (epoch, offset) in message["u"].items()
                       for socket in self.sockets.get(int(user_id), ())]
            if targets:
                self.loop.create_task(self.wake_all(targets, message["m"]))
        elif kind == "live":
            prepare = _live_prepare.get(message.get("t", ""))
            if prepare is not None and self.sockets:
                self.loop.create_task(self.live_all(message["t"], prepare(message["d"])))
        elif kind == "check":
            for user_id in message["u"]:
                for socket in self.sockets.get(int(user_id), ()):
                    self.loop.create_task(socket.wake_check())

    async def wake_all(self, targets: list[tuple[StreamSocket, str, int]], prefix: str) -> None:
        # One task sends to every socket that can take the event at once; only the others (busy replaying,
        # or behind) get a task of their own. A task per socket cost a third of a 1,000-socket broadcast.
        for socket, epoch, offset in targets:
            if not await socket.wake_event_now(epoch, offset, prefix):
                self.loop.create_task(socket.wake_event(epoch, offset, prefix))

    async def live_all(self, kind: str, batch: Any) -> None:
        # One task for the whole process, as for events: the batch was prepared once for every socket. It lets
        # the loop run every _LIVE_YIELD_EVERY sockets, so an event (an officer's emergency) is not held behind
        # a city's positions.
        for count, socket in enumerate([s for sockets in list(self.sockets.values()) for s in sockets], 1):
            await socket.wake_live(kind, batch)
            if count % _LIVE_YIELD_EVERY == 0:
                await asyncio.sleep(0)

    def check_all(self) -> None:
        for sockets in self.sockets.values():
            for socket in sockets:
                self.loop.create_task(socket.wake_check())

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


_hubs: dict[asyncio.AbstractEventLoop, _Hub] = {}
_hubs_lock = threading.Lock()


async def join(socket: StreamSocket) -> None:
    """Start waking this socket; with Redis, returns once this process is subscribed (or 2 s passed)."""
    loop = asyncio.get_running_loop()
    with _hubs_lock:
        hub = _hubs.get(loop)
        if hub is None:
            hub = _hubs[loop] = _Hub(loop)
    hub.sockets.setdefault(socket.user_id, set()).add(socket)
    if settings.REDIS_URL:
        if hub.listener is None:
            hub.listener = loop.create_task(hub.listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hub.listening.wait(), _SUBSCRIBE_WAIT_SECONDS)


async def leave(socket: StreamSocket) -> None:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        return
    sockets = hub.sockets.get(socket.user_id)
    if sockets is not None:
        sockets.discard(socket)
        if not sockets:
            del hub.sockets[socket.user_id]
    if not hub.sockets:
        # The last socket of this loop: drop the subscription (and the hub, whose loop may be ending).
        with _hubs_lock:
            _hubs.pop(loop, None)
        if hub.listener is not None:
            hub.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await hub.listener


_redis_client: Any = None


def _publish_redis(message: dict[str, Any]) -> None:
    global _redis_client
    import redis

    if _redis_client is None:
        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    _redis_client.publish(settings.DELIVERY_WAKE_CHANNEL, json.dumps(message, separators=(",", ":")))


def _publish_local(message: dict[str, Any]) -> None:
    with _hubs_lock:
        hubs = list(_hubs.values())
    for hub in hubs:
        if hub.loop.is_closed():
            continue
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            hub.loop.call_soon_threadsafe(hub.dispatch, message)


def publish(message: dict[str, Any]) -> None:
    """Send one wake to every server process. Never raises: the log already holds what matters."""
    try:
        if settings.REDIS_URL:
            _publish_redis(message)
        else:
            _publish_local(message)
    except Exception:
        logger.warning("stream wake not published; sockets will find the events on their next check",
                       exc_info=True)


def wake_events(*, positions: dict[int, tuple[str, int]], prefix: str) -> None:
    """Wake the sockets of these users for the event at (epoch, offset) each."""
    items = list(positions.items())
    for start in range(0, len(items), _USERS_PER_MESSAGE):
        chunk = items[start:start + _USERS_PER_MESSAGE]
        publish({"k": "ev", "m": prefix, "u": {str(uid): [epoch, offset] for uid, (epoch, offset) in chunk}})


# Live state (unit positions): not events of the log, never replayed; a kind's owner registers how one
# message is prepared once per process (decoded, indexed) before every local socket filters it.
_live_prepare: dict[str, Callable[[dict[str, Any]], Any]] = {}


def live_prepare_register(kind: str, prepare: Callable[[dict[str, Any]], Any]) -> None:
    _live_prepare[kind] = prepare


def live_kinds() -> frozenset[str]:
    """Message types that live state takes on the socket: no event may take one."""
    return frozenset(_live_prepare)


def live_publish(*, kind: str, data: dict[str, Any]) -> None:
    """Hand live state to every server process's sockets, each deciding what its user may see."""
    publish({"k": "live", "t": kind, "d": data})


def wake_check(*, user_ids: list[int]) -> None:
    """Make these users' sockets re-check their sessions now (one was revoked, disabled, ...)."""
    publish({"k": "check", "u": user_ids})
