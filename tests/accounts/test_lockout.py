"""Five wrong tries inside fifteen minutes lock an account (CJIS 5.9.5, AC-7)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from tests.accounts.signin import login, mfa, wrong_code
from tests.base import World, current_code, signed_in_client

WRONG = "not the right password"


def _fail_five_times(username: str) -> None:
    for _ in range(5):
        assert login(username, WRONG).json()["code"] == "invalid_credentials"


def _is_locked(user: User) -> bool:
    user.refresh_from_db()
    return user.locked_at is not None


def test_five_wrong_passwords_lock_omar_out_even_with_the_right_password(world: World) -> None:
    unknown_user_answer = login("nobody-here", WRONG)
    _fail_five_times("omar")

    response = login("omar")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response.content == unknown_user_answer.content  # the answer does not say "locked"
    assert _is_locked(world.omar)


def test_four_wrong_passwords_then_the_right_one_sign_omar_in_and_reset_the_count(world: World) -> None:
    for _ in range(4):
        login("omar", WRONG)
    assert login("omar").status_code == 201
    for _ in range(4):
        login("omar", WRONG)

    assert login("omar").status_code == 201
    assert not _is_locked(world.omar)


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(world: World) -> None:
    for _ in range(3):
        login("omar", WRONG)
    User.objects.filter(pk=world.omar.pk).update(last_failed_login_at=timezone.now() - timedelta(minutes=16))
    for _ in range(3):
        login("omar", WRONG)

    assert not _is_locked(world.omar)
    assert login("omar").status_code == 201


def test_administrator_abe_releases_the_lock_and_omar_signs_in(world: World) -> None:
    _fail_five_times("omar")
    abe = signed_in_client(world.abe)

    users = abe.get("/api/v1/users").json()
    assert next(u for u in users if u["username"] == "omar")["locked"] is True

    released = abe.post(f"/api/v1/users/{world.omar.pk}/release-lock")

    assert released.status_code == 200
    assert released.json()["locked"] is False
    assert released.json()["failed_login_count"] == 0
    assert login("omar").status_code == 201


def test_releasing_an_account_that_is_not_locked_is_refused(world: World) -> None:
    response = signed_in_client(world.abe).post(f"/api/v1/users/{world.omar.pk}/release-lock")
    assert response.status_code == 400
    assert response.json()["code"] == "account_not_locked"


def test_only_an_administrator_can_release_a_lock(world: World) -> None:
    _fail_five_times("omar")
    for user in (world.sam, world.ava, world.cora, world.aud):
        response = signed_in_client(user).post(f"/api/v1/users/{world.omar.pk}/release-lock")
        assert response.status_code == 404
    assert _is_locked(world.omar)


def test_the_lock_and_its_release_are_in_the_audit_trail(world: World) -> None:
    _fail_five_times("omar")
    signed_in_client(world.abe).post(f"/api/v1/users/{world.omar.pk}/release-lock")

    locked = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_LOCKED)
    assert locked.actor_id == world.omar.pk
    assert (locked.object_type, locked.object_id) == ("accounts.user", str(world.omar.pk))
    assert locked.detail == {"consecutive_failures": 5}
    released = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_RELEASED)
    assert released.actor_id == world.abe.pk
    assert (released.object_type, released.object_id) == ("accounts.user", str(world.omar.pk))
    assert released.pk > locked.pk
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILURE, actor=world.omar).count() == 5


def test_a_timed_lock_runs_out_by_itself(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LOGIN_LOCK_SECONDS = 60
    _fail_five_times("omar")
    assert login("omar").status_code == 401  # still inside the minute

    User.objects.filter(pk=world.omar.pk).update(locked_at=timezone.now() - timedelta(seconds=61))

    assert login("omar").status_code == 201
    assert not _is_locked(world.omar)


def test_after_a_timed_lock_runs_out_five_more_wrong_passwords_lock_again(world: World,  # type: ignore[no-untyped-def]
                                                                         settings) -> None:
    settings.LOGIN_LOCK_SECONDS = 60
    _fail_five_times("omar")
    User.objects.filter(pk=world.omar.pk).update(locked_at=timezone.now() - timedelta(seconds=61))

    _fail_five_times("omar")

    assert login("omar").status_code == 401
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_LOCKED).count() == 2


def test_an_administrator_held_lock_does_not_run_out(world: World) -> None:
    _fail_five_times("omar")
    User.objects.filter(pk=world.omar.pk).update(locked_at=timezone.now() - timedelta(days=30))
    assert login("omar").status_code == 401


def test_wrong_mfa_codes_count_toward_the_lockout(world: World) -> None:
    for _ in range(5):
        response = mfa(login("ava").json()["challenge"], wrong_code(world.ava))
        assert response.json()["code"] == "invalid_credentials"

    assert _is_locked(world.ava)
    # Locked: the right password gets no challenge, and a live challenge no longer takes a right code.
    assert login("ava").status_code == 401
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_FAILURE, actor=world.ava).count() == 5


def test_a_challenge_issued_before_the_lock_cannot_finish_sign_in(world: World) -> None:
    challenge = login("ava").json()["challenge"]
    for _ in range(5):
        mfa(challenge, wrong_code(world.ava))

    response = mfa(challenge, current_code(world.ava))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_a_lock_ends_sessions_already_open(world: World) -> None:
    phone = signed_in_client(world.omar)
    assert phone.get("/api/v1/me").status_code == 200
    _fail_five_times("omar")

    response = phone.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "session_ended"
