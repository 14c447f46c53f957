"""The audit trail, for auditors. Reading it is itself audited."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_event_list_for_user
from mobile_api.v1.base import MAX_ID, AuthedRequest, V1View, page_serializer, parse_time


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "actor_username", "action", "object_type", "object_id", "object_ids",
                  "detail", "ip", "prev_hash", "hash"]


class AuditQuerySerializer(serializers.Serializer):
    user = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    object_type = serializers.CharField(required=False, max_length=50)
    object_id = serializers.CharField(required=False, max_length=64)
    action = serializers.ChoiceField(choices=AuditEvent.Action.choices, required=False)
    since = serializers.CharField(required=False)
    until = serializers.CharField(required=False)
    cursor = serializers.IntegerField(required=False, min_value=1, help_text="next_cursor of the previous page.")
    size = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


AuditPageSerializer = page_serializer(AuditEventSerializer, "AuditPage")


class AuditListView(V1View):
    """Who did what to which record, newest first; filter by user, object and time."""

    @extend_schema(
        parameters=[
            OpenApiParameter("user", int, required=False),
            OpenApiParameter("object_type", str, required=False, description="e.g. cases.case, cases.person"),
            OpenApiParameter("object_id", str, required=False),
            OpenApiParameter("action", str, required=False, enum=AuditEvent.Action.values),
            OpenApiParameter("since", str, required=False, description="ISO 8601 with time zone"),
            OpenApiParameter("until", str, required=False, description="ISO 8601 with time zone"),
            OpenApiParameter("cursor", str, required=False, description="next_cursor of the previous page."),
            OpenApiParameter("size", int, required=False),
        ],
        responses=AuditPageSerializer,
        operation_id="audit_list",
    )
    def get(self, request: AuthedRequest) -> Response:
        query = AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        events = audit_event_list_for_user(
            user=request.user,
            actor_id=q.get("user"),
            object_type=q.get("object_type", ""),
            object_id=q.get("object_id", ""),
            action=q.get("action", ""),
            since=parse_time(q.get("since"), "since"),
            until=parse_time(q.get("until"), "until"),
        )
        if q.get("cursor"):
            events = events.filter(id__lt=q["cursor"])
        rows = list(events[: q["size"] + 1])
        more = len(rows) > q["size"]
        rows = rows[: q["size"]]
        return Response({"results": AuditEventSerializer(rows, many=True).data,
                         "next_cursor": str(rows[-1].id) if more else None})
