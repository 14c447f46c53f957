"""Push alerts through the real firebase-admin code to a local fake FCM that checks Google's schema.

Only the endpoint differs from production (settings.FCM_ENDPOINT); nothing of ours is mocked.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from apps.accounts.models import Device
from apps.delivery.fcm import PushMessage, push_send, push_title
from tests.base import World
from tests.fakes.fcm_server import DiscoverySchema, FakeFCM, validate_send_request

PROJECT = "rtcc-test"
TTL = 300


@pytest.fixture(scope="module")
def fake_fcm() -> Iterator[FakeFCM]:
    # One fake for the module: the same settings keep firebase-admin's app (and its connections).
    with FakeFCM(project_id=PROJECT, hang_seconds=10) as fake:
        yield fake


@pytest.fixture
def fcm(settings: Any, fake_fcm: FakeFCM) -> FakeFCM:
    fake_fcm.reset()
    settings.FCM_PROJECT_ID = PROJECT
    settings.FCM_ENDPOINT = fake_fcm.url
    settings.FCM_CREDENTIALS_FILE = ""
    settings.FCM_TIMEOUT_SECONDS = 1
    settings.FCM_RETRY_SECONDS = 4
    settings.FCM_INTERNAL_RETRIES = 2
    return fake_fcm


def _device(user: Any, name: str, platform: str = "android", token: str | None = None) -> Device:
    return Device.objects.create(user=user, name=name, kind="phone", platform=platform,
                                 push_token=token if token is not None else f"fcm-token-{name}-0123456789")


def _message(device: Device, *, priority: int = 1, kind: str = "briefing", visible: bool = True,
             call_id: int = 123, object_id: str = "77", ttl: int = TTL) -> PushMessage:
    return PushMessage(device_id=device.pk, token=device.push_token, platform=device.platform,
                       title=push_title(priority=priority, kind=kind), kind=kind, object_id=object_id,
                       priority=priority, visible=visible, collapse_key=f"call-{call_id}", ttl_seconds=ttl,
                       data={"push_id": "9001", "offset": "42", "epoch": "e5f0c2a1"})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_push_title_says_priority_and_kind_and_nothing_else() -> None:
    assert push_title(priority=1, kind="briefing") == "Priority 1 briefing"
    assert push_title(priority=3, kind="escalation") == "Priority 3 escalation"
    with pytest.raises(ValueError):
        push_title(priority=1, kind="Armed suspect at 12 Elm St")


def test_every_body_the_fake_received_passes_the_schema_and_carries_no_case_data(
        world: World, fcm: FakeFCM) -> None:
    devices = [_device(world.omar, "omar-android"), _device(world.omar, "omar-iphone", "ios"),
               _device(world.omar, "omar-mdt", "web")]
    messages = [_message(d, visible=v, priority=p) for d in devices for v in (True, False) for p in (1, 2)]

    outcomes = push_send(messages)

    assert [o.ok for o in outcomes] == [True] * len(messages)
    received = fcm.received()
    assert len(received) == len(messages)
    assert fcm.invalid() == []
    schema = DiscoverySchema.load()
    for request in received:
        assert validate_send_request(schema, request.body) == []
        assert request.authorization.startswith("Bearer ")
    # Every string in every body is a field name, a fixed protocol value, the title or one of our ids.
    case_words = {world.person.first_name, world.person.last_name, "knife", "armed", world.case.title,
                  world.case.number, "Whitfield"}
    text = json.dumps([r.body for r in received])
    assert not any(word in text for word in case_words)
    human_text = {s for r in received for s in _strings(r.body) if " " in s}
    assert human_text == {"Priority 1 briefing", "Priority 2 briefing"}
    for request in received:
        message = request.message
        assert message["data"] == {"push_id": "9001", "offset": "42", "epoch": "e5f0c2a1", "kind": "briefing",
                                   "object_id": "77", "priority": message["data"]["priority"]}
        assert "body" not in message.get("notification", {})


def test_a_data_only_wake_up_shows_nothing(world: World, fcm: FakeFCM) -> None:
    android, iphone = _device(world.omar, "a"), _device(world.omar, "i", "ios")

    push_send([_message(android, visible=False), _message(iphone, visible=False)])

    by_token = {r.token: r.message for r in fcm.received()}
    assert "notification" not in by_token[android.push_token]
    assert "notification" not in by_token[android.push_token]["android"]
    aps = by_token[iphone.push_token]["apns"]["payload"]["aps"]
    assert aps == {"content-available": 1}
    assert by_token[iphone.push_token]["apns"]["headers"]["apns-push-type"] == "background"


def test_android_alerts_are_secret_on_the_lock_screen(world: World, fcm: FakeFCM) -> None:
    device = _device(world.omar, "omar-android")

    push_send([_message(device, priority=1), _message(device, priority=4)])

    for request in fcm.received():
        assert request.message["android"]["notification"]["visibility"] == "SECRET"


def test_high_priority_only_for_a_visible_priority_1_alert(world: World, fcm: FakeFCM) -> None:
    android, iphone, web = _device(world.omar, "a"), _device(world.omar, "i", "ios"), _device(world.omar, "w", "web")
    cases = [(1, True, "high", "10", "high"), (1, False, "normal", "5", "normal"), (2, True, "normal", "5", "normal")]
    for priority, visible, android_priority, apns_priority, urgency in cases:
        received_before = len(fcm.received())
        push_send([_message(d, priority=priority, visible=visible) for d in (android, iphone, web)])
        by_token = {r.token: r.message for r in fcm.received()[received_before:]}
        assert by_token[android.push_token]["android"]["priority"] == android_priority
        assert by_token[iphone.push_token]["apns"]["headers"]["apns-priority"] == apns_priority
        assert by_token[web.push_token]["webpush"]["headers"]["Urgency"] == urgency


def test_one_collapse_key_per_call_and_the_ttl_on_every_platform(world: World, fcm: FakeFCM) -> None:
    android, iphone, web = _device(world.omar, "a"), _device(world.omar, "i", "ios"), _device(world.omar, "w", "web")
    sent_at = time.time()

    push_send([_message(d, call_id=call_id) for d in (android, iphone, web) for call_id in (123, 456)])

    keys = []
    for request in fcm.received():
        message = request.message
        if "android" in message:
            key, ttl = message["android"]["collapse_key"], message["android"]["ttl"]
            assert message["android"]["notification"]["tag"] == key
            assert ttl == f"{TTL}s"
        elif "apns" in message:
            key = message["apns"]["headers"]["apns-collapse-id"]
            assert sent_at + TTL - 2 <= int(message["apns"]["headers"]["apns-expiration"]) <= time.time() + TTL
        else:
            key = message["webpush"]["headers"]["Topic"]
            assert message["webpush"]["headers"]["TTL"] == str(TTL)
        keys.append(key)
    assert sorted(keys) == ["call-123"] * 3 + ["call-456"] * 3


@pytest.mark.parametrize(("reply", "error"), [("unregistered", "unregistered"),
                                              ("sender_id_mismatch", "sender_id_mismatch"),
                                              ("invalid_token", "invalid_token")])
def test_a_dead_token_is_cleared(world: World, fcm: FakeFCM, reply: str, error: str) -> None:
    dead, alive = _device(world.omar, "dead"), _device(world.omar, "alive")
    fcm.reply(reply, token=dead.push_token)

    outcomes = push_send([_message(dead), _message(alive)])

    assert (outcomes[0].ok, outcomes[0].error, outcomes[0].token_removed) == (False, error, True)
    assert (outcomes[1].ok, outcomes[1].error, outcomes[1].token_removed) == (True, None, False)
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.push_token == ""
    assert alive.push_token != ""


def test_invalid_argument_in_another_field_keeps_the_token(world: World, fcm: FakeFCM) -> None:
    device = _device(world.omar, "omar-android")
    fcm.reply("invalid_field", token=device.push_token)

    [outcome] = push_send([_message(device)])

    assert (outcome.ok, outcome.error, outcome.token_removed) == (False, "invalid_argument", False)
    device.refresh_from_db()
    assert device.push_token.startswith("fcm-token-")


def test_a_token_rotated_while_sending_is_not_cleared(world: World, fcm: FakeFCM) -> None:
    device = _device(world.omar, "omar-android")
    old = _message(device)
    fcm.reply("unregistered", token=device.push_token)
    Device.objects.filter(pk=device.pk).update(push_token="fcm-token-rotated-by-the-os")

    [outcome] = push_send([old])

    assert (outcome.error, outcome.token_removed) == ("unregistered", False)
    device.refresh_from_db()
    assert device.push_token == "fcm-token-rotated-by-the-os"


@pytest.mark.parametrize("reply", ["unavailable", "quota_exceeded"])
def test_retry_after_is_honoured(world: World, fcm: FakeFCM, reply: str) -> None:
    busy, calm = _device(world.omar, "busy"), _device(world.omar, "calm")
    fcm.reply(reply, token=busy.push_token, times=1, retry_after=1)

    started = time.monotonic()
    outcomes = push_send([_message(busy), _message(calm)])
    elapsed = time.monotonic() - started

    assert [o.ok for o in outcomes] == [True, True]
    assert 1.0 <= elapsed < 3.0
    attempts = [r for r in fcm.received() if r.token == busy.push_token]
    assert [r.reply for r in attempts] == [reply, "ok"]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert len([r for r in fcm.received() if r.token == calm.push_token]) == 1


def test_a_retry_after_longer_than_the_budget_is_reported_not_waited(world: World, fcm: FakeFCM) -> None:
    device = _device(world.omar, "omar-android")
    fcm.reply("quota_exceeded", token=device.push_token, retry_after=60)

    started = time.monotonic()
    [outcome] = push_send([_message(device)])

    assert time.monotonic() - started < 1.5
    assert (outcome.ok, outcome.error, outcome.retry_after_s, outcome.token_removed) == (
        False, "quota_exceeded", 60.0, False)
    assert len(fcm.received()) == 1


def test_503_without_retry_after_backs_off_and_stops_within_the_budget(world: World, fcm: FakeFCM) -> None:
    device = _device(world.omar, "omar-android")
    fcm.reply("unavailable", token=device.push_token)

    started = time.monotonic()
    [outcome] = push_send([_message(device)])

    assert time.monotonic() - started < 4 + 1
    assert (outcome.ok, outcome.error) == (False, "unavailable")
    assert outcome.retry_after_s is not None
    assert 2 <= len(fcm.received()) <= 4


def test_500_is_retried_twice_with_backoff_then_fails_with_a_reason(world: World, fcm: FakeFCM) -> None:
    device = _device(world.omar, "omar-android")
    fcm.reply("internal", token=device.push_token)

    started = time.monotonic()
    [outcome] = push_send([_message(device)])
    elapsed = time.monotonic() - started

    assert (outcome.ok, outcome.error, outcome.token_removed) == (False, "internal", False)
    attempts = fcm.received()
    assert len(attempts) == 3  # once, then two retries: firebase-admin's own retries are off
    assert attempts[1].at - attempts[0].at >= 0.5
    assert attempts[2].at - attempts[1].at >= 1.0
    assert 1.5 <= elapsed < 3.5


def test_500_once_then_success_is_a_success(world: World, fcm: FakeFCM) -> None:
    device = _device(world.omar, "omar-android")
    fcm.reply("internal", token=device.push_token, times=1)

    [outcome] = push_send([_message(device)])

    assert outcome.ok and outcome.message_id
    assert [r.reply for r in fcm.received()] == ["internal", "ok"]


def test_a_hanging_fcm_gives_timeout_within_the_bound(world: World, fcm: FakeFCM) -> None:
    hung, fine = _device(world.omar, "hung"), _device(world.omar, "fine")
    fcm.reply("hang", token=hung.push_token)

    started = time.monotonic()
    outcomes = push_send([_message(hung), _message(fine)])
    elapsed = time.monotonic() - started

    assert (outcomes[0].ok, outcomes[0].error, outcomes[0].token_removed) == (False, "timeout", False)
    assert outcomes[1].ok
    assert elapsed < 1 + 1.5  # the 1 s timeout, once: a timeout is not retried
    hung.refresh_from_db()
    assert hung.push_token != ""


def test_a_hanging_fcm_fails_a_whole_batch_within_one_timeout(world: World, fcm: FakeFCM) -> None:
    # More messages than push_send keeps in flight: the ones still waiting for a turn must not each
    # wait for the hung ones and then hang themselves, one timeout per handful.
    devices = [_device(world.omar, f"hung-{i}") for i in range(12)]
    fcm.reply("hang")

    started = time.monotonic()
    outcomes = push_send([_message(d) for d in devices])
    elapsed = time.monotonic() - started

    assert [(o.ok, o.error) for o in outcomes] == [(False, "timeout")] * 12
    assert elapsed < 1 + 1.5  # the 1 s timeout, once
    assert all(d.push_token for d in Device.objects.filter(pk__in=[d.pk for d in devices]))


def test_more_than_500_messages_are_split_into_batches_of_500(world: World, fcm: FakeFCM, settings: Any) -> None:
    # firebase-admin refuses more than 500 messages in one send_each_async call.
    # The fake checks each of the 501 against Google's schema in one process: on a slow machine the last
    # answers came after the suite's 2 s timeout. This test is about the batches, not the clock.
    settings.FCM_TIMEOUT_SECONDS = 30
    device = _device(world.omar, "omar-android")
    messages = [_message(device, object_id=str(i)) for i in range(501)]

    outcomes = push_send(messages)

    assert [o.ok for o in outcomes] == [True] * 501
    assert sorted(int(r.message["data"]["object_id"]) for r in fcm.received()) == list(range(501))
    assert len({o.message_id for o in outcomes}) == 501


def test_without_fcm_configuration_nothing_is_sent(world: World, settings: Any) -> None:
    settings.FCM_PROJECT_ID = ""
    settings.FCM_ENDPOINT = ""
    settings.FCM_CREDENTIALS_FILE = ""
    device = _device(world.omar, "omar-android")

    [outcome] = push_send([_message(device)])

    assert (outcome.ok, outcome.error, outcome.token_removed) == (False, "push_disabled", False)
    assert Device.objects.get(pk=device.pk).push_token != ""


def test_a_device_without_a_token_is_reported_not_sent(world: World, fcm: FakeFCM) -> None:
    device = _device(world.omar, "no-token", token="")

    [outcome] = push_send([_message(device)])

    assert (outcome.ok, outcome.error) == (False, "no_token")
    assert fcm.received() == []


@pytest.mark.parametrize("change", [
    {"title": "Armed suspect at 12 Elm St"},
    {"data": {"note": "suspect armed with knife"}},
    {"object_id": "Dana Whitfield"},
])
def test_anything_that_could_carry_case_text_is_refused_before_sending(
        world: World, fcm: FakeFCM, change: dict[str, Any]) -> None:
    message = _message(_device(world.omar, "omar-android"))

    with pytest.raises(ValueError):
        push_send([PushMessage(**{**message.__dict__, **change})])

    assert fcm.received() == []


def test_logs_name_devices_never_tokens(world: World, fcm: FakeFCM, caplog: pytest.LogCaptureFixture) -> None:
    devices = [_device(world.omar, name) for name in ("a", "b", "c")]
    fcm.reply("unregistered", token=devices[0].push_token)
    fcm.reply("invalid_field", token=devices[1].push_token)
    tokens = [d.push_token for d in devices]

    with caplog.at_level(logging.DEBUG):
        push_send([_message(d) for d in devices])

    assert f"device {devices[0].pk}" in caplog.text
    assert not any(token in caplog.text for token in tokens)
