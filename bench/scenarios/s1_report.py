"""S1's figures: medians per case and server, the ratio ours/Alertmanager, the table and the JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bench.harness.stats import median
from bench.scenarios.s1_load import Figures

GOAL = 1.3
SERVERS = ("ours", "fronts", "alertmanager", "floor")
LABELS = {
    "ours": "ours",
    "fronts": "ours, core + fronts",
    "alertmanager": "Alertmanager",
    "floor": "bare aiohttp",
}
Results = dict[str, dict[str, list[Figures]]]  # case → server → runs


def opened_share(run: Figures) -> float:
    """The share of a run's stored alerts that opened an incident (ours only; NaN otherwise)."""
    alerts = run.stored.get("alerts", 0)
    return run.stored.get("incidents", 0) / alerts if alerts else float("nan")


def per_cpu_second(run: Figures) -> float:
    """Alerts per CPU-second the server used: throughput with the machine's contention taken out."""
    return run.alerts_per_s / run.server_busy if run.server_busy > 0 else float("nan")


def medians(runs: list[Figures]) -> dict[str, float]:
    return {
        "alerts_per_s": median([run.alerts_per_s for run in runs]),
        "requests_per_s": median([run.requests_per_s for run in runs]),
        "p50_ms": median([run.p50_ms for run in runs]),
        "p99_ms": median([run.p99_ms for run in runs]),
        "errors": sum(run.errors for run in runs),
        "opened_share": median([opened_share(run) for run in runs]),
        "server_busy": median([run.server_busy for run in runs]),
        "load_busy": median([run.load_busy for run in runs]),
        "alerts_per_cpu_s": median([per_cpu_second(run) for run in runs]),
    }


def ratio(
    case: dict[str, list[Figures]],
    figure: str = "alerts_per_s",
    ours_is: str = "ours",
    peer_is: str = "alertmanager",
) -> float:
    ours = medians(case.get(ours_is, []))[figure]
    peer = medians(case.get(peer_is, []))[figure]
    return ours / peer if peer == peer and peer and ours == ours else float("nan")


def _ratio(value: float) -> str:
    return "—" if value != value else f"{value:.2f}"


def _count(value: float) -> str:
    return "—" if value != value else f"{value:,.0f}"


def _ms(value: float) -> str:
    return "—" if value != value else f"{value:,.1f}"


def _runs(runs: list[Figures]) -> str:
    return " / ".join(f"{run.alerts_per_s:,.0f}" for run in runs) or "—"


def table(results: Results, runs: int, seconds: float) -> str:
    lines = [
        f"S1, durable HTTP intake: ours (202 after commit, SQLite) vs Alertmanager (in memory) vs bare "
        f"aiohttp; 16 clients; median of {runs} run(s) × {seconds:g} s; goal ours/AM ≥ {GOAL}",
        "",
        "| placement | mix | alerts/request | ours alerts/s | Alertmanager alerts/s | ours/AM "
        "| bare aiohttp alerts/s | ours p99 ms | AM p99 ms | ours/AM per server CPU-second "
        "| ours: share opening incidents | core + fronts alerts/s | fronts/AM | fronts/ours | fronts p99 ms "
        "| errors | every run: ours · fronts · AM · bare |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for key, case in results.items():
        placement, mix, batch = key.split()
        figures = {server: medians(case.get(server, [])) for server in SERVERS}
        share = figures["ours"]["opened_share"]
        errors = sum(int(figures[server]["errors"]) for server in SERVERS)
        every = " · ".join(_runs(case.get(server, [])) for server in SERVERS)
        lines.append(
            f"| {placement} | {mix} | {batch} | {_count(figures['ours']['alerts_per_s'])} "
            f"| {_count(figures['alertmanager']['alerts_per_s'])} | {_ratio(ratio(case))} "
            f"| {_count(figures['floor']['alerts_per_s'])} | {_ms(figures['ours']['p99_ms'])} "
            f"| {_ms(figures['alertmanager']['p99_ms'])} | {_ratio(ratio(case, 'alerts_per_cpu_s'))} "
            f"| {'—' if share != share else f'{share:.1%}'} | {_count(figures['fronts']['alerts_per_s'])} "
            f"| {_ratio(ratio(case, ours_is='fronts'))} "
            f"| {_ratio(ratio(case, ours_is='fronts', peer_is='ours'))} "
            f"| {_ms(figures['fronts']['p99_ms'])} | {errors} | {every} |"
        )
    return "\n".join(lines)


def run_table(results: Results) -> str:
    """Every run: its throughput, latency, and how busy the server and the load generator were."""
    lines = [
        "| case | server | run | alerts/s | p50 ms | p99 ms | server CPU busy | load CPU busy "
        "| alerts per server CPU-second | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, case in results.items():
        for server, runs in case.items():
            for number, run in enumerate(runs, 1):
                lines.append(
                    f"| {key} | {LABELS[server]} | {number} | {run.alerts_per_s:,.0f} | {_ms(run.p50_ms)} "
                    f"| {_ms(run.p99_ms)} | {run.server_busy:.0%} | {run.load_busy:.0%} "
                    f"| {_count(per_cpu_second(run))} | {run.errors} |"
                )
    return "\n".join(lines)


def outcome(results: Results, settings: dict[str, Any], text: str) -> dict[str, Any]:
    """The JSON: settings and machine, medians and ratios per case, every run, the table."""
    return {
        **settings,
        "median": {
            key: {server: medians(runs) for server, runs in case.items()} for key, case in results.items()
        },
        "ratio_ours_to_alertmanager": {key: ratio(case) for key, case in results.items()},
        "ratio_fronts_to_alertmanager": {key: ratio(case, ours_is="fronts") for key, case in results.items()},
        "ratio_fronts_to_ours": {
            key: ratio(case, ours_is="fronts", peer_is="ours") for key, case in results.items()
        },
        "ratio_per_server_cpu_second": {
            key: ratio(case, "alerts_per_cpu_s") for key, case in results.items()
        },
        "goal_met": {key: ratio(case) >= GOAL for key, case in results.items()},
        "runs": {
            key: {server: [asdict(run) for run in runs] for server, runs in case.items()}
            for key, case in results.items()
        },
        "table": text,
    }
