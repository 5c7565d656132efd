"""Bare baseline servers, each the ceiling one benchmark measures the product against.

Run as a child: `python -m bench.harness.baselines intake|echo|broadcast PORT`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import aiohttp
import orjson

BATCH = 50
# An `incident_reported` frame of the product is ~560 bytes; the baselines send one as long.
BASELINE_PADDING = "x" * 300
_SINGLE_ANSWER = orjson.dumps({"alert_id": 1, "incident_id": 1, "duplicate": False})
_BATCH_ANSWER = orjson.dumps(
    {"results": [{"alert_id": n, "incident_id": 1, "duplicate": False} for n in range(1, BATCH + 1)]}
)


def serve_intake(port: int) -> None:
    """The loopback ceiling: read the body, answer 202 with a fixed body of the same shape as ours."""
    from aiohttp import web

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        answer = _BATCH_ANSWER if body.startswith(b'{"alerts"') else _SINGLE_ANSWER
        return web.Response(status=202, body=answer, content_type="application/json")

    async def ready(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/api/v1/alerts", post)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_echo(port: int) -> None:
    """A trivial aiohttp WebSocket server: a hello on connect, then echo."""
    from aiohttp import web

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('{"type":"hello"}')
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
        return ws

    async def ready(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_get("/ws", socket)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def baseline_frame(number: int) -> str:
    """The shape of our `incident_reported` frame, so the clients filter and parse it alike."""
    return orjson.dumps(
        {
            "type": "event",
            "seq": number,
            "event": {
                "seq": number,
                "type": "incident_reported",
                "occurred_at": time.time(),
                "incident_id": number,
                "payload": {"title": BASELINE_PADDING},
            },
        }
    ).decode()


def serve_broadcast(port: int) -> None:
    """A bare `websockets` server: a control socket asks, websockets.broadcast() sends to all others."""
    from http import HTTPStatus

    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()

    def http(connection: ServerConnection, request: Any) -> Any:
        if request.path == "/readyz":
            return connection.respond(HTTPStatus.OK, "ready\n")
        return None

    async def handler(connection: ServerConnection) -> None:
        if connection.request is not None and connection.request.path == "/control":
            async for message in connection:
                number = int(message)
                broadcast(clients, baseline_frame(number))
                await connection.send(str(number))
            return
        clients.add(connection)
        try:
            await connection.send('{"type":"hello"}')
            await connection.wait_closed()
        finally:
            clients.discard(connection)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, process_request=http, ping_interval=None) as server:
            await server.serve_forever()

    asyncio.run(main())


SERVERS = {"intake": serve_intake, "echo": serve_echo, "broadcast": serve_broadcast}


def main(argv: list[str]) -> int:
    kind, port = argv
    SERVERS[kind](int(port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
