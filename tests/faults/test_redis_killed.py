"""Redis dies in the middle of a fan-out and comes back: every recipient still gets every push, once."""

from __future__ import annotations

import time

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


def test_a_redis_crash_mid_fan_out_loses_nothing_and_shows_nothing_twice(world: World, stack: Stack) -> None:
    call = briefed_call(world)
    officers = officer_sessions(world, 16)
    ava = analyst_token(world)
    redis = next(p for p in stack.procs if p.name == "redis")
    web1, web2 = stack.daphne("daphne1", wait=False), stack.daphne("daphne2", wait=False)
    stack.worker(wait=False)
    stack.dispatcher(wait=False)
    stack.ready()
    assert web1.port and web2.port
    clients = {o.user.pk: StreamClient(token=o.token, port=web1.port if n % 2 else web2.port)
               for n, o in enumerate(officers)}
    audience = {"kind": "user", "ids": sorted(clients)}

    with LoopThread() as loop, sync_http() as http:
        loop.run(connect_clients(list(clients.values())))
        pushes = [push_briefing(http, web1.port, ava, call, audience) for _ in range(6)]
        # Mid fan-out: the worker is resolving the first pushes, the rest wait in Redis and die with it.
        redis.kill()
        time.sleep(2)
        stack.redis(port=redis.port, name="redis-again")
        # Lost wake-ups: the sockets' periodic check reads the log; lost tasks: the dispatcher's sweep.
        wait_until(lambda: pushes_resolved(pushes), 30, "every push resolved")
        wait_until(lambda: all(len(c.events) == len(pushes) for c in clients.values()), 20,
                   "every push on every socket")
        wait_until(lambda: undelivered(pushes) == 0, 10, "every recipient delivered")
        loop.run(close_clients(list(clients.values())))

    assert_each_saw_each_push_once(clients, pushes)
    assert all(c.connects == 1 for c in clients.values()), "no socket had to reconnect"
