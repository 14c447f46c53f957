"""Recording unit positions (AVL) and purging old tracks. What is kept and who sees it: docs/locations.md.

A report is checked whole before anything is written: a position off the Earth, a timestamp from the
future or from more than LOCATIONS_MAX_AGE_SECONDS ago, or reports closer together than one a second
refuse the batch (4xx, nothing stored). What passes is then sorted per unit: older than or equal to the
unit's latest fix (out of order, duplicate) is dropped, and so is 0, 0 (a device without a fix: the good
fixes of the same batch, a tunnel's backlog, are kept), a fix further from the previous one than a car
can drive is kept and flagged. Only units on shift are recorded.

Many reports are written together, whatever their units: on PostgreSQL one statement that inserts the track
and upserts the latest points (bench/avl.py counts the writes). The live map hears of them after commit, through
one wake per batch (apps.delivery.wake.live_publish), and so does apps.emergencies of the units whose officer
needs help (emergency_fixes_register): an emergency raised before the phone had a fix takes the first one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import Unit
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.common.errors import RateLimited, ValidationFailed
from apps.common.jsonbody import json_number
from apps.common.later import after_commit
from apps.common.wire import wire_datetime
from apps.delivery import wake
from apps.locations.live import LIVE_KIND
from apps.locations.models import PositionReport, UnitPosition
from apps.locations.selectors import emergency_units_of
from apps.places.geo import distance_m, no_fix

PURGE_BATCH = 5_000
# Network jitter: two fixes a second apart may arrive stamped 0.95 s apart.
_INTERVAL_TOLERANCE = 0.9
_emergency_fixes: list[Callable[..., object]] = []


def emergency_fixes_register(hook: Callable[..., object]) -> None:
    """apps.emergencies: after commit, `hook(fixes={unit id: (latitude, longitude)})` with the newest fix just
    stored of each unit with an open emergency."""
    if hook not in _emergency_fixes:
        _emergency_fixes.append(hook)


def _emergency_fixes_tell(fixes: dict[int, tuple[float, float]]) -> None:
    for hook in _emergency_fixes:
        hook(fixes=fixes)


@dataclass(frozen=True)
class ReportIn:
    user_id: int
    latitude: float
    longitude: float
    reported_at: datetime
    accuracy_m: float | None = None
    heading_deg: float | None = None
    speed_mps: float | None = None


@dataclass(frozen=True)
class Recorded:
    recorded: int
    dropped: int  # out of order, duplicate, or 0, 0 (no fix)
    flagged: int  # impossible jumps, kept
    off_shift: int  # reports of users on no unit: not stored


def _number(value: Any, name: str, low: float, high: float, *, required: bool, code: str) -> float | None:
    if value is None and not required:
        return None
    if not json_number(value) or not math.isfinite(value):
        raise ValidationFailed(f"{name} must be a number.", code=code, fields={name: ["a number"]})
    if not low <= value <= high:
        raise ValidationFailed(f"{name} must be between {low:g} and {high:g}.", code=code,
                               fields={name: [f"{low:g}..{high:g}"]})
    return float(value)


def _timestamp(value: Any, *, now: datetime) -> datetime:
    parsed = None
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationFailed("reported_at is the device's time of the fix, RFC 3339 with a time zone.",
                               code="invalid_timestamp", fields={"reported_at": ["RFC 3339 with a time zone"]})
    if parsed > now + timedelta(seconds=settings.LOCATIONS_FUTURE_SKEW_SECONDS):
        raise ValidationFailed("reported_at is in the future: check the device's clock.", code="timestamp_in_future",
                               fields={"reported_at": ["in the future"]})
    if parsed < now - timedelta(seconds=settings.LOCATIONS_MAX_AGE_SECONDS):
        raise ValidationFailed(f"reported_at is more than {settings.LOCATIONS_MAX_AGE_SECONDS} s ago.",
                               code="timestamp_too_old", fields={"reported_at": ["too far in the past"]})
    return parsed


def report_clean(*, user_id: int, raw: Any, now: datetime | None = None) -> ReportIn:
    """One report as a device sends it ({latitude, longitude, reported_at, accuracy_m?, heading_deg?,
    speed_mps?}), or ValidationFailed naming what is wrong."""
    now = now or timezone.now()
    if not isinstance(raw, dict):
        raise ValidationFailed("A position is an object.", code="invalid_position", fields={"position": ["object"]})
    latitude = _number(raw.get("latitude"), "latitude", -90, 90, required=True, code="position_out_of_range")
    longitude = _number(raw.get("longitude"), "longitude", -180, 180, required=True, code="position_out_of_range")
    if latitude is None or longitude is None:  # required above; for the type checker
        raise ValidationFailed("latitude and longitude are required.", code="position_out_of_range")
    return ReportIn(
        user_id=user_id, latitude=latitude, longitude=longitude,
        reported_at=_timestamp(raw.get("reported_at"), now=now),
        accuracy_m=_number(raw.get("accuracy_m"), "accuracy_m", 0, 100_000, required=False, code="invalid_position"),
        heading_deg=_number(raw.get("heading_deg"), "heading_deg", 0, 360, required=False, code="invalid_position"),
        speed_mps=_number(raw.get("speed_mps"), "speed_mps", 0, 150, required=False, code="invalid_position"))


def rate_check(*, previous: datetime | None, reported_at: datetime) -> bool:
    """False for a duplicate (same time as the previous fix); RateLimited when closer than one a second."""
    if previous is None:
        return True
    gap = (reported_at - previous).total_seconds()
    if gap == 0:
        return False
    if 0 < gap < settings.LOCATIONS_MIN_INTERVAL_MS / 1000 * _INTERVAL_TOLERANCE:
        raise RateLimited(f"At most one position every {settings.LOCATIONS_MIN_INTERVAL_MS} ms.",
                          code="position_rate_exceeded", fields={"reported_at": ["too close to the previous one"]})
    return True


def reports_clean(*, user_id: int, raw: Any, now: datetime | None = None) -> list[ReportIn]:
    """A batch from one device, checked whole: the first bad report refuses them all."""
    now = now or timezone.now()
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed("positions is a list of reports.", code="invalid_position",
                               fields={"positions": ["a non-empty list"]})
    if len(raw) > settings.LOCATIONS_BATCH_MAX:
        raise ValidationFailed(f"At most {settings.LOCATIONS_BATCH_MAX} positions a batch.", code="batch_too_large",
                               fields={"positions": [f"at most {settings.LOCATIONS_BATCH_MAX}"]})
    reports = []
    for index, item in enumerate(raw):
        try:
            reports.append(report_clean(user_id=user_id, raw=item, now=now))
        except ValidationFailed as exc:
            exc.fields = {f"positions.{index}.{name}": value for name, value in exc.fields.items()}
            raise
    reports.sort(key=lambda r: r.reported_at)
    kept: list[ReportIn] = []
    for report in reports:
        if rate_check(previous=kept[-1].reported_at if kept else None, reported_at=report.reported_at):
            kept.append(report)
    return kept


class _Unit(NamedTuple):
    pk: int
    agency_id: int
    call_sign: str


def _units_of(user_ids: set[int]) -> dict[int, _Unit]:
    """Each user's unit on shift (the lowest id if on several); users on none are off shift.

    Plain rows, not model instances: this runs for every batch of a city's reports (bench/avl.py).
    """
    rows = (Unit.members_on_shift.through.objects.filter(user_id__in=user_ids).order_by("user_id", "unit_id")
            .values_list("user_id", "unit_id", "unit__agency_id", "unit__call_sign"))
    units: dict[int, _Unit] = {}
    for user_id, unit_id, agency_id, call_sign in rows:
        units.setdefault(user_id, _Unit(unit_id, agency_id, call_sign))
    return units


def _jump(previous: tuple[float, float, datetime] | None, report: ReportIn) -> bool:
    if previous is None:
        return False
    lat, lon, at = previous
    seconds = max((report.reported_at - at).total_seconds(), 0.001)
    metres = distance_m(lat, lon, report.latitude, report.longitude) - (report.accuracy_m or 0.0)
    return metres > 100 and metres / seconds > settings.LOCATIONS_JUMP_MPS


def _live_item(unit: _Unit, report: ReportIn, jump: bool, emergency_id: int | None) -> dict[str, Any]:
    return {"unit_id": unit.pk, "agency_id": unit.agency_id, "call_sign": unit.call_sign,
            "latitude": round(report.latitude, 6), "longitude": round(report.longitude, 6),
            "accuracy_m": report.accuracy_m, "heading_deg": report.heading_deg, "speed_mps": report.speed_mps,
            "reported_at": wire_datetime(report.reported_at), "jump": jump, "emergency_id": emergency_id}


def positions_record(*, reports: list[ReportIn], now: datetime | None = None) -> Recorded:
    """Store what is new of these reports (any users, any units) and tell the live map after commit.

    Each report must already be clean (report_clean). One write on PostgreSQL whatever their number.
    """
    now = now or timezone.now()
    if not reports:
        return Recorded(0, 0, 0, 0)
    units = _units_of({r.user_id for r in reports})
    on_shift = [r for r in reports if r.user_id in units]
    off_shift = len(reports) - len(on_shift)
    unit_ids = sorted({units[r.user_id].pk for r in on_shift})
    previous: dict[int, tuple[float, float, datetime]] = {
        unit_id: (lat, lon, at) for unit_id, lat, lon, at in UnitPosition.objects.filter(unit_id__in=unit_ids)
        .values_list("unit_id", "latitude", "longitude", "reported_at")}
    newest: dict[int, tuple[_Unit, ReportIn, bool]] = {}
    chosen: list[tuple[_Unit, ReportIn, bool]] = []
    dropped = 0
    for report in sorted(on_shift, key=lambda r: r.reported_at):
        unit = units[report.user_id]
        before = previous.get(unit.pk)
        if (before is not None and report.reported_at <= before[2]) or no_fix(report.latitude, report.longitude):
            dropped += 1  # out of order, the same fix again, or a device without a fix (0, 0)
            continue
        jump = _jump(before, report)
        previous[unit.pk] = (report.latitude, report.longitude, report.reported_at)
        newest[unit.pk] = (unit, report, jump)
        chosen.append((unit, report, jump))
    if not chosen:
        return Recorded(0, dropped, 0, off_shift)
    # A unit whose officer needs help is drawn above everything, and every officer of the agency sees it.
    flags = emergency_units_of(list(newest))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _write_postgresql(chosen, now)
        else:
            _write_orm(chosen, newest, now)
        # Every fix goes live, not only each unit's newest: a viewer's socket keeps one a second per unit.
        items = [_live_item(unit, report, jump, flags.get(unit.pk)) for unit, report, jump in chosen]
        # robust: the fixes are stored; a lost wake costs the consoles this batch's frame, not the track.
        after_commit(unit_position_announce, items=items, robust=True)
        if flags:
            # robust: the fixes are stored; the officer's device reports again within EMERGENCY_FOLLOW_SECONDS
            # while the emergency is open, and that fix is told again.
            after_commit(_emergency_fixes_tell, {unit_id: (newest[unit_id][1].latitude, newest[unit_id][1].longitude)
                                                 for unit_id in flags}, robust=True)
    return Recorded(len(chosen), dropped, sum(1 for _, _, jump in chosen if jump), off_shift)


Chosen = list[tuple[_Unit, ReportIn, bool]]


def _write_orm(chosen: Chosen, newest: dict[int, tuple[_Unit, ReportIn, bool]], now: datetime) -> None:
    PositionReport.objects.bulk_create([
        PositionReport(unit_id=unit.pk, user_id=r.user_id, latitude=r.latitude, longitude=r.longitude,
                       accuracy_m=r.accuracy_m, heading_deg=r.heading_deg, speed_mps=r.speed_mps,
                       reported_at=r.reported_at, received_at=now, jump=jump) for unit, r, jump in chosen])
    UnitPosition.objects.bulk_create(
        [UnitPosition(unit_id=unit.pk, user_id=report.user_id, agency_id=unit.agency_id, latitude=report.latitude,
                      longitude=report.longitude, accuracy_m=report.accuracy_m, heading_deg=report.heading_deg,
                      speed_mps=report.speed_mps, reported_at=report.reported_at, received_at=now, jump=jump)
         for unit, report, jump in newest.values()],
        update_conflicts=True, unique_fields=["unit"],
        update_fields=["user", "agency_id", "latitude", "longitude", "accuracy_m", "heading_deg", "speed_mps",
                       "reported_at", "received_at", "jump"])


# One statement on PostgreSQL: the track rows, and each unit's newest of them as its latest point, with the
# batch as array parameters. The ORM's two bulk statements built two model instances a report: at 400 reports
# a second on a loaded machine, most of a batch's write time (bench/avl.py). The upsert keeps the newer fix if
# another process wrote one meanwhile.
_WRITE_SQL = """
WITH r AS (
    SELECT * FROM unnest(%(units)s::bigint[], %(users)s::bigint[], %(agencies)s::bigint[], %(lat)s::float8[],
                         %(lon)s::float8[], %(acc)s::float8[], %(hdg)s::float8[], %(spd)s::float8[],
                         %(at)s::timestamptz[], %(jump)s::boolean[])
        AS r(unit_id, user_id, agency_id, latitude, longitude, accuracy_m, heading_deg, speed_mps, reported_at, jump)
), track AS (
    INSERT INTO locations_positionreport
        (unit_id, user_id, latitude, longitude, accuracy_m, heading_deg, speed_mps, reported_at, received_at, jump)
    SELECT unit_id, user_id, latitude, longitude, accuracy_m, heading_deg, speed_mps, reported_at, %(now)s, jump FROM r
)
INSERT INTO locations_unitposition
    (unit_id, user_id, agency_id, latitude, longitude, accuracy_m, heading_deg, speed_mps, reported_at, received_at,
     jump)
SELECT DISTINCT ON (unit_id) unit_id, user_id, agency_id, latitude, longitude, accuracy_m, heading_deg, speed_mps,
       reported_at, %(now)s, jump
FROM r ORDER BY unit_id, reported_at DESC
ON CONFLICT (unit_id) DO UPDATE SET
    user_id = EXCLUDED.user_id, agency_id = EXCLUDED.agency_id, latitude = EXCLUDED.latitude,
    longitude = EXCLUDED.longitude, accuracy_m = EXCLUDED.accuracy_m, heading_deg = EXCLUDED.heading_deg,
    speed_mps = EXCLUDED.speed_mps, reported_at = EXCLUDED.reported_at, received_at = EXCLUDED.received_at,
    jump = EXCLUDED.jump
WHERE locations_unitposition.reported_at < EXCLUDED.reported_at
"""


def _write_postgresql(chosen: Chosen, now: datetime) -> None:
    reports = [r for _, r, _ in chosen]
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_SQL, {
            "units": [u.pk for u, _, _ in chosen], "users": [r.user_id for r in reports],
            "agencies": [u.agency_id for u, _, _ in chosen], "lat": [r.latitude for r in reports],
            "lon": [r.longitude for r in reports], "acc": [r.accuracy_m for r in reports],
            "hdg": [r.heading_deg for r in reports], "spd": [r.speed_mps for r in reports],
            "at": [r.reported_at for r in reports], "jump": [jump for _, _, jump in chosen], "now": now})


def unit_position_announce(*, items: list[dict[str, Any]]) -> None:
    """The one function that sends `unit.position`: live state, one wake per written batch, never an event of the
    log (docs/locations.md). Each item: unit_id, agency_id, call_sign, the fix, jump, emergency_id."""
    wake.live_publish(kind=LIVE_KIND, data={"items": items})


def tracks_purge(*, now: datetime | None = None) -> int:
    """Delete track points older than LOCATIONS_RETENTION_DAYS, in batches; audited, even when none were due."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LOCATIONS_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(PositionReport.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            break
        deleted += PositionReport.objects.filter(pk__in=ids).delete()[0]
    audit_record(actor=None, username="retention", action=AuditEvent.Action.DELETE,
                 object_type=PositionReport._meta.label_lower,
                 detail={"deleted": deleted, "received_before": cutoff.isoformat(),
                         "retention_days": settings.LOCATIONS_RETENTION_DAYS})
    return deleted
