"""Hot lists: the plates an agency watches for (stolen vehicles, AMBER alerts, its own lists), and their entries.

Analysts' and supervisors'. A plate read that matches an entry raises an alert (apps/sensors/services.py
hot_list_match); an alert verified false flags its entry for correction (needs_correction).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.sensors import selectors, services
from apps.sensors.models import HotList, HotListEntry
from mobile_api.v1.base import AuthedRequest, V1View, client_ip, page_serializer, page_size_query, valid_body


class HotListSerializer(serializers.ModelSerializer):
    owner = serializers.IntegerField(source="owner_id")

    class Meta:
        model = HotList
        fields = ["id", "name", "kind", "reason", "source", "priority", "expires_at", "enabled", "owner",
                  "created_at", "updated_at"]


class HotListWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=HotList.Kind.choices)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                   help_text="Why the list exists; required for a custom list.")
    source = serializers.CharField(max_length=200, required=False, allow_blank=True,  # type: ignore[assignment]
                                   help_text="What a hit is verified against (NCIC extract, state list, ...).")
    priority = serializers.IntegerField(min_value=1, max_value=9, required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    enabled = serializers.BooleanField(required=False)


class EntrySerializer(serializers.ModelSerializer):
    bolo_id = serializers.IntegerField(
        source="bolo.pk", allow_null=True, read_only=True,  # the reverse one-to-one of apps.bolos' Bolo
        help_text="The BOLO whose plate this is (GET /bolos/{id}), if any: it follows its bulletin, and removing "
                  "it here answers 409 hot_list_entry_owned_by_bolo.")

    class Meta:
        model = HotListEntry
        fields = ["id", "plate", "plate_normalized", "region", "description", "case_number", "expires_at",
                  "needs_correction", "correction_note", "created_at", "bolo_id"]


class EntryWriteSerializer(serializers.Serializer):
    plate = serializers.CharField(max_length=20)
    region = serializers.CharField(max_length=10, required=False, allow_blank=True, default="",
                                   help_text="State or province, e.g. WA; empty matches a read of any state.")
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    case_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


EntryPageSerializer = page_serializer(EntrySerializer, "EntryPage")


class HotListListView(V1View):
    """Analysts and supervisors: the agency's hot lists, and new ones."""

    @extend_schema(responses=HotListSerializer(many=True), operation_id="hot_lists_list")
    def get(self, request: AuthedRequest) -> Response:
        lists = selectors.hot_list_list_for_user(user=request.user, ip=client_ip(request))
        return Response(HotListSerializer(lists, many=True).data)

    @extend_schema(request=HotListWriteSerializer, responses={201: HotListSerializer},
                   operation_id="hot_lists_create")
    def post(self, request: AuthedRequest) -> Response:
        hot_list = services.hot_list_create(user=request.user, values=valid_body(request, HotListWriteSerializer),
                                            ip=client_ip(request))
        return Response(HotListSerializer(hot_list).data, status=status.HTTP_201_CREATED)


class HotListView(V1View):
    """One hot list: read, change (name, reason, expiry, enabled, ...) or delete with its entries.

    The list holding BOLO plates is the bulletins': changing or deleting it answers 409 hot_list_entry_owned_by_bolo.
    """

    @extend_schema(responses=HotListSerializer, operation_id="hot_lists_retrieve")
    def get(self, request: AuthedRequest, hot_list_id: int) -> Response:
        hot_list = selectors.hot_list_get_for_user(user=request.user, hot_list_id=hot_list_id, ip=client_ip(request))
        return Response(HotListSerializer(hot_list).data)

    @extend_schema(request=HotListWriteSerializer(partial=True), responses=HotListSerializer,
                   operation_id="hot_lists_update")
    def patch(self, request: AuthedRequest, hot_list_id: int) -> Response:
        hot_list = services.hot_list_update(user=request.user, hot_list_id=hot_list_id, ip=client_ip(request),
                                            values=valid_body(request, HotListWriteSerializer, partial=True))
        return Response(HotListSerializer(hot_list).data)

    @extend_schema(responses={204: None}, operation_id="hot_lists_delete")
    def delete(self, request: AuthedRequest, hot_list_id: int) -> Response:
        services.hot_list_delete(user=request.user, hot_list_id=hot_list_id, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HotListEntryListView(V1View):
    """A hot list's plates (those flagged for correction with needs_correction=true), and new ones."""

    @extend_schema(parameters=[
        OpenApiParameter("needs_correction", OpenApiTypes.BOOL, required=False),
        OpenApiParameter("cursor", str, required=False), OpenApiParameter("size", int, required=False),
    ], responses=EntryPageSerializer, operation_id="hot_list_entries_list")
    def get(self, request: AuthedRequest, hot_list_id: int) -> Response:
        flag = request.query_params.get("needs_correction")
        page = selectors.hot_list_entries_for_user(
            user=request.user, hot_list_id=hot_list_id, cursor=request.query_params.get("cursor") or None,
            size=page_size_query(request, default=100),
            needs_correction=None if flag is None else flag.lower() in ("1", "true", "yes"),
            ip=client_ip(request))
        return Response({"results": EntrySerializer(page.items, many=True).data, "next_cursor": page.next_cursor})

    @extend_schema(request=EntryWriteSerializer, responses={201: EntrySerializer},
                   operation_id="hot_list_entries_add")
    def post(self, request: AuthedRequest, hot_list_id: int) -> Response:
        entry = services.hot_list_entry_add(user=request.user, hot_list_id=hot_list_id, ip=client_ip(request),
                                            entry=services.EntryIn(**valid_body(request, EntryWriteSerializer)))
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class HotListEntryView(V1View):
    @extend_schema(responses={204: None}, operation_id="hot_list_entries_remove")
    def delete(self, request: AuthedRequest, hot_list_id: int, entry_id: int) -> Response:
        """Take a plate off the list; a BOLO's plate comes off through its bulletin (409 otherwise)."""
        services.hot_list_entry_remove(user=request.user, hot_list_id=hot_list_id, entry_id=entry_id,
                                       ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
