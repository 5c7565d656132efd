"""`serve --workers N`: fronts that share one core, as a dispatcher and a tablet meet them.

The in-process tests run a core and two front apps on their own ports, joined by the real
process bus (a Unix socket); the last test runs `dispatch serve --workers 2` itself.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import websockets
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection

from dispatch.access import accounts
from dispatch.access.logins import Logins
from dispatch.cli import workers
from dispatch.config.model import Config
from dispatch.core.presence import Positions
from dispatch.service import DispatchService
from dispatch.shared.clock import ManualClock
from gateways.frigate_video import VideoIntake
from gateways.hotline_calls import HotlineIntake
from tests.conftest import AUDIT_KEY, Harness, LoopbackServer
from tests.factories import WEST_N, alert, make_config
from tests.test_crash import free_port, issue_tokens, server_process, write_config
from web.app import create_app
from web.core_host import CoreHost
from web.front import (
    FrontRuntime,
    RemoteHotline,
    RemoteLogins,
    RemotePositions,
    RemoteService,
    RemoteVideo,
)
from web.keys import RUNTIME
from web.slow_clients import server_options

TABLET = "grid-west-n-1"
WAIT_S = 10.0  # a safety net against hangs, never a timing assertion


@dataclass
class TwoFronts:
    core: Harness
    """The core's runtime, for tokens; its client is front A."""
    front_a: TestClient[Any, Any]
    front_b: TestClient[Any, Any]
    host: CoreHost


@pytest.fixture
async def fronts(sqlite_url: str, clock: ManualClock, tmp_path: Path) -> AsyncIterator[TwoFronts]:
    config: Config = make_config()
    core_app = create_app(
        config, database_url=sqlite_url, clock=clock, run_scheduler=False, audit_key=AUDIT_KEY
    )
    core: TestClient[Any, Any] = TestClient(LoopbackServer(core_app, server_options(config)))
    await core.start_server()
    host = CoreHost(core_app[RUNTIME], str(tmp_path / "core.sock"))
    await host.start()
    clients = []
    for _ in range(2):
        app = create_app(config, database_url=sqlite_url, clock=clock, core_bus=host.server.path)
        client: TestClient[Any, Any] = TestClient(LoopbackServer(app, server_options(config)))
        await client.start_server()
        clients.append(client)
    yield TwoFronts(Harness(clients[0], core_app[RUNTIME], config), clients[0], clients[1], host)
    for client in clients:
        await client.close()
    await host.close()
    await core.close()


def _ws_url(client: TestClient[Any, Any]) -> str:
    return str(client.make_url("/ws")).replace("http://", "ws://")


async def _frame(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next frame of this kind (an event's type, or the frame's own type)."""
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        if frame["type"] == kind or (frame["type"] == "event" and frame["event"]["type"] == kind):
            return dict(frame)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Presence travels front → core → front on a half-second beat: wait for it, naming it."""
    give_up = time.monotonic() + WAIT_S
    while time.monotonic() < give_up:
        if await check():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def test_an_alert_taken_by_one_front_reaches_sockets_on_the_other(fronts: TwoFronts) -> None:
    core = fronts.core
    dispatcher = {"Authorization": f"Bearer {core.token('dispatcher', name='desk')}"}
    tablet = {"Authorization": f"Bearer {core.token('responder', name=TABLET, responder=TABLET)}"}
    gateway = {"Authorization": f"Bearer {core.token('gateway')}"}
    async with (
        websockets.connect(_ws_url(fronts.front_a), additional_headers=dispatcher) as console,
        websockets.connect(_ws_url(fronts.front_a), additional_headers=tablet) as device,
    ):
        await _frame(console, "hello")
        await _frame(device, "hello")
        posted = await fronts.front_b.post(
            "/api/v1/alerts", json=alert("w1", location=WEST_N), headers=gateway
        )
        assert posted.status == 202, await posted.text()
        incident_id = (await posted.json())["incident_id"]

        reported = await _frame(console, "incident_reported")
        assigned = await _frame(device, "task_assigned")
        assert reported["event"]["incident_id"] == incident_id
        assert assigned["event"]["incident_id"] == incident_id

        # The tablet accepts over its socket at front A; the console there sees it, and front B
        # answers the incident's detail with the accepted task.
        task_id = assigned["event"]["task_id"]
        await device.send(orjson.dumps({"type": "receipt", "task_id": task_id, "id": "r0"}).decode())
        assert (await _frame(device, "result"))["task"]["state"] == "delivered"
        await device.send(
            orjson.dumps({"type": "trigger", "id": "r1", "task_id": task_id, "trigger": "accept"}).decode()
        )
        result = await _frame(device, "result")
        assert result["ok"] and result["task"]["state"] == "accepted"
        assert (await _frame(console, "task_accepted"))["event"]["task_id"] == task_id
        detail = await fronts.front_b.get(f"/api/v1/incidents/{incident_id}", headers=dispatcher)
        body = await detail.json()
        assert body["state"] == "responding"
        assert body["tasks"][0]["delivered_via"] == "websocket"

        # A unit whose tablet is connected at front A shows online at front B.
        async def online_at_b() -> bool:
            answer = await fronts.front_b.get("/api/v1/responders", headers=dispatcher)
            units = (await answer.json())["responders"]
            return any(unit["id"] == TABLET and unit["online"] for unit in units)

        await eventually(online_at_b, f"{TABLET} online at the other front")

        # The sockets are counted over every front, on a scrape of any.
        async def counted_at_b() -> bool:
            admin = {"Authorization": f"Bearer {core.token('admin')}"}
            answer = await fronts.front_b.get("/metrics", headers=admin)
            exposition = await answer.text()
            return _sample(exposition, "dispatch_websocket_connections") == 2

        await eventually(counted_at_b, "front A's two sockets in front B's /metrics")


async def test_a_front_answers_the_cores_refusals_as_one_process_does(fronts: TwoFronts) -> None:
    core = fronts.core
    admin = {"Authorization": f"Bearer {core.token('admin')}"}
    gateway = {"Authorization": f"Bearer {core.token('gateway')}"}
    missing = await fronts.front_b.post("/api/v1/incidents/999/escalate", json={}, headers=admin)
    assert missing.status == 404
    assert (await missing.json())["error"] == {
        "code": "not_found",
        "message": "incident 999 does not exist",
        "field": "id",
    }
    # The alert's category is checked against config.yaml in the core; the front says which field.
    unknown = await fronts.front_b.post(
        "/api/v1/alerts", json=alert("bad-1", category="no-such-category"), headers=gateway
    )
    assert unknown.status == 422
    assert (await unknown.json())["error"]["field"] == "category"
    accepted = await fronts.front_a.post("/api/v1/alerts", json=alert("ok-1"), headers=gateway)
    assert accepted.status == 202
    again = await fronts.front_b.post("/api/v1/alerts", json=alert("ok-1"), headers=gateway)
    assert (await again.json())["duplicate"] is True


async def test_a_front_whose_core_is_gone_is_not_ready_and_says_why(fronts: TwoFronts) -> None:
    ready = await fronts.front_a.get("/readyz")
    assert ready.status == 200
    await fronts.host.close()
    front = fronts.front_a.app[RUNTIME]
    assert isinstance(front, FrontRuntime)
    await asyncio.wait_for(front.core.closed.wait(), WAIT_S)
    unready = await fronts.front_a.get("/readyz")
    assert unready.status == 503
    assert (await unready.json())["error"]["message"] == "the writer is not running"
    gateway = {"Authorization": f"Bearer {fronts.core.token('gateway')}"}
    refused = await fronts.front_a.post("/api/v1/alerts", json=alert("late-1"), headers=gateway)
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "2"
    error = (await refused.json())["error"]
    assert error["code"] == "core_unavailable"
    assert "nothing was written" in error["message"]


async def test_serve_with_two_fronts_sums_metrics_and_dies_whole(tmp_path: Path) -> None:
    """The real `dispatch serve --workers 2` (on uvloop): counters from every process add up on
    any scrape, and after kill -9 of the core no front is left holding the port."""
    config = write_config(tmp_path / "config.yaml")
    database_url = f"sqlite:///{tmp_path / 'dispatch.db'}"
    gateway, admin = issue_tokens(config, database_url)
    port = free_port()
    posted = 12
    log = tmp_path / "server.log"
    async with server_process(config, database_url, port, log, 2, ("--loop", "uvloop")) as server:
        await server.start()
        assert server.process is not None
        fronts = _children(server.process.pid)
        assert len(fronts) == 2
        async with aiohttp.ClientSession() as session:
            for index in range(posted):  # a new connection each: the kernel spreads them over fronts
                async with session.post(
                    f"{server.url}/api/v1/alerts",
                    json=alert(f"m{index}", source=f"gauge-m{index}"),
                    headers={"Authorization": f"Bearer {gateway}", "Connection": "close"},
                ) as answer:
                    assert answer.status == 202, await answer.text()
            async with session.get(
                f"{server.url}/metrics", headers={"Authorization": f"Bearer {admin}"}
            ) as answer:
                exposition = await answer.text()
        assert _sample(exposition, "dispatch_alerts_received_total", channel="api") == posted
        assert _sample(exposition, "dispatch_intake_request_seconds_count", channel="api") == posted

        # A front killed is started again by the core; meanwhile the other one serves.
        os.kill(fronts[0], signal.SIGKILL)
        await _gone(fronts[0])
        async with aiohttp.ClientSession() as session:
            for index in range(4):
                async with session.post(
                    f"{server.url}/api/v1/alerts",
                    json=alert(f"after-{index}", source=f"gauge-after-{index}"),
                    headers={"Authorization": f"Bearer {gateway}", "Connection": "close"},
                ) as answer:
                    assert answer.status == 202, await answer.text()
        fronts = await _replaced(server.process.pid, fronts[0])
        assert "front 0 ended (exit -9): starting it again" in server.output()
        await _ready_lines(server, 4)  # the core, its two fronts, the new front: each said it is ready

        server.kill()
        assert await server.wait() == -signal.SIGKILL
        for pid in fronts:
            await _gone(pid)


async def _ready_lines(server: Any, count: int) -> None:
    give_up = time.monotonic() + 30.0  # a new front imports everything: slow on a busy machine
    while server.output().count("dispatch ready") < count:
        if time.monotonic() > give_up:
            pytest.fail(f"the new front did not get ready:\n{server.output()}")
        await asyncio.sleep(0.1)


async def _replaced(core: int, dead: int) -> list[int]:
    """The core's fronts once it has two again, none of them `dead`."""
    give_up = time.monotonic() + 30.0  # a new front imports everything: slow on a busy machine
    while time.monotonic() < give_up:
        fronts = [pid for pid in _children(core) if pid != dead]
        if len(fronts) == 2:
            return fronts
        await asyncio.sleep(0.1)
    pytest.fail(f"the core did not start a front in place of {dead}")


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


async def _gone(pid: int) -> None:
    """Ended: no such process, or a zombie nobody has reaped yet (it holds no socket)."""
    give_up = time.monotonic() + WAIT_S
    while time.monotonic() < give_up:
        try:
            stat = await asyncio.to_thread(Path(f"/proc/{pid}/stat").read_text)
        except FileNotFoundError:
            return
        state = stat.rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"front {pid} outlived its core")


def _sample(exposition: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not in the exposition")


async def test_a_logout_at_one_front_ends_the_session_at_the_other_at_once(fronts: TwoFronts) -> None:
    """Front A knew the cookie (its cache holds it for a while): a logout at B must reach it."""
    accounts.add_user(
        fronts.core.runtime.write_engine,
        fronts.core.config,
        name="city-desk",
        role="dispatcher",
        password="long-enough-1",
        now=time.time(),
    )
    credentials = {"name": "city-desk", "password": "long-enough-1"}
    login = await fronts.front_a.post("/api/v1/session", json=credentials)
    assert login.status == 200, await login.text()
    cookie = {"dispatch_session": login.cookies["dispatch_session"].value}
    csrf = (await login.json())["csrf_token"]
    assert (await fronts.front_a.get("/api/v1/incidents", cookies=cookie)).status == 200  # now cached at A

    ended = await fronts.front_b.delete("/api/v1/session", cookies=cookie, headers={"X-CSRF-Token": csrf})
    assert ended.status == 200
    front_a = fronts.front_a.app[RUNTIME]
    assert isinstance(front_a, FrontRuntime)
    # /readyz asks the core for its status: that answer comes after the logout's broadcast, in order.
    await fronts.front_a.get("/readyz")
    assert (await fronts.front_a.get("/api/v1/incidents", cookies=cookie)).status == 401


def test_a_run_folder_left_by_a_killed_core_is_removed_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])  # a pid that no longer runs
    dead.wait()
    left = tmp_path / f"{workers.RUN_PREFIX}-{dead.pid}-abc123"
    (left / "metrics").mkdir(parents=True)
    alive = tmp_path / f"{workers.RUN_PREFIX}-{os.getpid()}-def456"  # a core still running
    alive.mkdir()
    other = tmp_path / "someone-elses-123-folder"
    other.mkdir()

    mine = Path(workers.run_folder())

    assert not left.exists()
    assert alive.exists() and other.exists()
    assert mine.parent == tmp_path and mine.name.startswith(f"{workers.RUN_PREFIX}-{os.getpid()}-")


@pytest.mark.parametrize(
    ("real", "stand_in", "core_only"),
    [
        (
            DispatchService,
            RemoteService,
            # Static checks (no state), and what only the core's own runtime and gateways call.
            {"check_incident_trigger", "check_task_trigger", "check_department_task_trigger"}
            | {
                "cancel_alert",
                "fire_due_deadlines",
                "prepare",
                "sync_responders",
                "take_call",
                "update_alert",
            },
        ),
        (Logins, RemoteLogins, set()),
        (Positions, RemotePositions, {"run"}),  # the core writes positions; a front never runs it
        (VideoIntake, RemoteVideo, {"take_review"}),  # reviews arrive over MQTT, at the core
        (HotlineIntake, RemoteHotline, set()),
    ],
)
def test_every_method_a_handler_may_call_is_sent_to_the_core(
    real: type, stand_in: type, core_only: set[str]
) -> None:
    """A new public method on a core object must be answered over the bus, or named here as one
    only the core calls: inherited as is, it would run in a front without the core's state."""
    public = {name for name, _ in inspect.getmembers(real, inspect.isfunction) if not name.startswith("_")}
    inherited = {name for name in public if getattr(stand_in, name) is getattr(real, name)}
    assert inherited == core_only
