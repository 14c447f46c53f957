"""Media: clip jobs (cut and transcode a clip from a camera or an upload), and the signed-link file doors.

Files are never served by URL of the storage: only through a signed link (apps.media.links) that
names the device session it was made for, answered here with HTTP Range support so phones can seek
in a clip and resume a photo on a flaky link.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from werkzeug.http import parse_range_header

from apps.accounts.models import DeviceSession
from apps.accounts.services import session_authenticate
from apps.common.intake import MULTIPART_OVERHEAD
from apps.media import selectors, services
from apps.media.errors import PayloadTooLarge
from apps.media.links import LinkClaim, media_link_user, media_token_make, media_token_read
from apps.media.models import ClipJob
from apps.media.selectors import DEFAULT_RENDITION
from mobile_api.errors import error_body
from mobile_api.parsers import MultiPartParser
from mobile_api.v1.base import MAX_ID, AuthedRequest, V1View, client_ip, valid_body, valid_query


def upload_size_check(request: HttpRequest, limit: int, size: int | None = None) -> None:
    """Refuse an upload over `limit` bytes: from Content-Length before the body is parsed, then by its file size."""
    if size is None:
        try:
            size = max(0, int(request.META.get("CONTENT_LENGTH") or 0) - MULTIPART_OVERHEAD)
        except ValueError:
            size = 0
    if size > limit:
        raise PayloadTooLarge(f"Uploads here are limited to {limit // (1024 * 1024)} MB.",
                              fields={"file": ["too large"]})


def valid_upload(request: Request, serializer_class: type[serializers.Serializer], limit: int) -> dict[str, Any]:
    """A multipart body checked by `serializer_class`, its `file` held to `limit` bytes: by Content-Length
    before the body is parsed, then by the file's own size."""
    upload_size_check(request, limit)
    data = valid_body(request, serializer_class)
    upload_size_check(request, limit, data["file"].size)
    return data


def presented_session(request: HttpRequest) -> DeviceSession | None:
    """The device session of a bearer token sent along with a signed link, if any (native players send one)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        return None
    return session_authenticate(token=token.strip())


class _Window:
    """Bytes [start, start + length) of an open file, read like a file; closing it closes the file."""

    def __init__(self, file: Any, start: int, length: int):
        if start:
            file.seek(start)
        self._file = file
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        chunk = self._file.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(chunk)
        return bytes(chunk)

    def close(self) -> None:
        self._file.close()


# What a file door reads and sends at a time under ASGI.
_CHUNK_BYTES = 64 * 1024


class _Chunks:
    """A window sent a chunk at a time, read off the event loop.

    `close` is there for Django: a response closed before its stream started (the phone went away)
    still closes the file.
    """

    def __init__(self, window: _Window):
        self._window = window

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await sync_to_async(self._window.read, thread_sensitive=False)(_CHUNK_BYTES):
                yield chunk
        finally:
            await sync_to_async(self.close, thread_sensitive=False)()

    def close(self) -> None:
        self._window.close()


def _range_applies(request: HttpRequest, etag: str) -> bool:
    # If-Range (RFC 9110 13.1.5): the range is for this exact file; any other validator gets the whole file.
    if_range = request.headers.get("If-Range")
    return if_range is None or if_range == etag


def media_file_response(request: HttpRequest, *, name: str, content_type: str, digest: str) -> HttpResponseBase:
    """A stored file, whole (200) or one byte range of it (206), never cached by anyone but its reader.

    Parsing of the Range header is werkzeug's (RFC 9110 14.2): one range is served as asked, several
    ranges are answered with the whole file (allowed, and what phones' players never ask for), and a
    range wholly past the end is 416 with the file's length.
    """
    size = default_storage.size(name)
    etag = f'"{digest[:32]}"'
    start, end, status = 0, size, 200
    header = request.headers.get("Range")
    if header and _range_applies(request, etag):
        asked = parse_range_header(header)
        if asked is not None and asked.units == "bytes":  # other units are ignored, as RFC 9110 allows
            window = asked.range_for_length(size)
            if window is not None:
                start, end, status = window[0], window[1], 206
            elif len(asked.ranges) == 1:
                refused = JsonResponse(error_body("range_not_satisfiable",
                                                  f"The file is {size} bytes; that range is outside it."),
                                       status=416)
                refused["Content-Range"] = f"bytes */{size}"
                refused["Cache-Control"] = "private, no-store"
                return refused
    body = _Window(default_storage.open(name, "rb"), start, end - start)
    response: FileResponse | StreamingHttpResponse
    if isinstance(getattr(request, "_request", request), ASGIRequest):
        # Under Daphne, Django reads a synchronous file response whole into memory before its first byte
        # goes out (a clip per phone that asks); an asynchronous one is sent as it is read.
        response = StreamingHttpResponse(_Chunks(body), status=status, content_type=content_type)
    else:
        response = FileResponse(body, status=status, content_type=content_type)
    response["Content-Length"] = str(end - start)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    # Case media must not sit in a shared proxy's cache nor in the phone's HTTP cache after the link expires.
    response["Cache-Control"] = "private, no-store"
    return response


class StoredFile(Protocol):
    """What a signed link opens (apps.media.selectors.MediaFile, apps.media.photos.PhotoFile)."""

    @property
    def name(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def sha256(self) -> str: ...


class SignedFileView(V1View):
    """Base of the doors that serve a file through a signed link (apps.media.links), with no bearer token.

    The link names its kind of media and the device session it was made for; the session, and its user's
    sight of the object, are checked again on every opening (file_get, which audits it). Range and If-Range.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    link_kind = ""

    def file_get(self, *, user: Any, claim: LinkClaim, ip: str | None) -> StoredFile:
        raise NotImplementedError

    def get(self, request: AuthedRequest, token: str) -> HttpResponseBase:
        claim = media_token_read(kind=self.link_kind, token=token)
        user = media_link_user(claim=claim, presented=presented_session(request))
        found = self.file_get(user=user, claim=claim, ip=client_ip(request))
        return media_file_response(request, name=found.name, content_type=found.content_type, digest=found.sha256)


def ranged(media_type: str) -> dict[tuple[int, str], Any]:
    """A file answered whole (200) or by byte range (206), for a signed file door's responses."""
    return {(200, media_type): OpenApiTypes.BINARY, (206, media_type): OpenApiTypes.BINARY}


def signed_file(operation_id: str, responses: dict[tuple[int, str], Any]) -> Any:
    """The OpenAPI operation of a SignedFileView: no security scheme (the link is the credential)."""
    return extend_schema_view(get=extend_schema(responses=responses, auth=[], operation_id=operation_id))


# ------------------------------------------------------------------ clip jobs


def clip_link(request: Request, job_id: int, variant: str) -> str:
    """A link to a clip's rendition or poster, for the asking device session only (apps.media.links)."""
    token = media_token_make(kind="clip", object_id=job_id, session_id=request.auth.pk, variant=variant)
    return request.build_absolute_uri(reverse("v1:clip-file", kwargs={"token": token}))


class RenditionSerializer(serializers.Serializer):
    name = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    has_audio = serializers.BooleanField()


class RenditionPlanSerializer(serializers.Serializer):
    name = serializers.CharField()
    made = serializers.BooleanField(help_text="False when it would have been the same size as a smaller one.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    reason = serializers.CharField(help_text="Why it has this size, or why it was not made.")


class ClipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    call_id = serializers.IntegerField()
    source = serializers.ChoiceField(choices=ClipJob.Source.choices)  # type: ignore[assignment]
    camera_id = serializers.IntegerField(allow_null=True)
    seconds = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ClipJob.State.choices)
    percent = serializers.IntegerField(help_text="0-100; 100 only once the files are stored.")
    stage = serializers.CharField(help_text="What the worker is doing: starting, opening, transcoding, ..., done.")
    cancel_requested = serializers.BooleanField()
    failure_code = serializers.CharField(help_text="Machine-readable, when failed: unreadable_source, no_video, "
                                                   "source_timeout, too_long, internal_error, ... or cancelled.")
    failure_reason = serializers.CharField()
    duration_s = serializers.FloatField(allow_null=True)
    preroll_s = serializers.FloatField(allow_null=True, help_text="Seconds before the request the clip starts "
                                                                  "with, from the camera's pre-roll; 0 if none.")
    renditions = RenditionSerializer(many=True)
    rendition_plan = RenditionPlanSerializer(many=True, help_text=(
        "Every rendition asked for, made or not, and why: never upscaled, and none made twice at one size."))
    rendition = serializers.CharField(allow_null=True, help_text="The rendition `url` opens: 360p unless asked.")
    url = serializers.CharField(allow_null=True, help_text="Signed link to the MP4 (moov first, plays while it "
                                                           "downloads; Range supported), once ready.")
    poster_url = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def clip_body(request: Request, job: ClipJob, rendition: str | None = None) -> dict[str, Any]:
    renditions = list(job.renditions.all())
    ready = job.state == ClipJob.State.READY
    names = {r.name for r in renditions}
    chosen = rendition or DEFAULT_RENDITION
    if chosen not in names and renditions:
        chosen = renditions[0].name  # a small source has no 720p (never upscaled); its smallest is what there is
    return {
        "id": job.pk, "call_id": job.call_id, "source": job.source, "camera_id": job.camera_id,
        "seconds": job.seconds, "state": job.state, "percent": job.percent, "stage": job.stage,
        "cancel_requested": job.cancel_requested, "failure_code": job.failure_code,
        "failure_reason": job.failure_reason, "duration_s": job.duration_s, "preroll_s": job.preroll_s,
        "renditions": [{"name": r.name, "width": r.width, "height": r.height, "size_bytes": r.size_bytes,
                        "has_audio": r.has_audio} for r in renditions],
        "rendition_plan": job.rendition_plan,
        "rendition": chosen if ready and renditions else None,
        "url": clip_link(request, job.pk, chosen) if ready and renditions else None,
        "poster_url": clip_link(request, job.pk, "poster") if ready and job.poster else None,
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
    }


class ClipCreateSerializer(serializers.Serializer):
    camera_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    seconds = serializers.IntegerField(min_value=1, max_value=60, default=20,
                                       help_text="The next N seconds of the camera, N <= 60.")


class ClipUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="An MP4, MOV, MKV, WebM or MPEG-TS video of at "
                                                                  "most 60 s (RTCC_MEDIA_CLIP_MAX_SECONDS).")


class RenditionQuerySerializer(serializers.Serializer):
    rendition = serializers.ChoiceField(choices=["360p", "720p"], required=False)


class CallClipListView(V1View):
    """Clips of a call. Analysts and supervisors ask for one from a camera near the call (live, next N s)."""

    @extend_schema(responses=ClipSerializer(many=True), operation_id="clips_list")
    def get(self, request: AuthedRequest, call_id: int) -> Response:
        jobs = selectors.clip_jobs_for_call(user=request.user, call_id=call_id, ip=client_ip(request))
        return Response(ClipSerializer([clip_body(request, job) for job in jobs], many=True).data)

    @extend_schema(request=ClipCreateSerializer, responses={202: ClipSerializer}, operation_id="clips_create")
    def post(self, request: AuthedRequest, call_id: int) -> Response:
        data = valid_body(request, ClipCreateSerializer)
        job = services.clip_job_create_from_camera(user=request.user, call_id=call_id, ip=client_ip(request),
                                                   **data)
        job = selectors.clip_job_get_for_user(user=request.user, job_id=job.pk, ip=client_ip(request))
        return Response(ClipSerializer(clip_body(request, job)).data, status=status.HTTP_202_ACCEPTED)


class CallClipUploadView(V1View):
    """A clip from an uploaded video (multipart, field `file`): probed at once, transcoded in the background."""

    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": ClipUploadSerializer}, responses={202: ClipSerializer},
                   operation_id="clips_upload")
    def post(self, request: AuthedRequest, call_id: int) -> Response:
        data = valid_upload(request, ClipUploadSerializer, settings.MEDIA_VIDEO_MAX_BYTES)
        job = services.clip_job_create_from_upload(user=request.user, call_id=call_id, ip=client_ip(request),
                                                   upload=data["file"])
        job = selectors.clip_job_get_for_user(user=request.user, job_id=job.pk, ip=client_ip(request))
        return Response(ClipSerializer(clip_body(request, job)).data, status=status.HTTP_202_ACCEPTED)


class ClipDetailView(V1View):
    """A clip job's state and progress; once ready, signed links to its MP4 (360p, or ?rendition=720p) and poster."""

    @extend_schema(parameters=[OpenApiParameter("rendition", str, required=False, enum=["360p", "720p"])],
                   responses=ClipSerializer, operation_id="clips_retrieve")
    def get(self, request: AuthedRequest, clip_id: int) -> Response:
        query = valid_query(request, RenditionQuerySerializer)
        job = selectors.clip_job_get_for_user(user=request.user, job_id=clip_id, ip=client_ip(request))
        return Response(ClipSerializer(clip_body(request, job, query.get("rendition"))).data)


class ClipCancelView(V1View):
    """Cancel a queued or running clip job; its temporary files are removed and no officer hears of it."""

    @extend_schema(request=None, responses=ClipSerializer, operation_id="clips_cancel")
    def post(self, request: AuthedRequest, clip_id: int) -> Response:
        services.clip_job_cancel(user=request.user, job_id=clip_id, ip=client_ip(request))
        job = selectors.clip_job_get_for_user(user=request.user, job_id=clip_id, ip=client_ip(request))
        return Response(ClipSerializer(clip_body(request, job)).data)


@signed_file("clips_file", {**ranged("video/mp4"), (200, "image/jpeg"): OpenApiTypes.BINARY})
class ClipFileView(SignedFileView):
    """The bytes of a clip rendition (video/mp4) or its poster (image/jpeg), through a signed link.

    Same rules as photos_file: 403 link_invalid, link_expired, link_session_ended, link_not_yours;
    404 clip_not_found when the user no longer sees the clip. Range (206, 416) for seeking.
    """

    link_kind = "clip"

    def file_get(self, *, user: Any, claim: LinkClaim, ip: str | None) -> StoredFile:
        return selectors.clip_file_get(user=user, job_id=claim.object_id, variant=claim.variant, ip=ip)
