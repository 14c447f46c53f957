"""Device sessions: idle and shift limits, logout, revoking a lost device, disabling a user."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Device, DeviceSession
from apps.audit.models import AuditEvent
from tests.accounts.signin import client_for, login, sign_in
from tests.base import World, signed_in_client


def _assert_refused(client, code: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/me")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code
    assert response.json()["fields"] == {}
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_session_idle_for_31_minutes_answers_session_idle(world: World) -> None:
    token = sign_in(world.omar)
    DeviceSession.objects.filter(device__user=world.omar).update(
        last_used_at=timezone.now() - timedelta(minutes=31))

    _assert_refused(client_for(token), "session_idle")
    _assert_refused(client_for(token), "session_ended")  # and it stays ended


def test_a_session_used_29_minutes_ago_still_works_and_is_kept_alive(world: World) -> None:
    token = sign_in(world.omar)
    DeviceSession.objects.filter(device__user=world.omar).update(
        last_used_at=timezone.now() - timedelta(minutes=29))

    assert client_for(token).get("/api/v1/me").status_code == 200
    session = DeviceSession.objects.get(device__user=world.omar)
    assert timezone.now() - session.last_used_at < timedelta(minutes=1)


def test_a_session_past_its_shift_lifetime_answers_session_expired(world: World) -> None:
    token = sign_in(world.omar)
    session = DeviceSession.objects.get(device__user=world.omar)
    assert session.expires_at - session.created_at == timedelta(hours=12)
    DeviceSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    _assert_refused(client_for(token), "session_expired")


def test_logout_ends_the_token(world: World) -> None:
    client = client_for(sign_in(world.omar))

    assert client.post("/api/v1/auth/logout").status_code == 204

    _assert_refused(client, "session_ended")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_REVOKED, actor=world.omar,
                                     detail={"reason": "logout"}).exists()


def test_a_made_up_token_is_refused(world: World) -> None:
    _assert_refused(client_for("not-a-token-anyone-was-given"), "session_ended")


def test_a_request_without_a_token_is_refused(world: World) -> None:
    response = APIClient().get("/api/v1/me")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "fields"}


def test_omar_revokes_his_lost_phone_and_his_terminal_keeps_working(world: World) -> None:
    phone = client_for(sign_in(world.omar, name="Omar's phone"))
    terminal = client_for(sign_in(world.omar, name="Car 2A12 terminal", kind="terminal", platform="web"))
    phone_id = phone.get("/api/v1/me").json()["device_id"]

    response = terminal.post(f"/api/v1/devices/{phone_id}/revoke")

    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    _assert_refused(phone, "session_ended")
    assert terminal.get("/api/v1/me").status_code == 200


def test_administrator_abe_revokes_omars_phone_at_once(world: World) -> None:
    phone = client_for(sign_in(world.omar, name="Omar's phone"))
    terminal = client_for(sign_in(world.omar, name="Car 2A12 terminal", kind="terminal", platform="web"))
    assert phone.get("/api/v1/me").status_code == 200
    phone_id = Device.objects.get(user=world.omar, name="Omar's phone").pk

    response = signed_in_client(world.abe).post(f"/api/v1/devices/{phone_id}/revoke")

    assert response.status_code == 200
    _assert_refused(phone, "session_ended")
    assert terminal.get("/api/v1/me").status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.DEVICE_REVOKED)
    assert (event.actor_id, event.object_id, event.detail) == (world.abe.pk, str(phone_id), {"owner_id": world.omar.pk})


def test_nobody_else_can_revoke_omars_device(world: World) -> None:
    phone = client_for(sign_in(world.omar))
    phone_id = phone.get("/api/v1/me").json()["device_id"]

    for user in (world.ava, world.sam, world.aud, world.xavier):
        response = signed_in_client(user).post(f"/api/v1/devices/{phone_id}/revoke")
        assert response.status_code == 404
        assert response.json()["code"] == "device_not_found"
    assert phone.get("/api/v1/me").status_code == 200


def test_abe_disabling_omar_stops_every_token_of_his_at_once(world: World) -> None:
    phone = client_for(sign_in(world.omar, name="Omar's phone"))
    terminal = client_for(sign_in(world.omar, name="Car 2A12 terminal", kind="terminal", platform="web"))

    response = signed_in_client(world.abe).post(f"/api/v1/users/{world.omar.pk}/active", {"is_active": False},
                                                format="json")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    _assert_refused(phone, "session_ended")
    _assert_refused(terminal, "session_ended")
    assert login("omar").json()["code"] == "invalid_credentials"
    assert not DeviceSession.objects.filter(device__user=world.omar, ended_at=None).exists()


def test_re_enabling_omar_does_not_bring_old_tokens_back(world: World) -> None:
    phone = client_for(sign_in(world.omar))
    abe = signed_in_client(world.abe)
    abe.post(f"/api/v1/users/{world.omar.pk}/active", {"is_active": False}, format="json")

    abe.post(f"/api/v1/users/{world.omar.pk}/active", {"is_active": True}, format="json")

    _assert_refused(phone, "session_ended")
    assert login("omar").status_code == 201


def test_no_token_or_push_token_ever_appears_in_the_audit_trail(world: World) -> None:
    push_token = "fcm-registration-token-omar-phone-0123456789"
    tokens = [sign_in(world.omar, push_token=push_token), sign_in(world.ava), sign_in(world.abe)]
    omar = client_for(tokens[0])
    omar.get("/api/v1/cases")
    omar.get(f"/api/v1/cases/{world.case.pk}")
    omar.patch("/api/v1/me/device", {"push_token": push_token + "-rotated"}, format="json")
    omar.post("/api/v1/auth/logout")

    rows = json.dumps(list(AuditEvent.objects.values()), default=str)

    assert AuditEvent.objects.count() > 10
    for token in tokens:
        assert token not in rows
    assert push_token not in rows


def test_the_device_list_never_returns_push_tokens(world: World) -> None:
    push_token = "fcm-registration-token-omar-phone-0123456789"
    client = client_for(sign_in(world.omar, push_token=push_token))
    sign_in(world.omar, name="Car 2A12 terminal", kind="terminal", platform="web")

    own = client.get("/api/v1/devices")
    as_admin = signed_in_client(world.abe).get("/api/v1/devices", {"user": world.omar.pk})

    for response in (own, as_admin):
        assert response.status_code == 200
        assert push_token not in response.content.decode()
        by_name = {d["name"]: d for d in response.json()}
        assert by_name["Omar's phone"]["has_push_token"] is True
        assert by_name["Car 2A12 terminal"]["has_push_token"] is False
        assert all("push_token" not in d for d in response.json())
    patched = client.patch("/api/v1/me/device", {"push_token": push_token + "-rotated"}, format="json")
    assert patched.status_code == 200
    assert push_token not in patched.content.decode()
