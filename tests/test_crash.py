"""Crash safety with a real child process: kill -9 mid-stream, restart, nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import orjson
import pytest
import sqlalchemy as sa
import yaml

from dispatch.access.auth import issue_token
from dispatch.config.model import load_config
from dispatch.storage import database
from dispatch.storage.tables import alert_table, event_table, incident_table
from tests.brokers import SYSTEM_BROKER, forget_server_sessions
from tests.factories import WEST_N, alert, config_data

pytestmark = pytest.mark.slow

DISPATCH = [sys.executable, "-m", "dispatch"]
STREAMERS = 8
BATCH_EVERY = 4  # every 4th request of a streamer carries a batch
BATCH_SIZE = 10
KILL_AFTER = 300  # acknowledged alerts before the kill
READY_TIMEOUT_S = 30.0  # a safety net: fronts of --workers start slowly on a busy machine
DEADLINE_TIMEOUT_S = 20.0
STREAM_TIMEOUT_S = 30.0

# The stream stays in the east town so that nothing it opens keeps west-n's grid workers busy:
# the probe incident there must find a street responder and get the 1 s street deadline.
EAST_POINTS = [(28.15, 112.3), (28.05, 112.3), (28.17, 112.25), (28.03, 112.35)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(path: Path) -> Path:
    data = config_data()
    data["policies"]["standard"]["steps"][0]["accept_within"] = "1s"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


def issue_tokens(config: Path, database_url: str) -> tuple[str, str]:
    """A gateway and an admin token, stored the way `dispatch token issue` stores them."""
    engine = database.create_engine(database_url)
    try:
        database.create_schema(engine)
        parsed = load_config(config)
        gateway = issue_token(engine, parsed, role="gateway", name="gw", now=time.time())
        admin = issue_token(engine, parsed, role="admin", name="ops", now=time.time())
        return gateway, admin
    finally:
        engine.dispose()


async def run_cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *DISPATCH, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


class CoreGone(Exception):
    """With fronts: the core died with the request in flight, and its front said so (503)."""


@dataclass
class Server:
    """One `dispatch serve` child process; its output goes to a log file the failures quote."""

    config: Path
    database_url: str
    port: int
    log: Path
    workers: int = 1
    """`serve --workers N`: above 1, the process is the core and N fronts are its children."""
    options: tuple[str, ...] = ()
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    ready_at: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    async def start(self) -> None:
        self.started_at = time.time()
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *DISPATCH,
                "serve",
                "--config",
                str(self.config),
                "--database",
                self.database_url,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                *self.options,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        give_up = time.monotonic() + READY_TIMEOUT_S
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < give_up:
                if self.process.returncode is not None:
                    pytest.fail(f"server exited with {self.process.returncode}:\n{self.output()}")
                try:
                    async with session.get(f"{self.url}/readyz") as response:
                        # With fronts, one answers before the others joined: "serving on" says all did.
                        if response.status == 200 and "dispatch: serving on" in self.output():
                            self.ready_at = time.time()
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        pytest.fail(f"server not ready within {READY_TIMEOUT_S}s:\n{self.output()}")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)

    async def wait(self) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), READY_TIMEOUT_S)

    async def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await self.wait()

    async def ensure_dead(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@asynccontextmanager
async def server_process(
    config: Path, database_url: str, port: int, log: Path, workers: int = 1, options: tuple[str, ...] = ()
) -> AsyncIterator[Server]:
    server = Server(config, database_url, port, log, workers, options)
    try:
        yield server
    finally:
        await server.ensure_dead()


@dataclass
class Stream:
    """Alerts posted by concurrent gateways, and what the server acknowledged."""

    url: str
    token: str
    acknowledged: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    bodies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    killed: asyncio.Event = field(default_factory=asyncio.Event)
    enough: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    failed_after_kill: int = 0

    def _alerts(self, streamer: int, request: int) -> list[dict[str, Any]]:
        count = BATCH_SIZE if request % BATCH_EVERY == BATCH_EVERY - 1 else 1
        rng = random.Random(streamer * 100_000 + request)
        bodies = []
        for index in range(count):
            lat, lon = rng.choice(EAST_POINTS)
            bodies.append(
                alert(
                    f"s{streamer}-r{request}-{index}",
                    source=f"gauge-{streamer}-{request % 3}",
                    location={
                        "lat": lat + rng.uniform(-0.002, 0.002),
                        "lon": lon + rng.uniform(-0.002, 0.002),
                    },
                )
            )
        return bodies

    async def post(self, session: aiohttp.ClientSession, bodies: list[dict[str, Any]]) -> list[Any]:
        body: Any = bodies[0] if len(bodies) == 1 else {"alerts": bodies}
        async with session.post(
            f"{self.url}/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {self.token}"}
        ) as response:
            text = await response.text()
            if response.status == 503 and '"core_unavailable"' in text:
                raise CoreGone(text)  # a front still up answered for its core, killed mid-request
            assert response.status == 202, f"{response.status}: {text}"
            answer = await response.json()
        return [answer] if len(bodies) == 1 else list(answer["results"])

    async def streamer(self, session: aiohttp.ClientSession, streamer: int) -> None:
        request = 0
        while not self.killed.is_set():
            bodies = self._alerts(streamer, request)
            request += 1
            self.in_flight += 1
            try:
                results = await self.post(session, bodies)
            except (aiohttp.ClientError, TimeoutError, CoreGone):
                if self.killed.is_set():
                    self.failed_after_kill += 1
                    return
                raise
            finally:
                self.in_flight -= 1
            # An answer that was read before the kill still counts: the server sent it.
            for sent, result in zip(bodies, results, strict=True):
                assert result["duplicate"] is False, result
                key = (sent["source"], sent["source_event_id"])
                self.acknowledged[key] = (result["alert_id"], result["incident_id"])
                self.bodies[key] = sent
            if len(self.acknowledged) >= KILL_AFTER:
                self.enough.set()


@pytest.mark.parametrize("workers", [1, 2], ids=["one process", "core and 2 fronts"])
async def test_server_killed_mid_stream_keeps_acknowledged_alerts_and_fires_missed_deadline(
    tmp_path: Path, workers: int
) -> None:
    """With fronts, `kill -9` hits the core: its fronts die with it (else the restart could not
    bind the port), and nothing any front acknowledged is lost."""
    config = write_config(tmp_path / "config.yaml")
    db_file = tmp_path / "dispatch.db"
    database_url = f"sqlite:///{db_file}"
    port = free_port()
    gateway, admin = issue_tokens(config, database_url)
    log = tmp_path / "server.log"

    # --- first life: stream, open the probe incident, kill -9 while posts are in flight ---------
    async with server_process(config, database_url, port, log, workers) as first:
        await first.start()
        stream = Stream(first.url, gateway)
        connector = aiohttp.TCPConnector(limit=STREAMERS + 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            streamers = [
                asyncio.create_task(stream.streamer(session, index), name=f"streamer-{index}")
                for index in range(STREAMERS)
            ]
            enough = asyncio.create_task(stream.enough.wait())
            done, _ = await asyncio.wait(
                [enough, *streamers], timeout=STREAM_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
            if enough not in done:
                enough.cancel()
                for task in streamers:
                    task.cancel()
                errors = await asyncio.gather(*streamers, return_exceptions=True)
                pytest.fail(f"stream stalled or failed: {errors!r}\n{first.output()}")
            probe = alert(
                "probe-1", source="hotline-probe", kind="hotline", category="vending", location=WEST_N
            )
            [probe_answer] = await stream.post(session, [probe])
            first.kill()
            stream.killed.set()
            in_flight_at_kill = stream.in_flight
            killed_at = time.time()
            await asyncio.wait_for(asyncio.gather(*streamers), STREAM_TIMEOUT_S)
        assert await first.wait() == -signal.SIGKILL
    assert in_flight_at_kill > 0, "the kill must land while posts are in flight"
    assert stream.failed_after_kill > 0
    acknowledged = dict(stream.acknowledged)
    assert len(acknowledged) >= KILL_AFTER
    probe_incident = probe_answer["incident_id"]

    # The probe's street deadline was set and had not fired when the process died.
    engine = database.create_engine(database_url)
    try:
        with engine.connect() as connection:
            deadline_at = connection.execute(
                sa.select(incident_table.c.step_deadline_at).where(incident_table.c.id == probe_incident)
            ).scalar_one()
            fired_before_kill = connection.execute(
                sa.select(sa.func.count())
                .select_from(event_table)
                .where(event_table.c.incident_id == probe_incident, event_table.c.actor == "system:deadline")
            ).scalar_one()
    finally:
        engine.dispose()
    assert deadline_at is not None, "the probe incident must wait on its street step"
    assert fired_before_kill == 0, "the 1 s deadline fired before the kill; the machine is too slow"
    # Still down: the chain must be intact as the crash left it, before any restart touches it.
    # (This and the restart take well over the 1 s the probe's deadline had left.)
    code, output = await run_cli("audit", "verify", "--database", database_url)
    assert code == 0, output

    # --- second life: the missed deadline fires, acknowledged alerts are recognised -------------
    async with server_process(config, database_url, port, log, workers) as second:
        await second.start()
        restarted_at = second.ready_at
        admin_headers = {"Authorization": f"Bearer {admin}"}
        async with aiohttp.ClientSession() as session:
            give_up = time.monotonic() + DEADLINE_TIMEOUT_S
            while True:
                async with session.get(
                    f"{second.url}/api/v1/incidents/{probe_incident}", headers=admin_headers
                ) as response:
                    assert response.status == 200, await response.text()
                    incident = await response.json()
                fired = [event for event in incident["timeline"] if event["actor"] == "system:deadline"]
                types = {event["type"] for event in fired}
                if {"task_expired", "incident_escalated"} <= types:
                    break
                assert time.monotonic() < give_up, f"deadline did not fire after restart: {incident}"
                await asyncio.sleep(0.1)

            again = Stream(second.url, gateway)
            sample = sorted(acknowledged)[:: max(1, len(acknowledged) // 20)]
            resent = [stream.bodies[key] for key in sample]
            answers = await again.post(session, resent[:BATCH_SIZE])
            answers += [(await again.post(session, [body]))[0] for body in resent[BATCH_SIZE:]]
            assert answers == [
                {"alert_id": acknowledged[key][0], "incident_id": acknowledged[key][1], "duplicate": True}
                for key in sample
            ]
            [fresh] = await again.post(session, [alert("after-restart", source="gauge-after")])
            assert fresh["duplicate"] is False
            assert fresh["alert_id"] > max(alert_id for alert_id, _ in acknowledged.values())
        assert await second.terminate() == 0, second.output()

    # The deadline passed while no server ran, and the restarted one fired it.
    street_task = next(each for each in incident["tasks"] if each["step"] == 0)
    assert street_task["state"] == "expired"
    assert epoch(street_task["accept_deadline_at"]) == pytest.approx(deadline_at, abs=0.001)
    assert killed_at < deadline_at < restarted_at
    assert all(epoch(event["occurred_at"]) >= second.started_at for event in fired)
    assert incident["owner"]["tier"] != "street"

    # Every acknowledged alert is stored exactly once, with the ids its 202 answered.
    engine = database.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    alert_table.c.source,
                    alert_table.c.source_event_id,
                    alert_table.c.id,
                    alert_table.c.incident_id,
                )
            ).all()
    finally:
        engine.dispose()
    stored: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for source, event_id, alert_id, incident_id in rows:
        stored.setdefault((source, event_id), []).append((alert_id, incident_id))
    missing = [key for key in acknowledged if key not in stored]
    assert not missing, f"{len(missing)} acknowledged alerts lost, e.g. {missing[:5]}"
    twice = {key: found for key, found in stored.items() if len(found) > 1}
    assert not twice
    wrong = {key: (ids, stored[key][0]) for key, ids in acknowledged.items() if stored[key][0] != ids}
    assert not wrong, f"stored ids differ from the answered ones: {list(wrong.items())[:5]}"
    assert len({alert_id for alert_id, _ in acknowledged.values()}) == len(acknowledged)

    code, output = await run_cli("audit", "verify", "--database", database_url)
    assert code == 0, output
    assert "chain intact and signed with the audit key" in output


# MQTT: kill -9 while QoS 1 alerts stream in ---------------------------------------------------------

MQTT_ALERTS = 600


async def _mqtt_ready(server: Server) -> None:
    """The link is subscribed: from here on the broker keeps what it cannot deliver."""
    give_up = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < give_up:
            async with session.get(f"{server.url}/readyz") as response:
                body = await response.json()
                if body["mqtt"] is not None and body["mqtt"]["connected"]:
                    return
            await asyncio.sleep(0.05)
    pytest.fail(f"MQTT link not connected within {READY_TIMEOUT_S}s:\n{server.output()}")


def _stored_alert_ids(database_url: str) -> list[str]:
    engine = database.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.select(alert_table.c.source_event_id)).scalars())
    finally:
        engine.dispose()


async def test_server_killed_while_taking_mqtt_alerts_loses_none_it_was_sent(tmp_path: Path) -> None:
    """PUBACK only after commit: what the broker handed over and we did not commit, it offers again."""
    prefix = f"crash{os.getpid()}x{random.randrange(1 << 30)}"
    data = config_data()
    broker = f"mqtt://127.0.0.1:{SYSTEM_BROKER[1]}"
    data["mqtt"] = {"url": broker, "client_id": f"{prefix}-server", "prefix": prefix}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    database_url = f"sqlite:///{tmp_path / 'dispatch.db'}"
    port = free_port()
    log = tmp_path / "server.log"
    try:
        async with server_process(config, database_url, port, log) as first:
            await first.start()
            await _mqtt_ready(first)
            async with aiomqtt.Client("127.0.0.1", SYSTEM_BROKER[1], max_inflight_messages=1000) as sensor:
                for index in range(MQTT_ALERTS):  # the broker has every one of them (QoS 1 PUBACK)
                    body = alert(f"m-{index}", source="mqtt-gauge", location={"lat": 28.15, "lon": 112.3})
                    await sensor.publish(f"{prefix}/sensors/gw-1/alerts", orjson.dumps(body), qos=1)
                    if index == MQTT_ALERTS // 3:
                        await _wait_some_committed(database_url)
                        first.kill()
            await first.wait()
        stored_at_kill = len(_stored_alert_ids(database_url))
        assert 0 < stored_at_kill < MQTT_ALERTS, "the kill came too late to test anything"

        async with server_process(config, database_url, port, log) as second:
            await second.start()
            give_up = time.monotonic() + STREAM_TIMEOUT_S
            while len(_stored_alert_ids(database_url)) < MQTT_ALERTS:
                if time.monotonic() > give_up:
                    break
                await asyncio.sleep(0.1)
            ids = _stored_alert_ids(database_url)
            assert sorted(ids) == sorted(f"m-{index}" for index in range(MQTT_ALERTS)), second.output()
            await second.terminate()
    finally:
        await forget_server_sessions(SYSTEM_BROKER[1], f"{prefix}-server")


async def _wait_some_committed(database_url: str) -> None:
    give_up = time.monotonic() + STREAM_TIMEOUT_S
    while time.monotonic() < give_up:
        if _stored_alert_ids(database_url):
            return
        await asyncio.sleep(0.01)
    pytest.fail("no MQTT alert was committed")
