"""One sustained run: new incidents over MQTT at a rate for a while, every task accepted over MQTT.

The real server (`dispatch serve --mqtt`, embedded SQLite, bench.scenarios.mqtt_server) with
the config's 135 units plus `units` street units shared out by where the alerts fall; one device
per unit (bench.scenarios.sustained_devices) subscribed to its own tasks topic, accepting each
task and then completing it, as a unit that finishes one job before the next; a sensor gateway
publishing bench.workloads' SpreadMix (every alert at its own grid point: each opens an
incident) on `{prefix}/sensors/gw-1/alerts` at QoS 1 through `mosquitto_pub -l` (a C process, so
the load costs the shared cores little), paced open-loop (bench.harness.mqtt.paced).

Recorded each second: alerts sent (here), incidents opened and tasks accepted (the server's
event log, read from the SQLite file while it runs), tasks delivered (on the devices' topics).
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness.mqtt import Broker, Publisher, paced
from bench.harness.stats import percentile
from bench.scenarios.mqtt_server import Server, dispatch_server, new_session, server_troubles, write_config
from bench.scenarios.sustained_devices import Devices
from bench.workloads.alerts import SpreadMix
from bench.workloads.city import City

STALL_S = 10.0
"""The drain ends when nothing was accepted for this long (or everything was), or after settings' drain s."""
KINDS = (
    "incident_reported",
    "task_assigned",
    "task_accepted",
    "task_completed",
    "incident_escalated",
    "incident_unanswered",
)


class EventTally:
    """The server's event log, read as it grows (SQLite read-only, WAL: never blocks the writer)."""

    def __init__(self, database: Path) -> None:
        from dispatch.storage.tables import event_table

        self._connection = sqlite3.connect(
            f"file:{database}?mode=ro", uri=True, timeout=5, check_same_thread=False
        )
        self._query = f'SELECT seq, occurred_at, type FROM "{event_table.name}" WHERE seq > ? ORDER BY seq'
        self.last = 0
        self.times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.accepted_incidents: set[int] = set()
        self.events = 0

    def poll(self) -> None:
        """Read the events committed since the last poll (wall-clock times, as the server wrote them)."""
        for seq, occurred_at, kind in self._connection.execute(self._query, (self.last,)):
            self.last = seq
            self.events += 1
            if kind in self.times:
                self.times[kind].append(occurred_at)

    def accepted_by_incident(self) -> set[int]:
        from dispatch.storage.tables import event_table

        query = f"SELECT DISTINCT incident_id FROM \"{event_table.name}\" WHERE type = 'task_accepted'"
        return {row[0] for row in self._connection.execute(query)}

    def close(self) -> None:
        self._connection.close()


@dataclass
class SustainedRun:
    rate: int
    seconds: int
    units: int = 0
    extra_units: int = 0
    sent: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)
    """Alert title → when its line was written to the sensor's mosquitto_pub (perf_counter)."""
    began: float = 0.0
    began_wall: float = 0.0
    ended: float = 0.0
    schedule_lag_p99_ms: float = float("nan")
    drain_seconds: float = 0.0
    events: dict[str, list[float]] = field(default_factory=dict)
    """Wall-clock times of the server's events of KINDS."""
    devices: dict[str, Any] = field(default_factory=dict)
    accounting: dict[str, int] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, float]] = field(default_factory=list)
    """The progress lines: seconds since start, counts so far, server CPU %."""


def street_units(config: Path, mix: SpreadMix, total: int, floor: int = 2) -> dict[str, int]:
    """`total` units over the streets in proportion to how many of the mix's grid points each holds."""
    city = City(config, random.Random(0))
    found = city.router.locate_many(mix.points)
    share = Counter(node.id for node in found if node is not None)
    points = sum(share.values())
    return {node.id: max(floor, round(total * share[node.id] / points)) for node in city.streets}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def waited_seconds(pid: int) -> float:
    """Seconds the process's threads spent runnable but waiting for a CPU (/proc schedstat run delay).

    On a machine shared with other work this is the time the server wanted a core and got none.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(task.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


class Progress:
    """Once a second: what was sent, opened, delivered and accepted so far, and the server's CPU."""

    def __init__(self, run: SustainedRun, tally: EventTally, devices: Devices, server: Server) -> None:
        self.run, self.tally, self.devices, self.server = run, tally, devices, server
        self.cpu, self.waited = cpu_seconds(server.pid), waited_seconds(server.pid)
        self.at = time.perf_counter()

    async def tick(self) -> dict[str, float]:
        await asyncio.to_thread(self.tally.poll)
        now, cpu, waited = time.perf_counter(), cpu_seconds(self.server.pid), waited_seconds(self.server.pid)
        busy = (cpu - self.cpu) / max(1e-6, now - self.at) * 100
        starved = (waited - self.waited) / max(1e-6, now - self.at) * 100
        self.cpu, self.waited, self.at = cpu, waited, now
        live = self.devices.live()
        sample = {
            "t": round(now - self.run.began, 1),
            "sent": len(self.run.sent_at),
            "opened": len(self.tally.times["incident_reported"]),
            "delivered": live.get("delivered", 0),
            "accepted": len(self.tally.times["task_accepted"]),
            "server_cpu_percent": round(busy),
            "server_waiting_for_cpu_percent": round(starved),
        }
        self.run.samples.append(sample)
        print(
            f"  {sample['t']:6.1f} s  sent {sample['sent']:>7,}  opened {sample['opened']:>7,}  "
            f"delivered {sample['delivered']:>7,}  accepted {sample['accepted']:>7,}  "
            f"backlog {sample['sent'] - sample['accepted']:>7,}  server CPU {busy:3.0f} %, "
            f"waiting for a CPU {starved:3.0f} %  load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        return sample

    async def every_second(self, stop: asyncio.Event) -> None:
        stopped = asyncio.create_task(stop.wait())
        while not stopped.done():
            await asyncio.wait([stopped], timeout=1.0)
            await self.tick()


async def _drain(progress: Progress, total: int, most: float) -> None:
    """Until every alert's task is accepted, or nothing was accepted for STALL_S, or `most` s."""
    began = last_change = time.perf_counter()
    before = -1
    while time.perf_counter() - began < most:
        sample = await progress.tick()
        accepted = int(sample["accepted"])
        if accepted >= total:
            return
        if accepted != before:
            before, last_change = accepted, time.perf_counter()
        elif time.perf_counter() - last_change > STALL_S:
            return
        await asyncio.sleep(1.0)


async def _load(
    run: SustainedRun, mix: SpreadMix, sensor: Publisher, progress: Progress, drain: float
) -> None:
    """Alerts at `rate`/s for `seconds` s, progress each second meanwhile; then the drain."""
    assert sensor.process.stdin is not None
    pipe = sensor.process.stdin

    def send(number: int) -> None:
        run.sent_at[mix.title(number)] = time.perf_counter()
        pipe.write(mix.alert(number) + b"\n")  # buffered by the pipe's transport, never blocks

    stop = asyncio.Event()
    run.began, run.began_wall = time.perf_counter() + 0.05, time.time() + 0.05
    ticking = asyncio.create_task(progress.every_second(stop))
    lags = await paced(run.rate, run.seconds, send)
    run.ended = time.perf_counter()
    stop.set()
    await ticking
    run.schedule_lag_p99_ms = percentile(lags, 0.99)
    print(f"  load over: {len(run.sent_at):,} alerts sent; draining …", flush=True)
    await _drain(progress, len(run.sent_at), drain)
    run.drain_seconds = time.perf_counter() - run.ended
    await sensor.finish()
    run.server["sensor_exit_code"] = sensor.process.returncode


async def sustained_run(
    base_config: Path,
    broker: Broker,
    directory: Path,
    settings: dict[str, Any],
    on_server: Callable[[Server], Any] | None = None,
) -> SustainedRun:
    """One run; settings: rate, seconds, units (extra street units), processes (device workers), drain
    (most seconds to wait for the last accepts), seed."""
    rate, seconds, seed = settings["rate"], settings["seconds"], settings["seed"]
    run = SustainedRun(rate=rate, seconds=seconds)
    session = new_session("sustained")
    own = directory / f"sustained-{session.prefix}"
    own.mkdir()
    config = own / "config.yaml"
    mix = SpreadMix(base_config, seed)
    if rate * seconds > mix.capacity:
        raise SystemExit(f"{rate * seconds} alerts, but only {mix.capacity} uncorrelated places")
    per_street = street_units(base_config, mix, settings["units"])
    run.extra_units = sum(per_street.values())
    run.units = write_config(base_config, config, session, per_street, seed)
    mix = SpreadMix(config, seed)
    units = _unit_ids(config)
    async with (
        dispatch_server(broker, session, config, own) as server,
        Devices(broker, session.prefix, units, settings["processes"], own) as devices,
    ):
        if on_server is not None:
            on_server(server)
        tally = EventTally(server.database)
        topic = f"{session.prefix}/sensors/gw-1/alerts"
        sensor = await Publisher.start(broker, topic, 1, own / "sensor.log")
        try:
            progress = Progress(run, tally, devices, server)
            cpu, waited = cpu_seconds(server.pid), waited_seconds(server.pid)
            await _load(run, mix, sensor, progress, settings["drain"])
            run.server["cpu_seconds_load_and_drain"] = round(cpu_seconds(server.pid) - cpu, 2)
            run.server["waiting_for_cpu_seconds_load_and_drain"] = round(
                waited_seconds(server.pid) - waited, 2
            )
            run.devices = await devices.finish()
            await asyncio.to_thread(tally.poll)
            run.events = tally.times
            run.accounting = await asyncio.to_thread(_account, run, tally, server.database)
        finally:
            tally.close()
    troubles = server_troubles(server.log)
    troubles["samples"] = [line.replace(str(directory), "<run>") for line in troubles["samples"]]
    run.server |= troubles
    return run


def _unit_ids(config: Path) -> list[str]:
    from dispatch.config.model import load_config

    return [unit.id for unit in load_config(config).responders]


def _account(run: SustainedRun, tally: EventTally, database: Path) -> dict[str, int]:
    """Every alert sent: stored? opened its own incident? that incident's task accepted?"""
    from bench.harness.database import openers

    stored = openers(database)
    accepted_incidents = tally.accepted_by_incident()
    out: Counter[str] = Counter()
    for title in run.sent_at:
        found = stored.get(title)
        if found is None:
            out["not_stored"] += 1
            continue
        incident_id, opened = found
        out["opened_own_incident" if opened else "joined_another_incident"] += 1
        out["incident_task_accepted" if incident_id in accepted_incidents else "incident_not_accepted"] += 1
    out["sent"] = len(run.sent_at)
    out["delivered_on_device"] = sum(1 for title in run.sent_at if title in run.devices["delivered"])
    out["accepted_on_device"] = sum(1 for title in run.sent_at if title in run.devices["accepted"])
    out["escalations"] = len(tally.times["incident_escalated"])
    # Incidents whose ladder ended with nobody (free) accepting: the roster, or time, ran out.
    out["unanswered"] = len(tally.times["incident_unanswered"])
    out["tasks_assigned"] = len(tally.times["task_assigned"])
    return dict(out)
