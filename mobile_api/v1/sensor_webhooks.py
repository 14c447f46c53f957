"""Sensor webhooks: gunshot detection, licence plate readers, video analytics.

Protocol, schemas and the signature scheme: docs/sensors.md. The webhooks take
no bearer token: each request is signed with its source's own secret
(X-RTCC-Timestamp, X-RTCC-Signature) and checked before anything is parsed or
stored, and only then counted against the source's rate (SourceThrottle).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from pydantic import BeforeValidator, Field
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.errors import ValidationFailed
from apps.common.jsonbody import JsonBodyError, json_loads_bounded
from apps.sensors import services
from apps.sensors.models import SensorSource
from mobile_api.v1.base import V1View, parse_time
from mobile_api.v1.bodies import NUMBER, OPTIONAL_TEXT, TEXT, Body
from mobile_api.v1.throttles import SourceThrottle

logger = logging.getLogger(__name__)

SOURCE_KEY_PATTERN = r"[A-Za-z0-9_-]{1,40}"
KEY_PARAM = OpenApiParameter("key", str, OpenApiParameter.PATH, pattern=f"^{SOURCE_KEY_PATTERN}$",
                             description="The source's webhook key, given when the source was registered.")
SIGNATURE_HEADERS = [
    OpenApiParameter("X-RTCC-Timestamp", str, OpenApiParameter.HEADER, required=True,
                     description="Unix time (seconds) the request was signed at; within 5 minutes of ours."),
    OpenApiParameter("X-RTCC-Signature", str, OpenApiParameter.HEADER, required=True,
                     description='"v1=" + hex HMAC-SHA256(secret, timestamp + "." + raw body).'),
]
# What a heartbeat may say about its sender; anything else in it is dropped.
HEARTBEAT_FIELDS = ("agent_uid", "agent_version", "agent_type", "status", "queue_depth", "uptime_seconds")


# --- Webhook bodies ---------------------------------------------------------------------------------------


class AlprGroup(Body):
    """The OpenALPR / Rekor Scout `alpr_group` webhook (version 2): the fields we use; others are ignored.

    A pydantic model (mobile_api/v1/bodies.py), not a serializer: cameras post several times a second.
    """

    data_type: Literal["alpr_group"]
    best_uuid: Annotated[str, Field(max_length=100, description="The event id: a resend is recognised by it."), TEXT]
    epoch_start: Annotated[int, Field(ge=0, description="When the plate was first seen, Unix ms."), NUMBER]
    best_plate_number: Annotated[str, Field(max_length=20), TEXT]
    # Absent: not given. Sent as null: refused, as a number that may not be null.
    best_confidence: Annotated[float, Field(ge=0, le=100), NUMBER] = None  # type: ignore[assignment]
    best_region: Annotated[str, Field(max_length=10), OPTIONAL_TEXT] = ""
    best_region_confidence: Annotated[float, Field(ge=0, le=100), NUMBER] = 0.0
    gps_latitude: Annotated[float | None, Field(ge=-90, le=90), NUMBER] = None
    gps_longitude: Annotated[float | None, Field(ge=-180, le=180), NUMBER] = None
    is_preview: bool = False
    web_server_config: dict[str, Any] = Field(default_factory=dict)
    vehicle: dict[str, Any] = Field(default_factory=dict, description=(
        "color, make, make_model, body_type: lists of {name, confidence}, best first; the first is kept."))
    # Size-checked by the service on every read, decoded only on a hit; falsy values (agents send null) mean none.
    vehicle_crop_jpeg: Annotated[str, BeforeValidator(lambda value: value or ""), Field(
        strict=True, description="Base64 JPEG of the vehicle.")] = ""

    def read_at(self) -> datetime:
        try:
            return datetime.fromtimestamp(self.epoch_start / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValidationFailed.of_fields({"epoch_start": ["Not a time we can read."]}) from exc

    def camera_label(self) -> str:
        return str(self.web_server_config.get("camera_label", ""))

    def vehicle_guess(self) -> dict[str, str]:
        return {"color": _top(self.vehicle.get("color")), "make": _top(self.vehicle.get("make")),
                "model": _top(self.vehicle.get("make_model")), "body_type": _top(self.vehicle.get("body_type"))}


class GunshotEventSerializer(serializers.Serializer):
    """Our gunshot detection schema (docs/sensors.md "Gunshot event")."""

    data_type = serializers.ChoiceField(choices=["gunshot"])
    event_id = serializers.CharField(max_length=100)
    occurred_at = serializers.CharField(max_length=40, help_text="ISO 8601 with a time zone.")
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    rounds = serializers.IntegerField(min_value=1, max_value=1000)
    confidence = serializers.FloatField(min_value=0, max_value=1)
    sensor_count = serializers.IntegerField(min_value=1, max_value=1000)
    classification = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class AnalyticsEventSerializer(serializers.Serializer):
    """Our video-analytics schema (docs/sensors.md "Video-analytics event")."""

    data_type = serializers.ChoiceField(choices=["video_analytics"])
    event_id = serializers.CharField(max_length=100)
    occurred_at = serializers.CharField(max_length=40, help_text="ISO 8601 with a time zone.")
    camera = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                   source="camera_external_id",
                                   help_text="The camera's external id in our registry, if it is there.")
    rule = serializers.CharField(max_length=80)
    object_class = serializers.CharField(max_length=40)
    confidence = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True, default=None)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True, default=None)
    longitude = serializers.FloatField(min_value=-180, max_value=180, required=False, allow_null=True,
                                       default=None)
    snapshot_jpeg = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                          source="snapshot_b64",
                                          help_text="Base64 JPEG, PNG or WebP; checked by the photo pipeline.")


class IngestedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "heartbeat"])
    id = serializers.IntegerField(allow_null=True, help_text="The plate read, alert or heartbeat stored.")
    alert_ids = serializers.ListField(child=serializers.IntegerField())


def _json(body: bytes) -> dict[str, Any]:
    try:
        # utf-8-sig: OpenALPR agents (and Windows tools) may start the body with a byte-order mark.
        data = json_loads_bounded(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, JsonBodyError) as exc:
        logger.warning("Malformed sensor webhook body: %s", type(exc).__name__)
        raise ValidationFailed("The body is not JSON (or nests too deeply).", code="malformed_json") from None
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.", code="malformed_json")
    return data


def _event(serializer_class: type[serializers.Serializer], data: dict[str, Any]) -> dict[str, Any]:
    """One of our own event bodies, checked, as its ingest service takes it (keyword by keyword)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    event = dict(serializer.validated_data)
    del event["data_type"]
    occurred_at = parse_time(event["occurred_at"], "occurred_at")
    if occurred_at is None:
        raise exceptions.ValidationError({"occurred_at": ["Required."]})
    return {**event, "occurred_at": occurred_at}


def _top(choices: Any) -> str:
    """The engine's best guess from a list of {name, confidence}; anything else says nothing."""
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return str(choices[0].get("name", ""))[:40]
    return ""


class _JsonAnswers(BaseContentNegotiation):
    """A webhook answers JSON whatever its sender accepts: no Accept header to parse on every read."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class WebhookView(V1View):
    """Base of the webhooks: the signature first, then the source's rate, then the body."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [SourceThrottle]  # counts nothing until the signature named the source
    content_negotiation_class = _JsonAnswers
    kind = ""

    def ingest(self, source: SensorSource, data: dict[str, Any]) -> services.Ingested:
        raise NotImplementedError

    def post(self, request: Request, key: str) -> Response:
        # The raw body, read before anything parses it: it is what the signature covers.
        body = request.body
        source = services.sensor_request_verify(
            kind=self.kind, key=key, timestamp=request.META.get("HTTP_X_RTCC_TIMESTAMP", ""),
            signature=request.META.get("HTTP_X_RTCC_SIGNATURE", ""), body=body)
        request.sensor_source = source  # type: ignore[attr-defined]
        self.check_throttles(request)
        data = _json(body)
        if data.get("data_type") == "heartbeat":
            beat = services.sensor_heartbeat_record(
                source=source, detail={k: str(data[k])[:100] for k in HEARTBEAT_FIELDS if k in data})
            result = services.Ingested(status="heartbeat", id=beat.pk)
        else:
            result = self.ingest(source, data)
        code = status.HTTP_200_OK if result.status == "duplicate" else status.HTTP_202_ACCEPTED
        # IngestedSerializer documents the shape; three plain fields need no serializer to take it.
        return Response({"status": result.status, "id": result.id, "alert_ids": result.alert_ids}, status=code)


def _webhook(body: Any, operation_id: str) -> Any:
    """The OpenAPI operation of a webhook whose request body `body` describes."""
    return extend_schema_view(post=extend_schema(
        request=body, responses={200: IngestedSerializer, 202: IngestedSerializer},
        parameters=[KEY_PARAM, *SIGNATURE_HEADERS], auth=[], operation_id=operation_id))


@_webhook(AlprGroup, "sensors_webhook_alpr")
class AlprWebhookView(WebhookView):
    """An OpenALPR / Rekor Scout agent posts each `alpr_group` (and its heartbeats) here.

    202: stored and matched against the agency's hot lists (a hit raises an alert);
    200: this event id was received before, nothing changed. 401: unsigned, stale,
    replayed or not this source's signature; nothing is stored. 429: the source is
    over its rate; resend later, the events already accepted are kept.
    """

    kind = SensorSource.Kind.ALPR

    def ingest(self, source: SensorSource, data: dict[str, Any]) -> services.Ingested:
        read = AlprGroup.parse(data)
        if read.is_preview:
            # A preview precedes the final group with the same plate: only the final one counts.
            return services.Ingested(status="heartbeat", id=None)
        sure_of_region = read.best_region_confidence >= settings.SENSOR_REGION_MIN_CONFIDENCE
        return services.plate_read_ingest(
            source=source, event_id=read.best_uuid, plate=read.best_plate_number,
            region=read.best_region if sure_of_region else "",
            confidence=read.best_confidence, read_at=read.read_at(), latitude=read.gps_latitude,
            longitude=read.gps_longitude, camera_label=read.camera_label(), vehicle=read.vehicle_guess(),
            snapshot_b64=read.vehicle_crop_jpeg)


@_webhook(GunshotEventSerializer, "sensors_webhook_gunshot")
class GunshotWebhookView(WebhookView):
    """A gunshot detection service posts each detection (and heartbeats) here.

    A detection becomes an alert at once; then a call is raised (or an open one
    nearby joined), its briefing drafted, and the units nearby told. Answers as
    the ALPR webhook does.
    """

    kind = SensorSource.Kind.GUNSHOT

    def ingest(self, source: SensorSource, data: dict[str, Any]) -> services.Ingested:
        return services.gunshot_ingest(source=source, **_event(GunshotEventSerializer, data))


@_webhook(AnalyticsEventSerializer, "sensors_webhook_analytics")
class AnalyticsWebhookView(WebhookView):
    """A video analytics server posts each rule that fired (and heartbeats) here; analysts see the alert."""

    kind = SensorSource.Kind.VIDEO_ANALYTICS

    def ingest(self, source: SensorSource, data: dict[str, Any]) -> services.Ingested:
        return services.analytics_ingest(source=source, **_event(AnalyticsEventSerializer, data))
