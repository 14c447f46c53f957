"""Sensor webhooks (gunshot detection, licence plate readers, video analytics) and the analysts' side of them.

Protocol, schemas and the signature scheme: docs/sensors.md. The webhooks take
no bearer token: each request is signed with its source's own secret
(X-RTCC-Timestamp, X-RTCC-Signature) and checked before anything is parsed or
stored. Alerts are read by the agency's officers, analysts and supervisors;
hot lists and plate-read searches are the analysts' and supervisors'.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from apps.common.errors import ValidationFailed
from apps.common.jsonbody import JsonBodyError, json_loads_bounded
from apps.media.links import media_link_user, media_token_make, media_token_read
from apps.sensors import selectors, services
from apps.sensors.models import Alert, HotList, HotListEntry, PlateRead, SensorSource
from mobile_api.v1.base import AuthedRequest, V1View, client_ip, parse_time
from mobile_api.v1.media import media_file_response, presented_session
from mobile_api.v1.throttles import FailOpen

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


class AlprGroupSerializer(serializers.Serializer):
    """The OpenALPR / Rekor Scout `alpr_group` webhook (version 2): the fields we use; others are ignored.

    The schema for the OpenAPI contract; requests are checked by `_alpr_group` below, to the same rules.
    """

    data_type = serializers.ChoiceField(choices=["alpr_group"])
    best_uuid = serializers.CharField(max_length=100, help_text="The event id: a resend is recognised by it.")
    epoch_start = serializers.IntegerField(min_value=0, help_text="When the plate was first seen, Unix ms.")
    best_plate_number = serializers.CharField(max_length=20)
    best_confidence = serializers.FloatField(required=False, min_value=0, max_value=100)
    best_region = serializers.CharField(required=False, allow_blank=True, max_length=10, default="")
    best_region_confidence = serializers.FloatField(required=False, min_value=0, max_value=100, default=0)
    gps_latitude = serializers.FloatField(required=False, min_value=-90, max_value=90, allow_null=True)
    gps_longitude = serializers.FloatField(required=False, min_value=-180, max_value=180, allow_null=True)
    is_preview = serializers.BooleanField(required=False, default=False)
    web_server_config = serializers.DictField(required=False)
    vehicle = serializers.DictField(required=False, help_text="color, make, make_model, body_type: lists of "
                                                              "{name, confidence}, best first; the first is kept.")
    # Read by _image() below, not here: CharField's validators walk the ~10 KB of base64 a character at a time.
    vehicle_crop_jpeg = serializers.JSONField(required=False, help_text="Base64 JPEG of the vehicle.")


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
                                   help_text="The camera's external id in our registry, if it is there.")
    rule = serializers.CharField(max_length=80)
    object_class = serializers.CharField(max_length=40)
    confidence = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True, default=None)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True, default=None)
    longitude = serializers.FloatField(min_value=-180, max_value=180, required=False, allow_null=True,
                                       default=None)
    snapshot_jpeg = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                          help_text="Base64 JPEG, PNG or WebP; checked by the photo pipeline.")


class IngestedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "heartbeat"])
    id = serializers.IntegerField(allow_null=True, help_text="The plate read, alert or heartbeat stored.")
    alert_ids = serializers.ListField(child=serializers.IntegerField())


class SourceThrottle(FailOpen, SimpleRateThrottle):
    """SENSOR_THROTTLE_RATE per source, counted only for requests whose signature checked out,
    so nobody can use up a source's allowance without its secret.

    A counter that starts with a source's first request and lasts the rate's period, not DRF's
    sliding window: that one keeps a list of every request's time in the cache and reads and writes
    it whole on each request, up to 6,000 pickled floats per plate read at the default rate.
    """

    def __init__(self, source_id: int) -> None:
        self.source_id = source_id
        self.rate = settings.SENSOR_THROTTLE_RATE
        allowed, period = self.parse_rate(self.rate)
        if allowed is None or period is None:
            raise ImproperlyConfigured("RTCC_SENSOR_THROTTLE_RATE must be a rate such as 6000/min.")
        self.num_requests, self.duration = allowed, period

    def get_cache_key(self, request: Request, view: Any) -> str:
        return f"throttle_sensor_{self.source_id}"

    def allow_request(self, request: Request, view: Any) -> bool:
        key = self.get_cache_key(request, view)
        if self.cache.add(key, 1, timeout=self.duration):
            return True
        try:
            count = self.cache.incr(key)
        except ValueError:  # the period ended between the two calls: this request opens the next one
            self.cache.add(key, 1, timeout=self.duration)
            return True
        return bool(count <= self.num_requests)

    def wait(self) -> float:
        # The counter's age is not kept: at most a whole period.
        return float(self.duration)


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


class _Fields:
    """Explicit checks of a webhook body's fields, every problem collected and named as a serializer would.

    For the ALPR webhook, which cameras call several times a second: a DRF serializer, deep-copying its
    fields for every body, cost about 0.3 ms of CPU a read, a fifth of the request; these checks 7 µs.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, list[str]] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def text(self, name: str, *, max_length: int, required: bool = True) -> str:
        value = self.data.get(name)
        if value is None:
            if name in self.data:
                self.fail(name, "This field may not be null.")
            elif required:
                self.fail(name, "This field is required.")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(name, "Not a valid string.")
            return ""
        text = str(value).strip()
        if required and not text:
            self.fail(name, "This field may not be blank.")
        elif len(text) > max_length:
            self.fail(name, f"Ensure this field has no more than {max_length} characters.")
        return text

    def number(self, name: str, *, low: float, high: float, nullable: bool = False) -> float | None:
        """An optional number within [low, high]; None when absent (or null, where that is allowed)."""
        value = self.data.get(name)
        if value is None:
            if name in self.data and not nullable:
                self.fail(name, "This field may not be null.")
            return None
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            self.fail(name, "A valid number is required.")
            return None
        if not low <= number <= high:
            self.fail(name, f"Ensure this value is between {low:g} and {high:g}.")
            return None
        return number

    def whole(self, name: str, *, low: int) -> int:
        value = self.data.get(name)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "This field is required." if value is None else "A valid integer is required.")
            return 0
        if value < low:
            self.fail(name, f"Ensure this value is greater than or equal to {low}.")
        return value

    def flag(self, name: str) -> bool:
        """false when absent; the spellings DRF's BooleanField accepts ("true", 1, "yes", ...)."""
        value = self.data.get(name, False)
        if isinstance(value, bool | int | str):
            if value in serializers.BooleanField.TRUE_VALUES:
                return True
            if value in serializers.BooleanField.FALSE_VALUES:
                return False
        self.fail(name, "Must be a valid boolean.")
        return False

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if value is None:
            if name in self.data:
                self.fail(name, "This field may not be null.")
            return {}
        if not isinstance(value, dict):
            self.fail(name, "Expected a dictionary of items.")
            return {}
        return value

    def check(self) -> None:
        if self.errors:
            raise ValidationFailed("Some fields are missing or wrong.", code="invalid", fields=self.errors)


@dataclass(frozen=True)
class _AlprGroup:
    event_id: str
    plate: str
    read_at: datetime
    is_preview: bool
    confidence: float | None
    region: str
    region_confidence: float
    latitude: float | None
    longitude: float | None
    camera_label: str
    vehicle: dict[str, str]
    crop: str


def _alpr_group(data: dict[str, Any]) -> _AlprGroup:
    """An `alpr_group` body checked field by field, to AlprGroupSerializer's rules, or 400 naming the fields."""
    fields = _Fields(data)
    if data.get("data_type") != "alpr_group":
        fields.fail("data_type", 'Must be "alpr_group" (or "heartbeat").')
    event_id = fields.text("best_uuid", max_length=100)
    epoch_ms = fields.whole("epoch_start", low=0)
    plate = fields.text("best_plate_number", max_length=20)
    confidence = fields.number("best_confidence", low=0, high=100)
    region = fields.text("best_region", max_length=10, required=False)
    region_confidence = fields.number("best_region_confidence", low=0, high=100) or 0.0
    latitude = fields.number("gps_latitude", low=-90, high=90, nullable=True)
    longitude = fields.number("gps_longitude", low=-180, high=180, nullable=True)
    is_preview = fields.flag("is_preview")
    config = fields.mapping("web_server_config")
    vehicle = fields.mapping("vehicle")
    fields.check()
    crop = _image(data, "vehicle_crop_jpeg")
    try:
        read_at = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValidationFailed("Some fields are missing or wrong.", code="invalid",
                               fields={"epoch_start": ["Not a time we can read."]}) from exc
    return _AlprGroup(
        event_id=event_id, plate=plate, read_at=read_at, is_preview=is_preview, confidence=confidence,
        region=region, region_confidence=region_confidence, latitude=latitude, longitude=longitude,
        camera_label=str(config.get("camera_label", "")),
        vehicle={"color": _top(vehicle.get("color")), "make": _top(vehicle.get("make")),
                 "model": _top(vehicle.get("make_model")), "body_type": _top(vehicle.get("body_type"))},
        crop=crop)


def _valid(serializer_class: type[serializers.Serializer], data: dict[str, Any]) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _time(value: str, field: str) -> datetime:
    parsed = parse_time(value, field)
    if parsed is None:
        raise exceptions.ValidationError({field: ["Required."]})
    return parsed


def _image(data: dict[str, Any], field: str) -> str:
    value = data.get(field) or ""
    if not isinstance(value, str):
        raise ValidationFailed("Send the image as a base64 string.", code="invalid", fields={field: ["not a string"]})
    return value


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


class _WebhookView(V1View):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []  # per source, after the signature (SourceThrottle)
    content_negotiation_class = _JsonAnswers
    kind = ""

    def ingest(self, source: SensorSource, data: dict[str, Any]) -> services.Ingested:
        raise NotImplementedError

    def handle_post(self, request: Request, key: str) -> Response:
        # The raw body, read before anything parses it: it is what the signature covers.
        body = request.body
        source = services.sensor_request_verify(
            kind=self.kind, key=key, timestamp=request.META.get("HTTP_X_RTCC_TIMESTAMP", ""),
            signature=request.META.get("HTTP_X_RTCC_SIGNATURE", ""), body=body)
        throttle = SourceThrottle(source.pk)
        if not throttle.allow_request(request, self):
            raise exceptions.Throttled(throttle.wait())
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


class AlprWebhookView(_WebhookView):
    """An OpenALPR / Rekor Scout agent posts each `alpr_group` (and its heartbeats) here.

    202: stored and matched against the agency's hot lists (a hit raises an alert);
    200: this event id was received before, nothing changed. 401: unsigned, stale,
    replayed or not this source's signature; nothing is stored. 429: the source is
    over its rate; resend later, the events already accepted are kept.
    """

    kind = SensorSource.Kind.ALPR

    def ingest(self, source: SensorSource, data: dict[str, Any]) -> services.Ingested:
        read = _alpr_group(data)
        if read.is_preview:
            # A preview precedes the final group with the same plate: only the final one counts.
            return services.Ingested(status="heartbeat", id=None)
        sure_of_region = read.region_confidence >= settings.SENSOR_REGION_MIN_CONFIDENCE
        return services.plate_read_ingest(
            source=source, event_id=read.event_id, plate=read.plate, region=read.region if sure_of_region else "",
            confidence=read.confidence, read_at=read.read_at, latitude=read.latitude, longitude=read.longitude,
            camera_label=read.camera_label, vehicle=read.vehicle, snapshot_b64=read.crop)

    @extend_schema(request=AlprGroupSerializer, responses={200: IngestedSerializer, 202: IngestedSerializer},
                   parameters=[KEY_PARAM, *SIGNATURE_HEADERS], auth=[], operation_id="sensors_webhook_alpr")
    def post(self, request: Request, key: str) -> Response:
        return self.handle_post(request, key)


class GunshotWebhookView(_WebhookView):
    """A gunshot detection service posts each detection (and heartbeats) here.

    A detection becomes an alert at once; then a call is raised (or an open one
    nearby joined), its briefing drafted, and the units nearby told. Answers as
    the ALPR webhook does.
    """

    kind = SensorSource.Kind.GUNSHOT

    def ingest(self, source: SensorSource, data: dict[str, Any]) -> services.Ingested:
        shot = _valid(GunshotEventSerializer, data)
        return services.gunshot_ingest(
            source=source, event_id=shot["event_id"], occurred_at=_time(shot["occurred_at"], "occurred_at"),
            latitude=shot["latitude"], longitude=shot["longitude"], rounds=shot["rounds"],
            confidence=shot["confidence"], sensor_count=shot["sensor_count"], address=shot["address"],
            classification=shot["classification"])

    @extend_schema(request=GunshotEventSerializer, responses={200: IngestedSerializer, 202: IngestedSerializer},
                   parameters=[KEY_PARAM, *SIGNATURE_HEADERS], auth=[], operation_id="sensors_webhook_gunshot")
    def post(self, request: Request, key: str) -> Response:
        return self.handle_post(request, key)


class AnalyticsWebhookView(_WebhookView):
    """A video analytics server posts each rule that fired (and heartbeats) here; analysts see the alert."""

    kind = SensorSource.Kind.VIDEO_ANALYTICS

    def ingest(self, source: SensorSource, data: dict[str, Any]) -> services.Ingested:
        event = _valid(AnalyticsEventSerializer, data)
        return services.analytics_ingest(
            source=source, event_id=event["event_id"], occurred_at=_time(event["occurred_at"], "occurred_at"),
            rule=event["rule"], object_class=event["object_class"], confidence=event["confidence"],
            camera_external_id=event["camera"], latitude=event["latitude"], longitude=event["longitude"],
            snapshot_b64=event["snapshot_jpeg"])

    @extend_schema(request=AnalyticsEventSerializer, responses={200: IngestedSerializer, 202: IngestedSerializer},
                   parameters=[KEY_PARAM, *SIGNATURE_HEADERS], auth=[], operation_id="sensors_webhook_analytics")
    def post(self, request: Request, key: str) -> Response:
        return self.handle_post(request, key)


# --- Alerts -----------------------------------------------------------------------------------------------


class SourceBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = SensorSource
        fields = ["id", "name", "kind"]


class AlertEntrySerializer(serializers.ModelSerializer):
    hot_list_id = serializers.IntegerField()
    hot_list_name = serializers.CharField(source="hot_list.name")
    hot_list_kind = serializers.CharField(source="hot_list.kind")
    bolo_id = serializers.SerializerMethodField(help_text="The BOLO whose plate this is (GET /bolos/{id}), if any.")

    class Meta:
        model = HotListEntry
        fields = ["id", "plate", "plate_normalized", "region", "description", "case_number", "hot_list_id",
                  "hot_list_name", "hot_list_kind", "needs_correction", "bolo_id"]

    def get_bolo_id(self, entry: HotListEntry) -> int | None:
        bolo = getattr(entry, "bolo", None)  # the reverse one-to-one of apps.bolos.models.Bolo.hot_list_entry
        return bolo.pk if bolo is not None else None


def alert_snapshot_link(request: Request, alert_id: int) -> str:
    """A link to an alert's snapshot, for the asking device session only, valid MEDIA_LINK_SECONDS.

    It stops working when that session ends, its device is revoked or its user loses sight
    of the alert, whichever is first (apps.media.links), as photo and clip links do.
    """
    token = media_token_make(kind="snapshot", object_id=alert_id, session_id=request.auth.pk, variant="snapshot")
    return request.build_absolute_uri(reverse("v1:sensor-alert-snapshot", kwargs={"token": token}))


# context["request"]: the signed-in request a snapshot link is made for.
class AlertSerializer(serializers.ModelSerializer):
    source = SourceBriefSerializer()  # type: ignore[assignment]
    call_id = serializers.IntegerField(allow_null=True)
    hot_list_entry = AlertEntrySerializer(allow_null=True)
    state_changed_by = serializers.IntegerField(source="state_changed_by_id", allow_null=True)
    has_snapshot = serializers.SerializerMethodField()
    snapshot_url = serializers.SerializerMethodField(
        help_text="Signed link to the snapshot (JPEG, Range supported), for this device session only and for "
                  "RTCC_MEDIA_LINK_SECONDS; null when the alert has none.")

    class Meta:
        model = Alert
        fields = ["id", "kind", "state", "priority", "occurred_at", "received_at", "latitude", "longitude",
                  "source", "call_id", "match_type", "detail", "hot_list_entry", "state_changed_by",
                  "state_changed_at", "state_reason", "has_snapshot", "snapshot_url"]

    def get_has_snapshot(self, alert: Alert) -> bool:
        return bool(alert.snapshot)

    def get_snapshot_url(self, alert: Alert) -> str | None:
        return alert_snapshot_link(self.context["request"], alert.pk) if alert.snapshot else None


class NearbyUnitSerializer(serializers.Serializer):
    call_sign = serializers.CharField()
    distance_m = serializers.IntegerField()


class AlertCameraSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    distance_m = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()


class AlertDetailSerializer(AlertSerializer):
    cameras = AlertCameraSerializer(many=True, help_text="The nearest cameras the owners share for its call.")
    units_nearby = NearbyUnitSerializer(many=True)
    prior_gunfire = serializers.IntegerField(help_text="Earlier gunshot detections around this spot this year.")

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "cameras", "units_nearby", "prior_gunfire"]


class AlertPageSerializer(serializers.Serializer):
    results = AlertSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class AlertVerifySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=[Alert.State.CONFIRMED, Alert.State.FALSE])
    reason = serializers.CharField(max_length=500, help_text="What it was checked against, or why it is false.")


def _alert_body(request: Request, alert: Alert) -> dict[str, Any]:
    units = []
    if alert.latitude is not None and alert.longitude is not None:
        units = [{"call_sign": u.call_sign, "distance_m": round(u.distance_m)} for u in selectors.units_near(
            agency_id=alert.agency_id, latitude=alert.latitude, longitude=alert.longitude,
            radius_m=settings.SENSOR_PUSH_RADIUS_M)]
    alert.cameras = selectors.alert_cameras(alert=alert)  # type: ignore[attr-defined]
    alert.units_nearby = units  # type: ignore[attr-defined]
    alert.prior_gunfire = (selectors.prior_gunfire(alert=alert)  # type: ignore[attr-defined]
                           if alert.kind == Alert.Kind.GUNSHOT else 0)
    return AlertDetailSerializer(alert, context={"request": request}).data


class AlertListView(V1View):
    """Your agency's sensor alerts, newest first: unverified ones to work, or those of one state or kind."""

    @extend_schema(parameters=[
        OpenApiParameter("state", str, required=False, enum=Alert.State.values),
        OpenApiParameter("kind", str, required=False, enum=Alert.Kind.values),
        OpenApiParameter("cursor", str, required=False, description="next_cursor from the previous page."),
        OpenApiParameter("size", int, required=False, description="Page size, 1-200 (default 50)."),
    ], responses=AlertPageSerializer, operation_id="sensor_alerts_list")
    def get(self, request: AuthedRequest) -> Response:
        query = request.query_params
        state, kind = query.get("state") or None, query.get("kind") or None
        if state and state not in Alert.State.values:
            raise ValidationFailed("Unknown state.", code="invalid", fields={"state": Alert.State.values})
        if kind and kind not in Alert.Kind.values:
            raise ValidationFailed("Unknown kind.", code="invalid", fields={"kind": Alert.Kind.values})
        size = query.get("size") or "50"
        if not size.isdigit():
            raise ValidationFailed("Size is a number.", code="invalid", fields={"size": ["1-200"]})
        page = selectors.alert_list_for_user(user=request.user, state=state, kind=kind,
                                             cursor=query.get("cursor") or None, size=int(size),
                                             ip=client_ip(request))
        alerts = AlertSerializer(page.items, many=True, context={"request": request}).data
        return Response({"results": alerts, "next_cursor": page.next_cursor})


class AlertDetailView(V1View):
    """One alert with what the analyst needs around it: the nearest shared cameras, units nearby, prior gunfire."""

    @extend_schema(responses=AlertDetailSerializer, operation_id="sensor_alerts_retrieve")
    def get(self, request: AuthedRequest, alert_id: int) -> Response:
        alert = selectors.alert_get_for_user(user=request.user, alert_id=alert_id, ip=client_ip(request))
        return Response(_alert_body(request, alert))


class AlertVerifyView(V1View):
    """Analysts and supervisors: confirm an alert against its source, or mark it false with the reason.

    A false plate hit flags its list entry for correction; the call's briefing
    and everyone the alert reached learn the new state.
    """

    @extend_schema(request=AlertVerifySerializer, responses=AlertDetailSerializer,
                   operation_id="sensor_alerts_verify")
    def post(self, request: AuthedRequest, alert_id: int) -> Response:
        data = AlertVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.alert_verify(alert_id=alert_id, user=request.user, state=data.validated_data["state"],
                              reason=data.validated_data["reason"], ip=client_ip(request))
        alert = selectors.alert_get_for_user(user=request.user, alert_id=alert_id, ip=client_ip(request))
        return Response(_alert_body(request, alert))


class AlertSnapshotFileView(V1View):
    """The JPEG of an alert's snapshot, through the signed link in the alert's `snapshot_url`.

    The same rules as photos_file and clips_file: 403 link_invalid (tampered, or a link to other
    media), link_expired, link_session_ended, link_not_yours; 404 alert_not_found when the link's
    user no longer sees the alert. The opening is audited. Range (206, 416) and If-Range.
    """

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY, (206, "image/jpeg"): OpenApiTypes.BINARY},
                   auth=[], operation_id="sensor_alerts_snapshot")
    def get(self, request: AuthedRequest, token: str) -> HttpResponseBase:
        claim = media_token_read(kind="snapshot", token=token)
        user = media_link_user(claim=claim, presented=presented_session(request))
        found = selectors.alert_snapshot_get(user=user, alert_id=claim.object_id, ip=client_ip(request))
        return media_file_response(request, name=found.name, content_type=found.content_type, digest=found.sha256)


# --- Hot lists --------------------------------------------------------------------------------------------


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
    class Meta:
        model = HotListEntry
        fields = ["id", "plate", "plate_normalized", "region", "description", "case_number", "expires_at",
                  "needs_correction", "correction_note", "created_at"]


class EntryWriteSerializer(serializers.Serializer):
    plate = serializers.CharField(max_length=20)
    region = serializers.CharField(max_length=10, required=False, allow_blank=True, default="",
                                   help_text="State or province, e.g. WA; empty matches a read of any state.")
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    case_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class EntryPageSerializer(serializers.Serializer):
    results = EntrySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class HotListListView(V1View):
    """Analysts and supervisors: the agency's hot lists, and new ones."""

    @extend_schema(responses=HotListSerializer(many=True), operation_id="hot_lists_list")
    def get(self, request: AuthedRequest) -> Response:
        lists = selectors.hot_list_list_for_user(user=request.user, ip=client_ip(request))
        return Response(HotListSerializer(lists, many=True).data)

    @extend_schema(request=HotListWriteSerializer, responses={201: HotListSerializer},
                   operation_id="hot_lists_create")
    def post(self, request: AuthedRequest) -> Response:
        data = HotListWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hot_list = services.hot_list_create(user=request.user, values=dict(data.validated_data),
                                            ip=client_ip(request))
        return Response(HotListSerializer(hot_list).data, status=status.HTTP_201_CREATED)


class HotListView(V1View):
    """One hot list: read, change (name, reason, expiry, enabled, ...) or delete with its entries."""

    @extend_schema(responses=HotListSerializer, operation_id="hot_lists_retrieve")
    def get(self, request: AuthedRequest, hot_list_id: int) -> Response:
        hot_list = selectors.hot_list_get_for_user(user=request.user, hot_list_id=hot_list_id, ip=client_ip(request))
        return Response(HotListSerializer(hot_list).data)

    @extend_schema(request=HotListWriteSerializer(partial=True), responses=HotListSerializer,
                   operation_id="hot_lists_update")
    def patch(self, request: AuthedRequest, hot_list_id: int) -> Response:
        data = HotListWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        hot_list = services.hot_list_update(user=request.user, hot_list_id=hot_list_id,
                                            values=dict(data.validated_data), ip=client_ip(request))
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
        size = request.query_params.get("size") or "100"
        if not size.isdigit():
            raise ValidationFailed("Size is a number.", code="invalid", fields={"size": ["1-200"]})
        page = selectors.hot_list_entries_for_user(
            user=request.user, hot_list_id=hot_list_id, cursor=request.query_params.get("cursor") or None,
            size=int(size), needs_correction=None if flag is None else flag.lower() in ("1", "true", "yes"),
            ip=client_ip(request))
        return Response({"results": EntrySerializer(page.items, many=True).data, "next_cursor": page.next_cursor})

    @extend_schema(request=EntryWriteSerializer, responses={201: EntrySerializer},
                   operation_id="hot_list_entries_add")
    def post(self, request: AuthedRequest, hot_list_id: int) -> Response:
        data = EntryWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.hot_list_entry_add(user=request.user, hot_list_id=hot_list_id,
                                            entry=services.EntryIn(**data.validated_data), ip=client_ip(request))
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class HotListEntryView(V1View):
    @extend_schema(responses={204: None}, operation_id="hot_list_entries_remove")
    def delete(self, request: AuthedRequest, hot_list_id: int, entry_id: int) -> Response:
        """Take a plate off the list."""
        services.hot_list_entry_remove(user=request.user, hot_list_id=hot_list_id, entry_id=entry_id,
                                       ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Plate-read search ------------------------------------------------------------------------------------


class PlateReadSearchSerializer(serializers.Serializer):
    plate = serializers.CharField(max_length=20)
    region = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    purpose = serializers.CharField(max_length=300, help_text="Why you search: recorded on the audit trail.")
    case_number = serializers.CharField(max_length=40, help_text="The case this search is for.")
    confusable = serializers.BooleanField(required=False, default=False,
                                          help_text="Also reads that differ only by misread characters.")


class PlateReadSerializer(serializers.ModelSerializer):
    source = SourceBriefSerializer()  # type: ignore[assignment]

    class Meta:
        model = PlateRead
        fields = ["id", "plate", "region", "confidence", "read_at", "latitude", "longitude", "camera_label",
                  "vehicle", "has_hit", "source"]


class PlateReadSearchView(V1View):
    """Analysts and supervisors: where a plate was read (POST: plates stay out of URLs and logs).

    A purpose and a case number are required; both go on the audit trail with the plate.
    """

    @extend_schema(request=PlateReadSearchSerializer, responses=PlateReadSerializer(many=True),
                   operation_id="plate_reads_search")
    def post(self, request: AuthedRequest) -> Response:
        data = PlateReadSearchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reads = selectors.plate_read_search(user=request.user, ip=client_ip(request), **data.validated_data)
        return Response(PlateReadSerializer(reads, many=True).data)
