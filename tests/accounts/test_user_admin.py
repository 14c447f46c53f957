from __future__ import annotations

from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from tests.base import World, signed_in_client

STRONG = "lantern-orchard-47-quiet"


def test_abe_opens_an_account_for_a_new_officer_who_can_then_sign_in(world: World) -> None:
    response = signed_in_client(world.abe).post(
        "/api/v1/users", {"username": "olive", "role": "officer", "password": STRONG}, format="json")
    assert response.status_code == 201
    olive = User.objects.get(username="olive")
    assert olive.agency_id == world.agency.pk
    assert "password" not in response.json()
    signed = APIClient().post("/api/v1/auth/login", {
        "username": "olive", "password": STRONG,
        "device": {"name": "Olive's phone", "kind": "phone", "platform": "ios"}}, format="json")
    assert signed.status_code == 201


def test_a_weak_password_or_taken_username_is_refused_and_nothing_is_created(world: World) -> None:
    client = signed_in_client(world.abe)
    weak = client.post("/api/v1/users", {"username": "olive", "role": "officer", "password": "12345"}, format="json")
    assert weak.status_code == 400
    assert weak.json()["code"] == "weak_password"
    taken = client.post("/api/v1/users", {"username": "omar", "role": "officer", "password": STRONG}, format="json")
    assert taken.json()["code"] == "username_taken"
    assert not User.objects.filter(username="olive").exists()


def test_only_an_administrator_opens_accounts(world: World) -> None:
    for user in (world.sam, world.ava, world.omar, world.aud, world.xavier):
        response = signed_in_client(user).post(
            "/api/v1/users", {"username": "olive", "role": "officer", "password": STRONG}, format="json")
        assert response.status_code == 404, user.username
    assert not User.objects.filter(username="olive").exists()


def test_changing_omars_role_ends_his_sessions_and_is_audited(world: World) -> None:
    omar = signed_in_client(world.omar)
    response = signed_in_client(world.abe).post(f"/api/v1/users/{world.omar.pk}/role", {"role": "analyst"},
                                                format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "analyst"
    assert omar.get("/api/v1/me").status_code == 401
    event = AuditEvent.objects.get(action=AuditEvent.Action.PERMISSION_GRANTED, object_type="accounts.user",
                                   object_id=str(world.omar.pk))
    assert event.detail == {"role_from": "officer", "role_to": "analyst"}


def test_abe_cannot_touch_another_agencys_user(world: World) -> None:
    response = signed_in_client(world.abe).post(f"/api/v1/users/{world.xavier.pk}/role", {"role": "analyst"},
                                                format="json")
    assert response.status_code == 404
    world.xavier.refresh_from_db()
    assert world.xavier.role == "officer"
