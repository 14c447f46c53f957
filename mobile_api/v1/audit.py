"""The audit trail, for auditors: the events, the signed checkpoints of the Merkle log, and proofs
(docs/audit.md says how to check them without trusting us). Reading any of it is itself audited."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.audit.selectors import (
    audit_checkpoint_list_for_user,
    audit_consistency_proof_for_user,
    audit_event_list_for_user,
    audit_inclusion_proof_for_user,
    checkpoint_as_dict,
)
from mobile_api.v1.base import MAX_ID, AuthedRequest, V1View, page_serializer, parse_time, valid_query


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
        q = valid_query(request, AuditQuerySerializer)
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


class CheckpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    tree_size = serializers.IntegerField(help_text="Events in the log when it was signed.")
    root_hash = serializers.CharField(help_text="RFC 6962 Merkle tree hash, hex.")
    signed_at = serializers.DateTimeField()
    origin = serializers.CharField()
    key_id = serializers.CharField(help_text="First 16 hex digits of SHA-256 of the raw public key.")
    public_key = serializers.CharField(help_text="Ed25519 public key, base64 of its 32 raw bytes.")
    note = serializers.CharField(help_text="The signed text: origin, size, base64 root, time, one a line.")
    signature = serializers.CharField(help_text="Ed25519 signature of `note`, base64.")


class CheckpointQuerySerializer(serializers.Serializer):
    cursor = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                      help_text="next_cursor of the previous page.")
    size = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


CheckpointPageSerializer = page_serializer(CheckpointSerializer, "AuditCheckpointPage")


class AuditCheckpointListView(V1View):
    """The log's signed checkpoints, newest first: keep copies, and later ask for consistency proofs."""

    @extend_schema(parameters=[CheckpointQuerySerializer], responses=CheckpointPageSerializer,
                   operation_id="audit_checkpoints_list")
    def get(self, request: AuthedRequest) -> Response:
        q = valid_query(request, CheckpointQuerySerializer)
        checkpoints = audit_checkpoint_list_for_user(user=request.user)
        if q.get("cursor"):
            checkpoints = checkpoints.filter(id__lt=q["cursor"])
        rows: list[AuditCheckpoint] = list(checkpoints[: q["size"] + 1])
        more = len(rows) > q["size"]
        rows = rows[: q["size"]]
        return Response({"results": CheckpointSerializer([checkpoint_as_dict(c) for c in rows], many=True).data,
                         "next_cursor": str(rows[-1].pk) if more else None})


class InclusionQuerySerializer(serializers.Serializer):
    tree_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                         help_text="A checkpoint's size; default the newest checkpoint.")


class InclusionProofSerializer(serializers.Serializer):
    event = AuditEventSerializer()
    leaf_index = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="SHA-256(0x00 || event id as 8 bytes || event hash), hex.")
    audit_path = serializers.ListField(child=serializers.CharField(),
                                       help_text="RFC 6962 audit path, the leaf's sibling first, hex.")
    checkpoint = CheckpointSerializer()


class AuditProofView(V1View):
    """Proof that one event is in the log under a signed checkpoint (RFC 9162 2.1.3)."""

    @extend_schema(parameters=[InclusionQuerySerializer], responses=InclusionProofSerializer,
                   operation_id="audit_proof")
    def get(self, request: AuthedRequest, event_id: int) -> Response:
        query = valid_query(request, InclusionQuerySerializer)
        proof = audit_inclusion_proof_for_user(user=request.user, event_id=event_id,
                                               tree_size=query.get("tree_size"))
        return Response(InclusionProofSerializer(proof).data)


class ConsistencyQuerySerializer(serializers.Serializer):
    first = serializers.IntegerField(min_value=0, max_value=MAX_ID, help_text="The older checkpoint's size.")
    second = serializers.IntegerField(min_value=0, max_value=MAX_ID, help_text="The newer checkpoint's size.")


class ConsistencyProofSerializer(serializers.Serializer):
    first = CheckpointSerializer()
    second = CheckpointSerializer()
    proof = serializers.ListField(child=serializers.CharField(), help_text="RFC 9162 consistency proof, hex.")


class AuditConsistencyView(V1View):
    """Proof that a later checkpoint's log extends an earlier one's, nothing rewritten (RFC 9162 2.1.4)."""

    @extend_schema(parameters=[ConsistencyQuerySerializer], responses=ConsistencyProofSerializer,
                   operation_id="audit_consistency")
    def get(self, request: AuthedRequest) -> Response:
        q = valid_query(request, ConsistencyQuerySerializer)
        proof = audit_consistency_proof_for_user(user=request.user, first=q["first"], second=q["second"])
        return Response(ConsistencyProofSerializer(proof).data)
