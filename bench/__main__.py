"""One runner for the named benchmark scenarios: `python -m bench list`, `python -m bench s1 --quick`.

Each scenario is a module of bench with its own `main(argv)`; the runner only picks it (or
several in turn, `python -m bench intake s1 --quick`), passes the remaining flags on, and
turns `--quick` into each scenario's own quick settings (JSON then goes under /tmp).
"""

from __future__ import annotations

import importlib
import sys

# name → (module, what it measures, its flags for --quick)
SCENARIOS: dict[str, tuple[str, str, list[str]]] = {
    "s1": (
        "bench.s1",
        "goal S1: intake vs Alertmanager and bare aiohttp, pinned and not, city and sensor mixes",
        ["--quick"],
    ),
    "s9": (
        "bench.s9",
        "goal S9: alert → task on the tablet (WebSocket, MQTT) vs Alertmanager alert → webhook",
        ["--quick"],
    ),
    "sustained": (
        "bench.sustained",
        "N new incidents/s over MQTT (default 1,000 for 60 s), every task delivered and accepted over MQTT",
        ["--quick"],
    ),
    "s3": (
        "bench.s3",
        "goal S3: the storm, 10,000 sensors, 5,000 alarms in 10 s: alarm → task, backlog, RSS, accounting",
        ["--quick"],
    ),
    "intake": (
        "bench.intake",
        "durable HTTP intake vs bare aiohttp, 1 and 50 alerts per request",
        ["--seconds", "1", "--runs", "1", "--warmup", "0.5", "--json", "/tmp/intake.json"],
    ),
    "ws": (
        "bench.ws",
        "WebSocket: memory per socket, fan-out to consoles, alert → tablet",
        [
            "--connections",
            "100,200",
            "--consoles",
            "20,50",
            "--incidents",
            "5",
            "--rates",
            "50",
            "--seconds",
            "2",
            "--runs",
            "1",
            "--json",
            "/tmp/ws.json",
        ],
    ),
    "mqtt": (
        "bench.mqtt",
        "MQTT: the bare broker, intake over MQTT, alert → task",
        [
            "--runs",
            "1",
            "--alerts",
            "300",
            "--rate",
            "100",
            "--rates",
            "50",
            "--seconds",
            "2",
            "--json",
            "/tmp/mqtt.json",
        ],
    ),
    "open_incidents": (
        "bench.open_incidents",
        "intake with 0 / 10,000 / 100,000 incidents open",
        [
            "--sizes",
            "0,10000",
            "--rounds",
            "1",
            "--seconds",
            "2",
            "--warmup",
            "0.5",
            "--json",
            "/tmp/open_incidents.json",
        ],
    ),
    "s10": (
        "bench.s10",
        "goal S10: kill -9 under load with 0 / 100,000 incidents open, restart: /readyz time, alerts lost",
        ["--sizes", "0,1000", "--rounds", "1", "--json", "/tmp/s10.json"],
    ),
}


def listing() -> str:
    width = max(map(len, SCENARIOS))
    lines = ["python -m bench NAME [NAME …] [--quick] [the scenario's flags]; scenarios:"]
    lines += [f"  {name:<{width}}  {about}" for name, (_, about, _) in SCENARIOS.items()]
    lines.append("`python -m bench NAME --help` lists a scenario's flags.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = []
    while argv and not argv[0].startswith("-"):
        names.append(argv.pop(0))
    if not names or names == ["list"]:
        print(listing())
        return 0
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}\n{listing()}", file=sys.stderr)
        return 2
    quick = "--quick" in argv
    flags = [flag for flag in argv if flag != "--quick"]
    for name in names:
        module, _, quick_flags = SCENARIOS[name]
        print(f"== {name} ({module})", flush=True)
        code = importlib.import_module(module).main((quick_flags if quick else []) + flags)
        if code:
            return int(code)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
