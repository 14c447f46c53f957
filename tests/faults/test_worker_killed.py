"""The Celery worker dies while it resolves a push: the push still reaches everyone, once.

To kill it "mid-task" for certain, the test holds a row lock on one recipient's
stream (as a slow transaction elsewhere would), so `push_resolve` is inside its
transaction, waiting, when the worker dies.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection

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
from tests.harness.processes import Proc, Stack, pool_children


@contextmanager
def stream_locked(stack: Stack, user_id: int) -> Iterator[None]:
    """Hold the lock event_append needs on this user's stream row until the block ends."""
    with psycopg.connect(stack.database_url.replace("postgres://", "postgresql://", 1)) as conn:
        conn.execute("SELECT id FROM delivery_userstream WHERE user_id = %s FOR UPDATE", [user_id])
        yield
        conn.rollback()


def _resolver_waiting_on_the_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        row = cursor.fetchone()
    return bool(row and row[0])


def _setup(world: World, stack: Stack) -> tuple[Proc, Proc, dict[int, StreamClient], dict[str, object], str]:
    officers = officer_sessions(world, 6)
    web = stack.daphne(wait=False)
    worker = stack.worker(wait=False)
    stack.ready()
    assert web.port
    clients = {o.user.pk: StreamClient(token=o.token, port=web.port) for o in officers}
    return web, worker, clients, {"kind": "user", "ids": sorted(clients)}, analyst_token(world)


def test_a_push_whose_worker_process_is_killed_mid_resolve_is_redelivered_and_reaches_everyone_once(
        world: World, stack: Stack) -> None:
    call = briefed_call(world)
    web, worker, clients, audience, ava = _setup(world, stack)
    assert web.port
    with LoopThread() as loop, sync_http() as http:
        loop.run(connect_clients(list(clients.values())))  # the hello makes each user's stream row
        with stream_locked(stack, world.omar.pk):
            push_id = push_briefing(http, web.port, ava, call, audience)
            wait_until(_resolver_waiting_on_the_lock, 20, "the worker inside push_resolve")
            children = pool_children(worker)
            assert children, "a prefork worker has pool processes"
            for pid in children:
                os.kill(pid, signal.SIGKILL)  # the pool dies; the worker's main process lives on
            worker.wait_for_log("WorkerLostError", timeout=20)
        wait_until(lambda: pushes_resolved([push_id]), 30, "the redelivered task resolved the push")
        wait_until(lambda: all(len(c.events) == 1 for c in clients.values()), 20, "the push on every socket")
        wait_until(lambda: undelivered([push_id]) == 0, 10, "every recipient delivered")
        loop.run(close_clients(list(clients.values())))
    assert_each_saw_each_push_once(clients, [push_id])


def test_a_push_whose_whole_worker_is_killed_mid_resolve_is_recovered_by_the_dispatcher(
        world: World, stack: Stack) -> None:
    call = briefed_call(world)
    stack.dispatcher(wait=False)
    web, worker, clients, audience, ava = _setup(world, stack)
    assert web.port
    with LoopThread() as loop, sync_http() as http:
        loop.run(connect_clients(list(clients.values())))
        with stream_locked(stack, world.omar.pk):
            push_id = push_briefing(http, web.port, ava, call, audience)
            pushed = time.monotonic()
            wait_until(_resolver_waiting_on_the_lock, 20, "the worker inside push_resolve")
            worker.kill()  # main process and pool: the message stays unacknowledged in Redis
        # No worker now: only the dispatcher can get the push out.
        # Redis hands an unacknowledged message out again only after the visibility timeout (an hour);
        # the dispatcher resolves a push left pending 2 s, checking every second.
        wait_until(lambda: pushes_resolved([push_id]), 30, "the push recovered")
        recovered = time.monotonic() - pushed
        wait_until(lambda: all(len(c.events) == 1 for c in clients.values()), 10, "the push on every socket")
        wait_until(lambda: undelivered([push_id]) == 0, 10, "every recipient delivered")
        loop.run(close_clients(list(clients.values())))
    assert_each_saw_each_push_once(clients, [push_id])
    assert recovered < 8, f"recovered {recovered:.1f} s after the push"


def test_pushes_made_after_the_worker_is_killed_reach_every_socket_within_5_s(world: World, stack: Stack) -> None:
    call = briefed_call(world)
    stack.dispatcher(wait=False)
    web, worker, clients, audience, ava = _setup(world, stack)
    assert web.port
    with LoopThread() as loop, sync_http() as http:
        loop.run(connect_clients(list(clients.values())))
        worker.kill()  # no worker from now on: their tasks wait in Redis for one that never comes
        pushed_at: dict[int, float] = {}
        for _ in range(6):
            push_id = push_briefing(http, web.port, ava, call, audience)
            pushed_at[push_id] = time.monotonic()
            time.sleep(0.5)
        wait_until(lambda: all(len(c.events) == len(pushed_at) for c in clients.values()), 30,
                   "every push on every socket")
        loop.run(close_clients(list(clients.values())))
    assert_each_saw_each_push_once(clients, list(pushed_at))
    latencies = sorted(r.at - pushed_at[r.message["payload"]["push"]] for c in clients.values() for r in c.events)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    assert p95 <= 5.0, f"push -> socket p95 {p95:.1f} s after the worker was killed"
