"""Unit locations (AVL): reporting positions, the live snapshot, past tracks, nearest available units.

What is kept, how long, who sees it and how lookups are audited: docs/locations.md. Live positions also
come over the stream (`unit.position` frames); this is the snapshot a client reads at start.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.locations import selectors, services
from mobile_api.v1.base import AuthedRequest, V1View, client_ip, valid_body, valid_query


class PositionInSerializer(serializers.Serializer):
    """One fix as the device took it (validated by apps.locations.services.report_clean, not here)."""

    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    reported_at = serializers.DateTimeField(help_text="The device's own time of the fix (RFC 3339, with a zone).")
    accuracy_m = serializers.FloatField(required=False, allow_null=True)
    heading_deg = serializers.FloatField(required=False, allow_null=True, help_text="0-360, clockwise from north.")
    speed_mps = serializers.FloatField(required=False, allow_null=True)


class PositionBatchSerializer(serializers.Serializer):
    positions = PositionInSerializer(many=True, help_text="Up to RTCC_LOCATIONS_BATCH_MAX (120), one a second at most.")


class PositionBatchResultSerializer(serializers.Serializer):
    recorded = serializers.IntegerField()
    dropped = serializers.IntegerField(help_text="Out of order or duplicates (older than the unit's latest fix), "
                                                         "or 0, 0: a device without a fix.")
    flagged = serializers.IntegerField(help_text="Kept, but further from the previous fix than a car can drive.")
    off_shift = serializers.BooleanField(help_text="True: you are on no unit's shift, nothing was recorded.")


class MyPositionsView(V1View):
    """Report this device's positions in a batch (an app in the background); in the foreground use the stream.

    Recorded only while your unit is on shift. The batch is refused whole (nothing stored) for a position off
    the Earth, a timestamp in the future or over an hour old, or fixes closer together than one a second.
    """

    @extend_schema(request=PositionBatchSerializer, responses={202: PositionBatchResultSerializer},
                   operation_id="me_positions_report")
    def post(self, request: AuthedRequest) -> Response:
        raw = request.data.get("positions") if isinstance(request.data, dict) else None
        reports = services.reports_clean(user_id=request.user.pk, raw=raw)
        done = services.positions_record(reports=reports)
        body = {"recorded": done.recorded, "dropped": done.dropped, "flagged": done.flagged,
                "off_shift": done.off_shift > 0}
        return Response(PositionBatchResultSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class UnitPositionSerializer(serializers.Serializer):
    unit_id = serializers.IntegerField(source="position.unit_id")
    call_sign = serializers.CharField()
    latitude = serializers.FloatField(source="position.latitude")
    longitude = serializers.FloatField(source="position.longitude")
    accuracy_m = serializers.FloatField(source="position.accuracy_m", allow_null=True)
    heading_deg = serializers.FloatField(source="position.heading_deg", allow_null=True)
    speed_mps = serializers.FloatField(source="position.speed_mps", allow_null=True)
    reported_at = serializers.DateTimeField(source="position.reported_at")
    jump = serializers.BooleanField(source="position.jump", help_text="This fix is doubtful (an impossible jump).")
    emergency_id = serializers.IntegerField(allow_null=True, help_text="Set while the unit's officer needs help.")


class UnitPositionListSerializer(serializers.Serializer):
    results = UnitPositionSerializer(many=True)
    live_interval_ms = serializers.IntegerField(help_text="The stream sends each unit at most this often.")


class UnitPositionListView(V1View):
    """The latest position of every unit you may see (fresh within 15 minutes).

    Analysts and supervisors: the agency's units. Officers: their own, those on the same calls, those within
    1 km and any unit whose officer needs help. Co-responders: the unit of a referral they are working.
    """

    @extend_schema(responses=UnitPositionListSerializer, operation_id="units_positions_list")
    def get(self, request: AuthedRequest) -> Response:
        found = selectors.unit_positions_for_user(user=request.user, ip=client_ip(request))
        return Response(UnitPositionListSerializer({"results": found,
                                                    "live_interval_ms": settings.LOCATIONS_LIVE_INTERVAL_MS}).data)


class TrackQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    purpose = serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                    help_text="Why you need it (10-300 characters); shown to the unit's officers.")
    case_number = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                        help_text="The case or incident number the lookup is for.")


class TrackPointSerializer(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    accuracy_m = serializers.FloatField(allow_null=True)
    heading_deg = serializers.FloatField(allow_null=True)
    speed_mps = serializers.FloatField(allow_null=True)
    reported_at = serializers.DateTimeField()
    jump = serializers.BooleanField()


class TrackSerializer(serializers.Serializer):
    lookup_id = serializers.IntegerField(source="lookup.pk")
    unit_id = serializers.IntegerField(source="unit.pk")
    call_sign = serializers.CharField(source="unit.call_sign")
    points = TrackPointSerializer(many=True)


class UnitTrackView(V1View):
    """Where a unit was between two times (at most 24 h): analysts and supervisors, with a stated purpose and a
    case or incident number. Every lookup is audited and shown to the unit's officers (GET /me/track-lookups).

    A POST, so the purpose and case number stay out of the URL (URLs end up in logs).
    """

    @extend_schema(request=TrackQuerySerializer, responses=TrackSerializer, operation_id="units_track_lookup")
    def post(self, request: AuthedRequest, unit_id: int) -> Response:
        data = valid_body(request, TrackQuerySerializer)
        track = selectors.track_for_user(user=request.user, unit_id=unit_id, start=data["start"], end=data["end"],
                                         purpose=data.get("purpose"), case_number=data.get("case_number"),
                                         ip=client_ip(request))
        return Response(TrackSerializer(track).data)


class TrackLookupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    call_sign = serializers.CharField(source="unit.call_sign")
    looked_by = serializers.SerializerMethodField()
    at = serializers.DateTimeField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    purpose = serializers.CharField()
    case_number = serializers.CharField()

    def get_looked_by(self, lookup: object) -> str:
        user = lookup.looked_by  # type: ignore[attr-defined]
        return str(user.get_full_name() or user.username)


class TrackLookupListSerializer(serializers.Serializer):
    results = TrackLookupSerializer(many=True)


class MyTrackLookupListView(V1View):
    """Who looked at your track: when, for what purpose and which case (the 100 latest)."""

    @extend_schema(responses=TrackLookupListSerializer, operation_id="me_track_lookups_list")
    def get(self, request: AuthedRequest) -> Response:
        lookups = list(selectors.track_lookups_of_user(user=request.user)[:100])
        return Response(TrackLookupListSerializer({"results": lookups}).data)


class NearUnitSerializer(serializers.Serializer):
    unit_id = serializers.IntegerField(source="unit.pk")
    call_sign = serializers.CharField(source="unit.call_sign")
    distance_m = serializers.FloatField(help_text="Straight line, not the road.")
    age_s = serializers.FloatField(help_text="How old the unit's last position is.")
    latitude = serializers.FloatField(source="position.latitude")
    longitude = serializers.FloatField(source="position.longitude")


class NearUnitListSerializer(serializers.Serializer):
    results = NearUnitSerializer(many=True)


class NearUnitQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=selectors.NEAREST_MAX, default=10)


class CallNearestUnitsView(V1View):
    """The available units (on shift, on no active call) nearest the call, straight-line, with the age of each
    unit's last position. For analysts, supervisors and the officers on the call."""

    @extend_schema(parameters=[OpenApiParameter("limit", int, required=False, description="1-25 (default 10).")],
                   responses=NearUnitListSerializer, operation_id="calls_nearest_units_list")
    def get(self, request: AuthedRequest, call_id: int) -> Response:
        limit = valid_query(request, NearUnitQuerySerializer)["limit"]
        found = selectors.nearest_units_for_call(user=request.user, call_id=call_id, limit=limit,
                                                 ip=client_ip(request))
        return Response(NearUnitListSerializer({"results": found}).data)

