"""The WebSocket benchmark's (d): what connected consoles cost intake, the p99 of a 202 beside them.

One fresh server per round; in each round, interleaved, the same open-loop alert load (--rates,
--seconds; one alert in --new-every opens an incident, the rest join the hotspots' incidents)
runs with nobody connected, with --intake-consoles city consoles that read everything, and with
--stalled sockets that upgrade and then never read a byte (a receive buffer of 4 KiB), and
with as many consoles that read every byte but parse none (a child process): the server's cost
without the Python WebSocket clients' (they share this machine's cores with the server). Each
condition's 202 p99 is divided by the same round's 0-console p99; medians over --runs-intake.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bench.harness import REPO
from bench.harness.http import Posted, post_alert
from bench.harness.servers import bench_module, code_from
from bench.harness.stats import fixed as _f
from bench.harness.stats import percentile
from bench.harness.tokens import Tokens
from bench.harness.ws_clients import ClientProcesses, ws_url
from bench.scenarios.ws_server import dispatch_server, server_troubles
from bench.workloads.alerts import CITY_HOTSPOTS, CityMix

CONDITIONS = ("none", "reading", "draining", "stalled")


@dataclass
class IntakeRun:
    code: str
    round: int
    condition: str
    sockets: int
    rate: int
    answer_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    achieved_per_s: float = 0.0
    closed_codes: dict[str, int] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        ordered = sorted(self.answer_ms)
        return {"p50_ms": percentile(ordered, 0.5), "p99_ms": percentile(ordered, 0.99)}


async def _paced(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    factory: CityMix,
    rate: int,
    seconds: float,
    every: int,
) -> tuple[list[Posted], float]:
    """Alerts at `rate`/s open-loop (sent when due, whatever came back); every answer awaited."""
    total = int(rate * seconds)
    posts: list[asyncio.Task[Posted]] = []
    began = time.perf_counter()
    for index in range(total):
        delay = began + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = factory.new_incident() if index % every == 0 else factory.hotspot()
        posts.append(asyncio.create_task(post_alert(session, url, token, body)))
    done = await asyncio.gather(*posts)
    return done, time.perf_counter() - began


def _upgrade(host: str, port: int, token: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


class _Drain(asyncio.Protocol):
    """A console that reads every byte at once and parses none: the cheapest reader there is."""

    received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        _Drain.received += len(data)


async def _drain_main(url: str, count: int) -> None:
    """The child process: `count` draining consoles; says how many opened, holds them until EOF."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    token = os.environ["DISPATCH_BENCH_TOKEN"]
    gate = asyncio.Semaphore(50)
    opened: list[asyncio.BaseTransport] = []

    async def one() -> None:
        async with gate:
            transport, _ = await loop.create_connection(_Drain, host, port)
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(_upgrade(host, port, token))
            opened.append(transport)

    await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    print(len(opened), flush=True)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.read()
    print(_Drain.received, flush=True)
    os._exit(0)  # the kernel closes every socket at once


@contextlib.asynccontextmanager
async def draining_consoles(url: str, token: str, count: int) -> AsyncIterator[int]:
    """`count` consoles in a child process that read all they are sent and parse nothing."""
    process = await asyncio.create_subprocess_exec(
        *bench_module("bench.scenarios.ws_intake", url, str(count)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "DISPATCH_BENCH_TOKEN": token},
        cwd=REPO,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        yield int(await asyncio.wait_for(process.stdout.readline(), 120))
    finally:
        process.stdin.close()
        await asyncio.wait_for(process.wait(), 30)


@contextlib.asynccontextmanager
async def stalled_sockets(url: str, token: str, count: int) -> AsyncIterator[list[socket.socket]]:
    """`count` consoles that upgrade, read the 101's first bytes, and then never read again."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(50)
    sockets: list[socket.socket] = []

    async def one() -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        async with gate:
            await loop.sock_connect(sock, (host, port))
            await loop.sock_sendall(sock, _upgrade(host, port, token))
            await loop.sock_recv(sock, 12)
        sockets.append(sock)

    try:
        await asyncio.gather(*(one() for _ in range(count)))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


async def intake_round(
    args: argparse.Namespace,
    tokens: Tokens,
    template: Path,
    directory: Path,
    rate: int,
    number: int,
    code: Path | None,
) -> list[IntakeRun]:
    factory = CityMix(args.config, number)
    runs: list[IntakeRun] = []
    name = "this checkout" if code is None else str(code)
    async with contextlib.AsyncExitStack() as stack:
        with code_from(code):
            server = await stack.enter_async_context(dispatch_server(template, args.config))
        consoles = await stack.enter_async_context(
            ClientProcesses(
                "idle", ws_url(server), [tokens.dispatcher], args.client_processes, directory, False
            )
        )
        session = await stack.enter_async_context(
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256), timeout=aiohttp.ClientTimeout(total=60)
            )
        )
        hotspots = (factory.hotspot(n) for n in range(CITY_HOTSPOTS))
        await asyncio.gather(*(post_alert(session, server.url, tokens.gateway, body) for body in hotspots))

        async def load(condition: str, sockets: int) -> IntakeRun:
            await asyncio.sleep(1.0)
            run = IntakeRun(name, number, condition, sockets, rate)
            posted, took = await _paced(
                session, server.url, tokens.gateway, factory, rate, args.seconds, args.new_every
            )
            run.answer_ms = [(p.answered - p.sent) * 1000 for p in posted if p.status == 202]
            for p in posted:
                run.statuses[str(p.status)] = run.statuses.get(str(p.status), 0) + 1
            run.achieved_per_s = len(posted) / took
            print(f"  round {number + 1} {name} {condition} ({sockets}): {_say(run)}", flush=True)
            return run

        runs.append(await load("none", 0))
        opened = await consoles.open_to(args.intake_consoles)
        runs.append(await load("reading", opened["open"]))
        runs[-1].closed_codes = (await consoles.report())["closed_codes"]
        await consoles.close_all()
        async with draining_consoles(server.url, tokens.dispatcher, args.intake_consoles) as draining:
            runs.append(await load("draining", draining))
        async with stalled_sockets(server.url, tokens.dispatcher, args.stalled) as stalled:
            runs.append(await load("stalled", len(stalled)))
    print(f"  server: {server_troubles(server.log_text)['slow_consumers_closed']} slow closed", flush=True)
    return runs


def _say(run: IntakeRun) -> str:
    figures = run.figures()
    return (
        f"202 p50 {figures['p50_ms']:.1f} ms p99 {figures['p99_ms']:.1f} ms, "
        f"{run.achieved_per_s:.0f}/s sent, statuses {run.statuses}"
    )


async def intake_scenario(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path
) -> dict[str, Any]:
    rate = int(args.rates.split(",")[0])
    runs: list[IntakeRun] = []
    codes: list[Path | None] = [None] if args.baseline_code is None else [args.baseline_code, None]
    for number in range(args.runs_intake):
        print(f"intake round {number + 1}", flush=True)
        for code in codes:  # interleaved: the machine's other load falls on both alike
            runs += await intake_round(args, tokens, template, directory, rate, number, code)
    return {
        "rate": rate,
        "runs": [asdict(run) | {"figures": run.figures()} for run in runs],
        "table": _table(args, rate, runs),
    }


def _table(args: argparse.Namespace, rate: int, runs: list[IntakeRun]) -> str:
    lines = [
        f"(d) p99 of a 202 at {rate} alerts/s for {args.seconds:g} s, one in {args.new_every} new; "
        f"rounds interleaved, ratio to the same round's 0-console p99; ms",
        "",
        "| code | condition | sockets | p50 (median) | p99 (median) | p99 ratio (median) "
        "| p99 each round | ratios |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    baseline = {(run.code, run.round): run.figures()["p99_ms"] for run in runs if run.condition == "none"}
    for code, condition in itertools.product(dict.fromkeys(run.code for run in runs), CONDITIONS):
        those = [run for run in runs if run.condition == condition and run.code == code]
        if not those:
            continue
        p99s = [run.figures()["p99_ms"] for run in those]
        ratios = [run.figures()["p99_ms"] / baseline[(code, run.round)] for run in those]
        p50 = statistics.median(r.figures()["p50_ms"] for r in those)
        lines.append(
            f"| {code} | {condition} | {those[-1].sockets:,} | {_f(p50)} "
            f"| {_f(statistics.median(p99s))} | {statistics.median(ratios):.2f}× "
            f"| {', '.join(_f(v) for v in p99s)} | {', '.join(f'{v:.2f}' for v in ratios)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # the draining consoles' child process: URL COUNT
    asyncio.run(_drain_main(sys.argv[1], int(sys.argv[2])))
