"""Sign-in: password, then a TOTP code where the role needs one; a token per device."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from apps.accounts.models import Device
from apps.accounts.services import (
    DeviceInfo,
    IssuedSession,
    MfaChallenge,
    login_mfa,
    login_password,
    session_logout,
)
from mobile_api.v1.base import AuthedRequest, V1View, client_ip, valid_body
from mobile_api.v1.throttles import LoginThrottle, LoginUsernameThrottle
from mobile_api.v1.users import UserSerializer


class DeviceInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=Device.Kind.choices)
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    push_token = serializers.CharField(max_length=4096, required=False, allow_blank=True, default="")


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    device = DeviceInSerializer()


class MfaSerializer(serializers.Serializer):
    challenge = serializers.CharField(max_length=2000)
    code = serializers.CharField(max_length=10)


class SessionOutSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'. Shown once.")
    expires_at = serializers.DateTimeField(help_text="End of the shift lifetime; idle sessions end sooner.")
    idle_timeout_seconds = serializers.IntegerField()
    device_id = serializers.IntegerField()
    user = UserSerializer()


class EnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField()
    otpauth_uri = serializers.CharField()


class MfaChallengeOutSerializer(serializers.Serializer):
    mfa_required = serializers.BooleanField()
    challenge = serializers.CharField(help_text="Send back to /auth/mfa with the 6-digit code.")
    enrolment = EnrolmentSerializer(allow_null=True, help_text="Set on first sign-in: add this to an authenticator.")


def _session_response(issued: IssuedSession) -> Response:
    session = issued.session
    body = {
        "token": issued.token,
        "expires_at": session.expires_at,
        "idle_timeout_seconds": settings.SESSION_IDLE_SECONDS,
        "device_id": session.device_id,
        "user": UserSerializer(session.device.user).data,
    }
    return Response(SessionOutSerializer(body).data, status=status.HTTP_201_CREATED)


class LoginView(V1View):
    """Sign in with username and password on a named device.

    Officers get a token at once (201). Roles that need MFA get 202 with a
    challenge to complete at /auth/mfa. Every failure answers the same
    `invalid_credentials`, whether the user exists, is locked or mistyped.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle, LoginUsernameThrottle]
    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses={201: SessionOutSerializer, 202: MfaChallengeOutSerializer},
                   auth=[], operation_id="auth_login")
    def post(self, request: AuthedRequest) -> Response:
        data = valid_body(request, LoginSerializer)
        result = login_password(
            username=data["username"],
            password=data["password"],
            device_info=DeviceInfo(**data["device"]),
            ip=client_ip(request),
        )
        if isinstance(result, MfaChallenge):
            enrolment = ({"secret": result.enrolment_secret, "otpauth_uri": result.enrolment_uri}
                         if result.enrolment_secret else None)
            body = {"mfa_required": True, "challenge": result.challenge, "enrolment": enrolment}
            return Response(MfaChallengeOutSerializer(body).data, status=status.HTTP_202_ACCEPTED)
        return _session_response(result)


class MfaView(V1View):
    """Complete sign-in with the 6-digit code from the authenticator app. A code works once."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]
    throttle_scope = "login"

    @extend_schema(request=MfaSerializer, responses={201: SessionOutSerializer}, auth=[], operation_id="auth_mfa")
    def post(self, request: AuthedRequest) -> Response:
        data = valid_body(request, MfaSerializer)
        issued = login_mfa(challenge=data["challenge"], code=data["code"],
                           ip=client_ip(request))
        return _session_response(issued)


class LogoutView(V1View):
    """End this device's session; the token stops working at once."""

    @extend_schema(request=None, responses={204: None}, operation_id="auth_logout")
    def post(self, request: AuthedRequest) -> Response:
        session_logout(session=request.auth, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
