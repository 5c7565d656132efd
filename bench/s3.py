"""Goal S3, the storm: 10,000 sensors, 5,000 alarms in the first 10 s, on the default `dispatch serve`.

The owner's goal: "10,000 sensors, 5,000 alarms in the first 10 s and 80 % within 5 minutes, 20 %
repeating, 5 % flapping, 50 hotline calls a minute: first task on a tablet p99 ≤ 1 s after its
alarm, backlog drained ≤ 5 s after the last alarm, peak RSS ≤ 300 MB, every accepted alert
accounted for, and the number of incidents dispatchers see reported (correlation at work)."

How it is read here (bench.workloads.storm builds it, bench.scenarios.s3_storm plays it):
  sensors   10,000 at 2,500 sites (4 sensors of one category within 80 m of a site; sites at
            random points of the city's street jurisdictions; water level, waterlogging,
            embankment seepage, smoke, gas, manhole covers).
  alarms    an alarm is a sensor starting to fire (distinct sensors). 6,250 in all: 5,000 evenly
            over the first 10 s (500/s), the other 1,250 evenly over the rest of the 5 minutes,
            so the 5,000 are the 80 % and every alarm falls within the 5 minutes.
  repeats   20 % of the alarms are sent again 3-21 s later, unchanged (Alertmanager resending a
            firing alert: the same fingerprint@startsAt; intake must answer it as a duplicate of
            the same alert and incident).
  flapping  5 % of the alarms (other sensors) resolve 1-5 s later and fire again 1-5 s after
            that, twice (each firing a new startsAt: a new alert that must join the incident).
  calls     50 a minute through POST /api/v1/hotline/calls (a call-taker's entry), evenly spaced:
            80 % about a site that has alarmed (they should join its incident), 20 % elsewhere.
  gateways  sensor alerts as Alertmanager's webhook sends them (POST /api/v1/alerts/alertmanager,
            one alert per notification, payload version 4), with a gateway token.
  tablets   the config's 135 units plus --units-per-street (default 50) in each of the 41 streets and
            --units-per-town (default 10) in each of the 13 towns: 2,315 units, each with a tablet
            on /ws that accepts and then completes every task at once (the unit is free again; the
            incident stays open, so later alerts still join it). Enough that no incident finds
            every qualified unit of its ladder busy while the server's answers lag by seconds.
  server    `python -m dispatch serve` on a fresh SQLite file, in-process bus, no MQTT.

Measured: alarm → first task_assigned on a tablet for every incident an alarm opened (POST sent →
frame received), p50/p99; the backlog each second (POSTs sent and not yet answered, i.e. accepted
but not committed; incidents answered and without a task yet) and when it drains after the last
alarm and after the burst; the server's peak memory (VmRSS of its process tree sampled every
0.25 s, and VmHWM at the end); every alert answered 202 read back from the database (key,
incident; resolves stored); incidents opened against alarms sent (correlation).

    .venv/bin/python -m bench s3            # the 5-minute storm (~6.5 min with set-up)
    .venv/bin/python -m bench s3 --quick    # the same storm × 0.2: 2,000 sensors, 1,250 alarms,
                                            # 1,000 in 2 s, 60 s; JSON to /tmp/s3.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.harness import CONFIG, REPO, RESULTS
from bench.harness.results import write_json
from bench.harness.stats import fixed
from bench.harness.system import machine, raise_fd_limit
from bench.harness.tokens import make_template
from bench.scenarios import s3_report
from bench.scenarios.s3_storm import storm_run
from bench.workloads.city import add_street_units
from bench.workloads.storm import Plan, Shape

DEFAULT_JSON = RESULTS / "s3.json"
QUICK_FACTOR = 0.2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench s3", description=__doc__.splitlines()[0])
    default = Shape()
    parser.add_argument("--sensors", type=int, default=default.sensors)
    parser.add_argument("--alarms", type=int, default=default.alarms, help="distinct alarm starts")
    parser.add_argument("--burst-alarms", type=int, default=default.burst_alarms)
    parser.add_argument("--burst-seconds", type=float, default=default.burst_seconds)
    parser.add_argument("--seconds", type=float, default=default.seconds, help="the storm's length")
    parser.add_argument("--calls-per-minute", type=float, default=default.calls_per_minute)
    parser.add_argument("--units-per-street", type=int, default=50, help="extra units in each street")
    parser.add_argument("--units-per-town", type=int, default=10, help="extra units in each town")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, default=CONFIG, help="the config the server starts from")
    parser.add_argument("--json", type=Path, help=f"where to write results (default {DEFAULT_JSON})")
    parser.add_argument(
        "--quick", action="store_true", help=f"the storm × {QUICK_FACTOR} (60 s), JSON to /tmp/s3.json"
    )
    args = parser.parse_args(argv)
    args.shape = Shape(
        sensors=args.sensors,
        alarms=args.alarms,
        burst_alarms=args.burst_alarms,
        burst_seconds=args.burst_seconds,
        seconds=args.seconds,
        calls_per_minute=args.calls_per_minute,
    )
    if args.quick:
        args.shape = args.shape.scaled(QUICK_FACTOR)
        args.json = args.json or Path(tempfile.gettempdir()) / "s3.json"
    args.json = args.json or DEFAULT_JSON
    return args


def write_config(base: Path, target: Path, per_street: int, per_town: int, seed: int) -> int:
    """The base config with extra street and town units; how many units it has."""
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    add_street_units(data, base, per_street, seed, per_town)
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return len(data["responders"])


async def bench(args: argparse.Namespace, directory: Path) -> tuple[Plan, Any]:
    config = directory / "config.yaml"
    units = write_config(args.config, config, args.units_per_street, args.units_per_town, args.seed)
    print(f"  {units} units; issuing their tablets' tokens …", flush=True)
    tokens = await asyncio.to_thread(make_template, directory, config)
    plan = await asyncio.to_thread(Plan, config, args.shape, args.seed)
    counts = plan.counts()
    print(
        f"  plan: {len(plan.sensors):,} sensors, {counts}; last alarm at {plan.last_alarm_at():.1f} s, "
        f"last message at {plan.last_message_at():.1f} s",
        flush=True,
    )
    run = await storm_run(plan, tokens, directory / "template.db", config, directory)
    return plan, run


def tables(figures: dict[str, Any]) -> str:
    lines = ["| goal | target | measured | met |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {goal} | {target} | {measured} | {'yes' if met else '**no**'} |"
        for goal, target, measured, met in s3_report.goals(figures)
    ]
    correlation, latency = figures["correlation"], figures["latency"]
    lines += [
        "",
        f"Correlation: {correlation['alarms_sent']:,} alarms opened "
        f"{correlation['incidents_opened_by_sensor_alerts']:,} incidents "
        f"({correlation['incidents_per_alarm']:.3f} per alarm); calls opened "
        f"{correlation['incidents_opened_by_calls']:,}; incidents in the database "
        f"{correlation['incidents_stored']:,}. Call → first task p50 / p99 "
        f"{fixed(latency['call_to_task']['p50_ms'])} / {fixed(latency['call_to_task']['p99_ms'])} ms over "
        f"{latency['call_to_task']['count']} calls that opened an incident.",
        f"Outcomes: {figures['accounting']['outcomes']}; sent again after a broken connection: "
        f"{figures['retried']['count']}.",
        f"Client: alarms' send lag (sent − due) p50 / p99 {fixed(latency['alarm_send_lag']['p50_ms'])} / "
        f"{fixed(latency['alarm_send_lag']['p99_ms'])} ms; POST p50 / p99 "
        f"{fixed(latency['post']['p50_ms'])} / {fixed(latency['post']['p99_ms'])} ms.",
        f"Backlog peaks: {figures['backlog']['peak_in_flight']:,} POSTs in flight, "
        f"{figures['backlog']['peak_waiting']:,} incidents waiting for a task.",
    ]
    accounting = figures["accounting"]
    lines += [f"Not accepted: {sample}" for sample in accounting["error_samples"]]
    lines += [f"Not in the database: {sample}" for sample in accounting["samples"]]
    lines += [
        f"No task: incident {incident}: {story}" for incident, story in list(figures["untasked"].items())[:3]
    ]
    lines += [
        "",
        "| t s | POSTs in flight | incidents waiting for a task |",
        "| ---: | ---: | ---: |",
    ]
    timeline = figures["backlog"]["timeline"]
    every = max(1, len(timeline) // 40)
    shown = [row for index, row in enumerate(timeline) if index % every == 0 or row[1] or row[2]][:80]
    lines += [f"| {at:g} | {flying:,} | {waiting:,} |" for at, flying, waiting in shown]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """A path as the results may keep it: relative to the project, else its name only."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else path.name


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    began = time.monotonic()
    print(f"S3 storm: {args.shape}", flush=True)
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-s3-") as temp:
        plan, run = asyncio.run(bench(args, Path(temp)))
    figures = s3_report.score(plan, run)
    text = tables(figures)
    print(f"\n{text}")
    result = {
        "benchmark": "S3: the storm (10,000 sensors, 5,000 alarms in 10 s) on the default dispatch serve",
        "how": __doc__,
        "shape": vars(args.shape),
        "units_per_street": args.units_per_street,
        "units_per_town": args.units_per_town,
        "seed": args.seed,
        "config": _shown(args.config),
        "plan": plan.counts(),
        "machine": machine(),
        "load_average_1m_after": os.getloadavg()[0],
        "goals": [
            {"goal": g, "target": t, "measured": m, "met": ok} for g, t, m, ok in s3_report.goals(figures)
        ],
        "figures": figures,
        "table": text,
        "wall_seconds": round(time.monotonic() - began, 1),
    }
    write_json(args.json, result)
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
