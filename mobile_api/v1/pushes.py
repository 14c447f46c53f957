"""Pushing briefings to an audience, and what became of each push, recipient by recipient.

Protocol of the events themselves: docs/delivery.md.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.briefings.services import briefing_push
from apps.cases.services import case_push
from apps.delivery import selectors, services
from apps.delivery.models import Delivery, Push
from mobile_api.v1.base import MAX_ID, AuthedRequest, V1View, client_ip, id_query, valid_body, valid_query


class AudienceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=services.AUDIENCE_KINDS,
                                   help_text="call (the officers on the call pushed), user, unit, role, beat, "
                                             "district, radius or agency.")
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                max_length=services.MAX_AUDIENCE_IDS, help_text="User or unit ids.")
    role = serializers.CharField(required=False, max_length=20, help_text="officer, supervisor or analyst.")
    value = serializers.CharField(required=False, max_length=40, help_text="The beat or district.")
    latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    radius_m = serializers.FloatField(required=False, min_value=1, max_value=services.MAX_RADIUS_M,
                                      help_text="Everyone whose device last reported a position inside.")


class PushRequestSerializer(serializers.Serializer):
    audience = AudienceSerializer()


class RecipientSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    name = serializers.SerializerMethodField()
    status = serializers.CharField(help_text="acknowledged, opened, delivered, failed or sent.")
    failure_text = serializers.SerializerMethodField(help_text="failure_reason in words, for people.")

    class Meta:
        model = Delivery
        fields = ["user_id", "username", "name", "status", "sent_at", "delivered_at", "opened_at",
                  "acknowledged_at", "alert_sent_at", "failed_at", "failure_reason", "failure_text"]

    def get_name(self, delivery: Delivery) -> str:
        return delivery.user.get_full_name() or delivery.user.username

    def get_failure_text(self, delivery: Delivery) -> str:
        return selectors.failure_text(delivery.failure_reason)


class CountsSerializer(serializers.Serializer):
    """Recipients per status."""

    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    failed = serializers.IntegerField()


class PushSerializer(serializers.ModelSerializer):
    sent_by = serializers.IntegerField(source="sent_by_id", allow_null=True)
    audience = AudienceSerializer(read_only=True, help_text="Whom the push was sent to, as asked.")
    counts = serializers.SerializerMethodField(help_text="Recipients per status.")
    status = serializers.SerializerMethodField(help_text="queued, no_recipients, waiting (nobody acknowledged "
                                                         "yet), partly_acknowledged or acknowledged. `state` only "
                                                         "says whether the recipients were worked out.")

    class Meta:
        model = Push
        fields = ["id", "type", "op", "object_type", "object_id", "call_id", "priority", "audience", "state",
                  "status", "sent_by", "created_at", "resolved_at", "escalate_at", "escalated_at", "counts"]

    def get_status(self, push: Push) -> str:
        return selectors.push_status(push=push, deliveries=self.context.get("recipients", {}).get(push.pk, []))

    @extend_schema_field(CountsSerializer)
    def get_counts(self, push: Push) -> dict[str, int]:
        counts = dict.fromkeys(("sent", "delivered", "opened", "acknowledged", "failed"), 0)
        for delivery in self.context.get("recipients", {}).get(push.pk, []):
            counts[delivery.status] += 1
        return counts


class PushDetailSerializer(PushSerializer):
    recipients = serializers.SerializerMethodField()

    class Meta(PushSerializer.Meta):
        fields = [*PushSerializer.Meta.fields, "recipients"]

    @extend_schema_field(RecipientSerializer(many=True))
    def get_recipients(self, push: Push) -> list[dict[str, Any]]:
        return RecipientSerializer(self.context["recipients"][push.pk], many=True).data  # type: ignore[return-value]


def _push_body(push: Push) -> dict[str, Any]:
    context = {"recipients": {push.pk: selectors.push_recipients(push=push)}}
    return PushDetailSerializer(push, context=context).data


def _audience(request: AuthedRequest) -> dict[str, Any]:
    """Who a push is for, from its request body (PushRequestSerializer)."""
    return dict(valid_body(request, PushRequestSerializer)["audience"])


class BriefingPushView(V1View):
    """Analysts and supervisors: send the call's current briefing to an officer, unit, role, beat or district,
    everyone within a radius, or the whole agency.

    Answers 202 at once; recipients are resolved in the background, each checked
    against who may read the briefing. Follow the push at /pushes/{id}.
    """

    @extend_schema(request=PushRequestSerializer, responses={202: PushDetailSerializer},
                   operation_id="briefings_push")
    def post(self, request: AuthedRequest, call_id: int) -> Response:
        push = briefing_push(call_id=call_id, pushed_by=request.user, audience=_audience(request),
                             ip=client_ip(request))
        return Response(_push_body(push), status=status.HTTP_202_ACCEPTED)


class CasePushView(V1View):
    """Analysts and supervisors: send a case file to an audience. Only recipients who may open the case
    get it; a restricted case reaches only the users named on it."""

    @extend_schema(request=PushRequestSerializer, responses={202: PushDetailSerializer}, operation_id="cases_push")
    def post(self, request: AuthedRequest, case_id: int) -> Response:
        push = case_push(case_id=case_id, pushed_by=request.user, audience=_audience(request), ip=client_ip(request))
        return Response(_push_body(push), status=status.HTTP_202_ACCEPTED)


class PushListView(V1View):
    """The pushes you sent (supervisors: all the agency's), newest first, with counts per status."""

    @extend_schema(parameters=[OpenApiParameter("call_id", int, required=False)],
                   responses=PushSerializer(many=True), operation_id="pushes_list")
    def get(self, request: AuthedRequest) -> Response:
        pushes = list(selectors.push_list_for_user(user=request.user, call_id=id_query(request, "call_id"))[:100])
        recipients: dict[int, list[Delivery]] = {push.pk: [] for push in pushes}
        for delivery in Delivery.objects.filter(push__in=pushes):
            recipients[delivery.push_id].append(delivery)
        return Response(PushSerializer(pushes, many=True, context={"recipients": recipients}).data)


class PushDetailView(V1View):
    """One push, recipient by recipient: sent, delivered, opened, acknowledged, or failed and why."""

    @extend_schema(responses=PushDetailSerializer, operation_id="pushes_get")
    def get(self, request: AuthedRequest, push_id: int) -> Response:
        return Response(_push_body(selectors.push_get_for_user(user=request.user, push_id=push_id)))


class ReceiptSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=services.RECEIPT_STATES)


class MyReceiptSerializer(serializers.Serializer):
    push_id = serializers.IntegerField()
    status = serializers.CharField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    opened_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class PendingPushSerializer(serializers.Serializer):
    push_id = serializers.IntegerField()
    type = serializers.CharField(help_text="briefing, escalation, referral, case, ...")
    op = serializers.CharField()
    priority = serializers.IntegerField()
    call_id = serializers.IntegerField(allow_null=True)
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    version = serializers.IntegerField(allow_null=True, help_text="The briefing version pushed, for briefings.")
    status = serializers.CharField(help_text="sent, delivered, opened or failed (never acknowledged here).")
    sent_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    opened_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField()


class MyPendingPushesView(V1View):
    """What was pushed to you and is waiting for your acknowledgement, newest first: the same on every device
    and after a restart, until you acknowledge it or it expires."""

    @extend_schema(responses=PendingPushSerializer(many=True), operation_id="me_pushes_pending")
    def get(self, request: AuthedRequest) -> Response:
        rows = [{"push_id": d.push_id, "type": d.push.type, "op": d.push.op, "priority": d.push.priority,
                 "call_id": d.push.call_id, "object_type": d.push.object_type, "object_id": d.push.object_id,
                 "version": d.push.payload.get("version") if isinstance(d.push.payload.get("version"), int) else None,
                 "status": d.status, "sent_at": d.sent_at, "delivered_at": d.delivered_at, "opened_at": d.opened_at,
                 "expires_at": d.push.expires_at}
                for d in selectors.deliveries_pending_for_user(user=request.user)]
        return Response(PendingPushSerializer(rows, many=True).data)


class PushReceiptView(V1View):
    """The recipient: I opened it, or I acknowledge it. Repeating a receipt changes nothing."""

    @extend_schema(request=ReceiptSerializer, responses=MyReceiptSerializer, operation_id="pushes_receipt")
    def post(self, request: AuthedRequest, push_id: int) -> Response:
        data = valid_body(request, ReceiptSerializer)
        delivery = services.delivery_receipt(user=request.user, push_id=push_id, state=data["state"],
                                             ip=client_ip(request))
        return Response(MyReceiptSerializer({
            "push_id": delivery.push_id, "status": delivery.status, "delivered_at": delivery.delivered_at,
            "opened_at": delivery.opened_at, "acknowledged_at": delivery.acknowledged_at}).data)


class StreamAckSerializer(serializers.Serializer):
    epoch = serializers.CharField(max_length=32)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_ID)


class StreamAckResultSerializer(serializers.Serializer):
    delivered = serializers.IntegerField(help_text="Deliveries newly marked delivered.")


class StreamAckView(V1View):
    """Everything on my stream up to this offset has reached this device (the same as a websocket ack)."""

    @extend_schema(request=StreamAckSerializer, responses=StreamAckResultSerializer, operation_id="stream_ack")
    def post(self, request: AuthedRequest) -> Response:
        data = valid_body(request, StreamAckSerializer)
        count = services.delivery_ack(user_id=request.user.pk, **data)
        return Response({"delivered": count})


class RecipientChoiceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["user", "unit", "beat", "district"], help_text="The audience kind.")
    label = serializers.CharField(  # type: ignore[assignment]
        help_text='What the analyst reads: "Omar Officer", "Unit 2A12", "Beat B1".')
    detail = serializers.CharField(help_text="Role and unit, the crew and beat, or how many units work the area.")
    id = serializers.IntegerField(allow_null=True, help_text="For user and unit: the id the audience takes.")
    value = serializers.CharField(allow_blank=True, help_text="For beat and district: the value the audience takes.")


class RecipientQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=60, default="")


class RecipientChoiceListView(V1View):
    """Analysts and supervisors: find whom to push to by name, badge, unit, beat or district.

    Each choice carries the audience it stands for (`{"kind": "unit", "ids": [id]}`, `{"kind": "beat",
    "value": value}`, ...). Only the agency's active officers, supervisors and analysts and its units.
    """

    @extend_schema(parameters=[OpenApiParameter("q", str, required=False, description="Part of a name, badge "
                                                "number, call sign, beat or district; empty: units on shift.")],
                   responses=RecipientChoiceSerializer(many=True), operation_id="push_recipients_search")
    def get(self, request: AuthedRequest) -> Response:
        query = valid_query(request, RecipientQuerySerializer)
        choices = selectors.recipient_choices_for_user(user=request.user, q=query["q"])
        return Response(RecipientChoiceSerializer(choices, many=True).data)
