"""The WebSocket benchmark's (b): a new incident's fan-out to N city consoles, beside broadcast()."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import websockets

from bench.harness.http import post_alert
from bench.harness.servers import bare_server
from bench.harness.stats import fixed as _f
from bench.harness.stats import parse_sizes, percentile
from bench.harness.tokens import Tokens
from bench.harness.ws_clients import ClientProcesses, ws_url
from bench.scenarios.ws_server import dispatch_server, server_troubles
from bench.workloads.alerts import CityMix

COMPLETE_TIMEOUT_S = 15.0


@dataclass
class FanoutRun:
    server: str
    consoles: int
    reached: int
    incidents: int
    delivered_to_all: int
    from_answer_ms: list[float] = field(default_factory=list)
    from_sent_ms: list[float] = field(default_factory=list)
    from_occurred_ms: list[float] = field(default_factory=list)
    first_from_answer_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    frames_per_console: float = 0.0
    closed_codes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    troubles: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        return {
            "p50_ms": percentile(sorted(self.from_answer_ms), 0.50),
            "p99_ms": percentile(sorted(self.from_answer_ms), 0.99),
            "max_ms": max(self.from_answer_ms, default=float("nan")),
            "sent_p50_ms": percentile(sorted(self.from_sent_ms), 0.50),
            "sent_p99_ms": percentile(sorted(self.from_sent_ms), 0.99),
            "occurred_p50_ms": percentile(sorted(self.from_occurred_ms), 0.50),
            "first_p50_ms": percentile(sorted(self.first_from_answer_ms), 0.50),
            "answer_p50_ms": percentile(sorted(self.answer_ms), 0.50),
        }


async def fanout_dispatch(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path, size: int, seed: int
) -> FanoutRun:
    """A fresh server, `size` consoles, --incidents new incidents one after another.

    Their categories run the standard ladder (60 s to accept at the street step) and a run is
    shorter than that, so no deadline fires and adds its own events to the consoles' stream.
    """
    factory = CityMix(args.config, seed, policy="standard")
    async with (
        dispatch_server(template, args.config) as server,
        ClientProcesses(
            "console",
            ws_url(server),
            [tokens.dispatcher],
            args.client_processes,
            directory,
            args.compression == "deflate",
        ) as consoles,
        aiohttp.ClientSession() as session,
    ):
        opened = await consoles.open_to(size)
        await asyncio.sleep(0.5)
        frames_before = (await consoles.report())["frames"]
        run = FanoutRun("dispatch", size, opened["open"], 0, 0)
        for _ in range(args.incidents):
            posted = await post_alert(session, server.url, tokens.gateway, factory.new_incident())
            if posted.status != 202:
                run.errors.append(f"{posted.status}: {posted.body}")
                continue
            run.incidents += 1
            done = await consoles.complete(posted.body["incident_id"], COMPLETE_TIMEOUT_S)
            if done is None:
                run.errors.append(f"incident {posted.body['incident_id']}: not on every console")
            else:
                _note_fanout(run, done, posted.sent, posted.answered)
            await asyncio.sleep(args.gap)
        report = await consoles.report()
        run.frames_per_console = (report["frames"] - frames_before) / max(1, report["open"] * run.incidents)
        run.closed_codes = report["closed_codes"]
    run.troubles = server_troubles(server.log_text)
    _say_fanout(run)
    return run


async def fanout_bare(args: argparse.Namespace, directory: Path, sizes: list[int]) -> list[FanoutRun]:
    runs: list[FanoutRun] = []
    numbers = itertools.count(1)
    async with (
        bare_server("broadcast") as server,
        ClientProcesses(
            "console", ws_url(server), [], args.client_processes, directory, args.compression == "deflate"
        ) as consoles,
        websockets.connect(ws_url(server, "/control"), ping_interval=None, compression=None) as control,
    ):
        for size in sizes:
            opened = await consoles.open_to(size)
            await asyncio.sleep(0.5)
            frames_before = (await consoles.report())["frames"]
            run = FanoutRun("bare websockets.broadcast", size, opened["open"], 0, 0)
            for _ in range(args.incidents):
                number = next(numbers)
                sent = time.time()
                await control.send(str(number))
                await control.recv()
                answered = time.time()
                run.incidents += 1
                done = await consoles.complete(number, COMPLETE_TIMEOUT_S)
                if done is None:
                    run.errors.append(f"frame {number}: not on every console")
                else:
                    _note_fanout(run, done, sent, answered)
                await asyncio.sleep(args.gap)
            report = await consoles.report()
            run.frames_per_console = (report["frames"] - frames_before) / max(
                1, report["open"] * run.incidents
            )
            run.closed_codes = report["closed_codes"]
            runs.append(run)
            _say_fanout(run)
    return runs


def _note_fanout(run: FanoutRun, done: list[dict[str, Any]], sent: float, answered: float) -> None:
    last = max(part["last"] for part in done)
    first = min(part["first"] for part in done)
    occurred = done[0]["occurred_at"]
    received = sum(part["count"] for part in done)
    if received < run.reached:  # sockets closed on the way: "all" is then all that were left
        run.errors.append(f"reached {received} of {run.reached} consoles")
    else:
        run.delivered_to_all += 1
    run.from_answer_ms.append((last - answered) * 1000)
    run.from_sent_ms.append((last - sent) * 1000)
    run.from_occurred_ms.append((last - occurred) * 1000)
    run.first_from_answer_ms.append((first - answered) * 1000)
    run.answer_ms.append((answered - sent) * 1000)


def _say_fanout(run: FanoutRun) -> None:
    figures = run.figures()
    print(
        f"  {run.server}: {run.reached:,} consoles, {run.delivered_to_all}/{run.incidents} to all, "
        f"202→last p50 {figures['p50_ms']:.1f} ms p99 {figures['p99_ms']:.1f} ms, "
        f"{run.frames_per_console:.1f} frames/console/incident",
        flush=True,
    )
    for error in run.errors[:3]:
        print(f"    error: {error}", flush=True)


async def fanout_scenario(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path
) -> dict[str, Any]:
    sizes = parse_sizes(args.consoles)
    runs: dict[str, list[FanoutRun]] = {"dispatch": [], "bare websockets.broadcast": []}
    for number in range(args.runs_fanout):
        print(f"fanout run {number + 1}", flush=True)
        for size in sizes:
            runs["dispatch"].append(await fanout_dispatch(args, tokens, template, directory, size, number))
        runs["bare websockets.broadcast"] += await fanout_bare(args, directory, sizes)

    def median_of(name: str, size: int, key: str) -> float:
        values = [run.figures()[key] for run in runs[name] if run.consoles == size]
        return statistics.median(values) if values else float("nan")

    lines = [
        f"(b) New incident → LAST of N city consoles has its incident_reported frame; "
        f"{args.incidents} incidents per size, median of {args.runs_fanout} run(s); ms. For the bare server "
        f"'202' is its control socket's answer once broadcast() has returned; p99 of 50 is the worst but one",
        "",
        "| consoles | server | reached | to all | 202→last p50 | 202→last p99 | max | sent→last p50 "
        "| sent→last p99 | occurred_at→last p50 | sent→202 p50 | 202→first p50 | frames/console/incident "
        "| closes |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    medians: dict[str, dict[int, dict[str, float]]] = {}
    for size in sizes:
        for name in runs:
            those = [run for run in runs[name] if run.consoles == size]
            if not those:
                continue
            figures = {key: median_of(name, size, key) for key in those[0].figures()}
            medians.setdefault(name, {})[size] = figures
            lines.append(_fanout_row(size, name, those, figures))
    return {
        "sizes": sizes,
        "incidents_per_size": args.incidents,
        "median": medians,
        "runs": {
            name: [asdict(run) | {"figures": run.figures()} for run in each] for name, each in runs.items()
        },
        "table": "\n".join(lines),
    }


def _fanout_row(size: int, name: str, those: list[FanoutRun], figures: dict[str, float]) -> str:
    closes = Counter[str]()
    for run in those:
        closes.update(run.closed_codes)
    return (
        f"| {size:,} | {name} | {those[-1].reached:,} | "
        f"{sum(r.delivered_to_all for r in those)}/{sum(r.incidents for r in those)} "
        f"| {_f(figures['p50_ms'])} | {_f(figures['p99_ms'])} | {_f(figures['max_ms'])} "
        f"| {_f(figures['sent_p50_ms'])} | {_f(figures['sent_p99_ms'])} "
        f"| {_f(figures['occurred_p50_ms'])} "
        f"| {_f(figures['answer_p50_ms'])} | {_f(figures['first_p50_ms'])} "
        f"| {statistics.median(r.frames_per_console for r in those):.1f} | {dict(closes) or '—'} |"
    )
