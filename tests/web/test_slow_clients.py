"""Slow and abandoned requests over raw sockets against a real loopback server.

The time limits are aiohttp's and asyncio's, on the event loop's clock, not the injected one:
the tests configure them short (0.2 s) and wait for what the server does, never for time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from tests.conftest import Harness, ServerFactory
from tests.factories import alert, make_config

LIMIT_S = 0.2
WAIT_S = 10.0  # only a failing test waits this out


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The HTTP edge: the database does not matter here (overrides conftest's two databases)."""
    return sqlite_url


@pytest.fixture
async def server(make_server: ServerFactory) -> Harness:
    config = make_config(web={"header_timeout": LIMIT_S, "body_timeout": LIMIT_S})
    # As `serve` runs it (aiohttp's default): a handler is not cancelled when its client goes.
    return await make_server(config, handler_cancellation=False)


def _head(server: Harness, body_length: int) -> bytes:
    token = server.token("gateway")
    return (
        "POST /api/v1/alerts HTTP/1.1\r\n"
        f"Host: {server.client.host}:{server.client.port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {body_length}\r\n\r\n"
    ).encode()


async def _connect(server: Harness) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(server.client.host, server.client.port)


async def _web_counts(server: Harness) -> dict[str, Any]:
    response = await server.client.get("/readyz")
    assert response.status == 200, await response.text()
    counts: dict[str, Any] = (await response.json())["web"]
    return counts


async def test_slow_clients_body_slower_than_the_limit_gets_408_and_is_counted(server: Harness) -> None:
    body = orjson.dumps(alert("slow-1"))
    reader, writer = await _connect(server)
    writer.write(_head(server, len(body)) + body[:20])  # and the rest never comes
    await writer.drain()

    answer = await asyncio.wait_for(reader.read(), WAIT_S)  # read() returns at the close

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    error = orjson.loads(rest.partition(b"\r\n\r\n")[2])["error"]
    assert error["code"] == "request_timeout"
    assert f"{LIMIT_S:g}s" in error["message"]
    writer.close()
    assert (await _web_counts(server))["body_timed_out"] == 1
    incidents = await server.client.get("/api/v1/incidents", headers=server.auth("admin"))
    assert (await incidents.json())["incidents"] == []  # nothing half-taken


async def test_slow_clients_head_slower_than_the_limit_is_closed(server: Harness) -> None:
    reader, writer = await _connect(server)
    writer.write(_head(server, 10)[:30])  # part of the request line, and no more
    await writer.drain()

    assert await asyncio.wait_for(reader.read(), WAIT_S) == b""  # closed without an answer
    writer.close()


async def test_slow_clients_300_abandoned_uploads_log_one_line_without_traceback(
    server: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = orjson.dumps(alert("gone"))
    head = _head(server, len(body))
    for _ in range(300):
        _reader, writer = await _connect(server)
        writer.write(head + body[:20])
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def all_noticed() -> None:
        # Each look is a request to the server; its connections close in their own time.
        while (await _web_counts(server))["abandoned"] < 300:
            continue

    await asyncio.wait_for(all_noticed(), WAIT_S)
    assert (await _web_counts(server))["abandoned"] == 300
    noisy = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(noisy) <= 2, [record.getMessage() for record in noisy]
    assert all(record.exc_info is None for record in caplog.records)
    assert "300 abandoned" in noisy[0].getMessage() or "1 abandoned" in noisy[0].getMessage()
