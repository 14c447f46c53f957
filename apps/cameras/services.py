"""Writes to the camera registry: cameras, their credentials, sharing, moves and pins.

Stream credentials are Fernet-encrypted (cryptography) in CameraCredential and
leave it only through camera_source_url, for the media worker. Nothing here logs
them or puts them in an audit detail; a source URL that carries a user name or
password is refused, so they cannot slip in through the URL either.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Agency, Role
from apps.accounts.policy import CAMERA_REGISTRY_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.models import Call
from apps.calls.signals import call_changed_notify
from apps.cameras.models import Camera, CameraCredential, CameraLocation, CameraPin
from apps.cameras.selectors import (
    call_get_for_pinning,
    camera_distance_m,
    camera_get_for_user,
    cameras_for_call,
    cameras_visible_to,
    sharing_reason,
)
from apps.common.errors import PermissionDenied, ValidationFailed
from apps.common.rows import locked_get
from apps.places.geo import distance_m, geohash_encode

# Which URL schemes each source kind accepts; a file source is a path or file:// URL.
SOURCE_SCHEMES: dict[str, tuple[str, ...]] = {
    Camera.SourceKind.RTSP: ("rtsp", "rtsps"),
    Camera.SourceKind.HTTP_TS: ("http", "https"),
    Camera.SourceKind.HLS: ("http", "https"),
    Camera.SourceKind.UDP: ("udp",),
    Camera.SourceKind.RTMP: ("rtmp", "rtmps"),
    Camera.SourceKind.FILE: ("file", ""),
    Camera.SourceKind.SNAPSHOT: ("http", "https"),
}
# Kinds whose URLs can carry user:password@ (UDP and files have no authentication).
_AUTH_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https", "rtmp", "rtmps"})


def _fernet() -> MultiFernet:
    keys = list(settings.CAMERA_CREDENTIALS_KEYS)
    if not keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=b"rtcc-relay camera credentials").derive(settings.SECRET_KEY.encode())
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def _encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def _decrypt(value: str) -> str:
    return _fernet().decrypt(value.encode()).decode() if value else ""


def source_url_validate(*, source_kind: str, source_url: str) -> None:
    if source_kind not in SOURCE_SCHEMES:
        raise ValidationFailed("Unknown source kind.", code="invalid_source",
                               fields={"source_kind": ["not a known source kind"]})
    # Any "@" counts: a password holding "/" or "?" would otherwise hide in the path or query.
    if "@" in source_url:
        # Said without echoing the URL: it holds the secret.
        raise ValidationFailed("Give the stream's user name and password as credentials, not in the URL.",
                               code="credentials_in_url", fields={"source_url": ["contains credentials"]})
    parts = urlsplit(source_url)
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError as exc:
        raise ValidationFailed("The source URL's port is not a number.", code="invalid_source",
                               fields={"source_url": ["invalid port"]}) from exc
    if parts.scheme not in SOURCE_SCHEMES[source_kind]:
        raise ValidationFailed(f"A {source_kind} source needs a URL of scheme "
                               f"{' or '.join(s or 'none (a path)' for s in SOURCE_SCHEMES[source_kind])}.",
                               code="invalid_source", fields={"source_url": ["wrong scheme for the source kind"]})


def _set_location(camera: Camera, latitude: float | None, longitude: float | None, at: datetime) -> None:
    camera.latitude, camera.longitude = latitude, longitude
    camera.cell = geohash_encode(latitude, longitude) if latitude is not None and longitude is not None else ""
    camera.location_updated_at = at if latitude is not None else None


def camera_create(*, agency: Agency, name: str, kind: str, owner: str, source_kind: str, source_url: str,
                  owner_kind: str = Camera.OwnerKind.AGENCY, latitude: float | None = None,
                  longitude: float | None = None, sharing: str = Camera.Sharing.ACTIVE_CALL_NEARBY,
                  sharing_radius_m: int = 500, external_id: str = "", username: str = "", password: str = "",
                  owner_administrator: Any | None = None, actor: Any | None = None,
                  ip: str | None = None) -> Camera:
    source_url_validate(source_kind=source_kind, source_url=source_url)
    now = timezone.now()
    camera = Camera(agency=agency, name=name, kind=kind, owner=owner, owner_kind=owner_kind, source_kind=source_kind,
                    source_url=source_url, sharing=sharing, sharing_radius_m=sharing_radius_m,
                    external_id=external_id, owner_administrator=owner_administrator)
    _set_location(camera, latitude, longitude, now)
    with transaction.atomic():
        camera.save()
        if camera.is_mobile and latitude is not None and longitude is not None:
            CameraLocation.objects.create(camera=camera, latitude=latitude, longitude=longitude, placed_at=now,
                                          placed_by=actor, note="registered")
        if username or password:
            CameraCredential.objects.create(camera=camera, username_encrypted=_encrypt(username),
                                            password_encrypted=_encrypt(password))
        audit_record(actor=actor, username="" if actor else "system", action=AuditEvent.Action.CREATE, obj=camera,
                     ip=ip, detail={"kind": kind, "sharing": sharing, "credentials": bool(username or password)})
    return camera


def camera_credentials_set(*, camera: Camera, username: str, password: str, actor: Any | None,
                           ip: str | None = None) -> None:
    """Replace the stream's credentials (both empty: remove them). The audit says only that they changed."""
    with transaction.atomic():
        if not username and not password:
            CameraCredential.objects.filter(camera=camera).delete()
        else:
            CameraCredential.objects.update_or_create(camera=camera, defaults={
                "username_encrypted": _encrypt(username), "password_encrypted": _encrypt(password)})
        audit_record(actor=actor, action=AuditEvent.Action.UPDATE, obj=camera, ip=ip,
                     detail={"fields": ["credentials"]})


def camera_source_url(*, camera: Camera) -> str:
    """The stream URL with its credentials, for the media worker to open. Never log or serialize it."""
    credential = CameraCredential.objects.filter(camera_id=camera.pk).first()
    parts = urlsplit(camera.source_url)
    if credential is None or parts.scheme not in _AUTH_SCHEMES:
        return camera.source_url
    username, password = _decrypt(credential.username_encrypted), _decrypt(credential.password_encrypted)
    userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))


def camera_reachability_record(*, camera_ids: list[int], reachable: bool, reason: str = "") -> int:
    """Record whether these cameras' streams can be read, and why not; returns how many changed.

    Written only on a change, so a worker that checks every second does not rewrite the rows.
    """
    reason = "" if reachable else (reason or "The stream could not be read.")[:300]
    return Camera.objects.filter(pk__in=camera_ids).exclude(reachable=reachable, unreachable_reason=reason).update(
        reachable=reachable, unreachable_reason=reason, reachability_checked_at=timezone.now())


def camera_sharing_set(*, camera_id: int, user: Any, sharing: str, sharing_radius_m: int | None = None,
                       ip: str | None = None) -> Camera:
    """The owner's choice: always, only with an active call nearby, or never.

    Made by the agency's administrators or the camera's owner administrator; others who see the camera get 403.
    """
    with transaction.atomic():
        camera = locked_get(cameras_visible_to(user=user), pk=camera_id, noun="Camera", code="camera_not_found")
        if user.role != Role.ADMINISTRATOR and camera.owner_administrator_id != user.pk:
            raise PermissionDenied("Only the camera owner's administrator sets its sharing policy.",
                                   code="not_camera_owner")
        before = {"sharing": camera.sharing, "sharing_radius_m": camera.sharing_radius_m}
        camera.sharing = sharing
        if sharing_radius_m is not None:
            camera.sharing_radius_m = sharing_radius_m
        camera.save(update_fields=["sharing", "sharing_radius_m", "updated_at"])
        audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=camera, ip=ip, detail={
            "before": before, "after": {"sharing": camera.sharing, "sharing_radius_m": camera.sharing_radius_m}})
        # Briefings of calls it is pinned to must drop or keep it now, not at their next change.
        for call_id in CameraPin.objects.filter(camera=camera).values_list("call_id", flat=True):
            call_changed_notify(call_id=call_id, reason="call_updated")
    return camera


def camera_relocate(*, camera_id: int, user: Any, latitude: float, longitude: float, note: str = "",
                    ip: str | None = None) -> Camera:
    """Move a mobile camera (a trailer towed to a new block, a drone launched): its history keeps every place."""
    with transaction.atomic():
        camera = locked_get(cameras_visible_to(user=user), pk=camera_id, noun="Camera", code="camera_not_found")
        if user.role not in CAMERA_REGISTRY_ROLES:
            raise PermissionDenied("Only the center's staff and administrators move cameras.",
                                   code="permission_denied")
        if not camera.is_mobile:
            raise ValidationFailed("Only mobile cameras (trailers, drones, body-worn, in-car) can be relocated.",
                                   code="camera_not_mobile", fields={"camera": ["fixed in place"]})
        now = timezone.now()
        moved_m = (distance_m(camera.latitude, camera.longitude, latitude, longitude)
                   if camera.latitude is not None and camera.longitude is not None else None)
        _set_location(camera, latitude, longitude, now)
        camera.save(update_fields=["latitude", "longitude", "cell", "location_updated_at", "updated_at"])
        CameraLocation.objects.create(camera=camera, latitude=latitude, longitude=longitude, placed_at=now,
                                      placed_by=user, note=note)
        audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=camera, ip=ip,
                     detail={"fields": ["location"], "moved_m": round(moved_m) if moved_m is not None else None})
        for call_id in CameraPin.objects.filter(camera=camera).values_list("call_id", flat=True):
            call_changed_notify(call_id=call_id, reason="call_updated")
    return camera


def camera_pin(*, call_id: int, camera_id: int, user: Any, ip: str | None = None) -> tuple[CameraPin, bool]:
    """Pin a camera to a call, so its briefing lists it whatever the distance. (pin, created); idempotent."""
    call = call_get_for_pinning(user=user, call_id=call_id)
    camera = camera_get_for_user(user=user, camera_id=camera_id, ip=ip)
    if sharing_reason(camera=camera, call=call, metres=camera_distance_m(camera, call)) is None:
        raise ValidationFailed("The camera's owner does not share it for this call.", code="camera_not_shared",
                               fields={"camera_id": ["not shared for this call"]})
    existing = CameraPin.objects.filter(call=call, camera=camera).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            pin = CameraPin.objects.create(call=call, camera=camera, pinned_by=user, pinned_at=timezone.now())
            audit_record(actor=user, action=AuditEvent.Action.CREATE, obj=pin, ip=ip,
                         detail={"call_id": call.pk, "camera_id": camera.pk})
            call_changed_notify(call_id=call.pk, reason="call_updated")
    except IntegrityError:
        # Pinned by someone else in between: the same outcome.
        return CameraPin.objects.get(call=call, camera=camera), False
    return pin, True


def cameras_pin_nearest(*, call: Call, pinned_by: Any, limit: int) -> list[CameraPin]:
    """Pin the `limit` nearest cameras whose owners share them for this call, on nobody's request but the call's
    (an officer's emergency: `pinned_by` is that officer). Audited; already pinned ones count as pinned."""
    pins: list[CameraPin] = []
    for found in cameras_for_call(call=call, limit=limit):
        pin, created = CameraPin.objects.get_or_create(call=call, camera=found.camera,
                                                       defaults={"pinned_by": pinned_by, "pinned_at": timezone.now()})
        if created:
            audit_record(actor=pinned_by, action=AuditEvent.Action.CREATE, obj=pin,
                         detail={"call_id": call.pk, "camera_id": found.camera.pk, "automatic": True})
        pins.append(pin)
    if pins:
        call_changed_notify(call_id=call.pk, reason="call_updated")
    return pins


def camera_unpin(*, call_id: int, camera_id: int, user: Any, ip: str | None = None) -> None:
    """Take a camera off a call. Done whether or not it was pinned."""
    call = call_get_for_pinning(user=user, call_id=call_id)
    with transaction.atomic():
        pin = CameraPin.objects.filter(call=call, camera_id=camera_id).select_for_update().first()
        if pin is None:
            return
        audit_record(actor=user, action=AuditEvent.Action.DELETE, obj=pin, ip=ip,
                     detail={"call_id": call.pk, "camera_id": camera_id})
        pin.delete()
        call_changed_notify(call_id=call.pk, reason="call_updated")
