"""A local fake of the FCM HTTP v1 send endpoint, for tests and bench scripts.

It listens on 127.0.0.1 (a random port), answers `POST /v1/projects/<id>/messages:send`
as Google does, and checks every body against Google's discovery document
(fixtures/data/fcm/fcm.v1.json): unknown fields, wrong types, bad durations and
enum values are refused with 400 INVALID_ARGUMENT, like the real service. Every
request is recorded with its validation errors, so a test can assert that what
firebase-admin sent is valid and carries no case data.

Replies can be scripted per registration token or for all of them:

    with FakeFCM() as fcm:
        fcm.reply("unavailable", token="tok-1", times=1, retry_after=1)
        fcm.reply("unregistered", token="tok-2")
        ...  # point settings.FCM_ENDPOINT at fcm.url
        assert fcm.invalid() == []

Error bodies have the shape firebase-admin parses: `error.status` plus a detail
`{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": ...}`.

Run it on its own for a bench in another process:
`python -m tests.fakes.fcm_server --port 0` prints `fake-fcm url=http://127.0.0.1:<port>`;
`POST /__fake__/reply` (a JSON rule), `GET /__fake__/stats` and `POST /__fake__/reset` script it.
Only the standard library is used, so importing it needs neither pytest nor Django.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "fcm" / "fcm.v1.json"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")

# Keys FCM refuses in `data` (firebase.google.com/docs/cloud-messaging/concept-options#data_messages).
_RESERVED_DATA_KEYS = {"from", "message_type", "notification"}
_RESERVED_DATA_PREFIXES = ("google", "gcm")

# proto3 JSON: a Duration is seconds with up to nine fractional digits and an "s" suffix.
_DURATION = re.compile(r"^-?\d{1,12}(\.\d{1,9})?s$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1),
               "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class DiscoverySchema:
    """Validates JSON against the `schemas` of a Google API discovery document.

    The wire format is proto3 JSON: a field may be named in lowerCamelCase (as in the
    document) or by its proto name in snake_case (firebase-admin sends `collapse_key`),
    null means "not set", 64-bit integers may be strings. FCM parses enum names in any
    case (firebase-admin sends `android.priority` as "high"), so enums compare case-blind.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        self.schemas: dict[str, Any] = document["schemas"]
        self._aliases: dict[int, dict[str, str]] = {}

    @classmethod
    def load(cls, path: Path = SCHEMA_PATH) -> DiscoverySchema:
        return cls(json.loads(path.read_text()))

    def validate(self, value: Any, ref: str, path: str = "") -> list[str]:
        errors: list[str] = []
        self._check(value, {"$ref": ref}, path, errors)
        return errors

    def _check(self, value: Any, spec: dict[str, Any], path: str, errors: list[str]) -> None:
        if "$ref" in spec:
            schema = self.schemas[spec["$ref"]]
            self._check_object(value, schema, path, errors)
            return
        kind = spec.get("type")
        where = path or "(root)"
        if kind == "any":
            return
        if kind == "object":
            self._check_object(value, spec, path, errors)
        elif kind == "array":
            if not isinstance(value, list):
                errors.append(f"{where}: expected a list")
                return
            for i, item in enumerate(value):
                if item is None:
                    errors.append(f"{where}[{i}]: null in a list")
                else:
                    self._check(item, spec.get("items", {"type": "any"}), f"{where}[{i}]", errors)
        elif kind == "string":
            self._check_string(value, spec, where, errors)
        elif kind == "boolean":
            if not isinstance(value, bool):
                errors.append(f"{where}: expected true or false")
        elif kind == "integer":
            self._check_integer(value, spec.get("format", "int32"), where, errors)
        elif kind == "number":
            if isinstance(value, bool) or not (
                isinstance(value, int | float) or value in ("NaN", "Infinity", "-Infinity")
            ):
                errors.append(f"{where}: expected a number")
        else:
            errors.append(f"{where}: the schema has a type this validator does not know: {kind!r}")

    def _check_object(self, value: Any, schema: dict[str, Any], path: str, errors: list[str]) -> None:
        where = path or "(root)"
        if not isinstance(value, dict):
            errors.append(f"{where}: expected an object")
            return
        properties: dict[str, Any] = schema.get("properties", {})
        names = self._names(schema)
        extra = schema.get("additionalProperties")
        seen: dict[str, str] = {}
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if not isinstance(key, str):
                errors.append(f"{child}: keys must be strings")
                continue
            if properties:
                name = names.get(key)
                if name is None:
                    errors.append(f'{where}: unknown name "{key}": cannot find field')
                    continue
                if name in seen:
                    errors.append(f'{where}: field "{name}" given twice ("{seen[name]}" and "{key}")')
                    continue
                seen[name] = key
                if item is not None:  # proto3 JSON: null is the default value
                    self._check(item, properties[name], child, errors)
            elif extra is not None:
                if item is None and extra.get("type") != "any":
                    errors.append(f"{child}: null map value")
                elif item is not None:
                    self._check(item, extra, child, errors)
            else:
                errors.append(f'{where}: unknown name "{key}": cannot find field')

    def _names(self, schema: dict[str, Any]) -> dict[str, str]:
        """Each accepted spelling of a field (camelCase and snake_case) to its name in the document."""
        key = id(schema)
        if key not in self._aliases:
            props = schema.get("properties", {})
            self._aliases[key] = {**{_snake(p): p for p in props}, **{p: p for p in props}}
        return self._aliases[key]

    def _check_string(self, value: Any, spec: dict[str, Any], where: str, errors: list[str]) -> None:
        if not isinstance(value, str):
            errors.append(f"{where}: expected a string")
            return
        fmt = spec.get("format")
        if "enum" in spec and value.upper() not in spec["enum"]:
            errors.append(f"{where}: invalid value {value!r}; one of {spec['enum']}")
        elif fmt == "google-duration" and not _DURATION.match(value):
            errors.append(f"{where}: invalid duration {value!r} (like \"3.5s\")")
        elif fmt == "google-datetime" and not _DATETIME.match(value):
            errors.append(f"{where}: invalid RFC 3339 timestamp {value!r}")
        elif fmt in _INT_RANGES:
            self._check_integer(value, fmt, where, errors)

    def _check_integer(self, value: Any, fmt: str, where: str, errors: list[str]) -> None:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            number = int(value)
        low, high = _INT_RANGES.get(fmt, _INT_RANGES["int64"])
        if number is None or not low <= number <= high:
            errors.append(f"{where}: expected an integer ({fmt})")


def validate_send_request(schema: DiscoverySchema, body: Any) -> list[str]:
    """Errors in a `messages:send` body: the schema, then the rules the schema cannot say."""
    errors = schema.validate(body, "SendMessageRequest")
    if errors:
        return errors
    message = body.get("message")
    if not isinstance(message, dict):
        return ["message: required"]
    targets = [key for key in ("token", "topic", "condition", "fid") if message.get(key)]
    if len(targets) != 1:
        errors.append(f"message: exactly one of token, topic, condition, fid is required (got {targets or 'none'})")
    for key in (message.get("data") or {}):
        if key in _RESERVED_DATA_KEYS or key.startswith(_RESERVED_DATA_PREFIXES):
            errors.append(f"message.data.{key}: reserved key")
    return errors


# --- replies ---

REPLY_KINDS = ("ok", "unregistered", "sender_id_mismatch", "invalid_token", "invalid_field",
               "quota_exceeded", "unavailable", "internal", "hang")

# kind -> (HTTP status, google.rpc status, FCM errorCode, message)
_ERRORS: dict[str, tuple[int, str, str, str]] = {
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "sender_id_mismatch": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    "invalid_token": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                      "The registration token is not a valid FCM registration token"),
    "invalid_field": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                      "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)"),
    "quota_exceeded": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED",
                       "Quota exceeded for quota metric 'Send messages'."),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
    "internal": (500, "INTERNAL", "INTERNAL", "Internal error encountered."),
}


def error_body(status: int, rpc_status: str, message: str, details: list[dict[str, Any]]) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": rpc_status, "details": details}}


@dataclass
class _Rule:
    kind: str
    token: str | None
    times: int | None
    retry_after: int | None


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it."""

    at: float
    path: str
    authorization: str
    body: Any
    errors: list[str]
    reply: str
    status: int

    @property
    def message(self) -> dict[str, Any]:
        return self.body.get("message") or {} if isinstance(self.body, dict) else {}

    @property
    def token(self) -> str | None:
        return self.message.get("token")


@dataclass
class _State:
    project_id: str
    hang_seconds: float
    record: bool
    rules: list[_Rule] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def take_rule(self, token: str | None) -> _Rule | None:
        with self.lock:
            for wanted in (token, None):
                for rule in self.rules:
                    if rule.token == wanted and rule.times != 0:
                        if rule.times is not None:
                            rule.times -= 1
                        return rule
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: httpx reuses connections
    # Headers and body go out as separate writes; with Nagle on, each response would wait for
    # the client's delayed ACK (40 ms), capping the fake at a few dozen requests a second.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines would include nothing secret, but thousands of them drown test output

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a hang it timed out on)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/__fake__/stats":
            with state.lock:
                self._send_json(200, {"received": sum(state.counts.values()), "by_reply": dict(state.counts)})
            return
        self._send_json(404, error_body(404, "NOT_FOUND", "Not found.", []))

    def do_POST(self) -> None:
        state = self.server.state
        raw = self._read_body()
        if self.path.startswith("/__fake__/"):
            self._control(state, raw)
            return
        match = SEND_PATH.match(self.path)
        if match is None or match["project"] != state.project_id:
            self._send_json(404, error_body(404, "NOT_FOUND", "Requested entity was not found.", []))
            return
        authorization = self.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or len(authorization) <= len("Bearer "):
            self._send_json(401, error_body(401, "UNAUTHENTICATED", "Request is missing required authentication "
                                            "credential.", []))
            return
        try:
            body: Any = json.loads(raw)
            errors = validate_send_request(self.server.schema, body)
        except ValueError as exc:
            body, errors = raw.decode(errors="replace"), [f"Invalid JSON payload received. {exc}"]

        if errors:
            status = 400
            kind = "schema_error"
            self._record(state, authorization, body, errors, kind, status)
            violations = [{"field": "message", "description": error} for error in errors]
            self._send_json(status, error_body(status, "INVALID_ARGUMENT", "Invalid JSON payload received. "
                                               + "; ".join(errors), [{"@type": BAD_REQUEST_TYPE,
                                                                      "fieldViolations": violations}]))
            return

        token = body["message"].get("token")
        rule = state.take_rule(token)
        kind = rule.kind if rule else "ok"
        if kind in ("ok", "hang"):
            self._record(state, authorization, body, errors, kind, 200)
            if kind == "hang":
                # Longer than the client's timeout; stopping the fake ends it at once.
                state.stopping.wait(state.hang_seconds)
            self._send_json(200, {"name": f"projects/{state.project_id}/messages/{next(state.ids)}"})
            return
        status, rpc_status, fcm_code, message = _ERRORS[kind]
        details: list[dict[str, Any]] = [{"@type": FCM_ERROR_TYPE, "errorCode": fcm_code}]
        if kind in ("invalid_token", "invalid_field"):
            fault = "message.token" if kind == "invalid_token" else "message.android.ttl"
            details.append({"@type": BAD_REQUEST_TYPE,
                            "fieldViolations": [{"field": fault, "description": message}]})
        headers = {}
        if kind in ("quota_exceeded", "unavailable") and rule is not None and rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        self._record(state, authorization, body, errors, kind, status)
        self._send_json(status, error_body(status, rpc_status, message, details), headers)

    def _record(self, state: _State, authorization: str, body: Any, errors: list[str], kind: str,
                status: int) -> None:
        with state.lock:
            state.counts[kind] += 1
            if state.record:
                state.received.append(Received(at=time.monotonic(), path=self.path, authorization=authorization,
                                               body=body, errors=errors, reply=kind, status=status))

    def _control(self, state: _State, raw: bytes) -> None:
        if self.path == "/__fake__/reset":
            self.server.fake.reset()
            self._send_json(200, {})
        elif self.path == "/__fake__/reply":
            rule = json.loads(raw or b"{}")
            self.server.fake.reply(rule["kind"], token=rule.get("token"), times=rule.get("times"),
                                   retry_after=rule.get("retry_after"))
            self._send_json(200, {})
        else:
            self._send_json(404, error_body(404, "NOT_FOUND", "Not found.", []))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs when a client opens 100 connections at once.
    request_queue_size = 1024
    state: _State
    schema: DiscoverySchema
    fake: FakeFCM


class FakeFCM:
    """The fake, served from a background thread on 127.0.0.1 until `stop()` (or the `with` block ends)."""

    def __init__(self, *, project_id: str = "rtcc-fake", port: int = 0, hang_seconds: float = 30.0,
                 record: bool = True) -> None:
        self.project_id = project_id
        self._state = _State(project_id=project_id, hang_seconds=hang_seconds, record=record)
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = self._state
        self._server.schema = DiscoverySchema.load()
        self._server.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeFCM:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-fcm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeFCM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reply(self, kind: str, *, token: str | None = None, times: int | None = None,
              retry_after: int | None = None) -> None:
        """Answer `kind` to requests for `token` (or to all), `times` times or for good.

        Rules for a token come before rules for all; the first rule with turns left wins;
        with no rule the answer is success.
        """
        if kind not in REPLY_KINDS:
            raise ValueError(f"unknown reply {kind!r}; one of {REPLY_KINDS}")
        with self._state.lock:
            self._state.rules.append(_Rule(kind=kind, token=token, times=times, retry_after=retry_after))

    def reset(self) -> None:
        """Forget the rules and what was received (one fake can serve many tests)."""
        with self._state.lock:
            self._state.rules.clear()
            self._state.received.clear()
            self._state.counts.clear()

    def received(self) -> list[Received]:
        with self._state.lock:
            return list(self._state.received)

    def invalid(self) -> list[Received]:
        """Requests whose body failed validation (should be none)."""
        return [r for r in self.received() if r.errors]

    def counts(self) -> dict[str, int]:
        with self._state.lock:
            return dict(self._state.counts)


def main() -> None:
    parser = argparse.ArgumentParser(description="A local fake FCM HTTP v1 server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--project", default="rtcc-fake")
    parser.add_argument("--seconds", type=float, default=3600, help="stop after this long")
    args = parser.parse_args()
    fake = FakeFCM(project_id=args.project, port=args.port, record=False).start()
    print(f"fake-fcm url={fake.url} project={args.project}", flush=True)
    try:
        time.sleep(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
