"""Sign-in, MFA, device sessions, lockout and revocation.

The rules and their sources:
- five consecutive failures inside fifteen minutes lock the account until an
  administrator releases it (CJIS Security Policy 5.9.5, AC-7); the number,
  window and an optional timed release are settings;
- analysts, supervisors, administrators and auditors prove a TOTP code after
  the password (CJIS 5.6.2.2);
- every answer to a failed sign-in is the same, so it never tells whether a
  username exists or is locked;
- a device session ends after 30 minutes idle or one shift, whichever is first.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Device, DeviceSession, Role, User
from apps.accounts.signals import sessions_ended
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.common.errors import AuthenticationFailed, NotFound, PermissionDenied, ValidationFailed
from apps.common.later import after_commit
from apps.places.geo import no_fix, on_earth

_MFA_SALT = "rtcc.accounts.mfa-challenge"
INVALID_CREDENTIALS = (
    "Sign-in failed. Check your username, password and code; if it keeps failing, ask an administrator."
)


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    kind: str
    platform: str
    push_token: str = ""


@dataclass(frozen=True)
class IssuedSession:
    token: str
    session: DeviceSession


@dataclass(frozen=True)
class MfaChallenge:
    challenge: str
    # Only for a first sign-in that must enrol: the secret to put in the authenticator app.
    enrolment_secret: str = ""
    enrolment_uri: str = ""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _username_fingerprint(username: str) -> str:
    # Unknown usernames are audited by fingerprint only: people type passwords into the username box.
    return hashlib.sha256(username.encode()).hexdigest()[:16]


def _locked(locked_at: datetime | None, now: datetime) -> bool:
    if locked_at is None:
        return False
    if not settings.LOGIN_LOCK_SECONDS:
        return True
    return now - locked_at < timedelta(seconds=settings.LOGIN_LOCK_SECONDS)


def _is_locked(user: User) -> bool:
    return _locked(user.locked_at, timezone.now())


def _record_failure(*, user: User, ip: str | None, action: str) -> None:
    """Count a failed password or code; the fifth inside the window locks the account."""
    now = timezone.now()
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.locked_at is not None and not _is_locked(locked):
            # A timed lock that has run out: counting starts again, so five more failures lock again.
            locked.locked_at = None
            locked.failed_login_count = 0
        if locked.last_failed_login_at is None or now - locked.last_failed_login_at > window:
            locked.failed_login_count = 0
        locked.failed_login_count += 1
        locked.last_failed_login_at = now
        update = ["failed_login_count", "last_failed_login_at", "locked_at"]
        audit_record(actor=locked, action=action, ip=ip, detail={"consecutive_failures": locked.failed_login_count})
        if locked.failed_login_count >= settings.LOGIN_MAX_FAILURES and locked.locked_at is None:
            locked.locked_at = now
            audit_record(actor=locked, action=AuditEvent.Action.ACCOUNT_LOCKED, obj=locked, ip=ip,
                         detail={"consecutive_failures": locked.failed_login_count})
            _announce_sessions_ended(locked.pk)
        locked.save(update_fields=update)


def session_issue(*, user: User, device_info: DeviceInfo, ip: str | None) -> IssuedSession:
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        device = Device.objects.create(
            user=user,
            name=device_info.name,
            kind=device_info.kind,
            platform=device_info.platform,
            push_token=device_info.push_token,
            last_seen_at=now,
        )
        _push_token_claim(device=device, ip=ip)
        session = DeviceSession.objects.create(
            device=device,
            token_hash=token_hash(token),
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(seconds=settings.SESSION_MAX_SECONDS),
        )
        User.objects.filter(pk=user.pk).update(failed_login_count=0, last_failed_login_at=None, last_login=now)
        audit_record(actor=user, action=AuditEvent.Action.LOGIN_SUCCESS, ip=ip)
        audit_record(actor=user, action=AuditEvent.Action.TOKEN_ISSUED, obj=device, ip=ip,
                     detail={"device_kind": device.kind, "platform": device.platform})
    return IssuedSession(token=token, session=session)


def login_password(
    *, username: str, password: str, device_info: DeviceInfo, ip: str | None
) -> IssuedSession | MfaChallenge:
    """First step of sign-in. Returns a session, or an MFA challenge for roles that need one."""
    user = User.objects.filter(username=username).first()
    if user is None:
        make_password(password)  # spend the same time as a real check
        audit_record(actor=None, action=AuditEvent.Action.LOGIN_FAILURE, ip=ip,
                     detail={"reason": "unknown_user", "username_fingerprint": _username_fingerprint(username)})
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    if _is_locked(user) or not user.is_active:
        user.check_password(password)
        audit_record(actor=user, action=AuditEvent.Action.LOGIN_FAILURE, ip=ip,
                     detail={"reason": "locked" if user.is_active else "disabled"})
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    if not user.check_password(password):
        _record_failure(user=user, ip=ip, action=AuditEvent.Action.LOGIN_FAILURE)
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    if user.locked_at is not None:
        # A timed lock that has run out: the account starts again with a clean count.
        User.objects.filter(pk=user.pk).update(locked_at=None, failed_login_count=0)
    if not user.mfa_required:
        return session_issue(user=user, device_info=device_info, ip=ip)

    enrolment_secret = ""
    if not user.mfa_enabled:
        if not user.mfa_secret:
            user.mfa_secret = pyotp.random_base32()
            user.save(update_fields=["mfa_secret"])
        enrolment_secret = user.mfa_secret
    challenge = signing.dumps(
        {"u": user.pk, "d": [device_info.name, device_info.kind, device_info.platform, device_info.push_token]},
        salt=_MFA_SALT,
        compress=True,
    )
    audit_record(actor=user, action=AuditEvent.Action.MFA_CHALLENGE, ip=ip,
                 detail={"enrolment": bool(enrolment_secret)})
    if enrolment_secret:
        uri = pyotp.TOTP(enrolment_secret).provisioning_uri(name=user.username, issuer_name=settings.MFA_ISSUER)
        return MfaChallenge(challenge=challenge, enrolment_secret=enrolment_secret, enrolment_uri=uri)
    return MfaChallenge(challenge=challenge)


def _totp_accept(*, user: User, code: str, ip: str | None) -> User:
    """Accept a TOTP code once (enrolling the user on their first), or count a failure and refuse."""
    totp = pyotp.TOTP(user.mfa_secret)
    now = timezone.now()
    step = None
    if user.mfa_secret and code.isascii() and code.isdigit() and len(code) == 6:
        # One 30 s step either side tolerates a phone clock that is a little off.
        for offset in (0, -1, 1):
            candidate = now + timedelta(seconds=30 * offset)
            if secrets.compare_digest(totp.at(candidate), code):
                step = totp.timecode(candidate)
                break
    with transaction.atomic():
        fresh = User.objects.select_for_update().get(pk=user.pk)
        accepted = step is not None and (fresh.mfa_last_step is None or step > fresh.mfa_last_step)
        if accepted:
            fresh.mfa_last_step = step
            enrolled_now = not fresh.mfa_enabled
            fresh.mfa_enabled = True
            fresh.save(update_fields=["mfa_last_step", "mfa_enabled"])
            if enrolled_now:
                audit_record(actor=fresh, action=AuditEvent.Action.MFA_ENROLLED, ip=ip)
    if not accepted:
        # A wrong code and a replayed one count alike toward the lockout.
        _record_failure(user=user, ip=ip, action=AuditEvent.Action.MFA_FAILURE)
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    return fresh


def login_mfa(*, challenge: str, code: str, ip: str | None) -> IssuedSession:
    """Second step: a TOTP code for the challenge from login_password. Each code works once."""
    try:
        data = signing.loads(challenge, salt=_MFA_SALT, max_age=settings.MFA_CHALLENGE_SECONDS)
    except signing.BadSignature as exc:
        raise AuthenticationFailed("The sign-in challenge expired or is invalid; sign in again.",
                                   code="mfa_challenge_invalid") from exc
    user = User.objects.filter(pk=data["u"]).first()
    if user is None or not user.is_active or _is_locked(user):
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    fresh = _totp_accept(user=user, code=code, ip=ip)
    name, kind, platform, push_token = data["d"]
    return session_issue(user=fresh, device_info=DeviceInfo(name, kind, platform, push_token), ip=ip)


def admin_sign_in(*, username: str, password: str, code: str, ip: str | None) -> User:
    """Sign-in to the admin site: administrators only, password and TOTP code in one step.

    The same lockout, MFA replay rule and audit as the API; any failure is the
    same `invalid_credentials`. An administrator enrols MFA through the API first.
    """
    user = User.objects.filter(username=username).first()
    if user is None:
        make_password(password)
        audit_record(actor=None, action=AuditEvent.Action.LOGIN_FAILURE, ip=ip,
                     detail={"reason": "unknown_user", "channel": "admin",
                             "username_fingerprint": _username_fingerprint(username)})
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    usable = user.is_active and not _is_locked(user) and user.role == Role.ADMINISTRATOR and user.mfa_enabled
    if not usable or not user.check_password(password):
        if usable:
            _record_failure(user=user, ip=ip, action=AuditEvent.Action.LOGIN_FAILURE)
        else:
            user.check_password(password)  # the same time as a usable account's check
            reason = ("disabled" if not user.is_active else "locked" if _is_locked(user)
                      else "not_allowed_on_admin_site")
            audit_record(actor=user, action=AuditEvent.Action.LOGIN_FAILURE, ip=ip,
                         detail={"reason": reason, "channel": "admin"})
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials")
    user = _totp_accept(user=user, code=code, ip=ip)
    User.objects.filter(pk=user.pk).update(failed_login_count=0, last_failed_login_at=None)
    audit_record(actor=user, action=AuditEvent.Action.LOGIN_SUCCESS, ip=ip, detail={"channel": "admin"})
    return user


def session_authenticate(*, token: str) -> DeviceSession:
    """The device session behind a bearer token, or AuthenticationFailed.

    Checked on every request, so a revoked device, a disabled or locked user
    or an idle session stops working at once.
    """
    # get(), not first(): the hash is unique, and first()'s ORDER BY was a sixth of a ticket request's time.
    try:
        session: DeviceSession | None = DeviceSession.objects.select_related(
            "device", "device__user", "device__user__agency").get(token_hash=token_hash(token))
    except DeviceSession.DoesNotExist:
        session = None
    if session is None or session.ended_at is not None:
        raise AuthenticationFailed("Your session has ended; sign in again.", code="session_ended")
    device = session.device
    user = device.user
    now = timezone.now()
    if device.revoked_at is not None or not user.is_active or _is_locked(user):
        _session_end(session=session, reason="revoked", at=now)
        raise AuthenticationFailed("Your session has ended; sign in again.", code="session_ended")
    if now >= session.expires_at:
        _session_end(session=session, reason="expired", at=now)
        raise AuthenticationFailed("Your shift session has expired; sign in again.", code="session_expired")
    if now - session.last_used_at >= timedelta(seconds=settings.SESSION_IDLE_SECONDS):
        _session_end(session=session, reason="idle", at=now)
        raise AuthenticationFailed("Your session was idle too long; sign in again.", code="session_idle")
    if now - session.last_used_at >= timedelta(seconds=settings.SESSION_TOUCH_SECONDS):
        DeviceSession.objects.filter(pk=session.pk).update(last_used_at=now)
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        session.last_used_at = now
    return session


def session_is_live(*, session: DeviceSession) -> bool:
    """Whether a session could still authenticate, without touching it (for signed links)."""
    device, user = session.device, session.device.user
    return session_live(ended_at=session.ended_at, expires_at=session.expires_at,
                        last_used_at=session.last_used_at, device_revoked_at=device.revoked_at,
                        user_active=user.is_active, user_locked_at=user.locked_at, now=timezone.now())


def session_live(*, ended_at: datetime | None, expires_at: datetime, last_used_at: datetime,
                 device_revoked_at: datetime | None, user_active: bool, user_locked_at: datetime | None,
                 now: datetime) -> bool:
    """session_is_live from the columns alone, for checks of many sessions read as plain rows."""
    return (ended_at is None and device_revoked_at is None and user_active and not _locked(user_locked_at, now)
            and now < expires_at and now - last_used_at < timedelta(seconds=settings.SESSION_IDLE_SECONDS))


def _announce_sessions_ended(user_id: int) -> None:
    """After commit, tell listeners (the event stream) that this user's sessions changed."""
    after_commit(sessions_ended.send, sender=User, user_ids=[user_id], robust=True)


def _session_end(*, session: DeviceSession, reason: str, at: Any) -> None:
    DeviceSession.objects.filter(pk=session.pk, ended_at=None).update(ended_at=at, end_reason=reason)
    _announce_sessions_ended(session.device.user_id)


def session_logout(*, session: DeviceSession, ip: str | None) -> None:
    with transaction.atomic():
        _session_end(session=session, reason="logout", at=timezone.now())
        audit_record(actor=session.device.user, action=AuditEvent.Action.TOKEN_REVOKED, obj=session.device, ip=ip,
                     detail={"reason": "logout"})


def _can_manage(*, actor: User, user: User) -> bool:
    return actor.role == Role.ADMINISTRATOR and actor.agency_id is not None and actor.agency_id == user.agency_id


def device_revoke(*, device_id: int, revoked_by: User, ip: str | None) -> Device:
    """Revoke a lost or stolen device: its sessions stop working on their next request.

    The owner may revoke their own devices; an administrator any device in their agency.
    Anything else is "not found".
    """
    with transaction.atomic():
        device = Device.objects.select_for_update().select_related("user").filter(pk=device_id).first()
        if device is None or not (device.user_id == revoked_by.pk or _can_manage(actor=revoked_by, user=device.user)):
            raise NotFound("Device not found.", code="device_not_found")
        if device.revoked_at is None:
            now = timezone.now()
            device.revoked_at = now
            device.revoked_by = revoked_by
            device.push_token = ""
            device.save(update_fields=["revoked_at", "revoked_by", "push_token"])
            device.sessions.filter(ended_at=None).update(ended_at=now, end_reason="revoked")
            _announce_sessions_ended(device.user_id)
            audit_record(actor=revoked_by, action=AuditEvent.Action.DEVICE_REVOKED, obj=device, ip=ip,
                         detail={"owner_id": device.user_id})
    return device


def user_for_admin(*, actor: User, user_id: int) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None or not _can_manage(actor=actor, user=user):
        raise NotFound("User not found.", code="user_not_found")
    return user


def user_release_lock(*, user_id: int, released_by: User, ip: str | None) -> User:
    """An administrator lets a locked-out user try again."""
    with transaction.atomic():
        user = user_for_admin(actor=released_by, user_id=user_id)
        if user.locked_at is None and user.failed_login_count == 0:
            raise ValidationFailed("This account is not locked.", code="account_not_locked")
        User.objects.filter(pk=user.pk).update(locked_at=None, failed_login_count=0, last_failed_login_at=None)
        audit_record(actor=released_by, action=AuditEvent.Action.ACCOUNT_RELEASED, obj=user, ip=ip)
        user.refresh_from_db()
    return user


def user_set_active(*, user_id: int, active: bool, changed_by: User, ip: str | None) -> User:
    """Disable (or re-enable) a user; a disabled user's sessions stop at once."""
    with transaction.atomic():
        user = user_for_admin(actor=changed_by, user_id=user_id)
        if user.pk == changed_by.pk and not active:
            raise PermissionDenied("You cannot disable your own account.", code="cannot_disable_self")
        User.objects.filter(pk=user.pk).update(is_active=active)
        if not active:
            DeviceSession.objects.filter(device__user=user, ended_at=None).update(
                ended_at=timezone.now(), end_reason="disabled")
            _announce_sessions_ended(user.pk)
        audit_record(actor=changed_by, action=AuditEvent.Action.ACCOUNT_DISABLED if not active else
                     AuditEvent.Action.UPDATE, obj=user, ip=ip, detail={"is_active": active})
        user.refresh_from_db()
    return user


def _push_token_claim(*, device: Device, ip: str | None) -> None:
    """The device that registered an FCM token last holds it; every other device row loses it.

    A token names one app install. When a phone signs in again (a new device row) or is handed to
    another officer, the old row must not keep the token, or one officer's alerts would reach
    another's phone. Called inside the transaction that sets the token.
    """
    if not device.push_token:
        return
    others = list(Device.objects.select_for_update().select_related("user")
                  .filter(push_token=device.push_token).exclude(pk=device.pk))
    if not others:
        return
    Device.objects.filter(pk__in=[other.pk for other in others]).update(push_token="")
    for other in others:
        if other.user_id != device.user_id:
            audit_record(actor=device.user, action=AuditEvent.Action.UPDATE, obj=other, ip=ip,
                         detail={"push_token": "registered_by_another_user", "owner_id": other.user_id,
                                 "to_device_id": device.pk})


def device_update_push_token(*, session: DeviceSession, push_token: str, ip: str | None = None) -> Device:
    """Set this device's FCM registration token (the OS rotates it), taking it from any other device."""
    device = session.device
    with transaction.atomic():
        Device.objects.filter(pk=device.pk).update(push_token=push_token)
        device.push_token = push_token
        _push_token_claim(device=device, ip=ip)
    return device


def user_create(
    *,
    created_by: User,
    username: str,
    role: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    badge_number: str = "",
    ip: str | None = None,
) -> User:
    """An administrator opens an account in their own agency.

    The password must pass the configured validators; roles that need MFA enrol
    at their first sign-in.
    """
    if created_by.role != Role.ADMINISTRATOR or created_by.agency_id is None:
        raise NotFound("Not found.")
    user = User(username=username, role=role, agency_id=created_by.agency_id, first_name=first_name,
                last_name=last_name, badge_number=badge_number)
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed("The password is too weak.", code="weak_password",
                               fields={"password": list(exc.messages)}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            audit_record(actor=created_by, action=AuditEvent.Action.CREATE, obj=user, ip=ip, detail={"role": role})
    except IntegrityError as exc:
        raise ValidationFailed("That username is taken.", code="username_taken",
                               fields={"username": ["already exists"]}) from exc
    return user


def user_set_role(*, user_id: int, role: str, changed_by: User, ip: str | None = None) -> User:
    """Change a user's role; their open sessions end, so the new rights apply from the next sign-in."""
    with transaction.atomic():
        user = user_for_admin(actor=changed_by, user_id=user_id)
        if user.pk == changed_by.pk:
            raise PermissionDenied("You cannot change your own role.", code="cannot_change_own_role")
        previous = user.role
        if previous != role:
            User.objects.filter(pk=user.pk).update(role=role)
            DeviceSession.objects.filter(device__user=user, ended_at=None).update(
                ended_at=timezone.now(), end_reason="role_changed")
            _announce_sessions_ended(user.pk)
            audit_record(actor=changed_by, action=AuditEvent.Action.PERMISSION_GRANTED, obj=user, ip=ip,
                         detail={"role_from": previous, "role_to": role})
        user.refresh_from_db()
    return user


def device_report_location(*, session: DeviceSession, latitude: float, longitude: float) -> Device:
    """The device's latest position, for radius pushes. Only the latest point is kept, never a track."""
    if not on_earth(latitude, longitude):
        raise ValidationFailed("That is not a position on Earth.", code="invalid_location",
                               fields={"latitude": ["-90..90"], "longitude": ["-180..180"]})
    if no_fix(latitude, longitude):  # keep the last real position: radius pushes still find the device
        raise ValidationFailed("0, 0 is a device without a fix, not a place.", code="invalid_location",
                               fields={"latitude": ["a fix"], "longitude": ["a fix"]})
    device, now = session.device, timezone.now()
    Device.objects.filter(pk=device.pk).update(latitude=latitude, longitude=longitude, located_at=now)
    device.latitude, device.longitude, device.located_at = latitude, longitude, now
    return device
