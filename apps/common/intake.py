"""Request bodies bounded before they are read (docs/operations.md, "Request bodies").

Daphne's HTTP layer (Twisted) receives a request's whole body before it calls the application, then
hands it over as a queue of in-memory chunks: an ASGI middleware sees the headers only once every
byte has arrived. So the bounds are enforced one layer down, in Daphne's request object, the moment
the headers are in:

- each route has a cap (`body_cap`): photos, clip uploads, everything else; a Content-Length over it,
  or a body that grows past it, is answered 413 at once;
- an upload route refuses a body larger than the everything-else cap that comes without a bearer
  token (401), so a stranger's 100 MB costs the server nothing;
- a refused body is read and dropped (never stored) for a few seconds, so the client can read the
  answer, then the connection is closed;
- an accepted body that Twisted spooled to a temporary file is handed to Django as that file, read a
  chunk at a time (`spooled_body`), instead of being queued whole in memory.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import IO, Any, cast
from urllib.parse import unquote

from django.conf import settings

# Room for the multipart envelope (boundaries, part headers, small fields) around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
# A refused client may keep sending for this long (its answer waits in its receive buffer) before we close.
REFUSED_LINGER_SECONDS = 5.0
# Read from the spooled file and passed to Django this much at a time.
SPOOL_CHUNK_BYTES = 1024 * 1024
# The header Daphne's request uses to tell the application where its spooled body is; a client's own
# header of that name is removed before anything reads it.
SPOOLED_HEADER = b"x-rtcc-spooled-body"

_PHOTO_UPLOAD = re.compile(r"^/api/v1/people/\d+/photos$")
_CLIP_UPLOAD = re.compile(r"^/api/v1/calls/\d+/clips/upload$")


@dataclass(frozen=True)
class BodyCap:
    max_bytes: int
    # Bodies above the everything-else cap need a bearer token in the headers to be read at all.
    upload: bool


def body_cap(path: str) -> BodyCap:
    """How large a request body to `path` may be: the one table of per-route caps."""
    if _PHOTO_UPLOAD.match(path):
        return BodyCap(settings.MEDIA_PHOTO_MAX_BYTES + MULTIPART_OVERHEAD, upload=True)
    if _CLIP_UPLOAD.match(path):
        return BodyCap(settings.MEDIA_VIDEO_MAX_BYTES + MULTIPART_OVERHEAD, upload=True)
    return BodyCap(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, upload=False)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


def body_refusal(*, path: str, length: int | None, authorization: str) -> tuple[int, str, str] | None:
    """(status, code, message) when a request must be refused from its headers alone, else None."""
    cap = body_cap(path)
    scheme, _, token = authorization.partition(" ")
    unauthenticated = scheme != "Bearer" or not token.strip()
    if cap.upload and unauthenticated and (length is None or length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE):
        return 401, "not_authenticated", "Authentication credentials were not provided."
    if length is not None and length > cap.max_bytes:
        return 413, "body_too_large", f"Request bodies here are limited to {_megabytes(cap.max_bytes)}."
    return None


def refusal_response(status: int, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer in the API's error shape, closing the connection."""
    body = json.dumps({"code": code, "message": message, "fields": {}}).encode()
    reason = {401: "Unauthorized", 413: "Content Too Large"}[status]
    extra = "WWW-Authenticate: Bearer\r\n" if status == 401 else ""
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Cache-Control: no-store\r\n{extra}Connection: close\r\n\r\n")
    return head.encode() + body


# Bodies Daphne's requests spooled to disk, until the application takes them (same process, same loop).
_spooled: dict[str, IO[bytes]] = {}


def spool_put(file: IO[bytes]) -> str:
    key = secrets.token_urlsafe(24)
    _spooled[key] = file
    return key


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


def spooled_body(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a request whose body Daphne left on disk gets it read from there a chunk at a time."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers") or []
        key = next((v.decode("ascii") for k, v in headers if k == SPOOLED_HEADER), None)
        file = _spooled.pop(key, None) if key else None
        if file is None:
            await app(scope, receive, send)
            return
        scope = dict(scope, headers=[(k, v) for k, v in headers if k != SPOOLED_HEADER])
        await receive()  # Daphne's own (empty) body message
        done = False

        async def receive_from_file() -> dict[str, Any]:
            nonlocal done
            if done:
                return await receive()
            chunk = await asyncio.to_thread(file.read, SPOOL_CHUNK_BYTES)
            if len(chunk) < SPOOL_CHUNK_BYTES:
                done = True
                await asyncio.to_thread(file.close)
            return {"type": "http.request", "body": chunk, "more_body": not done}

        try:
            await app(scope, receive_from_file, send)
        finally:
            if not done:
                file.close()

    return middleware


def install_bounded_requests() -> None:
    """Make Daphne build its HTTP requests from `BoundedWebRequest` (its factory names the class per connection)."""
    from daphne import http_protocol

    http_protocol.WebRequest = _bounded_web_request_class()


def _bounded_web_request_class() -> type:
    from io import BytesIO

    from daphne.http_protocol import WebRequest
    from twisted.internet import reactor

    class BoundedWebRequest(WebRequest):
        """Daphne's request, refusing an unwanted body from its headers and handing a spooled one over as a file."""

        _refused = False
        _received = 0
        _cap = 0

        def gotLength(self, length: int | None) -> None:  # Twisted's name
            self.requestHeaders.removeHeader(SPOOLED_HEADER)
            path = unquote(self.channel._path.split(b"?", 1)[0].decode("latin-1"))
            self._cap = body_cap(path).max_bytes
            authorization = (self.requestHeaders.getRawHeaders(b"authorization") or [b""])[0]
            refusal = body_refusal(path=path, length=length, authorization=authorization.decode("latin-1"))
            if refusal is not None:
                self._refuse(*refusal)
                return
            super().gotLength(length)

        def handleContentChunk(self, data: bytes) -> None:
            if self._refused:
                return
            self._received += len(data)
            if self._received > self._cap:
                self.content.close()
                self._refuse(413, "body_too_large",
                             f"Request bodies here are limited to {_megabytes(self._cap)}.")
                return
            super().handleContentChunk(data)

        def _refuse(self, status: int, code: str, message: str) -> None:
            self._refused = True
            self.content = BytesIO()
            # No "100 Continue" after a final answer; no second request on this connection.
            self.requestHeaders.removeHeader(b"expect")
            self.channel.persistent = False
            transport = self.channel.transport
            transport.write(refusal_response(status, code, message))
            cast(Any, reactor).callLater(REFUSED_LINGER_SECONDS, transport.loseConnection)

        def process(self) -> Any:
            if self._refused:
                self.channel.transport.loseConnection()
                return None
            if self._received > SPOOL_CHUNK_BYTES and not isinstance(self.content, BytesIO):
                self.content.seek(0)
                self.requestHeaders.setRawHeaders(SPOOLED_HEADER, [spool_put(self.content).encode("ascii")])
                self.content = BytesIO()
            return super().process()

    return BoundedWebRequest
