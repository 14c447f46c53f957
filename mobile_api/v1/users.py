"""The signed-in user, their devices, and account administration."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.models import Agency, Device, Role, Unit, User
from apps.accounts.selectors import device_list_for_user, units_for_user, user_list_for_admin
from apps.accounts.services import (
    device_report_location,
    device_revoke,
    device_update_push_token,
    user_create,
    user_release_lock,
    user_set_active,
    user_set_role,
)
from mobile_api.v1.base import AuthedRequest, V1View, client_ip, id_query, valid_body


class AgencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "name", "ori", "time_zone"]


class UserSerializer(serializers.ModelSerializer):
    agency = AgencySerializer()

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "role", "badge_number", "agency", "mfa_enabled"]


class UnitSerializer(serializers.ModelSerializer):
    class Meta:
        model = Unit
        fields = ["id", "call_sign", "district", "beat"]


class MeSerializer(UserSerializer):
    units_on_shift = serializers.SerializerMethodField()
    device_id = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "units_on_shift", "device_id"]

    @extend_schema_field(UnitSerializer(many=True))
    def get_units_on_shift(self, user: User) -> list[dict[str, object]]:
        return UnitSerializer(units_for_user(user=user), many=True).data  # type: ignore[return-value]

    def get_device_id(self, user: User) -> int:
        return int(self.context["device_id"])


class DeviceSerializer(serializers.ModelSerializer):
    """A device as its owner and administrators see it. The push token is never sent back."""

    has_push_token = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "user", "name", "kind", "platform", "has_push_token", "created_at", "last_seen_at",
                  "revoked_at"]

    def get_has_push_token(self, device: Device) -> bool:
        return bool(device.push_token)


class PushTokenSerializer(serializers.Serializer):
    push_token = serializers.CharField(max_length=4096, allow_blank=True)


class AdminUserSerializer(UserSerializer):
    locked = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "is_active", "locked", "failed_login_count", "last_login"]

    def get_locked(self, user: User) -> bool:
        return user.locked_at is not None


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    badge_number = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")


class UserRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)



class MeView(V1View):
    """Who is signed in on this device, and the units they are on shift with."""

    @extend_schema(responses=MeSerializer, operation_id="me_retrieve")
    def get(self, request: AuthedRequest) -> Response:
        return Response(MeSerializer(request.user, context={"device_id": request.auth.device_id}).data)


class MyDeviceView(V1View):
    """Update this device's push token (FCM registration token), e.g. after the OS rotates it."""

    @extend_schema(request=PushTokenSerializer, responses=DeviceSerializer, operation_id="me_device_update")
    def patch(self, request: AuthedRequest) -> Response:
        data = valid_body(request, PushTokenSerializer)
        device = device_update_push_token(session=request.auth, push_token=data["push_token"])
        return Response(DeviceSerializer(device).data)


class LocationSerializer(serializers.Serializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)


class LocationResultSerializer(serializers.Serializer):
    located_at = serializers.DateTimeField()


class MyLocationView(V1View):
    """Report this device's position, so radius pushes ("everyone within 500 m") reach it.

    Only the latest position is kept; it counts for 15 minutes.
    """

    @extend_schema(request=LocationSerializer, responses=LocationResultSerializer, operation_id="me_location_report")
    def post(self, request: AuthedRequest) -> Response:
        data = valid_body(request, LocationSerializer)
        device = device_report_location(session=request.auth, **data)
        return Response({"located_at": device.located_at})


class DeviceListView(V1View):
    """Your devices. Administrators may pass `user` to see a colleague's."""

    @extend_schema(parameters=[OpenApiParameter("user", int, required=False)],
                   responses=DeviceSerializer(many=True), operation_id="devices_list")
    def get(self, request: AuthedRequest) -> Response:
        devices = device_list_for_user(user=request.user, owner_id=id_query(request, "user"))
        return Response(DeviceSerializer(devices, many=True).data)


class DeviceRevokeView(V1View):
    """Revoke a device (a lost phone, a stolen laptop): its token stops working on its next request."""

    @extend_schema(request=None, responses=DeviceSerializer, operation_id="devices_revoke")
    def post(self, request: AuthedRequest, device_id: int) -> Response:
        device = device_revoke(device_id=device_id, revoked_by=request.user, ip=client_ip(request))
        return Response(DeviceSerializer(device).data)


class UserListView(V1View):
    """Administrators: the agency's accounts, with lock state; open a new account."""

    @extend_schema(responses=AdminUserSerializer(many=True), operation_id="users_list")
    def get(self, request: AuthedRequest) -> Response:
        return Response(AdminUserSerializer(user_list_for_admin(user=request.user), many=True).data)

    @extend_schema(request=UserCreateSerializer, responses={201: AdminUserSerializer}, operation_id="users_create")
    def post(self, request: AuthedRequest) -> Response:
        data = valid_body(request, UserCreateSerializer)
        user = user_create(created_by=request.user, ip=client_ip(request), **data)
        return Response(AdminUserSerializer(user).data, status=status.HTTP_201_CREATED)


class UserChangeView(V1View):
    # An administrator's change to one account: the body checked by `body` (none: no body), the change made
    # by `change`, the account answered as administrators see it. No docstring: the schema takes each view's own.

    body: type[serializers.Serializer] | None = None

    def change(self, request: AuthedRequest, user_id: int, data: dict[str, Any]) -> User:
        raise NotImplementedError

    def post(self, request: AuthedRequest, user_id: int) -> Response:
        data = valid_body(request, self.body) if self.body else {}
        return Response(AdminUserSerializer(self.change(request, user_id, data)).data)


def _user_change(body: type[serializers.Serializer] | None, operation_id: str) -> Any:
    return extend_schema_view(post=extend_schema(request=body, responses=AdminUserSerializer,
                                                 operation_id=operation_id))


@_user_change(None, "users_release_lock")
class UserReleaseLockView(UserChangeView):
    """Administrators: let a locked-out user sign in again."""

    def change(self, request: AuthedRequest, user_id: int, data: dict[str, Any]) -> User:
        return user_release_lock(user_id=user_id, released_by=request.user, ip=client_ip(request))


class UserActiveSerializer(serializers.Serializer):
    is_active = serializers.BooleanField()


@_user_change(UserActiveSerializer, "users_set_active")
class UserActiveView(UserChangeView):
    """Administrators: disable a user (every session of theirs stops at once) or enable them again."""

    body = UserActiveSerializer

    def change(self, request: AuthedRequest, user_id: int, data: dict[str, Any]) -> User:
        return user_set_active(user_id=user_id, active=data["is_active"], changed_by=request.user,
                               ip=client_ip(request))


@_user_change(UserRoleSerializer, "users_set_role")
class UserRoleView(UserChangeView):
    """Administrators: change a user's role. Their sessions end; the new role applies at next sign-in."""

    body = UserRoleSerializer

    def change(self, request: AuthedRequest, user_id: int, data: dict[str, Any]) -> User:
        return user_set_role(user_id=user_id, role=data["role"], changed_by=request.user, ip=client_ip(request))
