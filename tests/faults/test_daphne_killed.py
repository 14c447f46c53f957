"""One of two Daphne processes dies: its clients reconnect to the other and get exactly what they missed."""

from __future__ import annotations

from tests.base import World
from tests.faults.scene import (
    analyst_token,
    assert_each_saw_each_push_once,
    briefed_call,
    officer_sessions,
    push_briefing,
    pushes_resolved,
    sync_http,
    undelivered,
    wait_until,
)
from tests.harness.client import LoopThread, StreamClient, close_clients, connect_clients
from tests.harness.processes import Stack


def test_clients_of_a_killed_server_reconnect_to_the_other_and_replay_exactly_the_gap(world: World,
                                                                                      stack: Stack) -> None:
    call = briefed_call(world)
    officers = officer_sessions(world, 12)
    ava = analyst_token(world)
    web1, web2 = stack.daphne("daphne1", wait=False), stack.daphne("daphne2", wait=False)
    stack.worker(wait=False)
    stack.ready()
    assert web1.port and web2.port
    clients = {o.user.pk: StreamClient(token=o.token, port=web1.port if n % 2 else web2.port)
               for n, o in enumerate(officers)}
    orphans = [c for c in clients.values() if c.port == web1.port]
    audience = {"kind": "user", "ids": sorted(clients)}

    with LoopThread() as loop, sync_http() as http:
        loop.run(connect_clients(list(clients.values())))
        before = [push_briefing(http, web2.port, ava, call, audience) for _ in range(3)]
        wait_until(lambda: all(len(c.events) == 3 for c in clients.values()), 20, "the first three on every socket")

        web1.kill()
        wait_until(lambda: not any(c.connected for c in orphans), 10, "web1's sockets closed")
        during = [push_briefing(http, web2.port, ava, call, audience) for _ in range(3)]
        wait_until(lambda: pushes_resolved(during), 20, "the pushes sent while they were away resolved")
        assert all(len(c.events) == 3 for c in orphans), "nothing reached the cut-off clients"

        # They come back on the surviving server with the epoch and offset they last applied.
        loop.run(connect_clients(orphans, ports=[web2.port]))
        wait_until(lambda: all(len(c.events) == 6 for c in clients.values()), 20, "the gap replayed")
        wait_until(lambda: undelivered(before + during) == 0, 10, "every recipient acknowledged delivery")
        loop.run(close_clients(list(clients.values())))

    assert_each_saw_each_push_once(clients, before + during)
    assert all(c.resyncs == 1 for c in clients.values()), "one resync each, on the first connect; none on replay"
    assert all(c.connects == 2 for c in orphans)
    assert all(c.resumed == 1 for c in orphans), "each came back on the ticket its last socket handed over"
