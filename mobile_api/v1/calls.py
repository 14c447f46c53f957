"""Calls for service: what officers and analysts read, and what the CAD writes.

Reads (/calls) go through apps.calls.selectors, which filters by agency and role
and audits. The CAD endpoints (/cad/...) are for the CAD's machine account and the
center's analysts and supervisors; for anyone else they do not exist (404). Every
CAD write is idempotent: the CAD retries what it did not see acknowledged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import Agency
from apps.calls import selectors, services
from apps.calls.models import Call, Category, UnitAssignment
from apps.common.errors import ValidationFailed
from apps.common.pagination import page_size_clamp
from mobile_api.v1.base import (
    AuthedRequest,
    PageQuerySerializer,
    V1View,
    client_ip,
    created_or_found,
    created_or_found_schema,
    page_serializer,
    valid_body,
    valid_query,
)

EVENT_NUMBER_PATTERN = r"[A-Za-z0-9_.-]{1,40}"
UNIT_PATTERN = r"[A-Za-z0-9_.-]{1,20}"

EVENT_NUMBER_PARAM = OpenApiParameter("event_number", str, OpenApiParameter.PATH, pattern=f"^{EVENT_NUMBER_PATTERN}$",
                                      description="The CAD's event number: 1-40 letters, digits, '-', '_' or '.'.")
UNIT_PARAM = OpenApiParameter("unit", str, OpenApiParameter.PATH, pattern=f"^{UNIT_PATTERN}$",
                              description="The unit's call sign, e.g. 2A12.")


class AssignmentSerializer(serializers.ModelSerializer):
    unit = serializers.CharField(source="unit.call_sign")

    class Meta:
        model = UnitAssignment
        fields = ["unit", "assigned_at", "cleared_at"]


class OfficerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class UnitOnCallSerializer(serializers.Serializer):
    call_sign = serializers.CharField()
    assigned_at = serializers.DateTimeField()
    officers = OfficerSerializer(many=True, help_text="Its members on shift.")
    latitude = serializers.FloatField(allow_null=True, help_text="Its members' freshest device position, if "
                                                                 "reported in the last 15 minutes.")
    longitude = serializers.FloatField(allow_null=True)
    located_at = serializers.DateTimeField(allow_null=True)


# context["units"]: selectors.units_on_calls for the calls serialized.
class CallBriefSerializer(serializers.ModelSerializer):
    units = serializers.SerializerMethodField(help_text="The units on the call now, with their officers.")

    class Meta:
        model = Call
        fields = ["id", "event_number", "cad_code", "cad_description", "category", "cad_code_unmapped", "priority",
                  "status", "address", "latitude", "longitude", "located_by", "received_at", "updated_at", "units"]

    @extend_schema_field(UnitOnCallSerializer(many=True))
    def get_units(self, call: Call) -> list[dict[str, Any]]:
        units = self.context["units"].get(call.pk, [])
        return UnitOnCallSerializer(units, many=True).data  # type: ignore[return-value]


class CallSerializer(CallBriefSerializer):
    premise_id = serializers.IntegerField(allow_null=True, read_only=True,
                                          help_text="The known premise at this address, if any.")
    assignments = AssignmentSerializer(many=True, read_only=True)

    class Meta(CallBriefSerializer.Meta):
        fields = [*CallBriefSerializer.Meta.fields, "source", "narrative", "premise_id", "requesting_agency",
                  "dispatched_at", "on_scene_at", "cleared_at", "created_at", "assignments"]
        extra_kwargs = {"requesting_agency": {"help_text": "Mutual aid: the other agency an EIDO document named "
                                                           "(its name and id), the call filed under ours; else empty."}}


class WarningSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="eido_other_agency: the document names another agency.")
    message = serializers.CharField()


class EidoCallSerializer(CallSerializer):
    warnings = serializers.SerializerMethodField()

    class Meta(CallSerializer.Meta):
        fields = [*CallSerializer.Meta.fields, "warnings"]

    @extend_schema_field(WarningSerializer(many=True))
    def get_warnings(self, call: Call) -> list[dict[str, str]]:
        return list(self.context.get("warnings", []))


CallPageSerializer = page_serializer(CallBriefSerializer, "CallPage")


class CallQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=Call.Status.choices, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    mine = serializers.BooleanField(required=False, default=False)


class CadCallSerializer(serializers.Serializer):
    """A call as the CAD sends it. PUT replaces: a field left out is cleared, except status.

    This reads the JSON types only; the limits are apps.calls.services.call_upsert's, checked there once for
    every road in (this API, EIDO, the sensors, the history import) and named here for the schema.
    """

    cad_code = serializers.CharField(allow_blank=True,
                                     help_text=f"The agency's CAD type code, 1-{services.MAX_CAD_CODE} characters; "
                                               "unknown codes are kept and flagged cad_code_unmapped.")
    cad_description = serializers.CharField(required=False, allow_blank=True, default="",
                                            help_text=f"At most {services.MAX_DESCRIPTION} characters.")
    priority = serializers.IntegerField(required=False, allow_null=True, default=None,
                                        help_text=f"1 (the most urgent) to {services.MAX_PRIORITY}; left out, the "
                                                  "CAD type mapping decides.")
    address = serializers.CharField(required=False, allow_blank=True, default="",
                                    help_text=f"At most {services.MAX_ADDRESS} characters.")
    latitude = serializers.FloatField(required=False, allow_null=True, default=None,
                                      help_text="-90 to 90, given with longitude.")
    longitude = serializers.FloatField(required=False, allow_null=True, default=None,
                                       help_text="-180 to 180, given with latitude.")
    narrative = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                      help_text=f"At most {services.MAX_NARRATIVE} characters.")
    status = serializers.CharField(required=False, allow_null=True, default=None,
                                   help_text="One of " + ", ".join(Call.Status.values) + ". Left out, the status "
                                             "stays as it is (assignments move it too).")
    received_at = serializers.CharField(help_text="ISO 8601 with a time zone, e.g. 2026-11-24T08:00:00Z.")

    def validate_received_at(self, value: str) -> Any:
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise serializers.ValidationError("Use ISO 8601, e.g. 2026-11-24T08:00:00Z.") from exc


class AssignmentAddSerializer(serializers.Serializer):
    unit = serializers.CharField(max_length=20, help_text="The unit's call sign, e.g. 2A12.")


class CallListView(V1View):
    """Your agency's calls, most recently changed first: the active ones, or those of one status."""

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, required=False, enum=Call.Status.values,
                             description="Only calls of this status (default: every active status)."),
            OpenApiParameter("category", str, required=False, enum=Category.values),
            OpenApiParameter("mine", bool, required=False,
                             description="Only calls a unit you are on shift with is assigned to now."),
            OpenApiParameter("cursor", str, required=False, description="next_cursor from the previous page."),
            OpenApiParameter("size", int, required=False, description="Page size, 1-200 (default 50)."),
        ],
        responses=CallPageSerializer,
        operation_id="calls_list",
    )
    def get(self, request: AuthedRequest) -> Response:
        q = valid_query(request, CallQuerySerializer)
        page = selectors.call_list_for_user(user=request.user, status=q.get("status"), category=q.get("category"),
                                            mine=q.get("mine", False), cursor=q.get("cursor") or None,
                                            size=page_size_clamp(q.get("size")),
                                            ip=client_ip(request))
        units = selectors.units_on_calls(calls=page.items)
        return Response({"results": CallBriefSerializer(page.items, many=True, context={"units": units}).data,
                         "next_cursor": page.next_cursor})


class TerminalCallSerializer(CallBriefSerializer):
    pending_pushes = serializers.ListField(child=serializers.IntegerField(),
                                          help_text="Pushes about this call you have not acknowledged, newest first.")
    assigned_at = serializers.DateTimeField(allow_null=True, help_text="When your unit was put on it; null when "
                                                                       "it reached you by a push only.")
    unit = serializers.CharField(allow_blank=True, help_text="Your unit's call sign on it.")
    seen_version = serializers.IntegerField(allow_null=True, help_text="The briefing version you last opened.")

    class Meta(CallBriefSerializer.Meta):
        fields = [*CallBriefSerializer.Meta.fields, "pending_pushes", "assigned_at", "unit", "seen_version"]


class MyCallsView(V1View):
    """Your active calls (your unit's, and any pushed to you) in the order a terminal shows them: one with an
    unacknowledged push first, then by priority, then the latest assignment first."""

    @extend_schema(responses=TerminalCallSerializer(many=True), operation_id="me_calls_list")
    def get(self, request: AuthedRequest) -> Response:
        rows = selectors.call_list_for_terminal(user=request.user, ip=client_ip(request))
        for row in rows:
            for name in ("pending_pushes", "assigned_at", "unit", "seen_version"):
                setattr(row.call, name, getattr(row, name))
        calls = [row.call for row in rows]
        return Response(TerminalCallSerializer(calls, many=True,
                                               context={"units": selectors.units_on_calls(calls=calls)}).data)


class CallDetailView(V1View):
    """One call: type, category, priority, place, times and the units on it."""

    @extend_schema(responses=CallSerializer, operation_id="calls_retrieve")
    def get(self, request: AuthedRequest, call_id: int) -> Response:
        call = selectors.call_get_for_user(user=request.user, call_id=call_id, ip=client_ip(request))
        return Response(CallSerializer(call, context={"units": selectors.units_on_calls(calls=[call])}).data)


class CadView(V1View):
    """Base of the CAD endpoints: for anyone but a CAD writer they answer like an unknown URL."""

    agency: Agency  # the writer's, found once per request

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.agency = selectors.cad_agency_get(user=request.user)


def _created(call: Call, changed: bool, started: datetime) -> bool:
    # call_upsert answers (call, changed); a call changed and born after this request began was
    # created by it. Only a create that lost a race to a different body can read 201 wrongly.
    return changed and call.created_at >= started


def _call_response(request: AuthedRequest, call: Call, created: bool,
                   warnings: list[dict[str, str]] | None = None) -> Response:
    call = selectors.call_get_for_cad(user=request.user, event_number=call.event_number)
    context = {"units": selectors.units_on_calls(calls=[call])}
    data = (CallSerializer(call, context=context) if warnings is None
            else EidoCallSerializer(call, context={**context, "warnings": warnings})).data
    return created_or_found(data, created=created)


class CadCallView(CadView):
    @extend_schema(
        parameters=[EVENT_NUMBER_PARAM], request=CadCallSerializer,
        responses=created_or_found_schema(CallSerializer), operation_id="cad_calls_upsert",
        description="Create the call with this event number, or bring it up to date. Idempotent: sending the same "
                    "call again changes nothing. 201 when created, 200 when updated or unchanged.",
    )
    def put(self, request: AuthedRequest, event_number: str) -> Response:
        data = valid_body(request, CadCallSerializer)
        started = timezone.now()
        call, changed = services.call_upsert(agency=self.agency,
                                             event_number=event_number, actor=request.user, source=Call.Source.CAD,
                                             ip=client_ip(request), **data)
        return _call_response(request, call, created=_created(call, changed, started))


class CadAssignmentListView(CadView):
    @extend_schema(
        parameters=[EVENT_NUMBER_PARAM], request=AssignmentAddSerializer,
        responses=created_or_found_schema(AssignmentSerializer), operation_id="cad_assignments_add",
        description="Put a unit on the call (a received call becomes dispatched). 201 when added, 200 when the unit "
                    "was already on it.",
    )
    def post(self, request: AuthedRequest, event_number: str) -> Response:
        call = selectors.call_get_for_cad(user=request.user, event_number=event_number)
        data = valid_body(request, AssignmentAddSerializer)
        assignment, changed = services.call_assignment_add(call=call, unit_call_sign=data["unit"],
                                                           actor=request.user, ip=client_ip(request))
        return created_or_found(AssignmentSerializer(assignment).data, created=changed)


class CadAssignmentView(CadView):
    @extend_schema(
        parameters=[EVENT_NUMBER_PARAM, UNIT_PARAM], request=None, responses={204: None},
        operation_id="cad_assignments_clear",
        description="Take the unit off the call. 204 whether or not it was on it.",
    )
    def delete(self, request: AuthedRequest, event_number: str, unit: str) -> Response:
        call = selectors.call_get_for_cad(user=request.user, event_number=event_number)
        services.call_assignment_clear(call=call, unit_call_sign=unit, actor=request.user, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CadEidoView(CadView):
    @extend_schema(
        request=OpenApiTypes.OBJECT, responses=created_or_found_schema(EidoCallSerializer),
        operation_id="cad_eido_submit",
        description="A call from an EIDO document (NENA-STA-021 JSON). Idempotent like PUT /cad/calls/{event_number}: "
                    "201 when created, 200 when updated or unchanged. A document without an incident id, type or "
                    "call start time is refused whole (400 eido_incomplete). A document naming another agency "
                    "(mutual aid) is filed under the CAD's agency with that one as `requesting_agency`, and "
                    "`warnings` says so.",
    )
    def post(self, request: AuthedRequest) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationFailed("An EIDO document is a JSON object.", code="eido_invalid",
                                   fields={"non_field_errors": ["expected a JSON object"]})
        started = timezone.now()
        result = services.call_upsert_from_eido(agency=self.agency, document=request.data, actor=request.user,
                                                ip=client_ip(request))
        return _call_response(request, result.call, created=_created(result.call, result.changed, started),
                              warnings=result.warnings)
