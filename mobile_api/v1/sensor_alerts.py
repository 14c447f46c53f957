"""Sensor alerts: your agency's gunshot detections, plate hits and video-analytics alerts, and their snapshots.

Read by the agency's officers, analysts and supervisors (apps/sensors/selectors.py decides who sees
which); verified by analysts and supervisors. What the webhooks take in: mobile_api/v1/sensor_webhooks.py.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.media.links import LinkClaim, media_token_make
from apps.sensors import selectors, services
from apps.sensors.models import Alert, HotListEntry, SensorSource
from mobile_api.v1.base import (
    AuthedRequest,
    V1View,
    choice_query,
    client_ip,
    page_serializer,
    page_size_query,
    valid_body,
)
from mobile_api.v1.media import SignedFileView, StoredFile, ranged, signed_file


class SourceBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = SensorSource
        fields = ["id", "name", "kind"]


class AlertEntrySerializer(serializers.ModelSerializer):
    hot_list_id = serializers.IntegerField()
    hot_list_name = serializers.CharField(source="hot_list.name")
    hot_list_kind = serializers.CharField(source="hot_list.kind")
    bolo_id = serializers.SerializerMethodField(help_text="The BOLO whose plate this is (GET /bolos/{id}), if any.")

    class Meta:
        model = HotListEntry
        fields = ["id", "plate", "plate_normalized", "region", "description", "case_number", "hot_list_id",
                  "hot_list_name", "hot_list_kind", "needs_correction", "bolo_id"]

    def get_bolo_id(self, entry: HotListEntry) -> int | None:
        bolo = getattr(entry, "bolo", None)  # the reverse one-to-one of apps.bolos.models.Bolo.hot_list_entry
        return bolo.pk if bolo is not None else None


def alert_snapshot_link(request: Request, alert_id: int) -> str:
    """A link to an alert's snapshot, for the asking device session only, valid MEDIA_LINK_SECONDS.

    It stops working when that session ends, its device is revoked or its user loses sight
    of the alert, whichever is first (apps.media.links), as photo and clip links do.
    """
    token = media_token_make(kind="snapshot", object_id=alert_id, session_id=request.auth.pk, variant="snapshot")
    return request.build_absolute_uri(reverse("v1:sensor-alert-snapshot", kwargs={"token": token}))


# context["request"]: the signed-in request a snapshot link is made for.
class AlertSerializer(serializers.ModelSerializer):
    source = SourceBriefSerializer()  # type: ignore[assignment]
    call_id = serializers.IntegerField(allow_null=True)
    hot_list_entry = AlertEntrySerializer(allow_null=True)
    state_changed_by = serializers.IntegerField(source="state_changed_by_id", allow_null=True)
    has_snapshot = serializers.SerializerMethodField()
    snapshot_url = serializers.SerializerMethodField(
        help_text="Signed link to the snapshot (JPEG, Range supported), for this device session only and for "
                  "RTCC_MEDIA_LINK_SECONDS; null when the alert has none.")

    class Meta:
        model = Alert
        fields = ["id", "kind", "state", "priority", "occurred_at", "received_at", "latitude", "longitude",
                  "source", "call_id", "match_type", "detail", "hot_list_entry", "state_changed_by",
                  "state_changed_at", "state_reason", "has_snapshot", "snapshot_url"]

    def get_has_snapshot(self, alert: Alert) -> bool:
        return bool(alert.snapshot)

    def get_snapshot_url(self, alert: Alert) -> str | None:
        return alert_snapshot_link(self.context["request"], alert.pk) if alert.snapshot else None


class NearbyUnitSerializer(serializers.Serializer):
    call_sign = serializers.CharField()
    distance_m = serializers.IntegerField()


class AlertCameraSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    distance_m = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()


class AlertDetailSerializer(AlertSerializer):
    cameras = AlertCameraSerializer(many=True, help_text="The nearest cameras the owners share for its call.")
    units_nearby = NearbyUnitSerializer(many=True)
    prior_gunfire = serializers.IntegerField(help_text="Earlier gunshot detections around this spot this year.")

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "cameras", "units_nearby", "prior_gunfire"]


AlertPageSerializer = page_serializer(AlertSerializer, "AlertPage")


class AlertVerifySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=[Alert.State.CONFIRMED, Alert.State.FALSE])
    reason = serializers.CharField(max_length=500, help_text="What it was checked against, or why it is false.")


def _alert_answer(request: AuthedRequest, alert_id: int) -> Response:
    """The alert as the user now sees it (404 if they may not), with what is around it."""
    alert = selectors.alert_get_for_user(user=request.user, alert_id=alert_id, ip=client_ip(request))
    units = []
    if alert.latitude is not None and alert.longitude is not None:
        units = [{"call_sign": u.call_sign, "distance_m": round(u.distance_m)} for u in selectors.units_near(
            agency_id=alert.agency_id, latitude=alert.latitude, longitude=alert.longitude,
            radius_m=settings.SENSOR_PUSH_RADIUS_M)]
    alert.cameras = selectors.alert_cameras(alert=alert)  # type: ignore[attr-defined]
    alert.units_nearby = units  # type: ignore[attr-defined]
    alert.prior_gunfire = (selectors.prior_gunfire(alert=alert)  # type: ignore[attr-defined]
                           if alert.kind == Alert.Kind.GUNSHOT else 0)
    return Response(AlertDetailSerializer(alert, context={"request": request}).data)


class AlertListView(V1View):
    """Your agency's sensor alerts, newest first: unverified ones to work, or those of one state or kind."""

    @extend_schema(parameters=[
        OpenApiParameter("state", str, required=False, enum=Alert.State.values),
        OpenApiParameter("kind", str, required=False, enum=Alert.Kind.values),
        OpenApiParameter("cursor", str, required=False, description="next_cursor from the previous page."),
        OpenApiParameter("size", int, required=False, description="Page size, 1-200 (default 50)."),
    ], responses=AlertPageSerializer, operation_id="sensor_alerts_list")
    def get(self, request: AuthedRequest) -> Response:
        page = selectors.alert_list_for_user(
            user=request.user, state=choice_query(request, "state", Alert.State.values, "Unknown state."),
            kind=choice_query(request, "kind", Alert.Kind.values, "Unknown kind."),
            cursor=request.query_params.get("cursor") or None, size=page_size_query(request), ip=client_ip(request))
        alerts = AlertSerializer(page.items, many=True, context={"request": request}).data
        return Response({"results": alerts, "next_cursor": page.next_cursor})


class AlertDetailView(V1View):
    """One alert with what the analyst needs around it: the nearest shared cameras, units nearby, prior gunfire."""

    @extend_schema(responses=AlertDetailSerializer, operation_id="sensor_alerts_retrieve")
    def get(self, request: AuthedRequest, alert_id: int) -> Response:
        return _alert_answer(request, alert_id)


class AlertVerifyView(V1View):
    """Analysts and supervisors: confirm an alert against its source, or mark it false with the reason.

    A false plate hit flags its list entry for correction; the call's briefing
    and everyone the alert reached learn the new state.
    """

    @extend_schema(request=AlertVerifySerializer, responses=AlertDetailSerializer,
                   operation_id="sensor_alerts_verify")
    def post(self, request: AuthedRequest, alert_id: int) -> Response:
        verdict = valid_body(request, AlertVerifySerializer)
        services.alert_verify(alert_id=alert_id, user=request.user, state=verdict["state"],
                              reason=verdict["reason"], ip=client_ip(request))
        return _alert_answer(request, alert_id)


@signed_file("sensor_alerts_snapshot", ranged("image/jpeg"))
class AlertSnapshotFileView(SignedFileView):
    """The JPEG of an alert's snapshot, through the signed link in the alert's `snapshot_url`.

    The same rules as photos_file and clips_file: 403 link_invalid (tampered, or a link to other
    media), link_expired, link_session_ended, link_not_yours; 404 alert_not_found when the link's
    user no longer sees the alert. The opening is audited. Range (206, 416) and If-Range.
    """

    link_kind = "snapshot"

    def file_get(self, *, user: Any, claim: LinkClaim, ip: str | None) -> StoredFile:
        return selectors.alert_snapshot_get(user=user, alert_id=claim.object_id, ip=ip)
