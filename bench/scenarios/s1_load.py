"""S1's load: 16 keep-alive clients posting one server's kind of body back to back, 2xx counted."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.harness.stats import percentile

CLIENTS = 16
Encode = Callable[[list[dict[str, Any]]], bytes]


@dataclass(frozen=True)
class Target:
    """Where and how one server takes alerts: its URL and path, headers, and its body's shape."""

    url: str
    path: str
    headers: dict[str, str]
    encode: Encode


@dataclass
class Figures:
    """One run's figures, counted over requests answered inside the measured window."""

    alerts_per_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    accepted: int
    seconds: float
    error_samples: list[str] = field(default_factory=list)
    incidents_answered: int = 0
    accepted_total: int = 0
    stored: dict[str, int] = field(default_factory=dict)
    server_cpus: list[str] = field(default_factory=list)
    load_cpus: list[str] = field(default_factory=list)
    server_busy: float = float("nan")  # CPU seconds per wall second over warmup + window
    load_busy: float = float("nan")


@dataclass
class _Tally:
    start: float
    end: float
    batch: int
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    incidents: set[int] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)

    def note(self, status: int, answer: bytes, sent: float, done: float) -> None:
        measured = self.start <= done <= self.end
        if not 200 <= status < 300:
            self.errors[str(status)] += 1
            sample = f"{status}: {answer[:200].decode(errors='replace')}"
            if len(self.samples) < 5 and sample not in self.samples:
                self.samples.append(sample)
            return
        self.counts["accepted_total"] += self.batch
        if not measured:
            return
        self.counts["accepted"] += self.batch
        self.counts["requests"] += 1
        self.latencies.append((done - sent) * 1000)
        if answer.startswith(b"{"):  # ours: which incidents the alerts joined or opened
            body = orjson.loads(answer)
            for result in body.get("results", [body]):
                self.incidents.add(result.get("incident_id"))

    def figures(self, seconds: float) -> Figures:
        self.latencies.sort()
        return Figures(
            alerts_per_s=self.counts["accepted"] / seconds,
            requests_per_s=self.counts["requests"] / seconds,
            p50_ms=percentile(self.latencies, 0.50),
            p99_ms=percentile(self.latencies, 0.99),
            errors=sum(self.errors.values()),
            accepted=self.counts["accepted"],
            seconds=seconds,
            error_samples=self.samples,
            incidents_answered=len(self.incidents - {None}),
            accepted_total=self.counts["accepted_total"],
        )


async def load(
    target: Target, alerts: Callable[[int], list[dict[str, Any]]], batch: int, seconds: float, warmup: float
) -> Figures:
    """CLIENTS clients post `batch` alerts a request for warmup + seconds; only 2xx answers count."""
    start = time.perf_counter() + warmup
    tally = _Tally(start, start + seconds, batch)
    address = target.url + target.path

    async def client(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < tally.end:
            body = target.encode(alerts(batch))
            sent = time.perf_counter()
            try:
                async with session.post(address, data=body, headers=target.headers) as response:
                    status, answer = response.status, await response.read()
            except (aiohttp.ClientError, TimeoutError) as err:
                status, answer = 0, f"{type(err).__name__}: {err}".encode()
            tally.note(status, answer, sent, time.perf_counter())

    connector = aiohttp.TCPConnector(limit=CLIENTS, limit_per_host=CLIENTS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
    return tally.figures(seconds)
