"""Opening the event stream in tests, as a phone would: ticket over HTTPS, then the websocket."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from apps.delivery.models import Event
from apps.delivery.services import event_append
from rtcc_server.asgi import application

HEADERS = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
WAIT = 2  # seconds a test waits for something that must arrive


def ticket_for(client: APIClient) -> str:
    response = client.post("/api/v1/stream/ticket")
    assert response.status_code == 201, response.content
    return response.json()["ticket"]


def communicator(ticket: str | None, *, headers: list[tuple[bytes, bytes]] | None = None) -> WebsocketCommunicator:
    path = "/ws/v1/stream" if ticket is None else f"/ws/v1/stream?ticket={ticket}"
    return WebsocketCommunicator(application, path, headers=HEADERS if headers is None else headers)


async def open_stream(ticket: str, *, epoch: str | None = None, offset: int = 0, resume: bool = False,
                      ) -> tuple[WebsocketCommunicator, list[dict[str, Any]]]:
    """Connect, say hello (asking for a resume ticket if `resume`), and return the socket with everything up to
    and including "ready"."""
    comm = communicator(ticket)
    connected, _ = await comm.connect()
    assert connected
    hello: dict[str, Any] = {"type": "hello", "epoch": epoch, "offset": offset}
    if resume:
        hello["resume"] = True
    await comm.send_json_to(hello)
    received = []
    while True:
        message = await comm.receive_json_from(timeout=WAIT)
        received.append(message)
        if message["type"] == "ready":
            return comm, received


async def close_code(comm: WebsocketCommunicator) -> int:
    """The code of the close that must come next, skipping any other messages."""
    while True:
        output = await comm.receive_output(timeout=WAIT)
        if output["type"] == "websocket.close":
            return output.get("code", 1000)


def append(user_id: int, object_id: str = "1", *, op: str = "created") -> list[Event]:
    return event_append(users=[user_id], type="briefing", op=op, object_type="briefings.briefing",
                        object_id=object_id, payload={"call_id": 7})


append_async = database_sync_to_async(append)
