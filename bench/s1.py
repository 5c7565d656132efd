"""Goal S1: durable intake against the peer (Prometheus Alertmanager) and the floor (bare aiohttp).

For every case (placement × mix × alerts per request) each round runs, one after the other,
our `python -m dispatch serve` (a fresh SQLite file and a gateway token issued for the run,
the repo's config.yaml), Alertmanager (`--cluster.listen-address=` on loopback, fresh storage,
a route to a receiver that notifies nobody) and the bare aiohttp server of bench.harness.baselines.
Every server is started afresh for its run. The same alerts go to each: ours and the floor as
`POST /api/v1/alerts`, Alertmanager as `POST /api/v2/alerts` (labels alertname=category,
instance=source, event=source_event_id, kind, severity; startsAt=observed_at). The load is 16
keep-alive aiohttp clients in this process; only 2xx answers count.

  placements  pinned: the server and all its threads on the first core, the load on the second
              (efficiency); unpinned: both may use the whole machine
  mixes       city: random places city-wide, most alerts open an incident; sensor: 10,000
              sensors at 80 sites re-firing, a few % open one (bench.workloads.s1_mixes)
  batches     1 and 50 alerts per request

    .venv/bin/python -m bench s1                 # 3 rounds × 5 s, every case (~12 min)
    .venv/bin/python -m bench s1 --quick         # 1 round × 2 s, JSON to /tmp/s1.json (~2 min)
    .venv/bin/python -m bench s1 --placements pinned --mixes city --batches 1

Medians, ratio ours/Alertmanager and every run's figure print as a table; JSON goes to
bench/results/s1.json. A 202 of ours that is not stored counts as an error (LOST).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import CONFIG, RESULTS
from bench.harness import alertmanager as peer
from bench.harness.database import stored_counts
from bench.harness.pinning import Placement, allowed, cpu_seconds, load_on, placements
from bench.harness.results import write_json
from bench.harness.servers import Server, bare_server, dispatch_serve
from bench.harness.stats import parse_sizes
from bench.harness.system import machine
from bench.harness.tokens import cli
from bench.scenarios.s1_load import CLIENTS, Figures, Target, load
from bench.scenarios.s1_report import LABELS, SERVERS, Results, outcome, run_table, table
from bench.workloads.s1_mixes import MIXES, SENSOR_SITES, SENSORS, ours

DEFAULT_JSON = RESULTS / "s1.json"
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Case:
    placement: Placement
    mix: str
    batch: int

    @property
    def key(self) -> str:
        return f"{self.placement.name} {self.mix} {self.batch}"


async def _measure(
    args: argparse.Namespace, case: Case, seed: int, server: Server, target: Target
) -> Figures:
    mix = MIXES[case.mix](args.config, seed)
    server_before, load_before = cpu_seconds(server.pid), time.process_time()
    began = time.monotonic()
    figures = await load(target, mix.alerts, case.batch, args.seconds, args.warmup)
    wall = time.monotonic() - began
    figures.server_busy = (cpu_seconds(server.pid) - server_before) / wall
    figures.load_busy = (time.process_time() - load_before) / wall
    figures.server_cpus = allowed(server.pid)
    figures.load_cpus = allowed(os.getpid())
    return figures


async def run_ours(args: argparse.Namespace, case: Case, seed: int, *options: str) -> Figures:
    """`dispatch serve` on a fresh SQLite file; every 202 must be stored (else counted LOST)."""
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-s1-") as temp:
        directory = Path(temp)
        database = f"sqlite:///{directory / 'bench.db'}"
        settings = ("--config", str(args.config), "--database", database)
        token = await cli("token", "issue", *settings, "--role", "gateway", "--name", "s1", cwd=directory)
        headers = {**JSON, "Authorization": f"Bearer {token}"}
        async with dispatch_serve(
            args.config, database, directory, *options, cpus=case.placement.server
        ) as server:
            target = Target(server.url, "/api/v1/alerts", headers, ours)
            figures = await _measure(args, case, seed, server, target)
        if server.returncode != 0:
            figures.error_samples.append(f"server exited with {server.returncode}")
        figures.stored = stored_counts(database)
        lost = figures.accepted_total - figures.stored["alerts"]
        if lost > 0:
            figures.error_samples.append(f"LOST: {figures.accepted_total} answered 202, {lost} not stored")
            figures.errors += lost
    return figures


async def run_fronts(args: argparse.Namespace, case: Case, seed: int) -> Figures:
    """`dispatch serve --workers N`: the core and its N fronts (all on the placement's cpus)."""
    return await run_ours(args, case, seed, "--workers", str(args.fronts))


async def run_alertmanager(args: argparse.Namespace, case: Case, seed: int) -> Figures:
    async with peer.alertmanager(case.placement.server) as server:
        target = Target(server.url, "/api/v2/alerts", JSON, peer.encode)
        return await _measure(args, case, seed, server, target)


async def run_floor(args: argparse.Namespace, case: Case, seed: int) -> Figures:
    async with bare_server("intake", case.placement.server) as server:
        return await _measure(args, case, seed, server, Target(server.url, "/api/v1/alerts", JSON, ours))


RUNNERS: dict[str, Callable[[argparse.Namespace, Case, int], Awaitable[Figures]]] = {
    "ours": run_ours,
    "fronts": run_fronts,
    "alertmanager": run_alertmanager,
    "floor": run_floor,
}


class Progress:
    """One line a run: which of how many, what it measured, and the time left at this pace."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.began = total, 0, time.monotonic()

    def starting(self, number: int, case: Case, server: str) -> None:
        print(f"[{self.done + 1}/{self.total}] round {number + 1} {case.key} {LABELS[server]} …", flush=True)

    def finished(self, figures: Figures) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.began
        left = elapsed / self.done * (self.total - self.done)
        print(
            f"    {figures.alerts_per_s:,.0f} alerts/s, p50 {figures.p50_ms:.1f} ms, "
            f"p99 {figures.p99_ms:.1f} ms, {figures.errors} errors; server on {figures.server_cpus} "
            f"{figures.server_busy:.0%} busy, load {figures.load_busy:.0%} busy"
            f" — {elapsed:.0f} s elapsed, ~{left:.0f} s left",
            flush=True,
        )
        for sample in figures.error_samples:
            print(f"    error: {sample}", flush=True)


async def bench(args: argparse.Namespace) -> Results:
    cases = [
        Case(placement, mix, batch)
        for placement in placements(args.placements)
        for mix in args.mixes
        for batch in args.batches
    ]
    results: Results = {case.key: {server: [] for server in args.servers} for case in cases}
    progress = Progress(args.runs * len(cases) * len(args.servers))
    # Interleaved (ours, peer, floor, ours, …) so that drift of a shared machine touches all alike.
    for number in range(args.runs):
        for case in cases:
            with load_on(case.placement.load):
                for server in args.servers:
                    progress.starting(number, case, server)
                    figures = await RUNNERS[server](args, case, number)
                    results[case.key][server].append(figures)
                    progress.finished(figures)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench s1", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (default 1)")
    parser.add_argument("--runs", type=int, default=3, help="rounds; the median is taken (default 3)")
    parser.add_argument("--placements", default="pinned,unpinned", help="pinned,unpinned (default both)")
    parser.add_argument("--mixes", default="city,sensor", help="city,sensor (default both)")
    parser.add_argument("--batches", default="1,50", help="alerts per request (default 1,50)")
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help="ours,fronts,alertmanager,floor (default all)"
    )
    parser.add_argument("--config", type=Path, default=CONFIG, help="config file for our server")
    parser.add_argument("--fronts", type=int, default=2, help="front processes of `fronts` (default 2)")
    parser.add_argument("--json", type=Path, help=f"where to write results (default {DEFAULT_JSON})")
    parser.add_argument("--quick", action="store_true", help="1 round × 2 s, JSON to /tmp/s1.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.seconds, args.warmup = 1, 2.0, 0.5
        args.json = args.json or Path(tempfile.gettempdir()) / "s1.json"
    args.json = args.json or DEFAULT_JSON
    args.placements = [name for name in args.placements.split(",") if name]
    args.mixes = [name for name in args.mixes.split(",") if name]
    args.servers = [name for name in args.servers.split(",") if name]
    args.batches = parse_sizes(args.batches)
    for name in args.mixes:
        if name not in MIXES:
            parser.error(f"unknown mix {name!r}: {', '.join(MIXES)}")
    for name in args.servers:
        if name not in RUNNERS:
            parser.error(f"unknown server {name!r}: {', '.join(RUNNERS)}")
    return args


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "benchmark": "S1: durable intake vs Alertmanager (peer) and bare aiohttp (floor)",
        "durability": "ours: 202 after commit, SQLite synchronous=FULL, WAL; Alertmanager: in memory",
        "clients": CLIENTS,
        "fronts": args.fronts,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "rounds": args.runs,
        "placements": [placement.describe() for placement in placements(args.placements)],
        "mixes": {name: MIXES[name].description for name in args.mixes},
        "sensors": {"sensors": SENSORS, "sites": SENSOR_SITES},
        "batches": args.batches,
        "alertmanager": peer.version() if "alertmanager" in args.servers else None,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    about = settings(args)
    print(
        f"S1: {len(args.placements)} placement(s) × {len(args.mixes)} mix(es) × {len(args.batches)} "
        f"batch size(s) × {len(args.servers)} servers × {args.runs} round(s); {about['alertmanager']}",
        flush=True,
    )
    results = asyncio.run(bench(args))
    text = table(results, args.runs, args.seconds)
    print()
    print(text)
    print()
    print(run_table(results))
    result = outcome(results, about, text)
    result["wall_seconds"] = round(time.monotonic() - began, 1)
    write_json(args.json, result)
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
