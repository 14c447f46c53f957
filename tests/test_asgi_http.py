"""HTTP through the ASGI application, as Daphne serves it (the test client elsewhere skips this path)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from apps.accounts.services import DeviceInfo, session_issue
from apps.cases.models import PersonPhoto
from apps.cases.services import person_photo_add
from rtcc_server.asgi import application
from tests.base import World, signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)
HOST = [(b"host", b"127.0.0.1")]
PORTRAIT = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "media" / "grace_hopper.jpg"


def _get(path: str, *, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    """One request; the body may come in several messages (static files stream), the last without a body key."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "headers": HOST + (headers or []), "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8000)}

    async def go() -> dict[str, Any]:
        app = ApplicationCommunicator(application, scope)
        await app.send_input({"type": "http.request", "body": b""})
        start = await app.receive_output(5)
        body = b""
        while True:
            part = await app.receive_output(5)
            body += part.get("body", b"")
            if not part.get("more_body"):
                break
        await app.wait(5)
        return {"status": start["status"], "headers": {k.decode().lower(): v.decode() for k, v in start["headers"]},
                "body": body}

    response: dict[str, Any] = async_to_sync(go)()
    return response


def test_the_health_check_answers() -> None:
    response = _get("/healthz")
    assert response["status"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}


def test_the_terminal_script_is_served_with_security_headers() -> None:
    response = _get("/static/web/rtcc.js")
    assert response["status"] == 200
    assert "javascript" in response["headers"]["content-type"]
    assert b"ack" in response["body"]
    # The middleware around the static files ran: it is the same chain the API goes through.
    assert response["headers"]["x-content-type-options"] == "nosniff"


def test_an_officer_gets_a_stream_ticket_and_a_stranger_does_not(world: World) -> None:
    issued = session_issue(user=world.omar, device_info=DeviceInfo(name="Omar's phone", kind="phone",
                                                                   platform="android"), ip="127.0.0.1")
    granted = _get("/api/v1/stream/ticket", method="POST",
                   headers=[(b"authorization", f"Bearer {issued.token}".encode())])
    assert granted["status"] == 201
    assert json.loads(granted["body"])["url"] == "/ws/v1/stream"

    refused = _get("/api/v1/stream/ticket", method="POST")
    assert refused["status"] == 401
    assert json.loads(refused["body"])["code"] == "not_authenticated"


def test_a_photo_link_streams_whole_and_by_range_without_being_read_into_memory_first(world: World) -> None:
    person_photo_add(person=world.person, filename="portrait.jpg", content=PORTRAIT.read_bytes(),
                     content_type="image/jpeg")
    url = signed_in_client(world.omar).get(f"/api/v1/people/{world.person.pk}").json()["photos"][0]["url"]
    url = url.removeprefix("http://testserver")
    with PersonPhoto.objects.get().variants.get(name="phone").image.open("rb") as fh:
        stored = fh.read()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        whole = _get(url)
        part = _get(url, headers=[(b"range", b"bytes=100-1123")])
    assert whole["status"] == 200 and whole["body"] == stored
    assert whole["headers"]["cache-control"] == "private, no-store"
    assert part["status"] == 206 and part["body"] == stored[100:1124]
    assert part["headers"]["content-range"] == f"bytes 100-1123/{len(stored)}"
    # Django says this when it must read a response whole before sending it.
    assert not [w for w in caught if "consume synchronous iterators" in str(w.message)]


def test_more_requests_than_request_threads_all_get_answers_each_on_one_thread_of_its_own() -> None:
    # A reconnect storm's ticket requests arrive by the hundred; with two request threads, six at once all
    # complete, each request's sync work (its view and its response's close) on one thread, and no thread is
    # started for a request beyond the two.
    import asyncio
    import threading

    from rtcc_server.asgi import _RequestThreads

    threads = _RequestThreads(2)
    seen: dict[int, set[int]] = {}
    busy = 0
    most = 0

    async def request(n: int) -> None:
        nonlocal busy, most
        executor = await threads.take()
        try:
            busy += 1
            most = max(most, busy)
            loop = asyncio.get_running_loop()
            for _ in range(2):
                name = await loop.run_in_executor(executor, threading.get_ident)
                seen.setdefault(n, set()).add(name)
            await asyncio.sleep(0.01)
        finally:
            busy -= 1
            threads.give(executor)

    async def storm() -> None:
        waiting = asyncio.ensure_future(request(99))
        await asyncio.gather(*(request(n) for n in range(6)), return_exceptions=False)
        await waiting

    asyncio.run(storm())
    assert most == 2
    assert all(len(names) == 1 for names in seen.values()) and len(seen) == 7
    assert len({name for names in seen.values() for name in names}) == 2


def test_a_request_that_leaves_while_waiting_for_a_thread_costs_no_thread() -> None:
    import asyncio

    from rtcc_server.asgi import _RequestThreads

    threads = _RequestThreads(1)

    async def scenario() -> None:
        first = await threads.take()
        gone = asyncio.ensure_future(threads.take())
        later = asyncio.ensure_future(threads.take())
        await asyncio.sleep(0)
        gone.cancel()  # the client hung up
        threads.give(first)
        assert await asyncio.wait_for(later, 2) is first

    asyncio.run(scenario())
