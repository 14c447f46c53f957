"""What each fault test sets up: officers with device sessions, a briefed call, and pushes through the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from apps.accounts.models import User
from apps.accounts.services import DeviceInfo, session_issue
from apps.briefings.services import briefing_assemble
from apps.calls.models import Call
from apps.delivery.models import Delivery, Event, Push
from tests.base import World, make_user
from tests.briefings.helpers import make_call
from tests.harness.client import StreamClient


@dataclass
class Officer:
    user: User
    token: str
    device_id: int


def officer_sessions(world: World, count: int, *, push_token: str = "") -> list[Officer]:
    """Omar and count-1 more officers of Demo City, each signed in on one phone."""
    users = [world.omar] + [make_user(f"officer{i:03d}", "officer", world.agency) for i in range(1, count)]
    officers = []
    for user in users:
        info = DeviceInfo(name=f"{user.username}'s phone", kind="phone", platform="android",
                          push_token=f"{push_token}{user.pk}" if push_token else "")
        issued = session_issue(user=user, device_info=info, ip="127.0.0.1")
        officers.append(Officer(user=user, token=issued.token, device_id=issued.session.device_id))
    return officers


def analyst_token(world: World) -> str:
    # Analysts sign in with MFA; the session is made directly, as tests/base.py does.
    info = DeviceInfo(name="Ava's desk", kind="desktop", platform="web")
    return session_issue(user=world.ava, device_info=info, ip="127.0.0.1").token


def briefed_call(world: World) -> Call:
    """A live call with a first briefing version and nobody on it yet (so no announcement goes out)."""
    call = make_call(world, event="FAULT-1")
    briefing_assemble(call_id=call.pk, reason="call_created")
    return call


def push_briefing(http: httpx.Client, port: int, token: str, call: Call, audience: dict[str, object]) -> int:
    response = http.post(f"http://127.0.0.1:{port}/api/v1/calls/{call.pk}/briefing/push",
                         json={"audience": audience}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def sync_http() -> httpx.Client:
    return httpx.Client(timeout=30.0, trust_env=False)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until check() holds; returns the seconds it took, or fails naming what never happened."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


def pushes_resolved(push_ids: list[int]) -> bool:
    return Push.objects.filter(pk__in=push_ids, state=Push.State.RESOLVED).count() == len(push_ids)


def undelivered(push_ids: list[int]) -> int:
    """Recipients neither delivered nor failed with a reason."""
    return (Delivery.objects.filter(push_id__in=push_ids, delivered_at__isnull=True)
            .exclude(failed_at__isnull=False, failure_reason__gt="").count())


def assert_each_saw_each_push_once(clients: dict[int, StreamClient], push_ids: list[int]) -> None:
    """Every client applied exactly its user's events for these pushes, in order, none twice, none missing."""
    for user_id, client in clients.items():
        assert client.duplicates == [], f"user {user_id} was shown {client.duplicates} twice"
        assert client.gaps == [], f"user {user_id} skipped offsets {client.gaps}"
        stored = list(Event.objects.filter(user_id=user_id, payload__push__in=push_ids)
                      .order_by("offset").values_list("epoch", "offset", "payload__push"))
        assert sorted(p for _, _, p in stored) == sorted(push_ids), f"user {user_id}: one event per push"
        shown = [(r.message["epoch"], r.message["offset"], r.message["payload"]["push"]) for r in client.events
                 if r.message["payload"].get("push") in push_ids]
        assert shown == stored, f"user {user_id} was shown exactly the stored events, in order"
