"""Call briefings: the current version, its history and diffs, and analysts' edits."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.briefings import selectors, services
from apps.briefings.models import BriefingVersion, RecommendationRule
from apps.calls.models import Category
from mobile_api.v1.base import MAX_ID, AuthedRequest, V1View, client_ip, valid_body, valid_query
from mobile_api.v1.cases import photo_link


class ReasonSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="The rule or link that put the item here.")
    text = serializers.CharField()


class RefSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="e.g. cases.person, cases.premise")
    id = serializers.IntegerField()


class DiffEntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField(), required=False)  # type: ignore[assignment]


class ChangesSerializer(serializers.Serializer):
    """Items added, removed and changed (with the names of the fields that changed) since the version before."""

    added = DiffEntrySerializer(many=True)
    removed = DiffEntrySerializer(many=True)
    changed = DiffEntrySerializer(many=True)


class ItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    section = serializers.CharField(help_text="call, notes, hazards, health, co_responder, people, photos, "
                                              "prior_history")
    title = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    severity = serializers.ChoiceField(choices=["info", "caution", "danger"])
    reason = ReasonSerializer()
    as_of = serializers.DateTimeField(allow_null=True, help_text="How fresh the item's data is.")
    stale = serializers.BooleanField()
    ref = RefSerializer(allow_null=True)
    # "data", "source" and "fields" are the phone contract's keys; DRF's metaclass removes declared
    # fields from the class, so shadowing Serializer attributes is harmless at run time.
    data = serializers.DictField()  # type: ignore[assignment]
    photos = serializers.ListField(child=serializers.CharField(), help_text="Signed links, this session only.")
    source = serializers.ChoiceField(choices=["auto", "analyst"])  # type: ignore[assignment]
    pinned = serializers.BooleanField()
    hidden = serializers.BooleanField()


class BriefingSerializer(serializers.Serializer):
    briefing_id = serializers.IntegerField()
    call_id = serializers.IntegerField()
    version = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(allow_null=True)
    changes = ChangesSerializer(help_text="What changed from the version before.")
    items = ItemSerializer(many=True)


class VersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    changes = ChangesSerializer(read_only=True)

    class Meta:
        model = BriefingVersion
        fields = ["number", "reason", "created_at", "created_by", "changes"]


class DiffSerializer(ChangesSerializer):
    from_version = serializers.IntegerField(source="from")
    to_version = serializers.IntegerField(source="to")


class ItemEditSerializer(serializers.Serializer):
    hidden = serializers.BooleanField(required=False)
    pinned = serializers.BooleanField(required=False)
    title = serializers.CharField(required=False, max_length=200)
    body = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class ItemAddSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(allow_blank=True, max_length=4000, default="")
    photo_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


def _briefing_body(request: Request, view: selectors.BriefingView) -> dict[str, Any]:
    version = view.version
    items = [{**entry, "photos": [photo_link(request, pk) for pk in entry.get("data", {}).get("photo_ids", [])]}
             for entry in view.items]
    return BriefingSerializer({
        "briefing_id": view.briefing.pk, "call_id": view.briefing.call_id, "version": version.number,
        "reason": version.reason, "created_at": version.created_at,
        "created_by": version.created_by.username if version.created_by else None,
        "changes": version.changes, "items": items,
    }).data


class BriefingView(V1View):
    """The call's current briefing. Officers: calls their unit is on. Analysts, supervisors: their agency."""

    @extend_schema(responses=BriefingSerializer, operation_id="briefings_retrieve")
    def get(self, request: AuthedRequest, call_id: int) -> Response:
        view = selectors.briefing_get_for_user(user=request.user, call_id=call_id, ip=client_ip(request))
        return Response(_briefing_body(request, view))


class BriefingVersionListView(V1View):
    """Every version of the call's briefing, newest first, each saying what changed and who changed it."""

    @extend_schema(responses=VersionSerializer(many=True), operation_id="briefings_versions_list")
    def get(self, request: AuthedRequest, call_id: int) -> Response:
        versions = selectors.briefing_versions_for_user(user=request.user, call_id=call_id)
        return Response(VersionSerializer(versions, many=True).data)


class BriefingVersionView(V1View):
    @extend_schema(responses=BriefingSerializer, operation_id="briefings_versions_retrieve")
    def get(self, request: AuthedRequest, call_id: int, number: int) -> Response:
        view = selectors.briefing_version_get_for_user(user=request.user, call_id=call_id, number=number,
                                                       ip=client_ip(request))
        return Response(_briefing_body(request, view))


class DiffQuerySerializer(serializers.Serializer):
    from_version = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    to_version = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class BriefingDiffView(V1View):
    """What changed between two versions: items added, removed, and changed (with the fields)."""

    @extend_schema(parameters=[OpenApiParameter("from_version", int, required=True),
                               OpenApiParameter("to_version", int, required=True)],
                   responses=DiffSerializer, operation_id="briefings_diff")
    def get(self, request: AuthedRequest, call_id: int) -> Response:
        query = valid_query(request, DiffQuerySerializer)
        diff = selectors.briefing_diff_for_user(user=request.user, call_id=call_id,
                                                old=query["from_version"],
                                                new=query["to_version"], ip=client_ip(request))
        return Response(DiffSerializer(diff).data)


def _edited(request: AuthedRequest, version: BriefingVersion, code: int = status.HTTP_200_OK) -> Response:
    view = selectors.briefing_get_for_user(user=request.user, call_id=version.briefing.call_id,
                                           ip=client_ip(request))
    return Response(_briefing_body(request, view), status=code)


class BriefingItemListView(V1View):
    """Analysts and supervisors: add a note, or a photo of a person, to a briefing."""

    @extend_schema(request=ItemAddSerializer, responses={201: BriefingSerializer}, operation_id="briefings_items_add")
    def post(self, request: AuthedRequest, briefing_id: int) -> Response:
        data = valid_body(request, ItemAddSerializer)
        version = services.briefing_item_add(briefing_id=briefing_id, user=request.user, ip=client_ip(request),
                                             **data)
        return _edited(request, version, status.HTTP_201_CREATED)


class BriefingItemView(V1View):
    """Analysts and supervisors: hide, pin, retitle or rewrite an item; remove one they added."""

    @extend_schema(request=ItemEditSerializer, responses=BriefingSerializer, operation_id="briefings_items_edit")
    def patch(self, request: AuthedRequest, briefing_id: int, item_id: str) -> Response:
        data = valid_body(request, ItemEditSerializer)
        version = services.briefing_item_edit(briefing_id=briefing_id, item_id=item_id, user=request.user,
                                              changes=data, ip=client_ip(request))
        return _edited(request, version)

    @extend_schema(responses={200: BriefingSerializer}, operation_id="briefings_items_remove")
    def delete(self, request: AuthedRequest, briefing_id: int, item_id: str) -> Response:
        version = services.briefing_item_remove(briefing_id=briefing_id, item_id=item_id, user=request.user,
                                                ip=client_ip(request))
        return _edited(request, version)


class RuleSerializer(serializers.ModelSerializer):
    categories = serializers.ListField(child=serializers.ChoiceField(choices=Category.choices), max_length=20)
    narrative_keywords = serializers.ListField(child=serializers.CharField(max_length=60), max_length=100)
    caution_flags = serializers.ListField(child=serializers.CharField(max_length=40), max_length=20)

    class Meta:
        model = RecommendationRule
        fields = ["id", "name", "responder", "enabled", "categories", "narrative_keywords", "caution_flags",
                  "explanation"]
        read_only_fields = ["id"]


class RuleListView(V1View):
    """The co-responder recommendation rules of your agency (analysts, supervisors and officers read them)."""

    @extend_schema(responses=RuleSerializer(many=True), operation_id="recommendation_rules_list")
    def get(self, request: AuthedRequest) -> Response:
        return Response(RuleSerializer(selectors.recommendation_rules_for_user(user=request.user), many=True).data)

    @extend_schema(request=RuleSerializer, responses={201: RuleSerializer}, operation_id="recommendation_rules_create")
    def post(self, request: AuthedRequest) -> Response:
        data = valid_body(request, RuleSerializer)
        rule = services.recommendation_rule_save(user=request.user, rule_id=None, values=data,
                                                 ip=client_ip(request))
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleView(V1View):
    @extend_schema(request=RuleSerializer, responses=RuleSerializer, operation_id="recommendation_rules_update")
    def patch(self, request: AuthedRequest, rule_id: int) -> Response:
        data = valid_body(request, RuleSerializer, partial=True)
        rule = services.recommendation_rule_save(user=request.user, rule_id=rule_id,
                                                 values=data, ip=client_ip(request))
        return Response(RuleSerializer(rule).data)
