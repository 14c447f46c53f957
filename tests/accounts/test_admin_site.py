from __future__ import annotations

from django.test import Client

from apps.audit.models import AuditEvent
from apps.calls.models import CadTypeMapping
from tests.base import PASSWORD, World, current_code

LIST_URL = "/admin/calls/cadtypemapping/"


def _sign_in(user, code: str | None = None) -> Client:  # type: ignore[no-untyped-def]
    if code is None:
        code = current_code(user) if user.mfa_secret else "000000"
    client = Client()
    client.post("/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD, "code": code})
    return client


def test_abe_signs_in_with_password_and_code_and_edits_his_agencys_cad_types(world: World) -> None:
    CadTypeMapping.objects.create(agency=world.other_agency, code="OTHER-ONLY", category="other")
    abe = _sign_in(world.abe)
    assert abe.get(LIST_URL).status_code == 200
    response = abe.post("/admin/calls/cadtypemapping/add/",
                        {"code": "SUICIDAL PERSON", "description": "", "category": "mental_health", "priority": 2})
    assert response.status_code == 302
    mapping = CadTypeMapping.objects.get(code="SUICIDAL PERSON")
    assert mapping.agency_id == world.agency.pk
    assert AuditEvent.objects.filter(action="create", object_type="calls.cadtypemapping",
                                     object_id=str(mapping.pk), actor=world.abe).exists()
    assert b"OTHER-ONLY" not in abe.get(LIST_URL).content


def test_a_password_without_the_code_does_not_open_the_admin(world: World) -> None:
    client = _sign_in(world.abe, code="000000")
    assert client.get(LIST_URL).status_code == 302  # back to the login page
    assert AuditEvent.objects.filter(action="login.mfa_failure", actor=world.abe).exists()


def test_only_administrators_get_in(world: World) -> None:
    for user in (world.ava, world.sam, world.aud, world.omar, world.cora):
        client = _sign_in(user)
        assert client.get(LIST_URL).status_code == 302, user.username


def test_five_wrong_admin_sign_ins_lock_abe_like_the_api(world: World) -> None:
    for _ in range(5):
        Client().post("/admin/login/", {"username": "abe", "password": "wrong", "code": "123456"})
    world.abe.refresh_from_db()
    assert world.abe.locked_at is not None
    assert _sign_in(world.abe).get(LIST_URL).status_code == 302
