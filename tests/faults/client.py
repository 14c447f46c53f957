"""A stream client as a phone runs it, over real sockets: ticket over HTTP, websocket, hello, acks, reconnect.

It keeps what the user would be shown and checks the protocol's promise as it
goes: within an epoch the offsets it applies are contiguous (a gap is an event
lost) and never repeat (a repeat is a duplicate shown). Used by the fault tests
and the dispatch and push benches; only httpx and websockets, no Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

T = TypeVar("T")

# Events carry these; control messages (ready, resync, ping, revoked, error) do not.
_CONTROL = frozenset({"ready", "resync", "ping", "revoked", "error"})


@dataclass
class Received:
    at: float  # time.monotonic() when it arrived
    message: dict[str, Any]


@dataclass
class StreamClient:
    token: str
    port: int
    ack: bool = True
    epoch: str | None = None
    offset: int = 0
    events: list[Received] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    gaps: list[tuple[str, int, int]] = field(default_factory=list)  # (epoch, expected, got)
    resyncs: int = 0
    closes: list[int | None] = field(default_factory=list)
    connects: int = 0
    _seen: set[tuple[str, int]] = field(default_factory=set)
    _ws: ClientConnection | None = None
    _reader: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def ticket(self, http: httpx.AsyncClient) -> str:
        response = await http.post(f"http://127.0.0.1:{self.port}/api/v1/stream/ticket",
                                   headers={"Authorization": f"Bearer {self.token}"})
        response.raise_for_status()
        return str(response.json()["ticket"])

    async def connect(self, http: httpx.AsyncClient, *, port: int | None = None, timeout: float = 10.0) -> None:
        """Open the socket (on `port` if given: another server) and wait for "ready"."""
        if port is not None:
            self.port = port
        ticket = await self.ticket(http)
        self._ready = asyncio.Event()
        self._ws = await connect(f"ws://127.0.0.1:{self.port}/ws/v1/stream?ticket={ticket}",
                                 origin=f"http://127.0.0.1:{self.port}",  # type: ignore[arg-type]
                                 proxy=None, open_timeout=timeout, ping_interval=None, compression=None)
        self.connects += 1
        await self._ws.send(json.dumps({"type": "hello", "epoch": self.epoch, "offset": self.offset}))
        self._reader = asyncio.create_task(self._read(self._ws))
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def wait_closed(self, timeout: float) -> None:
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)

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
                self._apply(json.loads(raw), time.monotonic())
                if self.ack and self.epoch is not None and self.offset:
                    await ws.send(json.dumps({"type": "ack", "offset": self.offset}))
        except ConnectionClosed:
            pass
        finally:
            self.closes.append(ws.close_code)

    def _apply(self, message: dict[str, Any], at: float) -> None:
        kind = message.get("type")
        if kind == "ready":
            self._ready.set()
            return
        if kind == "resync":
            self.resyncs += 1
            self.epoch, self.offset = message["epoch"], int(message["offset"])
            return
        if kind in _CONTROL:
            return
        epoch, offset = message["epoch"], int(message["offset"])
        key = (epoch, offset)
        if key in self._seen:
            self.duplicates.append(key)
            return
        self._seen.add(key)
        if epoch == self.epoch and offset != self.offset + 1:
            self.gaps.append((epoch, self.offset + 1, offset))
        self.epoch, self.offset = epoch, offset
        self.events.append(Received(at=at, message=message))
        self._arrived.set()


def http_client() -> httpx.AsyncClient:
    # trust_env off: a proxy from the environment must never sit between us and 127.0.0.1.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    return httpx.AsyncClient(timeout=30.0, trust_env=False, limits=limits)


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
    async with http_client() as http:
        async def one(i: int, client: StreamClient) -> None:
            async with sem:
                await client.connect(http, port=ports[i % len(ports)] if ports else None)

        await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))


async def close_clients(clients: list[StreamClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients))
