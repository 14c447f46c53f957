"""Push alerts through FCM HTTP v1 (firebase-admin), for Android, iOS (APNs via FCM) and web.

What a push may say: the lock screen shows `push_title()` ("Priority 1 briefing") and nothing
else; the data carries the kind and opaque ids, and the app fetches the content over the
authenticated API. Logs name device ids, never registration tokens.

How firebase-admin 7.7.0 behaves, and what we do about it (read in its source):
- `messaging.send_each_async` sends one HTTP request per message, all at once (`asyncio.gather`),
  at most 500 per call, on an `httpx.AsyncClient` (HTTP/2 over TLS; HTTP/1.1 over plain http).
- That client's transport (`_retry.HttpxRetryTransport`, `DEFAULT_HTTPX_RETRY_CONFIG`) retries
  500 and 503 up to four times with backoff 0, 1, 2, 4 s and ignores Retry-After; 429 and
  timeouts are not retried. No app option changes that, so the messaging service gets a client
  without that transport (`_HttpClient`) and we retry here: Retry-After honoured for 429 and 503,
  500 retried `FCM_INTERNAL_RETRIES` times, all inside `FCM_RETRY_SECONDS`. One retry layer, not two.
- The timeout (app option `httpTimeout`, here `FCM_TIMEOUT_SECONDS`) is httpx's, for connect,
  read, write and pool wait alike; a hung endpoint ends in `DeadlineExceededError` (`timeout`
  here), not retried because FCM may already have taken the message. A send of n messages to a
  hung FCM returns within about ceil(n / 500) timeouts.
- The send URL is built once per service from `messaging._MessagingService.FCM_URL`; tests and
  bench point the service's `_fcm_url` at a local fake (settings.FCM_ENDPOINT) with a fixed-token
  credential. Nothing else differs from production.

An httpx client belongs to the event loop that opened its connections, so one background loop
per process owns the app and its connections (TLS and the OAuth token are reused across sends);
`push_send` hands its batch to it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

import firebase_admin
import google.oauth2.credentials
import httpx
from django.conf import settings
from firebase_admin import _http_client, credentials, exceptions, messaging

from apps.accounts.models import Device

logger = logging.getLogger(__name__)

T = TypeVar("T")

# FCM's own limit for one send_each call.
BATCH_SIZE = 500
# Requests in flight per process; the rest of a batch waits its turn, within the timeout. Over HTTP/2
# (Google) they share one connection (Google allows 100 streams on it). Over HTTP/1.1 (the local fake)
# each holds a connection of its own, and httpcore's pool walks every connection, and every queued
# request, each time a request starts or ends: 500 requests handed to 100 connections cost 3-4 ms CPU
# each, 270 a second at best. Against the fake on this 2-core machine 4 in flight sent 840 a second,
# 8 sent 690, 2 sent 690 (the fake then idles between requests).
MAX_IN_FLIGHT_HTTP2 = 100
MAX_IN_FLIGHT_HTTP1 = 4
KINDS = ("briefing", "case", "clip", "referral", "alert", "escalation")
# FCM keeps a message at most four weeks.
MAX_TTL_SECONDS = 28 * 24 * 3600
# FCM's documented advice for QUOTA_EXCEEDED without a Retry-After: wait at least a minute.
QUOTA_DEFAULT_RETRY_S = 60.0
# A bound on retry rounds, whatever the budget: a misbehaving FCM cannot keep us looping.
MAX_ROUNDS = 6

# Errors that mean the registration token is dead: the device's token is cleared.
TOKEN_DEAD = frozenset({"unregistered", "sender_id_mismatch", "invalid_token"})

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# What FCM has been seen to answer for a malformed token without a field violation
# (firebase/firebase-admin-java#1064); the field violation on message.token is the primary signal.
_INVALID_TOKEN_MESSAGE = "The registration token is not a valid FCM registration token"  # noqa: S105
_FIXED_TOKEN = "rtcc-local-fcm"  # noqa: S105 (the fake accepts any bearer token; this is not a secret)

# Data values are ids, offsets, epochs: no spaces, nothing that reads as text.
_DATA_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_DATA_VALUE = re.compile(r"^[A-Za-z0-9_.:+-]{0,128}$")
_COLLAPSE_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# A Web Push "Topic" header: at most 32 characters of the URL-safe base64 alphabet (RFC 8030 5.4).
_WEB_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class PushMessage:
    device_id: int
    token: str
    platform: str          # Device.Platform: android, ios, web
    title: str             # push_title(priority=..., kind=...), nothing else
    kind: str              # one of KINDS
    object_id: str         # opaque id the app fetches over the API
    priority: int          # call priority, 1 = highest
    visible: bool          # user-visible alert (vs data-only wake-up)
    collapse_key: str      # one per call, e.g. "call-123"
    ttl_seconds: int       # bounded by the call's life, computed by the caller
    data: dict[str, str]   # ids only (push id, offset, epoch)


@dataclass(frozen=True)
class PushOutcome:
    device_id: int
    ok: bool
    message_id: str | None
    # Machine-readable: unregistered, sender_id_mismatch, invalid_token, invalid_argument,
    # quota_exceeded, unavailable, internal, timeout, unauthenticated, third_party_auth_error,
    # unknown, no_token, push_disabled.
    error: str | None
    token_removed: bool
    retry_after_s: float | None  # for a retryable failure: when the caller may try again


def push_title(*, priority: int, kind: str) -> str:
    """The only text a notification ever shows: safe on a lock screen."""
    if kind not in KINDS:
        raise ValueError(f"unknown push kind {kind!r}")
    if not 1 <= priority <= 9:
        raise ValueError(f"priority must be 1-9, got {priority}")
    return f"Priority {priority} {kind}"


# --- configuration ---

@dataclass(frozen=True)
class _Config:
    project_id: str
    credentials_file: str
    endpoint: str
    timeout_s: int
    retry_budget_s: float
    internal_retries: int


def _config() -> _Config | None:
    if not settings.FCM_PROJECT_ID or not (settings.FCM_ENDPOINT or settings.FCM_CREDENTIALS_FILE):
        return None
    return _Config(project_id=settings.FCM_PROJECT_ID, credentials_file=settings.FCM_CREDENTIALS_FILE,
                   endpoint=settings.FCM_ENDPOINT.rstrip("/"), timeout_s=settings.FCM_TIMEOUT_SECONDS,
                   retry_budget_s=float(settings.FCM_RETRY_SECONDS), internal_retries=settings.FCM_INTERNAL_RETRIES)


class FixedTokenCredential(credentials.Base):
    """A credential that presents a fixed bearer token: for a local FCM fake, no service account."""

    def __init__(self, token: str = _FIXED_TOKEN) -> None:
        self._credential = google.oauth2.credentials.Credentials(token=token)

    def get_credential(self) -> google.oauth2.credentials.Credentials:
        return self._credential


# --- building messages, one section per platform ---

def _check(message: PushMessage) -> None:
    """Refuse anything that could carry case data or that FCM would refuse; names fields, never values."""
    if message.title != push_title(priority=message.priority, kind=message.kind):
        raise ValueError(f"push title for device {message.device_id} must be push_title(priority, kind)")
    if not _DATA_VALUE.match(message.object_id):
        raise ValueError("object_id must be an opaque id")
    if not _COLLAPSE_KEY.match(message.collapse_key):
        raise ValueError("collapse_key must be 1-64 characters of [A-Za-z0-9_.:-]")
    if message.ttl_seconds < 0:
        raise ValueError("ttl_seconds must not be negative")
    if message.platform not in Device.Platform.values:
        raise ValueError(f"unknown platform {message.platform!r}")
    for key, value in message.data.items():
        if not _DATA_KEY.match(key) or not isinstance(value, str) or not _DATA_VALUE.match(value):
            raise ValueError(f"push data {key!r} must be an id (no text)")


def _urgent(message: PushMessage) -> bool:
    # High priority wakes a dozing phone and costs battery; only a visible priority-1 alert earns it.
    return message.visible and message.priority == 1


def _android(message: PushMessage, ttl: int) -> messaging.AndroidConfig:
    notification = None
    if message.visible:
        notification = messaging.AndroidNotification(
            visibility="secret",             # nothing of it on a secure lock screen
            tag=message.collapse_key,        # a newer alert for the same call replaces the older
            priority="max" if message.priority == 1 else "default",
        )
    return messaging.AndroidConfig(collapse_key=message.collapse_key, priority="high" if _urgent(message) else "normal",
                                   ttl=timedelta(seconds=ttl), notification=notification)


def _apns(message: PushMessage, ttl: int) -> messaging.APNSConfig:
    # apns-expiration is an absolute UNIX time; "0" means deliver now or never.
    expiration = str(int(time.time()) + ttl) if ttl else "0"
    headers = {
        "apns-priority": "10" if _urgent(message) else "5",
        "apns-collapse-id": message.collapse_key,
        "apns-expiration": expiration,
        "apns-push-type": "alert" if message.visible else "background",
    }
    if message.visible:
        aps = messaging.Aps(alert=messaging.ApsAlert(title=message.title), sound="default",
                            thread_id=message.collapse_key)
    else:
        aps = messaging.Aps(content_available=True)
    return messaging.APNSConfig(headers=headers, payload=messaging.APNSPayload(aps=aps))


def _webpush(message: PushMessage, ttl: int) -> messaging.WebpushConfig:
    headers = {"Urgency": "high" if _urgent(message) else "normal", "TTL": str(ttl)}
    if _WEB_TOPIC.match(message.collapse_key):
        headers["Topic"] = message.collapse_key
    return messaging.WebpushConfig(headers=headers)


def _build(message: PushMessage) -> messaging.Message:
    _check(message)
    ttl = min(message.ttl_seconds, MAX_TTL_SECONDS)
    data = {**message.data, "kind": message.kind, "object_id": message.object_id, "priority": str(message.priority)}
    notification = messaging.Notification(title=message.title) if message.visible else None
    platform = {
        Device.Platform.ANDROID: {"android": _android(message, ttl)},
        Device.Platform.IOS: {"apns": _apns(message, ttl)},
        Device.Platform.WEB: {"webpush": _webpush(message, ttl)},
    }[Device.Platform(message.platform)]
    with warnings.catch_warnings():
        # firebase-admin 7.7 deprecates `token` for `fid` (Firebase Installation ID); our apps still
        # register FCM tokens, and FCM still accepts them. Moving to FIDs needs the apps to send one.
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.Message(token=message.token, data=data, notification=notification, **platform)


# --- reading FCM's answers ---

@dataclass(frozen=True)
class _Verdict:
    error: str | None
    message_id: str | None = None
    retry_after_s: float | None = None  # from the Retry-After header


def _error_details(exc: exceptions.FirebaseError) -> tuple[str | None, list[str], str]:
    """(FCM errorCode, fields named in BadRequest violations, message) from the error response."""
    response = exc.http_response
    if response is None:
        return None, [], ""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return None, [], ""
    fcm_code = None
    fields: list[str] = []
    for detail in error.get("details") or []:
        if detail.get("@type") == FCM_ERROR_TYPE:
            fcm_code = detail.get("errorCode")
        elif detail.get("@type") == BAD_REQUEST_TYPE:
            fields += [v.get("field", "") for v in detail.get("fieldViolations") or []]
    return fcm_code, fields, str(error.get("message") or "")


def _retry_after(exc: exceptions.FirebaseError) -> float | None:
    response = exc.http_response
    raw = response.headers.get("Retry-After") if response is not None else None
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: rare from Google; the backoff applies instead


# What each firebase-admin error means for us, in the order they are tested (subclasses first), and whether FCM's
# Retry-After applies. InvalidArgumentError is told apart below: about the token (dead) or about the message.
_ERRORS: tuple[tuple[type[Exception], str, bool], ...] = (
    (messaging.UnregisteredError, "unregistered", False),
    (messaging.SenderIdMismatchError, "sender_id_mismatch", False),
    (messaging.QuotaExceededError, "quota_exceeded", True),
    (messaging.ThirdPartyAuthError, "third_party_auth_error", False),
    (exceptions.DeadlineExceededError, "timeout", False),
    (exceptions.UnavailableError, "unavailable", True),
    (exceptions.InternalError, "internal", False),
    (exceptions.UnauthenticatedError, "unauthenticated", False),
    (exceptions.ResourceExhaustedError, "quota_exceeded", True),
)


def _verdict(response: messaging.SendResponse) -> _Verdict:
    if response.success:
        return _Verdict(error=None, message_id=response.message_id)
    exc = response.exception
    if isinstance(exc, exceptions.InvalidArgumentError):
        _, fields, text = _error_details(exc)
        token_fault = "message.token" in fields or (not fields and text.startswith(_INVALID_TOKEN_MESSAGE))
        return _Verdict("invalid_token" if token_fault else "invalid_argument")
    for error_type, error, retried in _ERRORS:
        if isinstance(exc, error_type):
            return _Verdict(error, retry_after_s=_retry_after(exc) if retried else None)
    return _Verdict("unknown")


# --- the sending loop ---

class _Sender:
    """A background event loop that owns the firebase-admin app and its connections."""

    _names = itertools.count(1)

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fcm-sender", daemon=True)
        self._thread.start()
        self._app: firebase_admin.App | None = None
        self._app_config: _Config | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def app(self, config: _Config) -> firebase_admin.App:
        """The app for this configuration (settings change in tests), made on this loop."""
        if self._app is not None and self._app_config == config:
            return self._app
        old = self._app
        credential: credentials.Base = (
            credentials.Certificate(config.credentials_file) if config.credentials_file and not config.endpoint
            else FixedTokenCredential()
        )
        app = firebase_admin.initialize_app(credential, {"projectId": config.project_id,
                                                         "httpTimeout": config.timeout_s},
                                            name=f"rtcc-relay-fcm-{next(self._names)}")
        service = messaging._get_messaging_service(app)
        if not all(hasattr(service, name) for name in ("_async_client", "_fcm_url", "_credential")):
            # Pinned firebase_admin==7.7.0; a version that renamed these would silently bypass our settings.
            raise RuntimeError("firebase-admin's messaging service changed shape; check apps/delivery/fcm.py")
        service._async_client = _HttpClient(service._credential, config.timeout_s,
                                            http2=not config.endpoint.startswith("http://"))
        if config.endpoint:
            service._fcm_url = f"{config.endpoint}/v1/projects/{config.project_id}/messages:send"
        self._app, self._app_config = app, config
        if old is not None:
            await messaging._get_messaging_service(old)._async_client.aclose()
            # delete_app closes the (now closed) client with asyncio.run: not from inside this loop.
            await asyncio.to_thread(firebase_admin.delete_app, old)
        return app


class _HttpClient:
    """Stands in for firebase-admin's `HttpxAsyncClient`: the messaging service uses only
    `request()` (which raises on an HTTP error status) and `aclose()`.

    Unlike the original it has no retry transport: that one retries 500/503 four times ignoring
    Retry-After and deep-copies its retry state per request; we retry in `_send_all` instead.
    `send_each_async` hands over a whole batch at once; at most `in_flight` requests of it reach
    httpx at a time (see MAX_IN_FLIGHT_HTTP1), and its pool keeps that many connections alive
    between sends instead of reopening them.
    """

    def __init__(self, credential: Any, timeout_s: int, *, http2: bool) -> None:
        in_flight = MAX_IN_FLIGHT_HTTP2 if http2 else MAX_IN_FLIGHT_HTTP1
        connections = 1 if http2 else in_flight
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._timeout_s = timeout_s
        self._turns = asyncio.Semaphore(in_flight)
        self._client = httpx.AsyncClient(
            http2=http2, timeout=timeout_s, headers=dict(_http_client.METRICS_HEADERS),
            auth=_http_client.GoogleAuthCredentialFlow(credential),
            transport=httpx.AsyncHTTPTransport(http2=http2, retries=0, limits=limits),
        )

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # Waiting for a turn is bounded like httpx's own wait for a pooled connection, and fails the
        # same way, so a hung FCM still costs one timeout per batch, not one per `in_flight` messages.
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._turns.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"no free request slot within {self._timeout_s} s") from None
        try:
            response = await self._client.request(method, url, **kwargs)
        finally:
            self._turns.release()
        return response.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()


_sender_lock = threading.Lock()
_sender_instance: _Sender | None = None


def _sender() -> _Sender:
    global _sender_instance
    with _sender_lock:
        # A forked worker (Celery prefork) has no copy of the parent's thread: start its own.
        if _sender_instance is None or _sender_instance.pid != os.getpid():
            _sender_instance = _Sender()
        return _sender_instance


async def _send_all(sender: _Sender, config: _Config, messages: list[PushMessage],
                    built: list[messaging.Message]) -> list[PushOutcome]:
    """Send, retry what FCM asks us to retry within the budget, and say what happened to each."""
    app = await sender.app(config)
    started = time.monotonic()
    deadline = started + config.retry_budget_s
    outcomes: dict[int, PushOutcome] = {}
    internal_tries: dict[int, int] = {}
    pending = [i for i, m in enumerate(messages) if m.token]
    for i, m in enumerate(messages):
        if not m.token:
            outcomes[i] = PushOutcome(m.device_id, False, None, "no_token", False, None)

    for round_number in range(MAX_ROUNDS):
        if not pending:
            break
        responses: list[messaging.SendResponse] = []
        # Batches go one after another, so a hung FCM costs at most one timeout per batch of 500.
        for start in range(0, len(pending), BATCH_SIZE):
            batch = [built[i] for i in pending[start:start + BATCH_SIZE]]
            responses += (await messaging.send_each_async(batch, app=app)).responses
        retry: dict[int, float] = {}
        for i, response in zip(pending, responses, strict=True):
            verdict = _verdict(response)
            delay: float | None = None
            if verdict.error == "quota_exceeded":
                delay = verdict.retry_after_s if verdict.retry_after_s is not None else QUOTA_DEFAULT_RETRY_S
            elif verdict.error == "unavailable":
                delay = verdict.retry_after_s if verdict.retry_after_s is not None else float(2 ** round_number)
            elif verdict.error == "internal" and internal_tries.get(i, 0) < config.internal_retries:
                internal_tries[i] = internal_tries.get(i, 0) + 1
                delay = 0.5 * 2 ** (internal_tries[i] - 1)
            if delay is not None and time.monotonic() + delay <= deadline and round_number + 1 < MAX_ROUNDS:
                retry[i] = delay
                continue
            message = messages[i]
            outcomes[i] = PushOutcome(device_id=message.device_id, ok=verdict.error is None,
                                      message_id=verdict.message_id, error=verdict.error, token_removed=False,
                                      retry_after_s=delay if verdict.error in ("quota_exceeded", "unavailable")
                                      else None)
        pending = sorted(retry)
        if pending:
            wait = max(retry.values())
            logger.info("fcm: retrying %d messages in %.1f s", len(pending), wait)
            await asyncio.sleep(wait)
    sent = sum(1 for o in outcomes.values() if o.ok)
    logger.info("fcm: %d of %d messages sent in %.2f s", sent, len(messages), time.monotonic() - started)
    return [outcomes[i] for i in range(len(messages))]


def _prune(messages: Sequence[PushMessage], outcomes: list[PushOutcome]) -> list[PushOutcome]:
    """Clear dead tokens, only where the device still holds the token that failed (it may have rotated)."""
    result = []
    for message, outcome in zip(messages, outcomes, strict=True):
        if outcome.error and outcome.error != "push_disabled":
            logger.warning("fcm: push to device %s failed: %s", message.device_id, outcome.error)
        if outcome.error in TOKEN_DEAD:
            removed = Device.objects.filter(pk=message.device_id, push_token=message.token).update(push_token="")
            outcome = replace(outcome, token_removed=removed > 0)
            if removed:
                logger.info("fcm: cleared the push token of device %s (%s)", message.device_id, outcome.error)
        result.append(outcome)
    return result


def _disabled(messages: Sequence[PushMessage]) -> list[PushOutcome]:
    return [PushOutcome(m.device_id, False, None, "push_disabled", False, None) for m in messages]


def push_send(messages: Sequence[PushMessage]) -> list[PushOutcome]:
    """Send push alerts and return one outcome per message, in order. For sync callers (Celery, the sweeper).

    Raises ValueError for a message that breaks the rules above (a programming error, nothing sent).
    """
    messages = list(messages)
    config = _config()
    if not messages:
        return []
    if config is None:
        return _disabled(messages)
    built = [_build(m) for m in messages]
    sender = _sender()
    return _prune(messages, sender.run(_send_all(sender, config, messages, built)))
