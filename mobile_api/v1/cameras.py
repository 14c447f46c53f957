"""The camera registry and the cameras near a call.

Analysts, supervisors and administrators read their agency's registry; officers
see cameras only in their briefings. No response carries a stream's URL or
credentials: the serializers below list their fields explicitly, and the
credentials live in another table that none of them reads.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.cameras import selectors, services
from apps.cameras.models import Camera, CameraCredential, CameraLocation
from apps.common.pagination import page_size_clamp
from mobile_api.v1.base import (
    MAX_ID,
    AuthedRequest,
    PageQuerySerializer,
    V1View,
    client_ip,
    created_or_found,
    created_or_found_schema,
    page_serializer,
    valid_body,
    valid_query,
)

LOCATIONS_SHOWN = 20


class CameraSerializer(serializers.ModelSerializer):
    is_mobile = serializers.BooleanField(read_only=True, help_text="Trailer, drone, body-worn or in-car: it moves.")
    as_of = serializers.DateTimeField(source="known_as_of", read_only=True, allow_null=True, help_text=(
        "When its position or its stream's state was last known (the newer of location_updated_at and "
        "reachability_checked_at): for a partner's or a traffic camera, how old what we show of it is."))

    class Meta:
        model = Camera
        fields = ["id", "name", "kind", "is_mobile", "owner_kind", "owner", "latitude", "longitude",
                  "location_updated_at", "source_kind", "sharing", "sharing_radius_m", "enabled", "reachable",
                  "unreachable_reason", "reachability_checked_at", "as_of", "updated_at"]
        extra_kwargs = {"reachable": {"help_text": "Whether the stream could last be read; null until tried."},
                        "unreachable_reason": {"help_text": "Why it could not, in words for the user."}}


class CameraLocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = CameraLocation
        fields = ["latitude", "longitude", "placed_at", "placed_by", "note"]


class CameraDetailSerializer(CameraSerializer):
    external_id = serializers.CharField(read_only=True)
    owner_administrator = serializers.IntegerField(source="owner_administrator_id", read_only=True, allow_null=True)
    has_credentials = serializers.SerializerMethodField(help_text="Whether the stream needs credentials (stored "
                                                                  "encrypted; never returned).")
    locations = serializers.SerializerMethodField(help_text=f"Where a mobile camera was placed, newest first "
                                                            f"(the last {LOCATIONS_SHOWN}).")

    class Meta(CameraSerializer.Meta):
        fields = [*CameraSerializer.Meta.fields, "external_id", "owner_administrator", "has_credentials",
                  "locations", "created_at"]

    def get_has_credentials(self, camera: Camera) -> bool:
        return CameraCredential.objects.filter(camera=camera).exists()

    @extend_schema_field(CameraLocationSerializer(many=True))
    def get_locations(self, camera: Camera) -> list[dict[str, Any]]:
        rows = CameraLocation.objects.filter(camera=camera).order_by("-placed_at", "-id")[:LOCATIONS_SHOWN]
        return list(CameraLocationSerializer(rows, many=True).data)


CameraPageSerializer = page_serializer(CameraSerializer, "CameraPage")


class CameraQuerySerializer(PageQuerySerializer):
    kind = serializers.ChoiceField(choices=Camera.Kind.choices, required=False)


class SharingSerializer(serializers.Serializer):
    sharing = serializers.ChoiceField(choices=Camera.Sharing.choices)
    sharing_radius_m = serializers.IntegerField(min_value=10, max_value=selectors.MAX_NEAR_RADIUS_M, required=False,
                                                help_text="For active_call_nearby: how close the call must be.")


class RelocateSerializer(serializers.Serializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class NearQuerySerializer(serializers.Serializer):
    radius_m = serializers.IntegerField(min_value=10, max_value=selectors.MAX_NEAR_RADIUS_M, required=False)


class CallCameraSerializer(serializers.Serializer):
    camera = CameraSerializer()
    distance_m = serializers.FloatField(allow_null=True, help_text="Metres from the call; null if unknown.")
    pinned = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why it is listed: pinned, distance, and the owner's sharing policy.")


class PinSerializer(serializers.Serializer):
    camera_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class PinOutSerializer(serializers.Serializer):
    call_id = serializers.IntegerField()
    camera_id = serializers.IntegerField()
    pinned_by = serializers.IntegerField(source="pinned_by_id")
    pinned_at = serializers.DateTimeField()


class CameraListView(V1View):
    """Your agency's camera registry, most recently changed first (analysts, supervisors, administrators)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, required=False, enum=Camera.Kind.values),
            OpenApiParameter("cursor", str, required=False, description="next_cursor from the previous page."),
            OpenApiParameter("size", int, required=False, description="Page size, 1-200 (default 50)."),
        ],
        responses=CameraPageSerializer, operation_id="cameras_list",
    )
    def get(self, request: AuthedRequest) -> Response:
        q = valid_query(request, CameraQuerySerializer)
        page = selectors.camera_list_for_user(user=request.user, kind=q.get("kind"), cursor=q.get("cursor") or None,
                                              size=page_size_clamp(q.get("size")), ip=client_ip(request))
        return Response({"results": CameraSerializer(page.items, many=True).data, "next_cursor": page.next_cursor})


class CameraDetailView(V1View):
    """One camera: owner, place (and a mobile camera's recent places), source kind and sharing policy."""

    @extend_schema(responses=CameraDetailSerializer, operation_id="cameras_retrieve")
    def get(self, request: AuthedRequest, camera_id: int) -> Response:
        camera = selectors.camera_get_for_user(user=request.user, camera_id=camera_id, ip=client_ip(request))
        return Response(CameraDetailSerializer(camera).data)


class CameraSharingView(V1View):
    """Set the owner's sharing policy: always, only with an active call nearby, or never.

    For the agency's administrators and the camera's owner administrator; anyone else who sees the camera gets 403.
    """

    @extend_schema(request=SharingSerializer, responses=CameraDetailSerializer, operation_id="cameras_sharing_set")
    def put(self, request: AuthedRequest, camera_id: int) -> Response:
        policy = valid_body(request, SharingSerializer)
        return Response(CameraDetailSerializer(services.camera_sharing_set(
            camera_id=camera_id, user=request.user, ip=client_ip(request), **policy)).data)


class CameraRelocateView(V1View):
    """Record that a mobile camera (trailer, drone, body-worn, in-car) is now somewhere else."""

    @extend_schema(request=RelocateSerializer, responses=CameraDetailSerializer, operation_id="cameras_relocate")
    def post(self, request: AuthedRequest, camera_id: int) -> Response:
        place = valid_body(request, RelocateSerializer)
        camera = services.camera_relocate(camera_id=camera_id, user=request.user, ip=client_ip(request), **place)
        return Response(CameraDetailSerializer(camera).data)


class CallCamerasView(V1View):
    """Cameras near this call: the pinned ones and those whose owners share them within the radius, nearest first.

    For analysts and supervisors; officers get the same list in the call's briefing.
    """

    @extend_schema(
        parameters=[OpenApiParameter("radius_m", int, required=False,
                                     description=f"How far to look, 10-{selectors.MAX_NEAR_RADIUS_M} m "
                                                 "(default: the server's setting, 1000 m).")],
        responses=CallCameraSerializer(many=True), operation_id="calls_cameras_list",
    )
    def get(self, request: AuthedRequest, call_id: int) -> Response:
        query = valid_query(request, NearQuerySerializer)
        found = selectors.cameras_near_call_for_user(user=request.user, call_id=call_id,
                                                     radius_m=query.get("radius_m"),
                                                     ip=client_ip(request))
        return Response(CallCameraSerializer(found, many=True).data)


class CallCameraPinListView(V1View):
    @extend_schema(
        request=PinSerializer, responses=created_or_found_schema(PinOutSerializer),
        operation_id="calls_camera_pins_add",
        description="Pin a camera to the call, so the briefing lists it whatever the distance (analysts and "
                    "supervisors). 201 when pinned, 200 when it already was; 400 camera_not_shared when the "
                    "owner does not share it for this call.",
    )
    def post(self, request: AuthedRequest, call_id: int) -> Response:
        body = valid_body(request, PinSerializer)
        pin, created = services.camera_pin(call_id=call_id, camera_id=body["camera_id"],
                                           user=request.user, ip=client_ip(request))
        return created_or_found(PinOutSerializer(pin).data, created=created)


class CallCameraPinView(V1View):
    @extend_schema(request=None, responses={204: None}, operation_id="calls_camera_pins_remove",
                   description="Unpin the camera from the call. 204 whether or not it was pinned.")
    def delete(self, request: AuthedRequest, call_id: int, camera_id: int) -> Response:
        services.camera_unpin(call_id=call_id, camera_id=camera_id, user=request.user, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
