"""The MQTT benchmark's (3): alert published → task_assigned on the responders' tasks topic.

Two mixes: spread (every alert opens an incident, all measured) and city (bench.ws's mix:
hotspot repeats and probes near grid workers' homes; probes that opened an incident measured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import orjson

from bench.harness.database import openers, stored_counts
from bench.harness.http import mqtt_stats
from bench.harness.mqtt import Background, Broker, paced
from bench.harness.servers import READY_TIMEOUT_S
from bench.harness.stats import percentile
from bench.scenarios.mqtt_server import (
    Server,
    Session,
    dispatch_server,
    new_session,
    server_troubles,
    write_config,
)
from bench.workloads.alerts import CITY_HOTSPOTS, CityMix, SpreadMix


@dataclass
class TaskRun:
    rate: int
    seconds: float
    mix: str = "spread"
    """spread: every alert opens an incident; city: bench.ws's mix, only its probes measured."""
    units: int = 0
    published: int = 0
    published_per_s: float = 0.0
    schedule_lag_p99_ms: float = float("nan")
    with_task: int = 0
    no_task: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    tiers: dict[str, int] = field(default_factory=dict)
    tablet_results: dict[str, int] = field(default_factory=dict)
    tasks_seen: int = 0
    wrong_topic: int = 0
    """Tasks that came on another unit's tasks topic than the one the task names."""
    taken: int = 0
    """The measured alerts the server took (its sensor_alerts counter, less any warm-up)."""
    probe_rate: float = float("nan")
    warm_up: int = 0
    probes: int = 0
    probes_opened: int = 0
    others_opened: int = 0
    not_stored: int = 0
    publish_failures: dict[str, int] = field(default_factory=dict)
    drain_seconds: float = 0.0
    stored: dict[str, int] = field(default_factory=dict)
    mqtt: dict[str, Any] = field(default_factory=dict)
    broker_drops: list[str] = field(default_factory=list)
    troubles: dict[str, Any] = field(default_factory=dict)


class Tablets:
    """One subscription to every unit's tasks topic: notes each task_assigned, accepts, completes."""

    def __init__(self, client: aiomqtt.Client, prefix: str, background: Background, answer: bool) -> None:
        self.client = client
        self.prefix = prefix
        self.background = background
        self.answering = answer
        self.received: dict[str, float] = {}
        self.by_incident: dict[int, float] = {}
        self.titles: dict[int, str] = {}
        """Task id → its title, to put the answers' results to their alerts."""
        self.accepted: dict[str, float] = {}
        """Title → when the result of its accept came back ok (the accept is committed)."""
        self.completed: dict[str, float] = {}
        self.tiers: Counter[str] = Counter()
        self.results: Counter[str] = Counter()
        self.tasks_seen = 0
        self.wrong_topic = 0

    def forget(self) -> None:
        """What came so far was warm-up: start counting afresh (answers to it are still sent)."""
        self.received.clear()
        self.by_incident.clear()
        self.titles.clear()
        self.accepted.clear()
        self.completed.clear()
        self.tiers.clear()
        self.results.clear()
        self.tasks_seen = self.wrong_topic = 0

    async def read(self) -> None:
        async for message in self.client.messages:
            received = time.perf_counter()
            assert isinstance(message.payload, bytes)
            payload = message.payload
            if b'"task_assigned"' in payload:
                event = orjson.loads(payload)["event"]
                body = event["payload"]
                self.received.setdefault(body["title"], received)
                self.by_incident.setdefault(event["incident_id"], received)
                self.titles[event["task_id"]] = body["title"]
                self.tasks_seen += 1
                if message.topic.value.split("/")[-2] != body["responder_id"]:
                    self.wrong_topic += 1
                self.tiers[body["tier"]] += 1
                if self.answering:
                    self.answer(body["responder_id"], event["task_id"], "accept")
            elif payload.startswith(b'{"type":"result"'):
                result = orjson.loads(payload)
                kind = result["id"][0]
                if not result["ok"]:
                    self.results[f"{kind}:{result['error']['code']}"] += 1
                    continue
                self.results[f"{kind}:ok"] += 1
                task = result["task"]
                title = self.titles.get(task["id"])
                if title is not None:
                    (self.accepted if kind == "a" else self.completed).setdefault(title, received)
                if kind == "a":
                    self.answer(task["responder_id"], task["id"], "complete")

    def answer(self, responder_id: str, task_id: int, trigger: str) -> None:
        body = orjson.dumps({"task_id": task_id, "trigger": trigger, "id": f"{trigger[0]}{task_id}"})
        topic = f"{self.prefix}/responders/{responder_id}/acks"
        self.background.spawn(self.client.publish(topic, body, qos=1))


@dataclass
class Rig:
    """A server on its own session, one subscriber standing for every tablet, one sensor publisher."""

    server: Server
    tablets: Tablets
    sensor: aiomqtt.Client
    topic: str
    background: Background
    log_offset: int
    mqtt: dict[str, Any] = field(default_factory=dict)
    """The server's MQTT figures once the load is over and every answer is out."""


@contextlib.asynccontextmanager
async def rig(
    args: argparse.Namespace, broker: Broker, session: Session, config: Path, directory: Path
) -> AsyncIterator[Rig]:
    """Tablets read (and answer, unless --tablets silent) until the rig is left."""
    log_offset = broker.log_size()
    background = Background()
    async with (
        dispatch_server(broker, session, config, directory) as server,
        broker.client(f"bench-tablets-{uuid.uuid4().hex[:10]}", max_inflight_messages=1000) as tablet,
        broker.client(f"bench-sensor-{uuid.uuid4().hex[:10]}", max_inflight_messages=1000) as sensor,
    ):
        await tablet.subscribe(f"{session.prefix}/responders/+/tasks", qos=1)
        tablets = Tablets(tablet, session.prefix, background, args.tablets == "answer")
        reader = asyncio.create_task(tablets.read())
        topic = f"{session.prefix}/sensors/gw-1/alerts"
        found = Rig(server, tablets, sensor, topic, background, log_offset)
        try:
            yield found
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await background.wait()
        found.mqtt = await mqtt_stats(server.url)


def _note_rig(run: TaskRun, broker: Broker, found: Rig, lags: list[float]) -> None:
    """What every task run reports beside its latencies: tablets, publishes, broker, server, database."""
    run.schedule_lag_p99_ms = percentile(lags, 0.99)
    run.tiers = dict(found.tablets.tiers)
    run.tablet_results = dict(found.tablets.results)
    run.tasks_seen, run.wrong_topic = found.tablets.tasks_seen, found.tablets.wrong_topic
    run.publish_failures = dict(found.background.failures)
    run.broker_drops = broker.drops(found.log_offset)
    run.troubles = server_troubles(found.server.log)
    run.stored = stored_counts(f"sqlite:///{found.server.database}")


def _note_latencies(run: TaskRun, latencies: list[float]) -> None:
    latencies.sort()
    run.with_task = len(latencies)
    run.p50_ms, run.p99_ms = percentile(latencies, 0.50), percentile(latencies, 0.99)
    run.max_ms = latencies[-1] if latencies else float("nan")


async def drain(server: Server, tablets: Tablets, total: int, stall: float) -> None:
    """Until every alert has its task, or for `stall` s neither tasks came nor the server took messages."""
    last_change, before = time.perf_counter(), (-1, -1)
    while len(tablets.received) < total and time.perf_counter() - last_change < stall:
        await asyncio.sleep(0.25)
        taken = sum((await mqtt_stats(server.url)).get("received", {}).values())
        now = (len(tablets.received), taken)
        if now != before:
            last_change, before = time.perf_counter(), now


async def tasks_run(args: argparse.Namespace, broker: Broker, rate: int, seed: int) -> TaskRun:
    """The spread mix: every alert at its own grid point opens an incident; every one is measured."""
    session = new_session("tasks")
    run = TaskRun(rate=rate, seconds=args.seconds, published=int(rate * args.seconds))
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-mqtt-") as temp:
        directory = Path(temp)
        config = directory / "config.yaml"
        run.units = write_config(args.config, config, session, args.units_per_street, seed)
        alerts = SpreadMix(config, seed)
        if run.published > alerts.capacity:
            raise SystemExit(f"{run.published} alerts, but only {alerts.capacity} uncorrelated places")
        sent: dict[str, float] = {}
        async with rig(args, broker, session, config, directory) as found:

            def send(number: int) -> None:
                payload = alerts.alert(number)
                sent[alerts.title(number)] = time.perf_counter()
                found.background.spawn(found.sensor.publish(found.topic, payload, qos=1))

            began = time.perf_counter()
            lags = await paced(rate, args.seconds, send)
            ended = time.perf_counter()
            run.published_per_s = run.published / (ended - began)
            await drain(found.server, found.tablets, run.published, args.stall)
            run.drain_seconds = time.perf_counter() - ended
            await asyncio.sleep(0.5)  # the last accepts and completes
        run.mqtt = found.mqtt
        received = found.tablets.received
        _note_latencies(
            run, [(received[title] - at) * 1000 for title, at in sent.items() if title in received]
        )
        run.no_task = run.published - run.with_task
        run.taken = run.mqtt.get("received", {}).get("sensor_alerts", 0)
        _note_rig(run, broker, found, lags)
    return run


async def settle(server: Server, tablets: Tablets, alerts: int, quiet: float, stall: float) -> None:
    """Until the server has taken `alerts` alerts and no task nor answer came for `quiet` s.

    Or until nothing at all moved (alerts taken, tasks, answers) for `stall` s.
    """
    last_change, before = time.perf_counter(), (-1, -1, -1)
    while True:
        await asyncio.sleep(0.1)
        taken = (await mqtt_stats(server.url)).get("received", {}).get("sensor_alerts", 0)
        now = (taken, tablets.tasks_seen, sum(tablets.results.values()))
        if now != before:
            last_change, before = time.perf_counter(), now
        idle = time.perf_counter() - last_change
        if (taken >= alerts and idle >= quiet) or idle >= stall:
            return


async def city_tasks_run(args: argparse.Namespace, broker: Broker, rate: int, seed: int) -> TaskRun:
    """bench.ws's alert → task scenario, over MQTT: its CityMix, hotspots and probes.

    The config's own roster (no extra units, as bench.ws). The CITY_HOTSPOTS hotspots' incidents
    open first and their tasks are answered (warm-up, not measured); then alerts are paced at
    `rate`/s, one in round(rate / --probe-rate) a probe (a new source near a grid worker's home,
    which mostly opens an incident), the others repeats at the hotspots. Measured: probes that
    opened their incident (from the SQLite file afterwards), publish → the first task_assigned of
    that incident on the tasks subscription.
    """
    session = new_session("city")
    run = TaskRun(rate=rate, seconds=args.seconds, mix="city", published=int(rate * args.seconds))
    run.probe_rate = args.probe_rate
    probe_every = max(1, round(rate / args.probe_rate))
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-mqtt-") as temp:
        directory = Path(temp)
        config = directory / "config.yaml"
        run.units = write_config(args.config, config, session, 0, seed)
        factory = CityMix(config, seed)
        sent: dict[str, float] = {}
        probes: set[str] = set()
        async with rig(args, broker, session, config, directory) as found:
            for index in range(CITY_HOTSPOTS):
                found.background.spawn(found.sensor.publish(found.topic, factory.hotspot(index), qos=1))
            await settle(found.server, found.tablets, CITY_HOTSPOTS, quiet=0.5, stall=READY_TIMEOUT_S)
            run.warm_up = CITY_HOTSPOTS
            found.tablets.forget()

            def send(number: int) -> None:
                probe = number % probe_every == 0
                payload = factory.near_grid_worker() if probe else factory.hotspot()
                title = orjson.loads(payload)["title"]
                if probe:
                    probes.add(title)
                sent[title] = time.perf_counter()
                found.background.spawn(found.sensor.publish(found.topic, payload, qos=1))

            began = time.perf_counter()
            lags = await paced(rate, args.seconds, send)
            ended = time.perf_counter()
            run.published_per_s = run.published / (ended - began)
            await settle(
                found.server, found.tablets, run.warm_up + run.published, quiet=1.0, stall=args.stall
            )
            run.drain_seconds = time.perf_counter() - ended
        run.mqtt = found.mqtt
        _score_city(run, sent, probes, openers(found.server.database), found.tablets.by_incident)
        run.taken = run.mqtt.get("received", {}).get("sensor_alerts", 0) - run.warm_up
        _note_rig(run, broker, found, lags)
    return run


def _score_city(
    run: TaskRun,
    sent: dict[str, float],
    probes: set[str],
    stored: dict[str, tuple[int, bool]],
    task_at: dict[int, float],
) -> None:
    """Probes that opened their incident: publish → that incident's first task_assigned."""
    latencies: list[float] = []
    for title, at in sent.items():
        found = stored.get(title)
        if found is None:
            run.not_stored += 1
            continue
        incident_id, opened = found
        if not opened:
            continue  # joined an incident another alert opened: no task of its own
        if title not in probes:
            run.others_opened += 1
            continue
        run.probes_opened += 1
        first = task_at.get(incident_id)
        if first is None:
            run.no_task += 1
        else:
            latencies.append((first - at) * 1000)
    run.probes = len(probes)
    _note_latencies(run, latencies)
