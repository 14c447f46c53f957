"""Reads of hazards: health hotspots by area, and hazards recorded on premises and people.

Health areas and rates are public health data, not case data: any officer,
analyst or supervisor reads them and the reads are not audited. Hazards
recorded on a premise or a person are case data: a user sees them only through
the records they may see, and the API's reads of them are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from apps.accounts.policy import AGENCY_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.cases.models import Person, Premise
from apps.cases.selectors import records_visible_to
from apps.common.errors import NotFound
from apps.hazards.geometry import geometry_contains
from apps.hazards.models import HealthArea, HealthDataset, RecordHazard


@dataclass(frozen=True)
class HotspotFinding:
    """The health area a point lies in and its latest weekly rate, judged against the hotspot threshold."""

    dataset_name: str
    disease: str
    area_code: str
    area_label: str
    week_ending: date
    rate: float
    threshold: int
    is_hotspot: bool
    stale: bool
    ppe_advice: str
    rate_unit: str


def _for_agency(agency_id: int | None) -> Q:
    """Areas of the datasets this agency uses: those named for it, and those named for no agency (for all).

    Without an agency, only the datasets for all. Subqueries rather than a join, so an area of a
    dataset shared by several agencies comes back once.
    """
    links = HealthDataset.agencies.through.objects.filter(healthdataset_id=OuterRef("dataset_id"))
    shared = Q(~Exists(links))
    return shared | Q(Exists(links.filter(agency_id=agency_id))) if agency_id is not None else shared


def _is_stale(week_ending: date, now: datetime) -> bool:
    return (timezone.localdate(now) - week_ending).days > settings.HEALTH_DATA_MAX_AGE_DAYS


def health_hotspot_at(*, agency_id: int | None = None, latitude: float, longitude: float,
                      now: datetime) -> HotspotFinding | None:
    """The area holding the point, with its latest rate; None if no area holds it or the area has no rate.

    One query: the bounding-box pre-filter (area_bbox_idx) returns the few areas whose box holds the
    point, then the exact polygon test picks among them. Where datasets overlap (two diseases, say),
    the one with the newest figures wins. Only the agency's datasets count (see _for_agency).
    """
    # A join rather than _for_agency's subqueries: one dataset-agency pair is unique, so an area comes
    # back at most once, and the query costs a third of the time to build (bench/briefing.py).
    mine = Q(dataset__agencies__isnull=True)
    if agency_id is not None:
        mine |= Q(dataset__agencies=agency_id)
    candidates = (
        HealthArea.objects.select_related("dataset")
        .filter(mine)
        .filter(min_lat__lte=latitude, max_lat__gte=latitude, min_lon__lte=longitude, max_lon__gte=longitude,
                latest_week__isnull=False, latest_rate__isnull=False)
        .order_by("-latest_week", "-latest_rate", "pk")
    )
    for area in candidates:
        week, rate = area.latest_week, area.latest_rate
        if week is None or rate is None or not geometry_contains(area.geometry, latitude=latitude,
                                                                  longitude=longitude):
            continue
        threshold = settings.HOTSPOT_WEEKLY_RATE
        return HotspotFinding(
            dataset_name=area.dataset.name,
            disease=area.dataset.disease,
            area_code=area.code,
            area_label=area.label,
            week_ending=week,
            rate=rate,
            threshold=threshold,
            is_hotspot=rate >= threshold,
            stale=_is_stale(week, now),
            ppe_advice=area.dataset.ppe_advice,
            rate_unit=area.dataset.rate_unit,
        )
    return None


def _areas_for_user(*, user: Any, now: datetime) -> QuerySet[HealthArea]:
    """The areas of the user's agency's datasets, with `is_hotspot` and `stale` worked out in the query.

    Only for the roles that work in the field or behind it; anyone else is told "not found".
    """
    if user.role not in AGENCY_ROLES:
        raise NotFound("Not found.")
    cutoff = timezone.localdate(now) - timedelta(days=settings.HEALTH_DATA_MAX_AGE_DAYS)
    return HealthArea.objects.select_related("dataset").filter(_for_agency(user.agency_id)).annotate(
        is_hotspot=Case(When(latest_rate__gte=settings.HOTSPOT_WEEKLY_RATE, then=Value(True)),
                        default=Value(False), output_field=BooleanField()),
        # No figures at all is as stale as old ones: never shown as current.
        stale=Case(When(latest_week__gte=cutoff, then=Value(False)), default=Value(True),
                   output_field=BooleanField()),
    )


def health_area_list_for_user(*, user: Any, now: datetime, hotspot: bool | None = None, after_id: int | None = None,
                              size: int = 200) -> list[HealthArea]:
    """Areas in id order, a page of `size` after `after_id`; hotspot=True keeps only hotspots, False the rest."""
    areas = _areas_for_user(user=user, now=now).defer("geometry")
    hot = Q(latest_rate__gte=settings.HOTSPOT_WEEKLY_RATE)
    if hotspot is not None:
        areas = areas.filter(hot if hotspot else ~hot | Q(latest_rate__isnull=True))
    if after_id is not None:
        areas = areas.filter(pk__gt=after_id)
    return list(areas.order_by("pk")[:size])


def health_area_get_for_user(*, user: Any, area_id: int, now: datetime) -> HealthArea:
    area = _areas_for_user(user=user, now=now).filter(pk=area_id).first()
    if area is None:
        raise NotFound("Health area not found.", code="hazard_area_not_found")
    return area


def _on_records(premises: Any, people: Any) -> Q:
    """Hazards every linked record of which is in `premises` / `people` (ids or querysets)."""
    return (Q(premise__isnull=True) | Q(premise__in=premises)) & (Q(person__isnull=True) | Q(person__in=people))


def record_hazards_active(*, premise_ids: list[int], person_ids: list[int], now: datetime) -> list[RecordHazard]:
    """Unexpired hazards on these premises and people, newest first. One query; not audited.

    For a briefing, which has already chosen the records its reader may see. A hazard linked to
    both a premise and a person comes back only when both are among those given.
    """
    if not premise_ids and not person_ids:
        return []
    # The same rule as _on_records, spelt so PostgreSQL can look hazards up by premise and by person
    # (the check constraint says every hazard has one or the other) instead of reading every person hazard.
    on_records = (Q(premise__in=premise_ids) & (Q(person__isnull=True) | Q(person__in=person_ids))) | (
        Q(premise__isnull=True) & Q(person__in=person_ids))
    return list(RecordHazard.objects.filter(on_records).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)))


def record_hazards_visible_to(*, user: Any) -> QuerySet[RecordHazard]:
    """Hazards every linked record of which the user may see."""
    return RecordHazard.objects.filter(_on_records(records_visible_to(user=user, model=Premise),
                                                   records_visible_to(user=user, model=Person)))


def record_hazard_list_for_user(*, user: Any, now: datetime, premise_id: int | None = None,
                                person_id: int | None = None, ip: str | None = None) -> list[RecordHazard]:
    """The unexpired hazards on one premise or one person, if the user may see it (else 404); audited."""
    if premise_id is not None:
        if not records_visible_to(user=user, model=Premise).filter(pk=premise_id).exists():
            raise NotFound("Premise not found.", code="premise_not_found")
        on = Q(premise_id=premise_id)
        detail = {"premise_id": premise_id}
    elif person_id is not None:
        if not records_visible_to(user=user, model=Person).filter(pk=person_id).exists():
            raise NotFound("Person not found.", code="person_not_found")
        on = Q(person_id=person_id)
        detail = {"person_id": person_id}
    else:
        raise ValueError("give premise_id or person_id")
    hazards = list(
        record_hazards_visible_to(user=user).filter(on)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=RecordHazard._meta.label_lower,
                 objects=hazards, ip=ip, detail=detail)
    return hazards
