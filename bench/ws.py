"""Benchmark of WebSocket delivery: memory per idle socket, fan-out to consoles, alert → tablet.

Four scenarios, each against `python -m dispatch serve` children on fresh SQLite files
(copies of one template that holds only the schema and the tokens) with a snapshot of the
repo's config.yaml, and each beside a bare baseline measured the same way by the same clients:

  memory   N idle tablets (1k, 5k, 10k, grown in turn on one server): growth of the server's
           VmRSS per socket, once with clients that do not offer permessage-deflate and once
           with clients that do (as browsers do). Baseline: a trivial aiohttp echo server.
  fanout   N city dispatcher consoles (100, 1k, 5k; a fresh server for each N): time from an
           alert's 202 (the incident is committed by then) to the LAST console receiving its
           `incident_reported` frame, over --incidents new incidents posted one after another.
           Baseline: a bare `websockets` server calling websockets.broadcast() per incident.
  intake   the p99 of a 202 at a steady rate with 0 consoles, --intake-consoles reading ones,
           and --stalled sockets that never read, interleaved per round (bench.scenarios.ws_intake).
  tasks    one tablet for each of the 135 responders; alerts paced open-loop at 200/s and
           1,000/s: time from sending an alert that opens an incident to its `task_assigned`
           frame arriving on the tasked responder's tablet. Tablets accept and complete every
           task over the socket at once, so their units become free again. Most alerts repeat
           at hotspots and join open incidents; --probe-rate of them open new ones and are
           the ones measured. --tasks-consoles N keeps N city consoles connected meanwhile.

Clients are `websockets` connections in child processes (`--client-processes`), separate from
the server; every timestamp is time.time(), so one clock serves all processes. Tokens come
from the `dispatch token issue` command (its entry point called in-process, 137 times, to spare
137 interpreter starts): one per responder; every tablet of a unit shares its unit's token
(several devices per unit), and all consoles share one city dispatcher token. The soft limit
on open files is raised to the hard one; the children inherit it.

    .venv/bin/python -m bench.ws                          # all three, defaults (~5 min)
    .venv/bin/python -m bench.ws --scenario memory --connections 1000,5000,10000
    .venv/bin/python -m bench.ws --scenario fanout --consoles 100,1000 --incidents 50
    .venv/bin/python -m bench.ws --scenario tasks --rates 200,1000 --seconds 10 --runs 3
    .venv/bin/python -m bench.ws --scenario tasks --rates 200 --tasks-consoles 1000 --runs 1
    .venv/bin/python -m bench.ws --scenario intake --rates 150 --seconds 8 --runs 3

Run from the project root. The scenarios live in bench.scenarios.ws_*, the clients and servers
in bench.harness, the alerts in bench.workloads (CityMix).
It prints markdown tables and writes JSON (default bench/results/ws.json).
Not a test: pytest collects only tests/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from websockets.version import version as websockets_version

from bench.harness import CONFIG, RESULTS
from bench.harness.results import write_json
from bench.harness.system import machine, raise_fd_limit
from bench.harness.tokens import Tokens, make_template
from bench.scenarios.ws_fanout import fanout_scenario
from bench.scenarios.ws_intake import intake_scenario
from bench.scenarios.ws_memory import memory_scenario
from bench.scenarios.ws_tasks import tasks_scenario

DEFAULT_JSON = RESULTS / "ws.json"

Scenario = Callable[[argparse.Namespace, Tokens, Path, Path], Awaitable[dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {
    "memory": memory_scenario,
    "fanout": fanout_scenario,
    "tasks": tasks_scenario,
    "intake": intake_scenario,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ws", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", default="memory,fanout,tasks", help="comma list of memory, fanout, tasks (default all)"
    )
    _load_options(parser)
    _run_options(parser)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--config", type=Path, default=CONFIG, help="config file for the server")
    args = parser.parse_args(argv)
    if args.runs is not None:
        args.runs_memory = args.runs_fanout = args.runs_tasks = args.runs_intake = args.runs
    return args


def _load_options(parser: argparse.ArgumentParser) -> None:
    """How much each scenario asks of the server: sockets, consoles, incidents, rates."""
    parser.add_argument(
        "--connections", default="1000,5000,10000", help="(a) idle tablet sockets, grown in turn"
    )
    parser.add_argument(
        "--consoles", default="100,1000,5000", help="(b) city dispatcher consoles, grown in turn"
    )
    parser.add_argument("--incidents", type=int, default=50, help="(b) new incidents per console count")
    parser.add_argument(
        "--gap",
        type=float,
        default=0.05,
        help="(b) seconds between one incident's delivery and the next post",
    )
    parser.add_argument("--rates", default="200,1000", help="(c) alerts/s, paced open-loop")
    parser.add_argument("--seconds", type=float, default=10.0, help="(c) seconds of load per run")
    parser.add_argument(
        "--tasks-consoles", type=int, default=0, help="(c) city consoles connected meanwhile (default 0)"
    )
    parser.add_argument(
        "--probe-rate", type=float, default=20.0, help="(c) of those, alerts/s that open incidents"
    )
    parser.add_argument(
        "--intake-consoles", type=int, default=1000, help="(d) reading city consoles (default 1000)"
    )
    parser.add_argument("--stalled", type=int, default=500, help="(d) sockets that never read (default 500)")
    parser.add_argument("--new-every", type=int, default=10, help="(d) one alert in N opens an incident")
    parser.add_argument(
        "--baseline-code",
        type=Path,
        default=None,
        help="(d) a checkout (e.g. from git archive) whose server runs too, interleaved, as 'before'",
    )


def _run_options(parser: argparse.ArgumentParser) -> None:
    """How often each scenario runs, and how its clients connect."""
    parser.add_argument(
        "--runs", type=int, default=None, help="runs of every scenario (overrides the three below)"
    )
    parser.add_argument(
        "--runs-memory", type=int, default=1, help="(a) runs, a fresh server each (default 1)"
    )
    parser.add_argument(
        "--runs-fanout", type=int, default=1, help="(b) runs, a fresh server each (default 1)"
    )
    parser.add_argument(
        "--runs-tasks", type=int, default=3, help="(c) runs per rate, a fresh server each (default 3)"
    )
    parser.add_argument(
        "--runs-intake", type=int, default=3, help="(d) rounds, a fresh server each (default 3)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="`serve --workers N`: a core and N fronts (default 1)"
    )
    parser.add_argument(
        "--client-processes", type=int, default=2, help="client worker processes for (a) and (b)"
    )
    parser.add_argument(
        "--compression",
        choices=("off", "deflate"),
        default="off",
        help="(b), (c): clients offer permessage-deflate or not (default off)",
    )
    parser.add_argument(
        "--memory-compression",
        default="off,deflate",
        help="(a): measured without and with permessage-deflate offered (default both)",
    )


async def bench(args: argparse.Namespace, limits: dict[str, int]) -> dict[str, Any]:
    chosen = [name.strip() for name in args.scenario.split(",") if name.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario {sorted(unknown)}; pick from {sorted(SCENARIOS)}")
    began = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "websocket delivery",
        "machine": machine() | {"websockets": websockets_version},
        "fd_limit": limits,
        "config": _shown(Path(args.config)),
        "client_processes": args.client_processes,
        "workers": args.workers,
        "compression": {"memory": args.memory_compression, "fanout and tasks": args.compression},
        "tokens": "one per responder via `dispatch token issue` (its entry point, in-process); "
        "tablets of a unit share its token; consoles share one city dispatcher token",
        "scenarios": {},
    }
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-ws-template-") as temp:
        directory = Path(temp)
        # One snapshot of the config for the whole run, whatever happens to the file meanwhile.
        shutil.copyfile(args.config, directory / "config.yaml")
        args.config = directory / "config.yaml"
        tokens = await asyncio.to_thread(make_template, directory, args.config)
        print(f"issued {len(tokens.responders) + 2} tokens in {time.monotonic() - began:.1f} s", flush=True)
        for name in chosen:
            result["scenarios"][name] = await run_scenario(name, args, tokens, directory)
            result["wall_seconds"] = round(time.monotonic() - began, 1)
            write_json(args.json, result)  # what is done so far survives a later failure
    return result


async def run_scenario(
    name: str, args: argparse.Namespace, tokens: Tokens, directory: Path
) -> dict[str, Any]:
    """One scenario, with its wall time and the machine's load around it."""
    started, load_before = time.monotonic(), os.getloadavg()
    print(f"\n== {name} == (load average {load_before[0]:.2f})", flush=True)
    outcome = await SCENARIOS[name](args, tokens, directory / "template.db", directory)
    outcome["wall_seconds"] = round(time.monotonic() - started, 1)
    # The machine may be shared: how busy it was says how far to trust the figures.
    outcome["load_average_1m"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    print(
        f"\n{outcome['table']}\n\n({name}: {outcome['wall_seconds']} s, load average "
        f"{load_before[0]:.2f} before, {outcome['load_average_1m']['after']:.2f} after)",
        flush=True,
    )
    return outcome


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers > 1:  # every `dispatch serve` this run starts reads it (a --baseline-code one ignores it)
        os.environ["DISPATCH_WORKERS"] = str(args.workers)
    limits = raise_fd_limit()
    print(
        f"open files: soft limit {limits['soft_before']} → {limits['soft']} (hard {limits['hard']})",
        flush=True,
    )
    result = asyncio.run(bench(args, limits))
    print("\n\n".join(outcome["table"] for outcome in result["scenarios"].values()))
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


def _shown(path: Path) -> str:
    """The config's path as results may keep it: relative to the project, never this machine's."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


if __name__ == "__main__":
    raise SystemExit(main())
