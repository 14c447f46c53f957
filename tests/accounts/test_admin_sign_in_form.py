"""The admin's sign-in page: it asks for the code the server requires, and says why it refused."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from tests.base import PASSWORD, World, current_code

REFUSED = "Sign-in failed. Check your username, password and code"


def _post(username: str, code: str) -> str:
    response = Client().post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD,
                                                            "code": code})
    assert response.status_code == 200  # the form again, not a redirect into the admin
    return response.content.decode()


def test_the_sign_in_page_asks_for_username_password_and_authenticator_code(world: World) -> None:
    page = Client().get("/admin/login/").content.decode()
    for name in ('name="username"', 'name="password"', 'name="code"', 'autocomplete="one-time-code"'):
        assert name in page
    assert "5 failed sign-ins in a row lock the account" in page


def test_a_wrong_code_is_refused_with_the_sign_in_message_and_counted(world: World) -> None:
    right = current_code(world.abe)
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    page = _post("abe", wrong)
    assert REFUSED in page
    assert wrong not in page  # the form comes back asking for the next code
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_FAILURE, actor=world.abe).count() == 1


def test_a_locked_administrator_is_refused_and_the_audit_says_locked(world: World) -> None:
    world.abe.locked_at = timezone.now()
    world.abe.save(update_fields=["locked_at"])
    assert REFUSED in _post("abe", current_code(world.abe))
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILURE, actor=world.abe,
                                     detail__reason="locked", detail__channel="admin").exists()
