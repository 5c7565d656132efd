"""Benchmark of durable alert intake: alerts/s and POST latency with 16 concurrent gateways.

It starts `python -m dispatch serve` as a child process on a fresh database for every run
(a SQLite file in a temporary directory unless --database-url names a PostgreSQL server),
issues a gateway token with `dispatch token issue`, and posts realistic alerts from 16
concurrent clients (one aiohttp session, keep-alive) for --seconds, once with one alert per
request and once with batches of 50. Only 202 answers count as accepted; a 202 means the
alert is committed (SQLite with synchronous=FULL). For comparison the same client load is
also run against a bare aiohttp server in a child process that answers 202 with a fixed
JSON body: the loopback ceiling of this machine and client.

    .venv/bin/python bench/intake.py                      # defaults: 10 s, 3 runs, SQLite
    .venv/bin/python bench/intake.py --seconds 5 --runs 1
    .venv/bin/python bench/intake.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

It prints a markdown table and writes JSON (default bench/results/intake.json).
Not a test: pytest collects only tests/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import platform
import random
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
DEFAULT_JSON = REPO / "bench" / "results" / "intake.json"
CLIENTS = 16
BATCH = 50
HOTSPOTS = 200
JITTER_M = 50.0
READY_TIMEOUT_S = 30.0
METERS_PER_DEGREE = 111_320.0

GAUGE_CATEGORIES = ("water_level_warning", "waterlogging", "embankment_seepage")
CAMERA_CATEGORIES = (
    "smoke",
    "fire",
    "traffic_accident",
    "crowd_gathering",
    "illegal_vending",
    "illegal_fishing",
    "fallen_tree",
    "manhole_cover_missing",
)


# The workload ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hotspot:
    """A place that keeps producing alerts: a gauge or a camera (with a few devices) on one thing."""

    lat: float
    lon: float
    kind: str
    category: str
    devices: tuple[str, ...]


class Workload:
    """Alerts as gateways send them: mostly repeats at known hotspots, some calls, some strays.

    85 % come from a hotspot's devices (they join the hotspot's open incident), 10 % are hotline
    calls about a hotspot, 5 % are strays anywhere in the city from roaming cameras (new
    incidents, so the server also routes, picks responders and opens tasks).
    """

    def __init__(self, config_path: Path, seed: int) -> None:
        from dispatch.config.model import Tier, load_config
        from dispatch.core.routing import Router

        config = load_config(config_path)
        self._rng = random.Random(seed)
        self._router = Router(config)
        self._streets = [node for node in config.jurisdictions if node.tier == Tier.STREET]
        known = [category.id for category in config.categories]
        self._all = known
        gauges = [c for c in GAUGE_CATEGORIES if c in known] or known
        cameras = [c for c in CAMERA_CATEGORIES if c in known] or known
        self.hotspots: list[Hotspot] = []
        for index in range(HOTSPOTS):
            lat, lon = self._street_point()
            if index % 2 == 0:
                category, kind, prefix = self._rng.choice(gauges), "sensor", "gauge"
            else:
                category, kind, prefix = self._rng.choice(cameras), "video", "cam"
            devices = tuple(f"{prefix}-{index}-{d}" for d in range(self._rng.randint(1, 3)))
            self.hotspots.append(Hotspot(lat, lon, kind, category, devices))
        self._ids = itertools.count(1)
        self._tag = uuid.uuid4().hex[:8]

    def _street_point(self) -> tuple[float, float]:
        """A random point inside a random street-tier polygon."""
        while True:
            node = self._rng.choice(self._streets)
            west, south, east, north = node.polygon.geometry.bounds
            lat, lon = self._rng.uniform(south, north), self._rng.uniform(west, east)
            found = self._router.locate(lat, lon)
            if found is not None and found.id == node.id:
                return lat, lon

    def _jitter(self, lat: float, lon: float) -> dict[str, float]:
        distance = self._rng.uniform(0, JITTER_M)
        bearing = self._rng.uniform(0, 2 * math.pi)
        dlat = distance * math.cos(bearing) / METERS_PER_DEGREE
        dlon = distance * math.sin(bearing) / (METERS_PER_DEGREE * math.cos(math.radians(lat)))
        return {"lat": round(lat + dlat, 6), "lon": round(lon + dlon, 6)}

    def alert(self) -> dict[str, Any]:
        rng = self._rng
        number = next(self._ids)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        roll = rng.random()
        spot = rng.choice(self.hotspots)
        body: dict[str, Any]
        if roll < 0.85:
            source = rng.choice(spot.devices)
            body = {
                "source": source,
                "kind": spot.kind,
                "category": spot.category,
                "location": self._jitter(spot.lat, spot.lon),
                "title": f"{spot.category} at {source}",
                "attributes": (
                    {
                        "level_m": round(rng.uniform(2.0, 4.5), 2),
                        "warning_m": 2.5,
                        "battery": rng.randint(20, 100),
                    }
                    if spot.kind == "sensor"
                    else {"label": spot.category, "score": round(rng.uniform(0.6, 0.99), 2), "zone": "z1"}
                ),
            }
        elif roll < 0.95:
            body = {
                "source": "hotline-12345",
                "kind": "hotline",
                "category": spot.category,
                "location": self._jitter(spot.lat, spot.lon),
                "title": "12345 市民来电",
                "description": "市民来电反映现场情况，请尽快核实处置。",
                "attributes": {"caller": f"138****{rng.randint(0, 9999):04d}", "line": "12345"},
            }
        else:
            lat, lon = self._street_point()
            body = {
                "source": f"cam-roaming-{rng.randint(0, 999)}",
                "kind": "video",
                "category": rng.choice(self._all),
                "location": {"lat": round(lat, 6), "lon": round(lon, 6)},
                "attributes": {"label": "event", "score": round(rng.uniform(0.6, 0.99), 2)},
            }
        body["source_event_id"] = f"{self._tag}-{number}"
        body["observed_at"] = now
        if rng.random() < 0.01:
            body["severity"] = 2
        return body

    def request(self, batch: int) -> bytes:
        if batch == 1:
            return orjson.dumps(self.alert())
        return orjson.dumps({"alerts": [self.alert() for _ in range(batch)]})


# Child processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Child:
    process: asyncio.subprocess.Process
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextlib.asynccontextmanager
async def child(command: list[str], port: int, log: Path, cwd: Path) -> AsyncIterator[Child]:
    """A server child process, ready (GET /readyz 200), stopped with SIGTERM afterwards."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=out, stderr=asyncio.subprocess.STDOUT, cwd=cwd
        )
    running = Child(process, f"http://127.0.0.1:{port}", log)
    try:
        give_up = time.monotonic() + READY_TIMEOUT_S
        async with aiohttp.ClientSession() as session:
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"server exited with {process.returncode}:\n{running.output()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{running.url}/readyz") as response:
                        if response.status == 200:
                            break
                if time.monotonic() > give_up:
                    raise RuntimeError(f"server not ready in {READY_TIMEOUT_S}s:\n{running.output()}")
                await asyncio.sleep(0.05)
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def cli(*args: str, cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dispatch",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"dispatch {' '.join(args[:2])} failed ({process.returncode}): {err.decode()}")
    return out.decode().strip()


def _psycopg_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


@contextlib.contextmanager
def fresh_database(base_url: str | None, directory: Path) -> Iterator[str]:
    """A new empty database: a SQLite file, or a throwaway database on the PostgreSQL server."""
    if base_url is None or base_url.startswith("sqlite"):
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    import psycopg

    admin = _psycopg_url(base_url)
    name = f"dispatch_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stored_counts(database_url: str) -> dict[str, int]:
    import sqlalchemy as sa

    from dispatch.storage import database
    from dispatch.storage.tables import alert_table, event_table, incident_table, task_table

    engine = database.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                name: int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
                for name, table in (
                    ("alerts", alert_table),
                    ("incidents", incident_table),
                    ("tasks", task_table),
                    ("events", event_table),
                )
            }
    finally:
        engine.dispose()


# The bare aiohttp baseline ---------------------------------------------------------------------

_SINGLE_ANSWER = orjson.dumps({"alert_id": 1, "incident_id": 1, "duplicate": False})
_BATCH_ANSWER = orjson.dumps(
    {"results": [{"alert_id": n, "incident_id": 1, "duplicate": False} for n in range(1, BATCH + 1)]}
)


def serve_baseline(port: int) -> None:
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


# The load --------------------------------------------------------------------------------------


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


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def load(
    url: str, token: str, workload: Workload, batch: int, seconds: float, warmup: float
) -> RunResult:
    """16 clients post back to back; figures count requests that completed inside the window."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    samples: list[str] = []
    incidents: set[int] = set()
    counts = Counter[str]()
    started = time.perf_counter()
    window_start = started + warmup
    window_end = window_start + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < window_end:
            body = workload.request(batch)
            sent = time.perf_counter()
            try:
                async with session.post(f"{url}/api/v1/alerts", data=body, headers=headers) as response:
                    status = response.status
                    answer = await response.read()
            except (aiohttp.ClientError, TimeoutError) as err:
                status, answer = 0, f"{type(err).__name__}: {err}".encode()
            done = time.perf_counter()
            measured = window_start <= done <= window_end
            if status == 202:
                results = orjson.loads(answer)
                results = results["results"] if batch > 1 else [results]
                counts["accepted_total"] += len(results)
                if not measured:
                    continue
                counts["accepted"] += len(results)
                counts["requests"] += 1
                latencies.append((done - sent) * 1000)
                for result in results:
                    incidents.add(result["incident_id"])
                    counts["duplicates"] += bool(result["duplicate"])
            else:
                key = f"{status}: {answer[:200].decode(errors='replace')}"
                errors[str(status)] += 1
                if len(samples) < 5 and key not in samples:
                    samples.append(key)
                if measured:
                    counts["requests"] += 1

    connector = aiohttp.TCPConnector(limit=CLIENTS, limit_per_host=CLIENTS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
    latencies.sort()
    return RunResult(
        alerts_per_s=counts["accepted"] / seconds,
        requests_per_s=counts["requests"] / seconds,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        errors=sum(errors.values()),
        accepted=counts["accepted"],
        requests=counts["requests"],
        seconds=seconds,
        incidents_answered=len(incidents),
        duplicates=counts["duplicates"],
        error_samples=samples,
        accepted_total=counts["accepted_total"],
    )


async def dispatch_run(args: argparse.Namespace, batch: int, seed: int) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-") as temp:
        directory = Path(temp)
        with fresh_database(args.database_url, directory) as database_url:
            settings = ("--config", str(args.config), "--database", database_url)
            token = await cli(
                "token", "issue", *settings, "--role", "gateway", "--name", "bench", cwd=directory
            )
            port = free_port()
            command = [sys.executable, "-m", "dispatch", "serve", *settings, "--host", "127.0.0.1"]
            command += ["--port", str(port)]
            workload = Workload(args.config, seed)
            async with child(command, port, directory / "server.log", directory) as server:
                result = await load(server.url, token, workload, batch, args.seconds, args.warmup)
            if server.process.returncode != 0:
                result.error_samples.append(f"server exited with {server.process.returncode}")
            result.stored = stored_counts(database_url)
            if result.stored["alerts"] < result.accepted_total:
                # A 202 promises a committed alert: this would be a durability bug.
                result.error_samples.append(
                    f"LOST: {result.accepted_total} alerts answered 202, {result.stored['alerts']} stored"
                )
                result.errors += result.accepted_total - result.stored["alerts"]
    return result


# Reporting -------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


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


# Entry -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default 10)")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per scenario, fresh database each (default 3)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument(
        "--config", type=Path, default=REPO / "config.yaml", help="config file for the server"
    )
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server URL; each run gets a fresh database on it"
    )
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    shapes = {"single": 1, "batch50": BATCH}
    results: dict[str, list[RunResult]] = {f"dispatch {shape}": [] for shape in shapes}
    results |= {f"bare aiohttp {shape}": [] for shape in shapes}
    database = "PostgreSQL" if args.database_url and not args.database_url.startswith("sqlite") else "SQLite"
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-baseline-") as temp:
        port = free_port()
        command = [sys.executable, str(SCRIPT), "--serve-baseline", str(port)]
        async with child(command, port, Path(temp) / "baseline.log", Path(temp)) as baseline:
            # Interleaved, so that drift of the machine touches every scenario alike.
            for number in range(args.runs):
                for shape, batch in shapes.items():
                    name = f"dispatch {shape}"
                    run = await dispatch_run(args, batch, seed=number)
                    results[name].append(run)
                    report(name, number, run)
                    name = f"bare aiohttp {shape}"
                    run = await load(
                        baseline.url, "none", Workload(args.config, number), batch, args.seconds, args.warmup
                    )
                    results[name].append(run)
                    report(name, number, run)
    text = table(results, database)
    print()
    print(text)
    medians = {name: summary(runs) for name, runs in results.items()}
    ratios = {
        shape: medians[f"dispatch {shape}"]["alerts_per_s"] / medians[f"bare aiohttp {shape}"]["alerts_per_s"]
        for shape in shapes
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
        "workload": {
            "hotspots": HOTSPOTS,
            "jitter_m": JITTER_M,
            "mix": "85% hotspot devices (gauge-N-D, cam-N-D), 10% hotline-12345, 5% roaming cameras anywhere",
        },
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
    if args.serve_baseline is not None:
        serve_baseline(args.serve_baseline)
        return 0
    began = time.monotonic()
    result = asyncio.run(bench(args))
    result["wall_seconds"] = round(time.monotonic() - began, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
