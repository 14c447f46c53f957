"""Co-responder referrals: ask for one, answer and report on one, and the per-period counts. Docs: docs/referrals.md.

Two serializers, never one filtered: a co-responder gets CoResponderReferralSerializer (the
allowlist of apps/referrals/selectors.py CO_RESPONDER_FIELDS), the agency side gets
AgencyReferralSerializer. Neither has the Part 2 notes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.referrals import selectors, services
from apps.referrals.models import Outcome, Referral, ResponderKind, SafetyFlag
from mobile_api.v1.base import (
    MAX_ID,
    AuthedRequest,
    PageQuerySerializer,
    V1View,
    client_ip,
    page_query,
    valid_body,
    valid_query,
)


class HistorySerializer(serializers.Serializer):
    state = serializers.CharField()
    at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True, help_text="Co-responders see the role that acted, not a name.")


class CoResponderReferralSerializer(serializers.Serializer):
    """What a co-responder may know: where, what kind of call, how safe, how to approach, whom to call back.

    A field the agreement does not share is null. Nothing from criminal records, ever.
    """

    view = serializers.ChoiceField(choices=["co_responder"], help_text="Which side's view this is: the discriminator.")
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=Referral.State.choices)
    outcome = serializers.CharField(allow_blank=True)
    responder_kind = serializers.ChoiceField(choices=ResponderKind.choices)
    priority = serializers.IntegerField()
    address = serializers.CharField(allow_null=True, allow_blank=True)
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    call_type = serializers.CharField(allow_null=True, allow_blank=True)
    safety_flags = serializers.ListField(child=serializers.CharField(), allow_null=True)
    police_first = serializers.BooleanField(allow_null=True, help_text="Police secure the scene first; stage nearby.")
    hazard_notes = serializers.CharField(allow_null=True, allow_blank=True)
    approach_guidance = serializers.CharField(allow_null=True, allow_blank=True)
    language_needs = serializers.CharField(allow_null=True, allow_blank=True)
    callback_number = serializers.CharField(allow_null=True, allow_blank=True)
    requester_notes = serializers.CharField(allow_null=True, allow_blank=True)
    health_notes = serializers.CharField(allow_null=True, allow_blank=True)
    diverted_from_arrest = serializers.BooleanField(allow_null=True)
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    en_route_at = serializers.DateTimeField(allow_null=True)
    on_scene_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    history = HistorySerializer(many=True)


class OrganisationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class OfferSerializer(serializers.Serializer):
    user = serializers.CharField()
    offered_at = serializers.DateTimeField()
    result = serializers.CharField(allow_blank=True, help_text="empty while waiting, then accepted, declined, "
                                                                "rolled_over or withdrawn")
    answered_at = serializers.DateTimeField(allow_null=True)


class AgencyReferralSerializer(serializers.Serializer):
    """The agency's view: the co-responder's status live, and where the referral came from.

    health_notes is null once the referral is closed, unless the agreement lets the agency keep reading them.
    """

    view = serializers.ChoiceField(choices=["agency"], help_text="Which side's view this is: the discriminator.")
    id = serializers.IntegerField()
    call_id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=Referral.State.choices)
    outcome = serializers.CharField(allow_blank=True)
    responder_kind = serializers.ChoiceField(choices=ResponderKind.choices)
    priority = serializers.IntegerField()
    organisation = OrganisationRefSerializer()
    team = serializers.CharField()
    source = serializers.ChoiceField(choices=Referral.Source.choices)  # type: ignore[assignment]
    recommendation_item = serializers.CharField(allow_blank=True)
    requested_by = serializers.CharField()
    responder = serializers.CharField(allow_null=True, help_text="Who has the offer now, or accepted it.")
    address = serializers.CharField(allow_blank=True)
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    call_type = serializers.CharField(allow_blank=True)
    safety_flags = serializers.ListField(child=serializers.CharField())
    police_first = serializers.BooleanField()
    hazard_notes = serializers.CharField(allow_blank=True)
    approach_guidance = serializers.CharField(allow_blank=True)
    language_needs = serializers.CharField(allow_blank=True)
    callback_number = serializers.CharField(allow_blank=True)
    requester_notes = serializers.CharField(allow_blank=True)
    health_notes = serializers.CharField(allow_null=True, allow_blank=True)
    diverted_from_arrest = serializers.BooleanField(allow_null=True)
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    en_route_at = serializers.DateTimeField(allow_null=True)
    on_scene_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    offers = OfferSerializer(many=True)
    history = HistorySerializer(many=True)


class HandedOnSerializer(serializers.Serializer):
    """What the co-responder who declined is left with: the referral went on to the next one on call."""

    view = serializers.ChoiceField(choices=["handed_on"], help_text="The discriminator.")
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["declined"])


_VIEWS: dict[str, serializers.Serializer | type[serializers.Serializer]] = {
    "agency": AgencyReferralSerializer, "co_responder": CoResponderReferralSerializer}
# `view` tells a client which of the two it holds, so a strict decoder need not guess from nullable fields.
ReferralSerializer = PolymorphicProxySerializer(component_name="Referral", serializers=_VIEWS,
                                                resource_type_field_name="view")
TransitionResultSerializer = PolymorphicProxySerializer(
    component_name="TransitionResult", serializers={**_VIEWS, "handed_on": HandedOnSerializer},
    resource_type_field_name="view")


@extend_schema_field(PolymorphicProxySerializer(component_name="Referral", serializers=_VIEWS,
                                                resource_type_field_name="view", many=True))
class ReferralListField(serializers.ListField):
    pass


class ReferralPageSerializer(serializers.Serializer):
    results = ReferralListField(help_text="Referrals, as in GET /referrals/{id}.")
    next_cursor = serializers.CharField(allow_null=True)


def referral_body(read: selectors.ReferralRead) -> dict[str, Any]:
    serializer = CoResponderReferralSerializer if read.audience == "co_responder" else AgencyReferralSerializer
    return dict(serializer({**read.values, "view": read.audience}).data)


class ReferralCreateSerializer(serializers.Serializer):
    call_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    responder_kind = serializers.ChoiceField(choices=ResponderKind.choices, required=False)
    recommendation_item = serializers.CharField(max_length=60, required=False,
                                                help_text="The briefing item to accept, e.g. "
                                                          "co_responder:behavioral_health.")
    safety_flags = serializers.ListField(child=serializers.ChoiceField(choices=SafetyFlag.choices), required=False,
                                         max_length=len(SafetyFlag.values))
    police_first = serializers.BooleanField(required=False, allow_null=True, default=None)
    hazard_notes = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    approach_guidance = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    language_needs = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    callback_number = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    requester_notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class OpenQuerySerializer(PageQuerySerializer):
    open = serializers.BooleanField(required=False, default=False)


class ReferralListView(V1View):
    """Referrals you may see, most recently changed first; ask for a co-responder on a call."""

    @extend_schema(parameters=[
        OpenApiParameter("open", bool, required=False, description="Only referrals not yet closed."),
        OpenApiParameter("cursor", str, required=False, description="next_cursor from the previous page."),
        OpenApiParameter("size", int, required=False, description="Page size, 1-200 (default 50)."),
    ], responses=ReferralPageSerializer, operation_id="referrals_list")
    def get(self, request: AuthedRequest) -> Response:
        paging = page_query(request)
        query = valid_query(request, OpenQuerySerializer)
        page, reads = selectors.referral_list_for_user(user=request.user, open_only=query["open"],
                                                       cursor=paging["cursor"], size=paging["size"],
                                                       ip=client_ip(request))
        return Response({"results": [referral_body(r) for r in reads], "next_cursor": page.next_cursor})

    @extend_schema(request=ReferralCreateSerializer, responses={201: AgencyReferralSerializer},
                   operation_id="referrals_create")
    def post(self, request: AuthedRequest) -> Response:
        """Analysts, supervisors and officers assigned to the call. With `recommendation_item`, the briefing's
        recommendation is accepted as it stands (responder kind, police first, safety flags)."""
        body = valid_body(request, ReferralCreateSerializer)
        referral = services.referral_create(user=request.user, ip=client_ip(request), **body)
        read = selectors.referral_read_after_write(user=request.user, referral=referral, ip=client_ip(request))
        return Response(referral_body(read), status=status.HTTP_201_CREATED)


class ReferralDetailView(V1View):
    """One referral, as your side may see it."""

    @extend_schema(responses=ReferralSerializer, operation_id="referrals_retrieve")
    def get(self, request: AuthedRequest, referral_id: int) -> Response:
        read = selectors.referral_get_for_user(user=request.user, referral_id=referral_id, ip=client_ip(request))
        return Response(referral_body(read))


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=[s for s in Referral.State.values if s != Referral.State.OFFERED])
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False, allow_null=True,
                                      help_text="Only with `to: closed`; leave out (or null) otherwise.")
    diverted_from_arrest = serializers.BooleanField(required=False, allow_null=True, default=None)
    health_notes = serializers.CharField(max_length=4000, required=False, allow_blank=True, default=None)
    part2_notes = serializers.CharField(
        max_length=4000, required=False, allow_blank=True, default=None, write_only=True,
        help_text="Substance-use treatment information (42 CFR Part 2): stored, never sent back by any endpoint.")


class ReferralTransitionView(V1View):
    """Accept or decline an offer, report en route, on scene and the outcome; the agency side may cancel.

    A move the state machine does not allow answers 409 invalid_transition.
    """

    @extend_schema(request=TransitionSerializer, responses=TransitionResultSerializer,
                   operation_id="referrals_transition")
    def post(self, request: AuthedRequest, referral_id: int) -> Response:
        body = valid_body(request, TransitionSerializer)
        move = {**body, "outcome": body.get("outcome") or ""}
        referral = services.referral_transition(referral_id=referral_id, user=request.user, ip=client_ip(request),
                                                **move)
        if not selectors.referrals_visible_to(user=request.user).filter(pk=referral.pk).exists():
            # Declining hands the referral on: the one who declined no longer sees it.
            return Response(HandedOnSerializer({"view": "handed_on", "id": referral.pk, "state": "declined"}).data)
        read = selectors.referral_read_after_write(user=request.user, referral=referral, ip=client_ip(request))
        return Response(referral_body(read))


# ------------------------------------------------------------------------- reporting


class ReportCsvRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=selectors.REPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(data.get("rows", []) if isinstance(data, dict) else [])
        return out.getvalue().encode()


class ReportQuerySerializer(serializers.Serializer):
    # "from" is a Python keyword: the field is named from_date and read from the query's "from".
    from_date = serializers.DateField(source="from")
    to = serializers.DateField()
    period = serializers.ChoiceField(choices=selectors.PERIODS, required=False, default="week")


class ReportRowSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    referrals = serializers.IntegerField()
    accepted = serializers.IntegerField()
    declined = serializers.IntegerField()
    accept_seconds_median = serializers.FloatField(allow_null=True)
    accept_seconds_p90 = serializers.FloatField(allow_null=True)
    outcome_resolved_on_scene = serializers.IntegerField()
    outcome_transported = serializers.IntegerField()
    outcome_referred_to_services = serializers.IntegerField()
    outcome_police_took_over = serializers.IntegerField()
    outcome_cancelled = serializers.IntegerField()
    diverted_from_arrest = serializers.IntegerField()


class ReportSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=["organisation", "agency"])
    name = serializers.CharField()
    start = serializers.DateField(help_text="The `from` asked for.")
    end = serializers.DateField(help_text="The `to` asked for.")
    period = serializers.CharField()
    rows = ReportRowSerializer(many=True)


class ReferralReportView(V1View):
    """Referrals, accept times (median, p90), outcomes and diversions from arrest per day, week or month.

    A health-department coordinator gets its organisation's; an analyst or supervisor their agency's.
    `?format=csv` answers the rows as CSV.
    """

    renderer_classes = [renderers.JSONRenderer, ReportCsvRenderer]

    @extend_schema(parameters=[
        OpenApiParameter("from", str, required=True, description="First day, YYYY-MM-DD (local time)."),
        OpenApiParameter("to", str, required=True, description="Last day, included."),
        OpenApiParameter("period", str, required=False, enum=list(selectors.PERIODS)),
        OpenApiParameter("format", str, required=False, enum=["json", "csv"]),
    ], responses={(200, "application/json"): ReportSerializer,
                  (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The rows, one a period, with a "
                                                     "header line of REPORT_COLUMNS (`?format=csv` or Accept).")},
        operation_id="referrals_report")
    def get(self, request: AuthedRequest) -> Response:
        raw = {"from_date": request.query_params.get("from"), "to": request.query_params.get("to"),
               **({"period": request.query_params["period"]} if "period" in request.query_params else {})}
        query = ReportQuerySerializer(data={k: v for k, v in raw.items() if v is not None})
        if not query.is_valid():
            errors = {("from" if k == "from_date" else k): v for k, v in query.errors.items()}
            raise serializers.ValidationError(errors)
        q = query.validated_data
        report = selectors.referral_report_for_user(user=request.user, start=q["from"], end=q["to"],
                                                    period=q["period"], ip=client_ip(request))
        response = Response(ReportSerializer(report).data)
        if request.accepted_renderer.format == "csv":
            name = f"referrals-{report.side}-{report.start.isoformat()}-{report.end.isoformat()}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # DRF answers an unknown ?format= with 404; it is a bad parameter of a known resource.
        try:
            return super().perform_content_negotiation(request, force)
        except Http404 as exc:
            raise serializers.ValidationError({"format": ["json or csv"]}) from exc

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # Errors answer in the one JSON shape, whatever format was asked for.
        if getattr(response, "status_code", 200) >= 400:
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

