"""S9's figures: medians of the rounds, ratios ours/Alertmanager, and every run's figure."""

from __future__ import annotations

from typing import Any

from bench.harness.stats import fixed, median

SYSTEMS = ("ws", "mqtt", "am")
BASELINES = {"ws": "ws-before", "mqtt": "mqtt-before"}
"""With --baseline-code: our systems again, on the older checkout's server."""
LABELS = {
    "ws": "ours, WebSocket",
    "mqtt": "ours, MQTT",
    "am": "Alertmanager → webhook",
    "ws-before": "before, WebSocket",
    "mqtt-before": "before, MQTT",
}
GOAL = 2.0
KEYS = ("p50_ms", "p99_ms", "max_ms")
Runs = dict[int, dict[str, list[Any]]]
"""rate → system → that system's runs at that rate, one per round."""


def measured(run: Any) -> int:
    found = getattr(run, "measured", None)
    return int(run.with_task if found is None else found)


def _missing(run: Any) -> int:
    found = getattr(run, "no_webhook", None)
    return int(run.no_task if found is None else found)


def medians(runs: Runs) -> dict[int, dict[str, dict[str, float]]]:
    """rate → system → median p50, p99, max; and ratios of ours to Alertmanager's p50 and p99."""
    out: dict[int, dict[str, dict[str, float]]] = {}
    for rate, by_system in runs.items():
        out[rate] = {
            system: {key: median([getattr(run, key) for run in each]) for key in KEYS}
            for system, each in by_system.items()
        }
        am = out[rate].get("am")
        for system, figures in out[rate].items():
            if system != "am" and am is not None:
                figures["p50_ratio"] = figures["p50_ms"] / am["p50_ms"]
                figures["p99_ratio"] = figures["p99_ms"] / am["p99_ms"]
    return out


def table(runs: Runs, rounds: int) -> str:
    figures = medians(runs)
    lines = [
        f"S9: alert sent → task on the tablet (ours) / webhook received (Alertmanager); "
        f"median of {rounds} round(s); ms; goal: ours p99 ≤ {GOAL:g}× Alertmanager's",
        "",
        "| alerts/s | system | p50 | p99 | max | p50 ours/AM | p99 ours/AM | goal |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for rate, by_system in figures.items():
        for system, row in by_system.items():
            ratio = row.get("p99_ratio")
            goal = "" if ratio is None else ("met" if ratio <= GOAL else "not met")
            lines.append(
                f"| {rate:,} | {LABELS[system]} | {fixed(row['p50_ms'])} | {fixed(row['p99_ms'])} | "
                f"{fixed(row['max_ms'])} | {fixed(row.get('p50_ratio'), 2)} | "
                f"{fixed(ratio, 2)} | {goal} |"
            )
    return "\n".join(lines)


def run_table(runs: Runs) -> str:
    """Every run's p50 / p99 (ms) and how many alerts it measured, round by round."""
    lines = [
        "Every run: p50 / p99 ms (alerts measured; alerts without task or webhook)",
        "",
        "| alerts/s | system | runs |",
        "|---:|---|---|",
    ]
    for rate, by_system in runs.items():
        for system, each in by_system.items():
            cells = "; ".join(
                f"{fixed(run.p50_ms)} / {fixed(run.p99_ms)} ({measured(run):,}; {_missing(run)})"
                for run in each
            )
            lines.append(f"| {rate:,} | {LABELS[system]} | {cells} |")
    return "\n".join(lines)
