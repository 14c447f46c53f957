"""A websocket refused for its Origin is closed and forgotten: no ERROR traceback in the server's log later.

The outside probe's finding: the refusal logged a Redis read timeout from the channel layer a few seconds
after (the stock denier opened a channel-layer receive that nobody needed).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.harness.processes import Stack


def test_a_socket_from_another_origin_is_refused_and_leaves_no_error_in_the_log(stack: Stack) -> None:
    web = stack.daphne()
    assert web.port

    async def attempt() -> None:
        async with connect(f"ws://127.0.0.1:{web.port}/ws/v1/stream?ticket=x", origin="https://evil.example",  # type: ignore[arg-type]
                           proxy=None, open_timeout=5) as ws:
            await ws.recv()

    for _ in range(3):
        with pytest.raises(InvalidStatus) as refused:
            asyncio.run(attempt())
        assert refused.value.response.status_code == 403
    time.sleep(8)  # the stock denier's channel-layer read timed out about 5 s after the refusal
    log = web.log()
    assert "ERROR" not in log and "Traceback" not in log, log[-3000:]
