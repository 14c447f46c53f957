"""BOLOs (be on the lookout): bulletins, their photos and sightings (docs/bolos.md).

Analysts and supervisors issue, change and cancel; officers, analysts and supervisors of the
agency read the active list and report sightings. Photos go through the one photo road and
open through signed, expiring links per device session, as call photos do.
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
from apps.bolos import selectors, services
from apps.bolos.models import Bolo, BoloPhoto, Sighting
from apps.bolos.services import SightingIn, bolo_state
from apps.delivery.services import MAX_AUDIENCE_IDS
from apps.media.links import media_link_user, media_token_read
from mobile_api.parsers import MultiPartParser
from mobile_api.v1.base import AuthedRequest, V1View, client_ip, id_list_field, valid_body
from mobile_api.v1.cases import photo_link
from mobile_api.v1.media import media_file_response, presented_session, upload_size_check
from mobile_api.v1.pushes import AudienceSerializer


def bolo_photo_link(request: Request, photo_id: int, variant: str | None = None) -> str:
    """A signed link to one file of a BOLO photo, for the asking device session (as photo_link)."""
    return photo_link(request, photo_id, variant, kind="bolo_photo", route="v1:bolo-photo-file")


class BoloPhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="Signed link for this device session only, to the variant for its "
                                          "device class; expires after a few minutes.")
    thumbnail_url = serializers.CharField()
    original_url = serializers.CharField(allow_null=True, help_text="The original as received: analysts and "
                                                                    "supervisors only, null for others.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    sha256 = serializers.CharField(help_text="Of the original: chain of custody.")


def _photo_body(request: Request, photo: BoloPhoto) -> dict[str, Any]:
    original = cast(User, request.user).role in CENTER_ROLES
    return {"id": photo.pk, "url": bolo_photo_link(request, photo.pk),
            "thumbnail_url": bolo_photo_link(request, photo.pk, "thumbnail"),
            "original_url": bolo_photo_link(request, photo.pk, "original") if original else None,
            "width": photo.width, "height": photo.height, "sha256": photo.sha256}


class BoloAudienceSerializer(AudienceSerializer):
    """A push's audience, of the kinds a bulletin takes: the agency, a district, a beat, a radius, named units."""

    kind = serializers.ChoiceField(choices=list(services.AUDIENCE_KINDS))
    ids = id_list_field(max_length=MAX_AUDIENCE_IDS)
    role = None  # type: ignore[assignment]


class SightingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    seen_at = serializers.DateTimeField()
    note = serializers.CharField()
    reported_by_name = serializers.CharField()
    photo = BoloPhotoSerializer(allow_null=True)
    created_at = serializers.DateTimeField()


def _sighting_body(request: Request, sighting: Sighting) -> dict[str, Any]:
    photo = getattr(sighting, "photo", None)
    return {"id": sighting.pk, "latitude": sighting.latitude, "longitude": sighting.longitude,
            "seen_at": sighting.seen_at, "note": sighting.note,
            "reported_by_name": sighting.reported_by.get_full_name() or sighting.reported_by.username,
            "photo": _photo_body(request, photo) if photo is not None else None, "created_at": sighting.created_at}


class BoloSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subject = serializers.ChoiceField(choices=Bolo.Subject.choices)
    state = serializers.ChoiceField(choices=Bolo.State.choices, help_text="cancelled and expired bulletins are "
                                                                          "off the active list; say so on screen.")
    title = serializers.CharField()
    description = serializers.CharField()
    plate = serializers.CharField(help_text='Normalised; "" when there is none. On the BOLO hot list while active.')
    plate_region = serializers.CharField()
    area = serializers.CharField()
    case_number = serializers.CharField()
    priority = serializers.IntegerField()
    audience = BoloAudienceSerializer()
    version = serializers.IntegerField()
    issued_by_name = serializers.CharField()
    issued_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    hot_list_entry_id = serializers.IntegerField(allow_null=True)
    photos = BoloPhotoSerializer(many=True)
    sightings = SightingSerializer(many=True, help_text="Newest first, for the map.")


class BoloDetailSerializer(BoloSerializer):
    push_ids = serializers.ListField(child=serializers.IntegerField(), help_text=(
        "Analysts and supervisors: this bulletin's pushes whose receipts you may read at /pushes/{id}, newest "
        "first; empty for officers."))


def _bolo_body(request: Request, bolo: Bolo) -> dict[str, Any]:
    return {"id": bolo.pk, "subject": bolo.subject, "state": bolo_state(bolo), "title": bolo.title,
            "description": bolo.description, "plate": bolo.plate, "plate_region": bolo.plate_region,
            "area": bolo.area, "case_number": bolo.case_number, "priority": bolo.priority, "audience": bolo.audience,
            "version": bolo.version, "issued_by_name": bolo.issued_by.get_full_name() or bolo.issued_by.username,
            "issued_at": bolo.issued_at, "updated_at": bolo.updated_at, "expires_at": bolo.expires_at,
            "cancelled_at": bolo.cancelled_at, "cancel_reason": bolo.cancel_reason,
            "hot_list_entry_id": bolo.hot_list_entry_id,
            "photos": [_photo_body(request, p) for p in bolo.photos.all()],
            "sightings": [_sighting_body(request, s) for s in bolo.sightings.all()]}


class BoloWriteSerializer(serializers.Serializer):
    subject = serializers.ChoiceField(choices=Bolo.Subject.choices)
    title = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=4000)
    plate = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                  help_text="Joins the agency's BOLO hot list: a matching read raises an alert.")
    plate_region = serializers.CharField(max_length=10, required=False, allow_blank=True)
    area = serializers.CharField(max_length=200, required=False, allow_blank=True)
    case_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    priority = serializers.IntegerField(min_value=1, max_value=4, required=False)
    audience = BoloAudienceSerializer()
    # Not required here so that its absence answers `expiry_required`, not a generic `invalid`.
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text=(
        f"Required: when the bulletin ends, at most RTCC_BOLO_MAX_DAYS ahead (the console offers "
        f"{settings.BOLO_DEFAULT_DAYS} days). Without it: 400 expiry_required."))
    photo_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=10,
                                      help_text="Photos uploaded with POST /bolos/photos, not yet used.")


class BoloCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="Found, arrested, withdrawn, ...")


class SightingWriteSerializer(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    seen_at = serializers.DateTimeField()
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    photo = serializers.FileField(required=False, allow_empty_file=True,
                                  help_text="JPEG, PNG or WebP, at most RTCC_MEDIA_PHOTO_MAX_BYTES.")


class BoloPhotoUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="JPEG, PNG or WebP, at most 40 megapixels and RTCC_MEDIA_PHOTO_MAX_BYTES.",
                                 allow_empty_file=True)


def _detail(request: AuthedRequest, bolo_id: int) -> Response:
    bolo = selectors.bolo_get_for_user(user=request.user, bolo_id=bolo_id, ip=client_ip(request))
    body = _bolo_body(request, bolo) | {
        "push_ids": [p.pk for p in selectors.bolo_pushes_for_user(user=request.user, bolo=bolo)]}
    return Response(BoloDetailSerializer(body).data)


class BoloListView(V1View):
    """The agency's active BOLOs, most urgent then newest first; analysts and supervisors issue new ones.

    A bulletin reaches its audience as a push (receipts at /pushes/{id}); a plate joins the BOLO hot list.
    """

    @extend_schema(responses=BoloSerializer(many=True), operation_id="bolos_list")
    def get(self, request: AuthedRequest) -> Response:
        bolos = selectors.bolo_list_for_user(user=request.user, ip=client_ip(request))
        return Response(BoloSerializer([_bolo_body(request, b) for b in bolos], many=True).data)

    @extend_schema(request=BoloWriteSerializer, responses={201: BoloDetailSerializer}, operation_id="bolos_create")
    def post(self, request: AuthedRequest) -> Response:
        bolo = services.bolo_issue(user=request.user, values=valid_body(request, BoloWriteSerializer),
                                   ip=client_ip(request))
        response = _detail(request, bolo.pk)
        response.status_code = status.HTTP_201_CREATED
        return response


class BoloView(V1View):
    """One BOLO in any state, with its photos and sightings; analysts and supervisors change an active one."""

    @extend_schema(responses=BoloDetailSerializer, operation_id="bolos_retrieve")
    def get(self, request: AuthedRequest, bolo_id: int) -> Response:
        return _detail(request, bolo_id)

    @extend_schema(request=BoloWriteSerializer(partial=True), responses=BoloDetailSerializer,
                   operation_id="bolos_update")
    def patch(self, request: AuthedRequest, bolo_id: int) -> Response:
        data = valid_body(request, BoloWriteSerializer, partial=True)
        values = {k: v for k, v in data.items() if k != "subject"}
        services.bolo_update(user=request.user, bolo_id=bolo_id, values=values, ip=client_ip(request))
        return _detail(request, bolo_id)


class BoloCancelView(V1View):
    """Cancel an active BOLO, saying why: every device it reached is told, and its plate stops matching."""

    @extend_schema(request=BoloCancelSerializer, responses=BoloDetailSerializer, operation_id="bolos_cancel")
    def post(self, request: AuthedRequest, bolo_id: int) -> Response:
        reason = valid_body(request, BoloCancelSerializer)["reason"]
        services.bolo_cancel(user=request.user, bolo_id=bolo_id, reason=reason,
                             ip=client_ip(request))
        return _detail(request, bolo_id)


class BoloSightingView(V1View):
    """Report a sighting of an active BOLO's subject (multipart: position, time, note, optional photo).

    The author and the agency's supervisors are pushed it at once.
    """

    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": SightingWriteSerializer}, responses={201: SightingSerializer},
                   operation_id="bolo_sightings_create")
    def post(self, request: AuthedRequest, bolo_id: int) -> Response:
        upload_size_check(request, settings.MEDIA_PHOTO_MAX_BYTES)
        values = valid_body(request, SightingWriteSerializer)
        photo = values.get("photo")
        if photo is not None:
            upload_size_check(request, settings.MEDIA_PHOTO_MAX_BYTES, photo.size)
        sighting = services.bolo_sighting_report(user=request.user, bolo_id=bolo_id, ip=client_ip(request),
                                                 sighting=SightingIn(
            latitude=values["latitude"], longitude=values["longitude"], seen_at=values["seen_at"],
            note=values["note"], photo=photo.read() if photo is not None else None,
            photo_content_type=(photo.content_type or "") if photo is not None else ""))
        return Response(SightingSerializer(_sighting_body(request, sighting)).data, status=status.HTTP_201_CREATED)


class BoloPhotoUploadView(V1View):
    """Analysts and supervisors upload a photo for a bulletin (multipart, field `file`), then name its id in
    photo_ids when issuing or changing it. The original is kept; phones get variants without EXIF or GPS."""

    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": BoloPhotoUploadSerializer}, responses={201: BoloPhotoSerializer},
                   operation_id="bolo_photos_create")
    def post(self, request: AuthedRequest) -> Response:
        upload_size_check(request, settings.MEDIA_PHOTO_MAX_BYTES)
        upload = valid_body(request, BoloPhotoUploadSerializer)["file"]
        upload_size_check(request, settings.MEDIA_PHOTO_MAX_BYTES, upload.size)
        photo = services.bolo_photo_upload(user=request.user, content=upload.read(),
                                           content_type=upload.content_type or "", ip=client_ip(request))
        return Response(BoloPhotoSerializer(_photo_body(request, photo)).data, status=status.HTTP_201_CREATED)


class BoloPhotoFileView(V1View):
    """The bytes of one BOLO photo file, through a signed link: the same rules as photos_file."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY, (206, "image/*"): OpenApiTypes.BINARY},
                   auth=[], operation_id="bolo_photos_file")
    def get(self, request: AuthedRequest, token: str) -> HttpResponseBase:
        claim = media_token_read(kind="bolo_photo", token=token)
        user = media_link_user(claim=claim, presented=presented_session(request))
        found = selectors.bolo_photo_file_get(user=user, photo_id=claim.object_id, variant=claim.variant,
                                              ip=client_ip(request))
        return media_file_response(request, name=found.name, content_type=found.content_type, digest=found.sha256)
