"""The MQTT benchmark's (1): the bare broker's latency (aiomqtt → aiomqtt) and throughput (mosquitto_pub)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.harness import CONFIG
from bench.harness.mqtt import Background, Broker, Publisher, paced
from bench.harness.servers import READY_TIMEOUT_S
from bench.harness.stats import percentile
from bench.workloads.alerts import SpreadMix


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
    alerts = SpreadMix(CONFIG, seed)
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
