"""The push alert path: messages per second to FCM, and the fallback after a missed ack.

On a throw-away PostgreSQL database (`rtcc_bench_push`) and a redis-server of
its own, with the fake FCM (tests/fakes/fcm_server.py) in a process of its own
so it never shares a GIL with the sender:

1. Throughput: one push to 3,000 officers with a phone each and no open socket
   (so every alert is due at once), then `alerts_send_due()` until nothing is
   due: claims, builds, sends through firebase-admin (`send_each_async`, 500 a
   batch, MAX_IN_FLIGHT_HTTP1 requests in flight over as many kept-alive
   HTTP/1.1 connections) and records each outcome. Baseline, same run: the same
   number of valid FCM bodies posted straight to the fake with plain httpx, as
   many in flight (what httpx, the fake and HTTP/1.1 on this machine can take).
2. Fallback: one officer holds an open websocket (Daphne) that does not ack;
   the `delivery_dispatcher` process sends the alert once the ack timeout
   (RTCC_DELIVERY_ACK_TIMEOUT_SECONDS, 5 s) has passed. Timed from the event's
   arrival on the socket to the fake FCM receiving the alert.

    .venv/bin/python bench/push.py [--recipients 3000] [--rounds 3] [--keep]

Targets: >= 500 messages/s; fallback <= ack timeout + 1 s. Last line:
`push msgs_per_s=<n> fallback_s=<s>` (fallback: the slowest round).
Every process it starts is killed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
import time
from datetime import timedelta

import httpx
from _support import ROOT, Stats, django_on, fresh_database, parse_args, server_url, with_database

sys.path.insert(0, str(ROOT))

from tests.harness.client import StreamClient, http_client
from tests.harness.processes import Stack

BENCH_DB = "rtcc_bench_push"
PROJECT = "rtcc-fake"
TARGET_MSGS_PER_S = 500.0
ACK_TIMEOUT_S = 5


def seed(n: int) -> tuple[int, list[int], str]:
    """n officers, each with one signed-in Android phone holding a push token; returns a token for the first."""
    from django.utils import timezone

    from apps.accounts.models import Agency, Device, DeviceSession, Role, User
    from apps.accounts.services import DeviceInfo, session_issue

    agency = Agency.objects.create(name="Bench City Police Department", ori="WA0990001")
    users = User.objects.bulk_create([User(username=f"officer{i:05d}", role=Role.OFFICER, agency=agency)
                                      for i in range(n)])
    first = session_issue(user=users[0], device_info=DeviceInfo(name="phone", kind="phone", platform="android",
                                                                push_token="bench-token-0"),  # noqa: S106
                          ip="127.0.0.1")
    now = timezone.now()
    devices = Device.objects.bulk_create([Device(user=u, name="phone", kind="phone", platform="android",
                                                 push_token=f"bench-token-{i}", last_seen_at=now)
                                          for i, u in enumerate(users[1:], 1)])
    DeviceSession.objects.bulk_create([DeviceSession(device=d, token_hash=secrets.token_hex(32), created_at=now,
                                                     last_used_at=now, expires_at=now + timedelta(hours=8))
                                       for d in devices])
    return agency.pk, [u.pk for u in users], first.token


def _push(agency_id: int, users: list[int]) -> int:
    from apps.delivery.services import push_record

    # An "alert" of the bench's own object type (registered in main): no briefing to build first.
    return push_record(agency_id=agency_id, type="alert", op="raised", object_type="bench.alert",
                       object_id="1", payload={}, priority=1, users=users).pk


async def fake_received(http: httpx.AsyncClient, url: str) -> int:
    response = await http.get(f"{url}/__fake__/stats")
    return int(response.json()["received"])


async def baseline(url: str, n: int) -> float:
    """n valid bodies straight to the fake with plain httpx, as many in flight as push_send allows; msgs/s."""
    from apps.delivery import fcm

    message = fcm.PushMessage(device_id=1, token="bench-token-x",  # noqa: S106
                              platform="android", title="Priority 1 alert",
                              kind="alert", object_id="1", priority=1, visible=True, collapse_key="push-1",
                              ttl_seconds=600, data={"push": "1", "epoch": "e", "offset": "1"})
    from firebase_admin import messaging

    body = {"message": messaging._MessagingService.encode_message(fcm._build(message))}
    send = f"{url}/v1/projects/{PROJECT}/messages:send"
    in_flight = fcm.MAX_IN_FLIGHT_HTTP1
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    turns = asyncio.Semaphore(in_flight)

    async def post(http: httpx.AsyncClient) -> httpx.Response:
        async with turns:
            return await http.post(send, json=body, headers={"Authorization": "Bearer x"})

    async with httpx.AsyncClient(timeout=30.0, trust_env=False, limits=limits) as http:
        started = time.monotonic()
        for start in range(0, n, fcm.BATCH_SIZE):
            replies = await asyncio.gather(*(post(http) for _ in range(start, min(n, start + fcm.BATCH_SIZE))))
            if any(r.status_code != 200 for r in replies):
                raise RuntimeError(f"the fake answered {sorted({r.status_code for r in replies})}")
        return n / (time.monotonic() - started)


async def throughput(agency_id: int, users: list[int], url: str) -> tuple[float, int]:
    from asgiref.sync import sync_to_async

    from apps.delivery.models import Delivery
    from apps.delivery.services import alerts_send_due

    push_id = await sync_to_async(_push)(agency_id, users)
    async with http_client() as http:
        before = await fake_received(http, url)
        due = Delivery.objects.filter(push_id=push_id, alert_sent_at__isnull=True, failed_at__isnull=True)
        started = time.monotonic()
        # Until every recipient is sent or failed (a batch that only failed returns 0), at most 5 minutes.
        while await sync_to_async(due.exists)() and time.monotonic() - started < 300:
            await sync_to_async(alerts_send_due)()
        elapsed = time.monotonic() - started
        received = await fake_received(http, url) - before
    sent = await sync_to_async(Delivery.objects.filter(push_id=push_id, alert_sent_at__isnull=False).count)()
    if sent != len(users):
        print(f"  warning: {sent} of {len(users)} recipients marked sent", file=sys.stderr)
    return received / elapsed, received


async def fallback(agency_id: int, user_id: int, token: str, port: int, url: str, rounds: int) -> Stats:
    from asgiref.sync import sync_to_async

    client = StreamClient(token=token, port=port, ack=False)
    samples = []
    async with http_client() as http:
        await client.connect()
        for _ in range(rounds):
            before_events, before_fcm = len(client.events), await fake_received(http, url)
            await sync_to_async(_push)(agency_id, [user_id])
            if not await client.wait_for(before_events + 1, 10):
                raise RuntimeError("the event never reached the socket")
            arrived = client.events[before_events].at
            deadline = time.monotonic() + ACK_TIMEOUT_S + 10
            while await fake_received(http, url) == before_fcm:
                if time.monotonic() > deadline:
                    raise RuntimeError("no push alert reached the fake FCM")
                await asyncio.sleep(0.01)
            samples.append(time.monotonic() - arrived)
        await client.close()
    return Stats(samples)


async def run_async(args: argparse.Namespace, stack: Stack, url: str) -> tuple[float, float]:
    from asgiref.sync import sync_to_async

    agency_id, users, token = await sync_to_async(seed)(args.recipients)
    print(f"seeded {len(users)} officers with a phone and a push token each", file=sys.stderr)
    base = await baseline(url, args.recipients)
    rate, received = await throughput(agency_id, users[1:], url)
    web = stack.daphne(wait=False)
    stack.dispatcher(wait=False)
    stack.ready()
    late = await fallback(agency_id, users[0], token, web.port or 0, url, args.rounds)

    print(f"push alerts: {received} messages to the fake FCM (its own process, HTTP/1.1 on 127.0.0.1)")
    print(f"  alerts_send_due -> firebase-admin send_each_async:  {rate:8.0f} msgs/s")
    print(f"  baseline, plain httpx straight to the fake:        {base:8.0f} msgs/s  (ratio {rate / base:.2f})")
    print(f"  target >= {TARGET_MSGS_PER_S:.0f} msgs/s: {'met' if rate >= TARGET_MSGS_PER_S else 'NOT met'}")
    print(f"fallback after a missed ack (ack timeout {ACK_TIMEOUT_S} s, dispatcher polling every 0.2 s), "
          f"socket arrival -> FCM, {len(late.samples)} rounds:")
    print(f"  median {late.median:.2f} s, max {late.max:.2f} s; target <= {ACK_TIMEOUT_S + 1} s: "
          f"{'met' if late.max <= ACK_TIMEOUT_S + 1 else 'NOT met'}")
    return rate, late.max


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=3000, help="due recipients with a token, default 3,000")
    parser.add_argument("--rounds", type=int, default=3, help="fallback measurements, default 3")
    parser.add_argument("--keep", action="store_true",
                        help=f"leave the {BENCH_DB} database and the process logs in place")
    args = parse_args(parser, smoke=dict(recipients=50, rounds=1))

    url = server_url()
    rate, late = float("nan"), float("nan")
    with fresh_database(url, BENCH_DB, keep=args.keep):
        stack = Stack(database_url=with_database(url, BENCH_DB), keep_logs=args.keep,
                      wake_channel=f"rtcc-bench-push-{secrets.token_hex(4)}.wake",
                      extra_env={"RTCC_DELIVERY_ACK_TIMEOUT_SECONDS": str(ACK_TIMEOUT_S)})
        try:
            stack.redis()
            _, fcm_url = stack.fake_fcm()
            os.environ.update({"REDIS_URL": stack.redis_url, "RTCC_DELIVERY_WAKE_CHANNEL": stack.wake_channel,
                               "RTCC_SECRET_KEY": stack.secret_key, "RTCC_FCM_PROJECT_ID": PROJECT,
                               "RTCC_FCM_ENDPOINT": fcm_url,
                               "RTCC_DELIVERY_ACK_TIMEOUT_SECONDS": str(ACK_TIMEOUT_S)})
            os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
            with django_on(url, BENCH_DB):
                from apps.delivery.services import recipient_filter_register

                logging.getLogger("httpx").setLevel(logging.WARNING)
                logging.getLogger("apps.delivery.fcm").setLevel(logging.WARNING)
                # The bench's own object type: every candidate may receive it (the dispatcher never resolves it).
                recipient_filter_register("bench.alert", lambda object_id, users: users)
                rate, late = asyncio.run(run_async(args, stack, fcm_url))
        finally:
            stack.close()
    print(f"push msgs_per_s={rate:.0f} fallback_s={late:.2f}")


if __name__ == "__main__":
    main()
