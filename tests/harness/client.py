"""A stream client as a phone runs it, over real sockets: ticket (over HTTP, or the last socket's resume ticket),
websocket, hello, acks, reconnect.

It keeps what the user would be shown and checks the protocol's promise as it
goes (docs/delivery.md): within an epoch the offsets it applies are contiguous (a
gap is an event lost) and never repeat (a repeat is a duplicate, dropped and
counted). Used by the fault tests and the stream benches (bench/_ws.py runs a
thousand of them in client processes); only h11, httpx and websockets, no Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import h11
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from apps.delivery.wire import CLOSE_UNAUTHENTICATED, SERVER_CONTROL
from tests.harness.processes import HOST

T = TypeVar("T")


@dataclass
class Received:
    at: float  # time.monotonic() when it arrived
    message: dict[str, Any]


@dataclass
class StreamClient:
    """One phone's stream: what it applied, what it was shown twice or never, and where its reconnects waited."""

    token: str = ""  # its bearer token, for the ticket; none for a bare server that takes no ticket
    port: int = 0
    path: str = "/ws/v1/stream"
    origin: str = ""  # the page's origin; by default the server's own
    ack: bool = True
    # 0: an ack per event as it is applied; more: one cumulative ack per that many seconds, as the terminal
    # does (apps/web/static/web/rtcc.js).
    ack_delay: float = 0.0
    on_event: Callable[[dict[str, Any], float], None] | None = None  # each event applied, with its arrival time
    # Ask in the hello for a ticket for the next socket, and come back with it (HTTP only when it fails).
    resume: bool = True
    resume_ticket: str | None = None
    resumed: int = 0  # connects that opened with a resume ticket
    epoch: str | None = None
    offset: int = 0
    # The position the first connection was given: what came after it is what the client should apply.
    start_epoch: str | None = None
    start_offset: int = 0
    events: list[Received] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    gaps: list[tuple[str, int, int]] = field(default_factory=list)  # (epoch, expected, got)
    # Control messages that say something went wrong (revoked, error), and events of another epoch.
    problems: list[str] = field(default_factory=list)
    resyncs: int = 0
    closes: list[int | None] = field(default_factory=list)
    connects: int = 0
    retries: int = 0  # handshakes that failed during reconnect() and were tried again
    retried_for: str = ""  # why the last one failed
    # Where the last (re)connect spent its time, in seconds: the old socket's close, the ticket request,
    # the websocket handshake, and the hello until "ready" (the server's replay).
    phases: dict[str, float] = field(default_factory=dict)
    _seen: set[tuple[str, int]] = field(default_factory=set)
    _ws: ClientConnection | None = None
    _reader: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ack_timer: asyncio.TimerHandle | None = None
    _sending: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def ticket(self, *, timeout: float = 30.0) -> str:
        """The ticket, asked on a connection of its own, as a phone does: one whose network just changed has
        no connection left to reuse. (A thousand phones sharing one httpx pool in a client process waited
        seconds for it, not for the server: encode/httpx#3215.) h11 speaks the HTTP."""
        status, body = await asyncio.wait_for(_post(self.port, "/api/v1/stream/ticket", self.token), timeout)
        if status != 201:
            raise RuntimeError(f"ticket refused: {status} {body[:200]!r}")
        return str(json.loads(body)["ticket"])

    async def connect(self, *, port: int | None = None, timeout: float = 10.0) -> None:
        """Open the socket (on `port` if given: another server), say hello, and wait for "ready"."""
        if port is not None:
            self.port = port
        started = time.monotonic()
        url = f"ws://{HOST}:{self.port}{self.path}"
        resuming = bool(self.token and self.resume_ticket)
        if self.token:
            url += "?ticket=" + (self.resume_ticket or await self.ticket(timeout=timeout))
        self._ready = asyncio.Event()
        ticketed = time.monotonic()
        self._ws = await connect(url, origin=Origin(self.origin or f"http://{HOST}:{self.port}"), proxy=None,
                                 open_timeout=timeout, close_timeout=5, ping_interval=None, compression=None,
                                 max_queue=None)
        opened = time.monotonic()
        # A resume ticket works once: used now that a server has it (a handshake that failed keeps it).
        self.resume_ticket = None
        self.connects += 1
        hello: dict[str, Any] = {"type": "hello", "epoch": self.epoch, "offset": self.offset}
        if self.resume and self.token:
            hello["resume"] = True
        await self._ws.send(json.dumps(hello))
        self._reader = reader = asyncio.create_task(self._read(self._ws))
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({ready, reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if not self._ready.is_set():
            code = self._ws.close_code if reader.done() else None
            if resuming and code == CLOSE_UNAUTHENTICATED:
                # The resume ticket expired (or its Redis restarted): a new one over HTTP, as docs/delivery.md says.
                await self.close()
                await self.connect(timeout=timeout)
                return
            raise TimeoutError(f"no ready within {timeout} s (close code {code})")
        self.resumed += resuming
        self.phases.update(ticket=ticketed - started, socket=opened - ticketed, hello=time.monotonic() - opened)

    async def reconnect(self, *, budget: float = 60.0, timeout: float = 30.0) -> float:
        """Drop the socket and come back as a phone does: the resume ticket the last socket handed over (or a new
        one over HTTP), hello with the last applied position.

        A failed attempt (a refused or timed-out handshake) is retried after a short random pause, as
        phones do, until `budget` seconds have passed; the time returned includes the retries.
        """
        started = time.monotonic()
        await self.close()
        self.phases = {"close": time.monotonic() - started}
        while True:
            try:
                await self.connect(timeout=timeout)
                return time.monotonic() - started
            except Exception as exc:
                await self.close()
                self.retries += 1
                self.retried_for = f"{type(exc).__name__}: {exc}"[:200]
                if time.monotonic() - started > budget:
                    raise
                await asyncio.sleep(random.uniform(0.5, 1.5))  # noqa: S311  a pause's jitter, not a secret

    async def close(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            # Whatever arrived before the close is applied; a reader still busy after 10 s is cancelled.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 10)
        self._ws = self._reader = None

    async def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until `count` events have been applied; False on timeout."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.5))
        return True

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                at = time.monotonic()
                if ws is not self._ws:
                    return  # a socket this phone has already given up on: it shows nothing from it
                if self._apply(json.loads(raw), at) and self.ack:
                    if self.ack_delay:
                        self._ack_later(ws)
                    else:
                        await ws.send(_ack_text(self.offset))
        except ConnectionClosed:
            pass
        finally:
            self.closes.append(ws.close_code)

    def _apply(self, message: dict[str, Any], at: float) -> bool:
        """Take one message; True when it was an event applied (shown) now."""
        kind = message.get("type")
        if kind == "ready":
            self._ready.set()
            return False
        if kind == "resync":
            # A first connection (or a gap the server no longer has): take its position, refetch state.
            self.resyncs += 1
            self.epoch, self.offset = message["epoch"], int(message["offset"])
            if self.start_epoch is None:
                self.start_epoch, self.start_offset = self.epoch, self.offset
            return False
        if kind == "ping":
            return False
        if kind == "ticket":
            self.resume_ticket = str(message["ticket"])
            return False
        if kind in SERVER_CONTROL:
            self.problems.append(f"{kind}: {json.dumps(message)[:100]}")
            return False
        epoch, offset = message["epoch"], int(message["offset"])
        if epoch != self.epoch:
            self.problems.append(f"event of epoch {epoch} on stream of epoch {self.epoch}")
        key = (epoch, offset)
        if key in self._seen:
            self.duplicates.append(key)
            return False
        self._seen.add(key)
        if epoch == self.epoch and offset != self.offset + 1:
            self.gaps.append((epoch, self.offset + 1, offset))
        self.epoch, self.offset = epoch, offset
        self.events.append(Received(at=at, message=message))
        self._arrived.set()
        if self.on_event is not None:
            self.on_event(message, at)
        return True

    def _ack_later(self, ws: ClientConnection) -> None:
        # Acks are cumulative: one per ack_delay covers every event applied meanwhile (docs/delivery.md).
        if self._ack_timer is None:
            self._ack_timer = asyncio.get_running_loop().call_later(self.ack_delay, self._ack_send, ws)

    def _ack_send(self, ws: ClientConnection) -> None:
        self._ack_timer = None
        task = asyncio.create_task(_send_quietly(ws, _ack_text(self.offset)))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)


def _ack_text(offset: int) -> str:
    return f'{{"type":"ack","offset":{offset}}}'


async def _send_quietly(ws: ClientConnection, text: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(text)


async def _post(port: int, path: str, token: str) -> tuple[int, bytes]:
    """One POST with no body on a new connection; the status and the body."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        http = h11.Connection(our_role=h11.CLIENT)
        writer.write(http.send(h11.Request(method="POST", target=path, headers=[
            ("Host", f"{HOST}:{port}"), ("Authorization", f"Bearer {token}"), ("Content-Length", "0"),
            ("Connection", "close")])) + http.send(h11.EndOfMessage()))
        await writer.drain()
        status, body = 0, b""
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return status, body
    finally:
        writer.close()


def http_client(*, connections: int = 200, timeout: float = 30.0) -> httpx.AsyncClient:
    # trust_env off: a proxy from the environment must never sit between us and 127.0.0.1.
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(timeout=timeout, trust_env=False, limits=limits)


class LoopThread:
    """An event loop in a thread of its own, so a sync test keeps sockets open while it does its ORM work."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="stream-clients", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(cancel_all(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def connect_clients(clients: list[StreamClient], *, ports: list[int] | None = None,
                          parallel: int = 20) -> None:
    """Open every client's socket (round-robin over `ports` if given), at most `parallel` at a time."""
    sem = asyncio.Semaphore(parallel)

    async def one(i: int, client: StreamClient) -> None:
        async with sem:
            await client.connect(port=ports[i % len(ports)] if ports else None)

    await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))


async def close_clients(clients: list[StreamClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients))
