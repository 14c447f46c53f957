"""The officer emergency ("needs help"): raise it from the phone, read it, acknowledge it, close it.

The in-car terminal raises it with a deliberate gesture (press and hold, or a double press) and this same
endpoint. What happens then: docs/locations.md ("Officer emergency").
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.emergencies import selectors, services
from apps.emergencies.models import Emergency, EmergencyStep
from mobile_api.v1.base import AuthedRequest, V1View, client_ip, created_or_found, created_or_found_schema


class EmergencyRaiseSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=Emergency.Source.choices)  # type: ignore[assignment]
    latitude = serializers.FloatField(required=False, allow_null=True, help_text="Leave out: the unit's last fix.")
    longitude = serializers.FloatField(required=False, allow_null=True)


class EmergencyStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = EmergencyStep
        fields = ["kind", "at", "by", "detail"]


class EmergencySerializer(serializers.ModelSerializer):
    call_sign = serializers.CharField(source="unit.call_sign", allow_null=True, default=None)
    is_open = serializers.BooleanField()

    class Meta:
        model = Emergency
        fields = ["id", "officer", "unit", "call_sign", "call", "source", "latitude", "longitude", "raised_at",
                  "acknowledged_at", "acknowledged_by", "escalated_at", "closed_at", "closed_by", "close_reason",
                  "close_note", "is_open"]


class EmergencyDetailSerializer(EmergencySerializer):
    steps = EmergencyStepSerializer(many=True, help_text="The emergency's record, in order.")

    class Meta(EmergencySerializer.Meta):
        fields = [*EmergencySerializer.Meta.fields, "steps"]


class EmergencyListSerializer(serializers.Serializer):
    results = EmergencySerializer(many=True)


class EmergencyListQuerySerializer(serializers.Serializer):
    open = serializers.BooleanField(required=False, default=True)


class EmergencyCloseSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=20,
                                   help_text="resolved, false_alarm or other (other needs a note).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class EmergencyListView(V1View):
    """Open emergencies of your agency (officers, supervisors, analysts); `open=false` lists closed ones too."""

    @extend_schema(parameters=[OpenApiParameter("open", bool, required=False)], responses=EmergencyListSerializer,
                   operation_id="emergencies_list")
    def get(self, request: AuthedRequest) -> Response:
        query = EmergencyListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = selectors.emergency_list_for_user(user=request.user, open_only=query.validated_data["open"],
                                                  ip=client_ip(request))
        return Response(EmergencyListSerializer({"results": found}).data)

    @extend_schema(request=EmergencyRaiseSerializer,
                   responses=created_or_found_schema(EmergencyDetailSerializer),
                   operation_id="emergencies_raise")
    def post(self, request: AuthedRequest) -> Response:
        """An officer needs help: the units nearby, the supervisors on duty and the center are told at once.

        201 when raised; 200 with the same emergency when one of yours is already open.
        """
        body = EmergencyRaiseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        raised = services.emergency_raise(officer=request.user, ip=client_ip(request), **body.validated_data)
        emergency = selectors.emergency_get_for_user(user=request.user, emergency_id=raised.emergency.pk)
        return created_or_found(EmergencyDetailSerializer(emergency).data, created=raised.created)


class EmergencyDetailView(V1View):
    """One emergency and its record: who was told, cameras, clips, escalation, acknowledgements, closing."""

    @extend_schema(responses=EmergencyDetailSerializer, operation_id="emergencies_retrieve")
    def get(self, request: AuthedRequest, emergency_id: int) -> Response:
        emergency = selectors.emergency_get_for_user(user=request.user, emergency_id=emergency_id,
                                                     ip=client_ip(request))
        return Response(EmergencyDetailSerializer(emergency).data)


class EmergencyAcknowledgeView(V1View):
    """I am on it: stops the escalation (the first one), and tells the officer."""

    @extend_schema(request=None, responses=EmergencyDetailSerializer, operation_id="emergencies_acknowledge")
    def post(self, request: AuthedRequest, emergency_id: int) -> Response:
        services.emergency_acknowledge(user=request.user, emergency_id=emergency_id, ip=client_ip(request))
        emergency = selectors.emergency_get_for_user(user=request.user, emergency_id=emergency_id)
        return Response(EmergencyDetailSerializer(emergency).data)


class EmergencyCloseView(V1View):
    """The officer or a supervisor closes the emergency, with a reason (resolved, false_alarm, other)."""

    @extend_schema(request=EmergencyCloseSerializer, responses=EmergencyDetailSerializer,
                   operation_id="emergencies_close")
    def post(self, request: AuthedRequest, emergency_id: int) -> Response:
        body = EmergencyCloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.emergency_close(user=request.user, emergency_id=emergency_id, ip=client_ip(request),
                                 reason=body.validated_data.get("reason", ""), note=body.validated_data.get("note", ""))
        emergency = selectors.emergency_get_for_user(user=request.user, emergency_id=emergency_id)
        return Response(EmergencyDetailSerializer(emergency).data)
