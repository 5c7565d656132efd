"""Benchmark of durable alert intake: alerts/s and POST latency with 16 concurrent gateways.

It starts `python -m dispatch serve` as a child process on a fresh database for every run
(a SQLite file in a temporary directory unless --database-url names a PostgreSQL server),
issues a gateway token with `dispatch token issue`, and posts realistic alerts from 16
concurrent clients (one aiohttp session, keep-alive) for --seconds, once with one alert per
request and once with batches of 50. Only 202 answers count as accepted; a 202 means the
alert is committed (SQLite with synchronous=FULL). For comparison the same client load is
also run against a bare aiohttp server in a child process that answers 202 with a fixed
JSON body: the loopback ceiling of this machine and client.

    .venv/bin/python -m bench.intake                      # defaults: 10 s, 3 runs, SQLite
    .venv/bin/python -m bench.intake --seconds 5 --runs 1
    DISPATCH_AUDIT_KEY=$(openssl rand -hex 32) .venv/bin/python -m bench.intake \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres   # PostgreSQL needs an audit key

Run from the project root. The workload is bench.workloads' IntakeMix; the servers, tokens
and databases come from bench.harness. It prints a markdown table and writes JSON (default
bench/results/intake.json). Not a test: pytest collects only tests/.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.harness import CONFIG, RESULTS
from bench.harness.baselines import BATCH
from bench.harness.database import fresh_database, stored_counts
from bench.harness.results import write_json
from bench.harness.servers import bare_server, dispatch_serve
from bench.harness.stats import percentile
from bench.harness.system import machine
from bench.harness.tokens import cli
from bench.workloads.alerts import INTAKE_HOTSPOTS, INTAKE_JITTER_M, INTAKE_MIX, IntakeMix

DEFAULT_JSON = RESULTS / "intake.json"
CLIENTS = 16


@dataclass
class RunResult:
    alerts_per_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    accepted: int
    requests: int
    seconds: float
    incidents_answered: int
    duplicates: int
    error_samples: list[str] = field(default_factory=list)
    stored: dict[str, int] = field(default_factory=dict)
    accepted_total: int = 0


@dataclass
class Tally:
    """What the clients saw: answers that completed inside the measured window, and every 202."""

    window_start: float
    window_end: float
    batch: int
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    incidents: set[int] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)

    def note(self, status: int, answer: bytes, sent: float, done: float) -> None:
        measured = self.window_start <= done <= self.window_end
        if status != 202:
            key = f"{status}: {answer[:200].decode(errors='replace')}"
            self.errors[str(status)] += 1
            if len(self.samples) < 5 and key not in self.samples:
                self.samples.append(key)
            if measured:
                self.counts["requests"] += 1
            return
        results = orjson.loads(answer)
        results = results["results"] if self.batch > 1 else [results]
        self.counts["accepted_total"] += len(results)
        if not measured:
            return
        self.counts["accepted"] += len(results)
        self.counts["requests"] += 1
        self.latencies.append((done - sent) * 1000)
        for result in results:
            self.incidents.add(result["incident_id"])
            self.counts["duplicates"] += bool(result["duplicate"])

    def result(self, seconds: float) -> RunResult:
        self.latencies.sort()
        return RunResult(
            alerts_per_s=self.counts["accepted"] / seconds,
            requests_per_s=self.counts["requests"] / seconds,
            p50_ms=percentile(self.latencies, 0.50),
            p99_ms=percentile(self.latencies, 0.99),
            errors=sum(self.errors.values()),
            accepted=self.counts["accepted"],
            requests=self.counts["requests"],
            seconds=seconds,
            incidents_answered=len(self.incidents),
            duplicates=self.counts["duplicates"],
            error_samples=self.samples,
            accepted_total=self.counts["accepted_total"],
        )


async def load(
    url: str, token: str, workload: IntakeMix, batch: int, seconds: float, warmup: float
) -> RunResult:
    """16 clients post back to back; figures count requests that completed inside the window."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    window_start = time.perf_counter() + warmup
    tally = Tally(window_start, window_start + seconds, batch)

    async def client(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < tally.window_end:
            body = workload.request(batch)
            sent = time.perf_counter()
            try:
                async with session.post(f"{url}/api/v1/alerts", data=body, headers=headers) as response:
                    status = response.status
                    answer = await response.read()
            except (aiohttp.ClientError, TimeoutError) as err:
                status, answer = 0, f"{type(err).__name__}: {err}".encode()
            tally.note(status, answer, sent, time.perf_counter())

    connector = aiohttp.TCPConnector(limit=CLIENTS, limit_per_host=CLIENTS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
    return tally.result(seconds)


async def dispatch_run(args: argparse.Namespace, batch: int, seed: int) -> RunResult:
    """One run against `dispatch serve` on a fresh database; a 202 not stored counts as an error."""
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-") as temp:
        directory = Path(temp)
        with fresh_database(args.database_url, directory) as database_url:
            settings = ("--config", str(args.config), "--database", database_url)
            token = await cli(
                "token", "issue", *settings, "--role", "gateway", "--name", "bench", cwd=directory
            )
            workload = IntakeMix(args.config, seed)
            async with dispatch_serve(args.config, database_url, directory) as server:
                result = await load(server.url, token, workload, batch, args.seconds, args.warmup)
            if server.returncode != 0:
                result.error_samples.append(f"server exited with {server.returncode}")
            result.stored = stored_counts(database_url)
            if result.stored["alerts"] < result.accepted_total:
                # A 202 promises a committed alert: this would be a durability bug.
                result.error_samples.append(
                    f"LOST: {result.accepted_total} alerts answered 202, {result.stored['alerts']} stored"
                )
                result.errors += result.accepted_total - result.stored["alerts"]
    return result


def summary(runs: list[RunResult]) -> dict[str, float | int]:
    return {
        "alerts_per_s": statistics.median(run.alerts_per_s for run in runs),
        "requests_per_s": statistics.median(run.requests_per_s for run in runs),
        "p50_ms": statistics.median(run.p50_ms for run in runs),
        "p99_ms": statistics.median(run.p99_ms for run in runs),
        "errors": sum(run.errors for run in runs),
    }


def table(results: dict[str, list[RunResult]], database: str) -> str:
    medians = {name: summary(runs) for name, runs in results.items()}
    runs_each = len(next(iter(results.values())))
    lines = [
        f"Durable alert intake ({database}), {CLIENTS} concurrent clients, median of {runs_each} runs",
        "",
        "| scenario | alerts/s | requests/s | p50 ms | p99 ms | errors | vs bare aiohttp | per run |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, runs in results.items():
        figures = medians[name]
        shape = name.split()[-1]
        ceiling = medians.get(f"bare aiohttp {shape}")
        ratio = (
            f"{figures['alerts_per_s'] / ceiling['alerts_per_s']:.1%}"
            if ceiling and ceiling["alerts_per_s"] and not name.startswith("bare")
            else "—"
        )
        per_run = " / ".join(f"{run.alerts_per_s:,.0f}" for run in runs)
        lines.append(
            f"| {name} | {figures['alerts_per_s']:,.0f} | {figures['requests_per_s']:,.0f} "
            f"| {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | {figures['errors']} "
            f"| {ratio} | {per_run} |"
        )
    lines += [
        "",
        "| run | scenario | alerts/s | p50 ms | p99 ms | errors | incidents answered | stored alerts |",
    ]
    lines.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        for number, run in enumerate(runs, 1):
            stored = run.stored.get("alerts", "—")
            incidents = "—" if name.startswith("bare") else run.incidents_answered
            lines.append(
                f"| {number} | {name} | {run.alerts_per_s:,.0f} | {run.p50_ms:.1f} | {run.p99_ms:.1f} "
                f"| {run.errors} | {incidents} | {stored} |"
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default 10)")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per scenario, fresh database each (default 3)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--config", type=Path, default=CONFIG, help="config file for the server")
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server URL; each run gets a fresh database on it"
    )
    return parser.parse_args(argv)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    shapes = {"single": 1, "batch50": BATCH}
    results: dict[str, list[RunResult]] = {f"dispatch {shape}": [] for shape in shapes}
    results |= {f"bare aiohttp {shape}": [] for shape in shapes}
    database = "PostgreSQL" if args.database_url and not args.database_url.startswith("sqlite") else "SQLite"
    async with bare_server("intake") as baseline:
        # Interleaved, so that drift of the machine touches every scenario alike.
        for number in range(args.runs):
            for shape, batch in shapes.items():
                name = f"dispatch {shape}"
                run = await dispatch_run(args, batch, seed=number)
                results[name].append(run)
                report(name, number, run)
                name = f"bare aiohttp {shape}"
                run = await load(
                    baseline.url, "none", IntakeMix(args.config, number), batch, args.seconds, args.warmup
                )
                results[name].append(run)
                report(name, number, run)
    text = table(results, database)
    print()
    print(text)
    return outcome(args, results, database, text)


def outcome(
    args: argparse.Namespace, results: dict[str, list[RunResult]], database: str, text: str
) -> dict[str, Any]:
    """The JSON of a benchmark: settings, machine, medians, ratios to the bare server, every run."""
    medians = {name: summary(runs) for name, runs in results.items()}
    ratios = {
        shape: medians[f"dispatch {shape}"]["alerts_per_s"] / medians[f"bare aiohttp {shape}"]["alerts_per_s"]
        for shape in ("single", "batch50")
        if medians[f"bare aiohttp {shape}"]["alerts_per_s"]
    }
    return {
        "benchmark": "durable alert intake",
        "database": database,
        "durability": "202 after commit; SQLite synchronous=FULL, WAL"
        if database == "SQLite"
        else "202 after commit",
        "clients": CLIENTS,
        "batch": BATCH,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "runs": args.runs,
        "workload": {"hotspots": INTAKE_HOTSPOTS, "jitter_m": INTAKE_JITTER_M, "mix": INTAKE_MIX},
        "machine": machine(),
        "median": medians,
        "ratio_to_bare_aiohttp": ratios,
        "scenarios": {name: [asdict(run) for run in runs] for name, runs in results.items()},
        "table": text,
    }


def report(name: str, number: int, run: RunResult) -> None:
    print(
        f"run {number + 1} {name}: {run.alerts_per_s:,.0f} alerts/s, p50 {run.p50_ms:.1f} ms, "
        f"p99 {run.p99_ms:.1f} ms, {run.errors} errors",
        flush=True,
    )
    for sample in run.error_samples:
        print(f"    error: {sample}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    result = asyncio.run(bench(args))
    result["wall_seconds"] = round(time.monotonic() - began, 1)
    write_json(args.json, result)
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
