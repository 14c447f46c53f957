"""Photos of a call: an officer on it (or the center) attaches one; everyone who sees the call's media lists them.

The same road as a person's photos (apps.media.photos): the same limits, codes and variants,
and signed, expiring links per device session (apps.media.links).
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.accounts.policy import CENTER_ROLES
from apps.media import selectors, services
from apps.media.links import media_link_user, media_token_read
from apps.media.models import CallPhoto
from mobile_api.parsers import MultiPartParser
from mobile_api.v1.base import AuthedRequest, V1View, client_ip
from mobile_api.v1.cases import PhotoSerializer, photo_link
from mobile_api.v1.media import media_file_response, presented_session, upload_size_check


def call_photo_link(request: Request, photo_id: int, variant: str | None = None) -> str:
    """A signed link to one file of a call photo, for the asking device session (as photo_link)."""
    return photo_link(request, photo_id, variant, kind="call_photo", route="v1:call-photo-file")


class CallPhotoSerializer(PhotoSerializer):
    call_id = serializers.IntegerField()
    added_by_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    taken_on = None  # type: ignore[assignment]


class CallPhotoUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="JPEG, PNG or WebP, at most 40 megapixels and RTCC_MEDIA_PHOTO_MAX_BYTES.",
                                 allow_empty_file=True)


def call_photo_body(request: Request, photo: CallPhoto) -> dict[str, Any]:
    may_open_original = cast(User, request.user).role in CENTER_ROLES
    return {"id": photo.pk, "call_id": photo.call_id, "url": call_photo_link(request, photo.pk),
            "thumbnail_url": call_photo_link(request, photo.pk, "thumbnail"),
            "original_url": call_photo_link(request, photo.pk, "original") if may_open_original else None,
            "width": photo.width, "height": photo.height, "sha256": photo.sha256,
            "added_by_name": photo.added_by.get_full_name() or photo.added_by.username,
            "created_at": photo.created_at}


class CallPhotoListView(V1View):
    """Photos of a call, newest first. An officer on the call, or an analyst or supervisor, adds one
    (multipart, field `file`): the original is kept byte for byte, phones get variants without EXIF or
    GPS, the other officers on the call are told (a `photo` push). A call the user may not add to: 404."""

    parser_classes = [MultiPartParser]

    @extend_schema(responses=CallPhotoSerializer(many=True), operation_id="call_photos_list")
    def get(self, request: AuthedRequest, call_id: int) -> Response:
        photos = selectors.call_photos_for_call(user=request.user, call_id=call_id, ip=client_ip(request))
        return Response(CallPhotoSerializer([call_photo_body(request, p) for p in photos], many=True).data)

    @extend_schema(request={"multipart/form-data": CallPhotoUploadSerializer}, responses={201: CallPhotoSerializer},
                   operation_id="call_photos_create")
    def post(self, request: AuthedRequest, call_id: int) -> Response:
        upload_size_check(request, settings.MEDIA_PHOTO_MAX_BYTES)
        data = CallPhotoUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        upload_size_check(request, settings.MEDIA_PHOTO_MAX_BYTES, upload.size)
        photo = services.call_photo_upload(user=request.user, call_id=call_id, content=upload.read(),
                                           content_type=upload.content_type or "", ip=client_ip(request))
        return Response(CallPhotoSerializer(call_photo_body(request, photo)).data, status=status.HTTP_201_CREATED)


class CallPhotoFileView(V1View):
    """The bytes of one call photo file, through a signed link: the same rules as photos_file."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY, (206, "image/*"): OpenApiTypes.BINARY},
                   auth=[], operation_id="call_photos_file")
    def get(self, request: AuthedRequest, token: str) -> HttpResponseBase:
        claim = media_token_read(kind="call_photo", token=token)
        user = media_link_user(claim=claim, presented=presented_session(request))
        found = selectors.call_photo_file_get(user=user, photo_id=claim.object_id, variant=claim.variant,
                                              ip=client_ip(request))
        return media_file_response(request, name=found.name, content_type=found.content_type, digest=found.sha256)
