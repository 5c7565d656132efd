"""Goal S10 of issue 11: kill -9 under load with N incidents open, restart; time to /readyz and alerts lost.

For each N (default 0 and 100,000) a SQLite database is prepared once
(bench/scenarios/open_incidents_db.py) and copied fresh for every round. A round
(bench/scenarios/s10_crash.py) starts `dispatch serve` on the copy in its own process group,
drives intake (16 clients, one alert a request, the city mix of bench.open_incidents) while
recording every alert answered 202, SIGKILLs the whole group at a random moment under load,
restarts at once on the same file, times exec → GET /readyz 200 (polled every 20 ms), checks
that every 202'd alert is in the file and that the restarted server answers 202 again.
Goal: ready ≤ 5 s, 0 accepted alerts lost.

    .venv/bin/python -m bench.s10                          # 3 rounds each at N = 0 and 100,000
    .venv/bin/python -m bench.s10 --sizes 0,1000 --rounds 1 --json /tmp/s10.json

Run from the project root; writes JSON (default bench/results/s10.json).
"""

from __future__ import annotations

import argparse
import asyncio
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
from bench.harness.results import write_json
from bench.harness.stats import parse_sizes
from bench.harness.system import machine
from bench.open_incidents import SPREAD_S, CitywideMix
from bench.scenarios.open_incidents_db import prepare
from bench.scenarios.s10_crash import CLIENTS, POLL_S, Round, crash_round

DEFAULT_JSON = RESULTS / "s10.json"
GOAL_READY_S = 5.0


async def one_round(args: argparse.Namespace, size: int, template: Path, token: str, number: int) -> Round:
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-s10-") as temp:
        database = Path(temp) / "bench.db"
        shutil.copyfile(template, database)
        seed = 1000 * number + size
        workload: Any = CitywideMix(args.config, seed, args.new)
        kill_after = random.Random(seed).uniform(args.kill_min, args.kill_max)
        return await crash_round(args.config, database, token, workload, size, kill_after)


def describe(number: int, run: Round) -> str:
    line = (
        f"round {number + 1} N={run.size:,}: killed after {run.kill_after_s:.2f} s with {run.accepted:,} "
        f"alerts answered 202 ({run.answered_other} other answers); ready in {run.ready_s:.2f} s "
        f"(first start {run.first_ready_s:.2f} s); "
        f"lost {run.lost}; after restart {run.after_accepted}/{run.after_stored} accepted/stored"
    )
    extra = [f"    lost: {key}" for key in run.lost_samples] + [f"    answer: {s}" for s in run.error_samples]
    return "\n".join([line, *extra])


def table(sizes: list[int], runs: dict[int, list[Round]]) -> str:
    lines = [
        f"kill -9 under intake ({CLIENTS} clients, 1 alert a request) with N incidents open (SQLite), "
        f"restart at once; median of {len(runs[sizes[0]])} rounds",
        "",
        "| open incidents | exec → /readyz s (median) | per round | 202s before the kill | lost "
        "| 202 after restart | first start → /readyz s (median) |",
        "| ---: | ---: | --- | --- | ---: | --- | ---: |",
    ]
    for size in sizes:
        each = runs[size]
        lines.append(
            f"| {size:,} | {statistics.median(run.ready_s for run in each):.2f} "
            f"| {' / '.join(f'{run.ready_s:.2f}' for run in each)} "
            f"| {' / '.join(f'{run.accepted:,}' for run in each)} | {sum(run.lost for run in each)} "
            f"| {' / '.join(f'{run.after_accepted}/{run.after_stored}' for run in each)} "
            f"| {statistics.median(run.first_ready_s for run in each):.2f} |"
        )
    lines += [
        "",
        f"goal: ready ≤ {GOAL_READY_S:.0f} s after the kill, 0 lost; 202 after restart: accepted/stored; "
        "first start: the same exec → /readyz before the load, no kill.",
    ]
    return "\n".join(lines)


async def bench(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    sizes = parse_sizes(args.sizes)
    templates: dict[int, tuple[Path, str]] = {}
    prepared_s: dict[int, float] = {}
    for size in sizes:
        began = time.perf_counter()
        path = directory / f"open-{size}.db"
        templates[size] = (path, prepare(path, args.config, size, seed=size, spread_s=SPREAD_S))
        prepared_s[size] = round(time.perf_counter() - began, 1)
        print(f"prepared {size:,} open incidents in {prepared_s[size]} s", flush=True)
    runs: dict[int, list[Round]] = {size: [] for size in sizes}
    for number in range(args.rounds):
        for size in sizes:
            run = await one_round(args, size, *templates[size], number)
            runs[size].append(run)
            print(describe(number, run), flush=True)
    text = table(sizes, runs)
    print()
    print(text)
    return {
        "benchmark": "S10: kill -9 under load with open incidents, restart",
        "database": "SQLite",
        "clients": CLIENTS,
        "poll_seconds": POLL_S,
        "kill_window_seconds": [args.kill_min, args.kill_max],
        "new_share": args.new,
        "rounds": args.rounds,
        "machine": machine(),
        "prepared_seconds": prepared_s,
        "median": {
            size: {
                "ready_s": statistics.median(run.ready_s for run in runs[size]),
                "first_start_ready_s": statistics.median(run.first_ready_s for run in runs[size]),
                "accepted_before_kill": statistics.median(run.accepted for run in runs[size]),
                "lost_total": sum(run.lost for run in runs[size]),
            }
            for size in sizes
        },
        "met": all(
            statistics.median(run.ready_s for run in runs[size]) <= GOAL_READY_S
            and all(run.lost == 0 and run.after_accepted == run.after_stored > 0 for run in runs[size])
            for size in sizes
        ),
        "runs": {size: [asdict(run) for run in runs[size]] for size in sizes},
        "table": text,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.s10", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,100000", help="open incidents (default 0,100000)")
    parser.add_argument("--rounds", type=int, default=3, help="kill-and-restart rounds per size (default 3)")
    parser.add_argument("--kill-min", type=float, default=1.0, help="earliest kill, s after load starts")
    parser.add_argument("--kill-max", type=float, default=6.0, help="latest kill, s after load starts")
    parser.add_argument("--new", type=float, default=0.6, help="share of alerts from new cameras (0.6)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--config", type=Path, default=CONFIG, help="config file for the server")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-s10-templates-") as temp:
        result = asyncio.run(bench(args, Path(temp)))
    result["wall_seconds"] = round(time.monotonic() - began, 1)
    write_json(args.json, result)
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
