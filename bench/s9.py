"""Goal S9: alert → task on the tablet (WebSocket, MQTT) against Alertmanager's alert → webhook.

In one invocation, rounds interleaved (for each round, for each rate: ws, mqtt, am), every
system started afresh for its run, alerts paced open-loop at each rate, each alert new:

  ws    bench.ws's alert → task run (bench.scenarios.ws_tasks) with every alert a probe near a
        grid worker's home: POST /api/v1/alerts sent → task_assigned frame on the tasked
        unit's tablet socket; alerts that opened their incident are measured (one tablet per
        responder; tablets accept and complete each task so units come free again).
  mqtt  bench.mqtt's spread run (bench.scenarios.s9_mqtt): every alert at its own place opens
        an incident; POST /api/v1/alerts sent → task_assigned on the unit's MQTT tasks topic
        (one subscriber for every tablet; 10 extra units a street).
  am    Prometheus Alertmanager (`--cluster.listen-address=`, loopback, fresh storage):
        POST /api/v2/alerts of one new alert → the webhook request received by an aiohttp
        receiver in this process (group_by ['...'], group_wait 0s, group_interval 1s,
        repeat_interval 24h, send_resolved false: each new alert its own group, sent at once).

    .venv/bin/python -m bench s9                  # 3 rounds × 5 s at 200 and 1,000/s (~3 min)
    .venv/bin/python -m bench s9 --quick          # 1 round × 2 s, JSON to /tmp/s9.json
    .venv/bin/python -m bench s9 --baseline-code /tmp/base   # also ws/mqtt on an older checkout

Every street gets as many extra units as the rate needs for every incident to find one free
(bench/scenarios/s9_roster.py), in both of our runs. The MQTT run's one subscriber stands for
every tablet, so its broker is a private Mosquitto whose in-flight window per client
(MOSQUITTO_SET) is as wide as those of the tablets it stands for, not the 20 of one client.

Medians of the rounds' p50/p99, ratios ours/AM (goal: p99 ≤ 2× AM's), every run's figures;
JSON to bench/results/s9.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.harness import CONFIG, RESULTS
from bench.harness import alertmanager as peer
from bench.harness.mqtt import Broker, mosquitto, mosquitto_version
from bench.harness.results import write_json
from bench.harness.servers import code_from
from bench.harness.stats import parse_sizes
from bench.harness.system import machine, raise_fd_limit
from bench.harness.tokens import Tokens
from bench.scenarios import ws_tasks
from bench.scenarios.s9_mqtt import post_mqtt_run
from bench.scenarios.s9_report import BASELINES, SYSTEMS, Runs, measured, medians, run_table, table
from bench.scenarios.s9_roster import units_per_street, ws_roster
from bench.scenarios.s9_webhook import peer_run

DEFAULT_JSON = RESULTS / "s9.json"
MOSQUITTO_SET = ["max_inflight_messages=1000", "max_queued_messages=10000"]
Runner = Callable[[int, int], Awaitable[Any]]


def _ws_runner(args: argparse.Namespace, directory: Path, code: Path | None = None) -> Runner:
    rosters: dict[int, tuple[Path, Tokens]] = {}

    async def run(rate: int, seed: int) -> Any:
        if rate not in rosters:  # tokens for every unit, once per rate, shared by both servers
            rosters[rate] = await asyncio.to_thread(ws_roster, args.config, directory / f"ws-{rate}", rate)
        config, tokens = rosters[rate]
        template = config.parent / "template.db"
        options = argparse.Namespace(
            config=config, seconds=args.seconds, compression="off", tasks_consoles=0, probe_rate=rate
        )
        with code_from(code):
            return await ws_tasks.tasks_run(options, tokens, template, directory, rate, seed)

    return run


def _mqtt_runner(args: argparse.Namespace, broker: Broker, code: Path | None = None) -> Runner:
    async def run(rate: int, seed: int) -> Any:
        with code_from(code):
            return await post_mqtt_run(args.config, args.seconds, broker, rate, seed)

    return run


def _am_runner(args: argparse.Namespace) -> Runner:
    async def run(rate: int, seed: int) -> Any:
        return await peer_run(rate, args.seconds, seed)

    return run


def _progress(done: int, total: int, began: float, system: str, rate: int, run: Any) -> None:
    elapsed = time.monotonic() - began
    left = elapsed / done * (total - done)
    count = measured(run)
    print(
        f"[{done}/{total}] {system} at {rate:,}/s: p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, "
        f"max {run.max_ms:.1f} ms over {count:,} alerts; {elapsed:.0f} s elapsed, ~{left:.0f} s left "
        f"(load average {os.getloadavg()[0]:.2f})",
        flush=True,
    )
    for sample in getattr(run, "error_samples", [])[:3]:
        print(f"    error: {sample}", flush=True)


async def bench(args: argparse.Namespace) -> Runs:
    runs: Runs = {rate: {system: [] for system in args.systems} for rate in args.rates}
    total = args.runs * len(args.rates) * len(args.systems)
    async with contextlib.AsyncExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dispatch-bench-s9-")))
        # One snapshot of the config for the whole run, whatever happens to the file meanwhile.
        shutil.copyfile(args.config, directory / "config.yaml")
        args.config = directory / "config.yaml"
        runners: dict[str, Runner] = {"am": _am_runner(args)}
        if "ws" in args.systems:
            runners["ws"] = _ws_runner(args, directory)
            if args.baseline_code is not None:
                runners[BASELINES["ws"]] = _ws_runner(args, directory, args.baseline_code)
        if "mqtt" in args.systems:
            broker = await stack.enter_async_context(mosquitto(args.broker, args.mosquitto_set, directory))
            runners["mqtt"] = _mqtt_runner(args, broker)
            if args.baseline_code is not None:
                runners[BASELINES["mqtt"]] = _mqtt_runner(args, broker, args.baseline_code)
        began, done = time.monotonic(), 0
        # Interleaved so that drift of a shared machine touches every system alike.
        for number in range(args.runs):
            for rate in args.rates:
                for system in args.systems:
                    print(f"round {number + 1}: {system} at {rate:,}/s …", flush=True)
                    run = await runners[system](rate, number)
                    runs[rate][system].append(run)
                    done += 1
                    _progress(done, total, began, system, rate, run)
    return runs


def _commit_of(code: Path | None) -> str | None:
    """The commit a --baseline-code checkout is at (never its path: results stay free of this machine)."""
    if code is None:
        return None
    found = subprocess.run(
        ["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return found.stdout.strip() or "not a git checkout"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench s9", description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="200,1000", help="alerts/s, paced open-loop (default 200,1000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of load per run (default 5)")
    parser.add_argument("--runs", type=int, default=3, help="rounds; the median is taken (default 3)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="ws,mqtt,am (default all)")
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="Mosquitto, mqtt://host[:port]")
    parser.add_argument(
        "--mosquitto-set",
        action="append",
        metavar="KEY=VALUE",
        help=f"the private Mosquitto's settings (repeatable; default {' '.join(MOSQUITTO_SET)}); "
        "'none' uses --broker instead",
    )
    parser.add_argument(
        "--baseline-code",
        type=Path,
        help="a checkout of an older commit: ws and mqtt run on its server too, interleaved",
    )
    parser.add_argument("--config", type=Path, default=CONFIG, help="config file our servers start from")
    parser.add_argument("--json", type=Path, help=f"where to write results (default {DEFAULT_JSON})")
    parser.add_argument("--quick", action="store_true", help="1 round × 2 s, JSON to /tmp/s9.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.seconds = 1, 2.0
        args.json = args.json or Path(tempfile.gettempdir()) / "s9.json"
    args.json = args.json or DEFAULT_JSON
    args.rates = parse_sizes(args.rates)
    args.systems = [name for name in args.systems.split(",") if name]
    for name in args.systems:
        if name not in SYSTEMS:
            parser.error(f"unknown system {name!r}: {', '.join(SYSTEMS)}")
    if args.baseline_code is not None:  # each before its own, so drift touches both alike
        args.systems = [each for name in args.systems for each in (BASELINES.get(name), name) if each]
    settings = MOSQUITTO_SET if args.mosquitto_set is None else args.mosquitto_set
    args.mosquitto_set = [] if settings == ["none"] else settings
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    began = time.monotonic()
    about: dict[str, Any] = {
        "benchmark": "S9: alert → task on the tablet (ws, mqtt) vs Alertmanager alert → webhook",
        "how": __doc__,
        "rates": args.rates,
        "seconds": args.seconds,
        "rounds": args.runs,
        "alertmanager": peer.version(),
        "alertmanager_config": peer.webhook_config("http://127.0.0.1:PORT/hook"),
        "mosquitto": mosquitto_version() if "mqtt" in args.systems else None,
        "mosquitto_set": args.mosquitto_set,
        "extra_units_per_street": {rate: units_per_street(args.config, rate) for rate in args.rates},
        "baseline_code": _commit_of(args.baseline_code),
        "machine": machine(),
        "load_average_1m_before": os.getloadavg()[0],
    }
    print(f"S9: rates {args.rates} × {args.systems} × {args.runs} round(s) of {args.seconds:g} s", flush=True)
    runs = asyncio.run(bench(args))
    text = table(runs, args.runs)
    print(f"\n{text}\n\n{run_table(runs)}")
    result = about | {
        "load_average_1m_after": os.getloadavg()[0],
        "median": medians(runs),
        "runs": {rate: {s: [asdict(r) for r in each] for s, each in by.items()} for rate, by in runs.items()},
        "table": text,
        "wall_seconds": round(time.monotonic() - began, 1),
    }
    write_json(args.json, result)
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
