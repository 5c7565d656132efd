"""S9's MQTT run: alert POSTed over HTTP → task_assigned on the unit's MQTT tasks topic.

bench.mqtt's spread run (its rig, mix, drain and scoring), but the alert comes in as
`POST /api/v1/alerts` with a gateway token, as in the WebSocket run, instead of a sensor publish,
and every street has as many extra units as the rate needs (bench/scenarios/s9_roster.py).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench.harness.http import post_alert
from bench.harness.mqtt import Broker, paced
from bench.harness.tokens import cli
from bench.scenarios.mqtt_server import new_session, write_config
from bench.scenarios.mqtt_tasks import TaskRun, _note_latencies, _note_rig, drain, rig
from bench.scenarios.s9_roster import units_per_street
from bench.workloads.alerts import SpreadMix

STALL_S = 3.0
"""The run ends when no task came for this long after the last POST (bench.mqtt's default)."""


async def post_mqtt_run(config: Path, seconds: float, broker: Broker, rate: int, seed: int) -> TaskRun:
    """Every alert at its own place opens an incident; POST sent → task on the tasks topic."""
    session = new_session("s9")
    run = TaskRun(rate=rate, seconds=seconds, published=int(rate * seconds))
    directory = Path(config).parent / f"mqtt-{session.prefix}"
    directory.mkdir()
    own_config = directory / "config.yaml"
    run.units = write_config(config, own_config, session, units_per_street(config, rate), seed)
    database = f"sqlite:///{directory / 'bench.db'}"
    settings = ("--config", str(own_config), "--database", database)
    token = await cli("token", "issue", *settings, "--role", "gateway", "--name", "s9", cwd=directory)
    alerts = SpreadMix(own_config, seed)
    sent: dict[str, float] = {}
    statuses: Counter[str] = Counter()
    options = argparse.Namespace(tablets="answer")
    async with (
        rig(options, broker, session, own_config, directory) as found,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as http,
    ):

        async def post(body: bytes) -> None:
            posted = await post_alert(http, found.server.url, token, body)
            statuses[str(posted.status)] += 1

        def send(number: int) -> None:
            sent[alerts.title(number)] = time.perf_counter()
            found.background.spawn(post(alerts.alert(number)))

        began = time.perf_counter()
        lags = await paced(rate, seconds, send)
        ended = time.perf_counter()
        run.published_per_s = run.published / (ended - began)
        await drain(found.server, found.tablets, run.published, STALL_S)
        run.drain_seconds = time.perf_counter() - ended
        await asyncio.sleep(0.5)  # the last accepts and completes
    received = found.tablets.received
    _note_latencies(run, [(received[title] - at) * 1000 for title, at in sent.items() if title in received])
    run.no_task = run.published - run.with_task
    run.taken = statuses["202"]
    _note_rig(run, broker, found, lags)
    run.publish_failures |= {f"HTTP {status}": n for status, n in statuses.items() if status != "202"}
    return run
