"""The MQTT benchmark's report: one markdown table of medians and per-run figures, and the medians."""

from __future__ import annotations

from typing import Any

from bench.harness.stats import median
from bench.harness.stats import scaled as _f
from bench.scenarios.mqtt_broker import LatencyRun, ThroughputRun
from bench.scenarios.mqtt_intake import IntakeRun
from bench.scenarios.mqtt_tasks import TaskRun
from bench.workloads.alerts import CITY_HOTSPOTS

MIXES = ("spread", "city")


def rows(name: str, runs: list[Any], figures: tuple[tuple[str, str], ...]) -> list[str]:
    """One table row per figure: its median over the runs, then each run's value in order."""
    lines = []
    for key, label in figures:
        values = [float(getattr(run, key)) for run in runs]
        lines.append(f"| {name} | {label} | {_f(median(values))} | {' / '.join(_f(v) for v in values)} |")
    return lines


def count_row(name: str, label: str, got: list[int], of: list[int]) -> str:
    return f"| {name} | {label} | {sum(got):,} / {sum(of):,} | {' / '.join(f'{g:,}' for g in got)} |"


def table(result: dict[str, Any], scenarios: dict[str, list[Any]]) -> str:
    limits = result["broker_limits"]
    lines = [
        f"MQTT link: Mosquitto {result['broker']} (max_inflight_messages {limits['max_inflight_messages']}, "
        f"max_queued_messages {limits['max_queued_messages']}); median of {result['runs']} run(s), "
        "then each run in order",
        "",
        "| scenario | figure | median | per run |",
        "| --- | --- | ---: | --- |",
    ]
    lines += broker_rows(scenarios["latency"], scenarios["throughput"])
    lines += intake_rows(scenarios["intake"])
    for mix in MIXES:
        for rate in sorted({run.rate for run in scenarios["tasks"] if run.mix == mix}):
            tasks: list[TaskRun] = [run for run in scenarios["tasks"] if run.mix == mix and run.rate == rate]
            lines += task_rows(tasks)
    lines += mix_notes(scenarios["tasks"])
    return "\n".join(lines)


def broker_rows(latency: list[LatencyRun], throughput: list[ThroughputRun]) -> list[str]:
    lines: list[str] = []
    if latency:
        name = (
            f"(1) broker alone: aiomqtt → aiomqtt, QoS 1, {latency[0].rate:,}/s for {latency[0].seconds:g} s"
        )
        lines += rows(
            name, latency, (("p50_ms", "latency p50 ms"), ("p99_ms", "p99 ms"), ("max_ms", "max ms"))
        )
        lines.append(
            count_row(name, "received / sent", [r.received for r in latency], [r.sent for r in latency])
        )
    for qos in (0, 1):
        those = [run for run in throughput if run.qos == qos]
        if those:
            name = f"(1) broker alone: mosquitto_pub -l -q {qos} → aiomqtt, {those[0].messages:,} msgs"
            lines += rows(
                name,
                those,
                (("delivered_per_s", "delivered msgs/s"), ("published_per_s", "taken by the broker msgs/s")),
            )
            lines.append(
                count_row(name, "received / sent", [r.received for r in those], [r.messages for r in those])
            )
    return lines


def intake_rows(runs: list[IntakeRun]) -> list[str]:
    lines: list[str] = []
    for qos in (0, 1):
        intake = [run for run in runs if run.qos == qos]
        if intake:
            name = f"(2) intake: mosquitto_pub -l -q {qos} → server, {intake[0].published:,} alerts"
            lines += rows(
                name,
                intake,
                (
                    ("alerts_per_s", "alerts/s published → committed"),
                    ("published_per_s", "taken by the broker msgs/s"),
                ),
            )
            lines.append(
                count_row(
                    name,
                    "committed / published",
                    [r.committed for r in intake],
                    [r.published for r in intake],
                )
            )
    return lines


def mix_notes(runs: list[TaskRun]) -> list[str]:
    mixes = {run.mix: run for run in runs}
    lines: list[str] = []
    if mixes:
        lines.append("")
    if "spread" in mixes:
        lines.append(
            "(3) spread mix: every alert opens a new incident (its own grid point, a new source); "
            "all of them are measured."
        )
    if "city" in mixes:
        lines.append(
            f"(3) city mix: bench/ws.py's, over MQTT: ~{mixes['city'].probe_rate:g}/s of the alerts are "
            f"probes (new sources near grid workers' homes), the rest repeat at {CITY_HOTSPOTS} hotspots "
            "whose incidents opened first; measured: probes that opened their incident (its lowest "
            "alert id, read from the SQLite file), publish → the incident's first task_assigned."
        )
    return lines


def task_rows(tasks: list[TaskRun]) -> list[str]:
    first = tasks[0]
    name = (
        f"(3) alert → task_assigned, {first.mix} mix: QoS 1 at {first.rate:,}/s for {first.seconds:g} s, "
        f"{first.units} units"
    )
    if first.mix == "spread":
        measured = (
            "alerts with a task / published",
            [r.with_task for r in tasks],
            [r.published for r in tasks],
        )
    else:
        measured = (
            "probes that opened an incident: with a task / all",
            [r.with_task for r in tasks],
            [r.probes_opened for r in tasks],
        )
    lines = rows(
        name,
        tasks,
        (
            ("p50_ms", "latency p50 ms"),
            ("p99_ms", "p99 ms"),
            ("max_ms", "max ms"),
            ("published_per_s", "published/s"),
        ),
    )
    lines.append(count_row(name, *measured))
    if first.mix == "city":
        lines.append(
            count_row(
                name,
                "probes that opened an incident / probes",
                [r.probes_opened for r in tasks],
                [r.probes for r in tasks],
            )
        )
        lines.append(
            count_row(
                name,
                "other alerts that opened one / published",
                [r.others_opened for r in tasks],
                [r.published for r in tasks],
            )
        )
    lines.append(
        count_row(
            name, "alerts the server took / published", [r.taken for r in tasks], [r.published for r in tasks]
        )
    )
    return lines


def medians(scenarios: dict[str, list[Any]]) -> dict[str, dict[str, float]]:
    keys = {
        "latency": ("p50_ms", "p99_ms", "max_ms", "received"),
        "throughput": ("delivered_per_s", "published_per_s", "received"),
        "intake": ("alerts_per_s", "published_per_s", "committed"),
        "tasks": ("p50_ms", "p99_ms", "max_ms", "with_task", "published_per_s"),
    }
    found: dict[str, dict[str, float]] = {}
    for name, runs in scenarios.items():
        groups: dict[str, list[Any]] = {}
        for run in runs:
            label = f"{name} qos{run.qos}" if hasattr(run, "qos") else name
            label = f"{name} {run.mix} {run.rate}/s" if name == "tasks" else label
            groups.setdefault(label, []).append(run)
        for label, group in groups.items():
            found[label] = {key: median([float(getattr(run, key)) for run in group]) for key in keys[name]}
    return found
