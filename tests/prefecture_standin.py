"""The prefecture's stand-in: a small loopback server answering `POST /api/v1/link/cap` as the
link contract says (202 with an incident id, 202 duplicate for an identifier seen before, 503
while told to be down), recording what it was sent.

Until the prefecture side of the link (helper "pref") is merged, the county's tests talk to
this; the lead replaces it with a real prefecture server on merge.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

WAIT_S = 10.0

_CAP_FIELD = re.compile(r"<(identifier|sender|msgType|incidents|references)>([^<]*)</\1>")


@dataclass
class Received:
    """One request the stand-in took (accepted or not)."""

    path: str
    headers: dict[str, str]
    body: str
    status: int

    def field(self, name: str) -> str | None:
        """A top-level CAP element's text (identifier, sender, msgType, incidents, references)."""
        for found, value in _CAP_FIELD.findall(self.body):
            if found == name:
                return str(value)
        return None


@dataclass
class PrefectureStandIn:
    """Answers like the prefecture would; `down` answers 503, `refuse` answers that status."""

    server: TestServer | None = None
    received: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    """Each identifier's first delivery, in the order they arrived."""
    incidents: dict[tuple[str, str], int] = field(default_factory=dict)
    down: bool = False
    refuse: int | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def identifiers(self) -> Counter[str]:
        """How many times each identifier was accepted as new (exactly once, if all is well)."""
        return Counter(each.headers.get("Idempotency-Key", "") for each in self.accepted)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.text()
        status = 503 if self.down else (self.refuse or 202)
        entry = Received(request.path, dict(request.headers), body, status)
        self.received.append(entry)
        if self.down:
            return web.json_response({"error": {"code": "unavailable", "message": "down"}}, status=503)
        if self.refuse is not None:
            return web.json_response(
                {"error": {"code": "invalid", "message": "refused", "field": "body"}}, status=self.refuse
            )
        key = request.headers.get("Idempotency-Key", "")
        if any(each.headers.get("Idempotency-Key") == key for each in self.accepted):
            return web.json_response({"status": "duplicate", "identifier": key}, status=202)
        self.accepted.append(entry)
        case = (entry.field("sender") or "", entry.field("incidents") or key)
        incident = self.incidents.setdefault(case, len(self.incidents) + 1)
        return web.json_response({"status": "accepted", "incident_id": incident}, status=202)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._receive)
        self.server = TestServer(app, port=self.port or None)  # the same port again after a stop
        await self.server.start_server()
        self.port = self.server.port or 0

    async def stop(self) -> None:
        """Nobody listens any more: the county's connection is refused."""
        if self.server is not None:
            await self.server.close()
            self.server = None

    async def until(self, check: Callable[[], bool], what: str) -> None:
        await eventually(lambda: _now(check()), what)


async def _now(value: bool) -> bool:
    return value


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Delivery crosses a real socket and the writer's thread: wait for it, naming it."""
    give_up = time.monotonic() + WAIT_S
    while time.monotonic() < give_up:
        if await check():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
async def prefecture() -> AsyncIterator[PrefectureStandIn]:
    standin = PrefectureStandIn()
    await standin.start()
    yield standin
    await standin.stop()
