"""The resume ticket: a socket whose hello asks for it hands the phone a ticket for its next socket."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from apps.accounts.services import device_revoke
from tests.base import World, signed_in_client
from tests.delivery.helpers import WAIT, append_async, close_code, communicator, open_stream, ticket_for

pytestmark = pytest.mark.django_db(transaction=True)


async def _refused(ticket: str) -> int:
    comm = communicator(ticket)
    connected, _ = await comm.connect()
    assert connected
    code = await close_code(comm)
    await comm.disconnect()
    return code


def test_a_phone_comes_back_on_the_ticket_its_last_socket_handed_over(world: World) -> None:
    ticket = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        comm, received = await open_stream(ticket, epoch=None, resume=True)
        epoch = received[-1]["epoch"]
        handed = await comm.receive_json_from(timeout=WAIT)
        assert handed["type"] == "ticket" and handed["expires_in"] == 120 and len(handed["ticket"]) >= 40
        await append_async(world.omar.pk, "41")
        assert (await comm.receive_json_from(timeout=WAIT))["offset"] == 1
        await comm.disconnect()
        await append_async(world.omar.pk, "42")
        # No request over HTTP: the handed ticket opens the next socket, which replays what was missed.
        again, received = await open_stream(handed["ticket"], epoch=epoch, offset=1, resume=True)
        assert [(m.get("object_id"), m["type"]) for m in received] == [("42", "briefing"), (None, "ready")]
        assert (await again.receive_json_from(timeout=WAIT))["type"] == "ticket"
        await again.disconnect()
        # It worked once.
        assert await _refused(handed["ticket"]) == 4401

    async_to_sync(scenario)()


def test_a_hello_that_does_not_ask_is_handed_nothing(world: World) -> None:
    ticket = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        comm, _ = await open_stream(ticket, epoch=None)
        assert await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()

    async_to_sync(scenario)()


def test_each_new_resume_ticket_ends_the_last(world: World, settings: Any) -> None:
    settings.DELIVERY_RESUME_TICKET_SECONDS = 2  # replaced every second
    ticket = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        comm, _ = await open_stream(ticket, epoch=None, resume=True)
        first = await comm.receive_json_from(timeout=WAIT)
        second = await comm.receive_json_from(timeout=WAIT)
        assert first["type"] == second["type"] == "ticket" and first["ticket"] != second["ticket"]
        await comm.disconnect()
        assert await _refused(first["ticket"]) == 4401
        again, received = await open_stream(second["ticket"], epoch=None)
        assert received[-1]["type"] == "ready"
        await again.disconnect()

    async_to_sync(scenario)()


def test_a_resume_ticket_expires(world: World, settings: Any) -> None:
    settings.DELIVERY_RESUME_TICKET_SECONDS = 1
    ticket = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        comm, _ = await open_stream(ticket, epoch=None, resume=True)
        handed = await comm.receive_json_from(timeout=WAIT)
        await comm.disconnect()
        time.sleep(1.2)
        assert await _refused(handed["ticket"]) == 4401

    async_to_sync(scenario)()


def test_a_revoked_device_cannot_come_back_on_its_resume_ticket(world: World) -> None:
    client = signed_in_client(world.omar)
    ticket = ticket_for(client)

    async def scenario() -> None:
        comm, _ = await open_stream(ticket, epoch=None, resume=True)
        handed = await comm.receive_json_from(timeout=WAIT)
        await comm.disconnect()
        await database_sync_to_async(device_revoke)(device_id=client.device_id,  # type: ignore[attr-defined]
                                                    revoked_by=world.omar, ip=None)
        assert await _refused(handed["ticket"]) == 4401

    async_to_sync(scenario)()


def test_a_resume_ticket_opens_only_its_own_users_stream(world: World) -> None:
    omar_ticket = ticket_for(signed_in_client(world.omar))
    xavier_ticket = ticket_for(signed_in_client(world.xavier))

    async def scenario() -> None:
        omar, _ = await open_stream(omar_ticket, epoch=None, resume=True)
        handed = await omar.receive_json_from(timeout=WAIT)
        await omar.disconnect()
        xavier, _ = await open_stream(xavier_ticket, epoch=None)
        again, _ = await open_stream(handed["ticket"], epoch=None)
        await append_async(world.omar.pk, "7")
        assert (await again.receive_json_from(timeout=WAIT))["object_id"] == "7"
        assert await xavier.receive_nothing(timeout=0.5)
        await again.disconnect()
        await xavier.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("resume", ["yes", 1, None, {"a": 1}])
def test_a_hello_with_a_resume_that_is_not_a_boolean_is_refused(world: World, resume: Any) -> None:
    ticket = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        comm = communicator(ticket)
        await comm.connect()
        await comm.send_json_to({"type": "hello", "epoch": None, "offset": 0, "resume": resume})
        error = await comm.receive_json_from(timeout=WAIT)
        assert error["type"] == "error" and "resume" in error["message"]
        assert await close_code(comm) == 4400
        await comm.disconnect()

    async_to_sync(scenario)()
