"""The MQTT benchmark's (2): intake over MQTT, mosquitto_pub → the server's subscription → committed."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.harness.database import AlertCount
from bench.harness.http import mqtt_stats
from bench.harness.mqtt import Broker, Publisher
from bench.harness.servers import READY_TIMEOUT_S
from bench.scenarios.mqtt_server import dispatch_server, new_session, server_troubles, write_config

POLL_S = 0.02


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
            run.mqtt = await mqtt_stats(server.url)
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
