"""Sign-in as a phone does it: through the HTTP API, with real TOTP codes."""

from __future__ import annotations

from typing import Any

import pyotp
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient

from apps.accounts.models import User
from tests.base import PASSWORD, current_code

LOGIN = "/api/v1/auth/login"
MFA = "/api/v1/auth/mfa"


def device(name: str = "Omar's phone", kind: str = "phone", platform: str = "android", **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "platform": platform, **extra}


def login(username: str, password: str = PASSWORD, **device_fields: Any) -> Response:
    return APIClient().post(LOGIN, {"username": username, "password": password, "device": device(**device_fields)},
                            format="json")


def mfa(challenge: str, code: str) -> Response:
    return APIClient().post(MFA, {"challenge": challenge, "code": code}, format="json")


def sign_in(user: User, **device_fields: Any) -> str:
    """A full sign-in (password, then a code where the role needs one); the bearer token."""
    response = login(user.username, **device_fields)
    if response.status_code == 202:
        user.refresh_from_db()
        response = mfa(response.json()["challenge"], current_code(user))
    assert response.status_code == 201, response.content
    return str(response.json()["token"])


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def wrong_code(user: User) -> str:
    """Six digits that are not the code of this, the previous or the next 30 s step."""
    totp = pyotp.TOTP(user.mfa_secret)
    now = timezone.now()
    valid = {totp.at(now.timestamp() + 30 * offset) for offset in (-2, -1, 0, 1, 2)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in valid)
