"""Revoking a device closes its sockets within the check interval, and nothing more reaches them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.utils import timezone

from apps.accounts.models import DeviceSession, User
from apps.accounts.services import device_revoke, user_set_active
from tests.base import World, signed_in_client
from tests.delivery.helpers import WAIT, append_async, close_code, open_stream, ticket_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_revoking_the_device_closes_its_socket_within_the_interval(world: World, settings: Any) -> None:
    settings.DELIVERY_SESSION_CHECK_SECONDS = 1
    client = signed_in_client(world.omar)
    ticket = ticket_for(client)

    async def scenario() -> None:
        comm, _ = await open_stream(ticket, epoch=None)
        await database_sync_to_async(device_revoke)(device_id=client.device_id,  # type: ignore[attr-defined]
                                                    revoked_by=world.omar, ip=None)
        started = time.monotonic()
        assert await comm.receive_json_from(timeout=WAIT) == {"type": "revoked"}
        assert await close_code(comm) == 4403
        assert time.monotonic() - started <= settings.DELIVERY_SESSION_CHECK_SECONDS + 0.5
        await append_async(world.omar.pk)
        assert await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()

    async_to_sync(scenario)()


def test_an_event_after_revocation_is_not_sent_even_before_the_check(world: World, settings: Any) -> None:
    settings.DELIVERY_SESSION_CHECK_SECONDS = 60
    client = signed_in_client(world.omar)
    ticket = ticket_for(client)

    async def scenario() -> None:
        comm, _ = await open_stream(ticket, epoch=None)
        await database_sync_to_async(device_revoke)(device_id=client.device_id,  # type: ignore[attr-defined]
                                                    revoked_by=world.omar, ip=None)
        await append_async(world.omar.pk)
        assert await comm.receive_json_from(timeout=WAIT) == {"type": "revoked"}
        assert await close_code(comm) == 4403
        await comm.disconnect()

    async_to_sync(scenario)()


def test_disabling_a_user_closes_only_their_sockets(world: World, settings: Any) -> None:
    settings.DELIVERY_SESSION_CHECK_SECONDS = 1
    omar_ticket = ticket_for(signed_in_client(world.omar))
    sam_ticket = ticket_for(signed_in_client(world.sam))

    async def scenario() -> None:
        omar, _ = await open_stream(omar_ticket, epoch=None)
        sam, _ = await open_stream(sam_ticket, epoch=None)
        await database_sync_to_async(user_set_active)(user_id=world.omar.pk, active=False, changed_by=world.abe,
                                                      ip=None)
        assert await omar.receive_json_from(timeout=WAIT) == {"type": "revoked"}
        assert await close_code(omar) == 4403
        assert await sam.receive_nothing(timeout=1.5)
        await append_async(world.sam.pk)
        assert (await sam.receive_json_from(timeout=WAIT))["type"] == "briefing"
        await omar.disconnect()
        await sam.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("change", ["session_expired", "user_locked"])
def test_the_periodic_check_closes_a_socket_whose_session_died_unannounced(world: World, settings: Any,
                                                                           change: str) -> None:
    """A change nobody announced (written straight to the database) is still found by the next check."""
    settings.DELIVERY_SESSION_CHECK_SECONDS = 1
    omar_ticket = ticket_for(signed_in_client(world.omar))
    sam_ticket = ticket_for(signed_in_client(world.sam))

    def kill() -> None:
        if change == "session_expired":
            DeviceSession.objects.filter(device__user=world.omar).update(expires_at=timezone.now())
        else:
            User.objects.filter(pk=world.omar.pk).update(locked_at=timezone.now())

    async def scenario() -> None:
        omar, _ = await open_stream(omar_ticket, epoch=None)
        sam, _ = await open_stream(sam_ticket, epoch=None)
        await database_sync_to_async(kill)()
        assert await omar.receive_json_from(timeout=WAIT) == {"type": "revoked"}
        assert await close_code(omar) == 4403
        assert await sam.receive_nothing(timeout=1.5)
        await omar.disconnect()
        await sam.disconnect()

    async_to_sync(scenario)()
