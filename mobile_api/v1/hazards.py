"""Hazards: health areas with their latest weekly rates, and hazards recorded on premises and people.

Health areas are public health data, for officers, analysts and supervisors.
Hazards on a premise or a person are case data: readable by whoever may see
that record (404 otherwise), recorded and removed by analysts and supervisors.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.hazards import selectors, services
from apps.hazards.models import HealthArea, RecordHazard
from mobile_api.v1.base import MAX_ID, AuthedRequest, V1View, client_ip, page_serializer, valid_body, valid_query

AREA_PAGE_DEFAULT = 200  # NYC has 178 areas: one page for a whole city.
AREA_PAGE_MAX = 500


class HealthAreaSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.name")
    disease = serializers.CharField(source="dataset.disease")
    rate_unit = serializers.CharField(source="dataset.rate_unit")
    is_hotspot = serializers.BooleanField(help_text="The latest rate is at or above the hotspot threshold.")
    stale = serializers.BooleanField(help_text="The latest figures are too old to act on, or there are none.")

    class Meta:
        model = HealthArea
        fields = ["id", "dataset", "disease", "code", "label", "latest_week", "latest_rate", "rate_unit",
                  "is_hotspot", "stale"]


@extend_schema_field({
    "type": "object", "required": ["type", "coordinates"],
    "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                   # Rings of [longitude, latitude] pairs (RFC 7946 3.1.6), one level deeper for a MultiPolygon.
                   "coordinates": {"type": "array", "items": {"type": "array", "items": {}}}}})
class GeometryField(serializers.JSONField):
    pass


class HealthAreaDetailSerializer(HealthAreaSerializer):
    ppe_advice = serializers.CharField(source="dataset.ppe_advice")
    geometry = GeometryField(help_text="GeoJSON Polygon or MultiPolygon, [longitude, latitude].")

    class Meta(HealthAreaSerializer.Meta):
        fields = [*HealthAreaSerializer.Meta.fields, "ppe_advice", "min_lat", "max_lat", "min_lon", "max_lon",
                  "geometry"]


HealthAreaPageSerializer = page_serializer(HealthAreaSerializer, "HealthAreaPage")


class HealthAreaQuerySerializer(serializers.Serializer):
    hotspot = serializers.BooleanField(required=False, allow_null=True, default=None)
    cursor = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    size = serializers.IntegerField(required=False, min_value=1, max_value=AREA_PAGE_MAX, default=AREA_PAGE_DEFAULT)


class RecordHazardSerializer(serializers.ModelSerializer):
    class Meta:
        model = RecordHazard
        fields = ["id", "kind", "premise", "person", "description", "source", "reported_at", "expires_at",
                  "created_by"]


class RecordHazardListSerializer(serializers.Serializer):
    results = RecordHazardSerializer(many=True)


class RecordHazardCreateSerializer(serializers.ModelSerializer):
    class Meta:
        model = RecordHazard
        fields = ["kind", "description", "source", "expires_at"]
        extra_kwargs = {"expires_at": {"help_text": "When it stops being true; leave out if open-ended."}}


class HealthAreaListView(V1View):
    """Health areas (e.g. COVID-19 by ZIP area) with their latest weekly rate, in id order; no geometry."""

    @extend_schema(
        parameters=[
            OpenApiParameter("hotspot", bool, required=False, description="true: only hotspots; false: the rest."),
            OpenApiParameter("cursor", str, required=False, description="next_cursor from the previous page."),
            OpenApiParameter("size", int, required=False, description=f"1-{AREA_PAGE_MAX} (default "
                                                                      f"{AREA_PAGE_DEFAULT})."),
        ],
        responses=HealthAreaPageSerializer,
        operation_id="hazard_areas_list",
    )
    def get(self, request: AuthedRequest) -> Response:
        q = valid_query(request, HealthAreaQuerySerializer)
        rows = selectors.health_area_list_for_user(user=request.user, now=timezone.now(), hotspot=q["hotspot"],
                                                   after_id=q.get("cursor"), size=q["size"] + 1)
        more = len(rows) > q["size"]
        rows = rows[: q["size"]]
        return Response({"results": HealthAreaSerializer(rows, many=True).data,
                         "next_cursor": str(rows[-1].pk) if more else None})


class HealthAreaDetailView(V1View):
    """One health area with its outline (GeoJSON), latest rate and the PPE advice for it."""

    @extend_schema(responses=HealthAreaDetailSerializer, operation_id="hazard_areas_retrieve")
    def get(self, request: AuthedRequest, area_id: int) -> Response:
        area = selectors.health_area_get_for_user(user=request.user, area_id=area_id, now=timezone.now())
        return Response(HealthAreaDetailSerializer(area).data)


class RecordHazardsView(V1View):
    """Base of the hazards of one record (a premise or a person), named by the URL's `<record>_id`."""

    def get(self, request: AuthedRequest, **record: int) -> Response:
        hazards = selectors.record_hazard_list_for_user(user=request.user, now=timezone.now(), ip=client_ip(request),
                                                        **record)
        return Response({"results": RecordHazardSerializer(hazards, many=True).data})

    def post(self, request: AuthedRequest, **record: Any) -> Response:
        data = valid_body(request, RecordHazardCreateSerializer)
        hazard = services.record_hazard_add(actor=request.user, ip=client_ip(request), **record, **data)
        return Response(RecordHazardSerializer(hazard).data, status=status.HTTP_201_CREATED)


def _record_hazards(record: str) -> Any:
    """The OpenAPI operations of a RecordHazardsView for `record` (premise, person)."""
    return extend_schema_view(
        get=extend_schema(responses=RecordHazardListSerializer, operation_id=f"{record}_hazards_list"),
        post=extend_schema(request=RecordHazardCreateSerializer, responses={201: RecordHazardSerializer},
                           operation_id=f"{record}_hazards_create", description="Analysts and supervisors record a "
                                                                                "hazard."))


@_record_hazards("premise")
class PremiseHazardsView(RecordHazardsView):
    """Unexpired hazards recorded at a premise (dogs, weapons, violence toward officers, ...), newest first."""


@_record_hazards("person")
class PersonHazardsView(RecordHazardsView):
    """Unexpired hazards recorded on a person, newest first."""


class HazardView(V1View):
    """Remove a recorded hazard (recorded in error, or no longer true). Analysts and supervisors."""

    @extend_schema(request=None, responses={204: None}, operation_id="hazards_delete")
    def delete(self, request: AuthedRequest, hazard_id: int) -> Response:
        services.record_hazard_remove(actor=request.user, hazard_id=hazard_id, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
