"""Reads of sensor alerts, hot lists and plate reads. The only road to them, filtered by agency and role, and audited.

Officers, analysts and supervisors of an agency read its alerts (an officer is
sent them and must see what was hit); analysts and supervisors read and edit
hot lists and search plate reads, each search with a stated purpose and case
number. Everyone else, and every other agency, gets "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import Device
from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record, audited_get
from apps.briefings.assembly import Item, item
from apps.calls.models import Call
from apps.common.errors import NotFound, ValidationFailed
from apps.media.selectors import MediaFile
from apps.places.geo import cells_within, distance_m
from apps.sensors import plates
from apps.sensors.models import Alert, HotList, HotListEntry, PlateRead

MAX_PAGE = 200


def alerts_visible_to(*, user: Any) -> QuerySet[Alert]:
    if user is None or user.role not in AGENCY_ROLES or user.agency_id is None:
        return Alert.objects.none()
    return Alert.objects.filter(agency_id=user.agency_id)


@dataclass(frozen=True)
class AlertPage:
    items: list[Alert]
    next_cursor: str | None


def _id_page(rows: QuerySet[Any], *, cursor: str | None, size: int, newest_first: bool) -> tuple[list[Any], str | None]:
    """One page by id (newest or oldest first) and the cursor of the next: the id it starts after."""
    if cursor:
        if not cursor.isdigit():
            raise ValidationFailed("Unknown cursor.", code="invalid", fields={"cursor": ["not a cursor"]})
        rows = rows.filter(pk__lt=int(cursor)) if newest_first else rows.filter(pk__gt=int(cursor))
    size = max(1, min(size, MAX_PAGE))
    found = list(rows.order_by("-pk" if newest_first else "pk")[: size + 1])
    items = found[:size]
    return items, str(items[-1].pk) if len(found) > size else None


def alert_list_for_user(*, user: Any, state: str | None = None, kind: str | None = None, cursor: str | None = None,
                        size: int = 50, ip: str | None = None) -> AlertPage:
    """The agency's alerts, newest first; the cursor is the id the next page starts below."""
    alerts = alerts_visible_to(user=user).select_related("source", "hot_list_entry__hot_list", "hot_list_entry__bolo")
    if state:
        alerts = alerts.filter(state=state)
    if kind:
        alerts = alerts.filter(kind=kind)
    items, next_cursor = _id_page(alerts, cursor=cursor, size=size, newest_first=True)
    page = AlertPage(items=items, next_cursor=next_cursor)
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Alert._meta.label_lower,
                 objects=page.items, ip=ip)
    return page


def alert_get_for_user(*, user: Any, alert_id: int, ip: str | None = None) -> Alert:
    alerts = alerts_visible_to(user=user).select_related("source", "hot_list_entry__hot_list", "hot_list_entry__bolo",
                                                         "call", "state_changed_by")
    return audited_get(user=user, queryset=alerts, pk=alert_id, code="alert_not_found", ip=ip)


def alert_snapshot_get(*, user: Any, alert_id: int, ip: str | None = None) -> MediaFile:
    """The snapshot of an alert the user sees: what a signed link (apps.media.links, kind "snapshot") opens.

    Checked when the link is opened, not when it was made: a user who has lost sight of the alert gets 404.
    """
    alert = alerts_visible_to(user=user).filter(pk=alert_id).only("pk", "agency_id", "snapshot",
                                                                  "snapshot_sha256").first()
    if alert is None:
        raise NotFound("Alert not found.", code="alert_not_found")
    if not alert.snapshot:
        raise NotFound("This alert has no snapshot.", code="snapshot_not_found")
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=alert, ip=ip, detail={"file": "snapshot"})
    # The photo pipeline wrote it as a JPEG (apps.sensors.services._snapshot).
    return MediaFile(name=alert.snapshot.name, content_type="image/jpeg", sha256=alert.snapshot_sha256)


@dataclass(frozen=True)
class NearbyUnit:
    call_sign: str
    distance_m: float


def units_near(*, agency_id: int, latitude: float, longitude: float, radius_m: float) -> list[NearbyUnit]:
    """Units on shift whose members' devices last reported a position within the radius, nearest first."""
    since = timezone.now() - timedelta(seconds=settings.DELIVERY_LOCATION_MAX_AGE_SECONDS)
    devices = (Device.objects.filter(user__agency_id=agency_id, user__is_active=True, revoked_at=None,
                                     located_at__gte=since, latitude__isnull=False, longitude__isnull=False,
                                     user__units_on_shift__isnull=False)
               .values_list("latitude", "longitude", "user__units_on_shift__call_sign"))
    best: dict[str, float] = {}
    for lat, lon, call_sign in devices:
        if lat is None or lon is None:
            continue
        metres = distance_m(latitude, longitude, lat, lon)
        if metres <= radius_m and metres < best.get(call_sign, float("inf")):
            best[call_sign] = metres
    return [NearbyUnit(c, m) for c, m in sorted(best.items(), key=lambda pair: pair[1])]


def prior_gunfire(*, alert: Alert, days: int | None = None) -> int:
    """Gunshot alerts in the cells around this one over the last year, this one and false ones left out."""
    if alert.latitude is None or alert.longitude is None:
        return 0
    since = alert.occurred_at - timedelta(days=days or settings.PRIOR_CALLS_DAYS)
    cells = cells_within(alert.latitude, alert.longitude, settings.SENSOR_ATTACH_RADIUS_M)
    return (Alert.objects.filter(agency_id=alert.agency_id, kind=Alert.Kind.GUNSHOT, cell__in=cells,
                                 occurred_at__gte=since, occurred_at__lt=alert.occurred_at)
            .exclude(state=Alert.State.FALSE).count())


def alert_cameras(*, alert: Alert) -> list[dict[str, Any]]:
    """The cameras an analyst may use for the alert: through its call, as the owners' sharing allows."""
    if alert.call is None:
        return []
    from apps.cameras.selectors import cameras_for_call

    return [{"id": c.camera.pk, "name": c.camera.name, "kind": c.camera.kind,
             "distance_m": round(c.distance_m) if c.distance_m is not None else None, "reason": c.reason}
            for c in cameras_for_call(call=alert.call, limit=settings.CAMERAS_IN_BRIEFING)]


# --- The briefing's alert section (registered in SensorsConfig.ready) -----------------------------------

_KIND_TITLE: dict[str, str] = {Alert.Kind.GUNSHOT: "gunshot detection", Alert.Kind.PLATE_HIT: "plate hit",
               Alert.Kind.VIDEO_ANALYTICS: "video analytics", Alert.Kind.SOURCE_SILENT: "sensor health"}
_MATCH_TEXT: dict[str, str] = {plates.Match.EXACT: "exact match",
               plates.Match.CONFUSABLE: "matched only if misread characters (O/0, I/1, B/8, S/5, Z/2, G/6) "
                                        "are taken as the same",
               plates.Match.STATE_UNKNOWN: "state not known on the read or the list"}


def _state_text(alert: Alert) -> str:
    if alert.state == Alert.State.UNVERIFIED:
        what = "against the source list" if alert.kind == Alert.Kind.PLATE_HIT else "by the center"
        return f"UNVERIFIED: not yet confirmed {what}. Do not act on it alone."
    by = alert.state_changed_by.get_full_name() or alert.state_changed_by.username if alert.state_changed_by else ""
    if alert.state == Alert.State.CONFIRMED:
        return f"CONFIRMED by {by}: {alert.state_reason}"
    return f"FALSE, marked by {by}: {alert.state_reason}"


def _alert_body(alert: Alert, prior: int) -> str:
    d = alert.detail
    if alert.kind == Alert.Kind.GUNSHOT:
        text = (f"{d.get('rounds')} round(s) detected by {d.get('sensor_count')} sensor(s), confidence "
                f"{float(d.get('confidence') or 0):.0%}.")
        if prior:
            text += f" {prior} earlier gunshot detection(s) within {settings.SENSOR_ATTACH_RADIUS_M} m this year."
        return text
    if alert.kind == Alert.Kind.PLATE_HIT:
        entry = alert.hot_list_entry
        listed = f"on {entry.hot_list.name}: {entry.description}".rstrip(": ") if entry else "on a hot list"
        vehicle = ", ".join(v for v in (alert.detail.get("vehicle") or {}).values() if v)
        return (f"Plate {d.get('plate')} ({d.get('region') or 'state unknown'}) read {listed}. "
                f"{_MATCH_TEXT.get(alert.match_type, alert.match_type)}."
                + (f" Camera's guess at the vehicle: {vehicle}." if vehicle else ""))
    return f"Rule {d.get('rule')} fired on a {d.get('object_class')}."


def alert_briefing_items(call: Call, now: datetime) -> list[Item]:
    """The alerts that raised or joined this call, each saying first whether it is verified.

    Read with the briefing's own rule (no user): the call's agency's alerts only.
    """
    of_call = Alert.objects.filter(call_id=call.pk, agency_id=call.agency_id)
    # Most calls have no alert: a bare EXISTS first, because building the query with its joins costs
    # a millisecond and a half of every assembly before PostgreSQL sees it.
    if not of_call.exists():
        return []
    alerts = list(of_call.select_related("hot_list_entry__hot_list", "state_changed_by").order_by("occurred_at", "pk"))
    items = []
    for alert in alerts:
        prior = prior_gunfire(alert=alert) if alert.kind == Alert.Kind.GUNSHOT else 0
        state = _state_text(alert)
        items.append(item(
            id=f"alert:{alert.pk}", section="alert",
            title=f"{alert.get_state_display().upper()} {_KIND_TITLE.get(alert.kind, alert.kind)}",
            body=f"{state} {_alert_body(alert, prior)}", rule=f"sensor_alert:{alert.kind}",
            why=f"This call was raised or joined by a {_KIND_TITLE.get(alert.kind, alert.kind)} alert",
            as_of=alert.state_changed_at or alert.received_at,
            severity="caution" if alert.state == Alert.State.UNVERIFIED else (
                "danger" if alert.kind == Alert.Kind.GUNSHOT and alert.state == Alert.State.CONFIRMED else "info"),
            # No `ref`: briefing readers filter refs by case-file visibility, and alerts are not case files.
            data={"alert_id": alert.pk, "kind": alert.kind, "verification": alert.state,
                  "match_type": alert.match_type or None, "prior_gunfire": prior},
        ))
    return items


# --- Hot lists and plate reads ---------------------------------------------------------------------------


def hot_lists_visible_to(*, user: Any) -> QuerySet[HotList]:
    if user is None or user.role not in CENTER_ROLES or user.agency_id is None:
        return HotList.objects.none()
    return HotList.objects.filter(agency_id=user.agency_id)


def hot_list_list_for_user(*, user: Any, ip: str | None = None) -> list[HotList]:
    lists = list(hot_lists_visible_to(user=user).select_related("owner"))
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=HotList._meta.label_lower, objects=lists,
                 ip=ip)
    return lists


def hot_list_get_for_user(*, user: Any, hot_list_id: int, ip: str | None = None) -> HotList:
    return audited_get(user=user, queryset=hot_lists_visible_to(user=user).select_related("owner"), pk=hot_list_id,
                       code="hot_list_not_found", ip=ip)


def hot_list_entries_for_user(*, user: Any, hot_list_id: int, cursor: str | None = None, size: int = 100,
                              needs_correction: bool | None = None, ip: str | None = None) -> AlertPage:
    hot_list = hot_lists_visible_to(user=user).filter(pk=hot_list_id).first()
    if hot_list is None:
        raise NotFound("Hot list not found.", code="hot_list_not_found")
    entries = HotListEntry.objects.filter(hot_list=hot_list).select_related("bolo")
    if needs_correction is not None:
        entries = entries.filter(needs_correction=needs_correction)
    items, next_cursor = _id_page(entries, cursor=cursor, size=size, newest_first=False)
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=HotListEntry._meta.label_lower,
                 objects=items, ip=ip, detail={"hot_list_id": hot_list.pk})
    return AlertPage(items=items, next_cursor=next_cursor)


def plate_read_search(*, user: Any, plate: str, purpose: str, case_number: str, region: str = "",
                      confusable: bool = False, ip: str | None = None) -> list[PlateRead]:
    """Where a plate was read, newest first. The purpose and case number are required and go on the audit trail.

    `confusable` also finds reads a camera may have misread (same folded key).
    """
    if user is None or user.role not in CENTER_ROLES or user.agency_id is None:
        raise NotFound("Not found.", code="not_found")
    errors: dict[str, list[str]] = {}
    if len(purpose.strip()) < 10:
        errors["purpose"] = ["say why you search, in at least 10 characters"]
    if not case_number.strip():
        errors["case_number"] = ["required"]
    normalized = plates.plate_normalize(plate)
    if not normalized or len(normalized) > plates.MAX_PLATE:
        errors["plate"] = [f"1-{plates.MAX_PLATE} letters or digits"]
    if errors:
        raise ValidationFailed("An LPR search needs a plate, a purpose and a case number.", code="invalid",
                               fields=errors)
    reads = PlateRead.objects.filter(agency_id=user.agency_id, plate_key=plates.plate_key(normalized))
    if not confusable:
        reads = reads.filter(plate=normalized)
    wanted_region = plates.region_normalize(region)
    if wanted_region:
        reads = reads.filter(region__in=(wanted_region, ""))
    found = list(reads.select_related("source").order_by("-read_at", "-pk")[:MAX_PAGE])
    audit_record(actor=user, action=AuditEvent.Action.SEARCH, object_type=PlateRead._meta.label_lower,
                 objects=found, ip=ip,
                 detail={"plate": normalized, "region": wanted_region, "confusable": confusable,
                         "purpose": purpose.strip()[:300], "case_number": case_number.strip()[:40]})
    return found
