"""Benchmark of intake against many open incidents: alerts/s and latency at N = 0, 10,000, 100,000 open.

For each N a SQLite database is prepared once (bench/scenarios/open_incidents_db.py: N open
incidents at random street points, last alert within the last few minutes) and copied for
every run; `python -m dispatch serve` starts on the copy (the time to GET /readyz is the
restart time at N) and 16 keep-alive clients post one alert per request for --seconds:
--new of them (default 60 %, or one share per size) from a new camera at a random street
point, which opens an incident unless an open one of its category lies within
correlation.radius_m (the more are open, the likelier), the rest repeats at 40 hotspots.
The table gives the share that opened incidents; `--new 0.32,0.6` (with --sizes 0,100000)
compares at equal opening work. Rounds are interleaved (0, 10k, 100k, 0, 10k, 100k, …); the table
gives medians of the rounds, the ratio to N = 0 in the same run, and every round's figure.

    .venv/bin/python -m bench.open_incidents                     # 3 rounds × 10 s, N = 0,10000,100000
    .venv/bin/python -m bench.open_incidents --rounds 1 --seconds 3 --sizes 0,10000 --json /tmp/o.json

Run from the project root; writes JSON (default bench/results/open_incidents.json).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.harness import CONFIG, RESULTS
from bench.harness.database import stored_counts
from bench.harness.results import write_json
from bench.harness.servers import dispatch_serve
from bench.harness.stats import parse_sizes
from bench.harness.system import machine
from bench.intake import CLIENTS, RunResult, load
from bench.scenarios.open_incidents_db import GRID_SEED, prepare
from bench.workloads.alerts import CityMix, SpreadMix

DEFAULT_JSON = RESULTS / "open_incidents.json"
SPREAD_S = 600.0
"""Prepared incidents' last alerts lie within this many seconds before preparation."""


class CitywideMix:
    """One alert a request: `new` of them a new camera at a random street point, the rest hotspot repeats.

    Given `grid_from`, new cameras take the grid's points and categories from that number on
    (bench/scenarios/open_incidents_db.py put the prepared incidents on the ones before it).
    """

    def __init__(self, config_path: Path, seed: int, new: float, grid_from: int | None = None) -> None:
        self._mix = CityMix(config_path, seed)
        self._rng = random.Random(seed)
        self._new = new
        self._grid = SpreadMix(config_path, GRID_SEED) if grid_from is not None else None
        self._numbers = itertools.count(grid_from or 0)

    def request(self, batch: int) -> bytes:
        assert batch == 1, "one alert per request"
        if self._rng.random() >= self._new:
            return self._mix.hotspot()
        if self._grid is not None:
            return self._grid.alert(next(self._numbers))
        return self._mix.new_incident()


async def one_run(
    args: argparse.Namespace, size: int, template: Path, token: str, seed: int
) -> tuple[RunResult, float]:
    """A run on a copy of the prepared database: the result and the seconds to /readyz."""
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-open-") as temp:
        directory = Path(temp)
        database = directory / "bench.db"
        shutil.copyfile(template, database)
        began = time.perf_counter()
        async with dispatch_serve(args.config, f"sqlite:///{database}", directory) as server:
            ready_s = time.perf_counter() - began
            grid_from = size if args.layout == "grid" else None  # a fresh copy each run: numbers may repeat
            workload: Any = CitywideMix(args.config, seed, args.new_share[size], grid_from)
            result = await load(server.url, token, workload, 1, args.seconds, args.warmup)
        if server.returncode != 0:
            result.error_samples.append(f"server exited with {server.returncode}")
        stored = stored_counts(f"sqlite:///{database}")
        # What the run added (warm-up included): the prepared rows are one alert per incident.
        result.stored = {"alerts": stored["alerts"] - size, "incidents": stored["incidents"] - size}
    return result, ready_s


def new_share(run: RunResult) -> float:
    """Incidents the run opened per alert it stored."""
    return run.stored["incidents"] / run.stored["alerts"] if run.stored.get("alerts") else 0.0


def table(sizes: list[int], runs: dict[int, list[RunResult]], ready: dict[int, list[float]]) -> str:
    base = statistics.median(run.alerts_per_s for run in runs[sizes[0]])
    lines = [
        f"Intake with N incidents open (SQLite), {CLIENTS} clients, 1 alert a request, "
        f"median of {len(runs[sizes[0]])} interleaved rounds",
        "",
        "| open incidents | alerts/s | vs N=0 | p50 ms | p99 ms | errors | new incidents | to /readyz s "
        "| alerts/s per round | p99 ms per round |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for size in sizes:
        each = runs[size]
        rate = statistics.median(run.alerts_per_s for run in each)
        new = statistics.median(new_share(run) for run in each)
        lines.append(
            f"| {size:,} | {rate:,.0f} | {rate / base if base else float('nan'):.2f} "
            f"| {statistics.median(run.p50_ms for run in each):.1f} "
            f"| {statistics.median(run.p99_ms for run in each):.1f} | {sum(run.errors for run in each)} "
            f"| {new:.0%} | {statistics.median(ready[size]):.2f} "
            f"| {' / '.join(f'{run.alerts_per_s:,.0f}' for run in each)} "
            f"| {' / '.join(f'{run.p99_ms:,.0f}' for run in each)} |"
        )
    lines.append("")
    lines.append("new incidents: incidents the run opened per alert it stored (the rest joined one).")
    return "\n".join(lines)


async def bench(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    sizes = parse_sizes(args.sizes)
    shares = [float(part) for part in args.new.split(",")]
    if len(shares) not in (1, len(sizes)):
        raise SystemExit("--new: one share, or one per size")
    args.new_share = dict(zip(sizes, shares * len(sizes) if len(shares) == 1 else shares, strict=True))
    templates: dict[int, tuple[Path, str]] = {}
    prepared_s: dict[int, float] = {}
    for size in sizes:
        began = time.perf_counter()
        path = directory / f"open-{size}.db"
        token = prepare(path, args.config, size, seed=size, spread_s=SPREAD_S, grid=args.layout == "grid")
        templates[size] = (path, token)
        prepared_s[size] = round(time.perf_counter() - began, 1)
        print(f"prepared {size:,} open incidents in {prepared_s[size]} s", flush=True)
    runs: dict[int, list[RunResult]] = {size: [] for size in sizes}
    ready: dict[int, list[float]] = {size: [] for size in sizes}
    for number in range(args.rounds):
        for size in sizes:
            run, ready_s = await one_run(args, size, *templates[size], seed=1000 * number + size)
            runs[size].append(run)
            ready[size].append(ready_s)
            print(
                f"round {number + 1} N={size:,}: {run.alerts_per_s:,.0f} alerts/s, p50 {run.p50_ms:.1f} ms, "
                f"p99 {run.p99_ms:.1f} ms, {run.errors} errors, ready in {ready_s:.2f} s",
                flush=True,
            )
            for sample in run.error_samples:
                print(f"    error: {sample}", flush=True)
    text = table(sizes, runs, ready)
    print()
    print(text)
    base = statistics.median(run.alerts_per_s for run in runs[sizes[0]])
    return {
        "benchmark": "intake with open incidents",
        "database": "SQLite",
        "clients": CLIENTS,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "rounds": args.rounds,
        "new_share": args.new_share,
        "layout": args.layout,
        "machine": machine(),
        "prepared_seconds": prepared_s,
        "median": {
            size: {
                "alerts_per_s": statistics.median(run.alerts_per_s for run in runs[size]),
                "ratio_to_first": statistics.median(run.alerts_per_s for run in runs[size]) / base
                if base
                else None,
                "p50_ms": statistics.median(run.p50_ms for run in runs[size]),
                "p99_ms": statistics.median(run.p99_ms for run in runs[size]),
                "ready_s": statistics.median(ready[size]),
                "new_incident_share": statistics.median(new_share(run) for run in runs[size]),
            }
            for size in sizes
        },
        "ready_seconds": ready,
        "runs": {size: [asdict(run) for run in runs[size]] for size in sizes},
        "table": text,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.open_incidents", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", default="0,10000,100000", help="open incidents, the first is the baseline")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run")
    parser.add_argument(
        "--new", default="0.6", help="share of alerts from new cameras: one, or one per size (0.6)"
    )
    parser.add_argument(
        "--layout",
        choices=("street", "grid"),
        default="street",
        help="street: random street points (alerts may join a prepared incident); grid: prepared "
        "incidents and new cameras on distinct points of a 450 m grid, so every new camera opens one",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--config", type=Path, default=CONFIG, help="config file for the server")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-open-templates-") as temp:
        result = asyncio.run(bench(args, Path(temp)))
    result["wall_seconds"] = round(time.monotonic() - began, 1)
    write_json(args.json, result)
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
