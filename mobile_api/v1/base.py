"""What every v1 endpoint shares: authentication, permissions, throttles, paging.

One place for the API version's settings, so an endpoint cannot forget one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import DeviceSession, User
from apps.accounts.services import session_authenticate
from apps.common.addresses import client_address
from apps.common.errors import AuthenticationFailed, ValidationFailed
from apps.common.jsonbody import MAX_ID
from apps.common.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, page_size_clamp
from mobile_api.v1.throttles import UserThrottle


class DeviceTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`, the token a device got at sign-in.

    Tokens are never accepted in the URL: URLs end up in proxy and server logs.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, DeviceSession] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme != self.keyword or not token.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <token>'.", code="malformed_token")
        try:
            session = session_authenticate(token=token.strip())
        except AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        return session.device.user, session

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "mobile_api.v1.base.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "The token from /api/v1/auth/login or /auth/mfa."}


class AuthedRequest(Request):
    """A request that passed DeviceTokenAuthentication: for annotations in views."""

    user: User
    auth: DeviceSession


class V1View(APIView):
    """Base of every v1 endpoint."""

    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [UserThrottle]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Case data must not outlive the session in a browser's or a proxy's cache (CJIS).
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


def created_or_found_schema(serializer: type[serializers.BaseSerializer]) -> dict[int, Any]:
    """The documented answers of an idempotent create: the object, with 201 when made and 200 when already there."""
    return {201: serializer, 200: serializer}


def created_or_found(data: Any, *, created: bool) -> Response:
    """An idempotent create's answer: 201 when this request made the object, 200 when it was already there."""
    return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def id_list_field(max_length: int = 200) -> serializers.ListField:
    return serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                 max_length=max_length)


def valid_body(request: Request, serializer_class: type[serializers.Serializer], *,
               partial: bool = False) -> dict[str, Any]:
    """The request body checked by `serializer_class`: its validated data, or 400 `invalid` naming the fields."""
    body = serializer_class(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def valid_query(request: Request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """The query string checked by `serializer_class`, as valid_body does a body."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


class _IdQuerySerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


def id_query(request: Request, name: str) -> int | None:
    """An optional id filter from the query string (`?call_id=12`): None when absent, 400 naming it when not an id."""
    query = _IdQuerySerializer(data={"id": request.query_params[name]} if name in request.query_params else {})
    if not query.is_valid():
        raise exceptions.ValidationError({name: query.errors["id"]})
    value = query.validated_data.get("id")
    return None if value is None else int(value)


def choice_query(request: Request, name: str, choices: list[str], message: str) -> str | None:
    """An optional filter from the query string that must be one of `choices`: None when absent or empty."""
    value = request.query_params.get(name) or None
    if value is not None and value not in choices:
        raise ValidationFailed(message, code="invalid", fields={name: choices})
    return value


def client_ip(request: Request) -> str | None:
    """The client's address for the audit trail: the same one the throttles count (apps/common/addresses.py)."""
    return client_address(request.META)


class PageQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=200)
    size = serializers.IntegerField(required=False, min_value=1, max_value=200)


class SearchSerializer(PageQuerySerializer):
    search = serializers.CharField(max_length=100, help_text="Words to match; every word must match.")


def _page_args(data: dict[str, Any]) -> dict[str, Any]:
    return {"cursor": data.get("cursor") or None, "size": page_size_clamp(data.get("size")),
            "search": data.get("search", "")}


def page_query(request: Request) -> dict[str, Any]:
    """Paging from the query string. Search words there are refused: URLs end up in logs."""
    if "search" in request.query_params:
        raise ValidationFailed("Search with POST to the resource's /search endpoint; search words are case data "
                               "and must not be in a URL.", code="search_not_allowed_in_url",
                               fields={"search": ["not allowed in the URL"]})
    return _page_args(valid_query(request, PageQuerySerializer))


def search_body(request: Request) -> dict[str, Any]:
    return _page_args(valid_body(request, SearchSerializer))


def page_size_query(request: Request, *, default: int = DEFAULT_PAGE_SIZE) -> int:
    """`size` from the query string, held to 1-MAX_PAGE_SIZE; anything but a whole number is 400 `invalid`."""
    size = request.query_params.get("size") or ""
    if not size:
        return default
    if not size.isdigit():
        raise ValidationFailed("Size is a number.", code="invalid", fields={"size": [f"1-{MAX_PAGE_SIZE}"]})
    return page_size_clamp(int(size))


def page_serializer(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The envelope every list answers with: the items and the cursor of the next page (null at the end)."""
    return type(name, (serializers.Serializer,), {
        "results": item(many=True),
        "next_cursor": serializers.CharField(allow_null=True),
    })


def parse_time(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise exceptions.ValidationError({field: ["Use ISO 8601, e.g. 2026-11-24T08:00:00Z."]}) from exc
    if parsed.tzinfo is None:
        raise exceptions.ValidationError({field: ["Give a time zone, e.g. Z or +00:00."]})
    return parsed
