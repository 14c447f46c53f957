"""Case files: cases, people, vehicles and premises, as each user may see them.

Every read goes through apps.cases.selectors, which filters by permission and
writes the audit record. Anything a user may not see answers 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.cases import selectors, services
from apps.cases.models import Case, CasePerson, Person, Premise, Restriction, Vehicle, Warrant
from apps.common.errors import NotFound
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

_PHOTO_LINK_SALT = "rtcc.media.person-photo"

PAGE_PARAMS = [
    OpenApiParameter("cursor", str, required=False, description="next_cursor from the previous page."),
    OpenApiParameter("size", int, required=False, description="Page size, 1-200 (default 50)."),
]


def photo_link(request: Request, photo_id: int) -> str:
    """A link to one photo, for the device session that asked, valid MEDIA_LINK_SECONDS.

    An <img> tag cannot send a bearer header, so the link itself is the key: it
    names the session it was made for and stops working when that session ends,
    its device is revoked or its user loses sight of the person, whichever is first.
    """
    token = signing.dumps({"p": photo_id, "s": request.auth.pk}, salt=_PHOTO_LINK_SALT)
    return request.build_absolute_uri(reverse("v1:photo-file", kwargs={"token": token}))


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
    url = serializers.CharField(help_text="Signed link for this user only; expires after a few minutes.")
    taken_on = serializers.DateField(allow_null=True)


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
        return [{"id": p.pk, "url": photo_link(request, p.pk), "taken_on": p.taken_on} for p in person.photos.all()]


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


class CaseListView(V1View):
    """Cases you may see, most recently changed first. Analysts and supervisors open new ones."""

    @extend_schema(parameters=[*PAGE_PARAMS, OpenApiParameter("status", str, required=False)],
                   responses=CasePageSerializer, operation_id="cases_list")
    def get(self, request: AuthedRequest) -> Response:
        query = page_query(request)
        case_status = request.query_params.get("status", "")
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


class PhotoFileView(V1View):
    """The bytes of one photo, through a signed link from a person record.

    The link names the device session it was made for and expires; the session
    and its user's access are checked again when it is opened, and the opening is audited.
    """

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY}, auth=[], operation_id="photos_file")
    def get(self, request: AuthedRequest, token: str) -> FileResponse:
        try:
            link = signing.loads(token, salt=_PHOTO_LINK_SALT, max_age=settings.MEDIA_LINK_SECONDS)
        except signing.BadSignature as exc:
            raise NotFound("This link has expired or is not valid.", code="link_invalid") from exc
        photo = selectors.person_photo_get_by_link(session_id=link["s"], photo_id=link["p"], ip=client_ip(request))
        response = FileResponse(photo.image.open("rb"), content_type=photo.content_type)
        response["Cache-Control"] = "private, no-store"
        return response
