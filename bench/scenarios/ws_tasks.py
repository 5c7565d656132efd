"""The WebSocket benchmark's (c): alert POST → task_assigned frame on the tasked unit's tablet.

Tablets accept and complete every task over the socket; alerts are paced open-loop, most of
them repeats at hotspots, --probe-rate of them new incidents near grid workers (those measured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness.http import Posted, post_alert
from bench.harness.stats import fixed as _f
from bench.harness.stats import parse_sizes, percentile
from bench.harness.tokens import Tokens
from bench.harness.ws_clients import ClientProcesses, ws_url
from bench.scenarios.ws_server import dispatch_server, server_troubles
from bench.workloads.alerts import CITY_HOTSPOTS, CityMix

TASK_DRAIN_S = 2.0
Sent = list[tuple[float, asyncio.Task[Posted]]]
"""Alerts posted: when each was due (time.time()) and its POST."""


@dataclass
class TaskRun:
    rate: int
    seconds: float
    posted: int = 0
    answered_202: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    achieved_per_s: float = 0.0
    post_p50_ms: float = float("nan")
    post_p99_ms: float = float("nan")
    schedule_lag_p99_ms: float = float("nan")
    probes: int = 0
    probes_opened: int = 0
    measured: int = 0
    no_task: int = 0
    wrong_tablet: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    from_answer_p50_ms: float = float("nan")
    targeted_unit_got_it: float = float("nan")
    tasks_seen: int = 0
    tablet_results: dict[str, int] = field(default_factory=dict)
    closed_codes: dict[str, int] = field(default_factory=dict)
    consoles: int = 0
    console_frames: int = 0
    console_closed_codes: dict[str, int] = field(default_factory=dict)
    troubles: dict[str, Any] = field(default_factory=dict)


async def tasks_run(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path, rate: int, seed: int
) -> TaskRun:
    factory = CityMix(args.config, seed)
    run = TaskRun(rate=rate, seconds=args.seconds)
    responders = list(tokens.responders)
    deflate = args.compression == "deflate"
    connector = aiohttp.TCPConnector(limit=256)
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(dispatch_server(template, args.config))
        tablets = await stack.enter_async_context(
            ClientProcesses(
                "tablet", ws_url(server), [tokens.responders[r] for r in responders], 1, directory, deflate
            )
        )
        consoles = None
        if args.tasks_consoles:
            consoles = await stack.enter_async_context(
                ClientProcesses("console", ws_url(server), [tokens.dispatcher], 1, directory, deflate)
            )
            opened = await consoles.open_to(args.tasks_consoles)
            run.consoles = opened["open"]
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))
        )
        opened = await tablets.open_to(len(responders))
        if opened["failed"]:
            run.error_samples.append(f"tablets: {opened['failures']}")
        # The hotspots' incidents open first; their tasks are accepted and completed at once.
        await asyncio.gather(
            *(
                post_alert(session, server.url, tokens.gateway, factory.hotspot(n))
                for n in range(CITY_HOTSPOTS)
            )
        )
        await asyncio.sleep(1.0)
        await tablets.command({"cmd": "forget"})
        post = _poster(session, server.url, tokens.gateway)
        probes, others, window = await _paced(post, factory, rate, args.seconds, args.probe_rate)
        await asyncio.sleep(TASK_DRAIN_S)
        report = await tablets.report()
        if consoles is not None:
            seen = await consoles.report()
            run.console_frames, run.console_closed_codes = seen["frames"], seen["closed_codes"]
    run.troubles = server_troubles(server.log_text)
    _score_tasks(run, probes, others, report, window)
    return run


Post = Callable[[bytes], asyncio.Task[Posted]]


def _poster(session: aiohttp.ClientSession, url: str, token: str) -> Post:
    def post(body: bytes) -> asyncio.Task[Posted]:
        return asyncio.create_task(post_alert(session, url, token, body))

    return post


async def _paced(
    post: Post, factory: CityMix, rate: int, seconds: float, probe_rate: float
) -> tuple[Sent, Sent, float]:
    """Alerts at `rate`/s open-loop, one in round(rate / probe_rate) a probe; every answer awaited."""
    probe_every = max(1, round(rate / probe_rate))
    total = int(rate * seconds)
    probes: Sent = []
    others: Sent = []
    began = time.perf_counter() + 0.1
    wall = time.time() - time.perf_counter()
    for index in range(total):
        due = began + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        probe = index % probe_every == 0
        body = factory.near_grid_worker() if probe else factory.hotspot()
        (probes if probe else others).append((due + wall, post(body)))
    await asyncio.gather(*(task for _, task in probes + others))
    return probes, others, time.perf_counter() - began


def _score_tasks(
    run: TaskRun,
    probes: list[tuple[float, asyncio.Task[Posted]]],
    others: list[tuple[float, asyncio.Task[Posted]]],
    report: dict[str, Any],
    window: float,
) -> None:
    every = [
        (due, task.result(), is_probe)
        for is_probe, batch in ((True, probes), (False, others))
        for due, task in batch
    ]
    run.posted = len(every)
    accepted = [(due, posted, is_probe) for due, posted, is_probe in every if posted.status == 202]
    run.answered_202 = len(accepted)
    failed = [posted for _, posted, _ in every if posted.status != 202]
    run.errors = len(failed)
    run.error_samples += sorted({f"{p.status}: {str(p.body)[:160]}" for p in failed})[:5]
    run.achieved_per_s = len(accepted) / window
    latencies = sorted((posted.answered - posted.sent) * 1000 for _, posted, _ in accepted)
    run.post_p50_ms, run.post_p99_ms = percentile(latencies, 0.5), percentile(latencies, 0.99)
    lags = sorted(max(0.0, posted.sent - due) * 1000 for due, posted, _ in every)
    run.schedule_lag_p99_ms = percentile(lags, 0.99)
    # The alert that opened an incident is its lowest alert id; only those can bring a task.
    opener: dict[int, int] = {}
    for _, posted, _ in accepted:
        incident_id, alert_id = posted.body["incident_id"], posted.body["alert_id"]
        opener[incident_id] = min(alert_id, opener.get(incident_id, alert_id))
    first_task: dict[int, dict[str, Any]] = {}
    for task in sorted(report["tasks"], key=lambda t: t["received"]):
        first_task.setdefault(task["incident_id"], task)
        if task["responder_id"] != task["tablet"]:
            run.wrong_tablet += 1
    run.tasks_seen = len(report["tasks"])
    probe_answers = [posted for _, posted, is_probe in accepted if is_probe]
    run.probes = sum(1 for _, _, is_probe in every if is_probe)
    measured: list[float] = []
    from_answer: list[float] = []
    for posted in probe_answers:
        if opener.get(posted.body["incident_id"]) != posted.body["alert_id"]:
            continue  # joined an incident another alert opened: no task of its own
        run.probes_opened += 1
        task = first_task.get(posted.body["incident_id"])
        if task is None:
            run.no_task += 1
            continue
        measured.append((task["received"] - posted.sent) * 1000)
        from_answer.append((task["received"] - posted.answered) * 1000)
    measured.sort()
    from_answer.sort()
    run.measured = len(measured)
    run.p50_ms, run.p99_ms = percentile(measured, 0.5), percentile(measured, 0.99)
    run.max_ms = max(measured, default=float("nan"))
    run.from_answer_p50_ms = percentile(from_answer, 0.5)
    run.tablet_results = report["results"]
    run.closed_codes = report["closed_codes"]


MEDIAN_KEYS = (
    "achieved_per_s",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "from_answer_p50_ms",
    "post_p50_ms",
    "post_p99_ms",
    "schedule_lag_p99_ms",
)


async def tasks_scenario(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path
) -> dict[str, Any]:
    rates = parse_sizes(args.rates)
    runs: dict[int, list[TaskRun]] = {rate: [] for rate in rates}
    for number in range(args.runs_tasks):
        for rate in rates:
            run = await tasks_run(args, tokens, template, directory, rate, seed=number)
            runs[rate].append(run)
            print(
                f"  tasks run {number + 1} at {rate}/s: {run.achieved_per_s:,.0f} alerts/s answered, "
                f"{run.measured} tasks measured, alert→task p50 {run.p50_ms:.1f} ms p99 {run.p99_ms:.1f} ms, "
                f"POST p99 {run.post_p99_ms:.1f} ms, {run.errors} errors, {run.no_task} without task",
                flush=True,
            )
            for sample in run.error_samples[:3]:
                print(f"    error: {sample}", flush=True)
    medians = {
        rate: {key: float(statistics.median(getattr(run, key) for run in runs[rate])) for key in MEDIAN_KEYS}
        for rate in rates
    }
    return {
        "rates": rates,
        "consoles": args.tasks_consoles,
        "seconds": args.seconds,
        "probe_rate": args.probe_rate,
        "hotspots": CITY_HOTSPOTS,
        "median": medians,
        "runs": {rate: [asdict(run) for run in each] for rate, each in runs.items()},
        "table": "\n".join(_tasks_table(args, runs, medians)),
    }


def _tasks_table(
    args: argparse.Namespace, runs: dict[int, list[TaskRun]], medians: dict[int, dict[str, float]]
) -> list[str]:
    lines = [
        f"(c) Alert POST sent → task_assigned on the tasked unit's tablet; 135 tablets; "
        f"{args.seconds:g} s paced open-loop per run, ~{args.probe_rate:g}/s of the alerts open incidents "
        f"near "
        f"grid workers' homes, the rest repeat at {CITY_HOTSPOTS} hotspots and join their incidents; "
        f"median of {args.runs_tasks} run(s); ms",
        "",
        "| target alerts/s | answered/s | probes / opened / measured | p50 | p99 | max | 202→task p50 "
        "| POST p50 | POST p99 | client lag p99 | errors | no task | wrong tablet | per run p50 / p99 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for rate, each in runs.items():
        figures = medians[rate]
        per_run = ", ".join(f"{run.p50_ms:.1f} / {run.p99_ms:.1f}" for run in each)
        lines.append(
            f"| {rate:,} | {figures['achieved_per_s']:,.0f} | {sum(r.probes for r in each)} / "
            f"{sum(r.probes_opened for r in each)} / {sum(r.measured for r in each)} "
            f"| {_f(figures['p50_ms'])} | {_f(figures['p99_ms'])} | {_f(figures['max_ms'])} "
            f"| {_f(figures['from_answer_p50_ms'])} | {_f(figures['post_p50_ms'])} "
            f"| {_f(figures['post_p99_ms'])} "
            f"| {_f(figures['schedule_lag_p99_ms'])} | {sum(r.errors for r in each)} "
            f"| {sum(r.no_task for r in each)} | {sum(r.wrong_tablet for r in each)} "
            f"| {per_run} |"
        )
    if args.tasks_consoles:
        lines.append("")
        for rate, each in runs.items():
            closes = Counter[str]()
            for run in each:
                closes.update(run.console_closed_codes)
            frames = statistics.median(run.console_frames for run in each)
            lines.append(
                f"With {each[0].consoles:,} city consoles connected at {rate}/s: median "
                f"{frames:,.0f} frames received by them in all, closes {dict(closes) or 'none'}."
            )
    return lines
