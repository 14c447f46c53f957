"""The live stream: replay exactly the gap, then live events after commit, to their user only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction

from apps.accounts.models import Role
from apps.briefings.services import briefing_assemble
from apps.delivery.models import Delivery, UserStream
from apps.delivery.services import push_record
from tests.base import World, make_user, signed_in_client
from tests.briefings.helpers import make_call
from tests.delivery.helpers import WAIT, append, append_async, close_code, communicator, open_stream, ticket_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_client_takes_the_current_position(world: World) -> None:
    append(world.omar.pk)
    ticket = ticket_for(signed_in_client(world.omar))
    epoch = UserStream.objects.get(user=world.omar).epoch

    async def scenario() -> None:
        comm, received = await open_stream(ticket, epoch=None)
        assert received == [{"type": "resync", "epoch": epoch, "offset": 1},
                            {"type": "ready", "epoch": epoch, "offset": 1}]
        await comm.disconnect()

    async_to_sync(scenario)()


def test_it_delivers_live_after_commit(world: World) -> None:
    ticket = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        comm, received = await open_stream(ticket, epoch=None)
        epoch = received[-1]["epoch"]
        await append_async(world.omar.pk, "42")
        message = await comm.receive_json_from(timeout=WAIT)
        assert message == {"type": "briefing", "op": "created", "offset": 1, "epoch": epoch,
                           "object_type": "briefings.briefing", "object_id": "42", "payload": {"call_id": 7}}
        assert await comm.receive_nothing(timeout=0.3)
        await comm.disconnect()

    async_to_sync(scenario)()


def test_it_sends_nothing_for_a_rolled_back_change(world: World) -> None:
    ticket = ticket_for(signed_in_client(world.omar))

    def rolled_back() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            append(world.omar.pk)
            raise RuntimeError("the briefing failed to save")

    async def scenario() -> None:
        comm, _ = await open_stream(ticket, epoch=None)
        await database_sync_to_async(rolled_back)()
        assert await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()

    async_to_sync(scenario)()


def test_a_reconnect_replays_exactly_the_missed_events(world: World, settings: Any) -> None:
    settings.DELIVERY_BATCH_SIZE = 2  # the replay comes in several bounded reads
    client = signed_in_client(world.omar)
    first, second = ticket_for(client), ticket_for(client)

    async def scenario() -> None:
        comm, received = await open_stream(first, epoch=None)
        epoch = received[-1]["epoch"]
        await append_async(world.omar.pk, "1")
        await append_async(world.omar.pk, "2")
        seen = [await comm.receive_json_from(timeout=WAIT) for _ in range(2)]
        assert [m["offset"] for m in seen] == [1, 2]
        await comm.disconnect()
        for n in range(3, 8):
            await append_async(world.omar.pk, str(n))
        comm, received = await open_stream(second, epoch=epoch, offset=2)
        assert [m["offset"] for m in received[:-1]] == [3, 4, 5, 6, 7]
        assert [m["object_id"] for m in received[:-1]] == ["3", "4", "5", "6", "7"]
        assert received[-1] == {"type": "ready", "epoch": epoch, "offset": 7}
        await append_async(world.omar.pk, "8")
        assert (await comm.receive_json_from(timeout=WAIT))["offset"] == 8
        assert await comm.receive_nothing(timeout=0.3)
        await comm.disconnect()

    async_to_sync(scenario)()


def test_an_unknown_epoch_answers_resync(world: World) -> None:
    append(world.omar.pk)
    append(world.omar.pk)
    ticket = ticket_for(signed_in_client(world.omar))
    epoch = UserStream.objects.get(user=world.omar).epoch

    async def scenario() -> None:
        comm, received = await open_stream(ticket, epoch="an-epoch-the-server-lost", offset=1)
        assert received == [{"type": "resync", "epoch": epoch, "offset": 2},
                            {"type": "ready", "epoch": epoch, "offset": 2}]
        await append_async(world.omar.pk)
        assert (await comm.receive_json_from(timeout=WAIT))["offset"] == 3
        await comm.disconnect()

    async_to_sync(scenario)()


def test_it_sends_xavier_nothing_of_omars_events(world: World) -> None:
    omar_ticket = ticket_for(signed_in_client(world.omar))
    xavier_ticket = ticket_for(signed_in_client(world.xavier))

    async def scenario() -> None:
        omar, _ = await open_stream(omar_ticket, epoch=None)
        xavier, _ = await open_stream(xavier_ticket, epoch=None)
        await append_async(world.omar.pk)
        assert (await omar.receive_json_from(timeout=WAIT))["type"] == "briefing"
        assert await xavier.receive_nothing(timeout=0.5)
        await omar.disconnect()
        await xavier.disconnect()

    async_to_sync(scenario)()


def test_it_pings_to_keep_the_nat_open(world: World, settings: Any) -> None:
    settings.DELIVERY_HEARTBEAT_SECONDS = 1
    ticket = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        comm, _ = await open_stream(ticket, epoch=None)
        assert await comm.receive_json_from(timeout=WAIT) == {"type": "ping"}
        await comm.send_json_to({"type": "pong"})
        await comm.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("first", [{"type": "subscribe"}, {"type": "hello", "epoch": 5, "offset": 0},
                                   {"type": "hello", "epoch": "e", "offset": "3"}])
def test_a_malformed_hello_closes_the_socket(world: World, first: dict[str, Any]) -> None:
    ticket = ticket_for(signed_in_client(world.omar))

    async def scenario() -> None:
        comm = communicator(ticket)
        await comm.connect()
        await comm.send_json_to(first)
        assert await close_code(comm) == 4400
        await comm.disconnect()

    async_to_sync(scenario)()


def test_socket_acks_mark_what_each_officer_was_sent_delivered(world: World) -> None:
    """Acks from many sockets are written together; each counts only up to what its own socket was sent."""
    olivia = make_user("olivia", Role.OFFICER, world.agency)
    call = make_call(world, event="ACK-1")
    briefing_assemble(call_id=call.pk, reason="call_created")
    briefing_id = str(call.briefing.pk)
    omar_ticket = ticket_for(signed_in_client(world.omar))
    olivia_ticket = ticket_for(signed_in_client(olivia))

    def push() -> int:
        with transaction.atomic():
            return push_record(agency_id=world.agency.pk, type="briefing", op="pushed",
                               object_type="briefings.briefing", object_id=briefing_id, payload={}, priority=2,
                               users=[world.omar.pk, olivia.pk]).pk

    def delivered() -> dict[str, set[int]]:
        rows = Delivery.objects.filter(delivered_at__isnull=False).values_list("user__username", "push_id")
        found: dict[str, set[int]] = {"omar": set(), "olivia": set()}
        for username, push_id in rows:
            found[username].add(push_id)
        return found

    async def scenario() -> None:
        omar, _ = await open_stream(omar_ticket, epoch=None)
        olivia_socket, _ = await open_stream(olivia_ticket, epoch=None)
        first = await database_sync_to_async(push)()
        omar_event = await omar.receive_json_from(timeout=WAIT)
        olivia_event = await olivia_socket.receive_json_from(timeout=WAIT)
        # Omar claims far more than he was sent; Olivia acks exactly her event.
        await omar.send_json_to({"type": "ack", "offset": omar_event["offset"] + 50})
        await olivia_socket.send_json_to({"type": "ack", "offset": olivia_event["offset"]})
        for _ in range(100):  # up to 5 s on a loaded machine
            if await database_sync_to_async(delivered)() == {"omar": {first}, "olivia": {first}}:
                break
            await asyncio.sleep(0.05)
        assert await database_sync_to_async(delivered)() == {"omar": {first}, "olivia": {first}}
        second = await database_sync_to_async(push)()
        assert (await omar.receive_json_from(timeout=WAIT))["payload"]["push"] == second
        assert await database_sync_to_async(delivered)() == {"omar": {first}, "olivia": {first}}, (
            "the second push was not sent when Omar acked, so his ack does not cover it")
        await omar.send_json_to({"type": "ack", "offset": omar_event["offset"] + 1})
        await omar.send_json_to({"type": "ack", "offset": omar_event["offset"] + 1})  # a repeat is harmless
        for _ in range(100):  # up to 5 s on a loaded machine
            if second in (await database_sync_to_async(delivered)())["omar"]:
                break
            await asyncio.sleep(0.05)
        assert await database_sync_to_async(delivered)() == {"omar": {first, second}, "olivia": {first}}
        await omar.disconnect()
        await olivia_socket.disconnect()

    async_to_sync(scenario)()


def test_a_reconnecting_hello_acks_what_the_phone_already_stored(world: World) -> None:
    """The ack a phone meant to send can die with its old socket; its next hello says the same thing."""
    call = make_call(world, event="ACK-2")
    briefing_assemble(call_id=call.pk, reason="call_created")
    client = signed_in_client(world.omar)
    first, second = ticket_for(client), ticket_for(client)

    def push() -> int:
        with transaction.atomic():
            return push_record(agency_id=world.agency.pk, type="briefing", op="pushed",
                               object_type="briefings.briefing", object_id=str(call.briefing.pk), payload={},
                               priority=2, users=[world.omar.pk]).pk

    def delivered(push_id: int) -> bool:
        return Delivery.objects.filter(push_id=push_id, delivered_at__isnull=False).exists()

    async def scenario() -> None:
        comm, received = await open_stream(first, epoch=None)
        push_id = await database_sync_to_async(push)()
        event = await comm.receive_json_from(timeout=WAIT)
        await comm.disconnect()  # gone before its ack
        assert not await database_sync_to_async(delivered)(push_id)
        comm, received = await open_stream(second, epoch=event["epoch"], offset=event["offset"])
        assert received == [{"type": "ready", "epoch": event["epoch"], "offset": event["offset"]}]
        for _ in range(100):  # up to 5 s on a loaded machine
            if await database_sync_to_async(delivered)(push_id):
                break
            await asyncio.sleep(0.05)
        assert await database_sync_to_async(delivered)(push_id)
        await comm.disconnect()

    async_to_sync(scenario)()
