"""Sensor ingest, hot-list matching, alerts and their verification, and the retention purge.

Protocol and schemas: docs/sensors.md. A webhook request is authenticated by
its source's HMAC signature (apps.sensors.signing) before anything is read or
written; an event is stored once per (source, sensor event id). What an alert
sets in motion (a call, its briefing, a push to the units nearby) runs after
commit in a Celery task that claims the alert first, so it happens once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import Agency, User
from apps.accounts.policy import CENTER_ROLES, agency_staff
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.briefings.models import Briefing
from apps.briefings.services import briefing_announce, briefing_assemble
from apps.calls.models import CadTypeMapping, Call, Category
from apps.calls.services import call_upsert
from apps.calls.signals import call_changed_notify
from apps.common.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied, ValidationFailed
from apps.common.later import after_commit
from apps.delivery.models import Push
from apps.delivery.selectors import users_told
from apps.delivery.services import audience_users, event_append, push_record
from apps.places.geo import geohash_encode
from apps.places.selectors import within_radius
from apps.sensors import plates, signing
from apps.sensors.models import Alert, HotList, HotListEntry, PlateRead, SensorHeartbeat, SensorSource
from apps.sensors.tasks import alert_dispatch_task

logger = logging.getLogger(__name__)

ALERT_OBJECT = "sensors.alert"
# last_seen_at is written at most this often: a camera posting ten reads a second must not write ten times.
_TOUCH_SECONDS = 30
# The CAD codes sensor calls are raised with; created for the agency on first use, then the administrators'.
CAD_CODES: dict[str, tuple[str, str, str, int]] = {
    Alert.Kind.GUNSHOT: ("SENSOR-GUNSHOT", "Gunshot detection", Category.WEAPONS, 1),
    Alert.Kind.PLATE_HIT: ("SENSOR-LPR", "Licence plate hot-list hit", Category.SUSPICIOUS, 2),
}
EVENT_PREFIX: dict[str, str] = {Alert.Kind.GUNSHOT: "GS", Alert.Kind.PLATE_HIT: "LPR"}


# --- Sources and their secrets ---------------------------------------------------------------------------


def sensor_source_create(*, agency: Agency, name: str, kind: str, actor: User | None,
                         latitude: float | None = None, longitude: float | None = None,
                         camera_id: int | None = None, silence_alert_seconds: int = 15 * 60,
                         ip: str | None = None) -> tuple[SensorSource, str]:
    """A new source and its secret. The secret is returned once, here, and stored only encrypted."""
    if kind not in SensorSource.Kind.values:
        raise ValidationFailed("Unknown source kind.", code="invalid", fields={"kind": SensorSource.Kind.values})
    if (latitude is None) != (longitude is None):
        raise ValidationFailed("Give latitude and longitude together.", code="invalid",
                               fields={"latitude": ["give both"]})
    secret = signing.secret_new()
    with transaction.atomic():
        source = SensorSource.objects.create(
            agency=agency, name=name, kind=kind, key=secrets.token_urlsafe(18),
            secret_encrypted=signing.secret_encrypt(secret), latitude=latitude, longitude=longitude,
            camera_id=camera_id, silence_alert_seconds=silence_alert_seconds)
        audit_record(actor=actor, action=AuditEvent.Action.CREATE, obj=source, ip=ip,
                     detail={"kind": kind}, username="" if actor else "system")
    return source, secret


def sensor_source_rotate_secret(*, source: SensorSource, actor: User | None, ip: str | None = None) -> str:
    """A new secret for the source; the old one stops working at once."""
    secret = signing.secret_new()
    with transaction.atomic():
        SensorSource.objects.filter(pk=source.pk).update(secret_encrypted=signing.secret_encrypt(secret))
        audit_record(actor=actor, action=AuditEvent.Action.UPDATE, obj=source, ip=ip,
                     detail={"fields": ["secret"]}, username="" if actor else "system")
    return secret


# The source a webhook names, in one plain statement: every request pays for this lookup, and the ORM spent
# several times the database's own time compiling the equivalent queryset (bench/alpr_ingest.py).
_SOURCE_FIELDS = tuple(f.attname for f in SensorSource._meta.concrete_fields)
_SOURCE_COLUMNS = ", ".join(f'"{f.column}"' for f in SensorSource._meta.concrete_fields)
# S608: the names are the model's own columns; the values are bound parameters.
_SOURCE_SQL = f'SELECT {_SOURCE_COLUMNS} FROM sensors_sensorsource WHERE "key" = %s AND kind = %s AND enabled'  # noqa: S608


def _aware(value: Any) -> Any:
    # SQLite gives a plain cursor naive datetimes (stored in UTC); PostgreSQL aware ones already.
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


def _source_by_key(*, key: str, kind: str) -> SensorSource | None:
    with connection.cursor() as cursor:
        cursor.execute(_SOURCE_SQL, [key, kind])
        row = cursor.fetchone()
    return None if row is None else SensorSource.from_db(connection.alias, _SOURCE_FIELDS, [_aware(v) for v in row])


def sensor_request_verify(*, kind: str, key: str, timestamp: str, signature: str, body: bytes,
                          now: float | None = None) -> SensorSource:
    """The source that signed this request, or AuthenticationFailed; nothing is written either way.

    An unknown key, a wrong kind and a bad signature answer alike, so the
    endpoint says nothing about which keys exist.
    """
    if not timestamp or not signature:
        raise AuthenticationFailed("Sign the request: X-RTCC-Timestamp and X-RTCC-Signature.",
                                   code="signature_missing")
    source = _source_by_key(key=key, kind=kind) if len(key) <= 40 else None
    if source is None:
        raise AuthenticationFailed("The signature does not match.", code="signature_invalid")
    problem = signing.signature_check(secret=signing.secret_decrypt(source.secret_encrypted), timestamp=timestamp,
                                      signature=signature, body=body, now=time.time() if now is None else now)
    if problem == "signature_stale":
        raise AuthenticationFailed("The timestamp is outside the accepted window; sign again and resend.",
                                   code=problem)
    if problem is not None:
        raise AuthenticationFailed("The signature does not match.", code=problem)
    if not signing.signature_claim(source_id=source.pk, signature=signature):
        raise AuthenticationFailed("This request was already received; sign each attempt anew.", code="replayed")
    return source


def _touch(source: SensorSource, now: datetime) -> None:
    if source.last_seen_at is None or source.silent_since is not None or (
            now - source.last_seen_at).total_seconds() >= _TOUCH_SECONDS:
        SensorSource.objects.filter(pk=source.pk).update(last_seen_at=now, silent_since=None)


def sensor_heartbeat_record(*, source: SensorSource, detail: dict[str, Any]) -> SensorHeartbeat:
    now = timezone.now()
    with transaction.atomic():
        beat = SensorHeartbeat.objects.create(source=source, received_at=now, detail=detail)
        _touch(source, now)
    return beat


# --- Images in payloads -----------------------------------------------------------------------------------


def image_base64_check(value: str, *, field_name: str) -> None:
    """The cheap check every image gets: its size, before anything decodes it."""
    # base64 is 4 characters per 3 bytes.
    if len(value) > settings.SENSOR_IMAGE_MAX_BYTES * 4 // 3 + 4:
        raise ValidationFailed(f"Images over {settings.SENSOR_IMAGE_MAX_BYTES} bytes are refused.",
                               code="file_too_large", fields={field_name: ["too large"]})


def _snapshot(value: str, *, field_name: str) -> ContentFile[bytes]:
    """A stored snapshot goes through the photo pipeline: format allowlist, pixel limit, metadata stripped."""
    from apps.media.images import ImageRejected, VariantSpec, image_variants_make

    image_base64_check(value, field_name=field_name)
    try:
        # OpenALPR agents send their crops without the trailing "=" padding (the sample does): add it back.
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed("The image is not valid base64.", code="invalid",
                               fields={field_name: ["not base64"]}) from exc
    try:
        checked = image_variants_make(io.BytesIO(raw), variants=(VariantSpec("snapshot", 1280, "JPEG", 80),))
    except ImageRejected as exc:
        raise ValidationFailed(exc.message, code=exc.code, fields={field_name: [exc.message]}) from exc
    variant = checked.variants[0]
    return ContentFile(variant.content, name=f"{secrets.token_hex(8)}{variant.extension}")


def _snapshot_attach(alert: Alert, snapshot: ContentFile[bytes]) -> None:
    # The digest is what a signed link's answer carries as its ETag (mobile_api.v1.media.media_file_response).
    alert.snapshot_sha256 = hashlib.sha256(snapshot.read()).hexdigest()
    alert.snapshot.save(snapshot.name or "snapshot.jpg", snapshot, save=False)
    alert.save(update_fields=["snapshot", "snapshot_sha256"])


# --- Hot lists: matching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    entry_id: int
    hot_list_id: int
    match_type: str
    priority: int


# The one query a read costs, written once: the ORM spent several times the database's own time compiling
# the equivalent queryset on every read (bench/alpr_ingest.py). Index: hot_list_entry_key_idx.
_MATCH_SQL = (
    "SELECT e.id, e.hot_list_id, e.plate_normalized, e.region, l.priority"
    " FROM sensors_hotlistentry e JOIN sensors_hotlist l ON l.id = e.hot_list_id"
    " WHERE e.agency_id = %s AND e.plate_key = %s AND l.enabled"
    " AND (e.expires_at IS NULL OR e.expires_at > %s) AND (l.expires_at IS NULL OR l.expires_at > %s)"
)


def hot_list_match(*, agency_id: int, plate: str, region: str, now: datetime | None = None) -> list[Hit]:
    """Every live entry a read matches, strongest first: one indexed lookup on (agency, folded key)."""
    at = connection.ops.adapt_datetimefield_value(now or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_MATCH_SQL, [agency_id, plates.plate_key(plate), at, at])
        rows = cursor.fetchall()
    hits = []
    for pk, list_id, entry_plate, entry_region, priority in rows:
        found = plates.match_type(read_plate=plate, read_region=region, entry_plate=entry_plate,
                                  entry_region=entry_region)
        if found is not None:
            hits.append(Hit(entry_id=pk, hot_list_id=list_id, match_type=found, priority=priority))
    hits.sort(key=lambda h: (plates.Match.ORDER.index(h.match_type), h.priority, h.entry_id))
    return hits


# --- Ingest -----------------------------------------------------------------------------------------------


@dataclass
class Ingested:
    """What a webhook did: "accepted", "duplicate" (seen before, nothing changed) or "heartbeat"."""

    status: str
    id: int | None = None
    alert_ids: list[int] = field(default_factory=list)


def _position(source: SensorSource, latitude: float | None, longitude: float | None) -> tuple[float | None,
                                                                                              float | None]:
    # A fixed sensor's own position stands in for an event that has none (or the 0,0 of "no GPS fix").
    if latitude is None or longitude is None or (latitude == 0 and longitude == 0):
        return source.latitude, source.longitude
    return latitude, longitude


def _cell(latitude: float | None, longitude: float | None) -> str:
    return geohash_encode(latitude, longitude) if latitude is not None and longitude is not None else ""


def _alert_create(*, source: SensorSource, kind: str, event_id: str, occurred_at: datetime, priority: int,
                  latitude: float | None, longitude: float | None, detail: dict[str, Any],
                  **extra: Any) -> Alert:
    now = timezone.now()
    alert = Alert.objects.create(agency_id=source.agency_id, source=source, kind=kind, event_id=event_id,
                                 occurred_at=occurred_at, received_at=now, priority=priority, latitude=latitude,
                                 longitude=longitude, cell=_cell(latitude, longitude), detail=detail, **extra)
    audit_record(actor=None, username=f"sensor:{source.pk}", action=AuditEvent.Action.CREATE, obj=alert,
                 detail={"kind": kind, "source_id": source.pk, "event_id": event_id})
    _analysts_tell(alert, "received")
    after_commit(alert_dispatch_task.delay, alert.pk)
    return alert


def _analysts_tell(alert: Alert, op: str) -> None:
    """The consoles' live alert feed: the agency's analysts and supervisors hear of each new or verified alert.

    An event, not a push: nobody acknowledges a feed line, and no push alert wakes a phone for it.
    """
    users = agency_staff(agency_id=alert.agency_id, roles=CENTER_ROLES)
    if users:
        event_append(users=users, type="alert", op=op, object_type=ALERT_OBJECT, object_id=str(alert.pk),
                     payload=_payload(alert))


# A read is stored with one statement that also answers "seen before?": the unique (source, event_id)
# constraint decides, so a new read costs no look-up first and two racing copies store one row.
_READ_COLUMNS = ("source", "agency", "event_id", "plate", "plate_key", "region", "confidence", "read_at",
                 "received_at", "latitude", "longitude", "camera_label", "vehicle", "has_hit")
# The values the driver cannot take as they are, prepared by their fields as the ORM would: the JSON, and the
# datetimes on SQLite. The rest are plain strings and numbers (preparing all 14 was a third of the insert's CPU).
_READ_PREPARED = tuple((_READ_COLUMNS.index(f.name), f) for f in PlateRead._meta.concrete_fields
                       if f.name in ("read_at", "received_at", "vehicle"))
_READ_INSERT_SQL = (
    "INSERT INTO sensors_plateread (source_id, agency_id, event_id, plate, plate_key, region, confidence, read_at,"
    " received_at, latitude, longitude, camera_label, vehicle, has_hit)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (source_id, event_id) DO NOTHING RETURNING id"
)


def _plate_read_insert(values: tuple[Any, ...]) -> int | None:
    """The new read's id, or None when this source stored this event id before."""
    params = list(values)
    for index, prepared_by in _READ_PREPARED:
        params[index] = prepared_by.get_db_prep_save(params[index], connection)
    with connection.cursor() as cursor:
        cursor.execute(_READ_INSERT_SQL, params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _duplicate_read(source: SensorSource, event_id: str) -> Ingested:
    found = PlateRead.objects.filter(source=source, event_id=event_id).values_list("pk", flat=True).first()
    return Ingested(status="duplicate", id=found)


def plate_read_ingest(*, source: SensorSource, event_id: str, plate: str, region: str, confidence: float | None,
                      read_at: datetime, latitude: float | None, longitude: float | None, camera_label: str = "",
                      vehicle: dict[str, str] | None = None, snapshot_b64: str = "") -> Ingested:
    """Store a plate read once, match it against the agency's hot lists, and raise an alert on a hit."""
    normalized = plates.plate_normalize(plate)
    if not normalized or len(normalized) > plates.MAX_PLATE:
        raise ValidationFailed("The plate is empty or too long.", code="invalid",
                               fields={"best_plate_number": [f"1-{plates.MAX_PLATE} letters or digits"]})
    if snapshot_b64:
        image_base64_check(snapshot_b64, field_name="vehicle_crop_jpeg")
    region = plates.region_normalize(region)
    latitude, longitude = _position(source, latitude, longitude)
    now = timezone.now()
    hits = hot_list_match(agency_id=source.agency_id, plate=normalized, region=region, now=now)
    values = (source.pk, source.agency_id, event_id, normalized, plates.plate_key(normalized), region, confidence,
              read_at, now, latitude, longitude, camera_label[:100], vehicle or {}, bool(hits))
    if not hits:
        # Most reads: one row, written by one statement, which is atomic on its own; no transaction around it
        # saves the two round trips of BEGIN and COMMIT.
        read_id = _plate_read_insert(values)
        if read_id is None:
            return _duplicate_read(source, event_id)
        _touch(source, now)
        return Ingested(status="accepted", id=read_id)
    # Only a hit keeps an image, and only after the photo pipeline; a read that hits nothing keeps none.
    snapshot = _snapshot(snapshot_b64, field_name="vehicle_crop_jpeg") if snapshot_b64 else None
    best = hits[0]
    with transaction.atomic():
        read_id = _plate_read_insert(values)
        if read_id is None:
            return _duplicate_read(source, event_id)
        _touch(source, now)
        alert = _alert_create(
            source=source, kind=Alert.Kind.PLATE_HIT, event_id=event_id, occurred_at=read_at,
            priority=best.priority, latitude=latitude, longitude=longitude, plate_read_id=read_id,
            hot_list_entry_id=best.entry_id, match_type=best.match_type,
            detail={"plate": normalized, "region": region, "confidence": confidence,
                    "camera_label": camera_label[:100], "vehicle": vehicle or {},
                    "other_hits": [{"entry_id": h.entry_id, "match_type": h.match_type} for h in hits[1:]]})
        if snapshot is not None:
            _snapshot_attach(alert, snapshot)
    return Ingested(status="accepted", id=read_id, alert_ids=[alert.pk])


def _alert_ingest(*, source: SensorSource, kind: str, event_id: str, snapshot_b64: str = "",
                  **values: Any) -> Ingested:
    existing = Alert.objects.filter(source=source, event_id=event_id).values_list("pk", flat=True).first()
    if existing is not None:
        return Ingested(status="duplicate", id=existing, alert_ids=[existing])
    snapshot = _snapshot(snapshot_b64, field_name="snapshot_jpeg") if snapshot_b64 else None
    now = timezone.now()
    try:
        with transaction.atomic():
            alert = _alert_create(source=source, kind=kind, event_id=event_id, **values)
            if snapshot is not None:
                _snapshot_attach(alert, snapshot)
            _touch(source, now)
    except IntegrityError:
        found = Alert.objects.filter(source=source, event_id=event_id).values_list("pk", flat=True).first()
        if found is None:
            raise
        return Ingested(status="duplicate", id=found, alert_ids=[found])
    return Ingested(status="accepted", id=alert.pk, alert_ids=[alert.pk])


def gunshot_ingest(*, source: SensorSource, event_id: str, occurred_at: datetime, latitude: float,
                   longitude: float, rounds: int, confidence: float, sensor_count: int, address: str = "",
                   classification: str = "") -> Ingested:
    """A detected gunshot: an alert at once, then (after commit) a call, its briefing and a push nearby."""
    return _alert_ingest(
        source=source, kind=Alert.Kind.GUNSHOT, event_id=event_id, occurred_at=occurred_at,
        priority=1, latitude=latitude, longitude=longitude,
        detail={"rounds": rounds, "confidence": confidence, "sensor_count": sensor_count, "address": address,
                "classification": classification})


def analytics_ingest(*, source: SensorSource, event_id: str, occurred_at: datetime, rule: str, object_class: str,
                     confidence: float | None, camera_external_id: str = "", latitude: float | None = None,
                     longitude: float | None = None, snapshot_b64: str = "") -> Ingested:
    """A video-analytics rule fired: an alert for the analysts, who decide whether it is a call."""
    camera = source.camera
    if camera_external_id:
        from apps.cameras.models import Camera

        camera = Camera.objects.filter(agency_id=source.agency_id, external_id=camera_external_id).first() or camera
    if (latitude is None or longitude is None) and camera is not None and camera.latitude is not None:
        latitude, longitude = camera.latitude, camera.longitude
    latitude, longitude = _position(source, latitude, longitude)
    return _alert_ingest(
        source=source, kind=Alert.Kind.VIDEO_ANALYTICS, event_id=event_id, occurred_at=occurred_at, priority=3,
        latitude=latitude, longitude=longitude, snapshot_b64=snapshot_b64,
        detail={"rule": rule, "object_class": object_class, "confidence": confidence,
                "camera_id": camera.pk if camera is not None else None, "camera_external_id": camera_external_id})


# --- After commit: the call, its briefing, the push -------------------------------------------------------


def _cad_code(agency_id: int, kind: str) -> tuple[str, str]:
    code, description, category, priority = CAD_CODES[kind]
    CadTypeMapping.objects.get_or_create(agency_id=agency_id, code=code, defaults={
        "description": description, "category": category, "priority": priority})
    return code, description


def _open_call_nearby(alert: Alert) -> Call | None:
    """The open call this alert belongs to, if there is one.

    Gunfire joins an active weapons or violence call within SENSOR_ATTACH_RADIUS_M received in the last
    SENSOR_ATTACH_MINUTES (shots heard by a caller, or a burst the sensors report twice). A plate hit
    joins only a call already raised for the same list entry: a listed car passing an unrelated call is
    not part of it.
    """
    since = timezone.now() - timedelta(minutes=settings.SENSOR_ATTACH_MINUTES)
    active = Call.objects.filter(agency_id=alert.agency_id, status__in=Call.ACTIVE_STATUSES, received_at__gte=since)
    if alert.kind == Alert.Kind.PLATE_HIT:
        return active.filter(sensor_alerts__hot_list_entry_id=alert.hot_list_entry_id).exclude(
            sensor_alerts__pk=alert.pk).order_by("-received_at").first()
    if alert.latitude is None or alert.longitude is None:
        return None
    found = within_radius(active.filter(category__in=(Category.WEAPONS, Category.VIOLENT)),
                          latitude=alert.latitude, longitude=alert.longitude,
                          radius_m=settings.SENSOR_ATTACH_RADIUS_M, limit=1)
    return found[0][0] if found else None


def _call_for(alert: Alert, latitude: float, longitude: float) -> Call:
    call = _open_call_nearby(alert)
    if call is not None:
        return call
    code, description = _cad_code(alert.agency_id, alert.kind)
    address = alert.detail.get("address") or f"{latitude:.5f}, {longitude:.5f} (sensor position)"
    call, _ = call_upsert(
        agency=alert.agency, event_number=f"{EVENT_PREFIX[alert.kind]}-{alert.pk:08d}", actor=None,
        source=Call.Source.CAD, cad_code=code, cad_description=description, priority=alert.priority,
        address=address[:200], latitude=latitude, longitude=longitude,
        narrative=f"Raised by {alert.source.name} without a citizen call; see the alert section for what the "
                  f"sensor reported and whether it is verified.",
        received_at=alert.received_at)
    return call


def _payload(alert: Alert) -> dict[str, Any]:
    # Ids and the state only: a push may show on a lock screen, so never the plate, list or names.
    return {"alert_id": alert.pk, "kind": alert.kind, "call_id": alert.call_id, "verification": alert.state}


def alert_dispatch(*, alert_id: int) -> bool:
    """Raise the alert's call (or join an open one), draft its briefing, push to the units within the radius.

    Claimed first, so a second run (a redelivered task) does nothing. Video analytics
    and health alerts stay with the analysts: no call, no push.
    """
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert_id, dispatched_at__isnull=True).update(dispatched_at=timezone.now()):
            return False
        alert = Alert.objects.select_related("agency", "source").get(pk=alert_id)
        if alert.kind not in CAD_CODES or alert.latitude is None or alert.longitude is None:
            return True
        call = _call_for(alert, alert.latitude, alert.longitude)
        Alert.objects.filter(pk=alert.pk).update(call=call)
        alert.call = call
        # Drafted now, in this worker, so the units get a briefing that already names the alert and its state
        # (the assembly call_upsert scheduled after commit then finds nothing new).
        briefing_assemble(call_id=call.pk, reason="record_changed" if call.created_at < alert.received_at
                          else "call_created")
        briefing = Briefing.objects.get(call=call)
        briefing.call = call
        audience = {"kind": "radius", "latitude": alert.latitude, "longitude": alert.longitude,
                    "radius_m": float(settings.SENSOR_PUSH_RADIUS_M)}
        # Resolved here, in the worker, in this transaction: the alert's own recipients, nobody chose them.
        users = audience_users(agency_id=alert.agency_id, audience=audience)
        alert_announce(alert=alert, op="raised", users=users, audience=audience)
        # And the briefing itself, as an analyst's push would send it: a briefing pushed to an officer is
        # one the officer may open (apps.briefings.selectors), though the unit is not on the call yet.
        briefing_announce(briefing=briefing, op="pushed", users=users, audience=audience, priority=alert.priority,
                          alert_id=alert.pk)
    return True


def alert_announce(*, alert: Alert, op: str, users: list[int], sent_by: User | None = None,
                   audience: dict[str, Any] | None = None) -> Push:
    """Push news of the alert to these users (receipts, a push alert if no socket acks): the one place it is made."""
    return push_record(agency_id=alert.agency_id, type="alert", op=op, object_type=ALERT_OBJECT,
                       object_id=str(alert.pk), payload=_payload(alert), priority=alert.priority, users=users,
                       sent_by=sent_by, call_id=alert.call_id, audience=audience)


# --- Verification -----------------------------------------------------------------------------------------


def alert_verify(*, alert_id: int, user: User, state: str, reason: str, ip: str | None = None) -> Alert:
    """Confirm an alert against its source, or mark it false with the reason.

    A false plate hit flags its list entry for correction. The briefing is
    re-assembled and everyone the alert reached is told the new state.
    """
    from apps.sensors.selectors import alerts_visible_to

    if not alerts_visible_to(user=user).filter(pk=alert_id).exists():
        raise NotFound("Alert not found.", code="alert_not_found")
    if user.role not in CENTER_ROLES:
        raise PermissionDenied("Only analysts and supervisors verify alerts.", code="alert_read_only")
    if state not in (Alert.State.CONFIRMED, Alert.State.FALSE):
        raise ValidationFailed("State must be confirmed or false.", code="invalid",
                               fields={"state": ["confirmed or false"]})
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Say why: what the hit was checked against, or why it is false.",
                               code="reason_required", fields={"reason": ["required"]})
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.state == state:
            raise ValidationFailed(f"The alert is already {state}.", code="no_change")
        before = alert.state
        alert.state, alert.state_reason = state, reason[:500]
        alert.state_changed_by, alert.state_changed_at = user, timezone.now()
        alert.save(update_fields=["state", "state_reason", "state_changed_by", "state_changed_at"])
        audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=alert, ip=ip,
                     detail={"state": [before, state]})
        if state == Alert.State.FALSE and alert.hot_list_entry_id is not None:
            HotListEntry.objects.filter(pk=alert.hot_list_entry_id).update(
                needs_correction=True, correction_note=f"Alert {alert.pk} marked false: {reason}"[:500])
            audit_record(actor=user, action=AuditEvent.Action.UPDATE, object_type="sensors.hotlistentry",
                         object_id=alert.hot_list_entry_id, ip=ip,
                         detail={"fields": ["needs_correction"], "alert_id": alert.pk})
        if alert.call_id is not None:
            call_changed_notify(call_id=alert.call_id, reason="record_changed")
        _analysts_tell(alert, "verified")
        reached = sorted(users_told(object_type=ALERT_OBJECT, object_id=alert.pk))
        if reached:
            alert_announce(alert=alert, op=state, users=reached, sent_by=user)
    return alert


# --- Hot lists: editing -----------------------------------------------------------------------------------

HOT_LIST_FIELDS = frozenset({"name", "kind", "reason", "source", "priority", "expires_at", "enabled"})


def _hot_list_writer(*, user: User) -> int:
    if user.role not in CENTER_ROLES or user.agency_id is None:
        raise NotFound("Not found.", code="not_found")
    return user.agency_id


def _hot_list_validate(values: dict[str, Any]) -> None:
    if values.get("kind") == HotList.Kind.CUSTOM and not (values.get("reason") or "").strip():
        raise ValidationFailed("A custom list needs a reason.", code="reason_required",
                               fields={"reason": ["required for a custom list"]})


def hot_list_create(*, user: User, values: dict[str, Any], ip: str | None = None) -> HotList:
    agency_id = _hot_list_writer(user=user)
    unknown = set(values) - HOT_LIST_FIELDS
    if unknown:
        raise ValidationFailed("Unknown fields.", code="invalid", fields={f: ["unknown"] for f in sorted(unknown)})
    _hot_list_validate(values)
    return _hot_list_save(hot_list=HotList(agency_id=agency_id, owner=user, **values), user=user, fields=values,
                          ip=ip, created=True)


def _hot_list_save(*, hot_list: HotList, user: User, fields: dict[str, Any], ip: str | None,
                   created: bool) -> HotList:
    """Store the list and audit which fields were set; a name the agency already uses is refused."""
    try:
        with transaction.atomic():
            hot_list.save(force_insert=created)
            audit_record(actor=user, action=AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE,
                         obj=hot_list, ip=ip, detail={"fields": sorted(fields)})
    except IntegrityError as exc:
        raise ValidationFailed("A list with this name exists.", code="hot_list_name_taken",
                               fields={"name": ["already exists"]}) from exc
    return hot_list


def _hot_list_for_write(*, user: User, hot_list_id: int) -> HotList:
    from apps.sensors.selectors import hot_lists_visible_to

    hot_list = hot_lists_visible_to(user=user).filter(pk=hot_list_id).first()
    if hot_list is None:
        raise NotFound("Hot list not found.", code="hot_list_not_found")
    return hot_list


def _bolo_entries_refuse(entries: QuerySet[HotListEntry], *, field: str) -> None:
    """No hot-list edit reaches a BOLO's entry: it follows its bulletin (apps.bolos.services), changed there only.

    Ended bulletins count too: their entry is kept so the alerts it raised still name them.
    """
    bolo_ids = sorted(entries.filter(bolo__isnull=False).values_list("bolo__pk", flat=True))
    if bolo_ids:
        named = ", ".join(str(i) for i in bolo_ids[:10])
        raise Conflict(f"A plate of BOLO {named}: it follows its bulletin; change or cancel the bulletin instead.",
                       code="hot_list_entry_owned_by_bolo", fields={field: [f"BOLO {i}" for i in bolo_ids[:10]]})


def hot_list_update(*, user: User, hot_list_id: int, values: dict[str, Any], ip: str | None = None) -> HotList:
    """Change a list. One holding a BOLO's plate is the bulletins': a rename, disable or expiry would unhook it."""
    hot_list = _hot_list_for_write(user=user, hot_list_id=hot_list_id)
    unknown = set(values) - HOT_LIST_FIELDS
    if unknown or not values:
        raise ValidationFailed("Nothing to change, or unknown fields.", code="invalid",
                               fields={f: ["unknown"] for f in sorted(unknown)})
    _hot_list_validate({"kind": hot_list.kind, "reason": hot_list.reason, **values})
    _bolo_entries_refuse(hot_list.entries.all(), field="hot_list_id")
    for name, value in values.items():
        setattr(hot_list, name, value)
    return _hot_list_save(hot_list=hot_list, user=user, fields=values, ip=ip, created=False)


def hot_list_delete(*, user: User, hot_list_id: int, ip: str | None = None) -> None:
    """Delete a list and its entries; alerts it raised keep their record (the entry link is cleared).

    A list holding a BOLO's plate is refused (409): deleting it would unhook the bulletin.
    """
    hot_list = _hot_list_for_write(user=user, hot_list_id=hot_list_id)
    with transaction.atomic():
        _bolo_entries_refuse(hot_list.entries.all(), field="hot_list_id")
        count = hot_list.entries.count()
        audit_record(actor=user, action=AuditEvent.Action.DELETE, obj=hot_list, ip=ip, detail={"entries": count})
        hot_list.delete()


@dataclass(frozen=True)
class EntryIn:
    plate: str
    region: str = ""
    description: str = ""
    case_number: str = ""
    expires_at: datetime | None = None


def _entry(*, hot_list: HotList, entry: EntryIn, added_by: User | None) -> HotListEntry:
    normalized = plates.plate_normalize(entry.plate)
    if not normalized or len(normalized) > plates.MAX_PLATE:
        raise ValidationFailed(f"A plate is 1-{plates.MAX_PLATE} letters or digits.", code="invalid",
                               fields={"plate": ["1-10 letters or digits"]})
    region = plates.region_normalize(entry.region)
    if entry.region.strip() and not region:
        raise ValidationFailed("Give the state as a code, e.g. WA or us-wa.", code="invalid",
                               fields={"region": ["a state or province code"]})
    return HotListEntry(hot_list=hot_list, agency_id=hot_list.agency_id, plate=entry.plate.strip()[:20],
                        plate_normalized=normalized, plate_key=plates.plate_key(normalized), region=region,
                        description=entry.description[:300], case_number=entry.case_number[:40],
                        expires_at=entry.expires_at, added_by=added_by)


def hot_list_entry_add(*, user: User, hot_list_id: int, entry: EntryIn, ip: str | None = None) -> HotListEntry:
    hot_list = _hot_list_for_write(user=user, hot_list_id=hot_list_id)
    row = _entry(hot_list=hot_list, entry=entry, added_by=user)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            audit_record(actor=user, action=AuditEvent.Action.CREATE, obj=row, ip=ip,
                         detail={"hot_list_id": hot_list.pk})
    except IntegrityError as exc:
        raise ValidationFailed("This plate is on the list already.", code="entry_exists",
                               fields={"plate": ["already listed"]}) from exc
    return row


def hot_list_entry_remove(*, user: User, hot_list_id: int, entry_id: int, ip: str | None = None) -> None:
    """Take a plate off a list; a BOLO's plate comes off when its bulletin is changed, cancelled or expires (409)."""
    hot_list = _hot_list_for_write(user=user, hot_list_id=hot_list_id)
    with transaction.atomic():
        entry = HotListEntry.objects.filter(hot_list=hot_list, pk=entry_id).first()
        if entry is None:
            raise NotFound("Entry not found.", code="entry_not_found")
        _bolo_entries_refuse(HotListEntry.objects.filter(pk=entry.pk), field="entry_id")
        audit_record(actor=user, action=AuditEvent.Action.DELETE, obj=entry, ip=ip,
                     detail={"hot_list_id": hot_list.pk})
        entry.delete()


def hot_list_import(*, hot_list: HotList, rows: list[EntryIn], added_by: User | None) -> tuple[int, int]:
    """Add many entries at once (CSV import); (added, already listed). Bad rows raise before anything is written.

    Only adds: a plate already listed, a BOLO's among them, is skipped and left as it is.
    """
    made = [_entry(hot_list=hot_list, entry=row, added_by=added_by) for row in rows]
    with transaction.atomic():
        before = hot_list.entries.count()
        HotListEntry.objects.bulk_create(made, batch_size=2000, ignore_conflicts=True)
        added = hot_list.entries.count() - before
        audit_record(actor=added_by, action=AuditEvent.Action.CREATE, object_type="sensors.hotlistentry",
                     object_id="", detail={"hot_list_id": hot_list.pk, "imported": added,
                                           "already_listed": len(made) - added},
                     username="" if added_by else "import")
    return added, len(made) - added


# --- Retention and health ---------------------------------------------------------------------------------

PURGE_BATCH = 5_000


def plate_reads_purge(*, now: datetime | None = None) -> int:
    """Delete reads that hit nothing once older than SENSOR_READ_RETENTION_DAYS, and old heartbeats; audited.

    In batches, so a first run over months of reads never holds one long lock.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SENSOR_READ_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(PlateRead.objects.filter(has_hit=False, received_at__lt=cutoff)
                   .values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            break
        deleted += PlateRead.objects.filter(pk__in=ids, has_hit=False).delete()[0]
    beats, _ = SensorHeartbeat.objects.filter(received_at__lt=cutoff).delete()
    audit_record(actor=None, username="retention", action=AuditEvent.Action.DELETE, object_type="sensors.plateread",
                 detail={"deleted": deleted, "heartbeats_deleted": beats, "received_before": cutoff.isoformat(),
                         "retention_days": settings.SENSOR_READ_RETENTION_DAYS, "only_without_hit": True})
    return deleted


def sources_silence_check(*, now: datetime | None = None) -> list[int]:
    """Raise one health alert per source that has gone silent; returns the new alerts' ids."""
    now = now or timezone.now()
    raised = []
    for source in SensorSource.objects.filter(enabled=True, silent_since__isnull=True):
        last = source.last_seen_at or source.created_at
        if (now - last).total_seconds() < source.silence_alert_seconds:
            continue
        with transaction.atomic():
            # Claimed: two sweepers raise one alert.
            if not SensorSource.objects.filter(pk=source.pk, silent_since__isnull=True).update(silent_since=now):
                continue
            alert = Alert.objects.create(
                agency_id=source.agency_id, source=source, kind=Alert.Kind.SOURCE_SILENT, occurred_at=last,
                received_at=now, priority=3, latitude=source.latitude, longitude=source.longitude,
                cell=_cell(source.latitude, source.longitude), dispatched_at=now,
                detail={"silent_seconds": int((now - last).total_seconds()), "source_name": source.name})
            audit_record(actor=None, username="health", action=AuditEvent.Action.CREATE, obj=alert,
                         detail={"kind": alert.kind, "source_id": source.pk})
            staff = agency_staff(agency_id=source.agency_id, roles=CENTER_ROLES)
            alert_announce(alert=alert, op="raised", users=staff, audience={"kind": "role", "role": "analyst"})
            raised.append(alert.pk)
    return raised
