"""The event stream's wire format, written once. Protocol: docs/delivery.md.

Every frame the server sends is encoded here: an event (`event_prefix` once per
append, shared by every recipient, then `event_text` per user) and the control
messages. The control types and close codes are defined here alone; the
browser client reads them from `apps/web/static/web/stream-protocol.js`, which
`browser_module()` generates (tests/delivery/test_wire.py fails when the file is
not current: `.venv/bin/python manage.py stream_protocol_js` rewrites it).
"""

from __future__ import annotations

import json
from typing import Any

# What the server sends besides events; a client treats anything else as an event.
SERVER_CONTROL = ("ready", "resync", "ping", "revoked", "error", "ticket")
# What a client sends.
CLIENT_CONTROL = ("hello", "ack", "pong", "position")
# Types an event may not take: the server's own words on the socket, and what a client sends but acks.
CONTROL_TYPES = frozenset(SERVER_CONTROL) | {"hello", "pong", "position"}

# Close codes after an accepted handshake (a refused handshake tells the client nothing).
CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403

_COMPACT = (",", ":")


def event_prefix(*, type: str, op: str, object_type: str, object_id: str, payload: dict[str, Any]) -> str:
    """The event message up to its per-user fields, encoded once for every recipient."""
    body = json.dumps({"type": type, "op": op, "object_type": object_type, "object_id": object_id,
                       "payload": payload}, separators=_COMPACT)
    return body[:-1]


def event_text(prefix: str, epoch: str, offset: int) -> str:
    """One recipient's event frame: the shared prefix with its epoch and offset."""
    return f'{prefix},"offset":{offset},"epoch":"{epoch}"}}'


def event_frame(event: Any) -> str:
    """The frame of a stored event (apps.delivery.models.Event), as a wake would have carried it."""
    prefix = event_prefix(type=event.type, op=event.op, object_type=event.object_type,
                          object_id=event.object_id, payload=event.payload)
    return event_text(prefix, event.epoch, event.offset)


def event_message(event: Any) -> dict[str, object]:
    """The one event shape on the wire, as the client decodes it."""
    message: dict[str, object] = json.loads(event_frame(event))
    return message


def position_text(type: str, epoch: str, offset: int) -> str:
    """A "ready" or "resync" frame: where the stream stands."""
    return json.dumps({"type": type, "epoch": epoch, "offset": offset}, separators=_COMPACT)


def control_text(type: str, **fields: Any) -> str:
    return json.dumps({"type": type, **fields}, separators=_COMPACT)


def browser_module() -> str:
    """apps/web/static/web/stream-protocol.js: the control types and close codes for the browser client."""
    lines = [
        "// Generated from apps/delivery/wire.py by `manage.py stream_protocol_js`; do not edit.",
        "// The stream protocol is docs/delivery.md.",
        f"export const SERVER_CONTROL = Object.freeze({json.dumps(list(SERVER_CONTROL))});",
        f"export const CLIENT_CONTROL = Object.freeze({json.dumps(list(CLIENT_CONTROL))});",
        f"export const CLOSE_BAD_MESSAGE = {CLOSE_BAD_MESSAGE};",
        f"export const CLOSE_UNAUTHENTICATED = {CLOSE_UNAUTHENTICATED};",
        f"export const CLOSE_REVOKED = {CLOSE_REVOKED};",
    ]
    return "\n".join(lines) + "\n"
