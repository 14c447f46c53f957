"""Push alerts as the fallback, and the single escalation of an unacknowledged briefing, timed by its priority.

FCM is the local fake (tests/fakes/fcm_server.py), which validates every body
against Google's schema; the real firebase-admin code sends to it.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from apps.accounts.models import Device
from apps.calls.models import Call, UnitAssignment
from apps.delivery.models import Delivery, Event, Push, StreamConnection
from apps.delivery.services import alerts_send_due, escalations_due
from tests.base import World, signed_in_client
from tests.briefings.helpers import full_scene
from tests.fakes.fcm_server import FakeFCM


def _phone(user: Any, token: str) -> Any:
    client = signed_in_client(user)
    assert client.patch("/api/v1/me/device", {"push_token": token}, format="json").status_code == 200
    return client


def _push_to_unit(world: World, call: Call) -> int:
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = signed_in_client(world.ava).post(f"/api/v1/calls/{call.pk}/briefing/push",
                                                    {"audience": {"kind": "unit", "ids": [world.unit.pk]}},
                                                    format="json")
    assert response.status_code == 202, response.content
    return int(response.json()["id"])


@pytest.fixture
def call(world: World, tmp_path: Any) -> Call:
    """A call with a cautioned person, a hazard and a restricted case at it; Omar's unit is not on it."""
    scene = full_scene(world, tmp_path)
    UnitAssignment.objects.filter(call=scene).delete()
    Push.objects.all().delete()  # the announcement to the unit while it was on the call
    Event.objects.all().delete()
    return scene


def test_an_officer_without_a_socket_gets_a_lock_screen_safe_alert_at_once(world: World, call: Call,
                                                                           fcm: FakeFCM) -> None:
    _phone(world.omar, "omar-token-1")
    push_id = _push_to_unit(world, call)
    assert alerts_send_due() == 1

    [received] = fcm.received()
    assert fcm.invalid() == [], "every body passes Google's schema"
    message = received.body["message"]
    assert message["token"] == "omar-token-1"
    assert message["notification"] == {"title": "Priority 2 briefing"}
    assert message["android"]["notification"]["visibility"] == "SECRET"
    assert message["android"]["priority"].upper() == "NORMAL", "high priority is for visible P1 alerts only"
    assert message["android"]["collapse_key"] == f"call-{call.pk}"
    text = json.dumps(received.body)
    for secret in ("Whitfield", "Dana", "knife", "RAINIER", "Rainier", "argument", "pit bull", call.event_number,
                   "Sealed", "26-000"):
        assert secret not in text, f"{secret!r} must never be in a push alert"
    delivery = Delivery.objects.get(push_id=push_id, user=world.omar)
    assert delivery.alert_sent_at is not None and delivery.status == "sent"
    assert alerts_send_due(now=timezone.now() + timedelta(minutes=5)) == 0, "one alert per recipient"
    assert len(fcm.received()) == 1


def test_an_open_socket_gets_the_ack_timeout_before_the_alert(world: World, call: Call, fcm: FakeFCM,
                                                               settings: Any) -> None:
    phone = _phone(world.omar, "omar-token-1")
    session_id = world.omar.devices.get().sessions.get().pk
    StreamConnection.objects.create(user=world.omar, session_id=session_id, connected_at=timezone.now())
    push_id = _push_to_unit(world, call)
    assert alerts_send_due() == 0
    later = timezone.now() + timedelta(seconds=settings.DELIVERY_ACK_TIMEOUT_SECONDS + 0.5)
    assert alerts_send_due(now=later) == 1, "no ack within the timeout: the alert goes out"

    # A second push the socket does acknowledge in time never becomes an alert.
    second = _push_to_unit(world, call)
    event = Event.objects.get(user=world.omar, payload__push=second)
    phone.post("/api/v1/stream/ack", {"epoch": event.epoch, "offset": event.offset}, format="json")
    assert alerts_send_due(now=later + timedelta(seconds=30)) == 0
    assert len(fcm.received()) == 1
    assert Delivery.objects.get(push_id=second).status == "delivered"
    first = Delivery.objects.get(push_id=push_id)
    assert first.alert_sent_at is not None and first.status == "delivered", "acks are cumulative"


def test_a_recipient_nothing_can_reach_is_failed_with_a_reason(world: World, call: Call, fcm: FakeFCM) -> None:
    push_id = _push_to_unit(world, call)  # Omar has no device with a push token
    alerts_send_due()
    delivery = Delivery.objects.get(push_id=push_id)
    assert (delivery.status, delivery.failure_reason) == ("failed", "no_push_device")
    # He connects later and acknowledges: the record shows what happened last.
    signed_in_client(world.omar).post(f"/api/v1/pushes/{push_id}/receipt", {"state": "acknowledged"},
                                      format="json")
    assert Delivery.objects.get(push_id=push_id).status == "acknowledged"


def test_a_dead_token_fails_the_alert_and_is_removed(world: World, call: Call, fcm: FakeFCM) -> None:
    _phone(world.omar, "omar-dead-token")
    fcm.reply("unregistered", token="omar-dead-token")
    push_id = _push_to_unit(world, call)
    alerts_send_due()
    delivery = Delivery.objects.get(push_id=push_id)
    assert (delivery.status, delivery.failure_reason) == ("failed", "unregistered")
    assert Device.objects.get(user=world.omar).push_token == ""


def test_a_signed_out_phone_gets_no_alert(world: World, call: Call, fcm: FakeFCM) -> None:
    phone = _phone(world.omar, "omar-token-1")
    assert phone.post("/api/v1/auth/logout").status_code in (200, 204)
    _push_to_unit(world, call)
    alerts_send_due()
    assert fcm.received() == []


def _p1(call: Call) -> None:
    Call.objects.filter(pk=call.pk).update(priority=1)


def test_an_unacknowledged_priority_1_push_escalates_to_the_supervisor_once(world: World, call: Call,
                                                                             settings: Any) -> None:
    _p1(call)
    world.unit.members_on_shift.add(world.sam)
    push_id = _push_to_unit(world, call)
    push = Push.objects.get(pk=push_id)
    assert push.escalate_at is not None
    assert escalations_due() == 0, "not before the escalation time"
    later = timezone.now() + timedelta(seconds=settings.DELIVERY_ESCALATE_SECONDS + 1)
    assert escalations_due(now=later) == 1
    assert escalations_due(now=later) == 0
    [event] = Event.objects.filter(user=world.sam, type="escalation")
    assert event.payload["escalation_of"] == push_id
    assert event.object_id == str(call.briefing.pk)
    assert Push.objects.get(escalation_of_id=push_id).deliveries.get().user == world.sam


def test_an_acknowledged_priority_1_push_does_not_escalate(world: World, call: Call, settings: Any) -> None:
    _p1(call)
    push_id = _push_to_unit(world, call)
    signed_in_client(world.omar).post(f"/api/v1/pushes/{push_id}/receipt", {"state": "acknowledged"},
                                      format="json")
    later = timezone.now() + timedelta(seconds=settings.DELIVERY_ESCALATE_SECONDS + 1)
    assert escalations_due(now=later) == 0
    assert not Event.objects.filter(type="escalation").exists()


def test_a_priority_2_push_escalates_too_after_its_own_longer_timeout(world: World, call: Call,
                                                                       settings: Any) -> None:
    world.unit.members_on_shift.add(world.sam)
    push_id = _push_to_unit(world, call)
    p1_time = timezone.now() + timedelta(seconds=settings.DELIVERY_ESCALATE_SECONDS + 1)
    assert escalations_due(now=p1_time) == 0, "a P2 waits longer than a P1"
    later = timezone.now() + timedelta(seconds=settings.DELIVERY_ESCALATE_SECONDS_BY_PRIORITY[2] + 1)
    assert escalations_due(now=later) == 1
    escalation = Push.objects.get(escalation_of_id=push_id)
    assert escalation.priority == 2, "the supervisor sees the call's own priority"
    assert escalation.deliveries.get().user == world.sam


def test_a_priority_whose_timeout_is_zero_never_escalates(world: World, call: Call, settings: Any) -> None:
    settings.DELIVERY_ESCALATE_SECONDS_BY_PRIORITY = {**settings.DELIVERY_ESCALATE_SECONDS_BY_PRIORITY, 2: 0}
    push_id = _push_to_unit(world, call)
    assert Push.objects.get(pk=push_id).escalate_at is None


# Two threads writing at once need a real server database; the embedded SQLite run serialises anyway.
@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="concurrent dispatchers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_escalate_once_and_alert_once(world: World, tmp_path: Any, fcm: FakeFCM,
                                                      settings: Any) -> None:
    scene = full_scene(world, tmp_path)
    UnitAssignment.objects.filter(call=scene).delete()
    Push.objects.all().delete()
    _p1(scene)
    world.unit.members_on_shift.add(world.sam)
    _phone(world.omar, "omar-token-1")
    _phone(world.sam, "sam-token-1")
    push_id = _push_to_unit(world, scene)
    later = timezone.now() + timedelta(seconds=settings.DELIVERY_ESCALATE_SECONDS + 1)
    barrier = threading.Barrier(2)
    results: list[tuple[int, int]] = []

    def dispatcher() -> None:
        try:
            barrier.wait(timeout=10)
            results.append((alerts_send_due(now=later), escalations_due(now=later)))
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(escalated for _, escalated in results) == 1
    assert Push.objects.filter(escalation_of_id=push_id).count() == 1
    omar_alerts = [r for r in fcm.received() if r.body["message"]["token"] == "omar-token-1"]
    assert len(omar_alerts) == 1, "one alert for Omar, whichever dispatcher claimed it"


def test_fcm_asking_to_come_back_later_reschedules_the_alert_after_retry_after(world: World, call: Call,
                                                                              fcm: FakeFCM, settings: Any) -> None:
    settings.FCM_RETRY_SECONDS = 0  # no retry inside the send: the dispatcher comes back instead
    _phone(world.omar, "omar-token-1")
    fcm.reply("quota_exceeded", token="omar-token-1", times=1, retry_after=30)
    push_id = _push_to_unit(world, call)
    assert alerts_send_due() == 0
    delivery = Delivery.objects.get(push_id=push_id)
    assert delivery.failed_at is None and delivery.alert_claimed_at is None
    assert delivery.alert_due_at is not None and delivery.alert_due_at >= timezone.now() + timedelta(seconds=25)
    assert alerts_send_due(now=timezone.now() + timedelta(seconds=10)) == 0, "not before Retry-After"
    assert alerts_send_due(now=timezone.now() + timedelta(seconds=31)) == 1
    assert Delivery.objects.get(push_id=push_id).alert_sent_at is not None
