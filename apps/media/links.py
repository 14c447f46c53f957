"""Signed media links: who a link was made for, what it opens, and until when.

An <img> or <video> tag cannot send a bearer header, so the link itself is the
key. It names the device session it was made for and is signed with the
SECRET_KEY (Django's signing, HMAC-SHA256) under a salt per kind of media; it
stops working after MEDIA_LINK_SECONDS, when that session ends or its device is
revoked, and when a request also presents a bearer token of another user.
The link holds ids only: no name, no case number, nothing a proxy log should keep.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from apps.accounts.models import DeviceSession, User
from apps.accounts.services import session_is_live
from apps.common.errors import PermissionDenied

# "snapshot": a sensor alert's image (apps.sensors), served by mobile_api/v1/sensor_alerts.py; "bolo_photo": a
# BOLO's or a sighting's photo (apps.bolos), served by mobile_api/v1/bolos.py.
KINDS = frozenset({"photo", "call_photo", "clip", "snapshot", "bolo_photo"})


@dataclass(frozen=True)
class LinkClaim:
    kind: str
    object_id: int
    session_id: int
    variant: str


def _salt(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown media kind {kind!r}")
    return f"rtcc.media.{kind}"


def media_token_make(*, kind: str, object_id: int, session_id: int, variant: str) -> str:
    return signing.dumps({"o": object_id, "s": session_id, "v": variant}, salt=_salt(kind))


def media_token_read(*, kind: str, token: str) -> LinkClaim:
    """The claim a token carries, or 403: tampered (link_invalid) or too old (link_expired)."""
    try:
        data = signing.loads(token, salt=_salt(kind), max_age=settings.MEDIA_LINK_SECONDS)
    except signing.SignatureExpired as exc:
        raise PermissionDenied("This link has expired; open the record again for a new one.",
                               code="link_expired") from exc
    except signing.BadSignature as exc:
        raise PermissionDenied("This link is not valid.", code="link_invalid") from exc
    try:
        return LinkClaim(kind=kind, object_id=int(data["o"]), session_id=int(data["s"]), variant=str(data["v"]))
    except (KeyError, TypeError, ValueError) as exc:  # signed by us, but not by this code: an old format
        raise PermissionDenied("This link is not valid.", code="link_invalid") from exc


def media_link_user(*, claim: LinkClaim, presented: DeviceSession | None) -> User:
    """The user a link opens for: its session must still be live, and a bearer token sent with it must be
    that user's (another of their devices is fine; another user's is not, even a colleague who sees the record)."""
    session = DeviceSession.objects.select_related("device__user").filter(pk=claim.session_id).first()
    if session is None or not session_is_live(session=session):
        raise PermissionDenied("The session this link was made for has ended; sign in again.",
                               code="link_session_ended")
    if presented is not None and presented.device.user_id != session.device.user_id:
        raise PermissionDenied("This link was made for another user.", code="link_not_yours")
    return session.device.user
