"""Sustained new incidents over MQTT: N alerts/s, each a new incident whose task is accepted over MQTT.

The owner's goal: "1,000 new incidents/s each with its task delivered and accepted over MQTT,
sustained for 60 s without backlog growth", on the default `dispatch serve` (embedded SQLite)
with its MQTT link. For each rate, one run (bench.scenarios.sustained_run): a fresh server, a
sensor gateway publishing alerts at the rate, each at its own place (each opens an incident);
one device per responder subscribed to its own tasks topic, accepting each task over MQTT and
then completing it (so units come free, as in a steady state where jobs end as fast as they
start); `--units` extra street units (default 6 per alert/s, shared out by where the alerts
fall) besides the config's 135, so that the roster is not the limit.

Each second: alerts sent, incidents opened and tasks accepted (the server's event log),
tasks delivered (on the devices), the backlog (sent − accepted). At the end: every alert
accounted for (stored, opened its own incident, that incident's task accepted), the rate
offered and accepted, the backlog's slope over the load after a warm-up, and latency alert
sent → task delivered / → accept confirmed (p50/p99). Met when the rate was offered, accepts
kept within 1 % of it with the backlog growing by less than 1 % of the rate per second, and
everything was accounted for.

    .venv/bin/python -m bench sustained                        # 1,000/s for 60 s
    .venv/bin/python -m bench sustained --rates 250,500,1000   # one run each, in turn
    .venv/bin/python -m bench sustained --quick                # 100/s for 5 s, JSON under /tmp
    .venv/bin/python -m bench sustained --rate 500 --py-spy /tmp/prof   # profile the server

The broker is a private Mosquitto with the settings `dispatch mqtt-acl` asks for
(max_queued_messages 0, set_tcp_nodelay true), unless --broker names one.
JSON to bench/results/sustained.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import CONFIG, RESULTS
from bench.harness.mqtt import mosquitto, mosquitto_version
from bench.harness.results import write_json
from bench.harness.stats import fixed, parse_sizes
from bench.harness.system import machine, raise_fd_limit
from bench.scenarios.mqtt_server import Server
from bench.scenarios.sustained_run import SustainedRun, sustained_run
from bench.scenarios.sustained_timeline import (
    judge,
    latencies_ms,
    peak_concurrent,
    per_second,
    quantiles,
    series_table,
)

DEFAULT_JSON = RESULTS / "sustained.json"
BROKER_SETTINGS = ["max_queued_messages=0", "set_tcp_nodelay=true"]
"""gateways/mqtt_acl.py's QUEUE_SETTINGS that apply to a throwaway broker (not persistence)."""
WARM_UP_S = 5
UNITS_PER_RATE = 6
"""Extra street units per alert/s: a unit is busy from its task to its completion, seconds when the
server lags on a shared machine; with fewer, incidents climb their ladder finding nobody free."""


def summarise(run: SustainedRun) -> dict[str, Any]:
    """Per-second series, the verdict, latencies, the roster's peak, the accounting."""
    length = run.seconds + max(1, round(run.drain_seconds + 0.999))
    devices = run.devices
    series = {
        "sent": per_second(run.sent_at.values(), run.began, length),
        "opened": per_second(run.events["incident_reported"], run.began_wall, length),
        "delivered": per_second(devices["delivered"].values(), run.began, length),
        "accepted": per_second(run.events["task_accepted"], run.began_wall, length),
    }
    account = run.accounting
    finished = [title for title in devices["completed"] if title in devices["delivered"]]
    accounted = (
        account["sent"] == account.get("opened_own_incident", 0) == account.get("incident_task_accepted", 0)
    )
    warm_up = min(WARM_UP_S, run.seconds // 4)
    verdict = judge(run.rate, run.seconds, warm_up, series["sent"], series["accepted"], accounted)
    return {
        "rate": run.rate,
        "seconds": run.seconds,
        "units": run.units,
        "extra_street_units": run.extra_units,
        "server_cpu_ms_per_alert": run.server["cpu_seconds_load_and_drain"] * 1000 / max(1, account["sent"]),
        # Units busy at once, from each task delivered to its completion confirmed (tasks that expired
        # or never completed are left out: a lower bound when any did).
        "busy_units_peak": peak_concurrent(
            [devices["delivered"][title] for title in finished],
            [devices["completed"][title] for title in finished],
        ),
        "verdict": verdict.__dict__,
        "warm_up_s": warm_up,
        "delivered": quantiles(latencies_ms(run.sent_at, devices["delivered"])),
        "accepted": quantiles(latencies_ms(run.sent_at, devices["accepted"])),
        "accounting": account,
        "per_second": series,
        "schedule_lag_p99_ms": run.schedule_lag_p99_ms,
        "drain_seconds": round(run.drain_seconds, 1),
        "device_results": devices["results"],
        "tiers": devices["tiers"],
        "wrong_topic": devices["wrong_topic"],
        "device_publish_failures": devices["publish_failures"],
        "server": run.server,
        "progress": run.samples,
    }


def table(summaries: list[dict[str, Any]]) -> str:
    lines = [
        "| alerts/s | s | offered/s | accepted/s | backlog slope /s | backlog at end "
        "| → delivered p50 / p99 ms | → accepted p50 / p99 ms | alerts · opened own · accepted "
        "| units (busy peak) | escalated · unanswered | server CPU ms/alert | met |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- | ---: | --- |",
    ]
    for s in summaries:
        v, a, d, acc = s["verdict"], s["accepted"], s["delivered"], s["accounting"]
        opened, accepted = acc.get("opened_own_incident", 0), acc.get("incident_task_accepted", 0)
        lines.append(
            f"| {s['rate']:,} | {s['seconds']} | {fixed(v['offered_per_s'], 0)} "
            f"| {fixed(v['accepted_per_s'], 0)} | {fixed(v['backlog_slope_per_s'], 1)} "
            f"| {v['backlog_at_end']:,} | {fixed(d['p50_ms'])} / {fixed(d['p99_ms'])} "
            f"| {fixed(a['p50_ms'])} / {fixed(a['p99_ms'])} | {acc['sent']:,} · {opened:,} · {accepted:,} "
            f"| {s['units']:,} ({s['busy_units_peak']:,}) "
            f"| {acc.get('escalations', 0):,} · {acc.get('unanswered', 0):,} "
            f"| {fixed(s.get('server_cpu_ms_per_alert'), 2)} "
            f"| {'yes' if v['met'] else '**no**'} |"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def profiler(directory: Path | None, rate: int, seconds: int) -> Any:
    """`py-spy record` of the server during its load (raw stacks per thread), if asked for."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(server: Server) -> None:
        if directory is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        out = directory / f"server-{rate}.txt"
        command = [spy, "record", "--pid", str(server.pid), "--subprocesses", "--threads", "--idle"]
        command += ["--format", "raw", "-r", "100", "-d", str(seconds + 2), "-o", str(out)]
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))

    try:
        yield start
    finally:
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)
            if process.poll() is None:
                process.kill()


async def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    summaries = []
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-sustained-") as temp:
        directory = Path(temp)
        shutil.copyfile(args.config, directory / "config.yaml")
        settings = [] if args.broker else BROKER_SETTINGS + args.mosquitto_set
        async with mosquitto(args.broker or "mqtt://127.0.0.1:1883", settings, directory) as broker:
            for rate in args.rates:
                units = args.units if args.units is not None else max(600, UNITS_PER_RATE * rate)
                print(f"\n{rate:,} alerts/s for {args.seconds} s, {units:,} extra street units …", flush=True)
                with profiler(args.py_spy, rate, args.seconds) as on_server:
                    run = await sustained_run(
                        directory / "config.yaml",
                        broker,
                        directory,
                        {"rate": rate, "seconds": args.seconds, "units": units, "seed": args.seed}
                        | {"processes": args.processes, "drain": args.drain},
                        on_server,
                    )
                summary = summarise(run)
                summaries.append(summary)
                print(series_table(summary["per_second"], args.every), flush=True)
                print(table([summary]), flush=True)
    return summaries


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench sustained", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="alerts/s (default 1000)")
    parser.add_argument("--rates", help="several rates, one run each in turn, e.g. 250,500,1000")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument("--units", type=int, help="extra street units (default 6 per alert/s, at least 600)")
    parser.add_argument("--processes", type=int, default=2, help="device processes (default 2)")
    parser.add_argument(
        "--drain", type=float, default=60.0, help="most seconds to wait for the last accepts (default 60)"
    )
    parser.add_argument("--every", type=int, default=5, help="seconds per row of the printed series")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--broker", help="use this Mosquitto, mqtt://host[:port] (default: a private one)")
    parser.add_argument(
        "--mosquitto-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another setting of the private broker, e.g. max_inflight_messages=1000 (repeatable)",
    )
    parser.add_argument("--config", type=Path, default=CONFIG, help="config file the server starts from")
    parser.add_argument("--py-spy", type=Path, help="profile the server with py-spy into this folder")
    parser.add_argument("--json", type=Path, help=f"where to write results (default {DEFAULT_JSON})")
    parser.add_argument("--quick", action="store_true", help="100/s for 5 s, JSON to /tmp/sustained.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rate, args.seconds = 100, 5
        args.json = args.json or Path(tempfile.gettempdir()) / "sustained.json"
    args.json = args.json or DEFAULT_JSON
    args.rates = parse_sizes(args.rates) if args.rates else [args.rate]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    began = time.monotonic()
    about: dict[str, Any] = {
        "benchmark": "sustained: new incidents over MQTT, each task delivered and accepted over MQTT",
        "how": __doc__,
        "rates": args.rates,
        "seconds": args.seconds,
        "broker": args.broker or f"private ({' '.join(BROKER_SETTINGS + args.mosquitto_set)})",
        "mosquitto": mosquitto_version(),
        "config": str(args.config.resolve().relative_to(CONFIG.parent))
        if args.config.resolve().is_relative_to(CONFIG.parent)
        else args.config.name,
        "machine": machine(),
        "load_average_1m_before": os.getloadavg()[0],
    }
    summaries = asyncio.run(bench(args))
    text = table(summaries)
    print(f"\n{text}")
    result = about | {
        "load_average_1m_after": os.getloadavg()[0],
        "table": text,
        "runs": summaries,
        "wall_seconds": round(time.monotonic() - began, 1),
    }
    write_json(args.json, result)
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
