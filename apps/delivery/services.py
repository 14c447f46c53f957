"""The event log and stream tickets. Protocol: docs/delivery.md.

Events are rows first: `event_append` writes them in the caller's transaction
and only after commit wakes the sockets. The channel layer carries nothing but
the wake-up, so a lost wake-up costs latency, never an event.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from apps.accounts.models import DeviceSession
from apps.accounts.services import session_is_live
from apps.delivery.models import Event, UserStream

logger = logging.getLogger(__name__)

# Types the server itself speaks on the socket; an event may not take one of them.
CONTROL_TYPES = frozenset({"hello", "ready", "resync", "ping", "pong", "revoked", "error"})
# Payloads hold ids and lock-screen-safe fields: 2 KB is plenty, and a 200-event replay stays small.
MAX_PAYLOAD_BYTES = 2048
_TICKET_PREFIX = "delivery.ticket."


def stream_group(user_id: int) -> str:
    return f"user.{user_id}"


def _new_epoch() -> str:
    return secrets.token_hex(8)


def _wake(user_ids: list[int]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for user_id in user_ids:
        async_to_sync(layer.group_send)(stream_group(user_id), {"type": "stream.wake"})


def event_append(
    *, users: list[int], type: str, op: str, object_type: str, object_id: str, payload: dict[str, Any]
) -> list[Event]:
    """Append one event to each user's stream, inside the caller's transaction.

    Offsets are allocated under a row lock on each UserStream, users in id order
    so two appends never deadlock. The sockets are woken after commit: a rolled-back
    change reaches no one.
    """
    if type in CONTROL_TYPES:
        raise ValueError(f"{type!r} is a control message type, not an event type")
    if len(json.dumps(payload, separators=(",", ":"))) > MAX_PAYLOAD_BYTES:
        raise ValueError("event payload too large: carry ids, not content")
    user_ids = sorted(set(users))
    if not user_ids:
        return []
    with transaction.atomic():
        existing = set(UserStream.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
        missing = [UserStream(user_id=uid, epoch=_new_epoch()) for uid in user_ids if uid not in existing]
        if missing:
            UserStream.objects.bulk_create(missing, ignore_conflicts=True)
        streams = list(UserStream.objects.select_for_update().filter(user_id__in=user_ids).order_by("user_id"))
        events = []
        for stream in streams:
            events.append(Event(user_id=stream.user_id, offset=stream.next_offset, epoch=stream.epoch, type=type,
                                op=op, object_type=object_type, object_id=str(object_id), payload=payload))
            stream.next_offset += 1
        UserStream.objects.bulk_update(streams, ["next_offset"])
        Event.objects.bulk_create(events)
        # robust: a Redis outage after commit must not fail the request; the event is already stored.
        transaction.on_commit(lambda: _wake(user_ids), robust=True)
    return events


def stream_position(*, user_id: int) -> tuple[str, int]:
    """The user's current epoch and last offset, making the stream if it is the user's first."""
    stream, _ = UserStream.objects.get_or_create(user_id=user_id, defaults={"epoch": _new_epoch()})
    return stream.epoch, stream.next_offset - 1


def _ticket_key(ticket: str) -> str:
    # Only the hash is stored, so a cache dump holds no usable ticket.
    return _TICKET_PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


def stream_ticket_issue(*, session: DeviceSession) -> str:
    """A single-use ticket for opening the stream websocket as this device session."""
    ticket = secrets.token_urlsafe(32)
    cache.set(_ticket_key(ticket), session.pk, timeout=settings.DELIVERY_TICKET_SECONDS)
    return ticket


def stream_ticket_redeem(*, ticket: str) -> DeviceSession | None:
    """The live device session a ticket was issued to, or None. A ticket works once."""
    if not ticket or len(ticket) > 100:
        return None
    key = _ticket_key(ticket)
    session_id = cache.get(key)
    # delete() answers whether this caller removed the key: of two racing redeemers only one wins.
    if session_id is None or not cache.delete(key):
        return None
    session = DeviceSession.objects.select_related("device", "device__user").filter(pk=session_id).first()
    if session is None or not session_is_live(session=session):
        return None
    return session
