"""Signing in: a password for officers, a password and a TOTP code for the center's roles."""

from __future__ import annotations

import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from django.core import signing
from rest_framework.test import APIClient

from apps.accounts.models import DeviceSession
from apps.accounts.services import token_hash
from tests.accounts.signin import client_for, login, mfa, wrong_code
from tests.base import World, current_code


def test_officer_omar_signs_in_with_his_password_alone_and_his_token_works(world: World) -> None:
    response = login("omar")

    assert response.status_code == 201
    body = response.json()
    assert body["user"]["username"] == "omar"
    assert body["idle_timeout_seconds"] == 30 * 60
    me = client_for(body["token"]).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "omar"
    assert me.json()["device_id"] == body["device_id"]
    assert [u["call_sign"] for u in me.json()["units_on_shift"]] == ["2A12"]


def test_analyst_ava_gets_a_challenge_and_her_current_code_completes_sign_in(world: World) -> None:
    response = login("ava", name="Ava's desktop", kind="desktop", platform="web")

    assert response.status_code == 202
    body = response.json()
    assert body["mfa_required"] is True
    assert body["enrolment"] is None  # already enrolled: no secret is shown again
    assert "token" not in body

    done = mfa(body["challenge"], current_code(world.ava))
    assert done.status_code == 201
    assert client_for(done.json()["token"]).get("/api/v1/me").json()["username"] == "ava"


def test_a_password_alone_never_gives_ava_a_token(world: World) -> None:
    login("ava")
    assert not DeviceSession.objects.filter(device__user=world.ava).exists()


def test_a_code_that_was_already_used_is_refused_the_second_time(world: World) -> None:
    code = current_code(world.ava)
    first = mfa(login("ava").json()["challenge"], code)
    assert first.status_code == 201

    replay = mfa(login("ava").json()["challenge"], code)

    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_credentials"
    assert "token" not in replay.json()


def test_a_wrong_code_is_refused(world: World) -> None:
    response = mfa(login("ava").json()["challenge"], wrong_code(world.ava))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


@pytest.mark.parametrize("challenge", ["not-a-challenge", ""], ids=["garbled", "empty"])
def test_a_garbled_challenge_is_refused(world: World, challenge: str) -> None:
    response = mfa(challenge, current_code(world.ava))
    if challenge == "":
        # An empty challenge is a missing field, not a sign-in attempt.
        assert response.status_code == 400
        assert "challenge" in response.json()["fields"]
        return
    assert response.status_code == 401
    assert response.json()["code"] == "mfa_challenge_invalid"


def test_a_tampered_challenge_is_refused(world: World) -> None:
    challenge = login("ava").json()["challenge"]
    tampered = challenge[:-3] + ("AAA" if not challenge.endswith("AAA") else "BBB")
    response = mfa(tampered, current_code(world.ava))
    assert response.status_code == 401
    assert response.json()["code"] == "mfa_challenge_invalid"


def test_a_challenge_older_than_five_minutes_is_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    challenge = login("ava").json()["challenge"]
    later = time.time() + 5 * 60 + 1
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: later))

    response = mfa(challenge, current_code(world.ava))

    assert response.status_code == 401
    assert response.json()["code"] == "mfa_challenge_invalid"


def test_a_code_in_non_ascii_digits_is_a_wrong_code_not_a_crash(world: World) -> None:
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in current_code(world.ava))
    response = mfa(login("ava").json()["challenge"], arabic_indic)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_first_sign_in_of_an_unenrolled_analyst_enrols_her_authenticator(world: World) -> None:
    ava = world.ava
    ava.mfa_secret = ""
    ava.mfa_enabled = False
    ava.save()

    response = login("ava")

    assert response.status_code == 202
    enrolment = response.json()["enrolment"]
    secret = enrolment["secret"]
    uri = urlparse(enrolment["otpauth_uri"])
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [secret]
    assert parse_qs(uri.query)["issuer"] == ["RTCC Relay"]
    ava.refresh_from_db()
    assert ava.mfa_enabled is False  # shown a secret is not enrolled: a code must prove it

    done = mfa(response.json()["challenge"], pyotp.TOTP(secret).now())

    assert done.status_code == 201
    assert done.json()["user"]["mfa_enabled"] is True
    ava.refresh_from_db()
    assert ava.mfa_enabled is True


def test_once_enrolled_the_secret_is_never_shown_again(world: World) -> None:
    ava = world.ava
    ava.mfa_secret = ""
    ava.mfa_enabled = False
    ava.save()
    first = login("ava").json()
    mfa(first["challenge"], pyotp.TOTP(first["enrolment"]["secret"]).now())

    again = login("ava")

    assert again.status_code == 202
    assert again.json()["enrolment"] is None


def test_an_unknown_username_and_a_wrong_password_get_byte_identical_answers(world: World) -> None:
    unknown = login("nobody-here", "whatever password")
    wrong = login("omar", "not his password at all")

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.content == wrong.content
    assert unknown.json()["code"] == "invalid_credentials"


def test_the_token_is_stored_only_as_a_hash(world: World) -> None:
    token = login("omar").json()["token"]
    session = DeviceSession.objects.get(device__user=world.omar)
    assert session.token_hash == token_hash(token)
    assert token not in session.token_hash


@pytest.mark.parametrize(
    ("body", "bad_fields"),
    [
        ({}, {"username", "password", "device"}),
        ({"username": ["omar"], "password": 12, "device": {"name": "x", "kind": "phone", "platform": "android"}},
         {"username"}),
        ({"username": "omar", "password": "p", "device": "my phone"}, {"device.non_field_errors"}),
        ({"username": "omar", "password": "p", "device": {"name": "x", "kind": "toaster", "platform": "android"}},
         {"device.kind"}),
        ({"username": "u" * 151, "password": "p", "device": {"name": "x", "kind": "phone", "platform": "ios"}},
         {"username"}),
    ],
    ids=["empty", "username-as-list", "device-as-text", "unknown-device-kind", "username-too-long"],
)
def test_a_malformed_login_body_gets_400_naming_the_fields(world: World, body: dict[str, object],
                                                           bad_fields: set[str]) -> None:
    response = APIClient().post("/api/v1/auth/login", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == bad_fields
    # One flat map of dotted names to messages, however deep the field: what the schema's Error says.
    assert all(isinstance(m, list) and all(isinstance(t, str) for t in m) for m in response.json()["fields"].values())
    assert not DeviceSession.objects.exists()
