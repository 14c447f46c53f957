"""Case files: cases, people, vehicles and premises, as each user may see them.

Every read goes through apps.cases.selectors, which filters by permission and
writes the audit record. Anything a user may not see answers 404.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import DeviceSession, User
from apps.accounts.policy import CENTER_ROLES
from apps.cases import selectors, services
from apps.cases.models import Case, CasePerson, Person, PersonPhoto, Premise, Restriction, Vehicle, Warrant
from apps.media.links import media_link_user, media_token_make, media_token_read
from mobile_api.parsers import MultiPartParser
from mobile_api.v1.base import (
    AuthedRequest,
    SearchSerializer,
    V1View,
    client_ip,
    id_list_field,
    page_query,
    page_serializer,
    search_body,
)
from mobile_api.v1.media import media_file_response, presented_session, upload_size_check

PAGE_PARAMS = [
    OpenApiParameter("cursor", str, required=False, description="next_cursor from the previous page."),
    OpenApiParameter("size", int, required=False, description="Page size, 1-200 (default 50)."),
]


# The variant a device class opens by default: terminals and desktops have the larger screens.
DEVICE_VARIANT = {"phone": "phone", "terminal": "terminal", "desktop": "terminal"}


def photo_link(request: Request, photo_id: int, variant: str | None = None, *, kind: str = "photo",
               route: str = "v1:photo-file") -> str:
    """A link to one file of a photo, for the device session that asked, valid MEDIA_LINK_SECONDS.

    It stops working when that session ends, its device is revoked or its user loses
    sight of the person, whichever is first (apps.media.links). Without a variant: the
    one for the asking device's class. `kind` and `route`: a call photo's link (mobile_api.v1.call_photos).
    """
    session = cast(DeviceSession, request.auth)
    if variant is None:
        variant = DEVICE_VARIANT.get(session.device.kind, "phone")
    token = media_token_make(kind=kind, object_id=photo_id, session_id=session.pk, variant=variant)
    return request.build_absolute_uri(reverse(route, kwargs={"token": token}))


class CaseBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Case
        fields = ["id", "number", "case_type", "title", "status", "restriction", "opened_at", "updated_at"]


class PremiseBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Premise
        fields = ["id", "name", "address", "latitude", "longitude", "restriction", "updated_at"]


class PremiseSerializer(PremiseBriefSerializer):
    cases = CaseBriefSerializer(many=True, read_only=True)

    class Meta(PremiseBriefSerializer.Meta):
        fields = [*PremiseBriefSerializer.Meta.fields, "hazards", "cases"]


class PersonBriefSerializer(serializers.ModelSerializer):
    caution_flags = serializers.ListField(child=serializers.CharField(), read_only=True,
                                          help_text="Officer-safety cautions on the record, e.g. armed, violent.")

    class Meta:
        model = Person
        fields = ["id", "first_name", "middle_name", "last_name", "date_of_birth", "sex", "caution_flags",
                  "restriction", "updated_at"]


class WarrantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warrant
        fields = ["id", "number", "offense", "issued_on", "status", "extraditable"]


class PhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="Signed link for this device session only, to the variant for its "
                                          "device class (phone, terminal); expires after a few minutes.")
    thumbnail_url = serializers.CharField(help_text="Signed link to a small WebP for lists.")
    original_url = serializers.CharField(allow_null=True, help_text="Signed link to the original as received, "
                                                                    "for analysts and supervisors; null for others.")
    width = serializers.IntegerField(help_text="Of the original, oriented.")
    height = serializers.IntegerField()
    sha256 = serializers.CharField(help_text="Of the original: chain of custody.")
    taken_on = serializers.DateField(allow_null=True)


def photo_body(request: Request, photo: PersonPhoto) -> dict[str, Any]:
    may_open_original = cast(User, request.user).role in CENTER_ROLES
    return {"id": photo.pk, "url": photo_link(request, photo.pk), "thumbnail_url": photo_link(request, photo.pk,
                                                                                               "thumbnail"),
            "original_url": photo_link(request, photo.pk, "original") if may_open_original else None,
            "width": photo.width, "height": photo.height, "sha256": photo.sha256, "taken_on": photo.taken_on}


class PhotoUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="JPEG, PNG or WebP, at most 40 megapixels and RTCC_MEDIA_PHOTO_MAX_BYTES.",
                                 allow_empty_file=True)
    taken_on = serializers.DateField(required=False, allow_null=True)


class VehicleBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vehicle
        fields = ["id", "plate", "plate_state", "make", "model", "year", "color", "restriction", "updated_at"]


class PersonSerializer(PersonBriefSerializer):
    aliases = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        many=True, read_only=True, slug_field="name")
    warrants = WarrantSerializer(many=True, read_only=True)
    photos = serializers.SerializerMethodField()
    vehicles = VehicleBriefSerializer(many=True, read_only=True)
    cases = CaseBriefSerializer(many=True, read_only=True)

    class Meta(PersonBriefSerializer.Meta):
        fields = [*PersonBriefSerializer.Meta.fields, "aliases", "race", "height_cm", "weight_kg", "hair", "eyes",
                  "scars_marks_tattoos", "supervision", "supervision_detail", "caution_notes",
                  "behavioral_health_guidance", "warrants", "photos", "vehicles", "cases"]

    @extend_schema_field(PhotoSerializer(many=True))
    def get_photos(self, person: Person) -> list[dict[str, Any]]:
        request = self.context["request"]
        return [photo_body(request, p) for p in person.photos.all()]


class VehicleSerializer(VehicleBriefSerializer):
    registered_owner = PersonBriefSerializer(allow_null=True)
    cases = CaseBriefSerializer(many=True, read_only=True)

    class Meta(VehicleBriefSerializer.Meta):
        fields = [*VehicleBriefSerializer.Meta.fields, "vin", "notes", "registered_owner", "cases"]


class CasePersonSerializer(serializers.ModelSerializer):
    person = PersonBriefSerializer()

    class Meta:
        model = CasePerson
        fields = ["involvement", "person"]


class CaseSerializer(CaseBriefSerializer):
    people = CasePersonSerializer(source="caseperson_set", many=True, read_only=True)
    vehicles = VehicleBriefSerializer(many=True, read_only=True)
    premises = PremiseBriefSerializer(many=True, read_only=True)

    class Meta(CaseBriefSerializer.Meta):
        fields = [*CaseBriefSerializer.Meta.fields, "notes", "people", "vehicles", "premises"]


class CaseCreateSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=30)
    case_type = serializers.CharField(max_length=60)
    title = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=Case.Status.choices, default=Case.Status.OPEN)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    restriction = serializers.ChoiceField(choices=Restriction.choices, required=False, default="")
    person_ids = id_list_field()
    vehicle_ids = id_list_field()
    premise_ids = id_list_field()


class CaseUpdateSerializer(serializers.Serializer):
    case_type = serializers.CharField(max_length=60, required=False)
    title = serializers.CharField(max_length=200, required=False)
    status = serializers.ChoiceField(choices=Case.Status.choices, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    restriction = serializers.ChoiceField(choices=Restriction.choices, required=False)


class CaseAccessSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1)
    can_change = serializers.BooleanField(default=False)


CasePageSerializer = page_serializer(CaseBriefSerializer, "CasePage")
PersonPageSerializer = page_serializer(PersonBriefSerializer, "PersonPage")
VehiclePageSerializer = page_serializer(VehicleBriefSerializer, "VehiclePage")
PremisePageSerializer = page_serializer(PremiseBriefSerializer, "PremisePage")


def _page_response(page: Any, serializer: type[serializers.Serializer]) -> Response:
    return Response({"results": serializer(page.items, many=True).data, "next_cursor": page.next_cursor})


class RecordPageView(V1View):
    """Browsing (GET, no search words) and searching (POST, words in the body) share one selector.

    Search words are names and plates: case data, which stays out of URLs and so out of access logs.
    """

    selector: Any
    item_serializer: type[serializers.Serializer]

    def _page(self, request: AuthedRequest, query: dict[str, Any]) -> Response:
        page = type(self).selector(user=request.user, ip=client_ip(request), **query)
        return _page_response(page, self.item_serializer)


def record_page_views(selector: Any, item: type[serializers.Serializer], page: type[serializers.Serializer],
                      resource: str, *, list_doc: str, search_doc: str) -> tuple[type[V1View], type[V1View]]:
    """The browse (GET /<resource>) and search (POST /<resource>/search) views of one record type."""

    class ListView(RecordPageView):
        @extend_schema(parameters=PAGE_PARAMS, responses=page, operation_id=f"{resource}_list", description=list_doc)
        def get(self, request: AuthedRequest) -> Response:
            return self._page(request, page_query(request))

    class SearchView(RecordPageView):
        @extend_schema(request=SearchSerializer, responses=page, operation_id=f"{resource}_search",
                       description=search_doc)
        def post(self, request: AuthedRequest) -> Response:
            return self._page(request, search_body(request))

    for view in (ListView, SearchView):
        view.selector = staticmethod(selector)
        view.item_serializer = item
    return ListView, SearchView


class CaseStatusQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Case.Status.choices, required=False)


class CaseListView(V1View):
    """Cases you may see, most recently changed first. Analysts and supervisors open new ones."""

    @extend_schema(parameters=[*PAGE_PARAMS, OpenApiParameter("status", str, required=False,
                                                               enum=Case.Status.values)],
                   responses=CasePageSerializer, operation_id="cases_list")
    def get(self, request: AuthedRequest) -> Response:
        query = page_query(request)
        # An unknown status is a 400, not a silently unfiltered list.
        status_filter = CaseStatusQuerySerializer(data=request.query_params)
        status_filter.is_valid(raise_exception=True)
        case_status = status_filter.validated_data.get("status", "")
        page = selectors.case_list_for_user(user=request.user, status=case_status, ip=client_ip(request), **query)
        return _page_response(page, CaseBriefSerializer)

    @extend_schema(request=CaseCreateSerializer, responses={201: CaseSerializer}, operation_id="cases_create")
    def post(self, request: AuthedRequest) -> Response:
        data = CaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.case_create(created_by=request.user, ip=client_ip(request), **data.validated_data)
        case = selectors.case_file_get_for_user(user=request.user, case_id=case.pk, ip=client_ip(request))
        return Response(CaseSerializer(case).data, status=status.HTTP_201_CREATED)


class CaseSearchView(RecordPageView):
    """Search cases you may see by number or title."""

    selector = staticmethod(selectors.case_list_for_user)
    item_serializer = CaseBriefSerializer

    @extend_schema(request=SearchSerializer, responses=CasePageSerializer, operation_id="cases_search")
    def post(self, request: AuthedRequest) -> Response:
        return self._page(request, search_body(request))


class CaseDetailView(V1View):
    """One case file with the people, vehicles and premises on it that you may see."""

    @extend_schema(responses=CaseSerializer, operation_id="cases_retrieve")
    def get(self, request: AuthedRequest, case_id: int) -> Response:
        case = selectors.case_file_get_for_user(user=request.user, case_id=case_id, ip=client_ip(request))
        return Response(CaseSerializer(case).data)

    @extend_schema(request=CaseUpdateSerializer, responses=CaseSerializer, operation_id="cases_update")
    def patch(self, request: AuthedRequest, case_id: int) -> Response:
        data = CaseUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.case_update(case_id=case_id, updated_by=request.user, changes=dict(data.validated_data),
                             ip=client_ip(request))
        case = selectors.case_file_get_for_user(user=request.user, case_id=case_id, ip=client_ip(request))
        return Response(CaseSerializer(case).data)


class CaseAccessView(V1View):
    """Name a colleague on a case (needed for restricted cases), or remove them."""

    @extend_schema(request=CaseAccessSerializer, responses={204: None}, operation_id="cases_access_grant")
    def post(self, request: AuthedRequest, case_id: int) -> Response:
        data = CaseAccessSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.case_access_change(case_id=case_id, grantee_id=data.validated_data["user_id"],
                                    can_change=data.validated_data["can_change"], changed_by=request.user,
                                    grant=True, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CaseAccessRemoveView(V1View):
    @extend_schema(request=None, responses={204: None}, operation_id="cases_access_revoke")
    def delete(self, request: AuthedRequest, case_id: int, user_id: int) -> Response:
        services.case_access_change(case_id=case_id, grantee_id=user_id, changed_by=request.user, grant=False,
                                    ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


PersonListView, PersonSearchView = record_page_views(
    selectors.person_list_for_user, PersonBriefSerializer, PersonPageSerializer, "people",
    list_doc="People you may see, most recently changed first.",
    search_doc="Search people you may see: every word must match a first, middle or last name or an alias.",
)


class PersonDetailView(V1View):
    """A person's record: descriptors, aliases, warrants, supervision, cautions, approach guidance, photos."""

    @extend_schema(responses=PersonSerializer, operation_id="people_retrieve")
    def get(self, request: AuthedRequest, person_id: int) -> Response:
        person = selectors.person_get_for_user(user=request.user, person_id=person_id, ip=client_ip(request))
        return Response(PersonSerializer(person, context={"request": request}).data)


VehicleListView, VehicleSearchView = record_page_views(
    selectors.vehicle_list_for_user, VehicleBriefSerializer, VehiclePageSerializer, "vehicles",
    list_doc="Vehicles you may see, most recently changed first.",
    search_doc="Search vehicles you may see by plate (spaces and dashes ignored), make or model.",
)


class VehicleDetailView(V1View):
    @extend_schema(responses=VehicleSerializer, operation_id="vehicles_retrieve")
    def get(self, request: AuthedRequest, vehicle_id: int) -> Response:
        vehicle = selectors.vehicle_get_for_user(user=request.user, vehicle_id=vehicle_id, ip=client_ip(request))
        return Response(VehicleSerializer(vehicle).data)


PremiseListView, PremiseSearchView = record_page_views(
    selectors.premise_list_for_user, PremiseBriefSerializer, PremisePageSerializer, "premises",
    list_doc="Premises you may see, most recently changed first.",
    search_doc="Search premises you may see: every word must match the address or place name.",
)


class PremiseDetailView(V1View):
    @extend_schema(responses=PremiseSerializer, operation_id="premises_retrieve")
    def get(self, request: AuthedRequest, premise_id: int) -> Response:
        premise = selectors.premise_get_for_user(user=request.user, premise_id=premise_id, ip=client_ip(request))
        return Response(PremiseSerializer(premise).data)


class PersonPhotoListView(V1View):
    """Attach a photo to a person (multipart, field `file`). Analysts and supervisors.

    The original is kept byte for byte with its SHA-256; phones and terminals get re-encoded
    variants without EXIF, GPS or comments. Bad images are refused with a code, nothing stored.
    """

    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": PhotoUploadSerializer}, responses={201: PhotoSerializer},
                   operation_id="people_photos_create")
    def post(self, request: AuthedRequest, person_id: int) -> Response:
        upload_size_check(request, settings.MEDIA_PHOTO_MAX_BYTES)
        data = PhotoUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        upload_size_check(request, settings.MEDIA_PHOTO_MAX_BYTES, upload.size)
        photo = services.person_photo_upload(user=request.user, person_id=person_id, filename=upload.name or "",
                                             content=upload.read(), content_type=upload.content_type or "",
                                             taken_on=data.validated_data.get("taken_on"), ip=client_ip(request))
        return Response(PhotoSerializer(photo_body(request, photo)).data, status=status.HTTP_201_CREATED)


class PhotoFileView(V1View):
    """The bytes of one photo file, through a signed link from a person record or a briefing.

    The link names the device session it was made for and expires (403 link_expired, tampered:
    403 link_invalid); the session and its user's access are checked again when it is opened
    (403 link_session_ended, 404 photo_not_found), and the opening is audited. A request that
    also sends a bearer token must send one of the link's user (403 link_not_yours).
    Supports Range (206, 416) and If-Range.
    """

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY, (206, "image/*"): OpenApiTypes.BINARY},
                   auth=[], operation_id="photos_file")
    def get(self, request: AuthedRequest, token: str) -> HttpResponseBase:
        claim = media_token_read(kind="photo", token=token)
        user = media_link_user(claim=claim, presented=presented_session(request))
        found = selectors.person_photo_file_get(user=user, photo_id=claim.object_id, variant=claim.variant,
                                                ip=client_ip(request))
        return media_file_response(request, name=found.name, content_type=found.content_type, digest=found.sha256)
