"""Reads of the camera registry, and which cameras a call may use.

Analysts, supervisors and administrators of an agency read its registry (a
camera's owner administrator reads that camera too); officers see cameras only
as their briefing shows them; co-responders, auditors and other agencies see
none. What a user may not see answers "not found". A camera is shareable for a
call only as its owner says (Camera.Sharing): always, never, or while an active
call is within the owner's radius. Every read by a user is audited; stream
credentials are never read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, QuerySet

from apps.accounts.policy import CAMERA_REGISTRY_ROLES, CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record, audited_get
from apps.calls.models import Call
from apps.calls.selectors import calls_visible_to, user_is_assigned_to_call
from apps.cameras.models import Camera, CameraPin
from apps.common.errors import NotFound, ValidationFailed
from apps.common.pagination import Page, keyset_page
from apps.places.geo import cell_ranges_within, distance_m

# The widest "near this call" an API client may ask for: beyond 5 km a camera says nothing about the scene.
MAX_NEAR_RADIUS_M = 5_000


def cameras_visible_to(*, user: Any) -> QuerySet[Camera]:
    if user is None or user.agency_id is None:
        return Camera.objects.none()
    if user.role in CAMERA_REGISTRY_ROLES:
        return Camera.objects.filter(agency_id=user.agency_id)
    return Camera.objects.filter(agency_id=user.agency_id, owner_administrator=user)


def camera_list_for_user(*, user: Any, kind: str | None = None, cursor: str | None = None, size: int = 50,
                         ip: str | None = None) -> Page[Camera]:
    cameras = cameras_visible_to(user=user)
    if kind:
        cameras = cameras.filter(kind=kind)
    page = keyset_page([cameras], cursor=cursor, size=size)
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Camera._meta.label_lower,
                 objects=page.items, ip=ip)
    return page


def camera_get_for_user(*, user: Any, camera_id: int, ip: str | None = None) -> Camera:
    return audited_get(user=user, queryset=cameras_visible_to(user=user), pk=camera_id, code="camera_not_found",
                       ip=ip)


def sharing_reason(*, camera: Camera, call: Call | None, metres: float | None) -> str | None:
    """Why the owner lets this camera be used for the call, or None if they do not."""
    if not camera.enabled or camera.sharing == Camera.Sharing.NEVER:
        return None
    if camera.sharing == Camera.Sharing.ALWAYS:
        return f"{camera.owner} shares this camera at all times"
    if call is not None and call.is_active and metres is not None and metres <= camera.sharing_radius_m:
        return f"{camera.owner} shares this camera while an active call is within {camera.sharing_radius_m} m"
    return None


@dataclass(frozen=True)
class CallCamera:
    camera: Camera
    # None for a pinned camera with no known position (a body camera without a fix).
    distance_m: float | None
    pinned: bool
    reason: str


def camera_distance_m(camera: Camera, call: Call) -> float | None:
    if None in (camera.latitude, camera.longitude, call.latitude, call.longitude):
        return None
    return distance_m(call.latitude, call.longitude, camera.latitude, camera.longitude)  # type: ignore[arg-type]


_CAMERAS, _PINS = Camera._meta.db_table, CameraPin._meta.db_table


def cameras_for_call(*, call: Call, radius_m: float | None = None, limit: int | None = None) -> list[CallCamera]:
    """The call's pinned cameras and the nearest shareable ones within radius_m, nearest first.

    `limit` caps the unpinned ones only: a pinned camera is always listed while its owner shares it.
    Not audited: callers are the briefing assembly and the audited selector below.
    """
    radius = float(radius_m if radius_m is not None else settings.CAMERAS_NEAR_CALL_RADIUS_M)
    ranges = (cell_ranges_within(call.latitude, call.longitude, radius)
              if call.latitude is not None and call.longitude is not None else [])
    # One statement for both, written out: the ORM spent 3 ms of every briefing assembly composing up to
    # 32 ranges, a join and an EXISTS, more than PostgreSQL then took to run them on the cell index.
    near = "".join(" OR c.cell BETWEEN %s AND %s" for _ in ranges)
    # S608: only the tables' own names and that fixed fragment are interpolated; every value is bound.
    sql = (f"SELECT c.*, EXISTS (SELECT 1 FROM {_PINS} p WHERE p.camera_id = c.id AND p.call_id = %s) AS pinned "  # noqa: S608
           f"FROM {_CAMERAS} c WHERE c.agency_id = %s AND c.enabled AND c.sharing <> %s "
           f"AND (c.id IN (SELECT p.camera_id FROM {_PINS} p WHERE p.call_id = %s){near})")
    candidates = Camera.objects.raw(sql, [call.pk, call.agency_id, Camera.Sharing.NEVER, call.pk,
                                          *(bound for pair in ranges for bound in pair)])
    found: list[CallCamera] = []
    nearby: list[CallCamera] = []
    for camera in candidates:
        metres = camera_distance_m(camera, call)
        reason = sharing_reason(camera=camera, call=call, metres=metres)
        if reason is None:
            continue
        if getattr(camera, "pinned", False):  # the statement's EXISTS column (0 or 1 on SQLite)
            found.append(CallCamera(camera=camera, distance_m=metres, pinned=True,
                                    reason=f"Pinned to this call by an analyst; {reason}"))
        elif metres is not None and metres <= radius:
            nearby.append(CallCamera(camera=camera, distance_m=metres, pinned=False,
                                     reason=f"{metres:.0f} m from the call; {reason}"))
    nearby.sort(key=lambda c: (c.distance_m, c.camera.pk))
    if limit is not None:
        nearby = nearby[:limit]
    found += nearby
    found.sort(key=lambda c: (c.distance_m is None, c.distance_m or 0.0, c.camera.pk))
    return found


def _call_for_camera_work(*, user: Any, call_id: int, officer_on_it: bool = False) -> Call:
    """The call, for the center's staff; with `officer_on_it`, also for an officer whose unit is on it."""
    call = calls_visible_to(user=user).filter(pk=call_id).first()
    if call is None or not (user.role in CENTER_ROLES
                            or (officer_on_it and user_is_assigned_to_call(user=user, call=call))):
        raise NotFound("Call not found.", code="call_not_found")
    return call


def cameras_near_call_for_user(*, user: Any, call_id: int, radius_m: float | None = None,
                               ip: str | None = None) -> list[CallCamera]:
    """The cameras an owner shares for this call: for the center's analysts and supervisors, and for an officer
    whose unit is on the call (the cameras its briefing lists); anyone else gets 404 call_not_found."""
    call = _call_for_camera_work(user=user, call_id=call_id, officer_on_it=True)
    found = cameras_for_call(call=call, radius_m=radius_m)
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Camera._meta.label_lower,
                 objects=[c.camera for c in found], ip=ip, detail={"call_id": call.pk, "purpose": "near_call"})
    return found


def call_get_for_pinning(*, user: Any, call_id: int) -> Call:
    """The call an analyst pins cameras to. Not audited: it precedes a write, which is."""
    return _call_for_camera_work(user=user, call_id=call_id)


def camera_get_for_clip(*, user: Any, camera_id: int, call_id: int | None) -> Camera:
    """The camera a clip may be taken from, for this call (or with no call, an always-shared camera).

    Not found when the user may not work with the call's cameras, the camera is another agency's,
    or its owner's sharing policy does not cover the call.
    """
    if user is None or user.role not in CENTER_ROLES or user.agency_id is None:
        raise NotFound("Camera not found.", code="camera_not_found")
    call = _call_for_camera_work(user=user, call_id=call_id) if call_id is not None else None
    camera = Camera.objects.filter(agency_id=user.agency_id, pk=camera_id).first()
    if camera is None or sharing_reason(camera=camera, call=call,
                                        metres=camera_distance_m(camera, call) if call else None) is None:
        raise NotFound("Camera not found.", code="camera_not_found")
    if camera.source_kind == Camera.SourceKind.SNAPSHOT:
        raise ValidationFailed("This camera publishes still images only; no clip can be cut from it.",
                               code="camera_has_no_video", fields={"camera_id": ["still images only"]})
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=camera,
                 detail={"call_id": call_id, "purpose": "clip"})
    return camera


def cameras_pinned_to_active_calls() -> list[Camera]:
    """Cameras an analyst pinned to a call that is still active and whose owner shares them for it.

    For the pre-roll worker (a system reader, not audited per user); each camera once.
    """
    pins = (CameraPin.objects.filter(call__status__in=Call.ACTIVE_STATUSES, camera__enabled=True,
                                     camera__agency_id=F("call__agency_id"))
            .exclude(camera__sharing=Camera.Sharing.NEVER).select_related("camera", "call").order_by("camera_id"))
    cameras: dict[int, Camera] = {}
    for pin in pins:
        if pin.camera_id not in cameras and sharing_reason(camera=pin.camera, call=pin.call,
                                                          metres=camera_distance_m(pin.camera, pin.call)) is not None:
            cameras[pin.camera_id] = pin.camera
    return list(cameras.values())

