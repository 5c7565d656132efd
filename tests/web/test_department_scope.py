"""A sub-center's dispatcher (`--department`) sees its department's incidents only: those it leads
or co-handles, over REST, the event log and the WebSocket; it works its part, not the city's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets
import yaml
from websockets.asyncio.client import ClientConnection

from dispatch.access import accounts
from dispatch.cli import main as cli
from dispatch.shared.clock import ManualClock
from tests.conftest import Harness
from tests.factories import EAST_N, WEST_N, WEST_S, alert, config_data

WAIT = 10.0  # a safety net against hangs, never a timing assertion
URBAN = {"role": "dispatcher", "name": "urban-desk", "department": "urban"}
PASSWORD = "long-enough-1"


async def _open(server: Harness, source_event_id: str, category: str, location: dict[str, float]) -> int:
    body = alert(source_event_id, source=f"src-{source_event_id}", category=category, location=location)
    return int((await server.post_alert(body))["incident_id"])


async def _get(server: Harness, path: str, **caller: Any) -> tuple[int, Any]:
    response = await server.client.get(path, headers=server.auth(**(caller or URBAN)))
    return response.status, await response.json()


async def _listed(server: Harness, **caller: Any) -> set[int]:
    status, body = await _get(server, "/api/v1/incidents", **caller)
    assert status == 200, body
    return {each["id"] for each in body["incidents"]}


async def test_department_scope_lists_what_the_department_leads_or_co_handles(server: Harness) -> None:
    flooding = await _open(server, "w1", "waterlogging", WEST_N)
    vending = await _open(server, "v1", "vending", WEST_S)
    co_handled = await _open(server, "w2", "waterlogging", EAST_N)
    await server.incident_trigger(co_handled, "add_department", {"department": "urban"})

    assert await _listed(server) == {vending, co_handled}
    assert await _listed(server, role="dispatcher", name="flood", department="flood") == {
        flooding,
        co_handled,
    }
    assert await _listed(server, role="dispatcher", name="city") == {flooding, vending, co_handled}


async def test_department_scope_within_a_jurisdiction_subtree_too(server: Harness) -> None:
    await _open(server, "v1", "vending", WEST_S)
    east = await _open(server, "v2", "vending", EAST_N)

    assert await _listed(
        server, role="dispatcher", name="urban-east", department="urban", jurisdiction="east"
    ) == {east}


async def test_department_scope_other_incidents_are_missing_as_unknown_ones_are(server: Harness) -> None:
    flooding = await _open(server, "w1", "waterlogging", WEST_N)

    hidden_status, hidden = await _get(server, f"/api/v1/incidents/{flooding}")
    missing_status, missing = await _get(server, "/api/v1/incidents/999999")

    assert (hidden_status, missing_status) == (404, 404)
    assert hidden["error"]["message"].replace(str(flooding), "N") == missing["error"]["message"].replace(
        "999999", "N"
    )
    await server.incident_trigger(flooding, "add_department", {"department": "urban"})
    shown_status, shown = await _get(server, f"/api/v1/incidents/{flooding}")
    assert shown_status == 200
    assert shown["triggers"] == []  # the city's triggers are not its to send
    assert shown["department_tasks"][0]["department_id"] == "urban"


async def test_department_scope_event_log_holds_only_its_incidents(server: Harness) -> None:
    flooding = await _open(server, "w1", "waterlogging", WEST_N)
    vending = await _open(server, "v1", "vending", WEST_S)

    status, body = await _get(server, "/api/v1/events")

    assert status == 200
    assert {event["incident_id"] for event in body["events"]} == {vending}
    assert flooding not in {event["incident_id"] for event in body["events"]}


async def test_department_scope_sends_none_of_the_citys_triggers(server: Harness) -> None:
    incident_id = await _open(server, "v1", "vending", WEST_S)
    [task] = (await server.incident(incident_id))["tasks"]

    escalate = await server.client.post(
        f"/api/v1/incidents/{incident_id}/escalate", json={}, headers=server.auth(**URBAN)
    )
    cancel = await server.client.post(f"/api/v1/tasks/{task['id']}/cancel", headers=server.auth(**URBAN))
    post = await server.client.post("/api/v1/alerts", json=alert("v9"), headers=server.auth(**URBAN))

    assert (escalate.status, cancel.status, post.status) == (403, 403, 403)
    assert (await escalate.json())["error"]["message"] == (
        "a dispatcher of department 'urban' may not act on incident"
    )


async def test_department_scope_stats_count_its_incidents_only(server: Harness) -> None:
    await _open(server, "w1", "waterlogging", WEST_N)
    await _open(server, "v1", "vending", WEST_S)

    _, mine = await _get(server, "/api/v1/stats")
    _, everyone = await _get(server, "/api/v1/stats", role="dispatcher", name="city")

    assert mine["open"]["total"] == 1
    assert everyone["open"]["total"] == 2


# The WebSocket ---------------------------------------------------------------------------------


def _url(server: Harness) -> str:
    return str(server.client.make_url("/ws")).replace("http://", "ws://")


@asynccontextmanager
async def _socket(server: Harness, **caller: Any) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {server.token(**caller)}"}
    async with websockets.connect(_url(server), additional_headers=headers) as ws:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert (frame["type"], frame["department"]) == ("hello", caller.get("department"))
        yield ws


async def _until(ws: ClientConnection, kind: str, incident_id: int) -> list[dict[str, Any]]:
    """Every frame up to the first of `kind` about the incident (an event's type or an alarm's kind)."""
    frames: list[dict[str, Any]] = []
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT))
        frames.append(frame)
        named = frame["event"]["type"] if frame["type"] == "event" else frame.get("kind")
        if (
            named == kind
            and frame.get("incident_id", frame.get("event", {}).get("incident_id")) == incident_id
        ):
            return frames


def _incidents(frames: list[dict[str, Any]]) -> set[int]:
    return {frame["event"]["incident_id"] for frame in frames if frame["type"] == "event"}


async def test_department_scope_socket_streams_its_incidents_and_tasks_only(server: Harness) -> None:
    async with _socket(server, **URBAN) as ws:
        flooding = await _open(server, "w1", "waterlogging", WEST_N)
        vending = await _open(server, "v1", "vending", WEST_S)
        await server.incident_trigger(flooding, "add_department", {"department": "urban"})
        await server.incident_trigger(flooding, "remove_department", {"department": "urban"})
        marker = await _open(server, "v2", "vending", EAST_N)  # posted last: all before it came first
        frames = await _until(ws, "incident_reported", marker)

    types = [frame["event"]["type"] for frame in frames if frame["type"] == "event"]
    assert _incidents(frames) == {flooding, vending, marker}
    assert [kind for kind in types if kind.startswith("department_task")] == [
        "department_task_sent",
        "department_task_cancelled",  # told it although its department is off the incident now
    ]
    assert "incident_reported" not in [
        frame["event"]["type"] for frame in frames if frame["event"]["incident_id"] == flooding
    ]


async def test_department_scope_socket_resume_replays_its_incidents_only(server: Harness) -> None:
    await _open(server, "w1", "waterlogging", WEST_N)
    vending = await _open(server, "v1", "vending", WEST_S)

    async with _socket(server, **URBAN) as ws:
        await ws.send(orjson.dumps({"type": "resume", "after": 0}).decode())
        frames: list[dict[str, Any]] = []
        while (frame := orjson.loads(await asyncio.wait_for(ws.recv(), WAIT)))["type"] != "resumed":
            frames.append(frame)

    assert _incidents(frames) == {vending}


async def test_department_scope_late_task_rings_the_city_not_the_sub_center(
    server: Harness, clock: ManualClock
) -> None:
    incident_id = await _open(server, "w1", "waterlogging", WEST_N)
    await server.incident_trigger(incident_id, "add_department", {"department": "urban"})

    async with (
        _socket(server, role="dispatcher", name="city-desk") as city,
        _socket(server, **URBAN) as urban,
    ):
        clock.advance(600)
        await server.fire_deadlines()
        marker = await _open(server, "v2", "vending", EAST_N)  # after the escalation and its alarm
        heard = await _until(city, "incident_reported", marker)
        told = await _until(urban, "incident_reported", marker)

    [alarm] = [frame for frame in heard if frame.get("kind") == "department_task_escalated"]
    assert alarm["incident_id"] == incident_id
    assert alarm["event"]["payload"]["department_id"] == "urban"
    assert "department_task_escalated" in [
        frame["event"]["type"] for frame in told if frame["type"] == "event"
    ]
    assert [frame for frame in told if frame["type"] == "alarm"] == []


# Who is a department dispatcher: tokens, accounts, browser logins ------------------------------------


def _config_file(tmp_path: Path) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data(), allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("command", "complaint"),
    [
        (
            ["token", "issue", "--role", "dispatcher", "--name", "d", "--department", "sewers"],
            "unknown department",
        ),
        (["token", "issue", "--role", "screen", "--name", "d", "--department", "urban"], "only goes with"),
        (
            ["user", "add", "d", "--role", "dispatcher", "--department", "sewers", "--password-stdin"],
            "sewers",
        ),
    ],
)
async def test_department_scope_unknown_department_is_refused_in_words(
    server: Harness,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    complaint: str,
) -> None:
    monkeypatch.setattr("sys.stdin", _Lines("long-enough-1\n"))
    code = cli.main([*command, "--config", _config_file(tmp_path), "--database", server.runtime.database_url])

    assert code == 2
    assert complaint in capsys.readouterr().err


class _Lines:
    def __init__(self, text: str) -> None:
        self._text = text

    def readline(self) -> str:
        return self._text


async def test_department_scope_token_issued_on_the_command_line_carries_it(
    server: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = server.runtime.database_url
    issue = ["token", "issue", "--role", "dispatcher", "--name", "urban-cli", "--department", "urban"]
    assert cli.main([*issue, "--config", _config_file(tmp_path), "--database", database]) == 0
    token = capsys.readouterr().out.strip()
    flooding = await _open(server, "w1", "waterlogging", WEST_N)
    vending = await _open(server, "v1", "vending", WEST_S)

    response = await server.client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})

    assert {each["id"] for each in (await response.json())["incidents"]} == {vending}
    assert flooding != vending
    assert cli.main(["token", "list", "--database", database]) == 0
    assert "department:urban" in capsys.readouterr().out


async def test_department_scope_browser_login_carries_the_department(server: Harness) -> None:
    accounts.add_user(
        server.runtime.write_engine,
        server.config,
        name="urban-person",
        role="dispatcher",
        password=PASSWORD,
        department="urban",
        now=time.time(),
    )
    await _open(server, "w1", "waterlogging", WEST_N)
    vending = await _open(server, "v1", "vending", WEST_S)

    login = await server.client.post("/api/v1/session", json={"name": "urban-person", "password": PASSWORD})
    body = await login.json()
    listed = await server.client.get("/api/v1/incidents")

    assert body["user"]["department"] == "urban"
    assert {each["id"] for each in (await listed.json())["incidents"]} == {vending}
