"""The stream ticket: over the authenticated API, single use, short-lived; the Origin is checked."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from apps.accounts.services import device_revoke
from tests.base import World, signed_in_client
from tests.delivery.helpers import close_code, communicator, open_stream, ticket_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_signed_in_device_gets_a_ticket(world: World) -> None:
    response = signed_in_client(world.omar).post("/api/v1/stream/ticket")
    assert response.status_code == 201
    body = response.json()
    assert body["expires_in"] == 30 and body["url"] == "/ws/v1/stream"
    assert len(body["ticket"]) >= 40


def test_no_ticket_without_signing_in(world: World) -> None:
    response = APIClient().post("/api/v1/stream/ticket")
    assert response.status_code == 401


def test_a_ticket_works_once(world: World) -> None:
    ticket = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        comm, received = await open_stream(ticket)
        assert received[-1]["type"] == "ready"
        await comm.disconnect()
        again = communicator(ticket)
        connected, _ = await again.connect()
        assert connected
        assert await close_code(again) == 4401
        await again.disconnect()

    async_to_sync(scenario)()


def test_a_ticket_expires(world: World, settings: Any) -> None:
    settings.DELIVERY_TICKET_SECONDS = 1
    ticket = ticket_for(signed_in_client(world.omar))
    time.sleep(1.2)

    async def scenario() -> None:
        comm = communicator(ticket)
        await comm.connect()
        assert await close_code(comm) == 4401
        await comm.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("ticket", [None, "", "made-up-ticket"])
def test_a_missing_or_unknown_ticket_is_refused(world: World, ticket: str | None) -> None:
    async def scenario() -> None:
        comm = communicator(ticket)
        await comm.connect()
        assert await close_code(comm) == 4401
        await comm.disconnect()

    async_to_sync(scenario)()


def test_a_ticket_of_a_revoked_device_is_refused(world: World) -> None:
    client = signed_in_client(world.omar)
    ticket = ticket_for(client)
    device_revoke(device_id=client.device_id, revoked_by=world.omar, ip=None)  # type: ignore[attr-defined]

    async def scenario() -> None:
        comm = communicator(ticket)
        await comm.connect()
        assert await close_code(comm) == 4401
        await comm.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("origin", [b"https://evil.example", None])
def test_a_foreign_or_missing_origin_is_refused(world: World, origin: bytes | None) -> None:
    ticket = ticket_for(signed_in_client(world.omar))
    headers = [(b"host", b"127.0.0.1")] + ([(b"origin", origin)] if origin else [])

    async def scenario() -> None:
        comm = communicator(ticket, headers=headers)
        connected, _ = await comm.connect()
        assert not connected
        await comm.disconnect()

    async_to_sync(scenario)()


def test_a_ticket_redeemed_twice_in_one_batch_opens_one_socket(world: World) -> None:
    # A reconnect storm redeems the tickets of many sockets together; a ticket sent twice (a replayed
    # handshake) still gives its session to one of them only.
    from apps.delivery.services import stream_tickets_redeem

    ticket = ticket_for(signed_in_client(world.omar))
    other = ticket_for(signed_in_client(world.sam))
    first, again, sam = stream_tickets_redeem(tickets=[ticket, ticket, other])
    assert first is not None and first.device.user_id == world.omar.pk
    assert again is None
    assert sam is not None and sam.device.user_id == world.sam.pk
    assert stream_tickets_redeem(tickets=[ticket, other]) == [None, None]
