"""Pushes made while Redis is down: PostgreSQL is the record, so each is accepted (202), stored, and
delivered once Redis is back, to every socket, once.

The fault run's finding: 11 of 15 pushes got 500 while Redis was down (the API's throttle read the
Redis cache), none stored, so the analyst had to push again.
"""

from __future__ import annotations

import time

from apps.delivery.models import Delivery, Event
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


def test_every_push_made_while_redis_is_down_is_accepted_and_delivered_once_it_returns(world: World,
                                                                                        stack: Stack) -> None:
    call = briefed_call(world)
    officers = officer_sessions(world, 8)
    ava = analyst_token(world)
    redis = next(p for p in stack.procs if p.name == "redis")
    web = stack.daphne(wait=False)
    stack.worker(wait=False)
    stack.dispatcher(wait=False)
    stack.ready()
    assert web.port
    clients = {o.user.pk: StreamClient(token=o.token, port=web.port) for o in officers}
    audience: dict[str, object] = {"kind": "user", "ids": sorted(clients)}

    with LoopThread() as loop, sync_http() as http:
        loop.run(connect_clients(list(clients.values())))
        redis.kill()
        # push_briefing asserts the 202: every one is accepted with Redis gone.
        pushes = [push_briefing(http, web.port, ava, call, audience) for _ in range(8)]
        time.sleep(1)
        stack.redis(port=redis.port, name="redis-again")
        wait_until(lambda: pushes_resolved(pushes), 30, "every push resolved")
        wait_until(lambda: all(len(c.events) == len(pushes) for c in clients.values()), 30,
                   "every push on every socket")
        wait_until(lambda: undelivered(pushes) == 0, 15, "every recipient delivered")
        loop.run(close_clients(list(clients.values())))

    assert_each_saw_each_push_once(clients, pushes)


def test_receipts_and_http_acks_are_stored_while_redis_is_down_and_tickets_answer_503(world: World,
                                                                                      stack: Stack) -> None:
    call = briefed_call(world)
    omar = officer_sessions(world, 1)[0]
    ava = analyst_token(world)
    redis = next(p for p in stack.procs if p.name == "redis")
    web = stack.daphne(wait=False)
    stack.worker(wait=False)
    stack.ready()
    assert web.port
    base = f"http://127.0.0.1:{web.port}/api/v1"
    as_omar = {"Authorization": f"Bearer {omar.token}"}
    with sync_http() as http:
        push = push_briefing(http, web.port, ava, call, {"kind": "user", "ids": [world.omar.pk]})
        wait_until(lambda: pushes_resolved([push]), 20, "the push resolved")
        event = Event.objects.get(user=world.omar, payload__push=push)
        redis.kill()
        ack = http.post(f"{base}/stream/ack", json={"epoch": event.epoch, "offset": event.offset}, headers=as_omar)
        receipt = http.post(f"{base}/pushes/{push}/receipt", json={"state": "acknowledged"}, headers=as_omar)
        ticket = http.post(f"{base}/stream/ticket", headers=as_omar)
    assert ack.status_code == 200, ack.text
    assert receipt.status_code == 200, receipt.text
    assert ticket.status_code == 503 and ticket.json()["code"] == "stream_unavailable"
    delivery = Delivery.objects.get(push_id=push, user=world.omar)
    assert delivery.delivered_at is not None and delivery.acknowledged_at is not None
