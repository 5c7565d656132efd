"""S9's peer run: alert POST to Alertmanager's /api/v2/alerts → its webhook request received here."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import orjson
from aiohttp import web

from bench.harness import alertmanager as peer
from bench.harness.mqtt import paced
from bench.harness.servers import free_port
from bench.harness.stats import percentile

JSON = {"Content-Type": "application/json"}
DRAIN_S = 3.0
"""How long after the last POST webhooks may still come before the missing count as lost."""


@dataclass
class PeerRun:
    rate: int
    seconds: float
    posted: int = 0
    answered_2xx: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    measured: int = 0
    no_webhook: int = 0
    webhooks: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    post_p99_ms: float = float("nan")
    schedule_lag_p99_ms: float = float("nan")


class Receiver:
    """A loopback aiohttp server noting when each alert (by its `event` label) first reaches it."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.requests = 0
        self.expected = -1
        self.all_in = asyncio.Event()

    async def wait_for(self, alerts: int, seconds: float) -> None:
        """Until `alerts` alerts have come, or `seconds` s."""
        self.expected = alerts
        if len(self.received) >= alerts:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_in.wait(), seconds)

    async def hook(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        now = time.perf_counter()
        self.requests += 1
        for alert in body.get("alerts", []):
            self.received.setdefault(alert["labels"].get("event", ""), now)
        if len(self.received) >= self.expected >= 0:
            self.all_in.set()
        return web.Response(status=200)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}/hook"
        finally:
            await runner.cleanup()


def _alert(number: int, seed: int) -> bytes:
    """One new alert: its own `event` label makes it a group of its own."""
    event = f"s9-{seed}-{number}"
    labels = {"alertname": "s9", "instance": "bench", "event": event, "kind": "sensor"}
    now = datetime.now(UTC).isoformat()
    return orjson.dumps([{"labels": labels, "annotations": {"summary": event}, "startsAt": now}])


async def peer_run(rate: int, seconds: float, seed: int) -> PeerRun:
    """Paced POSTs of one new alert each at `rate`/s; POST sent → webhook received per alert."""
    run = PeerRun(rate=rate, seconds=seconds)
    receiver = Receiver()
    sent: dict[str, float] = {}
    answers: list[tuple[int, float, bytes]] = []
    posts: set[asyncio.Task[None]] = set()
    async with (
        receiver.serving() as url,
        peer.alertmanager(config=peer.webhook_config(url)) as server,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session,
    ):

        async def post(event: str, body: bytes) -> None:
            began = time.perf_counter()
            sent[event] = began
            try:
                async with session.post(f"{server.url}/api/v2/alerts", data=body, headers=JSON) as r:
                    answers.append((r.status, time.perf_counter() - began, await r.read()))
            except (aiohttp.ClientError, TimeoutError) as err:
                answers.append((0, time.perf_counter() - began, f"{type(err).__name__}: {err}".encode()))

        def send(number: int) -> None:
            task = asyncio.create_task(post(f"s9-{seed}-{number}", _alert(number, seed)))
            posts.add(task)
            task.add_done_callback(posts.discard)

        lags = await paced(rate, seconds, send)
        await asyncio.gather(*posts)
        await receiver.wait_for(len(sent), DRAIN_S)
    _score(run, sent, receiver, answers, lags)
    return run


def _score(
    run: PeerRun,
    sent: dict[str, float],
    receiver: Receiver,
    answers: list[tuple[int, float, bytes]],
    lags: list[float],
) -> None:
    run.posted = len(sent)
    run.answered_2xx = sum(1 for status, _, _ in answers if 200 <= status < 300)
    failed = [(status, body) for status, _, body in answers if not 200 <= status < 300]
    run.errors = len(failed)
    samples = {f"{status}: {body[:160].decode(errors='replace')}" for status, body in failed}
    run.error_samples = sorted(samples)[:5]
    run.post_p99_ms = percentile(sorted(seconds * 1000 for _, seconds, _ in answers), 0.99)
    run.schedule_lag_p99_ms = percentile(lags, 0.99)
    run.webhooks = receiver.requests
    latencies = sorted(
        (receiver.received[event] - at) * 1000 for event, at in sent.items() if event in receiver.received
    )
    run.measured = len(latencies)
    run.no_webhook = run.posted - run.measured
    run.p50_ms, run.p99_ms = percentile(latencies, 0.5), percentile(latencies, 0.99)
    run.max_ms = latencies[-1] if latencies else float("nan")
