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
            `mosquitto_pub -l -q 0|1` feeds the --alerts alerts (bench/intake.py's workload:
            hotspots and strays over the street grids, each a distinct source_event_id) to
            `{prefix}/sensors/gw-1/alerts`; alerts/s from the first publish until the SQLite file
            (polled read-only) holds all of them, or holds no more for --stall seconds.
  tasks     alert published → task_assigned on `{prefix}/responders/+/tasks` (one subscriber
            standing for every tablet), alerts paced at each of --rates/s for --seconds at QoS 1
            to `{prefix}/sensors/gw-1/alerts`, in each mix of --mix. As bench/ws.py's tablets do,
            the subscriber accepts, then completes, every task on `{prefix}/responders/{id}/acks`,
            so units are free again (a unit holds one task at a time; --tablets silent leaves
            them pending). The latency baseline is (1)'s.
            spread: every alert at its own grid point (farther than correlation.radius_m from
            any other of its category, from a new source), so each opens an incident that gets
            a task; the config gets --units-per-street extra grid workers in every street
            jurisdiction. Every alert is measured; tasks are matched to alerts by title.
            city: bench/ws.py's alert → task mix (its AlertFactory) on the config's own roster:
            its 40 hotspots' incidents open first (their tasks answered, not measured), then one
            alert in round(rate / --probe-rate) is a probe (a new source near a grid worker's
            home), the rest repeat at the hotspots and join their incidents. Measured, as
            bench/ws.py does: probes that opened their incident (its lowest alert id, read from
            the SQLite file afterwards), publish → the first task_assigned of that incident.

Timestamps are time.perf_counter() of this one process. After each server the bench drops its
persistent session at the broker (connects with its client id and clean_session, disconnects).
The broker's log (/var/log/mosquitto/mosquitto.log when readable) is read for dropped messages.

    .venv/bin/python bench/mqtt.py                          # defaults: 3 runs (~5 min)
    .venv/bin/python bench/mqtt.py --runs 1 --scenario tasks --rates 200
    .venv/bin/python bench/mqtt.py --scenario tasks --mix city --json bench/results/mqtt_tasks.json
    .venv/bin/python bench/mqtt.py --runs 1 --scenario intake \\
        --mosquitto-set max_queued_messages=0 --mosquitto-set max_inflight_messages=1000

It prints a markdown table and writes JSON (default bench/results/mqtt.json).
Not a test: pytest collects only tests/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiomqtt
import orjson
import yaml
from intake import Workload, child, free_port, machine, percentile, stored_counts  # bench/ is on sys.path
from ws import HOTSPOTS as CITY_HOTSPOTS
from ws import AlertFactory

from gateways.mqtt_link import TABLETS_SUFFIX

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
DEFAULT_JSON = REPO / "bench" / "results" / "mqtt.json"
MOSQUITTO_PUB = "mosquitto_pub"
MOSQUITTO_CONF = Path("/etc/mosquitto/mosquitto.conf")
MOSQUITTO_LOG = Path("/var/log/mosquitto/mosquitto.log")
MOSQUITTO_DEFAULTS = {"max_inflight_messages": "20", "max_queued_messages": "1000"}
READY_TIMEOUT_S = 30.0
POLL_S = 0.02
GRID_SPACING_M = 450.0
METERS_PER_DEGREE = 111_320.0
MIXES = ("spread", "city")
UNIT_SKILLS = ("patrol", "first_aid", "flood_watch", "fire_initial", "water_rescue")
PENDING_PUBLISH_WARNING = "pending publish calls"
QUIET = logging.getLogger("bench.mqtt.aiomqtt")
QUIET.setLevel(logging.ERROR)  # our clients keep hundreds of publishes in flight on purpose


# The broker ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    log: Path
    limits: dict[str, str]
    """What bounds delivery to one subscriber: Mosquitto's limits, as its config file sets them."""

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def client(self, identifier: str, **options: Any) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host, self.port, identifier=identifier, clean_session=True, logger=QUIET, **options
        )

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return -1

    def drops(self, since: int) -> list[str]:
        """The broker's log lines about dropping messages (for any client) since a given offset."""
        if since < 0:
            return []
        try:
            with self.log.open("rb") as log:
                log.seek(since)
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if "dropped" in line][:10]


def limits_of(config_text: str) -> dict[str, str]:
    limits = dict(MOSQUITTO_DEFAULTS)
    for line in config_text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in limits:
            limits[words[0]] = words[1]
    return limits


def read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


@contextlib.asynccontextmanager
async def mosquitto(args: argparse.Namespace, directory: Path) -> AsyncIterator[Broker]:
    """The broker of --broker, or with --mosquitto-set a private Mosquitto with those settings."""
    if not args.mosquitto_set:
        parts = urlsplit(args.broker)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise SystemExit(f"--broker: want mqtt://host[:port], got {args.broker!r}")
        limits = limits_of(await asyncio.to_thread(read_text, MOSQUITTO_CONF))
        yield Broker(parts.hostname, parts.port or 1883, MOSQUITTO_LOG, limits)
        return
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/bin")
    if binary is None:
        raise SystemExit("mosquitto is not installed: apt-get install -y mosquitto")
    port = free_port()
    log = directory / "mosquitto.log"
    settings = "\n".join(setting.replace("=", " ", 1) for setting in args.mosquitto_set)
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"log_dest file {log}\n{settings}\n"
    )
    process = await asyncio.create_subprocess_exec(
        binary, "-c", str(conf), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        give_up = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if process.returncode is not None or time.monotonic() > give_up:
                    raise RuntimeError(f"private mosquitto did not start: {read_text(log)}") from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break
        yield Broker("127.0.0.1", port, log, limits_of(settings))
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


def mosquitto_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([MOSQUITTO_PUB, "--help"], capture_output=True, text=True, timeout=5).stdout
        return out.splitlines()[1].strip() if len(out.splitlines()) > 1 else ""
    return ""


async def forget_session(broker: Broker, client_id: str) -> None:
    """Drop the server's persistent session, so that the broker keeps nothing of the run."""
    with contextlib.suppress(aiomqtt.MqttError):
        async with broker.client(client_id):
            pass


@dataclass
class Publisher:
    """`mosquitto_pub -l`: a separate C process that publishes one message per line of its stdin."""

    process: asyncio.subprocess.Process

    @classmethod
    async def start(cls, broker: Broker, topic: str, qos: int, log: Path) -> Publisher:
        command = [MOSQUITTO_PUB, "-h", broker.host, "-p", str(broker.port), "-t", topic]
        command += ["-q", str(qos), "-l", "-i", f"bench-pub-{uuid.uuid4().hex[:10]}"]
        with log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=out, stderr=out
            )
        return cls(process)

    async def send(self, lines: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(lines)
        await self.process.stdin.drain()

    async def finish(self) -> float:
        """Closes stdin; returns once mosquitto_pub has published everything (and had the PUBACKs)."""
        assert self.process.stdin is not None
        if not self.process.stdin.is_closing():
            self.process.stdin.close()
        await self.process.wait()
        return time.perf_counter()


class Background:
    """Fire-and-forget coroutines (publishes awaiting their PUBACK), kept, counted, awaited at the end."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures: Counter[str] = Counter()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failures[type(task.exception()).__name__] += 1

    async def wait(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def paced(rate: int, seconds: float, send: Callable[[int], None]) -> list[float]:
    """Calls send(n) open-loop at `rate`/s for `seconds`; returns how late each call was (ms)."""
    began = time.perf_counter() + 0.05
    lags: list[float] = []
    for number in range(int(rate * seconds)):
        due = began + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, time.perf_counter() - due) * 1000)
        send(number)
    return sorted(lags)


# Alerts ----------------------------------------------------------------------------------------


class SpreadAlerts:
    """Alerts that each open an incident: a grid of street points GRID_SPACING_M apart, shuffled.

    Alert n takes grid point n (mod the grid) and, once the grid is used up, the next category:
    no two alerts of one category lie within correlation.radius_m, and every source is new.
    """

    def __init__(self, config_path: Path, seed: int) -> None:
        from dispatch.config.model import Tier, load_config
        from dispatch.core.routing import Router

        config = load_config(config_path)
        if config.correlation.radius_m >= GRID_SPACING_M:
            raise SystemExit(f"correlation.radius_m ≥ {GRID_SPACING_M} m: alerts of the grid would join")
        router = Router(config)
        west, south, east, north = config.root.polygon.geometry.bounds
        step_lat = GRID_SPACING_M / METERS_PER_DEGREE
        step_lon = step_lat / math.cos(math.radians(max(abs(south), abs(north))))
        candidates = [
            (south + step_lat * (i + 0.5), west + step_lon * (j + 0.5))
            for i in range(int((north - south) / step_lat))
            for j in range(int((east - west) / step_lon))
        ]
        found = router.locate_many(candidates)
        self.points = [
            point
            for point, node in zip(candidates, found, strict=True)
            if node is not None and node.tier == Tier.STREET
        ]
        rng = random.Random(seed)
        rng.shuffle(self.points)
        self.categories = [category.id for category in config.categories]
        rng.shuffle(self.categories)
        self.tag = uuid.uuid4().hex[:8]

    @property
    def capacity(self) -> int:
        return len(self.points) * len(self.categories)

    def title(self, number: int) -> str:
        return f"bench {self.tag} #{number}"

    def alert(self, number: int) -> bytes:
        lat, lon = self.points[number % len(self.points)]
        category = self.categories[(number // len(self.points)) % len(self.categories)]
        return orjson.dumps(
            {
                "source": f"bench-cam-{self.tag}-{number}",
                "source_event_id": f"{self.tag}-{number}",
                "kind": "video",
                "category": category,
                "severity": 4,  # grade IV: the standard or urgent ladder, one street unit first
                "location": {"lat": round(lat, 6), "lon": round(lon, 6)},
                "title": self.title(number),
                "attributes": {"label": category, "score": 0.9},
            }
        )


def workload_lines(config_path: Path, count: int, seed: int) -> bytes:
    """bench/intake.py's alert mix, one JSON object a line, every source_event_id distinct."""
    workload = Workload(config_path, seed)
    return b"".join(orjson.dumps(workload.alert()) + b"\n" for _ in range(count))


# Config and server -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    prefix: str
    client_id: str


def new_session(kind: str) -> Session:
    tag = f"{os.getpid()}x{uuid.uuid4().hex[:8]}"
    return Session(prefix=f"bench-{kind}-{tag}", client_id=f"bench-{kind}-{tag}-server")


def write_config(base: Path, target: Path, session: Session, units_per_street: int, seed: int) -> int:
    """The base config with our MQTT prefix and client id, and extra street units if asked; its unit count."""
    from dispatch.config.model import Tier, load_config
    from dispatch.core.routing import Router

    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    data["mqtt"] = {"client_id": session.client_id, "prefix": session.prefix, "frigate_prefix": None}
    if units_per_street:
        config = load_config(base)
        router = Router(config)
        rng = random.Random(seed)
        for node in (node for node in config.jurisdictions if node.tier == Tier.STREET):
            west, south, east, north = node.polygon.geometry.bounds
            for number in range(units_per_street):
                while True:
                    lat, lon = rng.uniform(south, north), rng.uniform(west, east)
                    found = router.locate(lat, lon)
                    if found is not None and found.id == node.id:
                        break
                data["responders"].append(
                    {
                        "id": f"bench-{node.id}-{number}",
                        "name": f"bench {node.id} {number}",
                        "jurisdiction": node.id,
                        "department": None,
                        "skills": list(UNIT_SKILLS),
                        "home": {"lat": round(lat, 6), "lon": round(lon, 6)},
                    }
                )
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return len(data["responders"])


@dataclass
class Server:
    url: str
    database: Path
    log: Path


@contextlib.asynccontextmanager
async def dispatch_server(
    broker: Broker, session: Session, config: Path, directory: Path
) -> AsyncIterator[Server]:
    """A server child whose MQTT link is subscribed; its broker session is dropped afterwards."""
    database = directory / "bench.db"
    port = free_port()
    command = [sys.executable, "-m", "dispatch", "serve", "--config", str(config)]
    command += ["--database", f"sqlite:///{database}", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--mqtt", broker.url]
    log = directory / "server.log"
    try:
        async with child(command, port, log, directory) as running:
            server = Server(running.url, database, log)
            await mqtt_connected(server)
            yield server
    finally:
        await forget_session(broker, session.client_id)
        await forget_session(broker, f"{session.client_id}{TABLETS_SUFFIX}")


async def mqtt_stats(server: Server) -> dict[str, Any]:
    """`mqtt` of GET /readyz: connected, received and rejected counters, published, outbox."""
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}/readyz") as response:
        body = await response.json()
        stats: dict[str, Any] = body.get("mqtt") or {}
        return stats


async def mqtt_connected(server: Server) -> None:
    """Subscribed: from here on the broker keeps for the session what the server has not taken."""
    give_up = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < give_up:
        if (await mqtt_stats(server)).get("connected"):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"MQTT link not connected in {READY_TIMEOUT_S}s:\n{read_text(server.log)[-3000:]}")


def server_troubles(log: Path) -> dict[str, Any]:
    """What the server logged: lines in all, warnings and errors, and aiomqtt's publish warnings."""
    lines = read_text(log).splitlines()
    bad = [line for line in lines if " ERROR " in line or " WARNING " in line or "Traceback" in line]
    pending = [line for line in bad if PENDING_PUBLISH_WARNING in line]
    others = [line for line in bad if PENDING_PUBLISH_WARNING not in line]
    return {
        "log_lines": len(lines),
        "warnings_and_errors": len(bad),
        "aiomqtt_pending_publish_warnings": len(pending),
        "samples": others[:5] + pending[:1],
    }


class AlertCount:
    """The alerts table's row count, read from the SQLite file read-only (WAL: never blocks the writer)."""

    def __init__(self, database: Path) -> None:
        from dispatch.storage.tables import alert_table

        self._connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
        self._query = f'SELECT count(*) FROM "{alert_table.name}"'

    def __call__(self) -> int:
        return int(self._connection.execute(self._query).fetchone()[0])

    def close(self) -> None:
        self._connection.close()


# (1) the bare broker ---------------------------------------------------------------------------


@dataclass
class LatencyRun:
    rate: int
    seconds: float
    sent: int = 0
    received: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    schedule_lag_p99_ms: float = float("nan")
    publish_failures: dict[str, int] = field(default_factory=dict)


async def broker_latency(broker: Broker, rate: int, seconds: float, seed: int) -> LatencyRun:
    """aiomqtt → broker → aiomqtt at QoS 1, paced: the floor under the alert → task latency."""
    alerts = SpreadAlerts(REPO / "config.yaml", seed)
    topic = f"bench-raw-{uuid.uuid4().hex[:10]}/latency"
    run = LatencyRun(rate=rate, seconds=seconds, sent=int(rate * seconds))
    sent: dict[str, float] = {}
    latencies: list[float] = []
    background = Background()
    async with (
        broker.client(f"bench-sub-{uuid.uuid4().hex[:10]}") as subscriber,
        broker.client(f"bench-pub-{uuid.uuid4().hex[:10]}", max_inflight_messages=1000) as publisher,
    ):
        await subscriber.subscribe(topic, qos=1)

        async def receive() -> None:
            async for message in subscriber.messages:
                received = time.perf_counter()
                assert isinstance(message.payload, bytes)
                latencies.append((received - sent[orjson.loads(message.payload)["title"]]) * 1000)
                if len(latencies) == run.sent:
                    return

        def send(number: int) -> None:
            payload = alerts.alert(number)
            sent[alerts.title(number)] = time.perf_counter()
            background.spawn(publisher.publish(topic, payload, qos=1))

        reader = asyncio.create_task(receive())
        lags = await paced(rate, seconds, send)
        await background.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 5)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    latencies.sort()
    run.received = len(latencies)
    run.p50_ms, run.p99_ms = percentile(latencies, 0.50), percentile(latencies, 0.99)
    run.max_ms = latencies[-1] if latencies else float("nan")
    run.schedule_lag_p99_ms = percentile(lags, 0.99)
    run.publish_failures = dict(background.failures)
    return run


@dataclass
class ThroughputRun:
    qos: int
    messages: int
    received: int = 0
    delivered_per_s: float = 0.0
    published_per_s: float = 0.0
    seconds: float = 0.0
    broker_drops: list[str] = field(default_factory=list)


async def broker_throughput(
    broker: Broker, qos: int, lines: bytes, directory: Path, stall: float
) -> ThroughputRun:
    """mosquitto_pub -l as fast as the broker takes it → an aiomqtt subscriber (QoS 1 subscription)."""
    topic = f"bench-raw-{uuid.uuid4().hex[:10]}/throughput"
    count = lines.count(b"\n")
    run = ThroughputRun(qos=qos, messages=count)
    seen, last = 0, 0.0
    first = asyncio.get_running_loop().create_future()
    log_offset = broker.log_size()
    async with broker.client(f"bench-sub-{uuid.uuid4().hex[:10]}") as subscriber:
        await subscriber.subscribe(topic, qos=1)

        async def receive() -> None:
            nonlocal seen, last
            async for _ in subscriber.messages:
                last = time.perf_counter()
                seen += 1
                if seen == 1:
                    first.set_result(None)
                if seen == count + 1:
                    return

        reader = asyncio.create_task(receive())
        publisher = await Publisher.start(broker, topic, qos, directory / "mosquitto_pub.log")
        await publisher.send(b'{"warm": "up"}\n')  # connected and routed: the clock may start
        await asyncio.wait_for(first, READY_TIMEOUT_S)
        began = time.perf_counter()
        await publisher.send(lines)
        published = await publisher.finish()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), stall)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    run.received = seen - 1
    run.seconds = last - began
    run.delivered_per_s = run.received / run.seconds if run.seconds > 0 else float("nan")
    run.published_per_s = count / (published - began)
    run.broker_drops = broker.drops(log_offset)
    return run


# (2) intake over MQTT --------------------------------------------------------------------------


@dataclass
class IntakeRun:
    qos: int
    published: int
    committed: int = 0
    lost: int = 0
    alerts_per_s: float = 0.0
    published_per_s: float = 0.0
    seconds: float = 0.0
    stalled: bool = False
    mqtt: dict[str, Any] = field(default_factory=dict)
    broker_drops: list[str] = field(default_factory=list)
    troubles: dict[str, Any] = field(default_factory=dict)


WARM_UP_ALERT = {
    "source": "bench-warm-up",
    "kind": "sensor",
    "category": "waterlogging",
    "severity": 4,
    "location": {"lat": 28.842, "lon": 112.356},
}


async def intake_run(args: argparse.Namespace, broker: Broker, qos: int, lines: bytes) -> IntakeRun:
    session = new_session(f"intake-q{qos}")
    count = lines.count(b"\n")
    run = IntakeRun(qos=qos, published=count)
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-mqtt-") as temp:
        directory = Path(temp)
        config = directory / "config.yaml"
        write_config(args.config, config, session, 0, 0)
        log_offset = broker.log_size()
        async with dispatch_server(broker, session, config, directory) as server:
            committed = AlertCount(server.database)
            topic = f"{session.prefix}/sensors/gw-1/alerts"
            publisher = await Publisher.start(broker, topic, qos, directory / "mosquitto_pub.log")
            warm = orjson.dumps(WARM_UP_ALERT | {"source_event_id": session.prefix})
            await publisher.send(warm + b"\n")  # the server has taken one: the clock may start
            await wait_for_count(committed, 1, READY_TIMEOUT_S)
            began = time.perf_counter()
            sender = asyncio.create_task(publisher.send(lines))
            published_at: float | None = None
            seen, last_change = 1, began
            while seen < count + 1:
                await asyncio.sleep(POLL_S)
                now = time.perf_counter()
                if sender.done() and published_at is None:
                    published_at = await publisher.finish()
                latest = committed()
                if latest != seen:
                    seen, last_change = latest, now
                elif published_at is not None and now - last_change > args.stall:
                    run.stalled = True
                    break
            await sender
            if published_at is None:
                published_at = await publisher.finish()
            committed.close()
            run.mqtt = await mqtt_stats(server)
        run.committed = seen - 1
        run.lost = count - run.committed
        run.seconds = last_change - began
        run.alerts_per_s = run.committed / run.seconds if run.seconds > 0 else float("nan")
        run.published_per_s = count / (published_at - began)
        run.broker_drops = broker.drops(log_offset)
        run.troubles = server_troubles(server.log)
    return run


async def wait_for_count(count: AlertCount, wanted: int, within: float) -> None:
    give_up = time.monotonic() + within
    while count() < wanted:
        if time.monotonic() > give_up:
            raise RuntimeError(f"fewer than {wanted} alerts committed in {within}s")
        await asyncio.sleep(POLL_S)


# (3) alert → task on the responders' topic -----------------------------------------------------


@dataclass
class TaskRun:
    rate: int
    seconds: float
    mix: str = "spread"
    """spread: every alert opens an incident; city: bench/ws.py's mix, only its probes measured."""
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
        self.tiers: Counter[str] = Counter()
        self.results: Counter[str] = Counter()
        self.tasks_seen = 0
        self.wrong_topic = 0

    def forget(self) -> None:
        """What came so far was warm-up: start counting afresh (answers to it are still sent)."""
        self.received.clear()
        self.by_incident.clear()
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
                if kind == "a":
                    task = result["task"]
                    self.answer(task["responder_id"], task["id"], "complete")

    def answer(self, responder_id: str, task_id: int, trigger: str) -> None:
        body = orjson.dumps({"task_id": task_id, "trigger": trigger, "id": f"{trigger[0]}{task_id}"})
        topic = f"{self.prefix}/responders/{responder_id}/acks"
        self.background.spawn(self.client.publish(topic, body, qos=1))


async def drain(server: Server, tablets: Tablets, total: int, stall: float) -> None:
    """Until every alert has its task, or for `stall` s neither tasks came nor the server took messages."""
    last_change, before = time.perf_counter(), (-1, -1)
    while len(tablets.received) < total and time.perf_counter() - last_change < stall:
        await asyncio.sleep(0.25)
        taken = sum((await mqtt_stats(server)).get("received", {}).values())
        now = (len(tablets.received), taken)
        if now != before:
            last_change, before = time.perf_counter(), now


async def tasks_run(args: argparse.Namespace, broker: Broker, rate: int, seed: int) -> TaskRun:
    session = new_session("tasks")
    run = TaskRun(rate=rate, seconds=args.seconds, published=int(rate * args.seconds))
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-mqtt-") as temp:
        directory = Path(temp)
        config = directory / "config.yaml"
        run.units = write_config(args.config, config, session, args.units_per_street, seed)
        alerts = SpreadAlerts(config, seed)
        if run.published > alerts.capacity:
            raise SystemExit(f"{run.published} alerts, but only {alerts.capacity} uncorrelated places")
        log_offset = broker.log_size()
        background = Background()
        sent: dict[str, float] = {}
        async with (
            dispatch_server(broker, session, config, directory) as server,
            broker.client(f"bench-tablets-{uuid.uuid4().hex[:10]}", max_inflight_messages=1000) as tablet,
            broker.client(f"bench-sensor-{uuid.uuid4().hex[:10]}", max_inflight_messages=1000) as sensor,
        ):
            await tablet.subscribe(f"{session.prefix}/responders/+/tasks", qos=1)
            tablets = Tablets(tablet, session.prefix, background, args.tablets == "answer")
            reader = asyncio.create_task(tablets.read())
            topic = f"{session.prefix}/sensors/gw-1/alerts"

            def send(number: int) -> None:
                payload = alerts.alert(number)
                sent[alerts.title(number)] = time.perf_counter()
                background.spawn(sensor.publish(topic, payload, qos=1))

            began = time.perf_counter()
            lags = await paced(rate, args.seconds, send)
            ended = time.perf_counter()
            run.published_per_s = run.published / (ended - began)
            await drain(server, tablets, run.published, args.stall)
            run.drain_seconds = time.perf_counter() - ended
            await asyncio.sleep(0.5)  # the last accepts and completes
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await background.wait()
            run.mqtt = await mqtt_stats(server)
        latencies = sorted(
            (tablets.received[title] - at) * 1000 for title, at in sent.items() if title in tablets.received
        )
        run.with_task = len(latencies)
        run.no_task = run.published - run.with_task
        run.tasks_seen, run.wrong_topic = tablets.tasks_seen, tablets.wrong_topic
        run.taken = run.mqtt.get("received", {}).get("sensor_alerts", 0)
        run.p50_ms, run.p99_ms = percentile(latencies, 0.50), percentile(latencies, 0.99)
        run.max_ms = latencies[-1] if latencies else float("nan")
        run.schedule_lag_p99_ms = percentile(lags, 0.99)
        run.tiers = dict(tablets.tiers)
        run.tablet_results = dict(tablets.results)
        run.publish_failures = dict(background.failures)
        run.broker_drops = broker.drops(log_offset)
        run.troubles = server_troubles(server.log)
        run.stored = stored_counts(f"sqlite:///{server.database}")
    return run


async def settle(server: Server, tablets: Tablets, alerts: int, quiet: float, stall: float) -> None:
    """Until the server has taken `alerts` alerts and no task nor answer came for `quiet` s.

    Or until nothing at all moved (alerts taken, tasks, answers) for `stall` s.
    """
    last_change, before = time.perf_counter(), (-1, -1, -1)
    while True:
        await asyncio.sleep(0.1)
        taken = (await mqtt_stats(server)).get("received", {}).get("sensor_alerts", 0)
        now = (taken, tablets.tasks_seen, sum(tablets.results.values()))
        if now != before:
            last_change, before = time.perf_counter(), now
        idle = time.perf_counter() - last_change
        if (taken >= alerts and idle >= quiet) or idle >= stall:
            return


def openers(database: Path) -> dict[str, tuple[int, bool]]:
    """Every stored alert's title → (its incident, whether it opened it).

    As bench/ws.py has it: the alert that opened an incident is the incident's lowest alert id.
    """
    from dispatch.storage.tables import alert_table

    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        rows = connection.execute(f'SELECT id, title, incident_id FROM "{alert_table.name}"').fetchall()
    finally:
        connection.close()
    first: dict[int, int] = {}
    for alert_id, _, incident_id in rows:
        first[incident_id] = min(alert_id, first.get(incident_id, alert_id))
    return {title: (incident_id, first[incident_id] == alert_id) for alert_id, title, incident_id in rows}


async def city_tasks_run(args: argparse.Namespace, broker: Broker, rate: int, seed: int) -> TaskRun:
    """bench/ws.py's alert → task scenario, over MQTT: its AlertFactory, hotspots and probes.

    The config's own roster (no extra units, as bench/ws.py). The CITY_HOTSPOTS hotspots' incidents
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
        factory = AlertFactory(config, seed)
        log_offset = broker.log_size()
        background = Background()
        sent: dict[str, float] = {}
        probes: set[str] = set()
        async with (
            dispatch_server(broker, session, config, directory) as server,
            broker.client(f"bench-tablets-{uuid.uuid4().hex[:10]}", max_inflight_messages=1000) as tablet,
            broker.client(f"bench-sensor-{uuid.uuid4().hex[:10]}", max_inflight_messages=1000) as sensor,
        ):
            await tablet.subscribe(f"{session.prefix}/responders/+/tasks", qos=1)
            tablets = Tablets(tablet, session.prefix, background, args.tablets == "answer")
            reader = asyncio.create_task(tablets.read())
            topic = f"{session.prefix}/sensors/gw-1/alerts"
            for index in range(CITY_HOTSPOTS):
                background.spawn(sensor.publish(topic, factory.hotspot(index), qos=1))
            await settle(server, tablets, CITY_HOTSPOTS, quiet=0.5, stall=READY_TIMEOUT_S)
            run.warm_up = CITY_HOTSPOTS
            tablets.forget()

            def send(number: int) -> None:
                probe = number % probe_every == 0
                payload = factory.near_grid_worker() if probe else factory.hotspot()
                title = orjson.loads(payload)["title"]
                if probe:
                    probes.add(title)
                sent[title] = time.perf_counter()
                background.spawn(sensor.publish(topic, payload, qos=1))

            began = time.perf_counter()
            lags = await paced(rate, args.seconds, send)
            ended = time.perf_counter()
            run.published_per_s = run.published / (ended - began)
            await settle(server, tablets, run.warm_up + run.published, quiet=1.0, stall=args.stall)
            run.drain_seconds = time.perf_counter() - ended
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await background.wait()
            run.mqtt = await mqtt_stats(server)
        stored = openers(server.database)
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
            task_at = tablets.by_incident.get(incident_id)
            if task_at is None:
                run.no_task += 1
            else:
                latencies.append((task_at - at) * 1000)
        latencies.sort()
        run.probes = len(probes)
        run.with_task = len(latencies)
        run.p50_ms, run.p99_ms = percentile(latencies, 0.50), percentile(latencies, 0.99)
        run.max_ms = latencies[-1] if latencies else float("nan")
        run.schedule_lag_p99_ms = percentile(lags, 0.99)
        run.tiers = dict(tablets.tiers)
        run.tablet_results = dict(tablets.results)
        run.tasks_seen, run.wrong_topic = tablets.tasks_seen, tablets.wrong_topic
        run.taken = run.mqtt.get("received", {}).get("sensor_alerts", 0) - run.warm_up
        run.publish_failures = dict(background.failures)
        run.broker_drops = broker.drops(log_offset)
        run.troubles = server_troubles(server.log)
        run.stored = stored_counts(f"sqlite:///{server.database}")
    return run


# Reporting -------------------------------------------------------------------------------------


def _f(value: float) -> str:
    if value != value:  # NaN
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def median(values: list[float]) -> float:
    finite = [value for value in values if value == value]
    return statistics.median(finite) if finite else float("nan")


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
    latency: list[LatencyRun] = scenarios["latency"]
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
        those: list[ThroughputRun] = [run for run in scenarios["throughput"] if run.qos == qos]
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
    for qos in (0, 1):
        intake: list[IntakeRun] = [run for run in scenarios["intake"] if run.qos == qos]
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
    for mix in MIXES:
        for rate in sorted({run.rate for run in scenarios["tasks"] if run.mix == mix}):
            tasks: list[TaskRun] = [run for run in scenarios["tasks"] if run.mix == mix and run.rate == rate]
            lines += task_rows(tasks)
    mixes = {run.mix: run for run in scenarios["tasks"]}
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
    return "\n".join(lines)


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


# Entry -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        help="(3): comma list of spread (every alert opens an incident), city (bench/ws.py's mix) (both)",
    )
    parser.add_argument(
        "--probe-rate",
        type=float,
        default=20.0,
        help="(3) city: of the alerts, probes/s that open incidents, as bench/ws.py's (default 20)",
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
    parser.add_argument(
        "--config", type=Path, default=REPO / "config.yaml", help="config file the servers start from"
    )
    return parser.parse_args(argv)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    chosen = [name.strip() for name in args.scenario.split(",") if name.strip()]
    unknown = set(chosen) - {"baseline", "intake", "tasks"}
    if unknown:
        raise SystemExit(f"unknown scenario {sorted(unknown)}; pick from baseline, intake, tasks")
    if shutil.which(MOSQUITTO_PUB) is None:
        raise SystemExit("mosquitto_pub is not installed: apt-get install -y mosquitto-clients")
    rates = [int(part) for part in args.rates.split(",") if part.strip()]
    mixes = [mix.strip() for mix in args.mix.split(",") if mix.strip()]
    if set(mixes) - set(MIXES):
        raise SystemExit(f"unknown mix {sorted(set(mixes) - set(MIXES))}; pick from {', '.join(MIXES)}")
    scenarios: dict[str, list[Any]] = {"latency": [], "throughput": [], "intake": [], "tasks": []}
    load: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dispatch-bench-mqtt-")))
        # One snapshot of the config for the whole benchmark, whatever happens to the file meanwhile.
        shutil.copyfile(args.config, directory / "config.yaml")
        args.config = directory / "config.yaml"
        broker = await stack.enter_async_context(mosquitto(args, directory))
        for number in range(args.runs):
            # The machine may be shared: how busy it was says how far to trust the figures.
            load.append(os.getloadavg()[0])
            print(f"\n== run {number + 1} of {args.runs} (load average {load[-1]:.2f})", flush=True)
            lines = workload_lines(args.config, args.alerts, seed=number)
            if "baseline" in chosen:
                await baseline_runs(args, broker, scenarios, lines, directory, number)
            if "intake" in chosen:
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
            if "tasks" in chosen:
                for mix, rate in ((mix, rate) for mix in mixes for rate in rates):
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
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
