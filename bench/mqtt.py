"""Benchmark of the MQTT link: the bare broker, alert intake over MQTT, and alert → task on MQTT.

Every run measures, in turn, against the machine's Mosquitto (--broker, default
mqtt://127.0.0.1:1883; or with --mosquitto-set a private one with other limits), every server a
`python -m dispatch serve --mqtt …` child on a fresh SQLite file, with a topic prefix and client
id of its own:

  baseline  the broker alone. Latency: an aiomqtt publisher → an aiomqtt subscriber at QoS 1,
            paced open-loop at --rate msg/s for --seconds, publish → receive in this process.
            Throughput: `mosquitto_pub -l` (a separate C process) fed --alerts alert JSON lines as
            fast as it takes them, at QoS 0 and QoS 1, to an aiomqtt subscriber (QoS 1
            subscription, as the server's): messages/s delivered, and messages/s the broker took.
  intake    the server's subscription (persistent session, QoS 1, PUBACK after commit): the same
            `mosquitto_pub -l -q 0|1` feeds the --alerts alerts (bench.intake's workload:
            hotspots and strays over the street grids, each a distinct source_event_id) to
            `{prefix}/sensors/gw-1/alerts`; alerts/s from the first publish until the SQLite file
            (polled read-only) holds all of them, or holds no more for --stall seconds.
  tasks     alert published → task_assigned on `{prefix}/responders/+/tasks` (one subscriber
            standing for every tablet), alerts paced at each of --rates/s for --seconds at QoS 1
            to `{prefix}/sensors/gw-1/alerts`, in each mix of --mix. As bench.ws's tablets do,
            the subscriber accepts, then completes, every task on `{prefix}/responders/{id}/acks`,
            so units are free again (a unit holds one task at a time; --tablets silent leaves
            them pending). The latency baseline is (1)'s.
            spread: every alert at its own grid point (farther than correlation.radius_m from
            any other of its category, from a new source), so each opens an incident that gets
            a task; the config gets --units-per-street extra grid workers in every street
            jurisdiction. Every alert is measured; tasks are matched to alerts by title.
            city: bench.ws's alert → task mix (CityMix) on the config's own roster:
            its 40 hotspots' incidents open first (their tasks answered, not measured), then one
            alert in round(rate / --probe-rate) is a probe (a new source near a grid worker's
            home), the rest repeat at the hotspots and join their incidents. Measured, as
            bench.ws does: probes that opened their incident (its lowest alert id, read from
            the SQLite file afterwards), publish → the first task_assigned of that incident.

Timestamps are time.perf_counter() of this one process. After each server the bench drops its
persistent session at the broker (connects with its client id and clean_session, disconnects).
The broker's log (/var/log/mosquitto/mosquitto.log when readable) is read for dropped messages.

    .venv/bin/python -m bench.mqtt                          # defaults: 3 runs (~5 min)
    .venv/bin/python -m bench.mqtt --runs 1 --scenario tasks --rates 200
    .venv/bin/python -m bench.mqtt --scenario tasks --mix city --json bench/results/mqtt_tasks.json
    .venv/bin/python -m bench.mqtt --runs 1 --scenario intake \\
        --mosquitto-set max_queued_messages=0 --mosquitto-set max_inflight_messages=1000

Run from the project root. The parts live in bench.harness (broker, servers), bench.workloads
(alerts) and bench.scenarios.mqtt_* (the three scenarios, the report).
It prints a markdown table and writes JSON (default bench/results/mqtt.json).
Not a test: pytest collects only tests/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiomqtt

from bench.harness import CONFIG, RESULTS
from bench.harness.mqtt import MOSQUITTO_PUB, Broker, mosquitto, mosquitto_version
from bench.harness.results import write_json
from bench.harness.stats import parse_sizes
from bench.harness.system import machine
from bench.scenarios.mqtt_broker import broker_latency, broker_throughput
from bench.scenarios.mqtt_intake import intake_run
from bench.scenarios.mqtt_report import MIXES, medians, table
from bench.scenarios.mqtt_tasks import city_tasks_run, tasks_run
from bench.workloads.alerts import CITY_HOTSPOTS, IntakeMix

DEFAULT_JSON = RESULTS / "mqtt.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mqtt", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", default="baseline,intake,tasks", help="comma list of baseline, intake, tasks (all)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of every scenario (default 3)")
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="Mosquitto, mqtt://host[:port]")
    parser.add_argument(
        "--mosquitto-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="run a private Mosquitto with this setting instead of --broker (repeatable), "
        "e.g. max_queued_messages=0",
    )
    parser.add_argument(
        "--alerts", type=int, default=20_000, help="(1), (2): alerts (messages) per run (default 20,000)"
    )
    parser.add_argument(
        "--rate", type=int, default=1000, help="(1): paced msgs/s for latency (default 1,000)"
    )
    parser.add_argument(
        "--rates", default="200,1000", help="(3): alerts/s, paced open-loop (default 200,1000)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="(1), (3): seconds of paced load (10)")
    parser.add_argument(
        "--mix",
        default=",".join(MIXES),
        help="(3): comma list of spread (every alert opens an incident), city (bench.ws's mix) (both)",
    )
    parser.add_argument(
        "--probe-rate",
        type=float,
        default=20.0,
        help="(3) city: of the alerts, probes/s that open incidents, as bench.ws's (default 20)",
    )
    parser.add_argument(
        "--units-per-street",
        type=int,
        default=10,
        help="(3) spread: extra units in every street jurisdiction (10)",
    )
    parser.add_argument(
        "--tablets",
        choices=("answer", "silent"),
        default="answer",
        help="(3): accept and complete every task, freeing its unit (default), or leave it pending "
        "(then give enough --units-per-street for every alert)",
    )
    parser.add_argument(
        "--stall", type=float, default=3.0, help="a run ends when nothing moved for this long (default 3 s)"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--config", type=Path, default=CONFIG, help="config file the servers start from")
    return parser.parse_args(argv)


def chosen_scenarios(args: argparse.Namespace) -> tuple[list[str], list[int], list[str]]:
    """The scenarios, rates and mixes asked for, or SystemExit naming what is wrong."""
    chosen = [name.strip() for name in args.scenario.split(",") if name.strip()]
    unknown = set(chosen) - {"baseline", "intake", "tasks"}
    if unknown:
        raise SystemExit(f"unknown scenario {sorted(unknown)}; pick from baseline, intake, tasks")
    if shutil.which(MOSQUITTO_PUB) is None:
        raise SystemExit("mosquitto_pub is not installed: apt-get install -y mosquitto-clients")
    mixes = [mix.strip() for mix in args.mix.split(",") if mix.strip()]
    if set(mixes) - set(MIXES):
        raise SystemExit(f"unknown mix {sorted(set(mixes) - set(MIXES))}; pick from {', '.join(MIXES)}")
    return chosen, parse_sizes(args.rates), mixes


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    chosen, rates, mixes = chosen_scenarios(args)
    scenarios: dict[str, list[Any]] = {"latency": [], "throughput": [], "intake": [], "tasks": []}
    load: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dispatch-bench-mqtt-")))
        # One snapshot of the config for the whole benchmark, whatever happens to the file meanwhile.
        shutil.copyfile(args.config, directory / "config.yaml")
        args.config = directory / "config.yaml"
        broker = await stack.enter_async_context(mosquitto(args.broker, args.mosquitto_set, directory))
        for number in range(args.runs):
            # The machine may be shared: how busy it was says how far to trust the figures.
            load.append(os.getloadavg()[0])
            print(f"\n== run {number + 1} of {args.runs} (load average {load[-1]:.2f})", flush=True)
            lines = IntakeMix(args.config, seed=number).lines(args.alerts)
            if "baseline" in chosen:
                await baseline_runs(args, broker, scenarios, lines, directory, number)
            if "intake" in chosen:
                await intake_runs(args, broker, scenarios, lines)
            if "tasks" in chosen:
                await task_runs(
                    args, broker, scenarios, [(mix, rate) for mix in mixes for rate in rates], number
                )
    result: dict[str, Any] = {
        "benchmark": "mqtt link",
        "broker": f"private ({' '.join(args.mosquitto_set)})" if args.mosquitto_set else args.broker,
        "broker_limits": broker.limits,
        "mosquitto": mosquitto_version(),
        "machine": machine() | {"aiomqtt": aiomqtt.__version__},
        "runs": args.runs,
        "alerts": args.alerts,
        "rate": args.rate,
        "rates": rates,
        "mixes": mixes,
        "probe_rate": args.probe_rate,
        "city_hotspots": CITY_HOTSPOTS,
        "seconds": args.seconds,
        "units_per_street": args.units_per_street,
        "stall_seconds": args.stall,
        "load_average_1m": {"before_each_run": load, "after": os.getloadavg()[0]},
        "median": medians(scenarios),
        "scenarios": {name: [asdict(run) for run in runs] for name, runs in scenarios.items() if runs},
    }
    result["table"] = table(result, scenarios)
    return result


async def intake_runs(
    args: argparse.Namespace, broker: Broker, scenarios: dict[str, list[Any]], lines: bytes
) -> None:
    for qos in (0, 1):
        intake = await intake_run(args, broker, qos, lines)
        scenarios["intake"].append(intake)
        print(
            f"  (2) intake QoS {qos}: {intake.alerts_per_s:,.0f} alerts/s published → committed, "
            f"{intake.committed:,}/{intake.published:,} committed in {intake.seconds:.1f} s "
            f"(broker took them at {intake.published_per_s:,.0f}/s)",
            flush=True,
        )
        say_drops(intake.broker_drops)


async def task_runs(
    args: argparse.Namespace,
    broker: Broker,
    scenarios: dict[str, list[Any]],
    pairs: list[tuple[str, int]],
    number: int,
) -> None:
    for mix, rate in pairs:
        if mix == "spread":
            run = await tasks_run(args, broker, rate, seed=number)
            measured = f"{run.with_task:,}/{run.published:,} with a task"
        else:
            run = await city_tasks_run(args, broker, rate, seed=number)
            measured = (
                f"{run.with_task:,}/{run.probes_opened:,} probes that opened an incident "
                f"with a task ({run.probes:,} probes, {run.others_opened:,} other openers)"
            )
        scenarios["tasks"].append(run)
        print(
            f"  (3) alert → task, mix {mix}, at {rate:,}/s: p50 {run.p50_ms:,.1f} ms, "
            f"p99 {run.p99_ms:,.1f} ms, max {run.max_ms:,.1f} ms; {measured}; "
            f"server took {run.mqtt.get('received', {})}; tiers {run.tiers}",
            flush=True,
        )
        say_drops(run.broker_drops)


async def baseline_runs(
    args: argparse.Namespace,
    broker: Broker,
    scenarios: dict[str, list[Any]],
    lines: bytes,
    directory: Path,
    number: int,
) -> None:
    latency = await broker_latency(broker, args.rate, args.seconds, seed=number)
    scenarios["latency"].append(latency)
    print(
        f"  (1) broker latency, QoS 1 at {latency.rate:,}/s: p50 {latency.p50_ms:.2f} ms, "
        f"p99 {latency.p99_ms:.2f} ms, max {latency.max_ms:.1f} ms, {latency.received:,}/{latency.sent:,} "
        f"received, pacing lag p99 {latency.schedule_lag_p99_ms:.2f} ms",
        flush=True,
    )
    for qos in (0, 1):
        through = await broker_throughput(broker, qos, lines, directory, args.stall)
        scenarios["throughput"].append(through)
        print(
            f"  (1) broker throughput, QoS {qos}: {through.delivered_per_s:,.0f} msgs/s delivered, "
            f"{through.received:,}/{through.messages:,} received; broker took "
            f"{through.published_per_s:,.0f} msgs/s",
            flush=True,
        )
        say_drops(through.broker_drops)


def say_drops(lines: list[str]) -> None:
    for line in lines[:2]:
        print(f"      broker log: {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    result = asyncio.run(bench(args))
    result["wall_seconds"] = round(time.monotonic() - began, 1)
    print()
    print(result["table"])
    write_json(args.json, result)
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
