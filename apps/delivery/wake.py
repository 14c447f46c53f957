"""Waking open stream sockets after an event is stored. Protocol: docs/delivery.md ("Waking").

The event log in the database is the record; this module only tells sockets to
look. One wake message per append, however many recipients it has:

- with Redis, one PUBLISH on one channel; each server process holds ONE
  subscription for all its sockets (the hub of apps/delivery/stream.py) and hands the message to the local sockets
  of the users it names (stock `group_send` costs a Redis round trip per
  recipient: 0.9 s p95 for 1,000 recipients on this hardware, against tens of
  milliseconds this way);
- without Redis (the embedded demo and tests: one process), straight to the
  local sockets through their event loops.

A wake carries the event itself (one prefix shared by all recipients, encoded
by apps/delivery/wire.py, plus each user's epoch and offset), so a socket that
is up to date sends it without reading the database; any socket that is not (it missed a wake, it is
replaying) reads the log instead. A lost wake costs latency, never an event:
every socket also looks at the log on its periodic session check.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# Recipients named per wake message: 5,000 ids keep one message under ~150 KB.
_USERS_PER_MESSAGE = 5000


_redis_client: Any = None


def _publish_redis(message: dict[str, Any]) -> None:
    global _redis_client
    import redis

    if _redis_client is None:
        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    _redis_client.publish(settings.DELIVERY_WAKE_CHANNEL, json.dumps(message, separators=(",", ":")))


def _publish_local(message: dict[str, Any]) -> None:
    from apps.delivery import stream  # the runtime's sockets live in server processes, not in the writers

    for hub in stream.hubs():
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


# Live state (unit positions): not events of the log, never replayed; a kind's owner registers how messages
# are prepared once per process (decoded, indexed) before every local socket filters them. It is given every
# message of the kind that came while the last was being sent, oldest first, as one: a process that fell
# behind sends the newest state in one pass over its sockets, not one pass per message.
_live_prepare: dict[str, Callable[[list[dict[str, Any]]], Any]] = {}


def live_prepare_register(kind: str, prepare: Callable[[list[dict[str, Any]]], Any]) -> None:
    _live_prepare[kind] = prepare


def live_prepare_for(kind: str) -> Callable[[list[dict[str, Any]]], Any] | None:
    return _live_prepare.get(kind)


def live_kinds() -> frozenset[str]:
    """Message types that live state takes on the socket: no event may take one."""
    return frozenset(_live_prepare)


def live_publish(*, kind: str, data: dict[str, Any]) -> None:
    """Hand live state to every server process's sockets, each deciding what its user may see."""
    publish({"k": "live", "t": kind, "d": data})


def wake_check(*, user_ids: list[int]) -> None:
    """Make these users' sockets re-check their sessions now (one was revoked, disabled, ...)."""
    publish({"k": "check", "u": user_ids})
