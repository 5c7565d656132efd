"""HTTP clients of the server: one alert POST timed, and the server's readiness figures."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson


@dataclass
class Posted:
    status: int
    sent: float
    answered: float
    body: dict[str, Any]


async def post_alert(
    session: aiohttp.ClientSession, url: str, token: str, body: bytes, path: str = "/api/v1/alerts"
) -> Posted:
    """POST /api/v1/alerts (or another intake `path`); time.time() when sent and answered, so other
    processes share the clock."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    sent = time.time()
    try:
        async with session.post(f"{url}{path}", data=body, headers=headers) as response:
            status, answer = response.status, await response.read()
    except (aiohttp.ClientError, TimeoutError) as err:
        return Posted(0, sent, time.time(), {"error": f"{type(err).__name__}: {err}"})
    answered = time.time()
    try:
        parsed = orjson.loads(answer)
    except orjson.JSONDecodeError:
        parsed = {"error": answer[:200].decode(errors="replace")}
    return Posted(status, sent, answered, parsed)


async def mqtt_stats(url: str) -> dict[str, Any]:
    """`mqtt` of GET /readyz: connected, received and rejected counters, published, outbox."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/readyz") as response:
        body = await response.json()
        stats: dict[str, Any] = body.get("mqtt") or {}
        return stats
